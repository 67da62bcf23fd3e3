"""DashScope's error shape: HTTP status + ``{"code", "message", "request_id"}``.

`DashScopeError` subclasses `GoogleError` so the dispatcher's one ``except`` catches both;
on DashScope paths every error (including faults, quotas and unknown routes raised as
Google errors) is rendered with `dashscope_body`, so clients only ever see DashScope's shape.
"""

from __future__ import annotations

import uuid
from typing import Any

from .google_errors import GoogleError

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"

INVALID_API_KEY_MESSAGE = "Invalid API-key provided."
MODEL_NOT_FOUND_MESSAGE = "Model not exist."
THROTTLING_MESSAGE = "Requests throttling triggered."
RATE_QUOTA_MESSAGE = "Requests rate limit exceeded, please try again later."
#: Model Studio's error-code page; its rate-limit page: "Allocated quota exceeded ... the
#: tokens per minute (TPM) limit was triggered" (alibabacloud.com/help/en/model-studio/rate-limit).
ALLOCATION_QUOTA_MESSAGE = "Allocated quota exceeded, please increase your quota limit."
INTERNAL_MESSAGE = (
    "An internal error has occured, please try again later or contact service support."
)

#: The DashScope code for a Google-shaped error raised on a DashScope path.
_CODES = {
    400: "InvalidParameter",
    401: "InvalidApiKey",
    403: "AccessDenied",
    404: "NotFound",
    429: "Throttling",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class DashScopeError(GoogleError):
    """An error answer with DashScope's ``code`` (e.g. ``InvalidParameter``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.dashscope_code = code


def invalid_parameter(message: str) -> DashScopeError:
    return DashScopeError(400, "InvalidParameter", message)


def invalid_api_key() -> DashScopeError:
    return DashScopeError(401, "InvalidApiKey", INVALID_API_KEY_MESSAGE)


def model_not_found() -> DashScopeError:
    return DashScopeError(404, "ModelNotFound", MODEL_NOT_FOUND_MESSAGE)


def rate_quota() -> DashScopeError:
    return DashScopeError(429, "Throttling.RateQuota", RATE_QUOTA_MESSAGE)


def allocation_quota() -> DashScopeError:
    """429 for a tokens-per-minute limit."""
    return DashScopeError(429, "Throttling.AllocationQuota", ALLOCATION_QUOTA_MESSAGE)


def new_request_id() -> str:
    return str(uuid.uuid4())


def dashscope_body(error: GoogleError) -> dict[str, Any]:
    """The JSON DashScope sends for ``error``."""
    if isinstance(error, DashScopeError):
        code, message = error.dashscope_code, error.message
    elif error.code == 429:
        code, message = "Throttling", THROTTLING_MESSAGE
    elif error.code == 500:
        code, message = "InternalError", INTERNAL_MESSAGE
    else:
        code, message = _CODES.get(error.code, "InternalError"), error.message
    return {"code": code, "message": message, "request_id": new_request_id()}
