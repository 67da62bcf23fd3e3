"""429 answers for per-model quotas, shaped like the ones the real services send.

Gemini API, as users have posted them (e.g. itcon-pty-au/stremio-ai-search#170,
continuedev/continue#9645, and for embeddings the forum thread
discuss.ai.google.dev/t/gemini-embeddings-free-tier-quota-stuck-at-0-after-overage-no-reset-across-projects/106517)::

    {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
      "message": "You exceeded your current quota, please check your plan and billing
        details. For more information on this error, head to:
        https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage,
        head to: https://ai.dev/rate-limit. \\n* Quota exceeded for metric:
        generativelanguage.googleapis.com/embed_content_free_tier_requests, limit: 100,
        model: gemini-embedding-1.0\\nPlease retry in 38.9s.",
      "details": [
        {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "Learn
          more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric":
          "...", "quotaId": "...", "quotaDimensions": {"location": "global", "model": "..."},
          "quotaValue": "100"}]},
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "38s"}]}}

One violation per broken limit. ``retryDelay`` is whole seconds, cut down from the exact wait
the message prints ("Please retry in 51.606482386s" goes with ``"51s"`` in
stremio-ai-search#170), so a client that waits exactly ``retryDelay`` can be early and get
another 429, as with the service. A daily violation still carries a short ``retryDelay``.
No ``Retry-After`` header (none is reported for these 429s).

Vertex AI: no details, one sentence naming the quota and the base model (genkit-ai/genkit#1127,
langgenius/dify#13830, cocoindex-io/cocoindex#1151)::

    {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded for
      aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model:
      multimodalembedding. Please submit a quota increase request.
      https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."}}

DashScope: HTTP 429 ``Throttling.RateQuota`` for requests, ``Throttling.AllocationQuota`` for
tokens ("Allocated quota exceeded ... the tokens per minute (TPM) limit was triggered",
alibabacloud.com/help/en/model-studio/rate-limit).
"""

from __future__ import annotations

from typing import Any

from .dashscope_errors import DashScopeError, allocation_quota, rate_quota
from .google_errors import GEMINI_QUOTA_MESSAGE, QUOTA_HELP, GoogleError
from .google_errors import format_retry as format_retry  # re-exported (tests, callers)
from .model_quotas import LimitName, QuotaBreach, Rejection

VERTEX_QUOTA_HELP = (
    "Please submit a quota increase request. "
    "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai."
)

_METRIC_PREFIX = "generativelanguage.googleapis.com/"

#: (quotaMetric, quotaId) per tier and limit on the Gemini API. Observed in users' 429
#: bodies: the free-tier request metric and both request ids (forum thread 106517 above;
#: Roo-Code#5713, dify#28720 and many codebases quote them), and for tier 1
#: ``embed_content_paid_tier_requests`` with ``EmbedContentPerMinutePerProjectPerUserPerModel-
#: PaidTier`` (quotaValue 3000), for tier 2 ``EmbedContentRequestsPerMinutePerProjectPerModel-
#: PaidTier2`` (5000/min), as quoted in public code. The ``*_paid_tier_2/_3_requests`` metric
#: names are Cloud Monitoring's. NOT observed, built by analogy: every token (TPM) name, the
#: paid per-day ids and everything of tier 3. Sources disagree on the free token metric:
#: 429 fixtures in public code say ``embed_content_free_tier_input_token_count`` (like the
#: verified ``generate_content_free_tier_input_token_count``), Cloud Monitoring metric lists
#: say ``embed_content_free_tier_tokens``; the first is used.
GEMINI_QUOTA_NAMES: dict[str, dict[LimitName, tuple[str, str]]] = {
    "free": {
        "rpm": (
            "embed_content_free_tier_requests",
            "EmbedContentRequestsPerMinutePerUserPerProjectPerModel-FreeTier",
        ),
        "tpm": (
            "embed_content_free_tier_input_token_count",
            "EmbedContentInputTokensPerMinutePerProjectPerModel-FreeTier",
        ),
        "rpd": (
            "embed_content_free_tier_requests",
            "EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier",
        ),
    },
    "tier1": {
        "rpm": (
            "embed_content_paid_tier_requests",
            "EmbedContentPerMinutePerProjectPerUserPerModel-PaidTier",
        ),
        "tpm": (
            "embed_content_paid_tier_input_token_count",
            "EmbedContentInputTokensPerMinutePerProjectPerModel-PaidTier",
        ),
        "rpd": (
            "embed_content_paid_tier_requests",
            "EmbedContentRequestsPerDayPerProjectPerModel-PaidTier",
        ),
    },
    "tier2": {
        "rpm": (
            "embed_content_paid_tier_2_requests",
            "EmbedContentRequestsPerMinutePerProjectPerModel-PaidTier2",
        ),
        "tpm": (
            "embed_content_paid_tier_2_input_token_count",
            "EmbedContentInputTokensPerMinutePerProjectPerModel-PaidTier2",
        ),
        "rpd": (
            "embed_content_paid_tier_2_requests",
            "EmbedContentRequestsPerDayPerProjectPerModel-PaidTier2",
        ),
    },
    "tier3": {
        "rpm": (
            "embed_content_paid_tier_3_requests",
            "EmbedContentRequestsPerMinutePerProjectPerModel-PaidTier3",
        ),
        "tpm": (
            "embed_content_paid_tier_3_input_token_count",
            "EmbedContentInputTokensPerMinutePerProjectPerModel-PaidTier3",
        ),
        "rpd": (
            "embed_content_paid_tier_3_requests",
            "EmbedContentRequestsPerDayPerProjectPerModel-PaidTier3",
        ),
    },
}

#: How the Gemini API names a model in quota messages: gemini-embedding-001 is
#: "gemini-embedding-1.0" in every posted body; others are assumed to keep their id.
QUOTA_MODEL_NAMES = {"gemini-embedding-001": "gemini-embedding-1.0"}

#: Vertex quota metric per limit (``%s``: nothing). Observed: requests
#: (``online_prediction_requests_per_base_model``, genkit#1127) and tokens
#: (``embed_content_input_tokens_per_minute_per_base_model``, cocoindex#1151). Vertex has no
#: per-day embedding quota; the rpd name is made up by analogy.
VERTEX_METRICS: dict[LimitName, str] = {
    "rpm": "aiplatform.googleapis.com/online_prediction_requests_per_base_model",
    "tpm": "aiplatform.googleapis.com/embed_content_input_tokens_per_minute_per_base_model",
    "rpd": "aiplatform.googleapis.com/online_prediction_requests_per_day_per_base_model",
}
#: Vertex's "base model" of a model id (gemini-embedding-001's quota "is listed under the
#: name gemini-embedding", docs.cloud.google.com/vertex-ai/generative-ai/docs/quotas).
VERTEX_BASE_MODELS = {"gemini-embedding-001": "gemini-embedding"}


def retry_delay(seconds: float) -> str:
    """``RetryInfo.retryDelay`` as the Gemini API writes it: whole seconds, cut down."""
    return f"{int(max(0.0, seconds))}s"


def gemini_quota_error(rejection: Rejection, tier: str | None) -> GoogleError:
    """The Gemini API's 429 for ``rejection`` (quota names of ``tier``; free-tier names when
    no tier is set)."""
    names = GEMINI_QUOTA_NAMES[tier or "free"]
    model = QUOTA_MODEL_NAMES.get(rejection.model, rejection.model)
    violations: list[dict[str, Any]] = []
    lines: list[str] = []
    for breach in rejection.breaches:
        metric, quota_id = names[breach.limit]
        violations.append(
            {
                "quotaMetric": _METRIC_PREFIX + metric,
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": model},
                "quotaValue": str(breach.value),
            }
        )
        lines.append(
            f"* Quota exceeded for metric: {_METRIC_PREFIX}{metric}, limit: {breach.value}, "
            f"model: {model}"
        )
    message = (
        GEMINI_QUOTA_MESSAGE
        + "\n"
        + "\n".join(lines)
        + f"\nPlease retry in {format_retry(rejection.retry_after)}s."
    )
    details: list[dict[str, Any]] = [
        QUOTA_HELP,
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": violations},
        {
            "@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": retry_delay(rejection.retry_after),
        },
    ]
    return GoogleError(429, message, details=details)


def vertex_quota_error(rejection: Rejection) -> GoogleError:
    """Vertex AI's 429: one sentence naming the first broken quota, no details."""
    breach: QuotaBreach = rejection.breaches[0]
    base = VERTEX_BASE_MODELS.get(rejection.model, rejection.model)
    return GoogleError(
        429,
        f"Quota exceeded for {VERTEX_METRICS[breach.limit]} with base model: {base}. "
        + VERTEX_QUOTA_HELP,
    )


def dashscope_quota_error(rejection: Rejection) -> DashScopeError:
    """DashScope's 429: ``Throttling.RateQuota`` for requests (per minute or day),
    ``Throttling.AllocationQuota`` when only tokens are over."""
    if all(b.limit == "tpm" for b in rejection.breaches):
        return allocation_quota()
    return rate_quota()


def quota_error(rejection: Rejection, tier: str | None) -> GoogleError:
    """The 429 of the service ``rejection.api`` names."""
    if rejection.api == "gemini":
        return gemini_quota_error(rejection, tier)
    if rejection.api == "vertex":
        return vertex_quota_error(rejection)
    return dashscope_quota_error(rejection)
