"""Retry policy: exponential backoff with full jitter, honouring the server's delay hint.

Built on tenacity so the sync and async paths share one definition. Which errors are
retried is decided by the error itself (`ServiceError.retryable`): 408, 429, 500, 502,
503, 504, timeouts and connection errors.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import tenacity

from ..errors import QuotaExceededError, ServiceError

logger = logging.getLogger("omniembed.runtime")


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, ServiceError) and exc.retryable


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failed request.

    ``max_retries`` retries follow the first try; a 429 is a request to wait rather than
    a failure, so 429s have their own budget, ``max_quota_retries``. The wait before
    retry *n* is a random
    value in ``[0, min(max_delay, initial_delay * multiplier**n)]`` (full jitter, so many
    clients hitting one quota spread out), but never less than the server's own hint
    (``Retry-After`` or Google's ``retryDelay``), capped at ``max_server_delay``.
    """

    max_retries: int = 6
    max_quota_retries: int = 30
    initial_delay: float = 0.5
    max_delay: float = 20.0
    multiplier: float = 2.0
    max_server_delay: float = 120.0
    #: Told of every retry before its wait: the error, the attempt that failed (1-based)
    #: and the seconds until the next one (a CLI shows it; the log has it at INFO).
    on_retry: Callable[[BaseException, int, float], None] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    def delay(self, retry_number: int, exc: BaseException | None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1-based) after ``exc``."""
        cap = min(self.max_delay, self.initial_delay * self.multiplier ** (retry_number - 1))
        backoff = random.uniform(0, cap)
        hint = getattr(exc, "retry_after", None)
        if hint is not None:
            # A little jitter on top of the hint, so clients told "1s" don't return in step.
            return min(self.max_server_delay, float(hint)) + random.uniform(0, 0.1 * cap)
        return backoff

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.delay(state.attempt_number, exc)

    def _tenacity_kwargs(self) -> dict[str, object]:
        return {
            "stop": _Budget(self.max_retries, self.max_quota_retries),
            "retry": tenacity.retry_if_exception(is_retryable),
            "wait": self._wait,
            "reraise": True,
            "before_sleep": self._before_sleep,
        }

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        _log_retry(state)
        exc = state.outcome.exception() if state.outcome else None
        if self.on_retry is not None and exc is not None:
            wait = state.next_action.sleep if state.next_action else 0.0
            self.on_retry(exc, state.attempt_number, wait)

    def retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(**self._tenacity_kwargs())  # type: ignore[arg-type]

    def async_retrying(self) -> tenacity.AsyncRetrying:
        return tenacity.AsyncRetrying(**self._tenacity_kwargs())  # type: ignore[arg-type]


class _Budget:
    """tenacity's stop condition for one call: 429s and other failures counted apart.

    tenacity builds a fresh `Retrying` per call and asks `stop` once per retryable
    failure, so the counts here belong to one call.
    """

    def __init__(self, max_retries: int, max_quota_retries: int):
        self.max_retries = max_retries
        self.max_quota_retries = max_quota_retries
        self.quota_failures = 0
        self.other_failures = 0

    def __call__(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, QuotaExceededError):
            self.quota_failures += 1
        else:
            self.other_failures += 1
        return (
            self.other_failures > self.max_retries or self.quota_failures > self.max_quota_retries
        )


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.info(
        "retrying after %s (attempt %d failed; waiting %.2fs)",
        type(exc).__name__ if exc else "error",
        state.attempt_number,
        wait,
    )
