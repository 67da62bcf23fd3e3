"""Latency is a per-request sleep that never blocks other requests."""

from __future__ import annotations

import asyncio
import time

import httpx

from omniembed.emulator import Emulator

PATH = "/v1beta/models/gemini-embedding-001:embedContent"
BODY = {"content": {"parts": [{"text": "x"}]}}


async def test_latency_applies_concurrently() -> None:
    with Emulator(latency_ms=300) as emu:
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=10) as client:
            started = time.monotonic()
            responses = await asyncio.gather(*(client.post(PATH, json=BODY) for _ in range(5)))
            elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [200] * 5
    assert 0.3 <= elapsed < 1.2  # five sequential sleeps would take 1.5 s


def test_latency_can_change_while_running(emulator: Emulator, http: httpx.Client) -> None:
    emulator.latency_ms = 200
    started = time.monotonic()
    http.post(PATH, json=BODY)
    assert time.monotonic() - started >= 0.2

    emulator.latency_ms = 0
    started = time.monotonic()
    http.post(PATH, json=BODY)
    assert time.monotonic() - started < 0.2
