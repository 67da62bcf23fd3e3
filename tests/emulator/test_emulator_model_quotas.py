"""Per-model quotas counted as the services count them, and their 429 bodies."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import google.oauth2.credentials
import httpx
import pytest
from google import genai
from google.genai import errors, types

from omniembed.emulator import Emulator
from omniembed.emulator.model_quotas import (
    TIER_PRESETS,
    VERTEX_QUOTAS,
    Cost,
    Limits,
    ModelQuotaBook,
    QuotaUsage,
    check_model_quotas,
    pacific_date,
    resolve_limits,
)
from omniembed.emulator.quota_costs import call_cost, quota_subject
from omniembed.emulator.quota_errors import format_retry, retry_delay
from omniembed.emulator.routing import resolve

#: 2026-12-04 12:00:00 PST (20:00 UTC).
NOON_PST = datetime(2026, 12, 4, 20, 0, tzinfo=UTC).timestamp()
HELP = "type.googleapis.com/google.rpc.Help"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
MODEL = "gemini-embedding-001"
DS_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
VERTEX = "/v1/projects/p/locations/us-central1/publishers/google/models"


class FakeClock:
    def __init__(self, now: float = NOON_PST) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def cost(items: int = 1, tokens: int = 0) -> Cost:
    return Cost(items=items, tokens=tokens, inputs=items)


def admit(book: ModelQuotaBook, limits: Limits, c: Cost, window: float = 60.0) -> Any:
    return book.admit("gemini", MODEL, limits, c, window)


# --- the window -----------------------------------------------------------------------------


def test_a_batch_counts_every_item_against_rpm() -> None:
    clock = FakeClock()
    book = ModelQuotaBook(clock)
    limits = Limits(rpm=100)

    assert admit(book, limits, cost(100)) is None
    rejection = admit(book, limits, cost(1))

    assert rejection is not None
    assert [(b.limit, b.value) for b in rejection.breaches] == [("rpm", 100)]
    assert rejection.retry_after == pytest.approx(60.0)
    clock.now += 60.0  # exactly the announced wait
    assert admit(book, limits, cost(100)) is None


def test_the_window_slides_entry_by_entry() -> None:
    clock = FakeClock()
    book = ModelQuotaBook(clock)
    limits = Limits(rpm=10)
    assert admit(book, limits, cost(6)) is None
    clock.now += 30
    assert admit(book, limits, cost(4)) is None

    clock.now += 1
    first = admit(book, limits, cost(1))
    assert first is not None and first.retry_after == pytest.approx(29.0)
    clock.now += 29  # the 6 age out, the 4 stay
    assert admit(book, limits, cost(6)) is None
    second = admit(book, limits, cost(1))
    assert second is not None and second.retry_after == pytest.approx(30.0)


def test_tpm_counts_the_calls_tokens() -> None:
    clock = FakeClock()
    book = ModelQuotaBook(clock)
    limits = Limits(tpm=100)

    assert admit(book, limits, cost(1, tokens=80)) is None
    over = admit(book, limits, cost(1, tokens=30))
    assert over is not None and [b.limit for b in over.breaches] == ["tpm"]
    assert admit(book, limits, cost(1, tokens=20)) is None  # the refused 30 used nothing


def test_a_rejected_call_consumes_nothing() -> None:
    book = ModelQuotaBook(FakeClock())
    limits = Limits(rpm=5, tpm=50, rpd=5)
    assert admit(book, limits, cost(3, tokens=30)) is None

    for _ in range(3):
        assert admit(book, limits, cost(3, tokens=30)) is not None
    assert admit(book, limits, cost(2, tokens=20)) is None  # exactly the rest of all three

    usage = book.usage()[f"gemini:{MODEL}"]
    assert (usage.calls, usage.items, usage.tokens, usage.rejected_calls) == (2, 5, 50, 3)


def test_a_call_larger_than_the_limit_is_never_admitted() -> None:
    book = ModelQuotaBook(FakeClock())
    rejection = admit(book, Limits(rpm=4), cost(5))
    assert rejection is not None and rejection.retry_after == pytest.approx(60.0)
    assert admit(book, Limits(rpm=0), cost(1)) is not None  # "limit: 0", as users see it


def test_rpd_counts_items_and_resets_at_pacific_midnight() -> None:
    clock = FakeClock(datetime(2026, 12, 5, 7, 58, 10, tzinfo=UTC).timestamp())  # 23:58:10 PST
    book = ModelQuotaBook(clock)
    limits = Limits(rpm=100, rpd=150)
    assert admit(book, limits, cost(100)) is None
    clock.now += 60
    assert admit(book, limits, cost(50)) is None
    clock.now += 40  # 23:59:50 PST, the minute window is free again

    daily = admit(book, limits, cost(1))
    assert daily is not None
    assert [(b.limit, b.value) for b in daily.breaches] == [("rpd", 150)]
    assert 0 < daily.retry_after <= 60  # short, like the service's, though the day is over
    clock.now += 10  # 00:00:00 PST: a new day (the minute window still holds the 50)
    assert admit(book, limits, cost(50)) is None


def test_reset_forgets_windows_days_and_the_ledger() -> None:
    book = ModelQuotaBook(FakeClock())
    limits = Limits(rpm=1, rpd=1)
    assert admit(book, limits, cost()) is None
    assert admit(book, limits, cost()) is not None

    book.reset()

    assert book.usage() == {}
    assert admit(book, limits, cost()) is None


def test_a_shorter_window_scales_time() -> None:
    clock = FakeClock()
    book = ModelQuotaBook(clock)
    assert admit(book, Limits(rpm=2), cost(2), window=0.5) is None
    rejection = admit(book, Limits(rpm=2), cost(1), window=0.5)
    assert rejection is not None and rejection.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert admit(book, Limits(rpm=2), cost(2), window=0.5) is None


def test_ledger_counts_admitted_refused_and_embedded() -> None:
    book = ModelQuotaBook(FakeClock())
    limits = Limits(rpm=3, tpm=10)
    first = Cost(items=2, tokens=4, inputs=2)
    assert book.admit("gemini", MODEL, limits, first) is None
    book.embedded("gemini", MODEL, first)
    assert book.admit("gemini", MODEL, limits, Cost(items=2, tokens=8, inputs=2)) is not None

    assert book.usage() == {
        f"gemini:{MODEL}": QuotaUsage(
            calls=1,
            items=2,
            tokens=4,
            inputs=2,
            rejected_calls=1,
            rejected_by={"rpm": 1, "tpm": 1},
            embedded_calls=1,
            embedded_inputs=2,
        )
    }


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 3, 8, 7, 59, tzinfo=UTC), "2026-03-07"),  # 23:59 PST
        (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), "2026-03-08"),  # 00:00 PST
        (datetime(2026, 3, 8, 10, 0, tzinfo=UTC), "2026-03-08"),  # DST starts: 03:00 PDT
        (datetime(2026, 7, 1, 6, 59, tzinfo=UTC), "2026-06-30"),  # 23:59 PDT
        (datetime(2026, 7, 1, 7, 0, tzinfo=UTC), "2026-07-01"),  # 00:00 PDT
        (datetime(2026, 11, 1, 8, 59, tzinfo=UTC), "2026-11-01"),  # 01:59 PDT
        (datetime(2026, 11, 1, 9, 0, tzinfo=UTC), "2026-11-01"),  # 01:00 PST again
        (datetime(2026, 12, 5, 8, 0, tzinfo=UTC), "2026-12-05"),  # 00:00 PST
    ],
)
def test_pacific_date_follows_us_daylight_time(utc: datetime, expected: str) -> None:
    assert pacific_date(utc.timestamp()).isoformat() == expected


# --- limits and costs -----------------------------------------------------------------------


def test_tier_presets_cover_the_gemini_embedding_models() -> None:
    free = resolve_limits("gemini", MODEL, "free", None)
    assert free == Limits(rpm=100, tpm=30_000, rpd=1_000)
    assert resolve_limits("gemini", MODEL, "tier1", None) == Limits(rpm=3_000, tpm=1_000_000)
    assert resolve_limits("gemini", MODEL, "tier2", None) == Limits(rpm=5_000, tpm=5_000_000)
    assert resolve_limits("gemini", "gemini-embedding-2", "free", None) == free
    assert set(TIER_PRESETS) == {"free", "tier1", "tier2", "tier3"}
    assert resolve_limits("vertex", MODEL, "free", None) == Limits()  # the Gemini API only


def test_explicit_numbers_win_over_the_tier_field_by_field() -> None:
    quotas: dict[str, dict[str, int | None]] = {
        "*": {"rpm": 7},
        MODEL: {"tpm": 500, "rpd": None},
        f"gemini:{MODEL}": {"rpm": 9},
    }
    assert resolve_limits("gemini", MODEL, "free", quotas) == Limits(rpm=9, tpm=500)
    assert resolve_limits("gemini", "gemini-embedding-2", "free", quotas) == Limits(
        rpm=7, tpm=30_000, rpd=1_000
    )
    assert resolve_limits("vertex", "multimodalembedding@001", None, VERTEX_QUOTAS) == Limits(
        rpm=120
    )
    assert resolve_limits("vertex", MODEL, None, {"models/gemini-embedding-001": {"rpm": 1}}) == (
        Limits(rpm=1)
    )


@pytest.mark.parametrize(
    "bad",
    [
        {MODEL: {"rpm": -1}},
        {MODEL: {"rpm": 1.5}},
        {MODEL: {"rqm": 1}},
        {MODEL: 100},
        {"openai:x": {"rpm": 1}},
    ],
)
def test_bad_model_quotas_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="model_quotas"):
        check_model_quotas(bad)
    with pytest.raises(ValueError, match="model_quotas"):
        Emulator(model_quotas=bad)


def test_bad_tier_and_window_are_refused() -> None:
    with pytest.raises(ValueError, match="tier"):
        Emulator(tier="gold")
    with pytest.raises(ValueError, match="quota_window_sec"):
        Emulator(quota_window_sec=0)


def test_costs_by_route() -> None:
    batch = resolve("POST", f"/v1beta/models/{MODEL}:batchEmbedContents")
    assert batch is not None and quota_subject(batch, {}) == ("gemini", MODEL)
    body = {
        "requests": [
            {"model": f"models/{MODEL}", "content": {"parts": [{"text": "hello world"}]}},
            {
                "model": f"models/{MODEL}",
                "content": {"parts": [{"text": "a b c"}]},
                "taskType": "RETRIEVAL_DOCUMENT",
                "title": "two words",
            },
            {"content": {"parts": []}},  # does not parse: no tokens, still an item
        ]
    }
    assert call_cost(batch, body) == Cost(items=3, tokens=2 + 3 + 2, inputs=3)

    predict = resolve("POST", f"{VERTEX}/text-embedding-005:predict")
    assert predict is not None and quota_subject(predict, {}) == ("vertex", "text-embedding-005")
    instances = {"instances": [{"content": "one two"}, {"content": "three"}]}
    assert call_cost(predict, instances) == Cost(items=1, tokens=3, inputs=2)

    dashscope = resolve("POST", DS_PATH)
    assert dashscope is not None
    ds_body = {
        "model": "qwen3-vl-embedding",
        "input": {"contents": [{"text": "a b"}, {"image": "x"}]},
    }
    assert quota_subject(dashscope, ds_body) == ("dashscope", "qwen3-vl-embedding")
    assert call_cost(dashscope, ds_body) == Cost(items=1, tokens=2, inputs=2)

    unknown = resolve("POST", "/v1beta/models/nope:embedContent")
    count = resolve("POST", f"/v1beta/models/{MODEL}:countTokens")
    assert unknown is not None and quota_subject(unknown, {}) is None
    assert count is not None and quota_subject(count, {}) is None


def test_retry_formats() -> None:
    assert retry_delay(38.9) == "38s"  # cut down, as the service writes it
    assert retry_delay(0.4) == "0s"
    assert format_retry(38.9) == "38.9"
    assert format_retry(51.606482386) == "51.606482386"
    assert format_retry(60) == "60"


# --- over HTTP, through the real SDKs -------------------------------------------------------


def gemini(emu: Emulator) -> genai.Client:
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emu.base_url))


def vertex(emu: Emulator) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token="t"),
        http_options=types.HttpOptions(base_url=emu.base_url),
    )


def quota_429(call: Any) -> dict[str, Any]:
    with pytest.raises(errors.ClientError) as caught:
        call()
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    details: dict[str, Any] = caught.value.details
    return details


def by_type(error: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {detail["@type"]: detail for detail in error["details"]}


def test_gemini_api_batch_items_count_and_429_shape(emulator: Emulator) -> None:
    emulator.tier = "free"
    emulator.model_quotas = {MODEL: {"rpm": 3}}  # set while running
    client = gemini(emulator)

    client.models.embed_content(model=MODEL, contents=["a b", "c", "d"])  # 3 items
    error = quota_429(lambda: client.models.embed_content(model=MODEL, contents=["e"]))["error"]

    assert [d["@type"] for d in error["details"]] == [HELP, QUOTA_FAILURE, RETRY_INFO]
    details = by_type(error)
    assert details[QUOTA_FAILURE]["violations"] == [
        {
            "quotaMetric": "generativelanguage.googleapis.com/embed_content_free_tier_requests",
            "quotaId": "EmbedContentRequestsPerMinutePerUserPerProjectPerModel-FreeTier",
            "quotaDimensions": {"location": "global", "model": "gemini-embedding-1.0"},
            "quotaValue": "3",
        }
    ]
    assert details[HELP]["links"][0]["url"] == "https://ai.google.dev/gemini-api/docs/rate-limits"
    delay = details[RETRY_INFO]["retryDelay"]
    assert re.fullmatch(r"5[89]s|60s", delay)
    assert error["message"].startswith("You exceeded your current quota")
    assert "* Quota exceeded for metric: generativelanguage.googleapis.com/" in error["message"]
    exact = re.search(r"Please retry in ([0-9.]+)s\.$", error["message"])
    assert exact is not None and f"{int(float(exact.group(1)))}s" == delay
    usage = emulator.quota_usage()[f"gemini:{MODEL}"]
    assert (usage.calls, usage.items, usage.tokens, usage.embedded_inputs) == (1, 3, 4, 3)
    assert (usage.rejected_calls, usage.rejected_by) == (1, {"rpm": 1})


def test_one_violation_per_broken_limit_with_paid_tier_ids(emulator: Emulator) -> None:
    emulator.tier = "tier2"
    emulator.model_quotas = {MODEL: {"tpm": 5, "rpd": 2}}
    client = gemini(emulator)
    client.models.embed_content(model=MODEL, contents=["a b", "c d"])  # 2 items, 4 tokens

    error = quota_429(lambda: client.models.embed_content(model=MODEL, contents=["e f"]))["error"]

    violations = by_type(error)[QUOTA_FAILURE]["violations"]
    assert [(v["quotaId"], v["quotaValue"]) for v in violations] == [
        ("EmbedContentInputTokensPerMinutePerProjectPerModel-PaidTier2", "5"),
        ("EmbedContentRequestsPerDayPerProjectPerModel-PaidTier2", "2"),
    ]
    assert error["message"].count("* Quota exceeded for metric:") == 2
    assert emulator.quota_usage()[f"gemini:{MODEL}"].rejected_by == {"tpm": 1, "rpd": 1}


def test_a_short_window_admits_again(emulator: Emulator) -> None:
    emulator.model_quotas = {"*": {"rpm": 1}}
    emulator.quota_window_sec = 0.3
    client = gemini(emulator)
    client.models.embed_content(model=MODEL, contents="a")
    quota_429(lambda: client.models.embed_content(model=MODEL, contents="b"))

    time.sleep(0.35)

    client.models.embed_content(model=MODEL, contents="c")
    client.models.embed_content(model="gemini-embedding-2", contents="d")  # its own quota


def test_vertex_answers_its_own_429(emulator: Emulator) -> None:
    emulator.tier = "free"  # the Gemini API's tiers do not touch Vertex
    emulator.model_quotas = {"vertex:gemini-embedding-2": {"rpm": 1}}
    client = vertex(emulator)
    client.models.embed_content(model="gemini-embedding-2", contents=["a b c"])

    details = quota_429(
        lambda: client.models.embed_content(model="gemini-embedding-2", contents="x")
    )

    assert details == {
        "error": {
            "code": 429,
            "message": "Quota exceeded for aiplatform.googleapis.com/"
            "online_prediction_requests_per_base_model with base model: gemini-embedding-2. "
            "Please submit a quota increase request. "
            "https://cloud.google.com/vertex-ai/docs/generative-ai/quotas-genai.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }
    assert emulator.quota_usage()["vertex:gemini-embedding-2"].items == 1


def test_vertex_counts_calls_not_instances(emulator: Emulator, http: httpx.Client) -> None:
    emulator.model_quotas = {
        "vertex:multimodalembedding": {"rpm": 1},
        "text-embedding-005": {"tpm": 5},
    }
    url = f"{VERTEX}/text-embedding-005:predict"
    three = {"instances": [{"content": "a"}, {"content": "b"}, {"content": "c d"}]}
    assert http.post(url, json=three).status_code == 200  # 1 request, 4 tokens
    over = http.post(url, json={"instances": [{"content": "e f"}]})
    assert over.status_code == 429
    assert (
        "embed_content_input_tokens_per_minute_per_base_model with base model: "
        in (over.json()["error"]["message"])
    )

    mm = f"{VERTEX}/multimodalembedding@001:predict"
    assert http.post(mm, json={"instances": [{"text": "a red sky"}]}).status_code == 200
    limited = http.post(mm, json={"instances": [{"text": "a blue sky"}]})
    assert limited.status_code == 429
    assert "with base model: multimodalembedding." in limited.json()["error"]["message"]
    usage = emulator.quota_usage()
    assert usage["vertex:text-embedding-005"].inputs == 3
    assert usage["vertex:multimodalembedding"].rejected_by == {"rpm": 1}


def test_dashscope_rate_and_token_throttling(emulator: Emulator, http: httpx.Client) -> None:
    emulator.model_quotas = {"dashscope:qwen3-vl-embedding": {"rpm": 2, "tpm": 3}}

    def embed(text: str) -> httpx.Response:
        body = {"model": "qwen3-vl-embedding", "input": {"contents": [{"text": text}]}}
        return http.post(DS_PATH, json=body)

    assert embed("a b").status_code == 200
    tokens = embed("c d")
    assert (tokens.status_code, tokens.json()["code"]) == (429, "Throttling.AllocationQuota")
    assert embed("e").status_code == 200
    requests = embed("f")
    assert (requests.status_code, requests.json()["code"]) == (429, "Throttling.RateQuota")
    assert set(requests.json()) == {"code", "message", "request_id"}


def test_the_ledger_counts_without_limits(emulator: Emulator, http: httpx.Client) -> None:
    client = gemini(emulator)
    client.models.embed_content(model=MODEL, contents=["a", "b"])
    bad = {"requests": [{"model": f"models/{MODEL}", "content": {"parts": []}}]}
    assert http.post(f"/v1beta/models/{MODEL}:batchEmbedContents", json=bad).status_code == 400

    usage = emulator.quota_usage()[f"gemini:{MODEL}"]
    assert (usage.calls, usage.items, usage.embedded_calls, usage.embedded_inputs) == (2, 3, 1, 2)
    emulator.reset_quotas()
    assert emulator.quota_usage() == {}


def test_a_bad_setting_at_run_time_is_a_500(emulator: Emulator, http: httpx.Client) -> None:
    emulator.model_quotas = {MODEL: {"rpm": -5}}
    body = {"content": {"parts": [{"text": "x"}]}}
    answer = http.post(f"/v1beta/models/{MODEL}:embedContent", json=body)
    assert answer.status_code == 500
    assert "invalid quota setting" in answer.json()["error"]["message"]
