"""Built-in tools (codeExecution, urlContext) answered in the shapes the real Gemini API
recorded (pydantic-ai's test_code_execution* and test_google_model_web_fetch_tool*
cassettes); Google Search is accepted but not grounded (docs/emulator.md)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.emulator.test_emulator_generate import ask, sse_events, text_of

GEN_3 = "/v1beta/models/gemini-3-flash-preview:generateContent"
STREAM_3 = "/v1beta/models/gemini-3-flash-preview:streamGenerateContent?alt=sse"
GEN_25 = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM_25 = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


def with_tool(tool: str, question: str = "What is the capital of Germany?") -> dict[str, Any]:
    return {**ask(question), "tools": [{tool: {}}]}


def test_code_execution_shows_code_result_then_text(http: httpx.Client) -> None:
    response = http.post(GEN_3, json=with_tool("codeExecution"))

    assert response.status_code == 200, response.text
    body = response.json()
    parts = body["candidates"][0]["content"]["parts"]
    code, result, text = parts
    assert set(code) == {"executableCode", "thoughtSignature"}  # Gemini 3 signs the code
    assert code["executableCode"]["language"] == "PYTHON"
    assert result["codeExecutionResult"]["outcome"] == "OUTCOME_OK"
    assert result["codeExecutionResult"]["id"] == code["executableCode"]["id"]
    assert result["codeExecutionResult"]["output"] == text["text"] + "\n"
    assert text["text"] == "Berlin is the capital of Germany."
    usage = body["usageMetadata"]
    assert usage["toolUsePromptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["toolUsePromptTokenCount"]}
    ]
    assert http.post(GEN_3, json=with_tool("codeExecution")).json() == body  # deterministic


def test_code_execution_stream_opens_with_code_and_result(http: httpx.Client) -> None:
    events = sse_events(http.post(STREAM_3, json=with_tool("codeExecution")))

    first = events[0]["candidates"][0]["content"]["parts"]
    assert [sorted(p) for p in first] == [["executableCode", "thoughtSignature"], ["text"]]
    assert first[1]["text"] == ""
    second = events[1]["candidates"][0]["content"]["parts"]
    assert [list(p) for p in second] == [["codeExecutionResult"]]
    assert "".join(text_of(e) for e in events[2:]) == "Berlin is the capital of Germany."
    assert "toolUsePromptTokenCount" in events[-1]["usageMetadata"]
    assert "toolUsePromptTokenCount" not in events[0]["usageMetadata"]


def test_url_context_names_the_urls_it_read(http: httpx.Client) -> None:
    question = "What is the first sentence on the page https://ai.pydantic.dev? Reply briefly."
    body = http.post(GEN_25, json=with_tool("urlContext", question)).json()

    candidate = body["candidates"][0]
    assert candidate["urlContextMetadata"] == {
        "urlMetadata": [
            {
                "retrievedUrl": "https://ai.pydantic.dev",
                "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS",
            }
        ]
    }
    grounding = candidate["groundingMetadata"]
    assert grounding["groundingChunks"] == [
        {"web": {"uri": "https://ai.pydantic.dev", "title": "ai.pydantic.dev"}}
    ]
    text = text_of(body)
    assert grounding["groundingSupports"] == [
        {"segment": {"endIndex": len(text.encode()), "text": text}, "groundingChunkIndices": [0]}
    ]
    assert body["usageMetadata"]["toolUsePromptTokenCount"] > 0


def test_url_context_stream_grounds_on_the_last_chunk(http: httpx.Client) -> None:
    question = "Summarise https://example.com/a and https://example.org/b, please."
    events = sse_events(http.post(STREAM_25, json=with_tool("urlContext", question)))

    first, last = events[0]["candidates"][0], events[-1]["candidates"][0]
    assert first["groundingMetadata"] == {}
    retrieved = [u["retrievedUrl"] for u in first["urlContextMetadata"]["urlMetadata"]]
    assert retrieved == ["https://example.com/a", "https://example.org/b"]
    assert "urlContextMetadata" not in last
    support = last["groundingMetadata"]["groundingSupports"][0]
    assert support["segment"]["text"] == "".join(text_of(e) for e in events)
    assert support["groundingChunkIndices"] == [0, 1]


def test_url_context_without_a_url_and_search_add_no_metadata(http: httpx.Client) -> None:
    for tool in ("urlContext", "googleSearch"):
        body = http.post(GEN_25, json=with_tool(tool)).json()
        candidate = body["candidates"][0]
        assert "groundingMetadata" not in candidate and "urlContextMetadata" not in candidate
        assert "toolUsePromptTokenCount" not in body["usageMetadata"]
