"""Serialization never contains a secret; pickling works (credentials come back from the
environment); a missing extra names the pip command; bad configuration fails early."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import pytest
from google.oauth2.credentials import Credentials

from omniembed import (
    GeminiEmbedder,
    InvalidParameterError,
    MissingCredentialsError,
    UnsupportedMediaError,
    VideoSegmentConfig,
)
from omniembed.emulator import Emulator
from omniembed.llama_index import GeminiMultiModalEmbedding, OmniMultiModalEmbedding
from tests import media_factory as make
from tests.llama_index.helpers import (
    DASHSCOPE_KEY,
    GEMINI_KEY,
    PROVIDERS,
    SECRETS,
    VERTEX_TOKEN,
    build,
    embed_calls,
    gemini,
    gemini_requests,
)


@pytest.fixture(autouse=True)
def _no_ambient_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("NO_GCE_CHECK", "true")  # no metadata-server probe for ADC


def _leaks(blob: str | bytes) -> list[str]:
    text = blob.decode("latin-1") if isinstance(blob, bytes) else blob
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_secret_in_dict_json_repr_or_pickle(emu: Emulator, provider: str) -> None:
    embed = build(provider, emu)
    assert embed.get_text_embedding("warm up")  # the live provider embedder exists
    assert _leaks(str(embed.to_dict())) == []
    assert _leaks(embed.to_json()) == []
    assert _leaks(repr(embed)) == [] and _leaks(str(embed)) == []
    assert _leaks(pickle.dumps(embed)) == []
    assert embed.to_dict()["class_name"] == type(embed).class_name()
    assert embed.to_dict()["base_url"].startswith(emu.base_url)


def test_vertex_credentials_object_is_not_serialized(emu: Emulator) -> None:
    embed = build("vertex", emu, access_token=None, credentials=Credentials(token=VERTEX_TOKEN))
    assert embed.get_query_embedding("ping")
    assert emu.requests[-1].headers["authorization"] == f"Bearer {VERTEX_TOKEN}"
    assert _leaks(embed.to_json()) == [] and _leaks(pickle.dumps(embed)) == []


def test_pickle_round_trip_rebuilds_from_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    embed = gemini(emu, model="gemini-embedding-001", query_task_type="QUESTION_ANSWERING")
    blob = pickle.dumps(embed)
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    clone = pickle.loads(blob)
    assert clone.query_task_type == "QUESTION_ANSWERING" and clone.base_url == emu.base_url
    assert clone.get_query_embedding("why?") == embed.get_query_embedding("why?")
    assert emu.requests[-2].headers["x-goog-api-key"] == "env-key"
    assert gemini_requests(emu)[-1]["taskType"] == "QUESTION_ANSWERING"


def test_unpickled_without_credentials_fails_on_use_with_the_reason(emu: Emulator) -> None:
    clone = pickle.loads(pickle.dumps(build("dashscope", emu)))  # unpickling itself works
    with pytest.raises(MissingCredentialsError, match="unpickled"):
        clone.get_text_embedding("x")
    assert embed_calls(emu) == []


def test_from_dict_round_trip(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", DASHSCOPE_KEY)
    embed = build("dashscope", emu, dimension=512)
    clone = type(embed).from_json(embed.to_json())
    assert clone.dimensions == 512 and len(clone.get_text_embedding("hello")) == 512


def test_credentials_and_parameters_are_checked_at_construction(emu: Emulator) -> None:
    with pytest.raises(MissingCredentialsError):
        GeminiMultiModalEmbedding(base_url=emu.base_url)
    with pytest.raises(InvalidParameterError):
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, output_dimensionality=99999)
    with pytest.raises(ValueError, match="unknown task"):  # a pydantic ValidationError
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, task_type="SUMMARIZE")
    assert embed_calls(emu) == []


def test_wraps_a_ready_built_embedder(emu: Emulator) -> None:
    provider = GeminiEmbedder(
        "gemini-embedding-001", api_key=GEMINI_KEY, base_url=emu.base_url, output_dimensionality=256
    )
    embed = GeminiMultiModalEmbedding(embedder=provider)
    assert embed.embedder is provider
    assert embed.model_name == "gemini-embedding-001" and embed.dimensions == 256
    assert len(embed.get_text_embedding("x")) == 256
    with pytest.raises(TypeError, match="GeminiEmbedder"):
        GeminiMultiModalEmbedding(embedder=build("dashscope", emu).embedder)


def test_unsupported_modality_is_a_typed_error_before_any_request(emu: Emulator) -> None:
    text_only = gemini(emu, model="gemini-embedding-001")
    with pytest.raises(UnsupportedMediaError, match="text only"):
        text_only.get_image_embedding_batch([make.png()])  # type: ignore[list-item]
    with pytest.raises(UnsupportedMediaError):
        build("vertex", emu).get_pdf_embedding(make.pdf(["a page"]))
    with pytest.raises(UnsupportedMediaError):
        build("vertex", emu).get_audio_embedding(make.wav())
    with pytest.raises(InvalidParameterError, match="cannot be cut locally"):
        gemini(emu).get_video_embedding("gs://bucket/v.mp4", VideoSegmentConfig(interval_sec=4))
    assert embed_calls(emu) == []


def test_whole_clip_models_get_local_segments(emu: Emulator) -> None:
    video = make.video(seconds=6, fps=1, size=16)
    segments = gemini(emu).get_video_embedding(video, VideoSegmentConfig(interval_sec=2))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [(0, 2), (2, 4), (4, 6)]
    assert len(embed_calls(emu)) == 1


def test_pdf_and_audio_on_gemini_embedding_2(emu: Emulator) -> None:
    embed = gemini(emu)
    assert len(embed.get_pdf_embedding(make.pdf(["first page", "second page"]))) == 3072
    assert len(embed.get_audio_embedding(make.wav())) == 3072
    mimes = [
        p["inlineData"]["mimeType"] for r in gemini_requests(emu) for p in r["content"]["parts"]
    ]
    assert mimes == ["application/pdf", "audio/wav"]


def test_missing_extra_names_the_pip_command() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["llama_index"] = None  # as if llama-index-core were not installed
        import omniembed  # the core never needs LlamaIndex
        try:
            import omniembed.llama_index
        except ImportError as exc:
            print(type(exc).__name__, exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "MissingDependencyError" in out
    assert "pip install 'omniembed[llama-index]'" in out


def test_public_base_class_is_exported() -> None:
    assert issubclass(GeminiMultiModalEmbedding, OmniMultiModalEmbedding)


def test_deepcopy_shares_the_provider_embedder(emu: Emulator) -> None:
    import copy

    embed = gemini(emu)
    clone = copy.deepcopy(embed)
    assert clone is not embed and clone.embedder is embed.embedder
    assert clone.get_query_embedding("q") == embed.get_query_embedding("q")
