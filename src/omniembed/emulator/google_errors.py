"""Google's error shape: ``{"error": {"code", "message", "status"[, "details"]}}``.

Every failure the emulator answers (validation, auth, quota, injected faults, unknown routes)
is a `GoogleError`, so clients see the same JSON, status codes and headers as from Google.
"""

from __future__ import annotations

import math
import re
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

#: The Gemini API's quota 429 opens with this (stremio-ai-search#170, continuedev/continue
#: #9645, googleapis/python-genai#1875, #2114); `quota_errors` adds the broken quotas.
RATE_LIMITS_URL = "https://ai.google.dev/gemini-api/docs/rate-limits"
GEMINI_QUOTA_MESSAGE = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    f"information on this error, head to: {RATE_LIMITS_URL}. To monitor your current usage, "
    "head to: https://ai.dev/rate-limit. "
)
#: ``google.rpc.Help`` of every posted Gemini API quota 429 (mscraftsman/generative-ai#131,
#: langchain-ai/langchain-google#945).
QUOTA_HELP: dict[str, Any] = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [{"description": "Learn more about Gemini API quotas", "url": RATE_LIMITS_URL}],
}
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


#: The proto-JSON parser's two messages that name a field: an unknown name and a value of
#: the wrong type.
_PARSE_ERROR = re.compile(
    r"Invalid JSON payload received\. Unknown name \"[^\"]*\"(?: at '([^']*)')?: Cannot find"
    r"|Invalid value at '([^']*)' \("
)


def invalid_argument(message: str, details: list[dict[str, Any]] | None = None) -> GoogleError:
    if details is None:
        details = field_violations(message)
    return GoogleError(400, message, details=details)


def field_violations(message: str) -> list[dict[str, Any]] | None:
    """``google.rpc.BadRequest`` for the parser's errors, as Google sends them: one
    ``fieldViolations`` entry per line of the message, ``field`` the quoted path (left out
    when the name is at the top level), ``description`` the line. Seen on the Gemini API for
    unknown names (mnfst/llm-gateway#1858 with ``field: tools[0].function_declarations[0].
    parameters.properties[0].value.items``, MinLL/SkyrimNet-GamePlugin#77 mixing both kinds,
    langchain-ai/langchainjs#7711, #9412) and, from the same front end, for "Invalid value
    at 'x' (TYPE_...)" (Cloud Speech ``config.encoding``, FCM, CrUX, Gmail bodies in public
    code). Other 400s (the service's rule checks) carry no details in any posted body."""
    lines = message.split("\n")
    matches = [_PARSE_ERROR.match(line) for line in lines]
    if not lines or not all(matches):
        return None
    violations: list[dict[str, Any]] = []
    for line, match in zip(lines, matches, strict=True):
        assert match is not None
        field = match.group(1) or match.group(2)
        violations.append({"field": field, "description": line} if field else {"description": line})
    return [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": violations}]


def not_found(message: str) -> GoogleError:
    return GoogleError(404, message)


def internal(message: str = INTERNAL_MESSAGE) -> GoogleError:
    return GoogleError(500, message)


def unavailable(message: str = UNAVAILABLE_MESSAGE) -> GoogleError:
    return GoogleError(503, message)


def format_retry(seconds: float) -> str:
    """The exact wait as the Gemini API prints it in its message ("Please retry in
    58.934310785s."): up to nanoseconds, no trailing zeros (``38.9``, ``0.5``, ``0``)."""
    text = f"{max(0.0, seconds):.9f}".rstrip("0").rstrip(".")
    return text or "0"


def retry_delay(seconds: float) -> str:
    """``RetryInfo.retryDelay`` as the Gemini API writes it: whole seconds, cut down from
    the exact wait of the message ("Please retry in 58.934310785s." with ``"58s"``,
    googleapis/python-genai#2114; 53.016342224s with ``"53s"``, #1875). No posted Gemini API
    body has a fractional ``retryDelay`` (those in public code come from other Google
    services, e.g. cloudcode-pa). Emulator deviation: a wait under one second (test
    settings such as ``retry_delay_s=0.3``) keeps its milliseconds, rounded up
    (``"0.3s"``), so that clients honouring ``retryDelay`` are not told "0s"."""
    seconds = max(0.0, seconds)
    if seconds >= 1:
        return f"{int(seconds)}s"
    millis = max(1, math.ceil(round(seconds * 1000, 6)))
    return f"{millis / 1000:.3f}".rstrip("0").rstrip(".") + "s"


def resource_exhausted(retry_after_s: float) -> GoogleError:
    """The Gemini API's quota 429 for an injected fault or a per-route quota: its message,
    ``google.rpc.Help`` and ``google.rpc.RetryInfo`` as posted (python-genai#1875 and #2114,
    mscraftsman/generative-ai#131). It names no quota (no ``QuotaFailure``, no "Quota
    exceeded for metric" line): these limits model no real quota; the per-model quotas
    (`quota_errors`) send the full body. No ``Retry-After`` header: none of the posted
    Gemini API 429s mentions one, and the clients that honour the service's hint read
    ``retryDelay`` (python-genai#2114, langchain-google#946, Roo-Code#2118)."""
    message = GEMINI_QUOTA_MESSAGE + f"\nPlease retry in {format_retry(retry_after_s)}s."
    return GoogleError(
        429,
        message,
        details=[
            QUOTA_HELP,
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": retry_delay(retry_after_s),
            },
        ],
    )


#: Vertex AI's 429 when a request is throttled without naming a quota (shared capacity, or
#: a limit the emulator does not model): this one sentence and no details, as posted in
#: continuedev/continue#8967 and google-gemini/gemini-cli#15911.
VERTEX_EXHAUSTED_MESSAGE = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)


def vertex_resource_exhausted() -> GoogleError:
    """Vertex AI's generic 429 (no retry hint: the client backs off on its own)."""
    return GoogleError(429, VERTEX_EXHAUSTED_MESSAGE)


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
