"""What omniembed knows about each Google embedding model: dimensions, limits, conditioning."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Conditioning(str, Enum):
    """How a model is told the task."""

    TASK_TYPE = "task_type"  # the taskType/title request fields
    TEXT_PREFIX = "text_prefix"  # a prefix inside the text (gemini-embedding-2)


@dataclass(frozen=True)
class GeminiModelSpec:
    name: str
    default_dimension: int
    max_tokens: int
    conditioning: Conditioning
    multimodal: bool = False
    gemini_api: bool = True
    vertex: bool = True
    min_dimension: int = 1
    #: gemini-embedding-2 per-input limits (see DESIGN.md §3).
    max_images: int = 6
    image_mime_types: frozenset[str] = frozenset({"image/png", "image/jpeg"})
    max_video_seconds: float = 120.0
    #: Video with a sound track (the Vertex AI model page: "Maximum video length (with
    #: audio): 80 seconds").
    max_video_with_sound_seconds: float = 80.0
    #: Audio alone. Sources disagree: launch posts say 80 s, weaviate/docs#399 and
    #: embeddings-benchmark/mteb#5220 say up to 180 s after GA. 80 s is the default (the
    #: stricter); ``GeminiEmbedder(audio_limit_sec=...)`` overrides it. See
    #: omniembed/emulator/models.py for the sources.
    max_audio_seconds: float = 80.0
    video_mime_types: frozenset[str] = frozenset({"video/mp4", "video/quicktime"})
    max_pdf_pages: int = 6
    audio_mime_types: frozenset[str] = frozenset({"audio/mpeg", "audio/wav"})
    aliases: tuple[str, ...] = field(default=())


GEMINI_MODELS: dict[str, GeminiModelSpec] = {
    spec.name: spec
    for spec in (
        GeminiModelSpec(
            "gemini-embedding-001",
            default_dimension=3072,
            max_tokens=2048,
            conditioning=Conditioning.TASK_TYPE,
        ),
        GeminiModelSpec(
            "gemini-embedding-2",
            default_dimension=3072,
            max_tokens=8192,
            conditioning=Conditioning.TEXT_PREFIX,
            multimodal=True,
        ),
        # The preview took taskType like 001; the GA model reads the task from a text prefix.
        GeminiModelSpec(
            "gemini-embedding-2-preview",
            default_dimension=3072,
            max_tokens=8192,
            conditioning=Conditioning.TASK_TYPE,
            multimodal=True,
        ),
        GeminiModelSpec(
            "text-embedding-005",
            default_dimension=768,
            max_tokens=2048,
            conditioning=Conditioning.TASK_TYPE,
            gemini_api=False,
        ),
    )
}


def model_spec(model: str) -> GeminiModelSpec:
    """The spec for ``model`` (``models/`` prefixes and aliases allowed).

    An unknown name gets a conservative text-only spec, so a model released after this
    version still works; the service validates it.
    """
    name = model.rsplit("/", 1)[-1]
    for spec in GEMINI_MODELS.values():
        if name == spec.name or name in spec.aliases:
            return spec
    if name.startswith("gemini-embedding-2"):  # a dated or regional variant
        base = GEMINI_MODELS["gemini-embedding-2"]
        return GeminiModelSpec(**{**base.__dict__, "name": name, "aliases": ()})
    return GeminiModelSpec(
        name, default_dimension=0, max_tokens=0, conditioning=Conditioning.TASK_TYPE
    )
