"""The quota an `index`/`ask` run works under, and what it tells people about it.

The figures come from the provider's published table (`omniembed.providers.quota_table`)
for the chosen tier (default: the provider's own default tier), with explicit numbers
winning; ``0`` drops a figure (e.g. Vertex AI's default 120 requests/min). `NoticeQuota`
says so when a request waits long for the quota, so a long wait is never silent.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..errors import ConfigurationError, InvalidParameterError
from ..providers.estimate import format_duration as duration
from ..providers.quota_table import TIERS, default_tier, quota_limits
from ..runtime.quota import Permit, Quota, QuotaLimits

#: Each rag provider's quota service (its rules and table rows). The Gemini API provider
#: is always the Gemini API; "vertex" covers multimodalembedding@001 and Gemini on Vertex.
SERVICES = {"gemini": "gemini-api", "vertex": "vertex", "dashscope": "dashscope"}
#: The quota figures, by the name `index_folder` and the provider classes use.
FIGURES = ("requests_per_minute", "tokens_per_minute", "requests_per_day")


class QuotaSettingError(InvalidParameterError):
    """A quota setting (``setting``: ``tier`` or one of `FIGURES`) cannot be used."""

    def __init__(self, message: str, *, setting: str):
        super().__init__(message)
        self.setting = setting


def resolve_limits(
    provider: str,
    model: str,
    *,
    tier: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
) -> QuotaLimits:
    """The limits for ``model``: ``tier``'s published figures (default: the provider's
    default tier — Vertex AI's published quota; none on the Gemini API and DashScope, where
    the limits are then learnt from the service's 429s), then each given figure replacing
    the tier's (``0``: no such limit).

    Raises `QuotaSettingError` naming the setting when a value cannot be used."""
    if tier is not None and tier not in TIERS:
        raise QuotaSettingError(
            f"unknown tier {tier!r}; use one of {', '.join(TIERS)}", setting="tier"
        )
    service = SERVICES[provider]
    try:
        limits = quota_limits(service, model, tier or default_tier(service, model))
    except ConfigurationError as exc:
        raise QuotaSettingError(str(exc), setting="tier") from None
    figures = (requests_per_minute, tokens_per_minute, requests_per_day)
    given = dict(zip(FIGURES, figures, strict=True))
    dropped = []
    for name, value in given.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise QuotaSettingError(f"{name} must be a number >= 0, got {value!r}", setting=name)
        if math.isinf(value):
            raise QuotaSettingError(f"{name} must be finite, got {value!r}", setting=name)
        if value == 0:
            dropped.append(name)
    limits = limits.override(**{k: v for k, v in given.items() if v})
    if dropped:
        removed: dict[str, Any] = dict.fromkeys(dropped)
        limits = replace(limits, **removed, source=f"{limits.source}; no {', '.join(dropped)}")
    return limits


class NoticeQuota(Quota):
    """A `Quota` that calls ``notice`` when a request has to wait ``after_sec`` or more for
    it (at most once per ``every_sec``, however many threads wait): long waits are what
    a quota is for, but they must not look like a hang."""

    def __init__(
        self,
        limits: QuotaLimits,
        *,
        notice: Callable[[str], None],
        after_sec: float = 3.0,
        every_sec: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(limits, **kwargs)
        self._notice = notice
        self._after_sec = after_sec
        self._every_sec = every_sec
        self._notice_lock = threading.Lock()
        self._next_notice = -math.inf

    def try_acquire(self, items: int, tokens: int) -> tuple[float, Permit | None]:
        wait, permit = super().try_acquire(items, tokens)
        if permit is None:
            self._announce(wait)
        return wait, permit

    def _announce(self, wait: float) -> None:
        if wait < self._after_sec:
            return
        with self._notice_lock:
            now = time.monotonic()
            if now < self._next_notice:
                return
            self._next_notice = now + self._every_sec
        self._notice(
            f"waiting {duration(wait)} for the quota ({self.limits.describe()}): the "
            "requests already sent fill this minute"
        )
