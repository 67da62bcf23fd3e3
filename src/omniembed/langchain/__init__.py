"""LangChain integration: multimodal `Embeddings`, document loaders and `ChatGemini`.

    from omniembed.langchain import GeminiEmbeddings, PDFPageLoader, VideoSegmentLoader

Needs the ``langchain`` extra: ``pip install 'omniembed[langchain]'``.
"""

from __future__ import annotations

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        "omniembed.langchain needs langchain-core; install it with: "
        "pip install 'omniembed[langchain]'"
    ) from exc

from typing import Any

from ..deprecated_names import renamed
from .chat import ChatGemini
from .embeddings import (
    RENAMED,
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from .loaders import (
    AudioSegmentLoader,
    PDFPageLoader,
    VideoSegmentLoader,
    add_documents_with_vectors,
)

__all__ = [
    "AudioSegmentLoader",
    "ChatGemini",
    "DashScopeMultiModalEmbeddings",
    "GeminiEmbeddings",
    "PDFPageLoader",
    "VertexMultiModalEmbeddings",
    "VideoSegmentLoader",
    "add_documents_with_vectors",
]


_old_name = renamed(__name__, RENAMED, globals().__getitem__)


def __getattr__(name: str) -> Any:
    return _old_name(name)
