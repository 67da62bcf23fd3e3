"""Gemini API (generativelanguage) embedding routes: request shapes in, response shapes out.

``:batchEmbedContents`` is what google-genai always sends; ``:embedContent``,
``:countTokens``, ``GET models/{m}`` and ``GET models`` complete the surface. Shapes
follow the recorded traffic in ``shared/wire-samples/gemini``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .contents import parse_content
from .embedding import EmbedRequest, EmbedResult, checked_request, embed
from .google_errors import invalid_argument, not_found
from .models import (
    MAX_BATCH_REQUESTS,
    MODELS,
    SUPPORTED_GENERATION_METHODS,
    EmbeddingModel,
    gemini_model,
)
from .proto_json import Violation, as_list, as_str, join, read_fields
from .routing import Call
from .tokens import add_counts, content_tokens, modality_details

Handler = Callable[[Call, Any], dict[str, Any]]

_TASK_TYPE_PROTO = "google.ai.generativelanguage.v1beta.TaskType"
_EMBED_FIELDS = ("model", "content", "taskType", "title", "outputDimensionality")


def batch_embed_contents(call: Call, body: Any) -> dict[str, Any]:
    model = model_or_404(call, "embedContent")
    with _violations("BatchEmbedContentsRequest"):
        fields = read_fields(body, "", ("requests",))
        raw = as_list(fields.get("requests", []), "requests")
        if not raw:
            raise Violation("requests", "at least one request is required")
        if len(raw) > MAX_BATCH_REQUESTS:
            raise Violation(
                "requests", f"at most {MAX_BATCH_REQUESTS} requests can be in one batch"
            )
        requests = [
            embed_request(item, f"requests[{i}]", model, call, model_required=True)
            for i, item in enumerate(raw)
        ]
        results = [embed(model, request) for request in requests]
    response: dict[str, Any] = {"embeddings": [{"values": r.values} for r in results]}
    if model.usage_metadata:
        response["usageMetadata"] = _usage(results)
    return response


def embed_content(call: Call, body: Any) -> dict[str, Any]:
    model = model_or_404(call, "embedContent")
    with _violations("EmbedContentRequest"):
        request = embed_request(body, "", model, call, model_required=False)
        result = embed(model, request)
    response: dict[str, Any] = {"embedding": {"values": result.values}}
    if model.usage_metadata:
        response["usageMetadata"] = _usage([result])
    return response


def count_tokens(call: Call, body: Any) -> dict[str, Any]:
    model = model_or_404(call, "countTokens")
    with _violations("CountTokensRequest"):
        fields = read_fields(body, "", ("contents", "generateContentRequest"))
        path = "contents"
        if "generateContentRequest" in fields:
            inner = read_fields(
                fields["generateContentRequest"],
                "generate_content_request",
                (
                    "model",
                    "contents",
                    "systemInstruction",
                    "generationConfig",
                    "safetySettings",
                    "tools",
                    "toolConfig",
                    "cachedContent",
                ),
            )
            fields, path = inner, "generate_content_request.contents"
        contents = as_list(fields.get("contents", []), path)
        if not contents:
            raise Violation(path, "contents is not specified")
        totals: dict[str, int] = {}
        for i, content in enumerate(contents):
            parts = parse_content(content, f"{path}[{i}]", model, "gemini", enforce_limits=False)
            add_counts(totals, content_tokens(parts))
    return {"totalTokens": sum(totals.values()), "promptTokensDetails": modality_details(totals)}


def get_model(call: Call, body: Any) -> dict[str, Any]:
    return describe(model_or_404(call, "getModel"))


def list_models(call: Call, body: Any) -> dict[str, Any]:
    return {"models": [describe(m) for m in MODELS.values() if m.on_gemini_api]}


def describe(model: EmbeddingModel) -> dict[str, Any]:
    """The ``Model`` resource of ``GET models/{m}``."""
    return {
        "name": f"models/{model.id}",
        "version": model.version,
        "displayName": model.display_name,
        "description": model.description,
        "inputTokenLimit": model.max_tokens,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": list(SUPPORTED_GENERATION_METHODS),
    }


HANDLERS: dict[str, Handler] = {
    "batchEmbedContents": batch_embed_contents,
    "embedContent": embed_content,
    "countTokens": count_tokens,
    "getModel": get_model,
    "listModels": list_models,
}


def embed_request(
    value: object, path: str, model: EmbeddingModel, call: Call, *, model_required: bool
) -> EmbedRequest:
    fields = read_fields(value, path, _EMBED_FIELDS)
    url_model = f"models/{call.model}"
    if "model" in fields:
        named = as_str(fields["model"], join(path, "model"))
        if (named if named.startswith("models/") else f"models/{named}") != url_model:
            raise Violation(
                join(path, "model"),
                f"the request's model {named!r} differs from the model in the URL, {url_model}",
            )
    elif model_required:
        raise Violation(join(path, "model"), f"required field not set; use {url_model!r}")
    if "content" not in fields:
        raise Violation(join(path, "content"), "content is not specified")
    parts = parse_content(fields["content"], join(path, "content"), model, "gemini")
    return checked_request(model, parts, path, fields, path, _TASK_TYPE_PROTO)


def _usage(results: list[EmbedResult]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for result in results:
        add_counts(totals, result.tokens)
    # "promptTokenDetails" (no s) is what the Gemini API sends here; countTokens and Vertex
    # say "promptTokensDetails". Both spellings are recorded in the wire samples.
    return {
        "promptTokenCount": sum(totals.values()),
        "promptTokenDetails": modality_details(totals),
    }


def model_or_404(call: Call, method: str) -> EmbeddingModel:
    model = gemini_model(call.model or "")
    if model is None:
        raise not_found(
            f"models/{call.model} is not found for API version {call.version}, or is not "
            f"supported for {method}. Call ListModels to see the list of available models and "
            "their supported methods."
        )
    return model


@contextmanager
def _violations(request_type: str) -> Iterator[None]:
    """Turn a `Violation` into the Gemini API's 400: ``* Request.field: problem``."""
    try:
        yield
    except Violation as exc:
        field = f".{exc.field}" if exc.field else ""
        raise invalid_argument(f"* {request_type}{field}: {exc.problem}\n") from None
