"""Gemini API (generativelanguage) embedding routes: request shapes in, response shapes out.

``:batchEmbedContents`` is what google-genai always sends; ``:embedContent``,
``:countTokens``, ``GET models/{m}`` and ``GET models`` complete the surface. Shapes
follow the recorded traffic in ``shared/wire-samples/gemini``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .contents import parse_content
from .embedding import EmbedRequest, EmbedResult, checked_request, embed
from .generation_models import GENERATION_MODELS, generation_model
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
        # ``model`` is a field of the request message too (google.ai.generativelanguage
        # v1/v1beta BatchEmbedContentsRequest: "Required. The model's resource name"), and
        # some clients (the Go SDK) send it in the body as well as the URL.
        fields = read_fields(body, "", ("model", "requests"))
        if "model" in fields:
            named = as_str(fields["model"], "model")
            if (named if named.startswith("models/") else f"models/{named}") != (
                f"models/{call.model}"
            ):
                raise Violation(
                    "model",
                    f"the request's model {named!r} differs from the model in the URL, "
                    f"models/{call.model}",
                )
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
    """``GET models/{m}``: an embedding or a generation model's resource (the shape of its
    entry in the recorded list; LlamaIndex's ``GoogleGenAI(model=...)`` reads it)."""
    generation = generation_model(call.model or "")
    if generation is not None and "@" not in (call.model or ""):
        return generation.resource()
    return describe(model_or_404(call, "getModel"))


#: ``pageSize`` default and cap: "If unspecified, 50 models will be returned per page. This
#: method returns at most 1000 models per page, even if you pass a larger page_size."
#: (ai.google.dev/api/models#method:-models.list; the recorded list, llm-gemini's
#: test_cli_gemini_models.yaml, has 50 models and a ``nextPageToken``).
LIST_MODELS_PAGE_SIZE = 50
LIST_MODELS_MAX_PAGE_SIZE = 1000


def list_models(call: Call, query: Mapping[str, str]) -> dict[str, Any]:
    """``GET models``: the generation models, then the embedding models, a page at a time.
    The recorded ``nextPageToken`` is base64 of a protobuf string field holding the last
    listed name (``Ch9tb2RlbHMvdmVvLTMuMS1nZW5lcmF0ZS1wcmV2aWV3`` is
    ``\n\x1fmodels/veo-3.1-generate-preview``); the emulator's tokens have that form, and
    it is omitted on the last page ("If this field is omitted, there are no more pages")."""
    resources = [m.resource() for m in GENERATION_MODELS.values()]
    resources += [describe(m) for m in MODELS.values() if m.on_gemini_api]
    size = _page_size(query.get("pageSize"))
    start = 0
    token = query.get("pageToken")
    if token:
        after = _token_name(token)
        names = [r["name"] for r in resources]
        if after not in names:
            raise invalid_argument("* ListModelsRequest.page_token: invalid page token\n")
        start = names.index(after) + 1
    page = resources[start : start + size]
    body: dict[str, Any] = {"models": page}
    if start + size < len(resources):
        body["nextPageToken"] = _page_token(page[-1]["name"])
    return body


def _page_size(raw: str | None) -> int:
    if raw is None:
        return LIST_MODELS_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise invalid_argument(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"") from None
    if size < 0:
        raise invalid_argument("* ListModelsRequest.page_size: must not be negative\n")
    return min(size, LIST_MODELS_MAX_PAGE_SIZE) if size else LIST_MODELS_PAGE_SIZE


def _page_token(name: str) -> str:
    raw = name.encode()
    return base64.urlsafe_b64encode(b"\n" + bytes([len(raw)]) + raw).decode().rstrip("=")


def _token_name(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        return None
    if len(raw) < 2 or raw[0] != 0x0A or raw[1] != len(raw) - 2:
        return None
    return raw[2:].decode("utf-8", "replace")


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
