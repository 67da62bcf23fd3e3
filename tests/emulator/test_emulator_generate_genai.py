"""The real google-genai SDK generating against the emulator: Gemini API and Vertex,
sync and async, streaming, tools, JSON output, safety and errors."""

from __future__ import annotations

import asyncio
import json

import google.oauth2.credentials
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from omniembed.emulator import Emulator
from tests import media_factory as media

CONTEXT = "The Louvre is a museum in Paris. The Nile is a river in Africa."


def gemini(emu: Emulator) -> genai.Client:
    options = types.HttpOptions(base_url=emu.base_url, api_version="v1beta")
    return genai.Client(api_key="k", http_options=options)


def vertex(emu: Emulator) -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token="t"),
        http_options=types.HttpOptions(base_url=emu.base_url),
    )


@pytest.mark.parametrize("make", [gemini, vertex], ids=["gemini", "vertex"])
def test_generate_content(emulator: Emulator, make: object) -> None:
    client = make(emulator)  # type: ignore[operator]
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[CONTEXT, "Where is the Louvre museum?"],
        config=types.GenerateContentConfig(
            system_instruction="Answer briefly.",
            temperature=0,
            safety_settings=[
                types.SafetySetting(
                    category=types.HarmCategory.HARM_CATEGORY_HARASSMENT,
                    threshold=types.HarmBlockThreshold.BLOCK_ONLY_HIGH,
                )
            ],
        ),
    )

    assert response.text == "The Louvre is a museum in Paris."
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count
    assert response.candidates is not None
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert emulator.requests[-1].route == "generateContent"


@pytest.mark.parametrize("make", [gemini, vertex], ids=["gemini", "vertex"])
def test_generate_content_stream_sync(emulator: Emulator, make: object) -> None:
    client = make(emulator)  # type: ignore[operator]
    question = "Tell me about the Nile river in Africa and where it flows?"
    chunks = list(
        client.models.generate_content_stream(
            model="gemini-2.0-flash", contents=[CONTEXT, question]
        )
    )

    assert len(chunks) >= 2
    assert "".join(c.text or "" for c in chunks) == "The Nile is a river in Africa."
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP  # type: ignore[index]


def test_generate_content_stream_async(emulator: Emulator) -> None:
    client = gemini(emulator)

    async def run() -> list[str]:
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-pro", contents=[CONTEXT, "Where is the Louvre museum?"]
        )
        try:
            return [chunk.text or "" async for chunk in stream]
        finally:
            await client.aio.aclose()  # its aiohttp session belongs to this loop

    texts = asyncio.run(run())
    assert len(texts) >= 2
    assert "".join(texts) == "The Louvre is a museum in Paris."


def test_every_part_kind(emulator: Emulator) -> None:
    client = gemini(emulator)
    video = types.Part(
        inline_data=types.Blob(data=media.video(3), mime_type="video/mp4"),
        video_metadata=types.VideoMetadata(start_offset="1s", end_offset="3s", fps=1),
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            types.Part.from_bytes(data=media.jpeg(size=(40, 30)), mime_type="image/jpeg"),
            types.Part.from_bytes(
                data=media.pdf(["Owls hunt at night."]), mime_type="application/pdf"
            ),
            video,
            types.Part.from_bytes(data=media.wav(2.0), mime_type="audio/wav"),
            types.Part.from_bytes(data=b"Bats sleep by day.", mime_type="text/plain"),
            "When do owls hunt?",
        ],
    )
    assert response.text == (
        "Owls hunt at night. [seen: image/jpeg 40x30, mostly red; application/pdf 1 page; "
        "video/mp4 1s-3s at 1 fps, mostly red; audio/wav 2s, a steady tone near 440 Hz; "
        "text/plain 18 bytes]"
    )


def test_max_tokens_and_stop_sequences(emulator: Emulator) -> None:
    client = gemini(emulator)
    contents = [CONTEXT, "Where is the Louvre museum?"]
    short = client.models.generate_content(
        model="gemini-2.0-flash",
        contents=contents,
        config=types.GenerateContentConfig(max_output_tokens=2),
    )
    assert short.text == "The Louvre"
    assert short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS  # type: ignore[index]
    stopped = client.models.generate_content(
        model="gemini-2.0-flash",
        contents=contents,
        config=types.GenerateContentConfig(stop_sequences=[" museum"]),
    )
    assert stopped.text == "The Louvre is a"


def test_safety_triggers(emulator: Emulator) -> None:
    client = gemini(emulator)
    blocked = client.models.generate_content(
        model="gemini-2.5-flash", contents="EMULATOR_BLOCK_PROMPT hello"
    )
    assert blocked.prompt_feedback is not None
    assert blocked.prompt_feedback.block_reason == types.BlockedReason.SAFETY
    assert not blocked.candidates

    stopped = client.models.generate_content(
        model="gemini-2.5-flash", contents=[CONTEXT, "EMULATOR_BLOCK_RESPONSE the Nile river?"]
    )
    [candidate] = stopped.candidates or []
    assert candidate.finish_reason == types.FinishReason.SAFETY
    assert stopped.text is None
    assert any(r.probability == types.HarmProbability.HIGH for r in candidate.safety_ratings or [])


def get_weather(city: str, days: int) -> str:
    """Get the weather forecast for a city."""
    return f"sunny in {city} for {days} days"


def test_tool_call_and_function_response_round_trip(emulator: Emulator) -> None:
    client = gemini(emulator)
    config = types.GenerateContentConfig(
        tools=[get_weather],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    question = types.Content(role="user", parts=[types.Part(text="Weather in Lisbon for 4 days?")])
    first = client.models.generate_content(
        model="gemini-2.5-flash", contents=[question], config=config
    )

    [call] = first.function_calls or []
    assert call.name == "get_weather"
    assert call.args == {"city": "Lisbon", "days": 4}

    result = get_weather(**call.args)
    second = client.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            question,
            first.candidates[0].content,  # type: ignore[index,list-item]
            types.Content(
                role="user",
                parts=[
                    types.Part.from_function_response(name=call.name, response={"result": result})
                ],
            ),
        ],
        config=config,
    )
    assert second.text == "get_weather returned sunny in Lisbon for 4 days."


def test_automatic_function_calling(emulator: Emulator) -> None:
    """The SDK's own loop: call, run the Python function, send the result, get text."""
    client = gemini(emulator)
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="What is the weather in Lisbon for 2 days?",
        config=types.GenerateContentConfig(tools=[get_weather]),
    )
    assert response.text == "get_weather returned sunny in Lisbon for 2 days."


class City(BaseModel):
    name: str
    population: int
    capital: bool


@pytest.mark.parametrize("make", [gemini, vertex], ids=["gemini", "vertex"])
def test_structured_output_validates(emulator: Emulator, make: object) -> None:
    client = make(emulator)  # type: ignore[operator]
    response = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Tell me about Lisbon, home to 545000 people; it is the capital.",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=City
        ),
    )
    city = City.model_validate(json.loads(response.text or ""))
    assert city == City(name="Lisbon", population=545000, capital=True)
    assert isinstance(response.parsed, City)


def test_errors_are_typed(emulator: Emulator) -> None:
    client = gemini(emulator)
    with pytest.raises(errors.ClientError) as not_found:
        client.models.generate_content(model="gemini-0-nano", contents="hi")
    assert not_found.value.code == 404
    with pytest.raises(errors.ClientError) as bad:
        client.models.generate_content(
            model="gemini-2.5-flash",
            contents="hi",
            config=types.GenerateContentConfig(temperature=5),
        )
    assert bad.value.code == 400
    emulator.inject("500")
    with pytest.raises(errors.ServerError):
        list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
