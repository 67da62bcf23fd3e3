"""`omniembed.runtime.offload`: the same results as json / base64, in pieces."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import gc
import json
import random
import threading
import time
from typing import Any

import pytest

from omniembed.runtime import offload


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 5 or pick < 0.3:
        return rng.choice(
            [0, -3, 1.5e-7, 1e300, 0.1, "", "x", 'q"\\\n\t\x00é\U0001f600', True, False, None]
        )
    if pick < 0.65:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    keys = ["a", "é", 'k"', "", "values"]
    return {rng.choice(keys) + str(n): _value(rng, depth + 1) for n in range(rng.randrange(5))}


def test_loads_and_dumps_agree_with_json() -> None:
    rng = random.Random(11)
    for _ in range(500):
        value = _value(rng)
        for text in (
            json.dumps(value),
            json.dumps(value, indent=2),
            json.dumps(value, ensure_ascii=False),
        ):
            assert offload.loads(text) == json.loads(text)
            assert offload.loads(text.encode()) == json.loads(text.encode())
            assert offload.loads(text.encode("utf-16")) == json.loads(text.encode("utf-16"))
        assert offload.dumps(value) == json.dumps(value, separators=(",", ":")).encode()


def test_a_long_string_is_escaped_in_slices_as_a_whole() -> None:
    text = "a" * (offload._STRING_SLICE - 1) + "é\U0001f600\n" + "b" * offload._STRING_SLICE
    assert offload.dumps({"k": text}) == json.dumps({"k": text}, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    "bad", ["", " ", "{", "[1,]", '{"a" 1}', "[1 2]", '{"a":1,}', "1 2", '{"a":}', "nul", "{1:2}"]
)
def test_malformed_json_raises_as_json_does(bad: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad)
    with pytest.raises(json.JSONDecodeError):
        offload.loads(bad)


def test_b64encode_agrees_with_base64() -> None:
    data = random.Random(3).randbytes(offload._B64_SLICE * 2 + 7)
    assert offload.b64encode(data) == base64.b64encode(data).decode("ascii")
    assert offload.b64encode(b"") == ""


def test_floats_keeps_a_float_list_and_converts_whole_numbers() -> None:
    values = [0.5, -1.0]
    assert offload.floats(values) is values
    converted = offload.floats([0, 1.5])
    assert converted == [0.0, 1.5] and all(type(v) is float for v in converted)


async def test_run_uses_the_cpu_threads_in_the_callers_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var")
    var.set("caller")

    def where() -> tuple[str, str]:
        return threading.current_thread().name, var.get()

    name, seen = await offload.run(where)
    assert name.startswith("omniembed-cpu") and seen == "caller"
    results = await asyncio.gather(*(offload.run(sum, [n, n]) for n in range(20)))
    assert results == [2 * n for n in range(20)]


def test_vectors_read_by_orjson_are_what_json_reads() -> None:
    """Flat number arrays go through orjson; where it would read one differently from
    json (NaN, infinities, integers past 64 bits, null), json reads it."""
    rng = random.Random(5)
    specials = [0, -0, -0.0, 1, 5e-324, 1.7976931348623157e308, 2**63, -(2**64) - 1, 10**30]
    for _ in range(200):
        vector = [rng.gauss(0, 0.05) for _ in range(rng.randrange(0, 300))]
        vector += rng.sample(specials, rng.randrange(3))
        rng.shuffle(vector)
        for text in (json.dumps({"values": vector}), json.dumps([[vector]], indent=1)):
            assert repr(offload.loads(text)) == repr(json.loads(text))
    for text in (
        "[NaN, 1]",
        "[1e400]",
        "[-Infinity]",
        "[true, null, 1.5]",
        "[[1], [2.5]]",
        '["]"]',
    ):
        assert repr(offload.loads(text)) == repr(json.loads(text))


def test_a_large_document_is_walked_and_agrees_with_json() -> None:
    """Documents of every size take the same path; this one spans many slices."""
    rng = random.Random(9)
    document = {
        "embeddings": [{"values": [rng.random() for _ in range(3072)]} for _ in range(40)],
        "nested": [_value(rng) for _ in range(50)],
    }
    text = json.dumps(document)
    assert len(text) > offload.INLINE_BYTES
    assert offload.loads(text) == json.loads(text)


async def test_workers_of_async_calls_nap_at_their_turns_and_sync_callers_do_not() -> None:
    naps = await offload.run(lambda: offload.Turns()._nap)
    assert naps == offload.NAP_SEC
    assert offload.Turns()._nap is None  # the caller's own thread: nothing to yield to


async def test_run_sized_keeps_small_work_on_the_loop_and_hands_large_work_over() -> None:
    def where(_: object) -> str:
        return threading.current_thread().name

    here = threading.current_thread().name
    assert await offload.run_sized(offload.INLINE_BYTES - 1, where, None) == here
    assert (await offload.run_sized(offload.INLINE_BYTES, where, None)).startswith("omniembed-cpu")


async def test_take_turn_lets_the_loop_run_others_between_a_slice_of_steps() -> None:
    """16 tasks each run 4 steps of 1 ms of CPU, calling `take_turn` before each: a loop
    pass holds at most a slice of them (2 ms: two or three steps), every task finishes,
    and a callback queued on the loop runs between the passes."""
    loop = asyncio.get_running_loop()
    passes = 0
    stop = False

    def tick() -> None:
        nonlocal passes
        passes += 1
        if not stop:
            loop.call_soon(tick)

    per_pass: dict[int, int] = {}

    async def task() -> None:
        for _ in range(4):
            await offload.take_turn()
            per_pass[passes] = per_pass.get(passes, 0) + 1
            end = time.perf_counter() + 0.001
            while time.perf_counter() < end:
                pass

    loop.call_soon(tick)
    await asyncio.gather(*(task() for _ in range(16)))
    stop = True
    slice_steps = 1 + int(offload.LOOP_SLICE_SEC / 0.001)
    assert sum(per_pass.values()) == 64
    # `tick` counts passes from where it sits in one, so a count can span the end of one
    # pass and the start of the next: two slices. Without turns it would be all 16 tasks.
    assert max(per_pass.values()) <= 2 * slice_steps
    assert len(per_pass) >= 64 // (2 * slice_steps)


def test_floats_collects_the_young_generations_every_so_many_elements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = [[0.5] * 50_000 for _ in range(10)]  # 500,000 elements
    collections: list[int] = []

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] >= 1:
            collections.append(info["generation"])

    monkeypatch.setattr(offload, "_young", offload._YoungCollections())
    gc.callbacks.append(seen)
    try:
        for vector in vectors:
            offload.floats(vector)
        paced = len(collections)
        monkeypatch.setattr(offload, "GC_EVERY_FLOATS", 0)
        collections.clear()
        for vector in vectors:
            offload.floats(vector)
    finally:
        gc.callbacks.remove(seen)
    assert paced >= 500_000 // 200_000  # at 200,000 and 400,000 elements
    assert collections == []  # turned off


async def test_paced_work_in_the_workers_takes_one_lane_at_a_time() -> None:
    """Two workers in paced work do not overlap (so a nap hands the GIL to the loop, not
    to the other worker); a sync caller's `Turns` takes no lane."""
    spans: list[tuple[float, float]] = []

    def paced() -> None:
        with offload.Turns() as turns:
            start = time.perf_counter()
            while time.perf_counter() - start < 0.02:
                turns()
            spans.append((start, time.perf_counter()))

    await asyncio.gather(offload.run(paced), offload.run(paced))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start
    free: list[bool] = []

    def try_lane() -> None:
        free.append(offload._lane.acquire(blocking=False))
        if free[-1]:
            offload._lane.release()

    with offload.Turns():
        other = threading.Thread(target=try_lane)
        other.start()
        other.join()
    assert free == [True]  # this (sync) thread's Turns took no lane
