"""Embedding task types, named as Google names them; providers map them to their own form."""

from __future__ import annotations

from enum import Enum

from .errors import InvalidParameterError


class Task(str, Enum):
    """What an embedding will be used for.

    Retrieval is asymmetric: index documents with `RETRIEVAL_DOCUMENT` and embed the search
    text with `RETRIEVAL_QUERY` (or `QUESTION_ANSWERING`, `FACT_VERIFICATION`,
    `CODE_RETRIEVAL_QUERY` for those kinds of query). The other tasks are symmetric.
    """

    RETRIEVAL_DOCUMENT = "RETRIEVAL_DOCUMENT"
    RETRIEVAL_QUERY = "RETRIEVAL_QUERY"
    SEMANTIC_SIMILARITY = "SEMANTIC_SIMILARITY"
    CLASSIFICATION = "CLASSIFICATION"
    CLUSTERING = "CLUSTERING"
    QUESTION_ANSWERING = "QUESTION_ANSWERING"
    FACT_VERIFICATION = "FACT_VERIFICATION"
    CODE_RETRIEVAL_QUERY = "CODE_RETRIEVAL_QUERY"

    @property
    def is_query(self) -> bool:
        """True for the query side of an asymmetric (retrieval) task."""
        return self in _QUERY_TASKS

    @property
    def is_symmetric(self) -> bool:
        """True when documents and queries are embedded the same way."""
        return self in _SYMMETRIC_TASKS

    @classmethod
    def parse(cls, value: Task | str | None, default: Task | None = None) -> Task | None:
        """Accept a `Task`, its name in any case (``"retrieval_query"``), or None."""
        if value is None:
            return default
        if isinstance(value, Task):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(t.name for t in cls)
            raise InvalidParameterError(f"unknown task {value!r}; use one of {names}") from None


_QUERY_TASKS = frozenset(
    {
        Task.RETRIEVAL_QUERY,
        Task.QUESTION_ANSWERING,
        Task.FACT_VERIFICATION,
        Task.CODE_RETRIEVAL_QUERY,
    }
)
_SYMMETRIC_TASKS = frozenset({Task.SEMANTIC_SIMILARITY, Task.CLASSIFICATION, Task.CLUSTERING})
