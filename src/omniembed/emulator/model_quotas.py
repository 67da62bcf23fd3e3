"""Per-model quotas counted the way the services count them (RPM, TPM, RPD).

The emulator's OWN model of the services' rate limits; nothing here is shared with client
code, so a client bug cannot agree with itself. Sources are cited where each rule is used;
docs/emulator.md ("Quotas as the services count them") collects them.

What one call costs (`Cost`, computed by `omniembed.emulator.quota_costs`):

- Gemini API ``batchEmbedContents``: every element of ``requests[]`` is one request against
  RPM and RPD; ``embedContent`` is one. Users measured it: a 100-item batch against the free
  tier's 100 RPM is the whole minute (garrytan/gbrain#1922, "1 RPM per ITEM in the batch";
  429s while batching: langgenius/dify#28720, RooCodeInc/Roo-Code#5713,
  curvedinf/dir-assistant#37), and the
  per-day quota ``EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier`` counts
  texts too.
- Vertex AI (``predict``, ``embedContent``, ``batchEmbedContents``) and DashScope
  (``multimodalEmbedding``): one request per HTTP call, as Vertex names its quota
  ``online_prediction_requests_per_base_model``.
- Tokens (TPM): the emulator's own estimate (`omniembed.emulator.tokens`), never Google's.

The window (`ModelQuotaBook.admit`): a call is admitted only if, within the last
``window_sec`` seconds, the admitted items plus this call's items stay <= ``rpm`` and the
admitted tokens plus this call's tokens stay <= ``tpm`` ("if your RPM limit is 20, making 21
requests within a minute will result in an error", ai.google.dev/gemini-api/docs/rate-limits).
A call is admitted or rejected whole, and a rejected call consumes nothing (an ASSUMPTION;
AlaskanTuna/Rokabot#100 observed a 429 that "consumed no tokens against the very quota it
measured"). ``rpd`` counts items since the last reset: midnight America/Los_Angeles ("Requests
per day (RPD) quotas reset at midnight Pacific time", same page), or
``Emulator.reset_quotas()``.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

Api = Literal["gemini", "vertex", "dashscope"]
LimitName = Literal["rpm", "tpm", "rpd"]
LIMIT_NAMES: tuple[LimitName, ...] = ("rpm", "tpm", "rpd")
TIERS = ("free", "tier1", "tier2", "tier3")
DEFAULT_WINDOW_SEC = 60.0
#: Tolerance when an entry ages out: a client that waits exactly the announced delay is let in.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Limits:
    """One model's limits; None means no limit of that kind."""

    rpm: int | None = None
    tpm: int | None = None
    rpd: int | None = None

    def get(self, name: LimitName) -> int | None:
        value: int | None = getattr(self, name)
        return value


# --- tier presets ---------------------------------------------------------------------------
#
# The Gemini API's per-model limits are no longer printed in the docs: the rate-limits page
# says to look them up in AI Studio (robhunter/agentdeals#1637, 2026-09-13, fetched the page
# and found no per-model table). The figures below were looked up on 2026-12-04 in:
#
# - free, gemini-embedding-001: 100 RPM / 30,000 TPM / 1,000 RPD.
#   router-for-me/CLIProxyAPI#179 (2025-10-28: "100 requests/min (RPM), 30,000 input
#   tokens/min (TPM), 1,000 requests/day (RPD)"), NgoTaiCo/mcp-codebase-index#3 (2025-11-08:
#   "100 RPM, 30K TPM, 1K RPD"), and the forum thread
#   https://discuss.ai.google.dev/t/gemini-embeddings-free-tier-quota-stuck-at-0-after-overage-no-reset-across-projects/106517
#   ("the documented free tier limits (e.g., 1,000 RPD, 100 RPM)"). The 429 bodies users
#   post carry quotaValue "100" (per minute) and "1000" (per day).
# - tier1: 3,000 RPM / 1,000,000 TPM / no RPD; tier2: 5,000 RPM / 5,000,000 TPM / no RPD.
#   A Google reply in
#   https://discuss.ai.google.dev/t/hitting-rate-limit-on-gemini-batch-api-for-gemini-embedding-001/107091
#   ("For Tier 1, the limit is 3000 requests per minute (RPM), 1 million tokens per minute
#   (TPM), and no limit on requests per day (RPD). For Tier 2, the limits increase to 5000 RPM,
#   5 million TPM, while RPD remains unlimited."); AI Studio showing "2/3K RPM and 132/1M TPM
#   for gemini-embedding-001" on Tier 1 in
#   https://discuss.ai.google.dev/t/incorrect-429-error-being-returned-for-the-gemini-asyncbatchembedcontent-endpoint/115183
#   (2026-01-13). Sources disagree on tier-1 RPM elsewhere: NgoTaiCo/mcp-codebase-index#3
#   speaks of a "paid tier (15K RPM)"; the Google reply is used.
# - tier3: UNVERIFIED. No public source was found; 10,000 RPM / 10,000,000 TPM / no RPD is a
#   placeholder that continues the tier1 -> tier2 progression.
# - gemini-embedding-2 (and -preview): no separate public table was found; it uses the
#   gemini-embedding-001 figures, an ASSUMPTION (users report the same free-tier quota ids
#   and values, 100 per minute and 1,000 per day, for it).
_GEMINI_EMBEDDING_TIERS: dict[str, Limits] = {
    "free": Limits(rpm=100, tpm=30_000, rpd=1_000),
    "tier1": Limits(rpm=3_000, tpm=1_000_000),
    "tier2": Limits(rpm=5_000, tpm=5_000_000),
    "tier3": Limits(rpm=10_000, tpm=10_000_000),  # unverified placeholder, see above
}

#: Tier presets for the Gemini API routes: tier -> model -> limits.
TIER_PRESETS: dict[str, dict[str, Limits]] = {
    tier: {
        "gemini-embedding-001": limits,
        "gemini-embedding-2": limits,  # assumption: same as 001
        "gemini-embedding-2-preview": limits,  # assumption: same as 001
    }
    for tier, limits in _GEMINI_EMBEDDING_TIERS.items()
}

#: Vertex AI's published defaults, for ``Emulator(model_quotas=VERTEX_QUOTAS)`` (not applied
#: by ``tier``; Vertex has no usage tiers). multimodalembedding: "Maximum API requests per
#: minute per project: 120" (cloud.google.com/vertex-ai/docs/generative-ai/embeddings/
#: get-multimodal-embeddings; the newer zh-CN page says "120-600, depending on the region").
#: gemini-embedding on Vertex: "Embed content input tokens per minute: 5,000,000"
#: (docs.cloud.google.com/vertex-ai/generative-ai/docs/quotas). gemini-embedding-2 on Vertex:
#: 5,000,000 per docs.cloud.google.com/gemini-enterprise-agent-platform/models/quotas, while
#: a copy of a later quotas page lists 10,000,000 tokens and 40,000 requests per minute
#: (global); the documented 5,000,000 is used.
VERTEX_QUOTAS: dict[str, dict[str, int | None]] = {
    "vertex:multimodalembedding": {"rpm": 120},
    "vertex:gemini-embedding-001": {"tpm": 5_000_000},
    "vertex:gemini-embedding-2": {"tpm": 5_000_000},
}


# --- configuration --------------------------------------------------------------------------

ModelQuotas = Mapping[str, Mapping[str, int | None]]


def check_tier(tier: str | None) -> None:
    if tier is not None and tier not in TIERS:
        raise ValueError(f"unknown quota tier {tier!r}; use one of {', '.join(TIERS)}")


def check_window(window_sec: float) -> None:
    if not window_sec > 0:
        raise ValueError(f"quota_window_sec must be a positive number of seconds, got {window_sec}")


def check_model_quotas(model_quotas: ModelQuotas | None) -> None:
    """Raise ValueError unless ``model_quotas`` is ``{key: {"rpm"|"tpm"|"rpd": int >= 0 or
    None}}``; a key is a model id, ``"*"``, or either prefixed ``gemini:``, ``vertex:`` or
    ``dashscope:``."""
    if model_quotas is None:
        return
    if not isinstance(model_quotas, Mapping):
        raise ValueError("model_quotas must map a model to {'rpm': N, 'tpm': N, 'rpd': N}")
    for key, limits in model_quotas.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"a model_quotas key must be a model id, got {key!r}")
        api, sep, _ = key.partition(":")
        if sep and api not in ("gemini", "vertex", "dashscope"):
            raise ValueError(
                f"model_quotas key {key!r}: the prefix must be gemini, vertex or dashscope"
            )
        if not isinstance(limits, Mapping):
            raise ValueError(f"model_quotas[{key!r}] must be a mapping like {{'rpm': 100}}")
        for name, value in limits.items():
            if name not in LIMIT_NAMES:
                raise ValueError(
                    f"model_quotas[{key!r}]: unknown limit {name!r} (use rpm, tpm, rpd)"
                )
            _as_limit(value, f"model_quotas[{key!r}][{name!r}]")


def _as_limit(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a whole number >= 0 or None, got {value!r}")
    if value < 0 or not float(value).is_integer():
        raise ValueError(f"{where} must be a whole number >= 0 or None, got {value!r}")
    return int(value)


def _bare(model: str) -> str:
    """A model id without ``models/`` and without a Vertex ``@version``."""
    model = model.removeprefix("models/")
    return model.split("@", 1)[0]


def resolve_limits(
    api: Api, model: str, tier: str | None, model_quotas: ModelQuotas | None
) -> Limits:
    """The limits that apply to ``model`` on ``api``, field by field.

    Lowest to highest precedence: the tier preset (Gemini API only), ``"*"``, ``"{api}:*"``,
    ``"{model}"``, ``"{api}:{model}"``. A field given as None removes a lower limit.
    """
    check_tier(tier)
    check_model_quotas(model_quotas)
    model = _bare(model)
    fields: dict[str, int | None] = {}
    if tier is not None and api == "gemini":
        preset = TIER_PRESETS[tier].get(model)
        if preset is not None:
            fields = {name: preset.get(name) for name in LIMIT_NAMES}
    if model_quotas:
        by_key: dict[str, Mapping[str, int | None]] = {}
        for key, limits in model_quotas.items():
            prefix, sep, rest = key.partition(":")
            by_key[f"{prefix}:{_bare(rest)}" if sep else _bare(key)] = limits
        for key in ("*", f"{api}:*", model, f"{api}:{model}"):
            for name, value in by_key.get(key, {}).items():
                fields[name] = _as_limit(value, key)
    return Limits(fields.get("rpm"), fields.get("tpm"), fields.get("rpd"))


# --- time -----------------------------------------------------------------------------------


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def pacific_date(epoch: float) -> date:
    """The calendar date in America/Los_Angeles at ``epoch`` (US rules since 2007: daylight
    time from the second Sunday of March, 2:00 PST, to the first Sunday of November, 2:00
    PDT). Computed here, not with tz data, so it behaves the same on every platform."""
    utc = datetime.fromtimestamp(epoch, timezone.utc).replace(tzinfo=None)
    year = utc.year
    dst_start = datetime.combine(_nth_sunday(year, 3, 2), datetime.min.time()) + timedelta(hours=10)
    dst_end = datetime.combine(_nth_sunday(year, 11, 1), datetime.min.time()) + timedelta(hours=9)
    offset = -7 if dst_start <= utc < dst_end else -8
    return (utc + timedelta(hours=offset)).date()


# --- the book -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """What one call counts: ``items`` against RPM/RPD, ``tokens`` against TPM; ``inputs``
    is how many contents/instances it carries (the ledger's "inputs embedded")."""

    items: int
    tokens: int
    inputs: int


@dataclass(frozen=True)
class QuotaBreach:
    """One limit a call would break: its name, its value and when the call would fit."""

    limit: LimitName
    value: int
    retry_after: float


@dataclass(frozen=True)
class Rejection:
    """Why a call was refused: every limit it would break, and the seconds to wait (the
    longest per-minute wait; for a daily limit alone, a short delay like the service's)."""

    api: Api
    model: str
    breaches: tuple[QuotaBreach, ...]
    retry_after: float


@dataclass
class QuotaUsage:
    """The ledger of one ``"{api}:{model}"``: what was admitted and what was refused."""

    calls: int = 0  #: admitted calls
    items: int = 0  #: items they counted against RPM/RPD
    tokens: int = 0  #: tokens they counted against TPM (the emulator's estimate)
    inputs: int = 0  #: contents/instances they carried
    rejected_calls: int = 0
    #: Rejected calls per broken limit ("rpm", "tpm", "rpd"); a call may break several.
    rejected_by: dict[str, int] = field(default_factory=dict)
    embedded_calls: int = 0  #: admitted calls that were answered 200
    embedded_inputs: int = 0  #: inputs of those calls: the inputs actually embedded


@dataclass
class _Window:
    entries: deque[tuple[float, int, int]] = field(default_factory=deque)
    items: int = 0
    tokens: int = 0
    day: date | None = None
    day_items: int = 0

    def prune(self, now: float, window_sec: float) -> None:
        cutoff = now - window_sec + _EPSILON
        while self.entries and self.entries[0][0] <= cutoff:
            _, items, tokens = self.entries.popleft()
            self.items -= items
            self.tokens -= tokens

    def wait(self, now: float, window_sec: float, index: int, need: int, limit: int) -> float:
        """Seconds until entries expire enough that ``used + need <= limit`` (index 1: items,
        2: tokens); ``window_sec`` when ``need`` alone exceeds the limit."""
        if need > limit:
            return window_sec
        used = self.items if index == 1 else self.tokens
        for at, items, tokens in self.entries:
            used -= items if index == 1 else tokens
            if used + need <= limit:
                return max(0.0, at + window_sec - now)
        return window_sec  # unreachable: an empty window always fits ``need <= limit``


class ModelQuotaBook:
    """Sliding windows, day counters and the ledger of one emulator (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        #: Seconds since the epoch (the day boundary is computed from it).
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self._usage: dict[str, QuotaUsage] = {}

    def admit(
        self,
        api: Api,
        model: str,
        limits: Limits,
        cost: Cost,
        window_sec: float = DEFAULT_WINDOW_SEC,
    ) -> Rejection | None:
        """Admit the call (recording it) or return why not (recording nothing but the
        refusal)."""
        check_window(window_sec)
        key = f"{api}:{model}"
        with self._lock:
            now = self._clock()
            usage = self._usage.setdefault(key, QuotaUsage())
            window = self._windows.setdefault(key, _Window())
            window.prune(now, window_sec)
            today = pacific_date(now)
            if window.day != today:
                window.day, window.day_items = today, 0
            breaches: list[QuotaBreach] = []
            if limits.rpm is not None and window.items + cost.items > limits.rpm:
                wait = window.wait(now, window_sec, 1, cost.items, limits.rpm)
                breaches.append(QuotaBreach("rpm", limits.rpm, wait))
            if limits.tpm is not None and window.tokens + cost.tokens > limits.tpm:
                wait = window.wait(now, window_sec, 2, cost.tokens, limits.tpm)
                breaches.append(QuotaBreach("tpm", limits.tpm, wait))
            if limits.rpd is not None and window.day_items + cost.items > limits.rpd:
                # The service still sends a short RetryInfo for a daily limit (users report
                # retrying after it fails again); the emulator answers the time to the next
                # window boundary of its clock, which is under a minute like theirs.
                breaches.append(QuotaBreach("rpd", limits.rpd, window_sec - now % window_sec))
            if breaches:
                usage.rejected_calls += 1
                for breach in breaches:
                    usage.rejected_by[breach.limit] = usage.rejected_by.get(breach.limit, 0) + 1
                per_minute = [b.retry_after for b in breaches if b.limit != "rpd"]
                retry = max(per_minute) if per_minute else breaches[0].retry_after
                return Rejection(api, model, tuple(breaches), retry)
            window.entries.append((now, cost.items, cost.tokens))
            window.items += cost.items
            window.tokens += cost.tokens
            window.day_items += cost.items
            usage.calls += 1
            usage.items += cost.items
            usage.tokens += cost.tokens
            usage.inputs += cost.inputs
            return None

    def embedded(self, api: Api, model: str, cost: Cost) -> None:
        """An admitted call was answered 200."""
        with self._lock:
            usage = self._usage.setdefault(f"{api}:{model}", QuotaUsage())
            usage.embedded_calls += 1
            usage.embedded_inputs += cost.inputs

    def usage(self) -> dict[str, QuotaUsage]:
        """A copy of the ledger, keyed ``"{api}:{model}"``."""
        with self._lock:
            return copy.deepcopy(self._usage)

    def reset(self) -> None:
        """Forget every window, day counter and the ledger."""
        with self._lock:
            self._windows.clear()
            self._usage.clear()
