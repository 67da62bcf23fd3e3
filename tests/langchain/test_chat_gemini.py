"""`ChatGemini` beyond the standard suites: every content-block form on the wire, the Files
API path, video clipping, tools, structured output, safety errors, usage, serialization."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from omniembed import BlockedContentError
from omniembed.emulator import Emulator
from omniembed.errors import InvalidParameterError
from omniembed.langchain import ChatGemini
from tests import media_factory as make
from tests.test_gemini_llm import camel, generate_requests, sent_parts

DATA = Path(__file__).parent.parent / "data"
KEY = "FAKE-CHAT-KEY-93ab1f"
CONTEXT = (
    "The Cape Nord lighthouse was built in 1874. Its lamp is visible for twenty nautical "
    "miles. Grey seals rest on the rocks below it every spring."
)


def chat(emu: Emulator, **kw: Any) -> ChatGemini:
    return ChatGemini(api_key=KEY, base_url=emu.base_url, max_retries=2, **kw)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_invoke_grounded_with_system_message_and_usage(emu: Emulator) -> None:
    answer = chat(emu).invoke(
        [
            SystemMessage(f"Answer from this context: {CONTEXT}"),
            HumanMessage("When was the lighthouse built?"),
        ]
    )
    assert "1874" in answer.content
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] > 0
    assert answer.response_metadata["finish_reason"] == "STOP"
    body = generate_requests(emu)[0].json
    assert "1874" in body["systemInstruction"]["parts"][0]["text"]


def test_every_block_form_reaches_the_wire_as_the_right_part(emu: Emulator) -> None:
    png, pdf, wav, mp4 = (
        DATA / n for n in ("red_apple.png", "lighthouse.pdf", "foghorn.wav", "harbour.mp4")
    )
    message = HumanMessage(
        [
            {"type": "text", "text": "Describe all of these."},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(png)}"}},
            {"type": "image", "base64": b64(png), "mime_type": "image/png"},
            {"type": "file", "base64": b64(pdf), "mime_type": "application/pdf"},
            {"type": "audio", "base64": b64(wav), "mime_type": "audio/wav"},
            {
                "type": "video",
                "base64": b64(mp4),
                "mime_type": "video/mp4",
                "extras": {"start_offset_sec": 1, "end_offset_sec": 3, "fps": 2},
            },
        ]
    )
    answer = chat(emu).invoke([message])
    parts = sent_parts(emu)
    assert [p["inlineData"]["mimeType"] for p in parts[:5]] == [
        "image/png",
        "image/png",
        "application/pdf",
        "audio/wav",
        "video/mp4",
    ]
    assert parts[4]["videoMetadata"] == {"startOffset": "1s", "endOffset": "3s", "fps": 2}
    assert parts[5] == {"text": "Describe all of these."}  # media first, then the prompt
    assert "video/mp4 1s-3s at 2 fps" in str(answer.content)


def test_file_id_blocks_and_large_media_use_the_files_api(emu: Emulator) -> None:
    model = chat(emu)
    generator = model._generator
    generator.inline_limit_bytes = 100
    generator.file_poll_interval = 0.02
    video = base64.b64encode(make.video(4, fps=4, size=48)).decode()
    model.invoke(
        [
            HumanMessage(
                [
                    {"type": "text", "text": "What happens?"},
                    {
                        "type": "video",
                        "base64": video,
                        "mime_type": "video/mp4",
                    },
                ]
            )
        ]
    )
    uri = sent_parts(emu)[0]["fileData"]["fileUri"]
    assert any(r.path.startswith("/upload/") for r in emu.requests)
    name = "files/" + uri.rsplit("/files/", 1)[1]
    emu.clear_requests()
    model.invoke(
        [
            HumanMessage(
                [
                    {"type": "text", "text": "Again"},
                    {"type": "file", "file_id": name, "mime_type": "video/mp4"},
                ]
            )
        ]
    )
    assert sent_parts(emu)[0]["fileData"] == {"fileUri": uri, "mimeType": "video/mp4"}


@pytest.fixture
def local_image_server() -> Iterator[str]:
    """A plain HTTP server on 127.0.0.1 serving tests/data."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(DATA), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_image_url_is_downloaded(emu: Emulator, local_image_server: str) -> None:
    chat(emu).invoke(
        [
            HumanMessage(
                [
                    {"type": "text", "text": "What colour?"},
                    {"type": "image", "url": f"{local_image_server}/red_apple.png"},
                ]
            )
        ]
    )
    part = sent_parts(emu)[0]["inlineData"]
    assert part["mimeType"] == "image/png"
    assert base64.urlsafe_b64decode(part["data"] + "==") == (DATA / "red_apple.png").read_bytes()


def test_vertex_gs_uri_goes_by_reference(emu: Emulator) -> None:
    emu.gcs_objects["gs://bucket/harbour.mp4"] = (DATA / "harbour.mp4").read_bytes()
    model = ChatGemini(
        vertexai=True,
        project="proj",
        location="us-central1",
        credentials=Credentials(token="t"),  # type: ignore[no-untyped-call]
        base_url=emu.base_url,
    )
    model.invoke(
        [
            HumanMessage(
                [
                    {"type": "text", "text": "what?"},
                    {"type": "video", "url": "gs://bucket/harbour.mp4", "mime_type": "video/mp4"},
                ]
            )
        ]
    )
    assert "/projects/proj/locations/us-central1/" in generate_requests(emu)[0].path
    assert sent_parts(emu)[0]["fileData"]["fileUri"] == "gs://bucket/harbour.mp4"


def test_stream_reports_usage_once(emu: Emulator) -> None:
    chunks = list(chat(emu).stream(f"Context: {CONTEXT} Question: what rests on the rocks?"))
    assert len(chunks) >= 3
    with_usage = [c for c in chunks if c.usage_metadata]
    assert len(with_usage) == 1
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert "seals" in str(total.content).lower()
    assert total.usage_metadata and total.usage_metadata["output_tokens"] > 0


async def test_ainvoke_astream_and_batch(emu: Emulator) -> None:
    model = chat(emu)
    answers = await model.abatch(["first question", "second question"])
    assert len(answers) == 2
    chunks = [c async for c in model.astream("hello")]
    assert chunks[-1].response_metadata["finish_reason"] == "STOP"
    assert len(generate_requests(emu)) == 3


@tool
def get_weather(location: str) -> str:
    """Get the current weather for a location."""
    return f"It is sunny in {location}."


def test_tool_calling_round_trip(emu: Emulator) -> None:
    model = chat(emu).bind_tools([get_weather], tool_choice="any")
    question = HumanMessage("What is the weather in San Francisco, CA?")
    first = model.invoke([question])
    assert isinstance(first, AIMessage)
    [call] = first.tool_calls
    assert call["name"] == "get_weather"
    assert "San Francisco" in call["args"]["location"]
    result = get_weather.invoke(call)
    final = chat(emu).bind_tools([get_weather]).invoke([question, first, result])
    assert "sunny" in str(final.content)
    parts = sent_parts(emu)
    assert parts[1]["functionCall"]["name"] == "get_weather"
    assert parts[2]["functionResponse"]["name"] == "get_weather"


def test_tool_message_without_name_takes_it_from_the_call(emu: Emulator) -> None:
    history = [
        HumanMessage("weather?"),
        AIMessage(
            "", tool_calls=[{"name": "get_weather", "args": {"location": "Oslo"}, "id": "c1"}]
        ),
        ToolMessage("rain all day", tool_call_id="c1"),
    ]
    chat(emu).bind_tools([get_weather]).invoke(history)
    assert sent_parts(emu)[2]["functionResponse"] == {
        "id": "c1",
        "name": "get_weather",
        "response": {"result": "rain all day"},
    }


class Joke(BaseModel):
    setup: str
    punchline: str


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode"])
def test_structured_output_methods(emu: Emulator, method: str) -> None:
    prompt = "Tell me a joke about cats. Reply as JSON with 'setup' and 'punchline' keys."
    joke = chat(emu).with_structured_output(Joke, method=method).invoke(prompt)  # type: ignore[arg-type]
    assert isinstance(joke, Joke)
    body = camel(generate_requests(emu)[0].json)
    if method == "json_schema":
        assert body["generationConfig"]["responseJsonSchema"]["required"] == ["setup", "punchline"]
    elif method == "function_calling":
        assert body["toolConfig"]["functionCallingConfig"]["allowedFunctionNames"] == ["Joke"]
    else:
        assert body["generationConfig"]["responseMimeType"] == "application/json"


def test_structured_output_include_raw(emu: Emulator) -> None:
    out = chat(emu).with_structured_output(Joke, include_raw=True).invoke("a cat joke")
    assert isinstance(out, dict)
    assert isinstance(out["raw"], AIMessage)
    assert isinstance(out["parsed"], Joke)
    assert out["parsing_error"] is None


def test_blocked_content_is_a_typed_error(emu: Emulator) -> None:
    with pytest.raises(BlockedContentError) as blocked:
        chat(emu).invoke("EMULATOR_BLOCK_PROMPT please")
    assert blocked.value.stage == "prompt"
    with pytest.raises(BlockedContentError):
        list(chat(emu).stream("EMULATOR_BLOCK_RESPONSE please"))


def test_config_knobs_reach_the_wire(emu: Emulator) -> None:
    model = chat(
        emu,
        temperature=0.3,
        max_tokens=50,
        top_p=0.8,
        top_k=10,
        safety_settings={"HARM_CATEGORY_HARASSMENT": "BLOCK_ONLY_HIGH"},
    )
    model.invoke("hi", stop=["STOP"])
    body = camel(generate_requests(emu)[0].json)
    assert body["generationConfig"] == {
        "temperature": 0.3,
        "maxOutputTokens": 50,
        "topP": 0.8,
        "topK": 10,
        "stopSequences": ["STOP"],
    }
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
    ]


def test_unsupported_block_is_rejected_before_sending(emu: Emulator) -> None:
    with pytest.raises(InvalidParameterError, match="needs base64, url or file_id"):
        chat(emu).invoke([HumanMessage([{"type": "image", "mime_type": "image/png"}])])
    assert emu.requests == []


def test_secret_never_serialized_and_round_trip(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = chat(emu, temperature=0.1)
    assert KEY not in repr(model) and KEY not in str(model)
    assert KEY not in dumps(model)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    loaded = load(
        dumpd(model),
        valid_namespaces=["omniembed"],
        allowed_objects=[ChatGemini],
        secrets_from_env=True,
    )
    assert isinstance(loaded, ChatGemini)
    assert loaded.temperature == 0.1
    assert loaded.invoke("hello").content


def test_identifying_and_langsmith_params(emu: Emulator) -> None:
    model = chat(emu, temperature=0.5, max_tokens=20, model="gemini-2.5-pro")
    params = model._get_ls_params(stop=["x"])
    assert params == {
        "ls_provider": "google_genai",
        "ls_model_name": "gemini-2.5-pro",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 20,
        "ls_stop": ["x"],
    }
    assert model._llm_type == "omniembed-gemini"
    assert model._identifying_params["model"] == "gemini-2.5-pro"
    assert model.context_window == 1_048_576
