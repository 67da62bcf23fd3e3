"""generateContent / streamGenerateContent over raw HTTP: validation, grounding, media
notes, limits, safety triggers, function calling, JSON output and the dispatcher knobs."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from omniembed.emulator import Emulator
from tests import media_factory as media

GEN = "/v1beta/models/gemini-2.0-flash:generateContent"
GEN_25 = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
VERTEX = "/v1beta1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash"
CONTEXT = "Paris is the capital of France. Berlin is the capital of Germany. Rome is old."


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def ask(question: str, context: str = CONTEXT) -> dict[str, Any]:
    return {"contents": [user({"text": context}, {"text": question})]}


def text_of(body: dict[str, Any]) -> str:
    return "".join(p.get("text", "") for p in body["candidates"][0]["content"].get("parts", []))


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.headers["content-type"] == "text/event-stream"
    frames = response.text.split("\r\n\r\n")
    assert frames[-1] == ""
    assert all(f.startswith("data: ") for f in frames[:-1])
    return [json.loads(f.removeprefix("data: ")) for f in frames[:-1]]


def test_answer_is_the_best_overlapping_context_sentence(http: httpx.Client) -> None:
    response = http.post(GEN, json=ask("What is the capital of Germany?"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert text_of(body) == "Berlin is the capital of Germany."
    candidate = body["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    usage = body["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    assert usage["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}
    ]
    assert body["modelVersion"] == "gemini-2.0-flash"
    assert body["responseId"]


def test_same_request_same_answer_and_system_instruction_is_context(http: httpx.Client) -> None:
    request = {
        "systemInstruction": {"parts": [{"text": "The secret word is pineapple."}]},
        "contents": [user({"text": "What is the secret word?"})],
    }
    first, second = http.post(GEN, json=request).json(), http.post(GEN, json=request).json()

    assert text_of(first) == "The secret word is pineapple."
    assert first == second


def test_no_overlap_says_so(http: httpx.Client) -> None:
    body = http.post(GEN, json={"contents": [user({"text": "Hi"})]}).json()
    assert text_of(body) == 'Nothing in the context answers "Hi".'


def test_media_parts_are_seen(http: httpx.Client) -> None:
    parts = [
        media.inline(media.png(size=(32, 16)), "image/png"),
        media.inline(media.pdf(["Zebras are striped animals.", "Page two."]), "application/pdf"),
        {
            **media.inline(media.video(4), "video/mp4"),
            "videoMetadata": {"startOffset": "1s", "endOffset": "3s", "fps": 2},
        },
        media.inline(media.wav(1.0), "audio/wav"),
        {"text": "What are zebras?"},
    ]
    body = http.post(GEN, json={"contents": [user(*parts)]}).json()

    text = text_of(body)
    assert text.startswith("Zebras are striped animals.")
    assert text.endswith(
        "[seen: image/png 32x16, mostly red; application/pdf 2 pages; "
        "video/mp4 1s-3s at 2 fps, mostly red; audio/wav 1s, a steady tone near 440 Hz]"
    )
    details = {
        d["modality"]: d.get("tokenCount", 0) for d in body["usageMetadata"]["promptTokensDetails"]
    }
    assert details["IMAGE"] == 258
    assert details["DOCUMENT"] == 2 * 258
    assert details["VIDEO"] == 4 * 258  # 2 s at 2 fps
    assert details["AUDIO"] == 32
    assert list(details) == sorted(details)  # the service lists modalities alphabetically


@pytest.mark.parametrize(
    ("part", "message"),
    [
        ({"text": "x", "inlineData": {"mimeType": "image/png", "data": "AA=="}}, "Oneof field"),
        ({"inlineData": {"mimeType": "application/zip", "data": "AA=="}}, "Unsupported MIME"),
        ({"inlineData": {"mimeType": "image/png", "data": "AAAA"}}, "Unable to process"),
        ({"fileData": {"fileUri": "gs://b/o.png", "mimeType": "image/png"}}, "gs://"),
        ({"bogus": 1}, 'Unknown name "bogus"'),
        ({"text": "x", "videoMetadata": {"startOffset": "1s"}}, "only supported for video"),
    ],
)
def test_bad_parts_are_400(http: httpx.Client, part: dict[str, Any], message: str) -> None:
    response = http.post(GEN, json={"contents": [user(part)]})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({}, "contents is not specified"),
        ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "valid role"),
        ({"contents": [{"role": "user", "parts": []}]}, "must not be empty"),
        ({**ask("q"), "generationConfig": {"temperature": 3}}, "temperature"),
        ({**ask("q"), "generationConfig": {"maxOutputTokens": 10**6}}, "maxOutputTokens"),
        ({**ask("q"), "generationConfig": {"responseMimeType": "text/csv"}}, "allowed mimetypes"),
        ({**ask("q"), "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}, "Thinking"),
        (
            {**ask("q"), "safetySettings": [{"category": "HARM_X", "threshold": "BLOCK_NONE"}]},
            "HarmCategory",
        ),
        ({**ask("q"), "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}, "Mode"),
    ],
)
def test_bad_requests_are_400(http: httpx.Client, request_body: Any, message: str) -> None:
    response = http.post(GEN, json=request_body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]["message"]


def test_valid_config_and_safety_settings_are_accepted(http: httpx.Client) -> None:
    request = {
        **ask("What is the capital of France?"),
        "generationConfig": {
            "temperature": 0.2,
            "topP": 0.9,
            "topK": 20,
            "candidateCount": 2,
            "responseModalities": ["TEXT"],
            "seed": 1,
        },
        "safetySettings": [
            {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}
        ],
    }
    body = http.post(GEN, json=request).json()
    assert [c["index"] for c in body["candidates"]] == [0, 1]
    assert text_of(body) == "Paris is the capital of France."


def test_unknown_and_retired_models_are_404(http: httpx.Client) -> None:
    for model in ("gemini-9-ultra", "gemini-1.5-flash", "gemini-embedding-001"):
        response = http.post(f"/v1beta/models/{model}:generateContent", json=ask("q"))
        assert response.status_code == 404
        assert response.json()["error"]["message"].startswith(f"models/{model} is not found")
    response = http.post(f"{VERTEX.replace('2.5-flash', 'nope')}:generateContent", json=ask("q"))
    assert response.status_code == 404
    assert "Publisher Model" in response.json()["error"]["message"]


def test_request_over_20_mb_is_400(http: httpx.Client) -> None:
    big = {"contents": [user({"text": "x" * (21 * 1024 * 1024)})]}
    response = http.post(GEN, json=big)
    assert response.status_code == 400
    assert "payload size exceeds" in response.json()["error"]["message"]


def test_max_output_tokens_truncates(http: httpx.Client) -> None:
    request = {**ask("What is the capital of France?"), "generationConfig": {"maxOutputTokens": 3}}
    body = http.post(GEN, json=request).json()
    assert text_of(body) == "Paris is the"
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert body["usageMetadata"]["candidatesTokenCount"] == 3


def test_thinking_tokens_count_against_max_output_tokens(http: httpx.Client) -> None:
    """As on the service (recorded): a thinking model may spend the whole budget thinking."""
    request = {**ask("What is the capital of France?"), "generationConfig": {"maxOutputTokens": 5}}
    body = http.post("/v1beta/models/gemini-2.5-pro:generateContent", json=request).json()
    assert body["candidates"][0]["content"] == {"role": "model"}
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert body["usageMetadata"]["thoughtsTokenCount"] == 5
    no_thinking = {
        **request,
        "generationConfig": {"maxOutputTokens": 5, "thinkingConfig": {"thinkingBudget": 0}},
    }
    body = http.post(GEN_25, json=no_thinking).json()
    assert text_of(body) == "Paris is the capital of"
    assert "thoughtsTokenCount" not in body["usageMetadata"]


def test_stop_sequences_cut_before_the_first_match(http: httpx.Client) -> None:
    request = {
        **ask("What is the capital of France?"),
        "generationConfig": {"stopSequences": ["France", "capital"]},
    }
    body = http.post(GEN, json=request).json()
    assert text_of(body) == "Paris is the "
    assert body["candidates"][0]["finishReason"] == "STOP"


def test_stream_is_sse_chunks_that_join_to_the_answer(http: httpx.Client) -> None:
    question = "Which sentence tells about the capital of France and its old big city?"
    full = text_of(http.post(GEN, json=ask(question)).json())
    events = sse_events(http.post(STREAM, json=ask(question)))

    assert len(events) >= 2
    assert "".join(text_of(e) for e in events) == full
    assert all("finishReason" not in e["candidates"][0] for e in events[:-1])
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "candidatesTokenCount" not in events[0]["usageMetadata"]  # gemini-2.0 style
    assert events[-1]["usageMetadata"]["candidatesTokenCount"] > 0
    assert len({e["responseId"] for e in events}) == 1


def test_stream_without_alt_sse_is_a_json_array(http: httpx.Client) -> None:
    response = http.post(STREAM.removesuffix("?alt=sse"), json=ask("capital of France?"))
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), list)


def test_stream_validation_errors_are_plain_json_errors(http: httpx.Client) -> None:
    response = http.post(STREAM, json={})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_block_prompt_trigger(http: httpx.Client) -> None:
    body = http.post(GEN, json=ask("EMULATOR_BLOCK_PROMPT what now?")).json()
    assert "candidates" not in body
    assert body["promptFeedback"]["blockReason"] == "SAFETY"
    assert any(r["probability"] == "HIGH" for r in body["promptFeedback"]["safetyRatings"])
    [event] = sse_events(http.post(STREAM, json=ask("EMULATOR_BLOCK_PROMPT what now?")))
    assert event["promptFeedback"]["blockReason"] == "SAFETY"


def test_block_response_trigger(http: httpx.Client) -> None:
    question = "EMULATOR_BLOCK_RESPONSE tell me about the capital of France and the old city"
    body = http.post(GEN, json=ask(question)).json()
    [candidate] = body["candidates"]
    assert candidate["finishReason"] == "SAFETY"
    assert "parts" not in candidate["content"]
    assert {
        "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
        "probability": "HIGH",
        "blocked": True,
    } in candidate["safetyRatings"]

    events = sse_events(http.post(STREAM, json=ask(question)))
    assert len(events) >= 2
    assert text_of(events[0])  # some text first ...
    assert events[-1]["candidates"][0]["finishReason"] == "SAFETY"  # ... then the block


WEATHER_TOOLS = [
    {
        "functionDeclarations": [
            {
                "name": "get_weather",
                "description": "Get the current weather forecast in a city.",
                "parameters": {
                    "type": "OBJECT",
                    "properties": {
                        "location": {"type": "STRING", "description": "City and state"},
                        "days": {"type": "INTEGER"},
                        "unit": {"type": "STRING", "enum": ["celsius", "fahrenheit"]},
                        "alerts": {"type": "BOOLEAN"},
                    },
                    "required": ["location", "days"],
                },
            },
            {
                "name": "book_table",
                "description": "Book a restaurant table.",
                "parametersJsonSchema": {
                    "type": "object",
                    "properties": {"people": {"type": "integer"}, "name": {"type": "string"}},
                    "required": ["people", "name"],
                },
            },
        ]
    }
]


def test_function_call_with_args_from_the_prompt(http: httpx.Client) -> None:
    request = {
        "contents": [
            user(
                {
                    "text": "What is the weather in San Francisco, CA for 3 days, "
                    "in fahrenheit, with alerts?"
                }
            )
        ],
        "tools": WEATHER_TOOLS,
    }
    body = http.post(GEN, json=request).json()
    [part] = body["candidates"][0]["content"]["parts"]
    assert part["functionCall"] == {
        "name": "get_weather",
        "args": {"location": "San Francisco, CA", "days": 3, "unit": "fahrenheit", "alerts": True},
    }
    assert body["candidates"][0]["finishReason"] == "STOP"


def test_function_calling_modes(http: httpx.Client) -> None:
    chat = {"contents": [user({"text": "Hello there"})], "tools": WEATHER_TOOLS}
    assert "functionCall" not in json.dumps(http.post(GEN, json=chat).json())  # AUTO: text

    forced = {
        **chat,
        "toolConfig": {
            "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["book_table"]}
        },
    }
    [part] = http.post(GEN, json=forced).json()["candidates"][0]["content"]["parts"]
    assert part["functionCall"]["name"] == "book_table"
    assert set(part["functionCall"]["args"]) == {"people", "name"}

    weather = {**chat, "contents": [user({"text": "Weather in Oslo?"})]}
    none = {**weather, "toolConfig": {"functionCallingConfig": {"mode": "NONE"}}}
    assert "functionCall" not in json.dumps(http.post(GEN, json=none).json())


def test_function_response_round_trip(http: httpx.Client) -> None:
    request = {
        "contents": [
            user({"text": "What is the weather in Oslo?"}),
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "get_weather", "args": {"location": "Oslo"}}}],
            },
            user(
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"forecast": "sunny, 21 C"},
                    }
                }
            ),
        ],
        "tools": WEATHER_TOOLS,
    }
    body = http.post(GEN, json=request).json()
    assert text_of(body) == "get_weather returned sunny, 21 C."


def test_json_output_conforms_to_the_schema(http: httpx.Client) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "kind": {"enum": ["village", "capital"]},
            "nested": {"$ref": "#/$defs/Nested"},
        },
        "required": ["city", "population", "tags", "kind", "nested"],
        "$defs": {"Nested": {"type": ["number", "null"]}},
    }
    request = {
        "contents": [user({"text": "Describe Paris, a capital with 2100000 people."})],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    value = json.loads(text_of(http.post(GEN, json=request).json()))
    jsonschema.validate(value, schema)
    assert value["city"] == "Paris"
    assert value["population"] == 2100000
    assert value["kind"] == "capital"


def test_json_output_without_schema_is_an_object(http: httpx.Client) -> None:
    request = {
        **ask("What is the capital of France?"),
        "generationConfig": {"responseMimeType": "application/json"},
    }
    assert json.loads(text_of(http.post(GEN, json=request).json())) == {
        "answer": "Paris is the capital of France."
    }


def test_vertex_generate_and_gs_uris(emulator: Emulator, http: httpx.Client) -> None:
    emulator.gcs_objects["gs://bucket/cat.png"] = media.png(size=(20, 10))
    request = {
        "contents": [
            user(
                {"fileData": {"fileUri": "gs://bucket/cat.png", "mimeType": "image/png"}},
                {"text": "What is in the picture?"},
            )
        ]
    }
    body = http.post(f"{VERTEX}:generateContent", json=request).json()
    assert text_of(body).endswith("[seen: image/png 20x10, mostly red]")
    assert body["usageMetadata"]["trafficType"] == "ON_DEMAND"
    assert "createTime" in body

    missing = {
        "contents": [
            user({"fileData": {"fileUri": "gs://bucket/none.png", "mimeType": "image/png"}})
        ]
    }
    response = http.post(f"{VERTEX}:generateContent", json=missing)
    assert response.status_code == 404
    events = sse_events(http.post(f"{VERTEX}:streamGenerateContent?alt=sse", json=request))
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_auth_quota_and_faults_apply(emulator: Emulator, http: httpx.Client) -> None:
    emulator.api_key = "secret"
    assert http.post(GEN, json=ask("q")).status_code == 403
    assert http.post(STREAM, json=ask("q"), headers={"x-goog-api-key": "bad"}).status_code == 400
    ok = {"x-goog-api-key": "secret"}
    assert http.post(GEN, json=ask("q"), headers=ok).status_code == 200

    emulator.quotas = {"streamGenerateContent": 60}
    statuses = [http.post(STREAM, json=ask("q"), headers=ok).status_code for _ in range(3)]
    assert statuses[0] == 200 and 429 in statuses

    emulator.quotas = None
    emulator.inject("503", "reset")
    assert http.post(STREAM, json=ask("q"), headers=ok).status_code == 503
    with pytest.raises(httpx.TransportError):  # reset before the first chunk
        http.post(STREAM, json=ask("q"), headers=ok)
    assert [r.status for r in emulator.requests][-2:] == [503, "reset"]
