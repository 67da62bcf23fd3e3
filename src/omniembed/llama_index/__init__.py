"""LlamaIndex adapters: multimodal embeddings and media readers over omniembed's providers.

    from omniembed.llama_index import GeminiMultiModalEmbedding
    Settings.embed_model = GeminiMultiModalEmbedding()

Needs the ``llama-index`` extra: ``pip install 'omniembed[llama-index]'``.
"""

from __future__ import annotations

from ..errors import MissingDependencyError

try:
    import llama_index.core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependencyError(
        "omniembed.llama_index needs LlamaIndex (llama-index-core); install it with "
        "pip install 'omniembed[llama-index]'"
    ) from exc

from .embeddings import (
    DashScopeMultiModalEmbedding,
    GeminiMultiModalEmbedding,
    OmniMultiModalEmbedding,
    VertexMultiModalEmbedding,
)
from .llm import GeminiMultiModalLLM, VideoClipBlock
from .readers import AudioSegmentReader, PDFPageReader, VideoSegmentReader

__all__ = [
    "AudioSegmentReader",
    "DashScopeMultiModalEmbedding",
    "GeminiMultiModalEmbedding",
    "GeminiMultiModalLLM",
    "OmniMultiModalEmbedding",
    "PDFPageReader",
    "VertexMultiModalEmbedding",
    "VideoClipBlock",
    "VideoSegmentReader",
]
