"""Shared fixtures: one emulator per test session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from omniembed.emulator import Emulator
from tests import media_factory as make


@pytest.fixture(scope="session")
def _session_emulator() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emu(_session_emulator: Emulator) -> Iterator[Emulator]:
    """The session's emulator with no faults, quotas, latency or key, and an empty log."""
    emulator = _session_emulator
    emulator.faults = None
    emulator.quotas = None
    emulator.tier = None
    emulator.model_quotas = None
    emulator.quota_window_sec = 60.0
    emulator.latency_ms = 0
    emulator.api_key = None
    emulator.clear_requests()
    emulator.reset_quotas()
    emulator.clear_injected()
    yield emulator
    emulator.faults = None
    emulator.quotas = None
    emulator.tier = None
    emulator.model_quotas = None
    emulator.quota_window_sec = 60.0
    emulator.latency_ms = 0
    emulator.api_key = None


@pytest.fixture
def tones_wav(tmp_path: Path) -> Path:
    """``tones.wav``, 30 s: a low tone, a high tone, the low tone again, 10 s each (the low
    one at 301.3 Hz, so its two 10 s windows differ in bytes and each is really embedded)."""
    path = tmp_path / "tones.wav"
    path.write_bytes(make.tones([(10, 301.3), (10, 1500), (10, 301.3)]))
    return path


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/conformance/conftest.py: pytest reads options only from the root
    # conftest when the run is not started inside that folder.
    group = parser.getgroup("conformance", "tests/conformance: one scenario suite, two targets")
    group.addoption(
        "--target",
        choices=("emulator", "live"),
        default="emulator",
        help="run tests/conformance against the built-in emulator (default) or the real "
        "services (each provider only with its credentials; see docs/conformance.md)",
    )
    group.addoption(
        "--record",
        metavar="DIR",
        default=None,
        help="save every HTTP exchange of tests/conformance as YAML cassettes under DIR, "
        "secrets removed",
    )
