"""What an indexing run did (`IndexReport`), and the errors that stop one midway."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import (
    AuthenticationError,
    DailyQuotaExceededError,
    MissingCredentialsError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    ServiceConnectionError,
)

if TYPE_CHECKING:
    from .plan import IndexPlan

#: Errors every further request would repeat: the run stops instead of failing each file.
FATAL_ERRORS = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    MissingCredentialsError,
    ServiceConnectionError,
)


@dataclass(frozen=True)
class FileIssue:
    source: str
    reason: str


@dataclass
class IndexReport:
    """What one `index_folder` run did."""

    provider: str
    model: str
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[FileIssue] = field(default_factory=list)
    failed: list[FileIssue] = field(default_factory=list)
    #: Pieces (vectors) written by this run, and held by the store afterwards.
    pieces: int = 0
    total_pieces: int = 0
    #: HTTP requests sent to the embedding service (retries included), and cache hits.
    requests: int = 0
    cache_hits: int = 0
    #: The Gemini batch job that embedded this run's files (``batch_job=True``).
    batch_job: str | None = None
    #: Files a daily quota cut off midway: their embedded pieces are in the store.
    partial: list[FileIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every file was indexed, unchanged or skipped on purpose (none failed)."""
        return not self.failed and not self.partial

    def summary(self) -> str:
        """A short, deterministic account (no paths outside the indexed folder, no times)."""
        lines = [
            f"indexed {len(self.indexed)} files ({self.pieces} pieces), "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed",
            f"{self.requests} embedding requests, {self.cache_hits} cache hits; "
            f"{self.provider}:{self.model}, {self.total_pieces} pieces in the store",
        ]
        if self.batch_job:
            lines.append(f"embedded by batch job {self.batch_job}")
        lines += [f"  skipped {i.source}: {i.reason}" for i in self.skipped]
        lines += [f"  failed  {i.source}: {i.reason}" for i in self.failed]
        lines += [f"  partial {i.source}: {i.reason}" for i in self.partial]
        return "\n".join(lines)


class IndexStoppedError(OmniEmbedError):
    """`index_folder` stopped midway on an error every further request would repeat: the
    endpoint cannot be reached (after the first request's retries), the credentials are
    missing or rejected, or the model does not exist. ``cause`` is that error; ``report``
    says what the run did before (those files are in the store, every vector paid for is
    in the cache, so the same call resumes); ``endpoint`` is where requests went."""

    def __init__(self, cause: OmniEmbedError, report: IndexReport, endpoint: str):
        self.cause = cause
        self.report = report
        self.endpoint = endpoint
        super().__init__(self._explain())

    def _explain(self) -> str:
        text = explain(self.cause, self.endpoint, self.report.model) or str(self.cause)
        done = len(self.report.indexed)
        kept = f"; the {done} files indexed before the stop are kept" if done else ""
        return text + kept


def explain(cause: BaseException, endpoint: str, model: str) -> str | None:
    """One sentence for an error that stops a run — where, what was tried, the fix — or
    None when ``cause`` is not one of those."""
    if isinstance(cause, ServiceConnectionError):
        tries = f"; tried {cause.attempts} times" if cause.attempts > 1 else ""
        return f"cannot reach {endpoint} ({cause.message}{tries}): check base_url= and the network"
    if isinstance(cause, (AuthenticationError, PermissionDeniedError)):
        return (
            f"{endpoint} rejected the credentials ({cause}): pass a valid api_key= (or "
            "access_token= for Vertex AI)"
        )
    if isinstance(cause, NotFoundError):
        return f"{endpoint} does not know model {model} ({cause}): check model="
    return None


class IndexPausedError(DailyQuotaExceededError):
    """`index_folder` stopped at a daily quota. What got embedded is in the store (``report``
    says what this run did) and in the cache, so the same call after ``resets_at`` sends
    only the rest. ``indexed_pieces`` of the folder's ``total_pieces`` are in the store.
    """

    def __init__(self, cause: DailyQuotaExceededError, report: IndexReport, plan: IndexPlan):
        super().__init__(
            cause.message,
            resets_at=cause.resets_at,
            quota_id=cause.quota_id,
            limit=cause.limit,
            violations=cause.violations,
            status_code=cause.status_code,
            status=cause.status,
            provider=cause.provider,
        )
        self.report = report
        self.plan = plan
        self.indexed_pieces = plan.unchanged_pieces + report.pieces
        self.total_pieces = max(plan.total_pieces, self.indexed_pieces)

    def __str__(self) -> str:
        if self.limit is not None:
            quota = f"{self.limit:,.0f} requests"
        else:
            quota = self.quota_id or "its limit not stated"
        return (
            f"{self.indexed_pieces} of {self.total_pieces} pieces indexed; the daily quota "
            f"({quota}) resets at {self.resets_at.astimezone():%H:%M} local time; run the "
            "same command again then"
        )
