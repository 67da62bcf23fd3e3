"""Map google-genai / HTTP transport exceptions to omniembed's typed errors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from google.genai import errors as genai_errors

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
    headers = getattr(getattr(exc, "response", None), "headers", None)
    return google_error(int(exc.code or 0), exc.details, headers, provider)


def google_error(
    code: int, body: Any, headers: Mapping[str, str] | None, provider: str
) -> ServiceError:
    """The typed error for a Google error answer: HTTP ``code`` and its JSON ``body``
    (``{"error": {"code", "message", "status", "details"}}``)."""
    error_body = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(error_body, dict):
        error_body = {}
    message = str(error_body.get("message") or error_body.get("status") or f"HTTP {code}")
    status = error_body.get("status")
    if code == 400 and ("API_KEY_INVALID" in str(body) or "API key not valid" in message):
        cls: type[ServiceError] = AuthenticationError
    elif code >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(code, ServiceError)
    extra: dict[str, Any] = {}
    if cls is QuotaExceededError:
        extra["violations"] = quota_violations(error_body)
    error = cls(
        message,
        status_code=code,
        status=status,
        provider=provider,
        retry_after=_retry_after(error_body, headers),
        **extra,
    )
    if cls is ServerError:
        error.retryable = code in _RETRYABLE_5XX
    return error


def quota_violations(error_body: Mapping[str, Any]) -> list[QuotaViolation]:
    """The quotas a 429 names: ``details[]`` entries of type ``google.rpc.QuotaFailure``
    (``violations[{quotaMetric, quotaId, quotaDimensions, quotaValue}]``; the Gemini API
    sends ``quotaValue`` as a string, e.g. ``"100"``). Vertex AI's 429s carry none."""
    found: list[QuotaViolation] = []
    named = _VERTEX_QUOTA.search(str(error_body.get("message") or ""))
    if named is not None and not error_body.get("details"):
        # Vertex AI names the quota only in its message: "Quota exceeded for
        # aiplatform.googleapis.com/embed_content_input_tokens_per_minute_per_base_model
        # with base model: gemini-embedding. ..." (cocoindex-io/cocoindex#1151).
        metric, model = named.groups()
        found.append(QuotaViolation(metric.rsplit("/", 1)[-1], metric, None, {"model": model}))
    for detail in error_body.get("details") or []:
        if not isinstance(detail, dict) or not str(detail.get("@type", "")).endswith(
            "google.rpc.QuotaFailure"
        ):
            continue
        for violation in detail.get("violations") or []:
            if not isinstance(violation, dict):
                continue
            dims = violation.get("quotaDimensions")
            found.append(
                QuotaViolation(
                    quota_id=str(violation.get("quotaId") or violation.get("subject") or ""),
                    quota_metric=str(violation.get("quotaMetric") or ""),
                    limit=_number(violation.get("quotaValue")),
                    dimensions={str(k): str(v) for k, v in dims.items()}
                    if isinstance(dims, dict)
                    else {},
                )
            )
    return found


_VERTEX_QUOTA = re.compile(r"Quota exceeded for (\S+?) with base model: ([^\s.]+)")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _retry_after(error_body: dict[str, Any], headers: Mapping[str, str] | None) -> float | None:
    """The server's retry hint: Google's RetryInfo.retryDelay, else the Retry-After header."""
    for detail in error_body.get("details") or []:
        if isinstance(detail, dict) and "retryDelay" in detail:
            match = re.fullmatch(r"\s*([0-9.]+)s\s*", str(detail["retryDelay"]))
            if match:
                return float(match.group(1))
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
