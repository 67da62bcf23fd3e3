"""AudioSegmentReader: one pre-embedded node per audio window, with its offsets, against
the emulator through the real google-genai SDK; models that do not hear audio send nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import QueryBundle, TextNode

from omniembed import AudioSegmentConfig, UnsupportedMediaError
from omniembed.emulator import Emulator
from omniembed.llama_index import AudioSegmentReader, OmniMultiModalEmbedding
from tests import media_factory as make
from tests.llama_index.helpers import build, cosine, embed_calls, gemini, gemini_requests

pytest.importorskip("av")

WINDOW = AudioSegmentConfig(window_sec=10)


def spans(nodes: list[TextNode]) -> list[float]:
    return [
        x for n in nodes for x in (n.metadata["start_offset_sec"], n.metadata["end_offset_sec"])
    ]


def test_audio_windows_become_nodes_with_offsets_and_vectors(
    emu: Emulator, tones_wav: Path, tmp_path: Path
) -> None:
    embed = gemini(emu)
    nodes = AudioSegmentReader(embed, WINDOW).load_data(tones_wav, extra_info={"show": "tones"})
    # A stream-copied WAV window ends with its last packet (a few ms past the cut).
    assert spans(nodes) == pytest.approx([0, 10, 10, 20, 20, 30], abs=0.07)
    assert [n.text for n in nodes] == [
        "audio tones.wav 00:00–00:10",
        "audio tones.wav 00:10–00:20",
        "audio tones.wav 00:20–00:30",
    ]
    first = nodes[0].metadata
    assert (first["file_path"], first["file_name"], first["source"]) == (
        str(tones_wav),
        "tones.wav",
        str(tones_wav),
    )
    assert {n.metadata["modality"] for n in nodes} == {"audio"}
    assert [n.metadata["segment_index"] for n in nodes] == [0, 1, 2]
    assert first["show"] == "tones"
    assert all(len(n.embedding or []) == 3072 for n in nodes)
    # All windows in one request, each its own audio/wav input.
    assert len(embed_calls(emu)) == 1
    parts = [p for r in gemini_requests(emu) for p in r["content"]["parts"]]
    assert [p["inlineData"]["mimeType"] for p in parts] == ["audio/wav"] * 3

    vectors = [n.embedding or [] for n in nodes]
    assert cosine(vectors[0], vectors[2]) > cosine(vectors[0], vectors[1]) + 0.5

    # The index takes the vectors as they are; a low-tone probe finds the low windows.
    emu.clear_requests()
    index = VectorStoreIndex(nodes, embed_model=embed)
    assert embed_calls(emu) == []
    probe = tmp_path / "probe.wav"
    probe.write_bytes(make.tones([(4, 300)]))
    hits = index.as_retriever(similarity_top_k=3).retrieve(
        QueryBundle(query_str="", embedding=embed.get_audio_embedding(str(probe)))
    )
    assert sorted(h.node.metadata["segment_index"] for h in hits[:2]) == [0, 2]


def test_window_overlap_and_stretch_set_the_segments(emu: Emulator, tones_wav: Path) -> None:
    reader = AudioSegmentReader(gemini(emu), AudioSegmentConfig(window_sec=10, overlap_sec=4))
    nodes = reader.load_data(files=[tones_wav])
    # Windows of 10 s stepping by 6 s; the last ends with the audio.
    assert spans(nodes) == pytest.approx([0, 10, 6, 16, 12, 22, 18, 28, 24, 30], abs=0.07)
    assert nodes[1].text == "audio tones.wav 00:06–00:16"
    # A per-call config wins over the reader's.
    stretch = AudioSegmentConfig(window_sec=5, start_offset_sec=10, end_offset_sec=20)
    nodes = reader.load_data(tones_wav, segment_config=stretch)
    assert spans(nodes) == pytest.approx([10, 15, 15, 20], abs=0.07)


async def test_async_twin_gives_the_same_nodes(
    emu: Emulator, tones_wav: Path, tmp_path: Path
) -> None:
    other = tmp_path / "short.wav"
    other.write_bytes(make.tones([(3, 1500)]))
    reader = AudioSegmentReader(gemini(emu), WINDOW)
    sync = reader.load_data(files=[tones_wav, other])
    emu.clear_requests()
    async_ = await reader.aload_data(files=[tones_wav, other])
    assert len(embed_calls(emu)) == 1  # both files' windows in one request
    assert [n.text for n in async_] == [n.text for n in sync]
    assert [n.metadata for n in async_] == [n.metadata for n in sync]
    assert [n.embedding for n in async_] == [n.embedding for n in sync]
    assert async_[-1].text == "audio short.wav 00:00–00:03"


@pytest.mark.parametrize("which", ["gemini-embedding-001", "vertex", "dashscope"])
async def test_models_that_do_not_hear_audio_raise_before_sending(
    emu: Emulator, tones_wav: Path, which: str
) -> None:
    if which == "dashscope":
        pytest.importorskip("dashscope")
    embed: OmniMultiModalEmbedding = (
        gemini(emu, which) if which.startswith("gemini") else build(which, emu)
    )
    reader = AudioSegmentReader(embed)
    with pytest.raises(UnsupportedMediaError, match=r"does not hear audio.*gemini-embedding-2"):
        reader.load_data(tones_wav)
    with pytest.raises(UnsupportedMediaError, match="does not hear audio"):
        await reader.aload_data(tones_wav)
    assert emu.requests == []
