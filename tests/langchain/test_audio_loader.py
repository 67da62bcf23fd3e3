"""AudioSegmentLoader: a Document per audio window with its offsets and vector, stored
without re-embedding; the real google-genai SDK against the emulator."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
import pytest
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from omniembed import AudioSegmentConfig, Embedding, UnsupportedMediaError
from omniembed.emulator import Emulator
from omniembed.langchain import AudioSegmentLoader, VideoSegmentLoader, add_documents_with_vectors
from omniembed.langchain.loaders import _ID_NAMESPACE
from tests import media_factory as make

from .conftest import build

pytest.importorskip("av")

WINDOW = AudioSegmentConfig(window_sec=10)


def spans(documents: list[Document]) -> list[float]:
    return [
        x for d in documents for x in (d.metadata["start_offset_sec"], d.metadata["end_offset_sec"])
    ]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # the vectors are unit length


def test_audio_windows_become_documents_with_offsets(emu: Emulator, tones_wav: Path) -> None:
    loader = AudioSegmentLoader(tones_wav, embeddings=build("gemini", emu), segment_config=WINDOW)
    documents, vectors = loader.load_with_vectors()
    # A stream-copied WAV window ends with its last packet (a few ms past the cut).
    assert spans(documents) == pytest.approx([0, 10, 10, 20, 20, 30], abs=0.07)
    assert [d.metadata["segment"] for d in documents] == [0, 1, 2]
    assert {d.metadata["modality"] for d in documents} == {"audio"}
    assert {d.metadata["source"] for d in documents} == {str(tones_wav)}
    assert [d.page_content for d in documents] == [
        "tones.wav [0.0–10.0 s]",
        "tones.wav [10.0–20.0 s]",
        "tones.wav [20.0–30.0 s]",
    ]
    assert len({d.id for d in documents}) == 3
    assert all(len(v) == 256 for v in vectors)
    # One request holding the three windows.
    [request] = [r for r in emu.requests if r.route == "batchEmbedContents"]
    assert len(request.json["requests"]) == 3
    assert cosine(vectors[0], vectors[2]) > cosine(vectors[0], vectors[1]) + 0.5
    # Plain load gives the same documents, with the same (stable) ids.
    assert [d.id for d in loader.load()] == [d.id for d in documents]


def test_audio_ids_differ_from_the_same_files_video_ids(emu: Emulator, tones_wav: Path) -> None:
    e = build("gemini", emu)
    segment = Embedding([1.0], start_offset_sec=0.0, end_offset_sec=8.0)
    audio = AudioSegmentLoader(tones_wav, embeddings=e)._document(0, segment)
    video = VideoSegmentLoader(tones_wav, embeddings=e)._document(0, segment)
    assert audio.id != video.id
    # Video ids keep the key they had before audio existed (stores already hold them).
    assert video.id == str(uuid.uuid5(_ID_NAMESPACE, f"{tones_wav}|0.0|8.0"))
    assert (audio.metadata["modality"], video.metadata["modality"]) == ("audio", "video")


def test_window_and_overlap_set_the_segment_count(emu: Emulator, tones_wav: Path) -> None:
    config = AudioSegmentConfig(window_sec=10, overlap_sec=4)
    documents = AudioSegmentLoader(
        tones_wav, embeddings=build("gemini", emu), segment_config=config
    ).load()
    assert spans(documents) == pytest.approx([0, 10, 6, 16, 12, 22, 18, 28, 24, 30], abs=0.07)


@pytest.mark.parametrize("store_kind", ["chroma", "memory"])
def test_audio_segments_into_a_store_without_re_embedding(
    emu: Emulator, tones_wav: Path, tmp_path: Path, store_kind: str
) -> None:
    e = build("gemini", emu)
    loader = AudioSegmentLoader(tones_wav, embeddings=e, segment_config=WINDOW)
    if store_kind == "chroma":
        store: Chroma | InMemoryVectorStore = Chroma(
            collection_name=f"c{uuid.uuid4().hex[:12]}",
            embedding_function=e,
            client=chromadb.PersistentClient(path=str(tmp_path / "chroma")),
        )
        ids = loader.add_to(store)
    else:
        store = InMemoryVectorStore(e)
        ids = add_documents_with_vectors(store, *loader.load_with_vectors())
    assert len(ids) == 3
    sent = len(emu.requests)
    probe = tmp_path / "probe.wav"
    probe.write_bytes(make.tones([(4, 300)]))
    [query] = e.embed_audio(probe)
    assert len(emu.requests) == sent + 1  # only the probe was embedded
    hits = store.similarity_search_by_vector(query.vector, k=3)
    assert sorted(h.metadata["segment"] for h in hits[:2]) == [0, 2]


async def test_async_twin_gives_the_same_documents(emu: Emulator, tones_wav: Path) -> None:
    e = build("gemini", emu)
    loader = AudioSegmentLoader(tones_wav, embeddings=e, segment_config=WINDOW)
    sync = loader.load()
    async_ = [d async for d in loader.alazy_load()]
    assert [(d.id, d.page_content, d.metadata) for d in async_] == [
        (d.id, d.page_content, d.metadata) for d in sync
    ]
    assert [s.vector for s in await e.aembed_audio(tones_wav, WINDOW)] == [
        s.vector for s in e.embed_audio(tones_wav, WINDOW)
    ]


@pytest.mark.parametrize("which", ["gemini-embedding-001", "vertex", "dashscope"])
async def test_models_that_do_not_hear_audio_raise_before_sending(
    emu: Emulator, tones_wav: Path, which: str
) -> None:
    if which == "dashscope":
        pytest.importorskip("dashscope")
    e = build("gemini", emu, model=which) if which.startswith("gemini") else build(which, emu)
    loader = AudioSegmentLoader(tones_wav, embeddings=e)
    with pytest.raises(UnsupportedMediaError, match=r"does not hear audio.*gemini-embedding-2"):
        loader.load()
    with pytest.raises(UnsupportedMediaError, match="does not hear audio"):
        [d async for d in loader.alazy_load()]
    assert emu.requests == []
