"""The runner: turns work items into as few, well-paced requests as possible.

For one call it (1) answers what the cache already knows and embeds duplicates once,
(2) packs the rest into request-sized batches that also fit one minute of the quota,
(3) sends them with bounded concurrency, admitting every HTTP request through the `Quota`
(requests in the service's unit, estimated tokens, the day's count) and retrying transient
failures, (4) isolates an item the service rejects by splitting its batch, so the others
still get their vectors, and (5) stops early on errors no retry can fix (bad key, unknown
model, a spent daily quota). A 429 teaches the quota what the service enforces (limits it
names; a daily cap stops the call at once). Successful batches are written to the cache as
they finish, so an interrupted run keeps its work.

Both paths are native: `run` uses a thread pool (works inside a running event loop, e.g.
Jupyter), `arun` uses tasks on the caller's loop. The provider supplies `send`/`asend`,
which map one batch to one outcome per item.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from tqdm.auto import tqdm

from ..errors import (
    AuthenticationError,
    DailyQuotaExceededError,
    InputError,
    InvalidArgumentError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    QuotaExceededError,
    ServiceConnectionError,
    ServiceError,
)
from ..types import Embedding
from . import offload
from .batching import WorkItem, plan_batches, split
from .byte_budget import DEFAULT_MAX_INFLIGHT_BYTES, ByteBudget
from .cache import EmbeddingCache
from .quota import Permit, Quota, RequestTooLarge, Unit
from .rate_limit import RateLimiter
from .retry import RetryPolicy
from .throttle import Throttle

logger = logging.getLogger("omniembed.runtime")

#: What a provider returns for each item of a batch: its vectors, or its own error.
BatchOutcome: TypeAlias = "list[Embedding] | OmniEmbedError"
SendBatch: TypeAlias = Callable[[list[WorkItem]], Sequence[BatchOutcome]]
AsyncSendBatch: TypeAlias = Callable[[list[WorkItem]], Awaitable[Sequence[BatchOutcome]]]
#: Which positions of a batch of ``size`` items a service error names (empty: it does not
#: say; the batch is then halved to find the rejected items).
Locate: TypeAlias = Callable[[OmniEmbedError, int], Sequence[int]]

# Errors that no retry or split can fix: every further request would fail the same way. A
# connection error gets here only after its retries: the endpoint is down or wrong, and
# each other request would spend the same minute of retries to learn it.
_FATAL = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    DailyQuotaExceededError,
    ServiceConnectionError,
)


@dataclass
class ItemOutcome:
    """The result for one work item."""

    embeddings: list[Embedding] | None = None
    error: OmniEmbedError | None = None
    cached: bool = False


@dataclass
class RunStats:
    """What one call cost: requests sent (including retries), of them refused with a 429
    (``rejected``), cache hits, and the estimated input tokens sent."""

    requests: int = 0
    retries: int = 0
    cache_hits: int = 0
    batches: int = 0
    rejected: int = 0
    tokens: int = 0


class Runner:
    """Executes work items for one provider client; safe to share across threads/loops."""

    def __init__(
        self,
        *,
        max_batch_size: int,
        max_batch_weight: int | None = None,
        max_concurrency: int = 8,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        cache: EmbeddingCache | None = None,
        progress: bool = False,
        description: str = "embedding",
        max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_BYTES,
        quota: Quota | None = None,
        quota_unit: Unit = "call",
    ):
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.max_batch_size = max_batch_size
        self.max_batch_weight = max_batch_weight
        self.max_concurrency = max_concurrency
        self.rate_limiter = rate_limiter
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self.progress = progress
        self.description = description
        self.last_stats = RunStats()
        self.quota = quota if quota is not None else Quota()
        self.quota.adopt_unit(quota_unit)
        # With no quota known, start with one request in flight and double per success (TCP's
        # slow start): the first 429 then meets one request, not `max_concurrency` of them.
        self.throttle = Throttle(max_concurrency, slow_start=self.quota.limits.empty)
        self.byte_budget = ByteBudget(max_inflight_bytes)
        self._thread_slots = threading.BoundedSemaphore(max_concurrency)
        self._loop_slots: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()

    # --- sync ----------------------------------------------------------------------------

    def run(
        self,
        items: Sequence[WorkItem],
        send: SendBatch,
        *,
        progress: bool | None = None,
        locate: Locate | None = None,
    ) -> list[ItemOutcome]:
        """Send ``items`` through ``send``; one outcome per item, in order.

        ``locate`` names the items of a batch a service error points at (e.g. Google's
        ``requests[3]``), so a rejected batch costs one more request per bad item instead
        of a bisection."""
        job = _Job(self, items, progress, locate)
        try:
            if self.cache is not None:
                job.apply_cache_hits(self.cache.get_many(job.keys_to_look_up()))
            workers = job.start()
            if workers:
                pool = ThreadPoolExecutor(workers, thread_name_prefix="omniembed")
                try:
                    futures = [pool.submit(self._work, job, send) for _ in range(workers)]
                    for future in futures:
                        future.result()
                except BaseException:
                    # Ctrl-C (or any error) in the caller's thread: no further batch is
                    # taken, queued work is dropped, and the caller gets the exception NOW;
                    # requests already on the wire finish in their threads (their vectors
                    # still reach the cache) instead of being waited for here.
                    job.cancel()
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
                pool.shutdown(wait=True)
            return job.finish()
        except BaseException:
            job.cancel()
            raise
        finally:
            job.close()

    def plan(self, items: Sequence[WorkItem]) -> tuple[list[list[WorkItem]], int]:
        """The batches `run` would send for ``items`` (after the cache and duplicates), and
        how many items the cache answers; sends nothing."""
        job = _Job(self, items, False)
        try:
            if self.cache is not None:
                job.apply_cache_hits(self.cache.get_many(job.keys_to_look_up()))
            return job.plan(), job.stats.cache_hits
        finally:
            job.close()

    def _work(self, job: _Job, send: SendBatch) -> None:
        """One worker: take the next batch (packed to the limits known now) until none."""
        while (batch := job.next_batch()) is not None:
            with self._thread_slots, self.byte_budget.hold(_weight(batch)):
                self._process_sync(job, batch, send)

    def _process_sync(self, job: _Job, batch: list[WorkItem], send: SendBatch) -> None:
        todo = [batch]
        while todo:
            batch = todo.pop()
            try:
                outcomes = self._send_sync(job, batch, send)
            except OmniEmbedError as exc:
                todo.extend(reversed(job.after_error(batch, exc)))
                continue
            entries = job.complete(batch, outcomes)
            if entries and self.cache is not None:
                job.store(self.cache, entries)

    def _send_sync(self, job: _Job, batch: list[WorkItem], send: SendBatch) -> Sequence[Any]:
        attempts = 0
        try:
            for attempt in self.retry.retrying():
                with attempt:
                    job.raise_if_aborted()
                    self._check_fits(batch)
                    attempts += 1
                    self.throttle.enter(self._still_good(job, batch))
                    permit = None
                    try:
                        permit = self.quota.acquire(
                            len(batch), _tokens(batch), self._still_good(job, batch)
                        )
                        if self.rate_limiter is not None:
                            self.rate_limiter.acquire()
                        job.count_request(attempts, permit)
                        outcomes = send(batch)
                    except BaseException as exc:
                        self._after_failure(job, exc, permit)
                        raise
                    self.quota.release(permit)
                    self.throttle.leave()
                    return outcomes
        except ServiceError as exc:
            exc.attempts = attempts
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    # --- async ---------------------------------------------------------------------------

    async def arun(
        self,
        items: Sequence[WorkItem],
        asend: AsyncSendBatch,
        *,
        progress: bool | None = None,
        locate: Locate | None = None,
    ) -> list[ItemOutcome]:
        job = _Job(self, items, progress, locate)
        try:
            if self.cache is not None:
                hits = await asyncio.to_thread(self.cache.get_many, job.keys_to_look_up())
                job.apply_cache_hits(hits)
            slots = self._slots_for_running_loop()

            async def work() -> None:
                while (batch := job.next_batch()) is not None:
                    async with slots, self.byte_budget.ahold(_weight(batch)):
                        await self._arun_batch(job, batch, asend)

            await asyncio.gather(*(work() for _ in range(job.start())))
            return job.finish()
        except BaseException:
            job.cancel()
            raise
        finally:
            job.close()

    async def _arun_batch(self, job: _Job, batch: list[WorkItem], asend: AsyncSendBatch) -> None:
        todo = [batch]
        while todo:
            batch = todo.pop()
            try:
                outcomes = await self._send_async(job, batch, asend)
            except OmniEmbedError as exc:
                todo.extend(reversed(job.after_error(batch, exc)))
                continue
            entries = job.complete(batch, outcomes)
            if entries and self.cache is not None:
                await asyncio.to_thread(job.store, self.cache, entries)

    async def _send_async(
        self, job: _Job, batch: list[WorkItem], asend: AsyncSendBatch
    ) -> Sequence[Any]:
        attempts = 0
        try:
            async for attempt in self.retry.async_retrying():
                with attempt:
                    job.raise_if_aborted()
                    self._check_fits(batch)
                    attempts += 1
                    await self.throttle.aenter(self._still_good(job, batch))
                    permit = None
                    try:
                        permit = await self.quota.aacquire(
                            len(batch), _tokens(batch), self._still_good(job, batch)
                        )
                        if self.rate_limiter is not None:
                            await self.rate_limiter.aacquire()
                        job.count_request(attempts, permit)
                        await offload.take_turn()
                        outcomes = await asend(batch)
                        await offload.take_turn()
                    except BaseException as exc:
                        self._after_failure(job, exc, permit)
                        raise
                    self.quota.release(permit)
                    self.throttle.leave()
                    return outcomes
        except ServiceError as exc:
            exc.attempts = attempts
            raise
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _still_good(self, job: _Job, batch: list[WorkItem]) -> Callable[[], None]:
        """What a waiting request checks between naps: the call was not stopped, and the
        batch still fits the quota (else it goes back to be re-packed at once, before the
        others waiting take what is left in pieces)."""

        def check() -> None:
            job.raise_if_aborted()
            self._check_fits(batch)

        return check

    def _check_fits(self, batch: list[WorkItem]) -> None:
        if len(batch) > 1 and not self.quota.fits(len(batch), _tokens(batch)):
            raise RequestTooLarge("the batch is larger than one minute of the quota")

    def _after_failure(self, job: _Job, exc: BaseException, permit: Permit | None) -> None:
        """Release what the failed request held; learn from a 429 (a daily cap aborts)."""
        if permit is None:  # refused locally (e.g. the day's quota is spent): nothing sent
            self.throttle.leave()
            if isinstance(exc, DailyQuotaExceededError):
                job.abort(exc)
            return
        if not isinstance(exc, QuotaExceededError):
            self.quota.release(permit)
            self.throttle.leave()
            return
        self.quota.release(permit, admitted=False)
        job.count_rejected()
        before = self.quota.limits
        daily = self.quota.learn(exc)
        if daily is not None:
            # No cooldown: the call stops here, and its "retry in 45s" hint means nothing.
            self.throttle.leave()
            job.abort(daily)
            raise daily from exc
        # A 429 that names the per-minute limit it enforces: the quota paces to it now, so
        # its short hint is not a spacing to keep (a 429 without one still teaches one).
        named = any(v.period == "minute" and v.limit for v in exc.violations)
        if self.quota.limits != before:
            # A limit was just learnt: the batch is re-packed to fit it and the quota's
            # window decides when it may go. The hint was the wait for the refused call
            # (which may never have fitted); it is no reason to idle now.
            exc.retry_after = None
            self.throttle.leave(throttled=True, retry_after=0.0, pace=False)
            return
        self.throttle.leave(throttled=True, retry_after=exc.retry_after, pace=not named)

    def _slots_for_running_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        slots = self._loop_slots.get(loop)
        if slots is None:
            slots = self._loop_slots[loop] = asyncio.Semaphore(self.max_concurrency)
        return slots


def _weight(batch: Sequence[WorkItem]) -> int:
    return sum(item.weight for item in batch)


def _tokens(batch: Sequence[WorkItem]) -> int:
    return sum(item.tokens for item in batch)


def _unchanged(item: WorkItem) -> bool:
    """Whether the input is still what its cache key was computed from (else the vector,
    made from what was read later, must not be stored under the old content's key)."""
    if item.unchanged is None:
        return True
    try:
        same = item.unchanged()
    except Exception:
        same = False
    if not same:
        logger.warning(
            "input %d changed while it was being embedded; its vector is returned but not "
            "cached (its key names the content read when the call began)",
            item.index,
        )
    return same


def _splittable(exc: OmniEmbedError, batch: Sequence[WorkItem]) -> bool:
    """A rejection that may be caused by one item: halve the batch to find it."""
    return len(batch) > 1 and isinstance(exc, (InvalidArgumentError, InputError))


@dataclass
class _Job:
    """The bookkeeping of one `run`/`arun` call (thread-safe)."""

    runner: Runner
    items: Sequence[WorkItem]
    show_progress: bool | None
    locate: Locate | None = None
    outcomes: dict[int, ItemOutcome] = field(default_factory=dict)  # by id(item)
    stats: RunStats = field(default_factory=RunStats)
    abort_error: OmniEmbedError | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._store_warned = False
        self._primary: list[WorkItem] = []
        self._pending: list[WorkItem] = []
        self._position: dict[int, int] = {}
        by_key: dict[str, WorkItem] = {}
        for item in self.items:
            item.duplicates = []
            first = by_key.get(item.cache_key) if item.cache_key else None
            if first is None:
                if item.cache_key:
                    by_key[item.cache_key] = item
                self._primary.append(item)
            else:
                first.duplicates.append(item)
        enabled = self.runner.progress if self.show_progress is None else self.show_progress
        self._bar = tqdm(
            total=len(self.items),
            desc=self.runner.description,
            unit="item",
            disable=not enabled,
            leave=False,
        )

    def keys_to_look_up(self) -> list[str]:
        return [i.cache_key for i in self._primary if i.cache_key]

    def apply_cache_hits(self, hits: dict[str, list[Embedding]]) -> None:
        remaining = []
        for item in self._primary:
            found = hits.get(item.cache_key) if item.cache_key else None
            if found is None:
                remaining.append(item)
                continue
            for member in (item, *item.duplicates):
                self.outcomes[id(member)] = ItemOutcome(found, cached=True)
            self.stats.cache_hits += 1 + len(item.duplicates)
            self._bar.update(1 + len(item.duplicates))
        self._primary = remaining

    def _caps(self) -> tuple[int, int | None]:
        # A batch never holds more than one minute of the quota: it could not be admitted.
        quota_items, quota_tokens = self.runner.quota.batch_caps()
        max_items = self.runner.max_batch_size
        if quota_items is not None:
            max_items = min(max_items, quota_items)
        return max_items, quota_tokens

    def plan(self) -> list[list[WorkItem]]:
        """All batches at once, packed to the limits known now (for estimates)."""
        max_items, max_tokens = self._caps()
        batches = plan_batches(self._primary, max_items, self.runner.max_batch_weight, max_tokens)
        self.stats.batches = len(batches)
        return batches

    def start(self) -> int:
        """Queue the items left after the cache; return how many workers to run."""
        self._pending = list(self._primary)
        self._position = {id(item): n for n, item in enumerate(self._pending)}
        return min(self.runner.max_concurrency, len(self._pending))

    def next_batch(self) -> list[WorkItem] | None:
        """The next batch in input order: the first waiting item and the next ones of its
        group, up to the limits known NOW (so what a 429 taught applies at once). None once
        the call is stopped: what waits is never sent."""
        with self._lock:
            if not self._pending or self.abort_error is not None:
                return None
            max_items, max_tokens = self._caps()
            max_weight = self.runner.max_batch_weight
            first = self._pending[0]
            batch, weight, tokens = [first], first.weight, first.tokens
            taken = {0}
            for position in range(1, len(self._pending)):
                item = self._pending[position]
                if item.group != first.group:
                    continue
                if (
                    len(batch) >= max_items
                    or (max_weight is not None and weight + item.weight > max_weight)
                    or (max_tokens is not None and tokens + item.tokens > max_tokens)
                ):
                    break
                batch.append(item)
                taken.add(position)
                weight += item.weight
                tokens += item.tokens
            if max(taken) == len(taken) - 1:  # a prefix (one group): no O(n) Python pass
                del self._pending[: len(taken)]
            else:
                self._pending = [i for n, i in enumerate(self._pending) if n not in taken]
            self.stats.batches += 1
            return batch

    def after_error(self, batch: list[WorkItem], exc: OmniEmbedError) -> list[list[WorkItem]]:
        """Record what a failed batch's error settles; return the batches to send next.

        A 400 on a batch of several is one bad item's (or a few's) doing. When the error
        names them (Google: ``requests[3]``, DashScope: ``contents[3]``), they fail with it
        and the rest goes again as one batch: one request per bad item, where halving to
        single items costs about two per item. An error that names nothing halves the batch.
        """
        if isinstance(exc, RequestTooLarge) and len(batch) > 1:
            self.give_back(batch)  # re-packed to the limits just learnt
            return []
        if not _splittable(exc, batch):
            self.fail(batch, exc)
            return []
        named = self._named(exc, len(batch))
        if named:
            self.fail([batch[n] for n in sorted(named)], exc)
            rest = [item for n, item in enumerate(batch) if n not in named]
            return [rest] if rest else []
        return list(split(batch))

    def _named(self, exc: OmniEmbedError, size: int) -> set[int]:
        if self.locate is None:
            return set()
        try:
            positions = set(self.locate(exc, size))
        except Exception:  # a locator bug must not lose the batch: halve instead
            logger.debug("locating the rejected items failed", exc_info=True)
            return set()
        if not positions or not all(0 <= n < size for n in positions):
            return set()  # not this batch's positions: do not trust it
        return positions

    def store(self, cache: EmbeddingCache, entries: dict[str, list[Embedding]]) -> None:
        """Write finished vectors to the cache; a failed write keeps the results (the
        vectors were paid for) and warns once per call."""
        try:
            cache.put_many(entries)
        except Exception as exc:
            with self._lock:
                warned, self._store_warned = self._store_warned, True
            if not warned:
                logger.warning(
                    "could not write to the cache %r (%s); the results are kept, but new "
                    "vectors are not stored",
                    cache,
                    exc,
                )

    def give_back(self, batch: list[WorkItem]) -> None:
        """Put a batch's items back in the queue, in input order, to be packed again.

        Workers take batches before their request may go, so when a 429 teaches a smaller
        limit several hold batches packed too large; each gives its batch back when its
        turn comes. In input order the returns merge with what is waiting, and the next
        batches come out full rather than as remnants."""
        with self._lock:
            position = self._position
            self._pending = sorted([*batch, *self._pending], key=lambda i: position[id(i)])
            self.stats.batches -= 1

    def count_request(self, attempt: int, permit: Permit) -> None:
        with self._lock:
            self.stats.requests += 1
            self.stats.tokens += permit.tokens
            if attempt > 1:
                self.stats.retries += 1

    def count_rejected(self) -> None:
        with self._lock:
            self.stats.rejected += 1

    def abort(self, error: OmniEmbedError) -> None:
        """No further request of this call is sent; the rest fail with ``error``."""
        with self._lock:
            if self.abort_error is None:
                # INFO: the caller gets the error itself; a CLI prints its own line.
                logger.info("stopping: %s", error)
                self.abort_error = error

    def raise_if_aborted(self) -> None:
        if self.abort_error is not None:
            raise self.abort_error

    def complete(
        self, batch: list[WorkItem], outcomes: Sequence[BatchOutcome]
    ) -> dict[str, list[Embedding]]:
        """Record a batch's outcomes; return the cache entries to write."""
        if len(outcomes) != len(batch):
            error = OmniEmbedError(
                f"the service returned {len(outcomes)} results for {len(batch)} inputs"
            )
            self.fail(batch, error)
            return {}
        entries: dict[str, list[Embedding]] = {}
        with self._lock:
            for item, outcome in zip(batch, outcomes, strict=True):
                members = (item, *item.duplicates)
                if isinstance(outcome, OmniEmbedError):
                    result = ItemOutcome(error=outcome)
                else:
                    result = ItemOutcome(outcome)
                    if item.cache_key and _unchanged(item):
                        entries[item.cache_key] = outcome
                for member in members:
                    self.outcomes[id(member)] = result
                self._bar.update(len(members))
        return entries

    def fail(self, batch: Sequence[WorkItem], error: OmniEmbedError) -> None:
        with self._lock:
            if isinstance(error, _FATAL) and self.abort_error is None:
                # INFO, as in `abort`: the caller gets the error itself.
                logger.info("stopping: %s", error)
                self.abort_error = error

            for item in batch:
                for member in (item, *item.duplicates):
                    self.outcomes[id(member)] = ItemOutcome(error=error)
                self._bar.update(1 + len(item.duplicates))

    def cancel(self) -> None:
        if self.abort_error is None:
            self.abort_error = OmniEmbedError("the call was cancelled")

    def finish(self) -> list[ItemOutcome]:
        self.runner.last_stats = self.stats
        # Items never taken because the call stopped get the reason it stopped.
        missing = self.abort_error or OmniEmbedError("internal error: no outcome recorded")
        return [self.outcomes.get(id(item), ItemOutcome(error=missing)) for item in self.items]

    def close(self) -> None:
        self._bar.close()
