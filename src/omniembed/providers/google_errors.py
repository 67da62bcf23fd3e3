"""Map google-genai / HTTP transport exceptions to omniembed's typed errors."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from google.genai import errors as genai_errors

from ..errors import (
    AuthenticationError,
    InvalidArgumentError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    QuotaExceededError,
    ServerError,
    ServiceConnectionError,
    ServiceError,
    ServiceTimeoutError,
)

_RETRYABLE_5XX = frozenset({500, 502, 503, 504})
_TRANSPORT_MODULES = ("httpx", "httpx2", "aiohttp", "httpcore", "h11", "anyio")
_BY_STATUS: dict[int, type[ServiceError]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ServiceTimeoutError,
    429: QuotaExceededError,
}


def map_google_error(exc: BaseException, provider: str) -> OmniEmbedError | None:
    """The typed error for ``exc``, or None if it is not a service/transport error."""
    if isinstance(exc, OmniEmbedError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        return _from_api_error(exc, provider)
    if _is_timeout(exc):
        return ServiceTimeoutError(
            f"the request timed out ({type(exc).__name__}); raise timeout= if requests are "
            "large or the service is slow",
            provider=provider,
        )
    if isinstance(exc, ConnectionError) or _from_transport(exc):
        return ServiceConnectionError(
            f"connection failed: {type(exc).__name__}: {exc}", provider=provider
        )
    return None


def _from_api_error(exc: genai_errors.APIError, provider: str) -> ServiceError:
    code = int(exc.code or 0)
    message = str(exc.message or exc.status or "no message")
    if code == 400 and _is_invalid_key(exc):
        cls: type[ServiceError] = AuthenticationError
    elif code >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(code, ServiceError)
    error = cls(
        message,
        status_code=code,
        status=exc.status,
        provider=provider,
        retry_after=_retry_after(exc),
    )
    if cls is ServerError:
        error.retryable = code in _RETRYABLE_5XX
    return error


def _is_invalid_key(exc: genai_errors.APIError) -> bool:
    text = f"{exc.message} {exc.details}"
    return "API_KEY_INVALID" in text or "API key not valid" in text


def _retry_after(exc: genai_errors.APIError) -> float | None:
    """The server's retry hint: Google's RetryInfo.retryDelay, else the Retry-After header."""
    details: Any = exc.details
    error = details.get("error", details) if isinstance(details, dict) else {}
    for detail in error.get("details") or [] if isinstance(error, dict) else []:
        if isinstance(detail, dict) and "retryDelay" in detail:
            match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(detail["retryDelay"]))
            if match:
                return float(match.group(1))
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            return None  # an HTTP date; rare for these APIs, and backoff covers it
    return None


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return True
    return any(
        "Timeout" in cls.__name__ and cls.__module__.split(".")[0] in _TRANSPORT_MODULES
        for cls in type(exc).__mro__
    )


def _from_transport(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES
