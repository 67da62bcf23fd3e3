"""`GeminiGenerator` with the real google-genai SDK against the emulator: what reaches the
wire (parts, media, video clipping, config, uploads) and what comes back (text, tool calls,
usage, typed errors)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from omniembed import BlockedContentError, Media
from omniembed.emulator import Emulator
from omniembed.errors import (
    InvalidParameterError,
    MediaLimitError,
    ServerError,
    UnsupportedMediaError,
)
from omniembed.generation import (
    FileRef,
    GenerationConfig,
    MediaPart,
    Message,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from omniembed.providers.gemini_llm import GeminiGenerator

from . import media_factory as make

CONTEXT = (
    "The lighthouse on Cape Nord was built in 1874. "
    "Its lamp is visible for twenty nautical miles. "
    "Seals rest on the rocks below it every spring."
)


def gemini(emu: Emulator, **kw: Any) -> GeminiGenerator:
    kw.setdefault("max_retries", 2)
    return GeminiGenerator(api_key="test-key", base_url=emu.base_url, **kw)


def vertex(emu: Emulator, **kw: Any) -> GeminiGenerator:
    return GeminiGenerator(
        vertexai=True,
        project="proj",
        location="us-central1",
        credentials=Credentials(token="token"),  # type: ignore[no-untyped-call]
        base_url=emu.base_url,
        **kw,
    )


def user(*parts: Any) -> list[Message]:
    return [Message("user", list(parts))]


def generate_requests(emu: Emulator) -> list[Any]:
    return [r for r in emu.requests if "enerateContent" in r.path]


def camel(value: Any) -> Any:
    """JSON with camelCase keys: google-genai sends dict parts in snake_case, which the
    service accepts as proto field names; compare in one spelling."""
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def sent_parts(emu: Emulator, index: int = -1) -> list[dict[str, Any]]:
    body = generate_requests(emu)[index].json
    return [camel(p) for content in body["contents"] for p in content["parts"]]


# --- text, grounding, config ---------------------------------------------------------------


def test_answer_is_grounded_in_the_context_and_reports_usage(emu: Emulator) -> None:
    llm = gemini(emu)
    result = llm.generate(
        user(f"Context: {CONTEXT}\n\nQuestion: how far is the lamp visible?"),
        system="Answer from the context only.",
    )
    assert "twenty nautical miles" in result.text
    assert result.finish_reason == "STOP"
    assert result.usage.prompt_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.total_tokens >= result.usage.prompt_tokens + result.usage.output_tokens
    body = generate_requests(emu)[0].json
    assert body["systemInstruction"]["parts"] == [{"text": "Answer from the context only."}]
    assert generate_requests(emu)[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert "usage_metadata" in result.raw


def test_generation_config_reaches_the_wire(emu: Emulator) -> None:
    config = GenerationConfig(
        temperature=0.2,
        top_p=0.9,
        top_k=20,
        max_output_tokens=64,
        stop_sequences=["END"],
        safety_settings={"HARM_CATEGORY_HATE_SPEECH": "BLOCK_LOW_AND_ABOVE"},
    )
    gemini(emu).generate(user("hello"), config=config)
    body = generate_requests(emu)[0].json
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 20,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
    }
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}
    ]


def test_max_tokens_truncates(emu: Emulator) -> None:
    result = gemini(emu).generate(
        user(f"Context: {CONTEXT} Question: when was the lighthouse built and what rests below?"),
        config=GenerationConfig(max_output_tokens=3),
    )
    assert result.finish_reason == "MAX_TOKENS"
    assert result.usage.output_tokens <= 3


def test_bad_safety_settings_fail_before_any_request(emu: Emulator) -> None:
    llm = gemini(emu)
    with pytest.raises(InvalidParameterError, match="unknown safety category 'HATE'"):
        llm.generate(user("hi"), config=GenerationConfig(safety_settings={"HATE": "BLOCK_NONE"}))
    with pytest.raises(InvalidParameterError, match="unknown safety threshold 'SOME'"):
        llm.generate(
            user("hi"),
            config=GenerationConfig(safety_settings={"HARM_CATEGORY_HARASSMENT": "SOME"}),
        )
    assert emu.requests == []


# --- media ---------------------------------------------------------------------------------


def test_every_media_kind_goes_inline_before_the_text(emu: Emulator) -> None:
    image = Media.from_bytes(make.png((200, 30, 30), size=(32, 24)))
    pdf = Media.from_bytes(make.pdf(["Quarterly report: revenue grew"]))
    audio = Media.from_bytes(make.wav(seconds=1.0))
    video = Media.from_bytes(make.video(seconds=3, fps=2, size=32))
    result = gemini(emu).generate(user("Describe these.", image, pdf, audio, video))
    parts = sent_parts(emu)
    mimes = [p["inlineData"]["mimeType"] for p in parts[:4]]
    assert mimes == ["image/png", "application/pdf", "audio/wav", "video/mp4"]
    assert parts[4] == {"text": "Describe these."}
    assert result.usage.prompt_tokens > 0


def test_video_clipping_and_fps(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=6, fps=2, size=32))
    gemini(emu).generate(user(MediaPart(video, 1.5, 4, fps=2), "What happens?"))
    assert sent_parts(emu)[0]["videoMetadata"] == {
        "startOffset": "1.5s",
        "endOffset": "4s",
        "fps": 2,
    }


def test_bad_video_clip_is_rejected_locally(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=2, fps=2, size=16))
    with pytest.raises(InvalidParameterError, match="end_offset_sec=1 must be after"):
        gemini(emu).generate(user(MediaPart(video, 3, 1)))
    with pytest.raises(InvalidParameterError, match="fps=30"):
        gemini(emu).generate(user(MediaPart(video, fps=30)))
    assert emu.requests == []


def test_gif_is_reencoded_and_unknown_formats_rejected(emu: Emulator) -> None:
    gemini(emu).generate(user(Media.from_bytes(make.gif()), "what is this?"))
    assert sent_parts(emu)[0]["inlineData"]["mimeType"] == "image/png"
    emu.clear_requests()
    with pytest.raises(UnsupportedMediaError, match="Gemini cannot read"):
        gemini(emu).generate(user(Media.from_bytes(b"PK\x03\x04zipdata", "application/zip")))
    assert emu.requests == []


def test_large_media_goes_through_the_files_api_once(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=4, fps=4, size=64))
    llm = gemini(emu, inline_limit_bytes=200, file_poll_interval=0.05)
    first = llm.generate(user(video, "What is in the video?"))
    upload_starts = [r for r in emu.requests if r.path.startswith("/upload/")]
    polls = [r for r in emu.requests if r.method == "GET" and "/files/" in r.path]
    assert upload_starts, "the video should have been uploaded"
    file_part = sent_parts(emu)[0]["fileData"]
    assert file_part["mimeType"] == "video/mp4"
    assert "/v1beta/files/" in file_part["fileUri"]
    assert polls, "a video is PROCESSING at first, so the client must poll until ACTIVE"
    assert first.text
    emu.clear_requests()
    llm.generate(user(video, "And again?"))
    assert not [r for r in emu.requests if r.path.startswith("/upload/")]
    assert sent_parts(emu)[0]["fileData"] == file_part
    assert llm.delete_uploads() == 1


def test_vertex_rejects_oversized_inline_media_and_takes_gs_uris(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=2, fps=2, size=32))
    with pytest.raises(MediaLimitError, match="gs:// URIs"):
        vertex(emu, inline_limit_bytes=100).generate(user(video, "hi"))
    assert emu.requests == []
    emu.gcs_objects["gs://bucket/clip.mp4"] = make.video(seconds=2, fps=2, size=32)
    vertex(emu).generate(user(Media.from_uri("gs://bucket/clip.mp4", "video/mp4"), "what?"))
    request = generate_requests(emu)[0]
    assert request.path.endswith(
        "/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert sent_parts(emu)[0]["fileData"] == {
        "fileUri": "gs://bucket/clip.mp4",
        "mimeType": "video/mp4",
    }


def test_gs_uris_and_files_api_are_backend_specific(emu: Emulator) -> None:
    with pytest.raises(InvalidParameterError, match="gs:// URIs work only on Vertex AI"):
        gemini(emu).generate(user(Media.from_uri("gs://b/x.mp4", "video/mp4")))
    with pytest.raises(InvalidParameterError, match="Files API exists only on the Gemini API"):
        vertex(emu).upload_file(Media.from_bytes(make.png(size=(8, 8))))
    assert emu.requests == []


def test_file_ref_by_id(emu: Emulator) -> None:
    llm = gemini(emu, file_poll_interval=0.05)
    ref = llm.upload_file(Media.from_bytes(make.pdf(["page one text"])))
    assert ref.mime_type == "application/pdf"
    name = "files/" + ref.uri.rsplit("/files/", 1)[1]
    assert llm.file_uri(name) == ref.uri
    llm.generate(user(FileRef(llm.file_uri(name), "application/pdf"), "summarize"))
    assert sent_parts(emu)[0]["fileData"]["fileUri"] == ref.uri


# --- safety --------------------------------------------------------------------------------


def test_blocked_prompt_and_response_raise_typed_errors(emu: Emulator) -> None:
    llm = gemini(emu)
    with pytest.raises(BlockedContentError) as prompt:
        llm.generate(user("EMULATOR_BLOCK_PROMPT tell me"))
    assert prompt.value.stage == "prompt"
    assert prompt.value.reason == "SAFETY"
    with pytest.raises(BlockedContentError) as response:
        llm.generate(user("EMULATOR_BLOCK_RESPONSE tell me"))
    assert response.value.stage == "response"
    assert response.value.reason == "SAFETY"
    assert response.value.safety_ratings
    # Not retried: the same request would be blocked again.
    assert len(generate_requests(emu)) == 2


def test_stream_block_keeps_the_partial_text(emu: Emulator) -> None:
    llm = gemini(emu)
    received: list[str] = []

    def consume() -> None:
        for chunk in llm.stream(user(f"Context: {CONTEXT} EMULATOR_BLOCK_RESPONSE seals?")):
            received.append(chunk.text)

    with pytest.raises(BlockedContentError) as blocked:
        consume()
    assert blocked.value.stage == "response"
    assert blocked.value.partial_text == "".join(received)


# --- streaming and retries -----------------------------------------------------------------


def test_stream_yields_several_chunks_with_final_usage(emu: Emulator) -> None:
    chunks = list(
        gemini(emu).stream(user(f"Context: {CONTEXT}\nQuestion: when was the lighthouse built?"))
    )
    assert len(chunks) >= 2
    text = "".join(c.text for c in chunks)
    assert "1874" in text
    assert chunks[-1].finish_reason == "STOP"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    assert generate_requests(emu)[0].query.get("alt") == "sse"


def test_retries_before_the_first_chunk(emu: Emulator) -> None:
    llm = gemini(emu, max_retries=3)
    emu.inject("503", "reset")
    assert llm.generate(user("hello there")).text
    emu.inject("503", "reset")
    assert "".join(c.text for c in llm.stream(user("hello there")))
    assert len(generate_requests(emu)) == 6


def test_gives_up_after_max_retries(emu: Emulator) -> None:
    emu.inject("500", "500", "500")
    with pytest.raises(ServerError) as failed:
        gemini(emu, max_retries=1).generate(user("hi"))
    assert failed.value.attempts == 2
    assert len(generate_requests(emu)) == 2


async def test_async_generate_and_stream(emu: Emulator) -> None:
    llm = gemini(emu)
    image = Media.from_bytes(make.png((0, 0, 255), size=(16, 16)))
    results = await asyncio.gather(
        llm.agenerate(user(image, f"Context: {CONTEXT} Question: what rests on the rocks?")),
        llm.agenerate(user("second question about the lamp")),
    )
    assert "Seals" in results[0].text
    chunks = [c async for c in llm.astream(user(f"Context: {CONTEXT} Question: seals?"))]
    assert "".join(c.text for c in chunks)
    assert chunks[-1].finish_reason == "STOP"


# --- tools and JSON ------------------------------------------------------------------------

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a location.",
    {
        "type": "object",
        "properties": {"location": {"type": "string", "description": "City and state"}},
        "required": ["location"],
    },
)


def test_tool_call_round_trip(emu: Emulator) -> None:
    llm = gemini(emu)
    config = GenerationConfig(tools=[WEATHER], tool_choice="any")
    first = llm.generate(user("What is the weather in San Francisco, CA?"), config=config)
    assert [c.name for c in first.tool_calls] == ["get_weather"]
    assert "San Francisco" in first.tool_calls[0].args["location"]
    body = generate_requests(emu)[0].json
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    call = first.tool_calls[0]
    history = [
        Message("user", ["What is the weather in San Francisco, CA?"]),
        Message("model", [call]),
        Message("user", [ToolResult(call.name, {"forecast": "sunny and 21 C"}, call.id)]),
    ]
    final = llm.generate(history, config=GenerationConfig(tools=[WEATHER]))
    assert not final.tool_calls
    assert "sunny" in final.text
    parts = sent_parts(emu)
    assert parts[1]["functionCall"]["name"] == "get_weather"
    assert parts[2]["functionResponse"]["response"] == {"forecast": "sunny and 21 C"}


def test_tool_choice_by_name_and_unknown_name(emu: Emulator) -> None:
    llm = gemini(emu)
    config = GenerationConfig(tools=[WEATHER], tool_choice="get_weather")
    llm.generate(user("Paris please"), config=config)
    assert generate_requests(emu)[0].json["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    with pytest.raises(InvalidParameterError, match="tool_choice='nope'"):
        llm.generate(user("x"), config=GenerationConfig(tools=[WEATHER], tool_choice="nope"))


def test_json_schema_output_conforms(emu: Emulator) -> None:
    schema = {
        "type": "object",
        "properties": {"setup": {"type": "string"}, "punchline": {"type": "string"}},
        "required": ["setup", "punchline"],
    }
    result = gemini(emu).generate(
        user("Tell me a joke about cats"), config=GenerationConfig(response_schema=schema)
    )
    joke = json.loads(result.text)
    assert set(joke) >= {"setup", "punchline"}
    assert all(isinstance(v, str) for v in joke.values())
    body = generate_requests(emu)[0].json
    assert body["generationConfig"]["responseMimeType"] == "application/json"
    assert body["generationConfig"]["responseJsonSchema"] == schema


def test_tool_call_parts_carry_ids(emu: Emulator) -> None:
    history = [
        Message("user", ["call it"]),
        Message("model", [ToolCall("get_weather", {"location": "Oslo"}, "call-7")]),
        Message("user", [ToolResult("get_weather", "rain", "call-7")]),
    ]
    gemini(emu).generate(history, config=GenerationConfig(tools=[WEATHER]))
    parts = sent_parts(emu)
    assert parts[1]["functionCall"]["id"] == "call-7"
    assert parts[2]["functionResponse"] == {
        "id": "call-7",
        "name": "get_weather",
        "response": {"result": "rain"},
    }


def test_no_secret_in_repr_and_not_picklable(emu: Emulator) -> None:
    import pickle

    llm = GeminiGenerator(api_key="sk-SECRET-123", base_url=emu.base_url)
    assert "SECRET" not in repr(llm)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(llm)


def test_interleaved_turns_keep_their_order(emu: Emulator) -> None:
    red = Media.from_bytes(make.png((255, 0, 0), size=(8, 8)))
    blue = Media.from_bytes(make.png((0, 0, 255), size=(8, 8)))
    gemini(emu).generate(user("Source [1]:", red, "Source [2]:", blue, "Which is red?"))
    kinds = ["text" if "text" in p else "media" for p in sent_parts(emu)]
    assert kinds == ["text", "media", "text", "media", "text"]
