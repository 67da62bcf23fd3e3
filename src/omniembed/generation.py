"""Chat messages, parts, settings and results for generation, independent of any framework.

The LlamaIndex and LangChain adapters convert their message types into these; the Gemini
LLM provider (`omniembed.providers.gemini_llm`) turns them into requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .media import Media

Role = Literal["user", "model"]


@dataclass(frozen=True)
class MediaPart:
    """A media input with optional video clipping (seconds) and sampling rate (frames/s)."""

    media: Media
    start_offset_sec: float | None = None
    end_offset_sec: float | None = None
    fps: float | None = None


@dataclass(frozen=True)
class FileRef:
    """A file the service can already read: a Files API URI, gs:// (Vertex AI) or a YouTube
    URL. Video clipping and fps work as for `MediaPart`."""

    uri: str
    mime_type: str | None = None
    start_offset_sec: float | None = None
    end_offset_sec: float | None = None
    fps: float | None = None


@dataclass(frozen=True)
class ToolCall:
    """The model asks for a function call."""

    name: str
    args: Mapping[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """What a called function returned (a mapping, or any value sent as ``{"result": v}``)."""

    name: str
    response: Any
    id: str | None = None


Part = str | Media | MediaPart | FileRef | ToolCall | ToolResult


@dataclass
class Message:
    """One turn: ``user`` (also carries tool results) or ``model``."""

    role: Role
    parts: list[Part]


@dataclass(frozen=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] | None = None


@dataclass
class GenerationConfig:
    """Sampling, limits, safety, tools and structured output for one request.

    ``safety_settings`` maps a harm category to a threshold, e.g.
    ``{"HARM_CATEGORY_HATE_SPEECH": "BLOCK_LOW_AND_ABOVE"}``. ``tool_choice`` is ``"auto"``,
    ``"any"`` (must call a tool), ``"none"`` or a tool name (must call that one).
    ``response_schema`` (a JSON Schema) asks for JSON output that conforms to it.
    """

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: Sequence[str] | None = None
    candidate_count: int | None = None
    seed: int | None = None
    safety_settings: Mapping[str, str] | None = None
    tools: Sequence[ToolSpec] = ()
    tool_choice: str | None = None
    response_mime_type: str | None = None
    response_schema: Mapping[str, Any] | None = None
    thinking_budget: int | None = None
    #: Extra ``GenerateContentConfig`` fields passed through unchanged.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def merged(self, **overrides: Any) -> GenerationConfig:
        """A copy with the non-None ``overrides`` applied."""
        values = {k: v for k, v in self.__dict__.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationConfig(**values)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    thoughts_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class Generation:
    """A whole response: text, tool calls, why it stopped, token usage and the raw JSON."""

    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage
    model_version: str | None = None
    response_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class GenerationChunk:
    """One streamed piece: new text and tool calls; the last one has ``finish_reason``.

    ``usage`` is the running total the service reports (the last chunk's is final).
    """

    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    usage: Usage | None
    model_version: str | None = None
    response_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
