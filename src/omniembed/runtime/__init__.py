"""Provider-agnostic execution: batching, concurrency, rate limiting, retries, caching."""

from .batching import WorkItem, plan_batches
from .cache import EmbeddingCache, MemoryCache, SQLiteCache, cache_key
from .quota import Permit, Quota, QuotaLimits
from .rate_limit import RateLimiter
from .retry import RetryPolicy
from .runner import ItemOutcome, Runner, RunStats

__all__ = [
    "EmbeddingCache",
    "ItemOutcome",
    "MemoryCache",
    "Permit",
    "Quota",
    "QuotaLimits",
    "RateLimiter",
    "RetryPolicy",
    "RunStats",
    "Runner",
    "SQLiteCache",
    "WorkItem",
    "cache_key",
    "plan_batches",
]
