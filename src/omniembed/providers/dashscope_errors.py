"""Map dashscope SDK responses and transport exceptions to omniembed's typed errors.

The SDK never raises for an HTTP error: it returns a response with ``status_code``,
``code``, ``message`` and ``request_id``. Connection failures and timeouts do raise, as
``requests`` (sync) or ``aiohttp``/``asyncio`` (async) exceptions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    QuotaExceededError,
    QuotaViolation,
    ServerError,
    ServiceConnectionError,
    ServiceError,
    ServiceTimeoutError,
)

PROVIDER = "dashscope"
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})
_BY_STATUS: dict[int, type[ServiceError]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServiceTimeoutError,
    429: QuotaExceededError,
}
_BY_CODE: dict[str, type[ServiceError]] = {
    "InvalidApiKey": AuthenticationError,
    "InvalidParameter": InvalidArgumentError,
    "AccessDenied": PermissionDeniedError,
    "ModelNotFound": NotFoundError,
}


#: DashScope's throttling codes and what they limit (Model Studio error codes and rate
#: limits, alibabacloud.com/help/en/model-studio/error-code, .../rate-limit): requests
#: per minute, or tokens per minute ("Allocated quota exceeded"). They carry no figure, so
#: the runtime adapts to them by backing off rather than by pacing to a stated limit.
_THROTTLING = {
    "Throttling.RateQuota": "requests_per_minute",
    "Throttling.AllocationQuota": "input_tokens_per_minute",
}


def error_from_response(response: Any) -> ServiceError:
    """The typed error for a non-200 SDK response; the message names code and request id."""
    status = int(getattr(response, "status_code", 0) or 0)
    code = str(getattr(response, "code", "") or "")
    message = str(getattr(response, "message", "") or "no message")
    request_id = str(getattr(response, "request_id", "") or "")
    cls = _class_for(status, code)
    text = message  # str(error) shows "[dashscope <status> <code>] <message> (request_id ...)"
    if request_id:
        text += f" (request_id {request_id})"
    extra: dict[str, Any] = {}
    if cls is QuotaExceededError and code in _THROTTLING:
        extra["violations"] = [QuotaViolation(code, _THROTTLING[code])]
    error = cls(
        text,
        status_code=status or None,
        status=code or None,
        provider=PROVIDER,
        retry_after=_retry_after(getattr(response, "headers", None)),
        **extra,
    )
    if cls is ServerError:
        error.retryable = status in _RETRYABLE_5XX
    return error


def _class_for(status: int, code: str) -> type[ServiceError]:
    if code.startswith("Throttling") or status == 429:
        return QuotaExceededError
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, ServiceError)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    for name, value in dict(headers).items():
        if str(name).lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return None  # an HTTP date: backoff covers it
    return None


def error_from_exception(exc: BaseException) -> OmniEmbedError | None:
    """The typed error for a transport exception (or None if it is not one)."""
    if isinstance(exc, OmniEmbedError):
        return exc
    if _is_timeout(exc):
        return ServiceTimeoutError(
            f"the request timed out ({type(exc).__name__}); raise timeout= if requests are "
            "large or the service is slow",
            provider=PROVIDER,
        )
    root = type(exc).__module__.split(".")[0]
    if isinstance(exc, ConnectionError) or root in ("requests", "urllib3", "aiohttp"):
        return ServiceConnectionError(
            f"connection failed: {type(exc).__name__}: {exc}", provider=PROVIDER
        )
    return None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return True
    return any(
        "Timeout" in cls.__name__ and cls.__module__.split(".")[0] in ("requests", "urllib3")
        for cls in type(exc).__mro__
    )
