"""Replay checker: recorded real traffic (VCR cassettes) against the emulator.

``python -m omniembed.emulator.conformance DIR [--json] [--only GLOB]`` replays every
recorded exchange under DIR against fresh emulators and reports, per exchange, whether the
emulator answers in the recorded shape (`checker`); `recordings` reads the cassettes,
`shapes` compares JSON shapes, `catalogue` lists what is not emulated on purpose.
"""

from __future__ import annotations

from .catalogue import Exclusion, exclusion
from .checker import VERDICTS, Report, Row, Verdict, check, route_pattern
from .recordings import Cassette, Exchange, RecordedResponse, RecordingError, load_cassette
from .shapes import Difference, compare, optional_keys

__all__ = [
    "VERDICTS",
    "Cassette",
    "Difference",
    "Exchange",
    "Exclusion",
    "RecordedResponse",
    "RecordingError",
    "Report",
    "Row",
    "Verdict",
    "check",
    "compare",
    "exclusion",
    "load_cassette",
    "optional_keys",
    "route_pattern",
]
