"""Reading a ``GenerateContentRequest`` strictly, the way the service's proto parser does.

Unknown field names, wrong types and bad enum values are 400s; rule violations raise
`Violation` (formatted per API by `routes_generate`). ``fileData`` URIs are resolved here
through a `FileResolver`, so a missing or still-PROCESSING file fails like on the service.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ..media.mime import guess_mime_from_name
from .contents import decode_base64
from .generation_models import GenerationModel
from .google_errors import invalid_argument
from .proto_json import Violation, as_bool, as_enum, as_int, as_list, as_str, join, read_fields

Backend = Literal["gemini", "vertex"]

HARM_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_CIVIC_INTEGRITY",
)
_THRESHOLDS = (
    "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
)
_CALLING_MODES = ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED")
_RESPONSE_MIME_TYPES = ("text/plain", "application/json", "text/x.enum")
_MODALITIES = ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO")
_SCHEMA_TYPES = (
    "TYPE_UNSPECIFIED",
    "STRING",
    "NUMBER",
    "INTEGER",
    "BOOLEAN",
    "ARRAY",
    "OBJECT",
    "NULL",
)
_SCHEMA_FIELDS = (
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
    "properties", "required", "minProperties", "maxProperties", "minLength", "maxLength",
    "pattern", "example", "anyOf", "propertyOrdering", "default", "items", "minimum", "maximum",
)  # fmt: skip
_TOP_FIELDS = (
    "model", "contents", "systemInstruction", "generationConfig", "safetySettings", "tools",
    "toolConfig", "cachedContent", "labels", "serviceTier", "store",
)  # fmt: skip
_VERTEX_TOP_FIELDS = ("modelArmorConfig",)
_CONFIG_FIELDS = (
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP", "topK",
    "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
    "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
    "mediaResolution", "audioTimestamp", "routingConfig", "modelSelectionConfig", "modelConfig",
    "audioTranscriptionConfig", "enableAffectiveDialog", "responseFormat", "translationConfig",
)  # fmt: skip
_DATA_FIELDS = (
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult", "toolCall", "toolResponse",
)  # fmt: skip
_PART_FIELDS = (
    *_DATA_FIELDS, "videoMetadata", "thought", "thoughtSignature", "partMetadata",
    "mediaResolution", "audioMetadata", "documentMetadata", "mediaProcessing",
)  # fmt: skip
_TOOL_FIELDS = (
    "functionDeclarations", "googleSearchRetrieval", "codeExecution", "googleSearch",
    "computerUse", "urlContext", "fileSearch", "googleMaps", "mcpServers", "retrieval",
    "enterpriseWebSearch",
)  # fmt: skip
_SEARCH_TOOLS = frozenset({"googleSearch", "googleSearchRetrieval", "enterpriseWebSearch"})
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
_DURATION = re.compile(r"^(-?\d+(?:\.\d{1,9})?)s$")
_MAX_STOP_SEQUENCES = 5
_MAX_FPS = 24.0


@dataclass(frozen=True)
class Clip:
    """``videoMetadata``: the part of a video to look at, and the sampling rate."""

    start: float | None = None
    end: float | None = None
    fps: float | None = None


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Blob:
    """Media the model sees: inline bytes, or a resolved file. ``data`` is None for
    http(s) URLs the emulator does not fetch."""

    mime_type: str
    data: bytes | None
    source: str
    clip: Clip | None = None


@dataclass(frozen=True)
class FunctionCall:
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class FunctionResponse:
    name: str
    response: dict[str, Any]
    #: Media the function returned (``functionResponse.parts``), seen and billed like any
    #: other media part.
    media: tuple[Blob, ...] = ()


GenPart = Text | Blob | FunctionCall | FunctionResponse


@dataclass(frozen=True)
class Turn:
    role: str
    parts: list[GenPart]


@dataclass(frozen=True)
class FunctionDecl:
    name: str
    description: str
    #: The parameters schema and its dialect ("openapi": upper-case ``type`` enums).
    schema: dict[str, Any] | None
    dialect: Literal["openapi", "json"]


@dataclass
class GenerateRequest:
    turns: list[Turn]
    system: list[str] = field(default_factory=list)
    max_output_tokens: int | None = None
    stop_sequences: list[str] = field(default_factory=list)
    candidate_count: int = 1
    response_mime_type: str = "text/plain"
    response_schema: dict[str, Any] | None = None
    schema_dialect: Literal["openapi", "json"] = "openapi"
    #: None: the model's default; 0: off; -1: dynamic.
    thinking_budget: int | None = None
    thinking_level: str | None = None
    include_thoughts: bool = False
    functions: list[FunctionDecl] = field(default_factory=list)
    #: Any tool is declared (functions, search, code execution, ...).
    has_tools: bool = False
    #: A Google Search tool is declared (the service grounds the answer on the web).
    search_grounding: bool = False
    #: A ``codeExecution`` tool is declared (the answer shows the code it ran and its output).
    code_execution: bool = False
    #: A ``urlContext`` tool is declared (the answer names the URLs of the prompt it read).
    url_context: bool = False
    calling_mode: str = "AUTO"
    allowed_functions: list[str] = field(default_factory=list)


#: Resolves a ``fileData`` URI to (MIME type, bytes); raises the service's error if it can't.
FileResolver = Callable[[str, str | None, str], Blob]


def parse_request(
    body: object, model: GenerationModel, backend: Backend, resolve: FileResolver
) -> GenerateRequest:
    names = _TOP_FIELDS + (_VERTEX_TOP_FIELDS if backend == "vertex" else ())
    fields = read_fields(body, "", names)
    raw_contents = as_list(fields.get("contents", []), "contents")
    if not raw_contents:
        raise Violation("contents", "contents is not specified")
    turns = [_turn(c, f"contents[{i}]", backend, resolve) for i, c in enumerate(raw_contents)]
    request = GenerateRequest(turns=turns)
    if "systemInstruction" in fields:
        request.system = _system(fields["systemInstruction"], "system_instruction")
    _config(fields.get("generationConfig", {}), "generation_config", model, request)
    for i, setting in enumerate(as_list(fields.get("safetySettings", []), "safety_settings")):
        path = f"safety_settings[{i}]"
        s = read_fields(setting, path, ("category", "threshold", "method"))
        if "category" not in s:
            raise Violation(join(path, "category"), "category must be specified")
        as_enum(s["category"], join(path, "category"), "HarmCategory", HARM_CATEGORIES)
        threshold = s.get("threshold", "HARM_BLOCK_THRESHOLD_UNSPECIFIED")
        as_enum(threshold, join(path, "threshold"), "HarmBlockThreshold", _THRESHOLDS)
    for i, tool in enumerate(as_list(fields.get("tools", []), "tools")):
        request.functions += _tool(tool, f"tools[{i}]")
        request.has_tools = True
        if isinstance(tool, dict) and _SEARCH_TOOLS & tool.keys():
            request.search_grounding = True
        if isinstance(tool, dict) and "codeExecution" in tool:
            request.code_execution = True
        if isinstance(tool, dict) and "urlContext" in tool:
            request.url_context = True
    if "toolConfig" in fields:
        _tool_config(fields["toolConfig"], request)
    if _json_with_functions_refused(request, model):
        raise invalid_argument(
            "Function calling with a response mime type: 'application/json' is unsupported"
        )
    return request


def _json_with_functions_refused(request: GenerateRequest, model: GenerationModel) -> bool:
    """JSON output together with function calling. The service's 400 is reported for mode
    ANY (langchain-ai/langchainjs#9126 switches structured output to AUTO to avoid it) and,
    on gemini-2.5, for AUTO too (google/adk-python#5735: gemini-2.5-pro refuses AUTO and ANY,
    accepts NONE; symfony/ai#1777 on gemini-2.5-flash; the message as in
    google-gemini/deprecated-generative-ai-swift#195). Gemini 3 answers it with the default
    mode: pydantic-ai's test_native_output_with_function_tools (gemini-3-flash-preview,
    200)."""
    if not request.functions or request.response_mime_type != "application/json":
        return False
    if request.calling_mode == "ANY":
        return True
    return model.profile != "3" and request.calling_mode != "NONE"


def _turn(value: object, path: str, backend: Backend, resolve: FileResolver) -> Turn:
    fields = read_fields(value, path, ("parts", "role"))
    role = as_str(fields.get("role", "user"), join(path, "role")) or "user"
    if role not in ("user", "model"):
        raise invalid_argument("Please use a valid role: user, model.")
    raw_parts = as_list(fields.get("parts", []), join(path, "parts"))
    if not raw_parts:
        raise Violation(join(path, "parts"), "contents.parts must not be empty.")
    parts = [
        _part(p, f"{join(path, 'parts')}[{i}]", backend, resolve) for i, p in enumerate(raw_parts)
    ]
    return Turn(role, [p for p in parts if p is not None])


def _part(value: object, path: str, backend: Backend, resolve: FileResolver) -> GenPart | None:
    fields = read_fields(value, path, _PART_FIELDS)
    present = [name for name in _DATA_FIELDS if name in fields]
    if len(present) > 1:
        raise invalid_argument(
            "Invalid JSON payload received. Oneof field 'data' is already set. "
            f"Cannot set '{present[1]}'"
        )
    if not present:
        if set(fields) == {"videoMetadata"}:
            # Accepted (200) by the service: pydantic-ai's test_google_model_video_as_binary_
            # content_input_with_vendor_metadata sends the metadata as a part of its own
            # after the video. What the service does with it is not visible in the answer,
            # so the stand-in checks its fields and otherwise ignores it.
            _clip(fields["videoMetadata"], join(path, "videoMetadata"))
            return None
        raise Violation(
            join(path, "data"), "required oneof field 'data' must have one initialized field"
        )
    if "thought" in fields:
        as_bool(fields["thought"], join(path, "thought"))
    if "thoughtSignature" in fields:
        sig_path = join(path, "thoughtSignature")
        decode_base64(as_str(fields["thoughtSignature"], sig_path), sig_path)
    kind = present[0]
    clip = (
        _clip(fields["videoMetadata"], join(path, "videoMetadata"))
        if "videoMetadata" in fields
        else None
    )
    if clip is not None and kind not in ("inlineData", "fileData"):
        raise Violation(
            join(path, "videoMetadata"), "video_metadata is only supported for video parts"
        )
    if kind == "text":
        if fields.get("thought") is True:
            return None  # the model's own earlier thoughts are not context
        return Text(as_str(fields["text"], join(path, "text")))
    if kind == "inlineData":
        blob = _inline(fields["inlineData"], join(path, "inlineData"))
    elif kind == "fileData":
        blob = _file_data(fields["fileData"], join(path, "fileData"), backend, resolve)
    elif kind == "functionCall":
        return _function_call(fields["functionCall"], join(path, "functionCall"))
    elif kind == "functionResponse":
        where = join(path, "functionResponse")
        return _function_response(fields["functionResponse"], where, backend, resolve)
    else:  # code execution and server-side tool traffic: keep the text as context
        return Text(_flatten(fields[kind]))
    if clip is not None:
        if not blob.mime_type.startswith("video/"):
            raise Violation(
                join(path, "videoMetadata"), "video_metadata is only supported for video parts"
            )
        blob = Blob(blob.mime_type, blob.data, blob.source, clip)
    return blob


def _inline(value: object, path: str) -> Blob:
    fields = read_fields(value, path, ("mimeType", "data", "displayName"))
    if not fields.get("mimeType"):
        raise Violation(join(path, "mimeType"), "mime_type is required for inline data")
    mime = _canonical(as_str(fields["mimeType"], join(path, "mimeType")))
    data = decode_base64(as_str(fields.get("data", ""), join(path, "data")), join(path, "data"))
    if not data:
        raise Violation(join(path, "data"), "inline data must not be empty")
    return Blob(mime, data, "inline")


def _file_data(value: object, path: str, backend: Backend, resolve: FileResolver) -> Blob:
    fields = read_fields(value, path, ("mimeType", "fileUri", "displayName"))
    uri = as_str(fields.get("fileUri", ""), join(path, "fileUri")).strip()
    if not uri:
        raise Violation(join(path, "fileUri"), "file_uri is required")
    raw_mime = fields.get("mimeType")
    mime = as_str(raw_mime, join(path, "mimeType")) if raw_mime else None
    if backend == "gemini" and uri.startswith("gs://"):
        raise Violation(
            join(path, "fileUri"),
            f"Unsupported file uri: {uri}. gs:// URIs are supported only on Vertex AI; "
            "upload the file with the Files API",
        )
    blob = resolve(uri, mime, join(path, "fileUri"))
    return Blob(_canonical(blob.mime_type), blob.data, blob.source)


def _function_call(value: object, path: str) -> FunctionCall:
    fields = read_fields(value, path, ("name", "args", "id", "partialArgs", "willContinue"))
    name = as_str(fields.get("name", ""), join(path, "name"))
    if not name:
        raise Violation(join(path, "name"), "function_call.name must not be empty")
    args = fields.get("args", {})
    if not isinstance(args, dict):
        raise invalid_argument(f"Invalid value at '{join(path, 'args')}', expected a JSON object.")
    return FunctionCall(name, args)


def _function_response(
    value: object, path: str, backend: Backend, resolve: FileResolver
) -> FunctionResponse:
    names = ("name", "response", "id", "willContinue", "scheduling", "parts")
    fields = read_fields(value, path, names)
    name = as_str(fields.get("name", ""), join(path, "name"))
    if not name:
        raise Violation(join(path, "name"), "function_response.name must not be empty")
    response = fields.get("response", {})
    if not isinstance(response, dict):
        raise invalid_argument(
            f"Invalid value at '{join(path, 'response')}', expected a JSON object."
        )
    raw_parts = as_list(fields.get("parts", []), join(path, "parts"))
    media = tuple(
        _response_part(part, f"{join(path, 'parts')}[{i}]", backend, resolve)
        for i, part in enumerate(raw_parts)
    )
    return FunctionResponse(name, response, media)


def _response_part(value: object, path: str, backend: Backend, resolve: FileResolver) -> Blob:
    """A ``FunctionResponsePart``: inline bytes or a file, like a content part's media
    (google-genai's ``types.FunctionResponsePart``)."""
    names = ("inlineData", "fileData", "mediaResolution", "videoMetadata", "documentMetadata",
             "mediaProcessing")  # fmt: skip
    fields = read_fields(value, path, names)
    present = [name for name in ("inlineData", "fileData") if name in fields]
    if len(present) != 1:
        raise Violation(
            join(path, "data"), "required oneof field 'data' must have one initialized field"
        )
    if present[0] == "inlineData":
        blob = _inline(fields["inlineData"], join(path, "inlineData"))
    else:
        blob = _file_data(fields["fileData"], join(path, "fileData"), backend, resolve)
    if "videoMetadata" in fields:
        clip = _clip(fields["videoMetadata"], join(path, "videoMetadata"))
        if not blob.mime_type.startswith("video/"):
            raise Violation(
                join(path, "videoMetadata"), "video_metadata is only supported for video parts"
            )
        blob = Blob(blob.mime_type, blob.data, blob.source, clip)
    return blob


def _clip(value: object, path: str) -> Clip:
    fields = read_fields(value, path, ("startOffset", "endOffset", "fps"))
    start = (
        _duration(fields["startOffset"], join(path, "startOffset"))
        if "startOffset" in fields
        else None
    )
    end = _duration(fields["endOffset"], join(path, "endOffset")) if "endOffset" in fields else None
    fps: float | None = None
    if "fps" in fields:
        raw = fields["fps"]
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise invalid_argument(f"Invalid value at '{join(path, 'fps')}' (TYPE_DOUBLE), {raw!r}")
        fps = float(raw)
        if not 0 < fps <= _MAX_FPS:
            raise Violation(join(path, "fps"), f"fps must be in (0, {_MAX_FPS:g}], got {fps:g}")
    if start is not None and end is not None and end <= start:
        raise Violation(path, f"end_offset ({end:g}s) must be after start_offset ({start:g}s)")
    return Clip(start, end, fps)


def _duration(value: object, path: str) -> float:
    """A proto-JSON Duration: ``"12s"``, ``"1.5s"``."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        raise invalid_argument(
            f"Invalid value at '{path}' (type.googleapis.com/google.protobuf.Duration), {shown}"
        )
    seconds = float(match.group(1))
    if seconds < 0:
        raise Violation(path, "offsets must not be negative")
    return seconds


def _system(value: object, path: str) -> list[str]:
    fields = read_fields(value, path, ("parts", "role"))
    texts: list[str] = []
    for i, raw in enumerate(as_list(fields.get("parts", []), join(path, "parts"))):
        part_path = f"{join(path, 'parts')}[{i}]"
        part = read_fields(raw, part_path, _PART_FIELDS)
        if set(part) - {"text"}:
            raise Violation(part_path, "system_instruction parts must be text")
        texts.append(as_str(part.get("text", ""), join(part_path, "text")))
    return texts


def _config(value: object, path: str, model: GenerationModel, request: GenerateRequest) -> None:
    fields = read_fields(value, path, _CONFIG_FIELDS)
    if "maxOutputTokens" in fields:
        limit = as_int(fields["maxOutputTokens"], join(path, "maxOutputTokens"))
        if not 1 <= limit <= model.output_token_limit:
            raise invalid_argument(
                f"Unable to submit request because it has a maxOutputTokens value of {limit} but "
                f"the supported range is from 1 (inclusive) to {model.output_token_limit + 1} "
                "(exclusive). Update the value and try again."
            )
        request.max_output_tokens = limit
    stops = [
        as_str(s, f"{join(path, 'stopSequences')}[{i}]")
        for i, s in enumerate(as_list(fields.get("stopSequences", []), join(path, "stopSequences")))
    ]
    if len(stops) > _MAX_STOP_SEQUENCES:
        raise Violation(
            join(path, "stopSequences"), f"at most {_MAX_STOP_SEQUENCES} stop sequences are allowed"
        )
    request.stop_sequences = [s for s in stops if s]
    if "candidateCount" in fields:
        count = as_int(fields["candidateCount"], join(path, "candidateCount"))
        if not 1 <= count <= 8:
            raise Violation(join(path, "candidateCount"), "candidate_count must be in [1, 8]")
        request.candidate_count = count
    _check_range(fields, path, "temperature", 0.0, 2.0)
    if model.profile == "2.5" and ("presencePenalty" in fields or "frequencyPenalty" in fields):
        # As users report it from gemini-2.5-flash and its previews (PublicAffairs/
        # openai-gemini#63: "Penalty is not enabled for models/gemini-2.5-flash-preview-
        # 05-20", INVALID_ARGUMENT); gemini-2.0 took both (same issue).
        raise invalid_argument(f"Penalty is not enabled for models/{model.id}")
    _check_range(fields, path, "topP", 0.0, 1.0)
    if "topK" in fields and as_int(fields["topK"], join(path, "topK")) < 1:
        raise Violation(join(path, "topK"), "top_k must be positive")
    for i, m in enumerate(
        as_list(fields.get("responseModalities", []), join(path, "responseModalities"))
    ):
        as_enum(m, f"{join(path, 'responseModalities')}[{i}]", "Modality", _MODALITIES)
        if m in ("IMAGE", "AUDIO"):
            raise invalid_argument(
                f"Model does not support the requested response modalities: {m.lower()}"
            )
    _response_format(fields, path, request)
    if "thinkingConfig" in fields:
        _thinking(fields["thinkingConfig"], join(path, "thinkingConfig"), model, request)


def _check_range(fields: dict[str, Any], path: str, name: str, low: float, high: float) -> None:
    if name not in fields:
        return
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise invalid_argument(f"Invalid value at '{join(path, name)}' (TYPE_FLOAT), {value!r}")
    if not low <= value <= high:
        raise Violation(
            join(path, name), f"{join('', name)} must be in [{low:g}, {high:g}], got {value:g}"
        )


def _response_format(fields: dict[str, Any], path: str, request: GenerateRequest) -> None:
    mime = as_str(fields.get("responseMimeType", "text/plain"), join(path, "responseMimeType"))
    if mime not in _RESPONSE_MIME_TYPES:
        raise Violation(
            join(path, "responseMimeType"),
            "allowed mimetypes are `text/plain`, `application/json` and `text/x.enum`.",
        )
    request.response_mime_type = mime
    if "responseSchema" in fields and "responseJsonSchema" in fields:
        raise Violation(
            join(path, "responseSchema"),
            "response_schema and response_json_schema cannot both be set",
        )
    if "responseSchema" in fields:
        check_openapi_schema(fields["responseSchema"], join(path, "responseSchema"))
        request.response_schema, request.schema_dialect = fields["responseSchema"], "openapi"
    elif "responseJsonSchema" in fields:
        if not isinstance(fields["responseJsonSchema"], dict):
            raise Violation(
                join(path, "responseJsonSchema"), "response_json_schema must be a JSON object"
            )
        request.response_schema, request.schema_dialect = fields["responseJsonSchema"], "json"
    if request.response_schema is not None and mime == "text/plain":
        raise Violation(
            join(path, "responseMimeType"),
            "response_mime_type must be application/json or text/x.enum when a response "
            "schema is set",
        )


def _thinking(value: object, path: str, model: GenerationModel, request: GenerateRequest) -> None:
    fields = read_fields(value, path, ("includeThoughts", "thinkingBudget", "thinkingLevel"))
    if model.thinking == "never":
        raise invalid_argument(f"Thinking is not enabled for models/{model.id}")
    if "includeThoughts" in fields:
        request.include_thoughts = as_bool(fields["includeThoughts"], join(path, "includeThoughts"))
    if "thinkingLevel" in fields and "thinkingBudget" in fields and model.thinking_levels:
        # The service's words (sterlp/eclipse-peon-ai#115, gemini-flash-latest, 2026-08).
        raise invalid_argument("You can only set only one of thinking budget and thinking level.")
    if "thinkingLevel" in fields:
        if not model.thinking_levels:
            raise Violation(
                join(path, "thinkingLevel"),
                f"thinking_level is not supported by {model.id}; use thinking_budget",
            )
        request.thinking_level = as_enum(
            fields["thinkingLevel"], join(path, "thinkingLevel"), "ThinkingLevel",
            ("THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"),
        )  # fmt: skip
    if "thinkingBudget" in fields:
        budget = as_int(fields["thinkingBudget"], join(path, "thinkingBudget"))
        low, high = model.budget_range
        if budget == 0 and model.thinking == "always":
            raise invalid_argument("Budget 0 is invalid. This model only works in thinking mode.")
        if budget not in (0, -1) and not low <= budget <= high:
            raise invalid_argument(
                f"The thinking budget {budget} is invalid. Please choose a value between "
                f"{low} and {high}."
            )
        request.thinking_budget = budget


def _tool(value: object, path: str) -> list[FunctionDecl]:
    fields = read_fields(value, path, _TOOL_FIELDS)
    decls: list[FunctionDecl] = []
    raw = as_list(fields.get("functionDeclarations", []), join(path, "functionDeclarations"))
    for i, item in enumerate(raw):
        decl_path = f"{join(path, 'functionDeclarations')}[{i}]"
        names = ("name", "description", "parameters", "parametersJsonSchema", "response",
                 "responseJsonSchema", "behavior")  # fmt: skip
        decl = read_fields(item, decl_path, names)
        name = as_str(decl.get("name", ""), join(decl_path, "name"))
        if not _FUNCTION_NAME.match(name):
            raise Violation(
                join(decl_path, "name"),
                "Invalid function name. Must start with a letter or an underscore. Must be "
                "a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum "
                "length of 64.",
            )
        if "parameters" in decl and "parametersJsonSchema" in decl:
            raise Violation(decl_path, "parameters and parameters_json_schema cannot both be set")
        schema: dict[str, Any] | None = None
        dialect: Literal["openapi", "json"] = "openapi"
        if "parameters" in decl:
            check_openapi_schema(decl["parameters"], join(decl_path, "parameters"))
            schema = decl["parameters"]
        elif "parametersJsonSchema" in decl:
            schema, dialect = decl["parametersJsonSchema"], "json"
            if not isinstance(schema, dict):
                raise Violation(join(decl_path, "parametersJsonSchema"), "must be a JSON object")
        description = as_str(decl.get("description", ""), join(decl_path, "description"))
        decls.append(FunctionDecl(name, description, schema, dialect))
    return decls


def _tool_config(value: object, request: GenerateRequest) -> None:
    fields = read_fields(
        value,
        "tool_config",
        ("functionCallingConfig", "retrievalConfig", "includeServerSideToolInvocations"),
    )
    path = "tool_config.function_calling_config"
    config = read_fields(
        fields.get("functionCallingConfig", {}), path, ("mode", "allowedFunctionNames")
    )
    if "mode" in config:
        request.calling_mode = as_enum(
            config["mode"], join(path, "mode"), "FunctionCallingConfig.Mode", _CALLING_MODES
        )
    allowed = [
        as_str(n, f"{join(path, 'allowedFunctionNames')}[{i}]")
        for i, n in enumerate(
            as_list(config.get("allowedFunctionNames", []), join(path, "allowedFunctionNames"))
        )
    ]
    if allowed and request.calling_mode not in ("ANY", "VALIDATED"):
        raise Violation(
            join(path, "allowedFunctionNames"),
            "allowed_function_names should only be set when the Mode is ANY or VALIDATED.",
        )
    declared = {d.name for d in request.functions}
    for name in allowed:
        if name not in declared:
            raise Violation(
                join(path, "allowedFunctionNames"), f"function {name!r} is not declared in tools"
            )
    request.allowed_functions = allowed


def check_openapi_schema(value: object, path: str) -> None:
    """The ``Schema`` proto (OpenAPI subset): known fields, upper-case type enums, and
    ``required`` naming declared properties."""
    fields = read_fields(value, path, _SCHEMA_FIELDS)
    if "type" in fields:
        # Lower-case JSON-schema names ("object", "string", "null") are accepted as the enum
        # values: the service answered 200 to llm-gemini's requests that send them in
        # function ``parameters`` and in ``responseSchema`` (llm-gemini cassettes
        # test_tools.yaml, test_tools_with_nested_pydantic_models.yaml,
        # test_prompt_with_pydantic_schema.yaml, test_nested_model_optional.yaml, ...).
        kind = fields["type"]
        if not (isinstance(kind, str) and kind.upper() in _SCHEMA_TYPES):
            as_enum(kind, join(path, "type"), "Type", _SCHEMA_TYPES)
    properties = fields.get("properties", {})
    if not isinstance(properties, dict):
        raise invalid_argument(
            f"Invalid value at '{join(path, 'properties')}', expected a JSON object."
        )
    for name, sub in properties.items():
        check_openapi_schema(sub, f"{join(path, 'properties')}[{name!r}]")
    for i, name in enumerate(as_list(fields.get("required", []), join(path, "required"))):
        if as_str(name, f"{join(path, 'required')}[{i}]") not in properties:
            raise Violation(f"{join(path, 'required')}[{i}]", "property is not defined")
    if "items" in fields:
        check_openapi_schema(fields["items"], join(path, "items"))
    for i, sub in enumerate(as_list(fields.get("anyOf", []), join(path, "anyOf"))):
        check_openapi_schema(sub, f"{join(path, 'anyOf')}[{i}]")


#: "image/jpg" is not among them: the service answers it 400 "Unsupported MIME type:
#: image/jpg" (ogkalu2/comic-translate#399, 2026-01; CherryHQ/cherry-studio#3088).
_MIME_ALIASES = {"audio/mp3": "audio/mpeg", "audio/x-wav": "audio/wav",
                 "video/mov": "video/quicktime"}  # fmt: skip
_MEDIA_MIME = re.compile(
    r"^(image/(png|jpeg|webp|heic|heif)|video/(mp4|mpeg|quicktime|x-msvideo|x-flv|mpg|webm|"
    r"x-ms-wmv|3gpp)|audio/(wav|mpeg|aiff|aac|ogg|flac|mp4)|application/(pdf|json|rtf|"
    r"x-javascript|x-typescript|x-python-code)|text/[a-z0-9.+-]+)$"
)


def _canonical(mime_type: str) -> str:
    base = mime_type.split(";", 1)[0].strip().lower()
    base = _MIME_ALIASES.get(base, base)
    if not _MEDIA_MIME.match(base):
        # A plain message, no field path, as recorded by users (see `_MIME_ALIASES`).
        raise invalid_argument(f"Unsupported MIME type: {mime_type.split(';', 1)[0].strip()}")
    return base


def guess_mime(uri: str, declared: str | None) -> str | None:
    """The MIME type of a fileData part: the declared one, else from the URI's name."""
    return declared or guess_mime_from_name(uri.split("?", 1)[0])


def _flatten(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(_flatten(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_flatten(v) for v in value)
    return str(value)
