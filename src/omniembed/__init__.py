"""omniembed: multimodal embeddings for LlamaIndex and LangChain RAG pipelines.

Core names are importable from here; provider classes load their SDKs lazily, so
``import omniembed`` stays light and never imports LlamaIndex or LangChain.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .deprecated_names import renamed
from .errors import (
    AuthenticationError,
    BatchJobError,
    BatchJobTimeoutError,
    BlockedContentError,
    CacheError,
    ConfigurationError,
    DailyQuotaExceededError,
    EmptyInputError,
    InputError,
    InvalidArgumentError,
    InvalidParameterError,
    MediaLimitError,
    MediaNotFoundError,
    MissingCredentialsError,
    MissingDependencyError,
    NotFoundError,
    OmniEmbedError,
    PartialFailureError,
    PermissionDeniedError,
    QuotaExceededError,
    QuotaViolation,
    ServerError,
    ServiceConnectionError,
    ServiceError,
    ServiceTimeoutError,
    UnknownParameterError,
    UnsupportedMediaError,
)
from .media import Media, Modality
from .tasks import Task
from .types import AudioSegmentConfig, Embedding, EmbeddingResult, VideoSegmentConfig

if TYPE_CHECKING:
    from .providers.gemini import GeminiEmbedder
    from .providers.vertex_multimodal import VertexMultiModalEmbedder
    from .runtime.cache import EmbeddingCache, MemoryCache, SQLiteCache
    from .runtime.quota import Quota, QuotaLimits
    from .runtime.rate_limit import RateLimiter
    from .runtime.retry import RetryPolicy

__version__ = "0.1.0"

_LAZY = {
    "DashScopeEmbedder": ".providers.dashscope",
    "GeminiEmbedder": ".providers.gemini",
    "VertexMultiModalEmbedder": ".providers.vertex_multimodal",
    "EmbeddingCache": ".runtime.cache",
    "MemoryCache": ".runtime.cache",
    "SQLiteCache": ".runtime.cache",
    "Quota": ".runtime.quota",
    "QuotaLimits": ".runtime.quota",
    "RateLimiter": ".runtime.rate_limit",
    "RetryPolicy": ".runtime.retry",
}


#: Names of earlier releases (see `omniembed.deprecated_names`).
_old_name = renamed(
    __name__,
    {"VertexMultimodalEmbedder": "VertexMultiModalEmbedder"},
    lambda new: __getattr__(new),
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        return _old_name(name)
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AudioSegmentConfig",
    "AuthenticationError",
    "BatchJobError",
    "BatchJobTimeoutError",
    "BlockedContentError",
    "CacheError",
    "ConfigurationError",
    "DailyQuotaExceededError",
    "DashScopeEmbedder",
    "Embedding",
    "EmbeddingCache",
    "EmbeddingResult",
    "EmptyInputError",
    "GeminiEmbedder",
    "InputError",
    "InvalidArgumentError",
    "InvalidParameterError",
    "Media",
    "MediaLimitError",
    "MediaNotFoundError",
    "MemoryCache",
    "MissingCredentialsError",
    "MissingDependencyError",
    "Modality",
    "NotFoundError",
    "OmniEmbedError",
    "PartialFailureError",
    "PermissionDeniedError",
    "Quota",
    "QuotaExceededError",
    "QuotaLimits",
    "QuotaViolation",
    "RateLimiter",
    "RetryPolicy",
    "SQLiteCache",
    "ServerError",
    "ServiceConnectionError",
    "ServiceError",
    "ServiceTimeoutError",
    "Task",
    "UnknownParameterError",
    "UnsupportedMediaError",
    "VertexMultiModalEmbedder",
    "VideoSegmentConfig",
    "__version__",
]
