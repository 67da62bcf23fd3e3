"""One way to build a google-genai client for both backends, shared by the embedder and the
LLM: credentials from arguments or the environment, our base URL, our timeout, and the
SDK's own retries switched off (the runtime owns retries).
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import Any

from google import genai
from google.genai import types as genai_types
from pydantic import SecretStr

from ..closing import PerLoop
from ..errors import ConfigurationError, MissingCredentialsError
from .base import as_secret


@dataclass
class GoogleClient:
    """A built client and the facts callers report (never the secret itself)."""

    client: genai.Client
    vertexai: bool
    secret: SecretStr | None
    project: str | None = None
    location: str | None = None
    #: Where requests go when not to Google's default host: ``base_url``, or the URL
    #: google-genai reads from ``GOOGLE_GEMINI_BASE_URL`` / ``GOOGLE_VERTEX_BASE_URL``.
    endpoint: str | None = None

    def async_clients(self, owner: str) -> PerLoop[genai.Client]:
        """``client`` for async calls, by event loop: each loop's connections are closed in
        that loop (`aclose_loop_connections`) by ``aclose`` there or when the loop shuts
        down, and the client stays usable in other loops."""
        client = self.client
        return PerLoop(lambda: client, aclose_loop_connections, owner)


def build_genai_client(
    *,
    vertexai: bool,
    api_key: str | SecretStr | None,
    project: str | None,
    location: str | None,
    credentials: Any | None,
    access_token: str | SecretStr | None,
    base_url: str | None,
    api_version: str | None,
    timeout: float | None,
) -> GoogleClient:
    """Gemini API: an API key (default ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``). Vertex AI:
    ``project``/``location`` (defaults ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``)
    with Application Default Credentials, explicit ``credentials`` / ``access_token``, or an
    express-mode ``api_key``."""
    if api_version is None and not vertexai:
        # google-genai 3.x defaults to v1; the embedding, batch-job and Files API routes the
        # service documents (and the recorded traffic) are v1beta.
        api_version = "v1beta"
    http_options = genai_types.HttpOptions(
        base_url=check_base_url(base_url),
        api_version=api_version,
        timeout=int(timeout * 1000) if timeout else None,
        # One try per call: the runtime owns retries (and google-genai's aiohttp path would
        # otherwise sleep 1-10 s on a connection error by itself).
        retry_options=genai_types.HttpRetryOptions(attempts=1),
    )
    token = as_secret(access_token)
    if token is not None and credentials is None:
        credentials = _token_credentials(token)
    endpoint = base_url or os.environ.get(
        "GOOGLE_VERTEX_BASE_URL" if vertexai else "GOOGLE_GEMINI_BASE_URL"
    )
    built = _build(vertexai, api_key, project, location, credentials, http_options)
    built.endpoint = endpoint or None
    return built


def _build(
    vertexai: bool,
    api_key: str | SecretStr | None,
    project: str | None,
    location: str | None,
    credentials: Any | None,
    http_options: genai_types.HttpOptions,
) -> GoogleClient:
    if not vertexai:
        key = as_secret(api_key, "GEMINI_API_KEY", "GOOGLE_API_KEY")
        if key is None:
            raise MissingCredentialsError(
                "no Gemini API key: pass api_key= or set GEMINI_API_KEY (for Vertex AI, "
                "pass vertexai=True with project=)"
            )
        client = genai.Client(
            vertexai=False, api_key=key.get_secret_value(), http_options=http_options
        )
        return GoogleClient(client, vertexai=False, secret=key)
    key = as_secret(api_key)
    if key is not None and credentials is None:  # Vertex AI express mode
        client = genai.Client(
            vertexai=True, api_key=key.get_secret_value(), http_options=http_options
        )
        return GoogleClient(client, vertexai=True, secret=key)
    project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
    if credentials is None:
        credentials, adc_project = _default_credentials()
        project = project or adc_project
    if not project:
        raise MissingCredentialsError(
            "Vertex AI needs a project: pass project= or set GOOGLE_CLOUD_PROJECT"
        )
    client = genai.Client(
        vertexai=True,
        project=project,
        location=location,
        credentials=credentials,
        http_options=http_options,
    )
    return GoogleClient(client, vertexai=True, secret=None, project=project, location=location)


def close_client(client: genai.Client) -> None:
    """Close the client's sync connections (`genai.Client.close`, google-genai >= 1.x)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


def close_when_collected(owner: object, client: genai.Client) -> None:
    """Close ``client``'s sync connections when ``owner`` is dropped without `close`.

    A weakref callback runs before the garbage collector finalizes anything, so even in a
    reference cycle the pool is closed, not reported as unclosed sockets."""
    weakref.finalize(owner, close_client, client)


async def aclose_loop_connections(client: genai.Client) -> None:
    """Close the client's async connections of the running event loop, in it; the client
    stays usable (in other loops, and in this one: the SDK reconnects).

    google-genai has no public call for this (``client.aio.aclose()`` closes the async
    client for every loop), so it is done as the SDK itself keeps them: with aiohttp
    installed, an aiohttp session per loop (``_aiohttp_sessions``, 2.x) or one session
    re-made once closed (``_aiohttp_session``, 1.x); without, one httpx async client whose
    pooled connections (belonging to the loop that opened them) are closed, not the client,
    or in 3.x its inner client of this loop.
    Clients the caller passed in (``HttpOptions``) are left alone; anything the installed
    version does differently is skipped."""
    api = getattr(client, "_api_client", None)
    options = getattr(api, "_http_options", None)
    loop = asyncio.get_running_loop()
    session: Any = None
    sessions = getattr(api, "_aiohttp_sessions", None)
    if isinstance(sessions, dict):
        session = sessions.pop(loop, None)
    else:
        found = getattr(api, "_aiohttp_session", None)
        if found is not None and getattr(found, "_loop", None) is loop:
            session = found
    mine = session is not None and not getattr(options, "aiohttp_client", None)
    if mine and not session.closed:
        await session.close()
    async_httpx = getattr(api, "_async_httpx_client", None)
    if async_httpx is not None and not getattr(options, "httpx_async_client", None):
        # 3.x keeps one inner httpx client per event loop (``_loop_clients``): close this
        # loop's; the SDK builds a new one on the next call in this loop.
        inner = getattr(async_httpx, "_loop_clients", None)
        lock = getattr(async_httpx, "_loop_clients_lock", None)
        if isinstance(inner, dict) and lock is not None:
            with lock:
                mine_inner = inner.pop(loop, None)
            if mine_inner is not None:
                await mine_inner.aclose()
        transport = getattr(async_httpx, "_transport", None)
        aclose = getattr(transport, "aclose", None)
        if callable(aclose):
            await aclose()  # the pool's connections; the client (and the pool) stay usable


def check_base_url(url: str | None) -> str | None:
    if url is None:
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"base_url={url!r} is not an http(s) URL; use e.g. 'http://127.0.0.1:8765' or "
            "'https://generativelanguage.googleapis.com'"
        )
    return url


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def _token_credentials(token: SecretStr) -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token=token.get_secret_value())  # type: ignore[no-untyped-call]


def _default_credentials() -> tuple[Any, str | None]:
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        return google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    except DefaultCredentialsError as exc:
        raise MissingCredentialsError(
            "no Google Cloud credentials found for Vertex AI: run `gcloud auth "
            "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass "
            "credentials= / access_token= / an express-mode api_key="
        ) from exc
