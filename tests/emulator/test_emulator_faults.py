"""Fault injection: scripted and seeded-random 429/500/503, connection resets, slow answers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from google import genai
from google.genai import types

from omniembed.emulator import Emulator

PATH = "/v1beta/models/gemini-embedding-001:embedContent"
BODY = {"content": {"parts": [{"text": "x"}]}}


def test_injected_429_is_the_gemini_quota_answer(emulator: Emulator, http: httpx.Client) -> None:
    # As posted by users (googleapis/python-genai#1875 and #2114, mscraftsman/generative-ai
    # #131): the quota message with the exact wait, Help and a whole-second RetryInfo, and
    # no Retry-After header.
    emulator.inject("429")
    response = http.post(PATH, json=BODY)

    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.json() == {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details. For more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current "
            "usage, head to: https://ai.dev/rate-limit. \nPlease retry in 1s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [
                        {
                            "description": "Learn more about Gemini API quotas",
                            "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"},
            ],
        }
    }
    assert http.post(PATH, json=BODY).status_code == 200  # the script is consumed


def test_injected_429_on_vertex_is_vertex_s_answer(emulator: Emulator, http: httpx.Client) -> None:
    # Vertex AI's throttling 429 as posted (continuedev/continue#8967,
    # google-gemini/gemini-cli#15911): one sentence, no details, no retry hint.
    emulator.inject("429")
    vertex = "/v1/projects/p/locations/us-central1/publishers/google/models/"
    response = http.post(
        vertex + "gemini-embedding-001:embedContent",
        json=BODY,
        headers={"authorization": "Bearer t"},
    )
    assert response.status_code == 429
    assert "retry-after" not in response.headers
    assert response.json() == {
        "error": {
            "code": 429,
            "message": "Resource exhausted. Please try again later. Please refer to "
            "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more "
            "details.",
            "status": "RESOURCE_EXHAUSTED",
        }
    }


def test_retry_delay_is_whole_seconds_cut_down(emulator: Emulator, http: httpx.Client) -> None:
    # "Please retry in 58.934310785s." goes with retryDelay "58s" (python-genai#2114).
    emulator.faults = {"retry_delay_s": 2.75}
    emulator.inject("429")
    error = http.post(PATH, json=BODY).json()["error"]

    assert error["message"].endswith("\nPlease retry in 2.75s.")
    assert error["details"][-1]["retryDelay"] == "2s"


def test_retry_delay_under_a_second_stays_fractional(
    emulator: Emulator, http: httpx.Client
) -> None:
    emulator.faults = {"retry_delay_s": 0.5}
    emulator.inject("429")
    response = http.post(PATH, json=BODY)

    assert "retry-after" not in response.headers
    assert response.json()["error"]["details"][-1]["retryDelay"] == "0.5s"


@pytest.mark.parametrize(
    ("kind", "status", "name"), [("500", 500, "INTERNAL"), ("503", 503, "UNAVAILABLE")]
)
def test_injected_server_errors(
    emulator: Emulator, http: httpx.Client, kind: str, status: int, name: str
) -> None:
    emulator.inject(kind)
    response = http.post(PATH, json=BODY)

    assert response.status_code == status
    assert response.json()["error"]["status"] == name
    if kind == "503":
        assert response.json()["error"]["message"] == (
            "The model is overloaded. Please try again later."
        )


def test_reset_is_a_connection_error(emulator: Emulator, http: httpx.Client) -> None:
    emulator.inject("reset")

    with pytest.raises(httpx.TransportError):
        http.post(PATH, json=BODY)
    assert http.post(PATH, json=BODY).status_code == 200  # the client reconnects
    assert [r.status for r in emulator.requests] == ["reset", 200]


def _transport_errors() -> tuple[type[Exception], ...]:
    """google-genai >= 3 sends through httpx2 (a fork of httpx) when it is installed."""
    try:
        import httpx2
    except ImportError:
        return (httpx.TransportError,)
    return (httpx.TransportError, httpx2.TransportError)


def test_reset_reaches_google_genai_as_a_transport_error(emulator: Emulator) -> None:
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emulator.base_url))
    emulator.inject("reset")

    with pytest.raises(_transport_errors()):
        client.models.embed_content(model="gemini-embedding-001", contents="x")


def test_script_runs_in_order(emulator: Emulator, http: httpx.Client) -> None:
    emulator.inject("503", "ok", "429")

    statuses = [http.post(PATH, json=BODY).status_code for _ in range(4)]
    assert statuses == [503, 200, 429, 200]


def test_unknown_outcome_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ValueError, match="unknown outcomes"):
        emulator.inject("418")


def test_bad_faults_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault keys"):
        Emulator(faults={"404": 0.5})
    with pytest.raises(ValueError, match="sum to"):
        Emulator(faults={"429": 0.7, "500": 0.7})


async def test_slow_answers_late_without_blocking_others(emulator: Emulator) -> None:
    emulator.faults = {"slow_seconds": 0.6}
    emulator.inject("slow")
    async with httpx.AsyncClient(base_url=emulator.base_url, timeout=10) as client:
        started = time.monotonic()

        async def timed() -> tuple[int, float]:
            response = await client.post(PATH, json=BODY)
            return response.status_code, time.monotonic() - started

        slow = asyncio.create_task(timed())
        await asyncio.sleep(0.05)  # let the slow request take the scripted outcome first
        fast_status, fast_elapsed = await timed()
        slow_status, slow_elapsed = await slow

    assert (slow_status, fast_status) == (200, 200)
    assert slow_elapsed >= 0.6
    assert fast_elapsed < 0.5


def seen_statuses(seed: int, n: int = 60) -> list[int | str | None]:
    with Emulator(faults={"429": 0.2, "500": 0.1, "503": 0.1}, seed=seed) as emu:
        with httpx.Client(base_url=emu.base_url) as http:
            for _ in range(n):
                http.post(PATH, json=BODY)
        return [r.status for r in emu.requests]


def test_random_faults_are_reproducible() -> None:
    first = seen_statuses(seed=7)

    assert first == seen_statuses(seed=7)
    assert first != seen_statuses(seed=8)
    assert {429, 500, 503, 200} <= set(first)


def test_clear_injected_drops_unused_outcomes(emulator: Emulator, http: httpx.Client) -> None:
    emulator.inject("503", "503")
    assert emulator.clear_injected() == 2
    assert emulator.clear_injected() == 0
    response = http.post(
        "/v1beta/models/gemini-embedding-001:embedContent",
        json={"content": {"parts": [{"text": "x"}]}},
    )
    assert response.status_code == 200
