"""Task conditioning for Google models.

gemini-embedding-001 and the Vertex text models take ``taskType`` (and ``title``, which
the service accepts only with RETRIEVAL_DOCUMENT). gemini-embedding-2 ignores
``taskType``: it reads the task from a prefix in the text itself.
"""

from __future__ import annotations

import re

from ..tasks import Task

_QUERY_PREFIX_TASK = {
    Task.RETRIEVAL_QUERY: "search result",
    Task.QUESTION_ANSWERING: "question answering",
    Task.FACT_VERIFICATION: "fact checking",
    Task.CODE_RETRIEVAL_QUERY: "code retrieval",
    Task.CLASSIFICATION: "classification",
    Task.CLUSTERING: "clustering",
    Task.SEMANTIC_SIMILARITY: "sentence similarity",
}

# Text that already carries a prefix is sent as the caller wrote it.
_ALREADY_PREFIXED = re.compile(r"^\s*(task:[^|]*\|\s*query:|title:[^|]*\|\s*text:)", re.I)


def prefix_text(text: str, task: Task, title: str | None) -> str:
    """The text as gemini-embedding-2 expects it for ``task``.

    Documents: ``title: {title or none} | text: {text}``; queries and symmetric tasks:
    ``task: {name} | query: {text}`` (symmetric tasks ignore the title).
    """
    if _ALREADY_PREFIXED.match(text):
        return text
    if task is Task.RETRIEVAL_DOCUMENT:
        return f"title: {title.strip() if title and title.strip() else 'none'} | text: {text}"
    return f"task: {_QUERY_PREFIX_TASK[task]} | query: {text}"


def title_for_task_type(task: Task, title: str | None) -> str | None:
    """The ``title`` field to send with ``taskType``: only for RETRIEVAL_DOCUMENT."""
    if task is Task.RETRIEVAL_DOCUMENT and title and title.strip():
        return title.strip()
    return None
