"""Fixtures for the emulator tests: a fresh emulator per test and an httpx client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from omniembed.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def http(emulator: Emulator) -> Iterator[httpx.Client]:
    """An httpx client bound to the emulator (no retries, short timeout)."""
    with httpx.Client(base_url=emulator.base_url, timeout=10) as client:
        yield client
