"""Builders for the three LangChain embeddings classes pointed at the session emulator,
and sample media written to disk (vector stores take file paths)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omniembed.emulator import Emulator
from omniembed.langchain import (
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from tests import media_factory as make

#: Recognisable fake secrets: a test fails if one of them shows up where it must not.
GEMINI_KEY = "FAKE-GEMINI-KEY-7f3a9c"
VERTEX_TOKEN = "FAKE-VERTEX-TOKEN-51bd0e"
DASHSCOPE_KEY = "sk-FAKE-DASHSCOPE-KEY-c08e2d"

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)
CLASSES = ("gemini", "vertex", "dashscope")


def gemini_params(base_url: str, **kw: Any) -> dict[str, Any]:
    return {"api_key": GEMINI_KEY, "base_url": base_url, "dimensions": 256, **kw}


def vertex_params(base_url: str, **kw: Any) -> dict[str, Any]:
    return {
        "project": "proj",
        "location": "us-central1",
        "access_token": VERTEX_TOKEN,
        "base_url": base_url,
        **kw,
    }


def dashscope_params(base_url: str, **kw: Any) -> dict[str, Any]:
    return {"api_key": DASHSCOPE_KEY, "base_url": base_url + "/api/v1", **kw}


def build(kind: str, emu: Emulator, **kw: Any) -> Any:
    if kind == "gemini":
        return GeminiEmbeddings(**gemini_params(emu.base_url, **kw))
    if kind == "vertex":
        return VertexMultiModalEmbeddings(**vertex_params(emu.base_url, **kw))
    return DashScopeMultiModalEmbeddings(**dashscope_params(emu.base_url, **kw))


@pytest.fixture(params=CLASSES)
def embeddings(request: pytest.FixtureRequest, emu: Emulator) -> Any:
    """Each embeddings class in turn, against the emulator."""
    return build(request.param, emu)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    """Red, green and blue PNGs on disk (with a stripe, so they are not trivially equal)."""
    out = {}
    for name, color in (("red", RED), ("green", GREEN), ("blue", BLUE)):
        path = tmp_path / f"{name}.png"
        path.write_bytes(make.png(color, stripe=(240, 240, 240)))
        out[name] = path
    return out


@pytest.fixture
def red_then_blue_video(tmp_path: Path) -> Path:
    """16 s MP4: 8 s of red frames, then 8 s of blue."""
    path = tmp_path / "red-then-blue.mp4"
    path.write_bytes(make.video(16, fps=1, size=16, colors=(RED,) * 8 + (BLUE,) * 8))
    return path
