"""Google's error shape: ``{"error": {"code", "message", "status"[, "details"]}}``.

Every failure the emulator answers (validation, auth, quota, injected faults, unknown routes)
is a `GoogleError`, so clients see the same JSON, status codes and headers as from Google.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The canonical gRPC status name Google sends for each HTTP status it uses.
STATUS_NAMES: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

RESOURCE_EXHAUSTED_MESSAGE = "Resource has been exhausted (e.g. check quota)."
INTERNAL_MESSAGE = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
UNAVAILABLE_MESSAGE = "The model is overloaded. Please try again later."
MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
INVALID_KEY_MESSAGE = "API key not valid. Please pass a valid API key."
UNAUTHENTICATED_MESSAGE = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


class GoogleError(Exception):
    """An error answer: HTTP ``code``, Google ``status`` name, message, details, headers."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body Google sends for this error."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str, details: list[dict[str, Any]] | None = None) -> GoogleError:
    return GoogleError(400, message, details=details)


def not_found(message: str) -> GoogleError:
    return GoogleError(404, message)


def internal(message: str = INTERNAL_MESSAGE) -> GoogleError:
    return GoogleError(500, message)


def unavailable(message: str = UNAVAILABLE_MESSAGE) -> GoogleError:
    return GoogleError(503, message)


def format_seconds(seconds: float) -> str:
    """Seconds as Google writes them in ``retryDelay`` and we write in ``Retry-After``.

    Rounded UP to the millisecond (a client that waits exactly this long is never early),
    at least 1 ms, without trailing zeros: ``1``, ``0.5``, ``0.017``.
    """
    millis = max(1, math.ceil(round(seconds * 1000, 6)))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return f"{millis / 1000:.3f}".rstrip("0")


def resource_exhausted(retry_after_s: float) -> GoogleError:
    """A 429 with ``RetryInfo.retryDelay`` and a ``Retry-After`` header (may be fractional)."""
    delay = format_seconds(retry_after_s)
    return GoogleError(
        429,
        RESOURCE_EXHAUSTED_MESSAGE,
        details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"}],
        headers={"Retry-After": delay},
    )


def missing_api_key() -> GoogleError:
    return GoogleError(403, MISSING_KEY_MESSAGE)


def invalid_api_key() -> GoogleError:
    return GoogleError(
        400,
        INVALID_KEY_MESSAGE,
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ],
    )


def unauthenticated() -> GoogleError:
    return GoogleError(401, UNAUTHENTICATED_MESSAGE)


def method_not_found(method: str, path: str) -> GoogleError:
    return GoogleError(404, f"Method not found: {method} {path}")
