"""Fault injection: scripted outcomes first, then seeded random draws.

Kinds: ``"429"``, ``"500"``, ``"503"`` (Google error answers), ``"reset"`` (the TCP
connection is aborted without a response), ``"slow"`` (answered normally after
``slow_seconds``); ``"ok"`` in a script means "no fault for this request".
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Mapping

FAULT_KINDS = ("429", "500", "503", "reset", "slow")
OUTCOMES = (*FAULT_KINDS, "ok")
#: Non-probability settings allowed in the ``faults`` mapping, with their defaults.
FAULT_SETTINGS = {"slow_seconds": 30.0, "retry_delay_s": 1.0}


def check_faults(faults: Mapping[str, float] | None) -> None:
    """Raise ValueError for unknown keys or probabilities outside [0, 1] (or summing above 1)."""
    if not faults:
        return
    unknown = set(faults) - set(FAULT_KINDS) - set(FAULT_SETTINGS)
    if unknown:
        allowed = ", ".join((*FAULT_KINDS, *FAULT_SETTINGS))
        raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {allowed}")
    total = 0.0
    for kind in FAULT_KINDS:
        p = float(faults.get(kind, 0.0))
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"fault probability {kind}={p} is outside [0, 1]")
        total += p
    if total > 1.0 + 1e-9:
        raise ValueError(f"fault probabilities sum to {total:.3f}, more than 1")
    for name in FAULT_SETTINGS:
        if float(faults.get(name, 0.0)) < 0:
            raise ValueError(f"{name} must not be negative")


def fault_setting(faults: Mapping[str, float] | None, name: str) -> float:
    """``slow_seconds`` or ``retry_delay_s`` from the mapping, or its default."""
    return float((faults or {}).get(name, FAULT_SETTINGS[name]))


class FaultPlan:
    """Decides each request's outcome; reproducible for a given seed and request order."""

    def __init__(self, seed: int = 0) -> None:
        self._random = random.Random(seed)
        self._script: deque[str] = deque()
        self._lock = threading.Lock()

    def inject(self, *outcomes: str) -> None:
        """Queue outcomes for the next requests, in order (before random faults apply)."""
        bad = [o for o in outcomes if o not in OUTCOMES]
        if bad:
            raise ValueError(f"unknown outcomes {bad}; use {', '.join(OUTCOMES)}")
        with self._lock:
            self._script.extend(outcomes)

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def clear(self) -> None:
        """Drop the scripted outcomes not used yet."""
        with self._lock:
            self._script.clear()

    def next_outcome(self, faults: Mapping[str, float] | None) -> str:
        """The scripted outcome if any, else a draw from the ``faults`` probabilities."""
        with self._lock:
            if self._script:
                return self._script.popleft()
            if not faults or not any(faults.get(k) for k in FAULT_KINDS):
                return "ok"
            check_faults(faults)
            draw = self._random.random()
        threshold = 0.0
        for kind in FAULT_KINDS:
            threshold += float(faults.get(kind, 0.0))
            if draw < threshold:
                return kind
        return "ok"
