"""The error hierarchy: everything omniembed raises on purpose derives from `OmniEmbedError`.

Two families:

* `InputError` — detected locally, before any network call. The message names the input
  (its index and path/URI), the rule broken, the limit and the fix.
* `ServiceError` — the provider answered with an error (or did not answer). Subclasses say
  what kind; `retryable` and `retry_after` drive the runtime's retry policy.

`PartialFailureError` is raised when some items of a call failed for good: it carries the
results that did succeed, so nothing that was paid for is lost.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import EmbeddingResult


class OmniEmbedError(Exception):
    """Base class of every error omniembed raises on purpose."""


# --- local input errors ------------------------------------------------------------------


def _locate(index: int | None, source: str | None) -> str:
    if index is not None and source:
        return f"input {index} ({source}): "
    if index is not None:
        return f"input {index}: "
    return f"{source}: " if source else ""


class InputError(OmniEmbedError, ValueError):
    """An input was rejected locally, before any request was sent."""

    def __init__(self, message: str, *, index: int | None = None, source: str | None = None):
        self.index = index
        self.source = source
        self.detail = message
        super().__init__(_locate(index, source) + message)

    def at(self, index: int) -> InputError:
        """Return a copy of this error that names the input's position in the call."""
        clone = copy.copy(self)
        clone.index = index
        clone.args = (_locate(index, self.source) + self.detail,)
        return clone


class EmptyInputError(InputError):
    """An input (or the whole call) had nothing to embed."""


class MediaNotFoundError(InputError, FileNotFoundError):
    """A media file does not exist or cannot be read."""


class UnsupportedMediaError(InputError):
    """The media type is unknown, or the model does not accept it."""


class MediaLimitError(InputError):
    """A media item breaks a size/count/duration/page limit of the model."""


class InvalidParameterError(InputError):
    """A parameter (dimension, segment config, task, model option) is not allowed."""


class UnknownParameterError(InvalidParameterError, TypeError):
    """A keyword argument no parameter of the class takes (a `TypeError`, as Python's own
    is); the message names the nearest accepted one."""


class MissingDependencyError(OmniEmbedError, ImportError):
    """An optional dependency is needed for this feature; the message names the extra."""


class ConfigurationError(OmniEmbedError, ValueError):
    """The client is configured inconsistently (e.g. missing credentials)."""


class MissingCredentialsError(ConfigurationError):
    """No credentials were given and none were found in the environment."""


class CacheError(ConfigurationError):
    """The cache file cannot be used: it (or its folder) cannot be written, or it is not an
    SQLite cache (corrupt, truncated, another kind of file). Raised when the cache is
    opened or read, before anything is sent; the message names the file and the fix
    (delete or move it: only cached vectors are lost, and they are embedded again)."""

    def __init__(self, message: str, *, path: os.PathLike[str] | str | None = None):
        self.path = path
        super().__init__(message)


# --- service errors ----------------------------------------------------------------------


class ServiceError(OmniEmbedError):
    """The provider returned an error or could not be reached."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        status: str | None = None,
        provider: str | None = None,
        retry_after: float | None = None,
    ):
        self.status_code = status_code
        self.status = status
        self.provider = provider
        self.retry_after = retry_after
        self.message = message
        #: How many tries were made before giving up (set by the runtime).
        self.attempts = 1
        super().__init__(message)

    def __str__(self) -> str:
        head = " ".join(str(p) for p in (self.provider, self.status_code, self.status) if p)
        text = f"[{head}] {self.message}" if head else self.message
        if self.attempts > 1:
            text += f" (gave up after {self.attempts} attempts)"
        return text


class AuthenticationError(ServiceError):
    """The credentials were rejected (HTTP 401, or an invalid API key)."""


class PermissionDeniedError(ServiceError):
    """The credentials lack permission for this resource (HTTP 403)."""


class NotFoundError(ServiceError):
    """The model or resource does not exist (HTTP 404)."""


class InvalidArgumentError(ServiceError):
    """The service rejected the request as invalid (HTTP 400); its message says why."""


@dataclass(frozen=True)
class QuotaViolation:
    """One quota a 429 names (Google's ``google.rpc.QuotaFailure`` violation).

    ``period`` is ``"minute"``, ``"day"`` or None (unknown) and ``measure`` is
    ``"requests"`` or ``"tokens"``, read from the ``quotaId`` / ``quotaMetric`` names
    (e.g. ``EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier``); ``limit`` is
    the ``quotaValue`` the service enforces, when it says.
    """

    quota_id: str
    quota_metric: str = ""
    limit: float | None = None
    dimensions: Mapping[str, str] = field(default_factory=dict)

    @property
    def period(self) -> str | None:
        name = f"{self.quota_id} {self.quota_metric}".lower()
        if "perday" in name or "per_day" in name or "daily" in name:
            return "day"
        if "perminute" in name or "per_minute" in name:
            return "minute"
        return None

    @property
    def measure(self) -> str:
        name = f"{self.quota_id} {self.quota_metric}".lower()
        return "tokens" if "token" in name else "requests"

    def describe(self) -> str:
        limit = f" ({self.limit:,.0f} {self.measure} per {self.period or 'period'})"
        return self.quota_id + (limit if self.limit is not None else "")


class QuotaExceededError(ServiceError):
    """Rate limit or quota exhausted (HTTP 429); retried with the service's delay.

    ``violations`` lists the quotas the service named (Google's ``QuotaFailure``), which the
    runtime reads to learn per-minute limits and to recognise a daily cap."""

    retryable = True

    def __init__(
        self, message: str, *, violations: Sequence[QuotaViolation] = (), **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.violations = list(violations)


class DailyQuotaExceededError(QuotaExceededError):
    """A per-day quota is used up: no retry can succeed before ``resets_at``.

    Raised at the first 429 naming a daily quota (or before any request, when the
    configured ``requests_per_day`` is spent). ``quota_id`` and ``limit`` name the quota;
    ``embedded`` of ``total`` inputs got vectors (they are in ``results`` and, with a cache,
    stored, so the same call after the reset sends only the rest); ``resets_at`` is an aware
    `datetime`.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        resets_at: datetime,
        quota_id: str | None = None,
        limit: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.resets_at = resets_at
        self.quota_id = quota_id
        self.limit = limit
        #: Filled in by the embedder when the call ends: inputs embedded / in the call.
        self.embedded: int | None = None
        self.total: int | None = None
        self.results: list[EmbeddingResult] = []

    def __str__(self) -> str:
        text = super().__str__()
        if self.embedded is not None and self.total is not None:
            text += (
                f"; {self.embedded} of {self.total} inputs embedded (in .results, and in the "
                "cache when one is set: the same call after the reset sends only the rest)"
            )
        return text

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_daily,
            (self.message, self.resets_at, self.quota_id, self.limit, self.provider),
        )


def _rebuild_daily(
    message: str,
    resets_at: datetime,
    quota_id: str | None,
    limit: float | None,
    provider: str | None,
) -> DailyQuotaExceededError:
    return DailyQuotaExceededError(
        message,
        resets_at=resets_at,
        quota_id=quota_id,
        limit=limit,
        status_code=429,
        status="RESOURCE_EXHAUSTED",
        provider=provider,
    )


class ServerError(ServiceError):
    """The service failed (HTTP 5xx); 500/502/503/504 are retried."""

    retryable = True


class ServiceTimeoutError(ServiceError):
    """The request timed out (client timeout or HTTP 408); retried."""

    retryable = True


class ServiceConnectionError(ServiceError):
    """The connection failed or was reset; retried."""

    retryable = True


class BlockedContentError(OmniEmbedError):
    """The model refused: the prompt (``stage="prompt"``) or the response
    (``stage="response"``) was blocked, e.g. by a safety filter. Not retried: the same
    request would be blocked again. ``partial_text`` holds any text streamed before."""

    def __init__(
        self,
        message: str,
        *,
        stage: str,
        reason: str,
        safety_ratings: Sequence[Mapping[str, object]] = (),
        partial_text: str = "",
    ):
        self.stage = stage
        self.reason = reason
        self.safety_ratings = list(safety_ratings)
        self.partial_text = partial_text
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_blocked,
            (str(self), self.stage, self.reason, self.safety_ratings, self.partial_text),
        )


def _rebuild_blocked(
    message: str,
    stage: str,
    reason: str,
    safety_ratings: list[Mapping[str, object]],
    partial_text: str,
) -> BlockedContentError:
    return BlockedContentError(
        message,
        stage=stage,
        reason=reason,
        safety_ratings=safety_ratings,
        partial_text=partial_text,
    )


class BatchJobError(ServiceError):
    """A batch job has no results: it failed, was cancelled, expired, or is not done yet."""

    def __init__(
        self,
        message: str,
        *,
        job_name: str | None = None,
        state: str | None = None,
        status_code: int | None = None,
        status: str | None = None,
    ):
        super().__init__(message, status_code=status_code, status=status, provider="gemini")
        self.job_name = job_name
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.job_name, self.state))


class BatchJobTimeoutError(BatchJobError):
    """`GeminiBatchJob.wait` ran out of time; the job goes on at the service."""


def _rebuild(cls: type[BatchJobError], message: str, name: str, state: str) -> BatchJobError:
    return cls(message, job_name=name, state=state)


# --- partial results ---------------------------------------------------------------------


class PartialFailureError(OmniEmbedError):
    """Some items failed for good; `results` keeps every item, successful or not.

    `failures` maps input index → the error for that item. Successful vectors are also in
    the cache (when one is configured), so a retry re-sends only the failed items.
    """

    def __init__(self, results: Sequence[EmbeddingResult], failures: Mapping[int, Exception]):
        self.results = list(results)
        self.failures = dict(failures)
        total = len(self.results)
        ok = total - len(self.failures)
        shown = sorted(self.failures.items())[:5]
        lines = "; ".join(f"input {i}: {type(e).__name__}: {e}" for i, e in shown)
        more = f" (+{len(self.failures) - len(shown)} more)" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} of {total} inputs failed, {ok} succeeded "
            f"(their vectors are in .results). {lines}{more}"
        )

    def __reduce__(self) -> tuple[type, tuple[list[EmbeddingResult], dict[int, Exception]]]:
        return (type(self), (self.results, self.failures))
