"""The embedding models the emulator knows, with the limits the real services enforce."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

#: The task types gemini-embedding-001 and the Vertex text models understand.
TASK_TYPES = (
    "RETRIEVAL_QUERY",
    "RETRIEVAL_DOCUMENT",
    "SEMANTIC_SIMILARITY",
    "CLASSIFICATION",
    "CLUSTERING",
    "QUESTION_ANSWERING",
    "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
)
#: The proto enum also has the "unset" value; the Gemini API accepts it.
TASK_TYPE_ENUM = ("TASK_TYPE_UNSPECIFIED", *TASK_TYPES)

MAX_BATCH_REQUESTS = 100
MAX_IMAGES_PER_CONTENT = 6
MAX_VIDEO_SECONDS = 120.0
#: gemini-embedding-2's audio limits. The Vertex AI model page lists "Maximum video length
#: (with audio): 80 seconds" and "(without audio): 120 seconds"
#: (https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/embedding-2).
#: Its line for audio alone is cut off in the copy found; 80 s for audio comes from
#: launch-day summaries (https://qdrant.tech/blog/qdrant-gemini-embedding-2, 2026-03-10:
#: "MP3/WAV audio (up to 80 seconds)"; https://smallest.ai/blog/google-s-multimodal-embedding-model-text-image-video-audio-pdf-in-one-vector-space:
#: "Audio (MP3/WAV up to 80s)") and from DESIGN.md. Sources disagree: weaviate/docs#399
#: (2026-04-23) and embeddings-benchmark/mteb#5220 (2026-08-16) speak of audio "up to 180
#: seconds" on the Gemini API after GA. The emulator keeps 80 s, the figure omniembed's
#: client checks (a client that passes here passes the service under either figure).
MAX_AUDIO_SECONDS = 80.0
MAX_VIDEO_WITH_SOUND_SECONDS = 80.0
MAX_PDF_PAGES = 6
#: The Gemini API rejects request bodies above this size (inline data included).
MAX_GEMINI_REQUEST_BYTES = 20 * 1024 * 1024

VertexAction = Literal["predict", "embedContent", "batchEmbedContents"]
#: How a model is conditioned on the task: the ``taskType`` field, or a text prefix
#: (``task: search result | query: ...``) that the client writes into the text itself.
TaskConditioning = Literal["task_type", "prefix"]


@dataclass(frozen=True)
class EmbeddingModel:
    """One model id and what it accepts."""

    id: str
    #: Vector space: aliases share one, so the same input gives the same vector.
    space: str
    dims: int
    max_tokens: int
    multimodal: bool
    conditioning: TaskConditioning
    on_gemini_api: bool
    vertex_actions: frozenset[VertexAction]
    #: Instances one Vertex ``:predict`` call may carry.
    max_predict_instances: int
    version: str
    display_name: str
    description: str

    @property
    def usage_metadata(self) -> bool:
        """gemini-embedding-2 reports token usage on the Gemini API; 001 does not."""
        return self.multimodal


_GEMINI_EMBEDDING_2 = EmbeddingModel(
    id="gemini-embedding-2",
    space="gemini-embedding-2",
    dims=3072,
    max_tokens=8192,
    multimodal=True,
    conditioning="prefix",
    on_gemini_api=True,
    vertex_actions=frozenset({"embedContent"}),
    max_predict_instances=0,
    version="2",
    display_name="Gemini Embedding 2",
    description=(
        "Multimodal embeddings for text, images, PDF, audio and video in one space "
        "(omniembed emulator stand-in)."
    ),
)

MODELS: dict[str, EmbeddingModel] = {
    "gemini-embedding-001": EmbeddingModel(
        id="gemini-embedding-001",
        space="gemini-embedding-001",
        dims=3072,
        max_tokens=2048,
        multimodal=False,
        conditioning="task_type",
        on_gemini_api=True,
        vertex_actions=frozenset({"predict", "embedContent", "batchEmbedContents"}),
        max_predict_instances=1,
        version="001",
        display_name="Gemini Embedding 001",
        description="Obtain a distributed representation of a text (omniembed emulator stand-in).",
    ),
    "gemini-embedding-2": _GEMINI_EMBEDDING_2,
    "gemini-embedding-2-preview": replace(_GEMINI_EMBEDDING_2, id="gemini-embedding-2-preview"),
    "text-embedding-005": EmbeddingModel(
        id="text-embedding-005",
        space="text-embedding-005",
        dims=768,
        max_tokens=2048,
        multimodal=False,
        conditioning="task_type",
        on_gemini_api=False,
        vertex_actions=frozenset({"predict"}),
        max_predict_instances=250,
        version="005",
        display_name="Text Embedding 005",
        description="Text embeddings on Vertex AI (omniembed emulator stand-in).",
    ),
    "multimodalembedding": EmbeddingModel(
        id="multimodalembedding",
        space="multimodalembedding",
        dims=1408,
        max_tokens=32,
        multimodal=False,  # not through Content parts: :predict instances carry its media
        conditioning="task_type",
        on_gemini_api=False,
        vertex_actions=frozenset({"predict"}),
        max_predict_instances=1,
        version="001",
        display_name="Multimodal Embedding 001",
        description=(
            "Text, image and video embeddings in one space on Vertex AI (omniembed emulator "
            "stand-in)."
        ),
    ),
}

#: What ``GET models/{m}`` lists as supported for every embedding model.
SUPPORTED_GENERATION_METHODS = (
    "embedContent",
    "countTokens",
    "countTextTokens",
    "asyncBatchEmbedContent",
)


def gemini_model(model_id: str) -> EmbeddingModel | None:
    """The model if the Gemini API serves it."""
    model = MODELS.get(model_id)
    return model if model is not None and model.on_gemini_api else None


def vertex_model(model_id: str) -> EmbeddingModel | None:
    """The model if Vertex AI serves it (``@version`` suffixes are accepted)."""
    model = MODELS.get(model_id.split("@", 1)[0])
    return model if model is not None and model.vertex_actions else None
