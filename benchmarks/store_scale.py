"""How the `index`/`ask` vector store scales: build a store of N pieces, then open it in a
fresh process and time the three group searches `ask` runs per question.

    python benchmarks/store_scale.py                      # 100,000 pieces of 3,072 dims
    python benchmarks/store_scale.py --pieces 2000 --dim 256

Measures omniembed's `VectorIndex` and, as the baseline, Qdrant local mode (the store
before issue 12; at most --qdrant-pieces, default 10,000, because it holds every point in
memory). Each build and each search runs in its own process, which reports its own peak
RSS. Vectors are random unit vectors; texts are ~1,500 characters; groups are mixed
80/15/5 % text/visual/av; writes come in batches of 256, ten batches per source file.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

BATCH = 256
PER_SOURCE = 10 * BATCH
GROUPS = ("text", "visual", "av")
WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "this",
    "are",
    "from",
    "or",
    "at",
    "an",
    "which",
    "vector",
    "store",
    "index",
    "search",
    "query",
    "model",
    "embedding",
    "page",
    "video",
    "audio",
    "image",
    "document",
    "retrieval",
    "answer",
    "question",
    "source",
    "file",
    "piece",
    "chunk",
    "group",
    "score",
    "cosine",
    "batch",
    "memory",
]
ROUNDS = 5


def peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if sys.platform != "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / scale


def batches(pieces: int, dim: int) -> Any:
    """(source, pieces, vectors) of each batch, generated lazily: nothing accumulates."""
    from omniembed.rag.pieces import Piece

    rng = np.random.default_rng(0)
    for start in range(0, pieces, BATCH):
        n = min(BATCH, pieces - start)
        source = f"docs/file{start // PER_SOURCE:05d}.txt"
        vectors = rng.standard_normal((n, dim), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        groups = rng.choice(GROUPS, n, p=[0.8, 0.15, 0.05])
        words = rng.choice(WORDS, (n, 300))
        batch = [
            Piece(
                source,
                "text" if g == "text" else ("pdf_page" if g == "visual" else "video"),
                " ".join(words[i])[:1500],
                g,
                ordinal=(start % PER_SOURCE) + i,
                page=(start + i) % 40 + 1 if g == "visual" else None,
                start_offset_sec=float(i) if g == "av" else None,
                end_offset_sec=float(i + 8) if g == "av" else None,
            )
            for i, g in enumerate(groups)
        ]
        yield source, batch, vectors


def query(dim: int) -> list[float]:
    q = np.random.default_rng(1).standard_normal(dim)
    return (q / np.linalg.norm(q)).tolist()


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- the backends, each run in a child process --------------------------------------------


def build_index(path: Path, pieces: int, dim: int) -> dict[str, Any]:
    from omniembed.rag.vector_index import VectorIndex

    with VectorIndex.open(path) as index:
        for source, batch, vectors in batches(pieces, dim):
            index.add(source, "0" * 64, batch, vectors)
        count = index.count()
    return {"count": count}


def search_index(path: Path, dim: int, limit: int) -> dict[str, Any]:
    from omniembed.rag.vector_index import VectorIndex

    started = time.perf_counter()
    index = VectorIndex.open(path)
    index.count()  # what `ask` touches first
    opened = time.perf_counter() - started
    q = query(dim)
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        found = [index.search(q, g, limit) for g in GROUPS]
        times.append(time.perf_counter() - t)
    index.close()
    return {"open": opened, "times": times, "found": sum(len(f) for f in found)}


def build_qdrant(path: Path, pieces: int, dim: int) -> dict[str, Any]:
    from qdrant_client import QdrantClient, models

    client = QdrantClient(path=str(path / "qdrant"))
    client.create_collection(
        "pieces", vectors_config=models.VectorParams(size=dim, distance=models.Distance.COSINE)
    )
    for source, batch, vectors in batches(pieces, dim):
        points = [
            models.PointStruct(
                id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{source}\x00{p.ordinal}")),
                vector=v.tolist(),
                payload=p.payload("0" * 64),
            )
            for p, v in zip(batch, vectors, strict=True)
        ]
        client.upsert("pieces", points=points)
    count = client.count("pieces", exact=True).count
    client.close()
    return {"count": count}


def search_qdrant(path: Path, dim: int, limit: int) -> dict[str, Any]:
    from qdrant_client import QdrantClient, models

    started = time.perf_counter()
    client = QdrantClient(path=str(path / "qdrant"))  # loads every point
    client.count("pieces", exact=True)
    opened = time.perf_counter() - started
    q = query(dim)
    times = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        found = [
            client.query_points(
                "pieces",
                query=q,
                query_filter=models.Filter(
                    must=[models.FieldCondition(key="group", match=models.MatchValue(value=g))]
                ),
                limit=limit,
                with_payload=True,
            ).points
            for g in GROUPS
        ]
        times.append(time.perf_counter() - t)
    client.close()
    return {"open": opened, "times": times, "found": sum(len(f) for f in found)}


def child(backend: str, job: str, path: Path, pieces: int, dim: int) -> None:
    t = time.perf_counter()
    if job == "build":
        build = build_index if backend == "vector_index" else build_qdrant
        result = build(path, pieces, dim)
    else:
        search = search_index if backend == "vector_index" else search_qdrant
        result = search(path, dim, 10)
    result.update(wall=time.perf_counter() - t, rss_mb=peak_rss_mb())
    print(json.dumps(result))


def run_child(backend: str, job: str, path: Path, pieces: int, dim: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", backend, job, str(path)]
    cmd += ["--pieces", str(pieces), "--dim", str(dim)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{backend} {job} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(backend: str, root: Path, pieces: int, dim: int) -> dict[str, Any]:
    path = root / backend
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    build = run_child(backend, "build", path, pieces, dim)
    if build["count"] != pieces:
        raise SystemExit(f"{backend}: built {build['count']} points, expected {pieces}")
    search = run_child(backend, "search", path, pieces, dim)
    return {
        "backend": backend,
        "pieces": pieces,
        "dim": dim,
        "build_s": build["wall"],
        "build_rss_mb": build["rss_mb"],
        "disk_mb": dir_size(path) / 1e6,
        "open_s": search["open"],
        "first_s": search["times"][0],
        "median_s": statistics.median(search["times"]),
        "search_rss_mb": search["rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=3072)
    parser.add_argument(
        "--qdrant-pieces",
        type=int,
        default=10_000,
        help="at most this many pieces for the Qdrant baseline (0: skip it)",
    )
    parser.add_argument("--dir", type=Path, help="where to build (default: a temporary folder)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, job, path = args.child
        child(backend, job, Path(path), args.pieces, args.dim)
        return

    root = args.dir or Path(tempfile.mkdtemp(prefix="store_scale-"))
    rows = [measure("vector_index", root, args.pieces, args.dim)]
    qdrant_n = min(args.pieces, args.qdrant_pieces)
    if qdrant_n > 0:
        try:
            __import__("qdrant_client")
        except ImportError:
            print("qdrant-client: not installed, baseline skipped")
        else:
            rows.append(measure("qdrant", root, qdrant_n, args.dim))
    if args.dir is None:
        shutil.rmtree(root, ignore_errors=True)

    print(
        "| backend | pieces | dim | build s | build peak RSS MB | disk MB | open s "
        "| 3-group search s, first | median of 5 | search peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['backend']} | {r['pieces']:,} | {r['dim']:,} | {r['build_s']:.1f} "
            f"| {r['build_rss_mb']:.0f} | {r['disk_mb']:.0f} | {r['open_s']:.3f} "
            f"| {r['first_s']:.3f} | {r['median_s']:.3f} | {r['search_rss_mb']:.0f} |"
        )
    if len(rows) == 2 and rows[1]["pieces"] < rows[0]["pieces"]:
        print(
            f"Qdrant measured at {rows[1]['pieces']:,} pieces, "
            f"{rows[0]['pieces'] / rows[1]['pieces']:.1f}x fewer than vector_index."
        )
    if len(rows) == 2:
        ours, base = rows
        per = base["pieces"] / ours["pieces"]  # compare per piece where N differs
        print(
            "Qdrant / vector_index per piece: "
            f"open {base['open_s'] / max(ours['open_s'] * per, 1e-9):.0f}x, "
            f"search median {base['median_s'] / max(ours['median_s'] * per, 1e-9):.1f}x, "
            f"disk {base['disk_mb'] / max(ours['disk_mb'] * per, 1e-9):.1f}x"
        )


if __name__ == "__main__":
    main()
