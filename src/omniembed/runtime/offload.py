"""CPU work of async calls, done so that it really leaves the event loop free.

Moving work to a thread is not enough by itself: CPython runs one thread at a time, and a
single long C call holds the interpreter lock (GIL) for all of its length, so the loop
waits for it wherever it runs. Measured on a 2-CPU machine: ``json.loads`` of one
``batchEmbedContents`` response (100 × 3,072 floats, 3.9 MB) takes ~70 ms and stalls a
loop by that much from a worker thread too; ``json.dumps`` of a 17 MB request with inline
images ~80 ms; ``base64`` of a 13 MB image ~15 ms. The functions here do the same work in
pieces of about a millisecond and, in the worker threads of async calls, hand the lock
to the event loop's thread between them (see `Turns`), so a worker thread running them
leaves the loop at most a few ms late. Work smaller than a thread hand-off is done on the
loop itself (`run_sized`).

They return exactly what ``json.loads`` / compact ``json.dumps`` / ``base64.b64encode``
would, and may be called from any thread (the sync paths use them too).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import gc
import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from json.decoder import WHITESPACE, JSONDecodeError, scanstring  # type: ignore[attr-defined]
from json.encoder import encode_basestring_ascii
from typing import Any, ParamSpec, TypeVar

import orjson

P = ParamSpec("P")
T = TypeVar("T")

#: How long a piece of work may hold the GIL before other threads get a turn.
SLICE_SEC = 0.001
#: How long a worker thread of an async call stays off the GIL at each turn. Not zero:
#: ``time.sleep(0)`` releases the lock for about a microsecond and the releasing thread
#: takes it straight back before the loop's thread has even woken (measured: no change
#: in loop lag), which then waits for CPython's forced switch (5 ms) instead — at each
#: socket call it makes, since every one of them releases and retakes the lock. 0.2 ms
#: lets the woken thread take it: 500 texts on gemini-embedding-2, max loop lag 21-32 ms
#: → 16 ms.
NAP_SEC = 0.0002
#: Work on fewer bytes than this runs on the loop (`run_sized`): ~0.5 ms of JSON, less
#: than what handing it to a thread and back costs the loop.
INLINE_BYTES = 128 * 1024
#: Containers down to this depth are decoded element by element, deeper ones in one C call
#: each; a vector at any depth in one call to orjson (see `_value`). Deep enough for every
#: answer's vectors (a Vertex AI video segment's sits at depth 5).
_WALK_DEPTH = 6
#: Strings longer than this are escaped in slices (base64 media runs to megabytes).
_STRING_SLICE = 256 * 1024
#: Bytes base64-encoded per piece (a multiple of 3, so the pieces join without padding).
_B64_SLICE = 3 * 256 * 1024

_decoder = json.JSONDecoder()


_worker = threading.local()  # ``nap`` is set in the pool's threads: see `run`


#: Held by the worker running paced work (see `Turns`).
_lane = threading.RLock()


class Turns:
    """Pacing for a piece of CPU work: call it between pieces; once this thread has run
    for `SLICE_SEC` since the last turn, the event loop's thread gets the GIL.

    Use it as a context manager around the work. In the workers of async calls it then
    holds a lane that one worker at a time may hold, and naps inside it: so the thread
    that takes the GIL during the nap is the loop's, not the other worker's (measured with
    both workers decoding answers: 500 texts on DashScope, loop lag 24-34 ms → 15-21 ms).
    Work outside `Turns` (Pillow decoding and resizing, which release the GIL; file reads)
    still runs in both workers at once. Outside the workers (a sync call, whose caller
    waits anyway) a turn costs nothing."""

    __slots__ = ("_nap", "_since")

    def __init__(self) -> None:
        self._nap: float | None = getattr(_worker, "nap", None)
        self._since = time.perf_counter()

    def __enter__(self) -> Turns:
        if self._nap is not None:
            _lane.acquire()
        self._since = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._nap is not None:
            _lane.release()

    def __call__(self) -> None:
        if self._nap is None:
            return
        now = time.perf_counter()
        if now - self._since >= SLICE_SEC:
            time.sleep(self._nap)
            self._since = time.perf_counter()


# --- decoding ------------------------------------------------------------------------------


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads`, in pieces: the top levels element by element, deeper values whole."""
    text = (
        data
        if isinstance(data, str)
        else bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    )
    with Turns() as turns:
        value, end = _value(text, _skip(text, 0), 0, turns)
    end = _skip(text, end)
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, index: int) -> int:
    return WHITESPACE.match(text, index).end()  # type: ignore[no-any-return]


def _value(text: str, index: int, depth: int, turns: Turns) -> tuple[Any, int]:
    opener = text[index : index + 1]
    if opener == "[":
        # A flat array of numbers (a vector) through orjson: ~0.2 ms for 3,072 floats
        # where the json module takes ~1.8 ms (its float parsing); both round correctly.
        # Such an array ends at the first "]" and holds no string and no array.
        end = text.find("]", index)
        if end > 0 and text.find('"', index, end) < 0 and text.find("[", index + 1, end) < 0:
            turns()
            vector = _numbers(text[index : end + 1])
            if vector is not None:
                return vector, end + 1
        if depth < _WALK_DEPTH:
            return _array(text, index + 1, depth, turns)
    elif opener == "{" and depth < _WALK_DEPTH:
        return _object(text, index + 1, depth, turns)
    turns()
    return _decoder.raw_decode(text, index)


def _numbers(text: str) -> list[Any] | None:
    """A flat JSON array by orjson, or None where orjson would not read it as json does:
    it refuses NaN, Infinity and out-of-range floats (json takes them) and reads integers
    beyond 64 bits as floats (json keeps them exact)."""
    try:
        values = orjson.loads(text)
        if values and not -(2.0**63) < min(values) <= max(values) < 2.0**63:
            return None  # maybe such an integer
    except (orjson.JSONDecodeError, TypeError):  # TypeError: a null; json reads it alike
        return None
    return values  # type: ignore[no-any-return]


def _object(text: str, index: int, depth: int, turns: Turns) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    index = _skip(text, index)
    if text[index : index + 1] == "}":
        return out, index + 1
    while True:
        if text[index : index + 1] != '"':
            raise JSONDecodeError("Expecting property name enclosed in double quotes", text, index)
        key, index = scanstring(text, index + 1)
        index = _skip(text, index)
        if text[index : index + 1] != ":":
            raise JSONDecodeError("Expecting ':' delimiter", text, index)
        out[key], index = _value(text, _skip(text, index + 1), depth + 1, turns)
        index = _skip(text, index)
        separator = text[index : index + 1]
        if separator == "}":
            return out, index + 1
        if separator != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


def _array(text: str, index: int, depth: int, turns: Turns) -> tuple[list[Any], int]:
    out: list[Any] = []
    index = _skip(text, index)
    if text[index : index + 1] == "]":
        return out, index + 1
    while True:
        value, index = _value(text, index, depth + 1, turns)
        out.append(value)
        index = _skip(text, index)
        separator = text[index : index + 1]
        if separator == "]":
            return out, index + 1
        if separator != ",":
            raise JSONDecodeError("Expecting ',' delimiter", text, index)
        index = _skip(text, index + 1)


# --- encoding ------------------------------------------------------------------------------


def dumps(value: Any) -> bytes:
    """Compact `json.dumps` (``separators=(",", ":")``, ASCII), as UTF-8 bytes, in pieces."""
    pieces: list[str] = []
    with Turns() as turns:
        _encode(value, pieces, turns)
        # Piece by piece, then one join: a joined str encoded whole is two copies of a
        # body of up to 18 MB in two long C calls.
        encoded = []
        for piece in pieces:
            encoded.append(piece.encode("ascii"))
            turns()
    return b"".join(encoded)


def _encode(value: Any, out: list[str], turns: Turns) -> None:
    turns()
    if isinstance(value, str):
        if len(value) <= _STRING_SLICE:
            out.append(encode_basestring_ascii(value))
            return
        out.append('"')
        for start in range(0, len(value), _STRING_SLICE):
            # Escaping is per code point, so slices escape exactly as the whole would.
            out.append(encode_basestring_ascii(value[start : start + _STRING_SLICE])[1:-1])
            turns()
        out.append('"')
    elif isinstance(value, dict):
        out.append("{")
        for number, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"keys must be str, not {type(key).__name__}")
            out.append("," if number else "")
            out.append(encode_basestring_ascii(key))
            out.append(":")
            _encode(item, out, turns)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for number, item in enumerate(value):
            if number:
                out.append(",")
            _encode(item, out, turns)
        out.append("]")
    else:  # numbers, booleans, None: what json.dumps writes for them
        out.append(json.dumps(value))


def b64encode(data: bytes | bytearray | memoryview) -> str:
    """`base64.b64encode(data).decode("ascii")`, in pieces."""
    view = memoryview(data)
    pieces = []
    with Turns() as turns:
        for start in range(0, len(view), _B64_SLICE):
            pieces.append(base64.b64encode(view[start : start + _B64_SLICE]).decode("ascii"))
            turns()
    return "".join(pieces)


#: After this many vector elements returned, the young generations are collected
#: (`floats`); 0 turns it off.
GC_EVERY_FLOATS = 200_000


class _YoungCollections:
    """Collects the garbage collector's young generations every `GC_EVERY_FLOATS` vector
    elements, so that each pause walks a bounded number of vectors.

    Why: the collector walks every element of every list it examines, and a list of floats
    counts once toward its trigger however long it is. Vectors are most of what an
    embedding call keeps, so ~230 of them pile up before a young collection and ~460
    before the next generation's: pauses of 10-17 ms, holding the interpreter lock (the
    event loop's thread waits wherever the collection runs). Collected every ~65 vectors
    of 3,072 floats, a pause walks ~200,000 elements: 2-6 ms. The vectors move to the
    old generation, which they would reach anyway by surviving; only a full collection
    walks them again, and those are rare in a process of any size (they wait until the
    objects added since the last one are a quarter of all the old ones)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    def add(self, elements: int) -> None:
        if not GC_EVERY_FLOATS:
            return
        with self._lock:
            self._count += elements
            due = self._count >= GC_EVERY_FLOATS
            if due:
                self._count = 0
        if due:
            gc.collect(1)


_young = _YoungCollections()


def floats(values: Any) -> list[float]:
    """A decoded JSON vector as a list of floats: the list itself when it is one (JSON
    writes whole numbers as ints). No copy: a copy is one more large object for the
    garbage collector to walk while both are alive."""
    if not (isinstance(values, list) and set(map(type, values)) <= {float}):
        values = list(map(float, values))
    _young.add(len(values))
    return values  # type: ignore[no-any-return]


# --- running -------------------------------------------------------------------------------

#: Threads for the async paths' CPU work. Few on purpose: CPU work under the GIL does not
#: run in parallel anyway, and every further thread is one more for the loop to compete
#: with, for the GIL and for the CPUs (measured on 2 CPUs, 50 images through Vertex AI:
#: ~45 ms of loop lag with asyncio's default pool of 6 threads, ~15 ms with 2). Two still
#: overlap one image's decoding or resizing, which Pillow does without the GIL, with
#: another's encoding.
WORKERS = 2

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _yield_to_loop() -> None:
    _worker.nap = NAP_SEC


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                WORKERS, thread_name_prefix="omniembed-cpu", initializer=_yield_to_loop
            )
        return _pool


def _forget_pool() -> None:
    # A forked child has none of the parent's threads: it starts its own pool.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


async def run(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``function(*args, **kwargs)`` in one of the `WORKERS` CPU threads, in the caller's
    context (as `asyncio.to_thread`).

    For CPU work: request bodies, media encoding, response parsing. Blocking I/O that may
    wait long (network uploads, token refreshes, downloads) belongs in `asyncio.to_thread`
    instead: here it would hold up every call's CPU work. Cancelling the awaiting task
    returns at once; work not started yet is dropped, work under way finishes (bounded
    CPU, no network wait) and its result is discarded.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, function, *args, **kwargs)
    return await loop.run_in_executor(_executor(), call)


#: How long the steps of our calls may run back to back on one event loop before the loop
#: gets a turn to run everything else that is ready (`take_turn`).
LOOP_SLICE_SEC = 0.001


class _LoopClock:
    """Per loop: when our steps began running in the loop's current pass."""

    __slots__ = ("marked", "since")

    def __init__(self) -> None:
        self.since = time.perf_counter()
        self.marked = False

    def reset(self) -> None:
        self.since = time.perf_counter()
        self.marked = False


_clocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClock] = (
    weakref.WeakKeyDictionary()
)


async def take_turn() -> None:
    """An await point for a call's tasks: once the steps of our calls have run for
    `LOOP_SLICE_SEC` in the loop's current pass, wait for the next pass.

    Why: the loop runs everything that became ready in one pass before it looks again at
    its timers and sockets, so 16 requests whose answers arrived together (Vertex AI sends
    one text per request; ~1-2 ms of google-genai and aiohttp work each) kept it 20-40 ms
    from everything else. A marker queued ahead of the waiting tasks opens each pass's
    budget, so every pass runs at least one task and at most about a slice of them."""
    loop = asyncio.get_running_loop()
    clock = _clocks.get(loop)
    if clock is None:
        clock = _clocks[loop] = _LoopClock()
    while time.perf_counter() - clock.since >= LOOP_SLICE_SEC:
        if not clock.marked:
            clock.marked = True
            loop.call_soon(clock.reset)
        await asyncio.sleep(0)


async def run_sized(size: int, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`run`, or the call itself on the loop when it works on fewer than `INLINE_BYTES`
    (``size``: the bytes it reads or writes). One text in, one vector out (Vertex AI
    sends one text per request) is ~0.5 ms of work; handing it to a thread costs the
    loop a submit, a wake-up through its self-pipe and the lock back from the worker."""
    if size < INLINE_BYTES:
        return function(*args, **kwargs)
    return await run(function, *args, **kwargs)


__all__ = [
    "GC_EVERY_FLOATS",
    "INLINE_BYTES",
    "LOOP_SLICE_SEC",
    "NAP_SEC",
    "SLICE_SEC",
    "WORKERS",
    "Turns",
    "b64encode",
    "dumps",
    "floats",
    "loads",
    "run",
    "run_sized",
    "take_turn",
]
