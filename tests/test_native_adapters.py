"""Classes that feel native (issue 14): strict keywords with the nearest name, the names
each framework's users expect, a positional model everywhere, one factory behind every
layer, and one spelling of MultiModal (the old one deprecated)."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from omniembed import (
    DashScopeEmbedder,
    GeminiEmbedder,
    InvalidParameterError,
    UnknownParameterError,
    VertexMultiModalEmbedder,
)
from omniembed.emulator import Emulator
from omniembed.langchain import (
    ChatGemini,
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from omniembed.llama_index import (
    DashScopeMultiModalEmbedding,
    GeminiMultiModalEmbedding,
    GeminiMultiModalLLM,
    VertexMultiModalEmbedding,
)
from omniembed.providers.factory import build_embedder
from omniembed.rag.embedders import EmbedderSettings
from omniembed.rag.embedders import build_embedder as rag_build_embedder
from omniembed.ray import EmbedBatch


def close(obj: Any) -> None:
    obj.close()  # every class here holds connections (tests/test_closing.py)


def credentials(cls: type, url: str) -> dict[str, Any]:
    """Offline credentials for ``cls`` against the emulator at ``url``."""
    if "Vertex" in cls.__name__:
        return {"project": "p", "access_token": "t", "base_url": url}
    return {"api_key": "k", "base_url": url}


EMBEDDING_CLASSES = [
    GeminiEmbedder,
    VertexMultiModalEmbedder,
    DashScopeEmbedder,
    GeminiMultiModalEmbedding,
    VertexMultiModalEmbedding,
    DashScopeMultiModalEmbedding,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
    DashScopeMultiModalEmbeddings,
]
LLM_CLASSES = [GeminiMultiModalLLM, ChatGemini]


@pytest.mark.parametrize("cls", EMBEDDING_CLASSES + LLM_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize(
    ("typo", "meant"),
    [("max_concurency", "max_concurrency"), ("timout", "timeout"), ("base_ur", "base_url")],
)
def test_a_misspelt_keyword_names_the_nearest_and_sends_nothing(
    emu: Emulator, cls: type, typo: str, meant: str
) -> None:
    if cls in LLM_CLASSES and meant == "max_concurrency":
        typo, meant = "temprature", "temperature"
    with pytest.raises(UnknownParameterError, match=rf"{cls.__name__}\(\).*{typo!r}.*{meant!r}"):
        cls(**credentials(cls, emu.base_url), **{typo: 1})
    assert emu.requests == []


def test_the_unknown_keyword_error_is_a_typeerror_as_pythons_own() -> None:
    assert issubclass(UnknownParameterError, TypeError)
    assert issubclass(UnknownParameterError, InvalidParameterError)
    with pytest.raises(TypeError, match=r"accepted: .*api_key"):
        GeminiEmbedder(api_key="k", zzzzzz=1)  # type: ignore[call-arg]


@pytest.mark.parametrize("cls", EMBEDDING_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", ["dimensions", "output_dimensionality", "dimension"])
def test_every_name_of_the_vector_size_is_honoured(emu: Emulator, cls: type, name: str) -> None:
    """``dimensions`` everywhere; the services' names are aliases (they used to be
    ignored on the LlamaIndex classes, which then returned 3,072-d vectors)."""
    gemini_model = (
        {"model_name": "gemini-embedding-001"}
        if "MultiModalEmbedding" in cls.__name__
        else {"model": "gemini-embedding-001"}
    )
    extra = gemini_model if "Gemini" in cls.__name__ else {}
    size = 256
    try:
        obj = cls(**credentials(cls, emu.base_url), **extra, **{name: size})
    except UnknownParameterError:
        # A provider class takes its own service's name and ``dimensions`` only.
        assert cls in (GeminiEmbedder, VertexMultiModalEmbedder, DashScopeEmbedder)
        assert name != "dimensions"
        return
    try:
        if hasattr(obj, "get_text_embedding"):
            vector = obj.get_text_embedding("a red bicycle")
        elif hasattr(obj, "embed_query"):
            vector = obj.embed_query("a red bicycle")
        else:
            vector = obj.embed(["a red bicycle"])[0].vector
    finally:
        close(obj)
    assert len(vector) == size


@pytest.mark.parametrize(
    "build",
    [
        lambda url: GeminiMultiModalEmbedding(
            api_key="k", base_url=url, dimensions=256, dimension=128
        ),
        lambda url: GeminiEmbeddings(
            api_key="k", base_url=url, output_dimensionality=1, dimensions=2
        ),
        lambda url: GeminiEmbedder(
            api_key="k", base_url=url, dimensions=256, output_dimensionality=128
        ),
        lambda url: GeminiMultiModalEmbedding("gemini-embedding-001", model="gemini-embedding-2"),
        lambda url: ChatGemini(model="a", model_name="b", api_key="k"),
    ],
    ids=["llama-index", "langchain", "provider", "positional-and-keyword", "chat"],
)
def test_one_setting_under_two_names_is_an_error(
    emu: Emulator, build: Callable[[str], Any]
) -> None:
    with pytest.raises(InvalidParameterError, match="pass"):
        build(emu.base_url)


@pytest.mark.parametrize("cls", EMBEDDING_CLASSES + LLM_CLASSES, ids=lambda c: c.__name__)
def test_a_positional_model_name_works_on_every_class(emu: Emulator, cls: type) -> None:
    model = {
        "Gemini": "gemini-embedding-001",
        "Vertex": "multimodalembedding@001",
        "DashScope": "tongyi-embedding-vision-flash",
    }[next(p for p in ("Gemini", "Vertex", "DashScope") if p in cls.__name__)]
    if cls in LLM_CLASSES:
        model = "gemini-2.5-pro"
    obj = cls(model, **credentials(cls, emu.base_url))
    try:
        named = getattr(obj, "model_name", None) or getattr(obj, "model", None)
        assert named == model
    finally:
        close(obj)


@pytest.mark.parametrize(
    ("cls", "alias", "field"),
    [
        (GeminiMultiModalEmbedding, "model", "model_name"),
        (GeminiMultiModalLLM, "model_name", "model"),
        (GeminiEmbeddings, "model_name", "model"),
        (ChatGemini, "model_name", "model"),
    ],
)
def test_model_and_model_name_are_both_accepted(
    emu: Emulator, cls: type, alias: str, field: str
) -> None:
    model = "gemini-2.5-pro" if cls in LLM_CLASSES else "gemini-embedding-001"
    obj = cls(**{alias: model}, **credentials(cls, emu.base_url))
    try:
        assert getattr(obj, field) == model
    finally:
        close(obj)


def test_the_llama_index_class_embeds_with_the_model_it_was_given(emu: Emulator) -> None:
    """``model=`` used to be ignored: gemini-embedding-2 embedded instead."""
    embed = GeminiMultiModalEmbedding(
        model="gemini-embedding-001", api_key="k", base_url=emu.base_url
    )
    try:
        embed.get_text_embedding("a red bicycle")
    finally:
        close(embed)
    assert emu.requests[-1].path.endswith("gemini-embedding-001:batchEmbedContents")


def test_every_layer_builds_the_same_embedder_through_one_factory(emu: Emulator) -> None:
    """LlamaIndex, LangChain, the CLI's `rag` and Ray give the same settings the same
    provider embedder."""
    url = emu.base_url
    built = [
        build_embedder(
            "gemini", model="gemini-embedding-001", dimensions=256, api_key="k", base_url=url
        ),
        GeminiMultiModalEmbedding(
            "gemini-embedding-001", dimensions=256, api_key="k", base_url=url
        ).embedder,
        GeminiEmbeddings("gemini-embedding-001", dimensions=256, api_key="k", base_url=url).client,
        rag_build_embedder(
            EmbedderSettings.resolve("gemini", "gemini-embedding-001", 256),
            base_url=url,
            api_key="k",
        ),
        EmbedBatch(
            "gemini",
            input_type="text",
            model="gemini-embedding-001",
            dimensions=256,
            api_key="k",
            base_url=url,
        ).embedder,
    ]
    try:
        facts = {
            (
                type(e).__name__,
                e.model,
                getattr(e, "output_dimensionality", None),
                e.base_url,
                e.vertexai,
            )
            for e in built
        }
        assert facts == {("GeminiEmbedder", "gemini-embedding-001", 256, url, False)}
    finally:
        for embedder in built:
            close(embedder)


def test_vertex_picks_the_class_by_model() -> None:
    token = Credentials(token="t")
    gemini = build_embedder("vertex", model="gemini-embedding-001", project="p", credentials=token)
    multimodal = build_embedder("vertex", project="p", credentials=token)
    try:
        assert isinstance(gemini, GeminiEmbedder) and gemini.vertexai
        assert isinstance(multimodal, VertexMultiModalEmbedder)
    finally:
        close(gemini)
        close(multimodal)
    with pytest.raises(InvalidParameterError, match="multimodalembedding@001 only"):
        VertexMultiModalEmbedder("gemini-embedding-001", project="p", access_token="t")


@pytest.mark.parametrize(
    ("module", "old", "new"),
    [
        ("omniembed", "VertexMultimodalEmbedder", "VertexMultiModalEmbedder"),
        (
            "omniembed.providers.vertex_multimodal",
            "VertexMultimodalEmbedder",
            "VertexMultiModalEmbedder",
        ),
        ("omniembed.langchain", "VertexMultimodalEmbeddings", "VertexMultiModalEmbeddings"),
        ("omniembed.langchain", "DashScopeMultimodalEmbeddings", "DashScopeMultiModalEmbeddings"),
        (
            "omniembed.langchain.embeddings",
            "DashScopeMultimodalEmbeddings",
            "DashScopeMultiModalEmbeddings",
        ),
    ],
)
def test_the_old_multimodal_spelling_still_works_and_warns(module: str, old: str, new: str) -> None:
    imported = __import__(module, fromlist=[old])
    with pytest.warns(DeprecationWarning, match=rf"{old} is deprecated; use {new}"):
        value = getattr(imported, old)
    assert value is getattr(imported, new)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        getattr(imported, new)  # the new name never warns
    with pytest.raises(AttributeError):
        getattr(imported, "VertexMultimodalNothing")  # noqa: B009


def test_chat_gemini_streams_under_invoke_when_asked(emu: Emulator) -> None:
    """``streaming=True`` is LangChain's flag (it used to be silently dropped)."""
    from langchain_core.callbacks import BaseCallbackHandler

    tokens: list[str] = []

    class Collect(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    chat = ChatGemini(api_key="k", base_url=emu.base_url, streaming=True)
    try:
        answer = chat.invoke("Say hello", config={"callbacks": [Collect()]})
    finally:
        close(chat)
    assert tokens and "".join(tokens) == answer.content
    assert any(":streamGenerateContent" in r.path for r in emu.requests)


def test_the_parameter_names_page_runs_as_written(tmp_path: Path) -> None:
    page = Path(__file__).resolve().parents[1] / "docs" / "parameters.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S)
    assert len(blocks) == 3
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "did you mean 'max_concurrency'?" in done.stdout
    assert "pass only dimensions=" in done.stdout


def test_readers_loaders_and_ray_name_the_nearest_keyword(emu: Emulator) -> None:
    from omniembed.langchain import AudioSegmentLoader, PDFPageLoader, VideoSegmentLoader
    from omniembed.llama_index import AudioSegmentReader, PDFPageReader, VideoSegmentReader

    embed = GeminiMultiModalEmbedding(api_key="k", base_url=emu.base_url)
    lc = GeminiEmbeddings(api_key="k", base_url=emu.base_url)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: PDFPageReader(dip=72), "'dpi'"),
        (lambda: VideoSegmentReader(embed, segment_confg=None), "'segment_config'"),
        (lambda: PDFPageLoader("a.pdf", dip=72), "'dpi'"),
        (
            lambda: VideoSegmentLoader("a.mp4", embeddings=lc, segment_confg=None),
            "'segment_config'",
        ),
        (lambda: AudioSegmentReader(embed, text_templat="{index}"), "'text_template'"),
        (
            lambda: AudioSegmentLoader("a.wav", embeddings=lc, segment_confg=None),
            "'segment_config'",
        ),
        (lambda: EmbedBatch("gemini", input_type="text", api_key="k", colum="x"), "'column'"),
        (lambda: EmbedBatch("gemini", input_type="text", api_key="k", dimensons=3), "'dimensions'"),
    ]
    try:
        for build, meant in cases:
            with pytest.raises(UnknownParameterError, match=f"did you mean {meant}"):
                build()
    finally:
        close(embed)
        close(lc)
    assert emu.requests == []
