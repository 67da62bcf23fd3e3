"""`omniembed.ray` on a local 2-CPU Ray instance against the in-process emulator.

Ray workers are separate processes on this machine, so they reach the emulator's port.
One `ray.init` serves the whole module (start-up takes seconds).
"""

from __future__ import annotations

import base64
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import ray
import ray.data

from omniembed import (
    ConfigurationError,
    GeminiEmbedder,
    Media,
    VertexMultiModalEmbedder,
    VideoSegmentConfig,
)
from omniembed.emulator import Emulator
from omniembed.ray import EmbedBatch, embed_dataset, share
from omniembed.runtime import Quota

from . import media_factory as make

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.*")

DIM = 64
SECRET = "AIza-ray-secret-7f3c9e"  # a key no log line may ever show
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]


@pytest.fixture(scope="module")
def ray_local() -> Iterator[None]:
    """One local Ray instance (2 CPUs) for the tests that run datasets."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    try:
        yield
    finally:
        ray.shutdown()


def _gemini_kwargs(emu: Emulator) -> dict[str, Any]:
    return {"api_key": SECRET, "base_url": emu.base_url, "output_dimensionality": DIM}


@pytest.mark.usefixtures("ray_local")
def test_mixed_rows_match_the_embedder_row_by_row(emu: Emulator, tmp_path: Path) -> None:
    images = []
    for n, color in enumerate(COLORS):
        path = tmp_path / f"img{n}.png"
        path.write_bytes(make.png(color))
        images.append(path)
    rows: list[dict[str, Any]] = [
        {"item": f"note {i}: the ferry leaves pier {i % 7} at {i % 24}:15", "kind": "text"}
        for i in range(200)
    ]
    rows[10:10] = [{"item": str(p), "kind": "image"} for p in images]  # plain paths
    rows.insert(60, {"item": images[0].as_uri(), "kind": "media"})  # file://
    data_uri = "data:image/png;base64," + base64.b64encode(make.png((9, 9, 9))).decode()
    rows.insert(120, {"item": data_uri, "kind": "image"})
    rows.insert(150, {"item": str(tmp_path / "missing.png"), "kind": "image"})  # the bad row
    rows.insert(170, {"item": "img0.png", "kind": "text"})  # a filename, embedded as TEXT
    for i, row in enumerate(rows):
        row["id"] = i

    ds = embed_dataset(
        ray.data.from_items(rows),
        "gemini",
        workers=2,
        batch_size=40,
        batch_format="numpy",
        num_cpus=0.5,
        input_type_column="kind",
        **_gemini_kwargs(emu),
    )
    out = sorted(ds.take_all(), key=lambda r: r["id"])

    assert [r["item"] for r in out] == [r["item"] for r in rows]
    bad = out[150]
    assert bad["embedding"] is None
    assert bad["embedding_error"].startswith("MediaNotFoundError")
    assert "missing.png" in bad["embedding_error"]
    good = [r for r in out if r["id"] != 150]
    assert all(r["embedding_error"] is None for r in good)
    assert all(len(r["embedding"]) == DIM for r in good)

    # Every row's vector is the one the embedder gives its own input: a batch whose order
    # slipped would pair vectors with the wrong rows.
    reference = GeminiEmbedder(**_gemini_kwargs(emu))
    inputs = [r["item"] if r["kind"] == "text" else Media.coerce(r["item"]) for r in good]
    expected = reference.embed(inputs)
    for row, result in zip(good, expected, strict=True):
        assert list(row["embedding"]) == result.vector, row["id"]
    # The filename row was embedded as the text "img0.png", not as the picture.
    assert list(out[170]["embedding"]) == reference.embed(["img0.png"])[0].vector
    assert list(out[170]["embedding"]) != list(out[10]["embedding"])
    # The key went to the workers but shows up in no output and no Ray log.
    assert SECRET not in repr(out)
    node: Any = ray._private.worker._global_node  # this session's node (private API)
    logs = Path(node.get_logs_dir_path())
    for log in logs.rglob("*"):
        if log.is_file():
            assert SECRET.encode() not in log.read_bytes(), log


@pytest.mark.usefixtures("ray_local")
def test_workers_share_one_quota(emu: Emulator) -> None:
    total_rpm, total_burst = 600.0, 4  # 10 requests/s for the pool; 5/s and 2 per worker
    emu.quotas = {"batchEmbedContents": total_rpm}  # the service refuses what goes past it
    rows = [{"item": f"quota row {i}"} for i in range(80)]
    ds = embed_dataset(
        ray.data.from_items(rows),
        "gemini",
        workers=2,
        batch_size=2,  # one request per two rows: 40 requests
        num_cpus=0.5,
        input_type="text",
        requests_per_minute=total_rpm,
        burst=total_burst,
        **_gemini_kwargs(emu),
    )
    out = ds.take_all()
    assert len(out) == 80
    assert all(r["embedding_error"] is None for r in out)

    records = [r for r in emu.requests if r.route == "batchEmbedContents"]
    assert [r.status for r in records].count(429) == 0
    times = sorted(r.received_at for r in records)
    assert len(times) == 40
    rate = total_rpm / 60
    # GCRA bound: a window of w seconds holds at most rate * w + burst requests; allow two
    # more for arrival jitter (a request reserved on time can reach the server late).
    # Without the split (10/s per worker) the 40 requests would take ~2 s: excess ~20.
    excess = max(
        j - i + 1 - rate * (times[j] - times[i])
        for i in range(len(times))
        for j in range(i, len(times))
    )
    span = times[-1] - times[0]
    measured = (len(times) - total_burst) / span
    print(
        f"aggregate: {len(times)} requests in {span:.2f} s, {measured:.1f}/s after the burst, "
        f"worst window excess over rate*w {excess:.1f} (burst {total_burst})"
    )
    assert excess <= total_burst + 2, excess
    assert measured <= rate * 1.1
    # (Unloaded, the pool runs at ~10/s, twice one worker's share; not asserted, since a
    # busy machine slows Ray's scheduling, not the pacing.)


@pytest.fixture
def model_quota(emu: Emulator) -> Iterator[Emulator]:
    """The session emulator with per-model quotas set by the test, restored afterwards."""
    try:
        yield emu
    finally:
        emu.model_quotas = None
        emu.quota_window_sec = 60.0
        emu.reset_quotas()


def test_workers_split_a_per_item_quota_and_get_no_429(model_quota: Emulator) -> None:
    """Two workers (the callable as each actor builds it, run side by side in threads) on a
    quota the emulator counts per input, in a time-scaled 1-second minute: each taking the
    whole 20 per window would be refused; their halves never are."""
    emu = model_quota
    emu.model_quotas = {"gemini-embedding-2": {"rpm": 20}}
    emu.quota_window_sec = 1.0
    workers = [
        EmbedBatch(
            "gemini",
            input_type="text",
            workers=2,
            requests_per_minute=20,  # the pool's TOTAL, in the service's unit (inputs)
            quota_window_sec=1.0,  # the emulator's time-scaled minute
            **_gemini_kwargs(emu),
        )
        for _ in range(2)
    ]
    assert [w.embedder.quota.limits.requests_per_minute for w in workers] == [10.0, 10.0]

    def run(worker: EmbedBatch, offset: int) -> list[str | None]:
        errors: list[str | None] = []
        for start in range(offset, offset + 20, 5):
            batch = {"item": np.array([f"split row {i}" for i in range(start, start + 5)])}
            errors += list(worker(batch)["embedding_error"])
        return errors

    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(run, workers, [0, 20]))
    elapsed = time.monotonic() - started
    assert all(e is None for errors in results for e in errors)
    usage = emu.quota_usage()["gemini:gemini-embedding-2"]
    assert (usage.rejected_calls, usage.embedded_inputs) == (0, 40)
    assert elapsed >= 1.0  # 40 inputs at 20 per window cannot go out in one window


@pytest.mark.usefixtures("ray_local")
def test_vertex_through_the_same_callable_with_segments(emu: Emulator, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    red, blue = (220, 20, 20), (20, 20, 220)
    video.write_bytes(make.video(12, fps=1, size=16, colors=(red,) * 6 + (blue,) * 6))
    image = tmp_path / "red.png"
    image.write_bytes(make.png(red))
    rows = [
        {"id": 0, "item": "a red square", "kind": "text"},
        {"id": 1, "item": str(image), "kind": "image"},
        {"id": 2, "item": str(video), "kind": "video"},
        {"id": 3, "item": "", "kind": "text"},  # empty text: a local error
    ]
    vertex_kwargs: dict[str, Any] = {
        "project": "p",
        "access_token": "tok",
        "base_url": emu.base_url,
    }
    ds = embed_dataset(
        ray.data.from_items(rows),
        "vertex",
        workers=2,
        batch_size=4,  # pandas batches (the default)
        num_cpus=0.5,
        input_type_column="kind",
        segments_column="segments",
        segment_config=VideoSegmentConfig(interval_sec=4),
        dimension=128,
        **vertex_kwargs,
    )
    out = sorted(ds.take_all(), key=lambda r: r["id"])
    reference = VertexMultiModalEmbedder(dimension=128, **vertex_kwargs)
    text, picture = reference.embed(["a red square", Media.from_path(image)])
    assert list(out[0]["embedding"]) == text.vector
    assert list(out[1]["embedding"]) == picture.vector
    assert out[0]["segments"] is None and out[1]["segments"] is None
    clip = out[2]
    assert clip["embedding"] is None and clip["embedding_error"] is None  # three segments
    assert [(s["start"], s["end"]) for s in clip["segments"]] == [(0, 4), (4, 8), (8, 12)]
    expected = reference.embed_video(video, VideoSegmentConfig(interval_sec=4))
    assert [list(s["vector"]) for s in clip["segments"]] == [e.vector for e in expected]
    assert all(len(s["vector"]) == 1408 for s in clip["segments"])  # video is always 1408
    assert out[3]["embedding"] is None
    assert out[3]["embedding_error"].startswith("EmptyInputError")


# --- the callable itself, without Ray's scheduler (fast) ------------------------------------


def test_pandas_arrow_and_numpy_batches_keep_order_and_columns(emu: Emulator) -> None:
    fn = EmbedBatch(
        "gemini",
        input_type="text",
        title_column="title",
        vector_dtype="float32",
        **_gemini_kwargs(emu),
    )
    texts = ["alpha", "beta", None, "gamma"]
    titles = ["A", None, None, "G"]
    frame = fn(pd.DataFrame({"item": texts, "title": titles, "extra": [1, 2, 3, 4]}))
    table = fn(pa.table({"item": texts, "title": titles, "extra": [1, 2, 3, 4]}))
    arrays = fn({"item": np.array(texts, dtype=object), "title": np.array(titles, dtype=object)})

    direct = GeminiEmbedder(**_gemini_kwargs(emu)).embed(
        ["alpha", "beta", "gamma"], titles=["A", None, "G"]
    )
    a, b, g = (np.asarray(r.vector, dtype=np.float32).tolist() for r in direct)
    missing = "ValueError: the row has no value to embed"
    # pandas and pyarrow: typed columns, the same schema whatever the batch holds.
    for rows in (pa.Table.from_pandas(frame, preserve_index=False).to_pylist(), table.to_pylist()):
        assert [r["embedding"] for r in rows] == [a, b, None, g]
        assert [r["embedding_error"] for r in rows] == [None, None, missing, None]
        assert [r["extra"] for r in rows] == [1, 2, 3, 4]
    assert table.schema.field("embedding").type == pa.list_(pa.float32())
    assert table.schema.field("embedding_error").type == pa.string()
    assert str(frame["embedding_error"].dtype) == "string[pyarrow]"
    # numpy: object arrays holding numpy vectors.
    vectors = [None if v is None else v.tolist() for v in arrays["embedding"]]
    assert vectors == [a, b, None, g]
    assert arrays["embedding"][0].dtype == np.float32
    assert list(arrays["embedding_error"]) == [None, None, missing, None]


def test_bytes_rows_and_kind_mistakes(emu: Emulator) -> None:
    fn = EmbedBatch("gemini", input_type_column="kind", **_gemini_kwargs(emu))
    png = make.png((1, 2, 3))
    out = fn(
        {
            "item": np.array([png, png, "x", "y", "z"], dtype=object),
            "kind": np.array(["image", "text", "media", "sound", None], dtype=object),
        }
    )
    errors = list(out["embedding_error"])
    assert errors[4] == "ValueError: the row has no input type (text, media, image, video, ...)"
    assert errors[0] is None and len(out["embedding"][0]) == DIM
    assert errors[1] == "TypeError: a text row needs a string, got bytes"
    assert errors[2].startswith("MediaNotFoundError")  # "x" read as a path, not as text
    assert errors[3].startswith("ValueError: unknown input type 'sound'")
    assert len(emu.requests) == 1  # only the good row was sent


def test_configuration_is_explicit_and_quota_is_split() -> None:
    with pytest.raises(ConfigurationError, match="never guesses"):
        EmbedBatch("gemini", api_key="k")
    with pytest.raises(ConfigurationError, match="cannot be shared between Ray workers"):
        EmbedBatch("gemini", input_type="text", rate_limiter=object())
    with pytest.raises(ConfigurationError, match="pass segments_column="):
        EmbedBatch("gemini", input_type="media", segment_config=VideoSegmentConfig(interval_sec=4))
    with pytest.raises(ConfigurationError, match="unknown provider"):
        EmbedBatch("openai", input_type="text")
    with pytest.raises(ConfigurationError, match="A Quota cannot be shared"):
        EmbedBatch("gemini", input_type="text", quota=Quota(requests_per_minute=5))
    with pytest.raises(ConfigurationError, match="tier='tier1' has no published quota"):
        EmbedBatch("vertex", input_type="text", tier="tier1", project="p", access_token="t")
    with pytest.raises(ConfigurationError, match="requests_per_minute must be a positive"):
        share(GeminiEmbedder, 2, requests_per_minute=-5)
    with pytest.raises(ConfigurationError, match="burst= spaces requests"):
        EmbedBatch("gemini", input_type="text", burst=4, api_key="k")
    # Vertex's own default tier (120/min for the project) is divided, not multiplied.
    vertex = share(VertexMultiModalEmbedder, 4)
    assert (vertex.limits.requests_per_minute, vertex.limits.unit, vertex.max_concurrency) == (
        30.0,
        "call",
        2,
    )
    assert share(VertexMultiModalEmbedder, 4, tier=None).limits.empty  # the default dropped
    unpaced = share(GeminiEmbedder, 4)  # no quota known: each worker learns it from 429s
    assert unpaced.limits.empty and unpaced.limits.unit == "item" and unpaced.max_concurrency == 4
    explicit = share(GeminiEmbedder, 3, requests_per_minute=3000, max_concurrency=2)
    assert (explicit.limits.requests_per_minute, explicit.max_concurrency) == (1000.0, 1)
    # Every figure of a tier is split; explicit numbers win over the tier's; the backend
    # (vertexai) picks the table row.
    free = share(GeminiEmbedder, 4, tier="free", tokens_per_minute=40_000).limits
    assert (free.requests_per_minute, free.tokens_per_minute, free.requests_per_day) == (
        25.0,
        10_000.0,
        250.0,
    )
    assert free.unit == "item"
    on_vertex = share(GeminiEmbedder, 2, tier="default", vertexai=True, model="gemini-embedding-2")
    assert on_vertex.limits.tokens_per_minute == 5_000_000 and on_vertex.limits.unit == "call"

    fn = EmbedBatch(
        "gemini",
        input_type="text",
        workers=4,
        tier="free",
        requests_per_day=800,
        burst=40,
        api_key="secret-key-123",
        base_url="http://127.0.0.1:9",
    )
    limits = fn.embedder.quota.limits  # each worker's own Quota: a quarter of everything
    assert (limits.requests_per_minute, limits.tokens_per_minute, limits.requests_per_day) == (
        25.0,
        7_500.0,
        200.0,
    )
    assert "1/4 share" in limits.source
    limiter = fn.embedder.rate_limiter  # burst=: requests spaced at the share, 40/4 at once
    assert limiter is not None
    assert (limiter.requests_per_minute, limiter.burst) == (25.0, 10)
    assert fn.embedder.max_concurrency == 4
    assert "secret-key-123" not in repr(fn)
    no_burst = EmbedBatch("vertex", input_type="text", workers=2, project="p", access_token="t")
    assert no_burst.embedder.rate_limiter is None
    assert no_burst.embedder.quota.limits.requests_per_minute == 60.0


def test_import_without_ray_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"
        "try:\n    import omniembed.ray\n"
        "except ImportError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'omniembed[ray]'" in done.stdout


@pytest.mark.usefixtures("ray_local")
def test_docs_page_runs(tmp_path: Path) -> None:
    """docs/ray.md's ``python`` blocks, in order, as one script in a fresh process with its
    own emulator, on this module's Ray instance (``RAY_ADDRESS``: no second start-up)."""
    page = Path(__file__).resolve().parents[1] / "docs" / "ray.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text("utf-8"), re.S)
    assert len(blocks) >= 6
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=150,
        cwd=tmp_path,
        env={**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[(0.0, 4.0), (4.0, 8.0)]" in done.stdout


@pytest.mark.usefixtures("ray_local")
def test_an_explicit_key_warns_that_it_travels_pickled(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    rows = ray.data.from_items([{"item": "a"}])
    with caplog.at_level(logging.WARNING, logger="omniembed.ray"):
        embed_dataset(rows, "gemini", workers=1, input_type="text", base_url=emu.base_url)
    ours = [r for r in caplog.records if r.name == "omniembed.ray"]
    assert not ours  # the default: the workers' environment, nothing shipped
    with caplog.at_level(logging.WARNING, logger="omniembed.ray"):
        embed_dataset(rows, "gemini", workers=1, input_type="text", **_gemini_kwargs(emu))
    [record] = [r for r in caplog.records if r.name == "omniembed.ray"]
    assert "api_key= is pickled in clear" in record.getMessage()
    assert SECRET not in record.getMessage()
