"""The services' published quotas and prices, per service, model and tier: one table of
facts, each with its source and the date it was read. `tier=` on every embedder fills its
`QuotaLimits` from here; explicit numbers win. Re-check before relying on a figure: the
services change them, and the Gemini API no longer publishes a static per-model table
(ai.google.dev/gemini-api/docs/rate-limits now points to AI Studio's per-project view).

Services and what one "request" is (``unit``):

* ``gemini-api``: every embedded content of a ``batchEmbedContents`` call counts against
  RPM and RPD (``"item"``). Measured by users of the live API: garrytan/gbrain PR #1922
  (2026-06-06: a 100-item call spends a free-tier minute of 100), and the 429s quoted in
  langgenius/dify#28720 and RooCodeInc/Roo-Code#5713 (indexing dies after ~100 chunks).
  Before mid-2025 a regional per-call quota applied instead (vercel/ai PR #7328); it is
  gone from current 429 bodies. Per-day quotas reset at midnight Pacific.
* ``vertex``: one content per call for these models, so calls and items agree
  (``"call"``); the main embedding quota is input tokens per minute per base model.
* ``dashscope``: HTTP calls (``"call"``); no per-model figures are published for the
  multimodal embedding models, so only explicit numbers apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigurationError
from ..runtime.quota import QuotaLimits, Unit

#: Tier names accepted by ``tier=`` (the Gemini API's usage tiers; "default" is the
#: published default quota of services without tiers).
TIERS = ("free", "tier1", "tier2", "tier3", "default")

UNITS: dict[str, Unit] = {"gemini-api": "item", "vertex": "call", "dashscope": "call"}

_GEMINI_FREE = (
    "Gemini API free tier: 100 RPM / 30,000 TPM / 1,000 RPD as reported by users reading "
    "AI Studio (router-for-me/CLIProxyAPI#179, 2025-10-28; NgoTaiCo/mcp-codebase-index#3, "
    "2025-11-08) and as quotaValue in real 429s (EmbedContentRequestsPerMinute…-FreeTier "
    "'100', …PerDay…-FreeTier '1000'); read 2026-12"
)
_GEMINI_T1 = (
    "Gemini API Tier 1: 3,000 RPM / 1M TPM / no daily limit (Google staff reply, "
    "discuss.ai.google.dev/t/107091; AI Studio figures in discuss.ai.google.dev/t/115183, "
    "2026-01-13); read 2026-12"
)
_GEMINI_T2 = (
    "Gemini API Tier 2: 5,000 RPM / 5M TPM / no daily limit (Google staff reply, "
    "discuss.ai.google.dev/t/107091); read 2026-12"
)
_GEMINI_T3 = (
    "Gemini API Tier 3: NOT PUBLISHED; Tier 2's figures are used as a safe floor (read "
    "2026-12); pass requests_per_minute= / tokens_per_minute= from AI Studio"
)
_GEMINI_2 = (
    "; gemini-embedding-2: no table published, users report the same free-tier 100 RPM / "
    "1,000 RPD under the same quota ids, so gemini-embedding-001's figures are assumed"
)


def _gemini(rpm: float, tpm: float, rpd: float | None, source: str) -> QuotaLimits:
    return QuotaLimits(rpm, tpm, rpd, unit="item", source=source)


_GEMINI_API_TIERS = {
    "free": _gemini(100, 30_000, 1_000, _GEMINI_FREE),
    "tier1": _gemini(3_000, 1_000_000, None, _GEMINI_T1),
    "tier2": _gemini(5_000, 5_000_000, None, _GEMINI_T2),
    "tier3": _gemini(5_000, 5_000_000, None, _GEMINI_T3),
}

_VERTEX_GEMINI = (
    "Vertex AI default quota for base model gemini-embedding: 5,000,000 input tokens per "
    "minute per region (docs.cloud.google.com/vertex-ai/generative-ai/docs/quotas; newer "
    "versions of that page list 100M TPM / 100K RPM global: raise tokens_per_minute= to "
    "what your project's Quotas page shows); read 2026-12"
)
_VERTEX_GEMINI_2 = (
    "Vertex AI default quota for gemini-embedding-2: 10,000,000 input tokens and 40,000 "
    "requests per minute, global (docs.cloud.google.com/vertex-ai/generative-ai/docs/quotas; "
    "other versions say 5M regional or 200M / 60K global); read 2026-12"
)
_VERTEX_MULTIMODAL = (
    "Vertex AI multimodalembedding@001: 120 requests per minute per project "
    "(cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-multimodal-embeddings; "
    "newer versions: 120-600 by region); read 2026-12"
)

#: (service, model) -> tier -> limits. Model names are matched exactly, then by prefix
#: (a dated variant of a listed model shares its quota).
_TABLE: dict[tuple[str, str], dict[str, QuotaLimits]] = {
    ("gemini-api", "gemini-embedding-001"): _GEMINI_API_TIERS,
    ("gemini-api", "gemini-embedding-2"): {
        tier: QuotaLimits(
            limits.requests_per_minute,
            limits.tokens_per_minute,
            limits.requests_per_day,
            unit="item",
            source=limits.source + _GEMINI_2,
        )
        for tier, limits in _GEMINI_API_TIERS.items()
    },
    ("vertex", "gemini-embedding-001"): {
        "default": QuotaLimits(None, 5_000_000, None, unit="call", source=_VERTEX_GEMINI)
    },
    ("vertex", "text-embedding-005"): {
        "default": QuotaLimits(None, 5_000_000, None, unit="call", source=_VERTEX_GEMINI)
    },
    ("vertex", "gemini-embedding-2"): {
        "default": QuotaLimits(40_000, 10_000_000, None, unit="call", source=_VERTEX_GEMINI_2)
    },
    ("vertex", "multimodalembedding@001"): {
        "default": QuotaLimits(120, None, None, unit="call", source=_VERTEX_MULTIMODAL)
    },
}


def _row(service: str, model: str) -> dict[str, QuotaLimits] | None:
    name = model.rsplit("/", 1)[-1]
    found = _TABLE.get((service, name))
    if found is not None:
        return found
    for (row_service, row_model), tiers in _TABLE.items():
        if row_service == service and name.startswith(row_model + "-"):
            return tiers
    return None


def check_tier(value: str | None) -> str | None:
    """``value`` if it names a tier (or is None); else `ValueError` listing them (for the
    framework adapters' field validators)."""
    if value is not None and value not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)} (or None), not {value!r}")
    return value


def default_tier(service: str, model: str) -> str | None:
    """ "default" where the service publishes one quota for every project (Vertex AI)."""
    return "default" if "default" in (_row(service, model) or {}) else None


def quota_limits(service: str, model: str, tier: str | None) -> QuotaLimits:
    """The published limits of ``tier`` for ``model`` on ``service`` (empty without a tier).

    Raises `ConfigurationError` naming the tiers there are when ``tier`` is not one."""
    unit = UNITS[service]
    if tier is None:
        return QuotaLimits(unit=unit, source="none given")
    row = _row(service, model) or {}
    if tier not in row:
        known = ", ".join(repr(t) for t in row) or "none (pass the numbers explicitly)"
        raise ConfigurationError(
            f"tier={tier!r} has no published quota for {model} on {service}; tiers known "
            f"here: {known}. Pass requests_per_minute=, tokens_per_minute= and "
            "requests_per_day= instead"
        )
    return row[tier]


# --- prices ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """US dollars per 1M input tokens, interactive and as a batch job (None: no batch)."""

    text: float
    media: float
    batch_text: float | None
    batch_media: float | None
    source: str


_PRICES: dict[tuple[str, str], Price] = {
    ("gemini-api", "gemini-embedding-001"): Price(
        0.15,
        0.15,
        0.075,
        0.075,
        "ai.google.dev/gemini-api/docs/pricing; batch at half price (Google Developers Blog, "
        "'Gemini Batch API now supports embeddings', 2025-09-10); read 2026-12",
    ),
    ("gemini-api", "gemini-embedding-2"): Price(
        0.20,
        0.45,
        0.10,
        0.225,
        "ai.google.dev/gemini-api/docs/pricing as quoted by users (text $0.20, image $0.45 "
        "per 1M; batch half); audio/video priced as images here (not found); read 2026-12",
    ),
}


def price(service: str, model: str) -> Price | None:
    """The price row for ``model`` on ``service``, if one is known."""
    name = model.rsplit("/", 1)[-1]
    for (row_service, row_model), row in _PRICES.items():
        if row_service == service and (name == row_model or name.startswith(row_model + "-")):
            return row
    return None
