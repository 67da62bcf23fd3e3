"""What one embedding call costs against per-model quotas: items, tokens and inputs.

Computed from the request body before the handler runs (a rejected call must not run), with
the emulator's own parsing and token estimate. It never raises: a part that does not parse
counts no tokens, and the handler then answers the 400.

- Gemini API ``batchEmbedContents``: one item per element of ``requests[]`` (at least one per
  call); ``embedContent``: one. Tokens: `content_tokens` of each content (capped at the
  model's input limit, like the usage the emulator reports) plus the ``title``'s text tokens
  (an ASSUMPTION: the title is input the model reads, so it is counted too).
- Vertex AI ``predict``, ``embedContent``, ``batchEmbedContents``: one item per HTTP call.
  Tokens: text instances' ``content`` and ``title``; multimodalembedding's ``text`` only
  (its images and video are not counted: its quota is requests per minute).
- DashScope ``multimodalEmbedding``: one item per call; tokens of the ``text`` entries.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .contents import parse_content
from .model_quotas import Api, Cost
from .models import EmbeddingModel, gemini_model, vertex_model
from .routes_dashscope import MODELS as DASHSCOPE_MODELS
from .routing import Call
from .tokens import content_tokens, count_text_tokens

logger = logging.getLogger("omniembed.emulator")

#: The routes per-model quotas apply to. Not the Batch API (``asyncBatchEmbedContent`` has
#: its own enqueued-token limits), ``countTokens``, generation or the Files API.
QUOTA_ROUTES: Mapping[str, frozenset[str]] = {
    "gemini": frozenset({"batchEmbedContents", "embedContent"}),
    "vertex": frozenset({"predict", "embedContent", "batchEmbedContents"}),
    "dashscope": frozenset({"multimodalEmbedding"}),
}


def quota_subject(call: Call, body: Any) -> tuple[Api, str] | None:
    """``(api, model)`` the call's quota is kept under, or None when no per-model quota
    applies (another route, or a model the service would answer 404 for)."""
    if call.route not in QUOTA_ROUTES.get(call.api, ()):
        return None
    if call.api == "gemini":
        model = gemini_model(call.model or "")
        return ("gemini", model.id) if model is not None else None
    if call.api == "vertex":
        model = vertex_model(call.model or "")
        return ("vertex", model.id) if model is not None else None
    name = body.get("model") if isinstance(body, dict) else None
    if isinstance(name, str) and name in DASHSCOPE_MODELS:
        return ("dashscope", name)
    return None


def call_cost(call: Call, body: Any) -> Cost:
    """The items, tokens and inputs of an embedding call (see the module docstring)."""
    body = body if isinstance(body, dict) else {}
    if call.api == "gemini":
        gemini = gemini_model(call.model or "")
        assert gemini is not None
        if call.route == "batchEmbedContents":
            raw = body.get("requests")
            requests = raw if isinstance(raw, list) else []
            tokens = sum(_request_tokens(r, gemini, "gemini") for r in requests)
            return Cost(items=max(1, len(requests)), tokens=tokens, inputs=len(requests))
        return Cost(items=1, tokens=_request_tokens(body, gemini, "gemini"), inputs=1)
    if call.api == "vertex":
        vertex = vertex_model(call.model or "")
        assert vertex is not None
        if call.route == "predict":
            raw = body.get("instances")
            instances = raw if isinstance(raw, list) else []
            tokens = sum(_instance_tokens(i, vertex) for i in instances)
            return Cost(items=1, tokens=tokens, inputs=len(instances))
        if call.route == "batchEmbedContents":
            raw = body.get("requests")
            requests = raw if isinstance(raw, list) else []
            tokens = sum(_request_tokens(r, vertex, "vertex") for r in requests)
            return Cost(items=1, tokens=tokens, inputs=len(requests))
        return Cost(items=1, tokens=_request_tokens(body, vertex, "vertex"), inputs=1)
    raw_input = body.get("input")
    contents = raw_input.get("contents") if isinstance(raw_input, dict) else None
    contents = contents if isinstance(contents, list) else []
    tokens = 0
    for content in contents:
        text = content.get("text") if isinstance(content, dict) else None
        if isinstance(text, str):
            tokens += count_text_tokens(text)
    return Cost(items=1, tokens=tokens, inputs=len(contents))


def _request_tokens(request: object, model: EmbeddingModel, backend: str) -> int:
    """Tokens of one EmbedContentRequest: its content plus its title."""
    if not isinstance(request, dict):
        return 0
    tokens = 0
    try:
        parts = parse_content(
            request.get("content"), "content", model, "vertex" if backend == "vertex" else "gemini"
        )
        tokens = sum(content_tokens(parts, model.max_tokens).values())
    except Exception:  # the handler answers the 400; the cost just leaves the part out
        logger.debug("quota cost: content did not parse", exc_info=True)
    config = request.get("embedContentConfig")
    title = request.get("title")
    if title is None and isinstance(config, dict):
        title = config.get("title")
    if isinstance(title, str):
        tokens += count_text_tokens(title)
    return tokens


def _instance_tokens(instance: object, model: EmbeddingModel) -> int:
    """Tokens of one ``:predict`` instance (text only)."""
    if not isinstance(instance, dict):
        return 0
    text = instance.get("content", instance.get("text"))
    tokens = min(count_text_tokens(text), model.max_tokens) if isinstance(text, str) else 0
    title = instance.get("title")
    if isinstance(title, str):
        tokens += count_text_tokens(title)
    return tokens
