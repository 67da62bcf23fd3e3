"""Embedding one content: the rules shared by the Gemini API and Vertex routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .contents import Part
from .models import TASK_TYPE_ENUM, TASK_TYPES, EmbeddingModel
from .proto_json import Violation, as_bool, as_enum, as_int, as_str, join
from .tokens import content_tokens
from .vectors import Vector, content_vector


@dataclass(frozen=True)
class EmbedRequest:
    """One content to embed and its parameters, already parsed from the wire."""

    parts: list[Part]
    path: str  # where the request sits in the body, for messages ('' or 'requests[3]')
    task_type: str | None = None
    title: str | None = None
    output_dimensionality: int | None = None
    auto_truncate: bool = True


@dataclass(frozen=True)
class EmbedResult:
    #: The vector cut to ``outputDimensionality`` (NOT re-normalized, like the service).
    values: Vector
    truncated: bool
    tokens: dict[str, int] = field(default_factory=dict)

    @property
    def token_count(self) -> int:
        return sum(self.tokens.values())


def checked_request(
    model: EmbeddingModel,
    parts: list[Part],
    path: str,
    params: Mapping[str, object],
    params_path: str,
    task_type_proto: str,
) -> EmbedRequest:
    """An `EmbedRequest` from the wire's parameter fields (``taskType``, ``title``,
    ``outputDimensionality``, ``autoTruncate``), type-checked and checked against the model.

    ``params_path`` is where those fields sit (the request itself on the Gemini API,
    its ``embedContentConfig`` on Vertex), for error messages.
    """
    task, title = params.get("taskType"), params.get("title")
    dims, auto = params.get("outputDimensionality"), params.get("autoTruncate")
    request = EmbedRequest(
        parts=parts,
        path=path,
        task_type=None
        if task is None
        else as_enum(task, join(params_path, "taskType"), task_type_proto, TASK_TYPE_ENUM),
        title=None if title is None else as_str(title, join(params_path, "title")),
        output_dimensionality=None
        if dims is None
        else as_int(dims, join(params_path, "outputDimensionality")),
        auto_truncate=True if auto is None else as_bool(auto, join(params_path, "autoTruncate")),
    )
    check_request(model, request)
    return request


def check_request(model: EmbeddingModel, request: EmbedRequest) -> None:
    """Reject parameters the model does not allow (raises `Violation`)."""
    dims = request.output_dimensionality
    if dims is not None and not 1 <= dims <= model.dims:
        raise Violation(
            join(request.path, "outputDimensionality"),
            f"output_dimensionality must be between 1 and {model.dims} for {model.id}, got {dims}",
        )
    if model.conditioning != "task_type":
        return  # gemini-embedding-2 accepts taskType and title and ignores them
    task = request.task_type
    if task is not None and task != "TASK_TYPE_UNSPECIFIED" and task not in TASK_TYPES:
        raise Violation(
            join(request.path, "taskType"),
            f"unsupported task type {task!r}; use one of {', '.join(TASK_TYPES)}",
        )
    if request.title and task != "RETRIEVAL_DOCUMENT":
        raise Violation(
            join(request.path, "title"),
            "Title is only valid with TaskType.RETRIEVAL_DOCUMENT "
            f"(task type is {task or 'unset'})",
        )


def embed(model: EmbeddingModel, request: EmbedRequest) -> EmbedResult:
    """The (possibly shortened) vector, truncation flag and token usage of one request."""
    try:
        vector, truncated = content_vector(
            request.parts, model, task_type=request.task_type, title=request.title
        )
    except (OSError, ValueError, RuntimeError, SyntaxError) as exc:
        # Bytes that pass the header check but do not decode (a truncated image, a broken
        # video): the service answers 400, not 500.
        raise Violation(
            request.path or "content", f"Unable to process input media data ({exc})"
        ) from None
    if truncated and not request.auto_truncate:
        raise Violation(
            request.path or "content",
            f"the input has more than {model.max_tokens} tokens, the limit of {model.id}; "
            "shorten it or set autoTruncate",
        )
    dims = request.output_dimensionality
    values = vector[:dims] if dims is not None else vector
    return EmbedResult(values, truncated, content_tokens(request.parts, model.max_tokens))
