"""Vertex AI embedding routes: ``:predict``, ``:embedContent``, ``:batchEmbedContents``.

``:predict`` dispatches on the model's instance schema (`PREDICT_HANDLERS`), so
``multimodalembedding@001`` can get its own handler beside the text models'. Predict
instances are free-form ``google.protobuf.Value`` structs: unknown keys are ignored there,
as Vertex does, while the typed ``embedContent`` requests reject unknown names.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .contents import TextPart, parse_content
from .embedding import EmbedRequest, check_request, checked_request, embed
from .google_errors import invalid_argument, not_found
from .models import MAX_BATCH_REQUESTS, EmbeddingModel, VertexAction, vertex_model
from .proto_json import Violation, as_bool, as_int, as_list, as_str, join, read_fields
from .routing import Call
from .tokens import billable_characters, modality_details
from .vertex_multimodal import predict_multimodal

logger = logging.getLogger("omniembed.emulator")

Handler = Callable[[Call, Any], dict[str, Any]]
PredictHandler = Callable[[EmbeddingModel, list[Any], dict[str, Any]], dict[str, Any]]

_TASK_TYPE_PROTO = "google.cloud.aiplatform.v1beta1.TaskType"
_CONFIG_FIELDS = (
    "taskType",
    "title",
    "outputDimensionality",
    "autoTruncate",
    "documentOcr",
    "audioTrackExtraction",
)
_REQUEST_FIELDS = ("model", "content", "embedContentConfig", *_CONFIG_FIELDS)


def predict(call: Call, body: Any) -> dict[str, Any]:
    model = _model_for(call, "predict")
    with _violations():
        fields = read_fields(body, "", ("instances", "parameters"))
        instances = as_list(fields.get("instances", []), "instances")
        parameters = fields.get("parameters", {})
        if not isinstance(parameters, dict):
            raise Violation("parameters", "parameters must be a JSON object")
        return PREDICT_HANDLERS[model.space](model, instances, parameters)


def _predict_text(
    model: EmbeddingModel, instances: list[Any], parameters: dict[str, Any]
) -> dict[str, Any]:
    """Text embedding models: ``{"content", "task_type"?, "title"?}`` per instance."""
    if not instances:
        raise Violation("instances", "at least one instance is required")
    limit = model.max_predict_instances
    if len(instances) > limit:
        raise Violation(
            "instances",
            f"{model.id} accepts at most {limit} instance{'s' if limit > 1 else ''} per "
            f"request, got {len(instances)}",
        )
    dims = parameters.get("outputDimensionality")
    auto = parameters.get("autoTruncate")
    predictions: list[dict[str, Any]] = []
    billable = 0
    for i, instance in enumerate(instances):
        path = f"instances[{i}]"
        if not isinstance(instance, dict):
            raise Violation(path, "each instance must be a JSON object")
        content = instance.get("content")
        if not isinstance(content, str) or not content:
            raise Violation(join(path, "content"), "content must be a non-empty string")
        unknown = set(instance) - {"content", "task_type", "title", "mimeType", "mime_type"}
        if unknown:
            logger.debug("predict %s: ignoring unknown instance keys %s", path, sorted(unknown))
        task = instance.get("task_type")
        title = instance.get("title")
        request = EmbedRequest(
            parts=[TextPart(content)],
            path=path,
            task_type=as_str(task, join(path, "task_type")) if task is not None else None,
            title=as_str(title, join(path, "title")) if title is not None else None,
            output_dimensionality=as_int(dims, "parameters.outputDimensionality")
            if dims is not None
            else None,
            auto_truncate=as_bool(auto, "parameters.autoTruncate") if auto is not None else True,
        )
        check_request(model, request)
        result = embed(model, request)
        billable += billable_characters(content)
        predictions.append(
            {
                "embeddings": {
                    # snake_case inside predictions, exactly as Vertex sends it.
                    "statistics": {
                        "token_count": result.token_count,
                        "truncated": result.truncated,
                    },
                    # :predict prints float64 digits of the float32 values (see the samples).
                    "values": result.values.astype(np.float64),
                }
            }
        )
    return {"predictions": predictions, "metadata": {"billableCharacterCount": billable}}


#: ``:predict`` handler per model space (each model's instance schema).
PREDICT_HANDLERS: dict[str, PredictHandler] = {
    "gemini-embedding-001": _predict_text,
    "text-embedding-005": _predict_text,
    "multimodalembedding": predict_multimodal,
}


def embed_content(call: Call, body: Any) -> dict[str, Any]:
    model = _model_for(call, "embedContent")
    with _violations():
        request = _embed_request(body, "", model)
        result = embed(model, request)
    tokens = result.token_count
    response: dict[str, Any] = {
        "embedding": {"values": result.values},
        "usageMetadata": {
            "promptTokenCount": tokens,
            "promptTokensDetails": modality_details(result.tokens),
            "totalTokenCount": tokens,
        },
    }
    if result.truncated:  # proto3 JSON omits a false bool, so the recordings lack the key
        response["truncated"] = True
    return response


def batch_embed_contents(call: Call, body: Any) -> dict[str, Any]:
    model = _model_for(call, "batchEmbedContents")
    with _violations():
        fields = read_fields(body, "", ("requests",))
        raw = as_list(fields.get("requests", []), "requests")
        if not raw:
            raise Violation("requests", "at least one request is required")
        if len(raw) > MAX_BATCH_REQUESTS:
            raise Violation(
                "requests", f"at most {MAX_BATCH_REQUESTS} requests can be in one batch"
            )
        results = [
            embed(model, _embed_request(item, f"requests[{i}]", model))
            for i, item in enumerate(raw)
        ]
    return {"embeddings": [{"values": r.values} for r in results]}


HANDLERS: dict[str, Handler] = {
    "predict": predict,
    "embedContent": embed_content,
    "batchEmbedContents": batch_embed_contents,
}


def _embed_request(value: object, path: str, model: EmbeddingModel) -> EmbedRequest:
    """An EmbedContentRequest; parameters in ``embedContentConfig`` (google-genai 3.x) or
    at the top level (older clients)."""
    fields = read_fields(value, path, _REQUEST_FIELDS)
    if "content" not in fields:
        raise Violation(join(path, "content"), "content is required (one content per request)")
    config_path = join(path, "embedContentConfig")
    config = {k: v for k, v in fields.items() if k in _CONFIG_FIELDS}
    config.update(read_fields(fields.get("embedContentConfig", {}), config_path, _CONFIG_FIELDS))
    parts = parse_content(fields["content"], join(path, "content"), model, "vertex")
    return checked_request(model, parts, path, config, config_path, _TASK_TYPE_PROTO)


def _model_for(call: Call, action: VertexAction) -> EmbeddingModel:
    model = vertex_model(call.model or "")
    if model is None:
        raise not_found(f"Publisher Model `{call.vertex_model_name}` not found.")
    if action not in model.vertex_actions:
        supported = ", ".join(f":{a}" for a in sorted(model.vertex_actions))
        raise invalid_argument(
            f"{model.id} does not support :{action} on Vertex AI; use {supported}"
            + (" (one content per call)" if action == "batchEmbedContents" else "")
        )
    return model


@contextmanager
def _violations() -> Iterator[None]:
    """Turn a `Violation` into Vertex's 400 (a plain sentence naming the field)."""
    try:
        yield
    except Violation as exc:
        where = f" (at '{exc.field}')" if exc.field else ""
        raise invalid_argument(f"Invalid request: {exc.problem}{where}.") from None
