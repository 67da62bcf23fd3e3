"""VectorIndex against real files: upserts, deletes, exact search order, payloads,
compaction, reopening, and a writer killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from omniembed.errors import ConfigurationError
from omniembed.rag import vector_index
from omniembed.rag.pieces import GROUPS, Group, Piece
from omniembed.rag.vector_index import VectorIndex

DIM = 32


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def text_pieces(source: str, n: int, start: int = 0, group: Group = "text") -> list[Piece]:
    return [Piece(source, "text", f"{source} chunk {i}", group, ordinal=i) for i in range(start, n)]


def test_empty_index_answers_nothing_and_creates_nothing(tmp_path: Path) -> None:
    with VectorIndex.open(tmp_path) as index:
        assert index.vector_size is None
        assert index.count() == 0
        assert index.search([1.0] * DIM, "text", 5) == []
        index.delete_source("a.txt")
    assert not (tmp_path / VectorIndex.FOLDER).exists()


def test_upsert_is_idempotent_and_replaces(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 10)
    with VectorIndex.open(tmp_path) as index:
        index.add("a.txt", "sha1", text_pieces("a.txt", 10), vectors.tolist())
        index.add("a.txt", "sha1", text_pieces("a.txt", 10), vectors.tolist())  # resumed run
        assert index.count() == 10
        assert index.count("a.txt") == 10
        assert index.vector_size == DIM
        # Replacing piece 3 with another text and vector: the search finds the new one.
        new = Piece("a.txt", "text", "replaced", "text", ordinal=3)
        index.add("a.txt", "sha2", [new], [vectors[7].tolist()])
        assert index.count() == 10
        found = index.search(vectors[7].tolist(), "text", 2)
        assert {f.piece.text for f in found} == {"replaced", "a.txt chunk 7"}
        assert found[0].score == pytest.approx(1.0, abs=1e-5)


def test_delete_source_and_pieces_from(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    with VectorIndex.open(tmp_path) as index:
        index.add("a.txt", "s", text_pieces("a.txt", 20), unit(rng, 20).tolist())
        index.add("b.txt", "s", text_pieces("b.txt", 5), unit(rng, 5).tolist())
        index.delete_pieces_from("a.txt", 12)
        assert index.count("a.txt") == 12
        index.delete_source("b.txt")
        assert index.count("b.txt") == 0
        assert index.count() == 12
        found = index.search(unit(rng, 1)[0].tolist(), "text", 100)
        assert sorted(f.piece.ordinal for f in found) == list(range(12))
        assert {f.piece.source for f in found} == {"a.txt"}


@pytest.mark.parametrize("window_bytes", [vector_index.SCAN_BYTES, 4100])
def test_search_matches_brute_force_cosine_per_group(
    tmp_path: Path, window_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small windows: many maps, at offsets that are not page-aligned (a row is 128 bytes).
    monkeypatch.setattr(vector_index, "SCAN_BYTES", window_bytes)
    rng = np.random.default_rng(3)
    n = 1000
    # Not unit length: the index must normalise to give cosine, not dot products.
    vectors = unit(rng, n) * rng.uniform(0.5, 3.0, (n, 1)).astype(np.float32)
    groups: list[Group] = list(rng.choice(list(GROUPS), n, p=[0.8, 0.15, 0.05]))
    pieces = [Piece(f"f{i // 100}.txt", "text", f"t{i}", groups[i], ordinal=i) for i in range(n)]
    with VectorIndex.open(tmp_path) as index:
        for start in range(0, n, 256):  # batches, as the indexer writes them
            part = pieces[start : start + 256]
            for source in dict.fromkeys(p.source for p in part):
                mine = [p for p in part if p.source == source]
                index.add(source, "s", mine, [vectors[p.ordinal].tolist() for p in mine])
        normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        for _ in range(3):
            query = rng.standard_normal(DIM) * 5
            cosine = normed.astype(np.float64) @ (query / np.linalg.norm(query))
            for group in GROUPS:
                members = np.array([i for i in range(n) if groups[i] == group])
                expected = members[np.argsort(-cosine[members])][:10]
                found = index.search(query.tolist(), group, 10)
                assert [f.piece.ordinal for f in found] == expected.tolist()
                assert [f.score for f in found] == pytest.approx(cosine[expected], abs=1e-5)
                assert all(f.piece.group == group for f in found)


def test_payload_round_trips_exactly(tmp_path: Path) -> None:
    pieces = [
        Piece("docs/Ünïcode ✓ 'q'.pdf", "pdf_page", "Grüße, 東京 — «page» 3", "visual", 0, page=3),
        Piece("docs/Ünïcode ✓ 'q'.pdf", "text", 'line\nbreak "quoted" \\ \x00x', "text", 1),
        Piece("media/clip.mp4", "video", "", "av", 0, None, 12.345678901234, 45.0),
    ]
    rng = np.random.default_rng(4)
    vectors = unit(rng, 3)
    with VectorIndex.open(tmp_path) as index:
        index.add(pieces[0].source, "abc", pieces[:2], vectors[:2].tolist())
        index.add(pieces[2].source, "def", pieces[2:], vectors[2:].tolist())
    with VectorIndex.open(tmp_path) as index:
        for piece, vector in zip(pieces, vectors, strict=True):
            [found] = index.search(vector.tolist(), piece.group, 1)
            assert found.piece == piece


def test_vector_size_mismatch_names_both_sizes(tmp_path: Path) -> None:
    with VectorIndex.open(tmp_path) as index:
        index.add("a.txt", "s", text_pieces("a.txt", 1), [[1.0] * DIM])
    with VectorIndex.open(tmp_path) as index:
        with pytest.raises(ConfigurationError, match=rf"\b16\b.*\b{DIM}\b"):
            index.add("b.txt", "s", text_pieces("b.txt", 1), [[1.0] * 16])
        assert index.count() == 1


def test_reopen_and_compaction_keep_every_point(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 300)
    with VectorIndex.open(tmp_path) as index:
        for k in range(3):
            source = f"{k}.txt"
            index.add(source, "s", text_pieces(source, 100), vectors[100 * k : 100 * k + 100])
        index.delete_source("1.txt")
        index.compact(force=True)  # drops the 100 dead rows, renumbers the slots
        files = list((tmp_path / VectorIndex.FOLDER).glob("*.f32"))
        assert [f.name for f in files] == ["text-1.f32"]
        assert files[0].stat().st_size == 200 * DIM * 4
    with VectorIndex.open(tmp_path) as index:
        assert index.vector_size == DIM
        assert index.count() == 200
        for i in (0, 99, 200, 299):
            [found] = index.search(vectors[i].tolist(), "text", 1)
            assert (found.piece.source, found.piece.ordinal) == (f"{i // 100}.txt", i % 100)
            assert found.score == pytest.approx(1.0, abs=1e-5)


def test_a_reader_sees_what_another_writer_commits(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    with VectorIndex.open(tmp_path) as writer, VectorIndex.open(tmp_path) as reader:
        assert reader.search([1.0] * DIM, "text", 3) == []
        writer.add("a.txt", "s", text_pieces("a.txt", 5), unit(rng, 5).tolist())
        assert reader.count() == 5
        assert len(reader.search([1.0] * DIM, "text", 3)) == 3


WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pathlib import Path
    from omniembed.rag.pieces import Piece
    from omniembed.rag.vector_index import VectorIndex

    index = VectorIndex.open(Path(sys.argv[1]))
    rng = np.random.default_rng(0)
    batch = 0
    while True:
        source = f"f{batch % 7}.txt"  # sources recur: upserts and deletes, not just appends
        if batch % 5 == 4:
            index.delete_source(source)
        pieces = [Piece(source, "text", "x" * 50, "text", ordinal=i) for i in range(64)]
        index.add(source, "s", pieces, rng.standard_normal((64, 256)).astype("f4"))
        batch += 1
        if batch == 3:
            print("ready", flush=True)
    """
)


def test_a_writer_killed_mid_add_leaves_a_readable_index(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)  # a long series of adds is under way
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate(timeout=30)  # waits, and closes its pipe
    assert child.returncode == -signal.SIGKILL
    with VectorIndex.open(tmp_path) as index:
        total = index.count()
        assert total > 0
        # Every point is a whole batch of 64 and its vector reads back.
        for source in (f"f{k}.txt" for k in range(7)):
            assert index.count(source) in (0, 64)
        found = index.search(np.ones(256).tolist(), "text", total)
        assert len(found) == total
        index.compact(force=True)  # the rows of a cut-off batch are dropped
        assert index.count() == total
        rows = sum(f.stat().st_size for f in (tmp_path / "vectors").glob("*.f32")) // (256 * 4)
        assert rows == total
