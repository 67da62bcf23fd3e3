"""CPU work of async calls, done so that it really leaves the event loop free.

Moving work to a thread is not enough by itself: CPython runs one thread at a time, and a
single long C call holds the interpreter lock (GIL) for all of its length, so the loop
waits for it wherever it runs. Measured on a 2-CPU machine: ``json.loads`` of one
``batchEmbedContents`` response (100 × 3,072 floats, 3.9 MB) takes ~70 ms and stalls a
loop by that much from a worker thread too; ``json.dumps`` of a 17 MB request with inline
images ~80 ms; ``base64`` of a 13 MB image ~15 ms. The functions here do the same work in
pieces of about a millisecond and let other threads run in between (``time.sleep(0)``
releases the lock), so a worker thread running them leaves the loop at most a few ms late.

They return exactly what ``json.loads`` / compact ``json.dumps`` / ``base64.b64encode``
would, and may be called from any thread (the sync paths use them too).
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import functools
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from json.decoder import WHITESPACE, JSONDecodeError, scanstring  # type: ignore[attr-defined]
from json.encoder import encode_basestring_ascii
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: How long a piece of work may hold the GIL before other threads get a turn.
SLICE_SEC = 0.001
#: Containers down to this depth are decoded element by element; deeper values (a vector,
#: one embedding object) in one C call each — ~0.7 ms for 3,072 floats.
_WALK_DEPTH = 3
#: Strings longer than this are escaped in slices (base64 media runs to megabytes).
_STRING_SLICE = 256 * 1024
#: Bytes base64-encoded per piece (a multiple of 3, so the pieces join without padding).
_B64_SLICE = 3 * 256 * 1024

_decoder = json.JSONDecoder()


class Turns:
    """Call it between pieces of work: once this thread has run for `SLICE_SEC` since the
    last turn, other threads (the event loop's) get the GIL."""

    __slots__ = ("_since",)

    def __init__(self) -> None:
        self._since = time.perf_counter()

    def __call__(self) -> None:
        now = time.perf_counter()
        if now - self._since >= SLICE_SEC:
            time.sleep(0)
            self._since = time.perf_counter()


# --- decoding ------------------------------------------------------------------------------


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads`, in pieces: the top levels element by element, deeper values whole."""
    text = (
        data
        if isinstance(data, str)
        else bytes(data).decode(json.detect_encoding(data), "surrogatepass")
    )
    turns = Turns()
    value, end = _value(text, _skip(text, 0), 0, turns)
    end = _skip(text, end)
    if end != len(text):
        raise JSONDecodeError("Extra data", text, end)
    return value


def _skip(text: str, index: int) -> int:
    return WHITESPACE.match(text, index).end()  # type: ignore[no-any-return]


def _value(text: str, index: int, depth: int, turns: Turns) -> tuple[Any, int]:
    opener = text[index : index + 1]
    if depth < _WALK_DEPTH and opener == "{":
        return _object(text, index + 1, depth, turns)
    if depth < _WALK_DEPTH and opener == "[":
        return _array(text, index + 1, depth, turns)
    turns()
    return _decoder.raw_decode(text, index)


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
    _encode(value, pieces, Turns())
    return "".join(pieces).encode("ascii")


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
    turns = Turns()
    pieces = []
    for start in range(0, len(view), _B64_SLICE):
        pieces.append(base64.b64encode(view[start : start + _B64_SLICE]).decode("ascii"))
        turns()
    return "".join(pieces)


def floats(values: Any) -> list[float]:
    """A decoded JSON vector as a list of floats: the list itself when it is one (JSON
    writes whole numbers as ints). No copy: a copy is one more large object for the
    garbage collector to walk while both are alive."""
    if isinstance(values, list) and set(map(type, values)) <= {float}:
        return values
    return list(map(float, values))


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


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="omniembed-cpu")
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


__all__ = ["SLICE_SEC", "WORKERS", "Turns", "b64encode", "dumps", "floats", "loads", "run"]
