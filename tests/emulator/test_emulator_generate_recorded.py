"""Generation behaviour learnt from the real recordings in ``shared/wire-samples`` (issue 16
item 4): each test names the recorded exchanges that show the service doing it, so a
regression here is a regression against the real service. The recordings themselves are
replayed by ``test_conformance_checker.test_shared_recordings``; these tests pin each rule
without them (they run in a plain clone too).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests import media_factory as media
from tests.emulator import audio_factory

VERTEX = "/v1beta1/projects/p/locations/global/publishers/google/models"
GEMINI = "/v1beta/models"


def ask(question: str = "Reply with exactly: OK") -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": question}]}]}


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    frames = response.text.split("\r\n\r\n")
    return [json.loads(f.removeprefix("data: ")) for f in frames if f]


# --- Vertex candidates: no index, avgLogprobs on whole answers -----------------------------------
# pydantic-ai's test_google_vertex_logprobs*, test_google_vertex_service_tier_flex(_stream)
# and test_multimodal_tool_returns__*[google_vertex] cassettes.


def test_vertex_candidates_have_no_index_and_whole_answers_have_avg_logprobs(
    http: httpx.Client,
) -> None:
    for model in ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-3-flash-preview"):
        body = http.post(f"{VERTEX}/{model}:generateContent", json=ask()).json()
        (candidate,) = body["candidates"]
        assert "index" not in candidate, model
        assert isinstance(candidate["avgLogprobs"], float), model

        events = sse_events(
            http.post(f"{VERTEX}/{model}:streamGenerateContent?alt=sse", json=ask())
        )
        for event in events:
            for candidate in event["candidates"]:
                assert "index" not in candidate and "avgLogprobs" not in candidate, model


def test_vertex_sends_the_index_of_later_candidates_only(http: httpx.Client) -> None:
    request = {**ask(), "generationConfig": {"candidateCount": 2}}
    body = http.post(f"{VERTEX}/gemini-2.5-flash:generateContent", json=request).json()
    assert [c.get("index") for c in body["candidates"]] == [None, 1]


def test_vertex_answers_grounded_on_google_search_have_no_avg_logprobs(http: httpx.Client) -> None:
    request = {**ask("What is the weather in Paris?"), "tools": [{"googleSearch": {}}]}
    body = http.post(f"{VERTEX}/gemini-2.5-flash:generateContent", json=request).json()
    assert "avgLogprobs" not in body["candidates"][0]


def test_gemini_api_keeps_its_index_and_no_avg_logprobs_from_2_5_on(http: httpx.Client) -> None:
    body = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=ask()).json()
    assert body["candidates"][0]["index"] == 0
    assert "avgLogprobs" not in body["candidates"][0]
    old = http.post(f"{GEMINI}/gemini-2.0-flash:generateContent", json=ask()).json()
    assert "index" not in old["candidates"][0] and "avgLogprobs" in old["candidates"][0]


# --- newer models --------------------------------------------------------------------------------
# pydantic-ai's test_tool_search__test_google_deferred_capability_announcement_live
# (gemini-3.6-flash), test_google_model_gemini_3_5_flash, test_google_model_top_k
# (gemini-3.1-flash-lite); llm-gemini's gemini-flash-latest cassettes (modelVersion
# gemini-3.6-flash).


def test_newer_gemini_3_models_answer_signed(http: httpx.Client) -> None:
    for model in ("gemini-3.6-flash", "gemini-3.5-flash", "gemini-3.1-flash-lite"):
        body = http.post(f"{GEMINI}/{model}:generateContent", json=ask()).json()
        assert body["modelVersion"] == model
        (part,) = body["candidates"][0]["content"]["parts"]
        assert part["thoughtSignature"], model
        assert body["candidates"][0]["index"] == 0
    # gemini-3.1-flash-lite thinks at the "minimal" level by default: no thinking tokens.
    lite = http.post(f"{GEMINI}/gemini-3.1-flash-lite:generateContent", json=ask()).json()
    assert "thoughtsTokenCount" not in lite["usageMetadata"]
    thinking = {**ask(), "generationConfig": {"thinkingConfig": {"thinkingLevel": "HIGH"}}}
    deeper = http.post(f"{GEMINI}/gemini-3.1-flash-lite:generateContent", json=thinking).json()
    assert deeper["usageMetadata"]["thoughtsTokenCount"] > 0
    latest = http.post(f"{GEMINI}/gemini-flash-latest:generateContent", json=ask()).json()
    assert latest["modelVersion"] == "gemini-3.6-flash"


# --- thoughtSignature: gemini-2.5 signs only with tools; gemini-3 always -------------------------


def test_gemini_2_5_signs_only_answers_to_requests_with_tools(http: httpx.Client) -> None:
    plain = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=ask()).json()
    assert plain["usageMetadata"]["thoughtsTokenCount"] > 0
    assert "thoughtSignature" not in plain["candidates"][0]["content"]["parts"][0]
    weather = {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
    }
    request = {**ask("Call get_weather for Paris."), "tools": [{"functionDeclarations": [weather]}]}
    called = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request).json()
    assert called["candidates"][0]["content"]["parts"][0]["thoughtSignature"]


# --- Gemini 3 streams ----------------------------------------------------------------------------


def test_gemini_3_text_stream_ends_with_a_signed_empty_part(http: httpx.Client) -> None:
    question = ask("Say something long and kind about the weather today.")
    for path in (
        f"{GEMINI}/gemini-3-flash-preview:streamGenerateContent?alt=sse",
        f"{VERTEX}/gemini-3-flash-preview:streamGenerateContent?alt=sse",
    ):
        events = sse_events(http.post(path, json=question))
        assert len(events) > 2
        *body, last = events
        assert all("thoughtSignature" not in p for e in body for p in _parts(e))
        assert all("finishReason" not in e["candidates"][0] for e in body)
        assert _parts(last) == [
            {"text": "", "thoughtSignature": _parts(last)[0]["thoughtSignature"]}
        ]
        assert last["candidates"][0]["finishReason"] == "STOP"


def test_gemini_3_streamed_call_has_no_finish_message(http: httpx.Client) -> None:
    weather = {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
    }
    request = {**ask("Call get_weather for Paris."), "tools": [{"functionDeclarations": [weather]}]}
    url = f"{GEMINI}/gemini-3-pro-preview:streamGenerateContent?alt=sse"
    call, end = sse_events(http.post(url, json=request))
    (part,) = _parts(call)
    assert part["functionCall"]["name"] == "get_weather" and part["thoughtSignature"]
    assert "finishReason" not in call["candidates"][0]
    assert _parts(end) == [{"text": ""}]
    assert end["candidates"][0]["finishReason"] == "STOP"
    assert "finishMessage" not in end["candidates"][0]
    assert call["usageMetadata"] == end["usageMetadata"]
    # Unary answers keep it, and gemini-2.5 streams send the call in one chunk with it.
    unary = http.post(f"{GEMINI}/gemini-3-pro-preview:generateContent", json=request).json()
    assert unary["candidates"][0]["finishMessage"] == "Model generated function call(s)."
    url_25 = f"{GEMINI}/gemini-2.5-flash:streamGenerateContent?alt=sse"
    (only,) = sse_events(http.post(url_25, json=request))
    assert only["candidates"][0]["finishMessage"] == "Model generated function call(s)."


def _parts(event: dict[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = event["candidates"][0]["content"].get("parts", [])
    return parts


# --- lower-case schema types ---------------------------------------------------------------------
# llm-gemini's test_tools*, test_nested_model_* and test_prompt_with_* cassettes: the service
# answered 200 to "type": "object" / "string" / "integer" / "null" in the OpenAPI dialect.


def test_lower_case_schema_types_are_accepted(http: httpx.Client) -> None:
    multiply = {
        "name": "multiply",
        "description": "Multiply two numbers.",
        "parameters": {
            "type": "object",
            "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}},
            "required": ["x", "y"],
        },
    }
    request = {**ask("Use multiply for 5 times 3"), "tools": [{"functionDeclarations": [multiply]}]}
    body = http.post(f"{GEMINI}/gemini-3-flash-preview:generateContent", json=request).json()
    call = body["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {"name": "multiply", "args": {"x": 5, "y": 3}}

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "employer": {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
        },
        "required": ["name", "employer"],
    }
    config = {"responseMimeType": "application/json", "responseSchema": schema}
    request = {**ask("Create a person named 'Bob'"), "generationConfig": config}
    answer = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request).json()
    assert json.loads(answer["candidates"][0]["content"]["parts"][0]["text"])["name"] == "Bob"

    schema["type"] = "objekt"
    refused = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request)
    assert refused.status_code == 400
    assert '(type.googleapis.com/Type), "objekt"' in refused.json()["error"]["message"]


# --- promptTokensDetails -------------------------------------------------------------------------
# pydantic-ai's test_multimodal_tool_returns__* cassettes (google_2_5, google_gemini3,
# google_vertex), test_google_model_video_as_binary_content_input and the YouTube ones.


def _details(body: dict[str, Any]) -> dict[str, int]:
    return {
        d["modality"]: d.get("tokenCount", 0) for d in body["usageMetadata"]["promptTokensDetails"]
    }


def test_media_a_function_returned_is_seen_and_billed(http: httpx.Client) -> None:
    picture = {"inlineData": {"mimeType": "image/png", "data": media.b64(media.png())}}
    request = {
        "contents": [
            {"role": "user", "parts": [{"text": "Use get_file, then describe it."}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_file", "args": {}}}]},
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "name": "get_file",
                            "response": {},
                            "parts": [picture],
                        }
                    }
                ],
            },
        ]
    }
    for base in (GEMINI, VERTEX):
        body = http.post(f"{base}/gemini-3-flash-preview:generateContent", json=request).json()
        assert _details(body)["IMAGE"] == 258
        assert (
            "[seen: image/png 64x64, mostly red]"
            in body["candidates"][0]["content"]["parts"][0]["text"]
        )
    bad = {"functionResponse": {"name": "get_file", "response": {}, "parts": [{"text": "x"}]}}
    request["contents"][2]["parts"] = [bad]
    refused = http.post(f"{GEMINI}/gemini-3-flash-preview:generateContent", json=request)
    assert refused.status_code == 400
    assert 'Unknown name "text"' in refused.json()["error"]["message"]


def test_gemini_3_bills_pdf_pages_as_images(http: httpx.Client) -> None:
    pdf = media.inline(media.pdf(["Zebras are striped."]), "application/pdf")
    request = {"contents": [{"role": "user", "parts": [pdf, {"text": "What are zebras?"}]}]}
    newer = http.post(f"{GEMINI}/gemini-3-flash-preview:generateContent", json=request).json()
    older = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request).json()
    assert set(_details(newer)) == {"IMAGE", "TEXT"}
    assert set(_details(older)) == {"DOCUMENT", "TEXT"}


def test_a_video_s_sound_is_billed_as_audio_by_model_family(http: httpx.Client) -> None:
    silent = media.inline(audio_factory.clip(2.0), "video/mp4")
    voiced = media.inline(
        audio_factory.clip(2.0, sound=audio_factory.tone(2.0, 440.0)), "video/mp4"
    )

    def audio(model: str, part: dict[str, Any]) -> int | None:
        request = {"contents": [{"role": "user", "parts": [part, {"text": "What is this?"}]}]}
        body = http.post(f"{GEMINI}/{model}:generateContent", json=request).json()
        return _details(body).get("AUDIO")

    assert audio("gemini-2.0-flash", silent) == 0  # listed, without a tokenCount
    assert audio("gemini-2.5-flash", silent) == 64  # 2 s at 32 tokens per second
    assert audio("gemini-3-flash-preview", silent) is None
    for model in ("gemini-2.0-flash", "gemini-2.5-flash", "gemini-3-flash-preview"):
        assert (audio(model, voiced) or 0) >= 64, model  # the AAC track runs a little longer


def test_a_video_at_a_url_is_assumed_to_have_sound(http: httpx.Client) -> None:
    youtube = {"fileData": {"fileUri": "https://youtu.be/lCdaVNyHtjU", "mimeType": "video/mp4"}}
    request = {"contents": [{"role": "user", "parts": [youtube, {"text": "Explain this video"}]}]}
    for base in (GEMINI, VERTEX):
        body = http.post(f"{base}/gemini-2.5-flash:generateContent", json=request).json()
        assert set(_details(body)) == {"AUDIO", "TEXT", "VIDEO"}


# --- a part holding only videoMetadata -----------------------------------------------------------
# pydantic-ai's test_google_model_video_as_binary_content_input_with_vendor_metadata: 200.


def test_a_part_with_only_video_metadata_is_accepted(http: httpx.Client) -> None:
    video = media.inline(media.video(2.0), "video/mp4")
    metadata = {"videoMetadata": {"startOffset": "2s", "endOffset": "10s"}}
    request = {
        "contents": [
            {"role": "user", "parts": [{"text": "Explain me this video"}, video, metadata]}
        ]
    }
    response = http.post(f"{GEMINI}/gemini-2.0-flash:generateContent", json=request)
    assert response.status_code == 200, response.text
    metadata["videoMetadata"]["startOffset"] = "soon"
    refused = http.post(f"{GEMINI}/gemini-2.0-flash:generateContent", json=request)
    assert refused.status_code == 400
    assert "google.protobuf.Duration" in refused.json()["error"]["message"]


# --- countTokens on generation models ------------------------------------------------------------
# pydantic-ai's test_google_model_usage_limit_exceeded (Gemini API), test_google_vertexai_
# count_tokens_forwards_native_tools and test_google_vertexai_model_usage_limit_exceeded
# (Vertex AI).


def test_count_tokens_of_a_generation_model(http: httpx.Client) -> None:
    contents = [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}]
    gemini = http.post(f"{GEMINI}/gemini-2.5-flash:countTokens", json={"contents": contents})
    assert gemini.status_code == 200, gemini.text
    body = gemini.json()
    assert set(body) == {"totalTokens", "promptTokensDetails"}
    assert body["promptTokensDetails"] == [{"modality": "TEXT", "tokenCount": body["totalTokens"]}]
    whole = {"generateContentRequest": {"model": "models/gemini-2.5-flash", "contents": contents}}
    assert http.post(f"{GEMINI}/gemini-2.5-flash:countTokens", json=whole).json() == body

    request = {
        "contents": contents,
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a helpful chatbot."}]},
        "tools": [{"googleSearch": {}}],
        "generationConfig": {"max_output_tokens": 100},
    }
    vertex = http.post(f"{VERTEX}/gemini-2.5-flash:countTokens", json=request).json()
    assert set(vertex) == {"totalTokens", "promptTokensDetails", "totalBillableCharacters"}
    assert vertex["totalBillableCharacters"] == 47  # as recorded: whitespace is not billed
    assert vertex["totalTokens"] > body["totalTokens"]  # the system instruction counts

    picture = media.inline(media.png(), "image/png")
    with_media = {"contents": [{"role": "user", "parts": [picture, {"text": "What is it?"}]}]}
    counted = http.post(f"{GEMINI}/gemini-2.5-flash:countTokens", json=with_media).json()
    assert [d["modality"] for d in counted["promptTokensDetails"]] == ["IMAGE", "TEXT"]

    missing = http.post(f"{GEMINI}/gemini-9-ultra:countTokens", json={"contents": contents})
    assert missing.status_code == 404
    assert "not supported for countTokens" in missing.json()["error"]["message"]
    assert http.post(f"{VERTEX}/gemini-9-ultra:countTokens", json=request).status_code == 404
    empty = http.post(f"{GEMINI}/gemini-2.5-flash:countTokens", json={})
    assert empty.status_code == 400
    assert "CountTokensRequest" in empty.json()["error"]["message"]


# --- the model list ------------------------------------------------------------------------------
# llm-gemini's test_cli_gemini_models.yaml: GET v1beta/models, 50 models and a nextPageToken.

#: The keys of a generation model's entry in the recorded list.
RECORDED_MODEL_KEYS = {
    "name", "version", "displayName", "description", "inputTokenLimit", "outputTokenLimit",
    "supportedGenerationMethods", "temperature", "topP", "topK", "maxTemperature", "thinking",
}  # fmt: skip


def test_get_a_generation_model(http: httpx.Client) -> None:
    body = http.get(f"{GEMINI}/gemini-2.5-flash").json()
    assert set(body) == RECORDED_MODEL_KEYS
    assert body["name"] == "models/gemini-2.5-flash"
    assert (body["inputTokenLimit"], body["outputTokenLimit"]) == (1048576, 65536)
    assert body["supportedGenerationMethods"] == [
        "generateContent", "countTokens", "createCachedContent", "batchGenerateContent",
    ]  # fmt: skip
    old = http.get(f"{GEMINI}/gemini-2.0-flash").json()
    assert "thinking" not in old and old["topK"] == 40
    assert http.get(f"{GEMINI}/gemini-9-ultra").status_code == 404


def test_model_list_pages(http: httpx.Client) -> None:
    everything = http.get(GEMINI).json()
    assert "nextPageToken" not in everything  # one page of 50 holds the emulator's catalogue
    names = [m["name"] for m in everything["models"]]
    assert names[0] == "models/gemini-2.5-flash"  # the recorded order
    assert {"models/gemini-3.6-flash", "models/gemini-embedding-001"} <= set(names)

    paged: list[str] = []
    token = None
    while True:
        params = {"pageSize": "4", **({"pageToken": token} if token else {})}
        page = http.get(GEMINI, params=params).json()
        paged += [m["name"] for m in page["models"]]
        token = page.get("nextPageToken")
        if token is None:
            break
        assert len(page["models"]) == 4
    assert paged == names

    bad = http.get(GEMINI, params={"pageToken": "not-a-token"})
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_google_genai_lists_and_gets_models(emulator: Any) -> None:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(base_url=emulator.base_url, api_version="v1beta")
    client = genai.Client(api_key="k", http_options=options)
    listed = [m.name for m in client.models.list(config={"page_size": 5})]
    assert "models/gemini-3.5-flash" in listed and len(listed) == len(set(listed)) > 5
    model = client.models.get(model="gemini-2.5-flash")
    assert (model.name, model.input_token_limit, model.thinking) == (
        "models/gemini-2.5-flash",
        1048576,
        True,
    )


# --- requests the service refuses ----------------------------------------------------------------
# No recording holds these 400s; the bodies are those users posted (cited in the emulator).


def _refusal(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    message: str = error["message"]
    return message


def test_bare_nan_and_infinity_are_invalid_json(http: httpx.Client) -> None:
    body = b'{"contents": [{"parts": [{"text": "NaN"}]}], "generationConfig": {"temperature": NaN}}'
    message = _refusal(
        http.post(
            f"{GEMINI}/gemini-2.5-flash:generateContent",
            content=body,
            headers={"content-type": "application/json"},
        )
    )
    assert message == (
        "Invalid JSON payload received. Unexpected token.\n"
        'g": {"temperature": NaN}}\n'
        "                    ^"
    )
    for token in (b"Infinity", b"-Infinity"):
        refused = http.post(
            f"{VERTEX}/gemini-2.5-flash:generateContent",
            content=b'{"contents": [], "x": ' + token + b"}",
            headers={"content-type": "application/json"},
        )
        assert "Unexpected token." in _refusal(refused)


def test_penalties_are_refused_by_gemini_2_5(http: httpx.Client) -> None:
    for name in ("presencePenalty", "frequencyPenalty"):
        request = {**ask(), "generationConfig": {name: 0.5}}
        refused = http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request)
        assert _refusal(refused) == "Penalty is not enabled for models/gemini-2.5-flash"
        accepted = http.post(f"{GEMINI}/gemini-2.0-flash:generateContent", json=request)
        assert accepted.status_code == 200


def test_json_output_with_forced_function_calls_is_refused(http: httpx.Client) -> None:
    weather = {"name": "get_weather", "parameters": {"type": "OBJECT", "properties": {}}}
    request: dict[str, Any] = {
        **ask("Weather in Paris?"),
        "tools": [{"functionDeclarations": [weather]}],
        "generationConfig": {"responseMimeType": "application/json"},
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    expected = "Function calling with a response mime type: 'application/json' is unsupported"
    for model in ("gemini-2.5-flash", "gemini-3-flash-preview"):
        refused = http.post(f"{GEMINI}/{model}:generateContent", json=request)
        assert _refusal(refused) == expected
    request["toolConfig"]["functionCallingConfig"]["mode"] = "AUTO"
    assert _refusal(http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request))
    newer = http.post(f"{GEMINI}/gemini-3-flash-preview:generateContent", json=request)
    assert newer.status_code == 200
    request["toolConfig"]["functionCallingConfig"]["mode"] = "NONE"
    assert http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request).status_code == 200


def test_thinking_level_and_budget_together_are_refused(http: httpx.Client) -> None:
    thinking = {"thinkingLevel": "LOW", "thinkingBudget": 1024}
    request = {**ask(), "generationConfig": {"thinkingConfig": thinking}}
    refused = http.post(f"{GEMINI}/gemini-flash-latest:generateContent", json=request)
    assert _refusal(refused) == "You can only set only one of thinking budget and thinking level."


def test_image_jpg_is_not_a_mime_type(http: httpx.Client) -> None:
    picture = {"inlineData": {"mimeType": "image/jpg", "data": media.b64(media.jpeg())}}
    request = {"contents": [{"role": "user", "parts": [picture, {"text": "What is it?"}]}]}
    for base in (GEMINI, VERTEX):
        refused = http.post(f"{base}/gemini-2.5-flash:generateContent", json=request)
        assert _refusal(refused) == "Unsupported MIME type: image/jpg"
    picture["inlineData"]["mimeType"] = "image/jpeg"
    assert http.post(f"{GEMINI}/gemini-2.5-flash:generateContent", json=request).status_code == 200
