"""Recorded exchanges the emulator does not answer on purpose, each with its reason.

The emulator stands in for embedding, generation and the Files API of the Gemini API and
Vertex AI, and DashScope's multimodal embedding (DESIGN.md §1 and §3; the routes are in
`omniembed.emulator.routing`). Recordings of real clients also hold traffic around those
calls: other services, Google's managed stores and caches, image models, and models
Google has since shut down. The checker lists those rows with the reason given here
instead of counting them as differences.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..generation_models import RETIRED
from .recordings import Exchange

#: The hosts of the APIs the emulator stands in for (Vertex AI also has regional hosts,
#: ``europe-west4-aiplatform.googleapis.com``).
GEMINI_API_HOST = "generativelanguage.googleapis.com"
VERTEX_HOST_SUFFIX = "aiplatform.googleapis.com"


@dataclass(frozen=True)
class Exclusion:
    """Why an exchange is not compared: ``not-emulated`` (never sent to the emulator) or
    ``retired`` (sent; the emulator must answer the service's 404 NOT_FOUND)."""

    verdict: Literal["not-emulated", "retired"]
    reason: str


#: Paths of Google services outside the emulator's scope, with why.
NOT_EMULATED_PATHS: tuple[tuple[re.Pattern[str], str], ...] = (
    # File Search is a managed store that chunks, embeds and retrieves documents itself
    # (ai.google.dev/gemini-api/docs/file-search): a retrieval service, not the embedding
    # or generation wire this project's clients speak (DESIGN.md §1, docs/emulator.md).
    (re.compile(r"/fileSearchStores\b"), "File Search stores (a managed retrieval service)"),
    # Context caching stores a prompt prefix server-side and bills it per hour
    # (ai.google.dev/gemini-api/docs/caching); no client of this project uses it.
    (re.compile(r"/cachedContents\b"), "context caching (cachedContents)"),
    # Semantic retrieval corpora and tuned models: other managed services of the Gemini
    # API, likewise outside DESIGN.md §1's scope.
    (re.compile(r"/corpora\b"), "semantic retrieval corpora"),
    (re.compile(r"/tunedModels\b"), "model tuning (tunedModels)"),
)

#: Image generation models answer with generated image bytes; the emulator's stand-in
#: answers text only (docs/emulator.md, "Generation and the Files API").
IMAGE_MODEL = re.compile(r"(^imagen-|-image(-|$))")
IMAGE_REASON = "image generation model (the emulator answers text only)"

#: Models Google has shut down since the recordings were made: the service answers 404
#: NOT_FOUND for them, and so must the emulator. Shutdown dates are on
#: ai.google.dev/gemini-api/docs/deprecations (e.g. gemini-2.5-pro-preview-03-25: December
#: 2, 2025); `generation_models.RETIRED` lists the ids the emulator itself names retired.
RETIRED_MODELS: dict[str, str] = {
    **{model: "model shut down by Google; the service answers 404" for model in RETIRED},
    "gemini-2.5-pro-preview-03-25": "preview shut down by Google on 2025-12-02; the service "
    "answers 404",
}

#: Recorded errors that came from the internet, not from the request: the service fetched a
#: URL and the site refused (robots.txt) or failed. The emulator never fetches URLs
#: (docs/emulator.md: "http(s) URLs are accepted but never fetched").
FETCH_FAILURES = ("Cannot fetch content from the provided URL", "URL_ROBOTED", "URL_ERROR")

_MODEL = re.compile(r"/models/([^/:]+)")
_FILES_URI = re.compile(r"(?:^|/)v1(?:beta)?/(files/[a-z0-9-]+)$")


def model_of(exchange: Exchange) -> str | None:
    """The model id a request path names (a Vertex ``@version`` suffix removed)."""
    match = _MODEL.search(exchange.target.partition("?")[0])
    return match.group(1).split("@", 1)[0] if match else None


def is_google_api(host: str) -> bool:
    return host == GEMINI_API_HOST or host.endswith(VERTEX_HOST_SUFFIX)


@dataclass
class Context:
    """What earlier exchanges of the same recording tell about a later one."""

    #: Files API names (``files/abc``) uploaded earlier in the recording.
    uploaded: set[str] = field(default_factory=set)
    #: Base64 of response bodies the recorder shortened (a media download whose body is
    #: shorter than its Content-Length), with a description.
    stubs: dict[str, str] = field(default_factory=dict)

    def saw(self, exchange: Exchange) -> None:
        """Note what ``exchange``'s recorded response tells about later exchanges."""
        response = exchange.response
        declared = response.headers.get("content-length", "")
        if response.raw and declared.isdigit() and int(declared) > len(response.raw):
            encoded = base64.b64encode(response.raw).decode("ascii")
            self.stubs[encoded] = (
                f"inline media from {exchange.host} is a {len(response.raw)}-byte stub of a "
                f"{declared}-byte file (the recorder shortened it)"
            )


def exclusion(exchange: Exchange, context: Context | None = None) -> Exclusion | None:
    """Why ``exchange`` is not compared, or None when it is (``context``: what earlier
    exchanges of the same recording uploaded or shortened)."""
    context = context or Context()
    host = exchange.host
    if host == "oauth2.googleapis.com":
        # The emulator takes any bearer token (or the one key it is given): there is no
        # token exchange to stand in for (omniembed.emulator.auth).
        return Exclusion("not-emulated", "OAuth token exchange (the emulator takes any token)")
    if not is_google_api(host):
        # Clients download media from URLs before sending it, and some recordings mix
        # in other providers' APIs: not the services the emulator stands in for.
        return Exclusion("not-emulated", f"not a Gemini API or Vertex AI host ({host})")
    path = exchange.target.partition("?")[0]
    for pattern, reason in NOT_EMULATED_PATHS:
        if pattern.search(path):
            return Exclusion("not-emulated", reason)
    model = model_of(exchange)
    if model is not None and IMAGE_MODEL.search(model):
        return Exclusion("not-emulated", IMAGE_REASON)
    body = exchange.json if isinstance(exchange.json, dict) else {}
    if _uses_file_search(body):
        return Exclusion("not-emulated", "grounding with the File Search tool")
    if body.get("cachedContent") or body.get("cached_content"):
        return Exclusion("not-emulated", "a prompt from context caching (cachedContent)")
    if body.get("modelArmorConfig") or body.get("model_armor_config"):
        # Model Armor screens prompts and answers with templates kept in the caller's
        # Google Cloud project (cloud.google.com/security-command-center/docs/model-armor-
        # overview); the emulator accepts the field but has no templates to apply.
        return Exclusion("not-emulated", "Model Armor screening (templates in a Cloud project)")
    # Files uploaded or stored before the recording started: their bytes are in no
    # recording, so no emulator can hold them (the service's answer depends on them).
    uris = list(_file_uris(body))
    named = {name for name in map(_files_name, uris) if name is not None}
    missing = sorted(named - context.uploaded)
    if missing:
        return Exclusion("not-emulated", f"uses {missing[0]}, uploaded outside this recording")
    if host.endswith(VERTEX_HOST_SUFFIX):
        objects = sorted(u for u in uris if u.startswith("gs://"))
        if objects:
            return Exclusion(
                "not-emulated", f"reads {objects[0]}, a Cloud Storage object outside this recording"
            )
    if context.stubs:
        text = exchange.body.decode("utf-8", "replace")
        stubbed = [why for stub, why in context.stubs.items() if stub in text]
        if stubbed:
            return Exclusion("not-emulated", stubbed[0])
    if any(sign in _error_message(exchange.response.json) for sign in FETCH_FAILURES):
        return Exclusion(
            "not-emulated", "the service failed to fetch a URL (the emulator never fetches)"
        )
    if model in RETIRED_MODELS and exchange.response.status != 404:
        return Exclusion("retired", f"{model}: {RETIRED_MODELS[model]}")
    return None


def _error_message(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message", "")) if isinstance(error, dict) else ""


def _uses_file_search(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, list) and any(
        isinstance(tool, dict) and ("fileSearch" in tool or "file_search" in tool) for tool in tools
    )


def _file_uris(value: Any) -> Iterator[str]:
    """Every ``fileUri`` in a request body."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("fileUri", "file_uri") and isinstance(item, str):
                yield item
            else:
                yield from _file_uris(item)
    elif isinstance(value, list):
        for item in value:
            yield from _file_uris(item)


def _files_name(uri: str) -> str | None:
    """``files/abc`` for a Files API URI of the real service, else None."""
    match = _FILES_URI.search(uri)
    return match.group(1) if match and GEMINI_API_HOST in uri else None
