"""A framework-neutral multimodal RAG pipeline: index a folder into a local vector store,
then ask questions answered by Gemini with citations to files, pages and timestamps.

    from omniembed.rag import index_folder, ask, format_answer

    report = index_folder("docs/", "store/", provider="gemini", tier="free")
    print(format_answer(ask("When was the lighthouse built?", "store/")))

`plan_folder` works out what `index_folder` would do (pieces, requests, tokens, the time
the quota implies, the price) without sending or writing anything; a daily quota running
out stops `index_folder` with `IndexPausedError` (the same call after the reset resumes).

Needs the ``cli`` extra (numpy for the store, and the media decoders). The `omniembed index` and
`omniembed ask` commands are thin wrappers around these functions. Names load lazily, so
the CLI's parser stays quick to import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .defaults import (
    DEFAULT_LLM_MODEL,
    DEFAULT_MODELS,
    DEFAULT_TOP_K,
    DEFAULT_VIDEO_INTERVAL_SEC,
    PROVIDERS,
)

if TYPE_CHECKING:
    from .answering import ask, search
    from .embedders import EmbedderSettings
    from .hits import Answer, Hit, format_answer, format_hit
    from .indexer import (
        FileIssue,
        IndexPausedError,
        IndexPlan,
        IndexReport,
        IndexStoppedError,
        index_folder,
        plan_folder,
    )
    from .pieces import Piece
    from .store import Store, StoreBusyError, StoreNotFoundError

_LAZY = {
    "ask": ".answering",
    "search": ".answering",
    "EmbedderSettings": ".embedders",
    "Answer": ".hits",
    "Hit": ".hits",
    "format_answer": ".hits",
    "format_hit": ".hits",
    "FileIssue": ".indexer",
    "IndexPausedError": ".indexer",
    "IndexPlan": ".indexer",
    "IndexReport": ".indexer",
    "IndexStoppedError": ".indexer",
    "index_folder": ".indexer",
    "plan_folder": ".indexer",
    "Piece": ".pieces",
    "Store": ".store",
    "StoreBusyError": ".store",
    "StoreNotFoundError": ".store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'omniembed.rag' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_LLM_MODEL",
    "DEFAULT_MODELS",
    "DEFAULT_TOP_K",
    "DEFAULT_VIDEO_INTERVAL_SEC",
    "PROVIDERS",
    "Answer",
    "EmbedderSettings",
    "FileIssue",
    "Hit",
    "IndexPausedError",
    "IndexPlan",
    "IndexReport",
    "IndexStoppedError",
    "Piece",
    "Store",
    "StoreBusyError",
    "StoreNotFoundError",
    "ask",
    "format_answer",
    "format_hit",
    "index_folder",
    "plan_folder",
    "search",
]
