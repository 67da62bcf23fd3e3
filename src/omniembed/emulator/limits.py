"""How large a request body each route accepts, and how deep its JSON may nest.

The emulator checks these *before* it reads a body (from ``Content-Length``, then while
reading a chunked body), and it reads no body at all when a configured API key is missing
or wrong, so a client without the key cannot make it buffer anything.

Sources and assumptions:

- Gemini API routes: 20 MB (`models.MAX_GEMINI_REQUEST_BYTES`; the Gemini API docs gave
  20 MB as the total request size for inline data, answered 400 ``Request payload size
  exceeds the limit: N bytes.`` — the wording users post, e.g.
  google-gemini/deprecated-generative-ai-android#26 (4194304 bytes) and
  quarkiverse/quarkus-langchain4j#1705 (4194304 bytes on a Gemini embedding call)).
- Gemini API embedding routes of text-only models (gemini-embedding-001): 4 MiB, the limit
  quarkiverse/quarkus-langchain4j#1705 reports for a gemini-embedding-001 text batch. The
  multimodal gemini-embedding-2 keeps 20 MB, so that inline video (≤ 120 s) still fits: no
  public report shows the 4 MiB limit on it (omniembed's client sends it at most 18 MiB).
- Vertex AI routes: 30 MB, an assumption: large enough for the largest inline input the
  emulator itself accepts (a 20 MB ``multimodalembedding@001`` image is ~26.7 MB of base64).
- DashScope embedding: 32 MB, an assumption (Model Studio publishes per-item limits — images
  3-5 MB, videos by URL — not a total); omniembed's own client sends at most 16 MB.
- Files API data (``uploadFileData``): 128 MB per request (google-genai sends 8 MB chunks;
  files are ≤ 2 GB in total, checked by the session).
- The OSS upload host: the policy's ``max_file_size_mb`` (100) plus 1 MB of form fields,
  answered with OSS's ``EntityTooLarge``.
- JSON nesting: 100 levels. Google's JSON-to-protobuf transcoding stops at protobuf's
  recursion limit of 100 ("Message too deep. Max recursion depth reached", see
  cloudendpoints/esp#648); no real request nests that deep.
"""

from __future__ import annotations

from typing import Any

from .models import MAX_GEMINI_REQUEST_BYTES, gemini_model
from .routing import Call

MB = 1024 * 1024
#: aiohttp's own cap (a backstop; the per-route limits below are all at or under it).
MAX_BODY_BYTES = 128 * MB
VERTEX_MAX_BODY_BYTES = 30 * MB
DASHSCOPE_MAX_BODY_BYTES = 32 * MB
OSS_MAX_FILE_MB = 100
OSS_MAX_BODY_BYTES = (OSS_MAX_FILE_MB + 1) * MB
UPLOAD_MAX_BODY_BYTES = MAX_BODY_BYTES
TEXT_EMBEDDING_MAX_BODY_BYTES = 4 * MB
_EMBEDDING_ROUTES = frozenset({"batchEmbedContents", "embedContent"})
MAX_JSON_DEPTH = 100

#: Routes whose bodies are file bytes, not JSON (the emulator does not parse them).
RAW_BODY_ROUTES = frozenset({"uploadFileData", "ossUpload"})


def body_limit(call: Call | None) -> int:
    """The largest body the route accepts, in bytes."""
    if call is None:
        return MAX_GEMINI_REQUEST_BYTES  # answered 404 without looking at the body
    if call.route == "uploadFileData":
        return UPLOAD_MAX_BODY_BYTES
    if call.route == "ossUpload":
        return OSS_MAX_BODY_BYTES
    if call.api == "dashscope":
        return DASHSCOPE_MAX_BODY_BYTES
    if call.api == "vertex":
        return VERTEX_MAX_BODY_BYTES
    if call.route in _EMBEDDING_ROUTES:
        model = gemini_model(call.model or "")
        if model is not None and not model.multimodal:
            return TEXT_EMBEDDING_MAX_BODY_BYTES
    return MAX_GEMINI_REQUEST_BYTES


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests deeper than ``limit`` objects/arrays (iterative: no
    recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
