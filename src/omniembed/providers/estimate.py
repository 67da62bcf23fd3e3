"""What embedding some inputs will take, worked out locally: requests, estimated tokens,
the time the quota implies and the price, interactive and as a batch job. Nothing is sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..runtime.batching import WorkItem
from ..runtime.quota import QuotaLimits, minimum_seconds
from .quota_table import price


@dataclass(frozen=True)
class Estimate:
    """The cost of one `embed` call, before making it (see `Embedder.estimate`)."""

    #: Inputs in the call, and of them answered by the cache (no request needed).
    inputs: int
    cached: int
    #: HTTP requests, and requests as the quota counts them (each input on the Gemini API).
    requests: int
    quota_requests: int
    #: Estimated input tokens sent (see `omniembed.token_estimate`).
    tokens: int
    #: The least time the per-minute quotas allow for sending it all (0: within a minute's
    #: allowance; None: no per-minute quota known).
    seconds: float | None
    #: Daily quotas needed (1 when it fits today's ``requests_per_day``, or none is known).
    days: int
    #: US dollars at the published price, interactive and as a batch job (None: unknown).
    price_usd: float | None
    batch_price_usd: float | None
    limits: QuotaLimits
    price_source: str | None = None

    def describe(self) -> str:
        """A few lines for people: what, how long, how much."""
        lines = [
            f"{self.inputs} inputs ({self.cached} from the cache): {self.requests} requests "
            f"({self.quota_requests} as the quota counts them), about {self.tokens:,} tokens",
            f"quota: {self.limits.describe()}",
        ]
        if self.seconds is not None:
            lines.append(f"time the quota implies: at least {format_duration(self.seconds)}")
        if self.days > 1:
            lines.append(
                f"needs {self.days} days of the daily quota "
                f"({self.limits.requests_per_day:,.0f} requests per day)"
            )
        if self.price_usd is not None:
            batch = (
                f", ${self.batch_price_usd:.4f} as a batch job"
                if self.batch_price_usd is not None
                else ""
            )
            lines.append(f"estimated price: ${self.price_usd:.4f} interactive{batch}")
        return "\n".join(lines)


def estimate(
    *,
    service: str,
    model: str,
    inputs: int,
    batches: list[list[WorkItem]],
    cached: int,
    limits: QuotaLimits,
    window_sec: float = 60.0,
) -> Estimate:
    """Build an `Estimate` from the runner's plan (its batches, in order)."""
    per_call = [(len(b), sum(i.tokens for i in b)) for b in batches]
    tokens = sum(t for _, t in per_call)
    media_tokens = sum(i.media_tokens for b in batches for i in b)
    quota_requests = sum(n if limits.unit == "item" else 1 for n, _ in per_call)
    seconds = None
    if limits.requests_per_minute is not None or limits.tokens_per_minute is not None:
        seconds = minimum_seconds(per_call, limits, window_sec)
    days = 1
    if limits.requests_per_day is not None and quota_requests:
        days = max(1, math.ceil(quota_requests / limits.requests_per_day))
    row = price(service, model)
    cost = batch_cost = None
    if row is not None:
        text_tokens = tokens - media_tokens
        cost = (text_tokens * row.text + media_tokens * row.media) / 1e6
        if row.batch_text is not None and row.batch_media is not None:
            batch_cost = (text_tokens * row.batch_text + media_tokens * row.batch_media) / 1e6
    return Estimate(
        inputs=inputs,
        cached=cached,
        requests=len(batches),
        quota_requests=quota_requests,
        tokens=tokens,
        seconds=seconds,
        days=days,
        price_usd=cost,
        batch_price_usd=batch_cost,
        limits=limits,
        price_source=row.source if row is not None else None,
    )


def format_duration(seconds: float) -> str:
    """``"under a second"``, ``"42 s"``, ``"3 min 05 s"``, ``"2 h 07 min"``."""
    if seconds < 1:
        return "under a second"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
