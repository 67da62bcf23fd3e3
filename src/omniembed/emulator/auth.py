"""API key / bearer token checks, each API with its own error answers."""

from __future__ import annotations

from collections.abc import Mapping

from . import dashscope_errors
from .google_errors import GoogleError, invalid_api_key, missing_api_key, unauthenticated
from .routing import Api


def check_auth(
    api: Api, required_key: str | None, headers: Mapping[str, str], query: Mapping[str, str]
) -> GoogleError | None:
    """None if the request may proceed, else the error to answer.

    Gemini API: ``x-goog-api-key`` header or ``?key=`` (missing -> 403, wrong -> 400
    API_KEY_INVALID). Vertex: ``Authorization: Bearer <key>``, ``x-goog-api-key`` or
    ``?key=`` (missing or wrong -> 401). DashScope: ``Authorization: Bearer <key>``
    (missing or wrong -> 401 ``InvalidApiKey``). Without a required key anything is accepted.
    """
    if required_key is None:
        return None
    scheme, _, token = headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    if api == "dashscope":
        return None if bearer == required_key else dashscope_errors.invalid_api_key()
    api_key = headers.get("x-goog-api-key") or query.get("key")
    if api == "gemini":
        if not api_key:
            return missing_api_key()
        return None if api_key == required_key else invalid_api_key()
    if required_key in (bearer, api_key):
        return None
    return unauthenticated()
