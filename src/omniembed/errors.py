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
from collections.abc import Mapping, Sequence
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


class MissingDependencyError(OmniEmbedError, ImportError):
    """An optional dependency is needed for this feature; the message names the extra."""


class ConfigurationError(OmniEmbedError, ValueError):
    """The client is configured inconsistently (e.g. missing credentials)."""


class MissingCredentialsError(ConfigurationError):
    """No credentials were given and none were found in the environment."""


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


class QuotaExceededError(ServiceError):
    """Rate limit or quota exhausted (HTTP 429); retried with the service's delay."""

    retryable = True


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
