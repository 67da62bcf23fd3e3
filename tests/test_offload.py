"""`omniembed.runtime.offload`: the same results as json / base64, in pieces."""

from __future__ import annotations

import asyncio
import base64
import contextvars
import json
import random
import threading
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
