"""The emulator in its own process, writing one JSON line per answered request.

``python benchmarks/emulator_logged.py LOG.jsonl [emulator options]`` runs
``python -m omniembed.emulator [emulator options]`` and appends, for every request it has
answered, ``{"route", "status", "body_size", "path"}`` to ``LOG.jsonl`` — the request log's
``body_size`` (the bytes the client uploaded) for a process the benchmark cannot reach
into. The records themselves are not kept (a benchmark uploading gigabytes would
otherwise keep every request body alive in the emulator).

`LoggedEmulator` (used by ``compare.py``) starts it through `EmulatorProcess`.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from emulator_process import EmulatorProcess  # benchmarks/ is on sys.path when run as a script


class LoggedEmulator(EmulatorProcess):
    """`EmulatorProcess` running this module, with faults and several quotas, whose
    per-request records (route, status, request body size) are read from a JSONL file."""

    def __init__(
        self,
        log_path: Path,
        *,
        latency_ms: float = 0.0,
        quotas: dict[str, float] | None = None,
        faults: dict[str, float] | None = None,
        seed: int = 0,
        startup_timeout: float = 60.0,
    ):
        super().__init__(latency_ms=latency_ms, port=0, route="-", startup_timeout=startup_timeout)
        self.log_path = log_path
        log_path.write_text("")
        extra = [f"--quota={route}={rpm:g}" for route, rpm in (quotas or {}).items()]
        extra += [f"--fault={kind}={value:g}" for kind, value in (faults or {}).items()]
        extra += ["--seed", str(seed)]
        # [python, -m, omniembed.emulator, ...] -> [python, this file, LOG, ...]
        self.args = [self.args[0], __file__, str(log_path), *self.args[3:], *extra]

    def records(self) -> list[dict[str, Any]]:
        """Every request answered so far, in the order the answers finished."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def mark(self) -> int:
        return len(self.records())

    def since(self, mark: int, settle_s: float = 0.3) -> list[dict[str, Any]]:
        """Records after ``mark``, once no new line arrived for ``settle_s`` (log lines
        trail the answers a little; a client may still be finishing a request)."""
        count, stable_since = -1, time.monotonic()
        while True:
            now = len(self.records())
            if now != count:
                count, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since >= settle_s:
                return self.records()[mark:]
            time.sleep(0.05)


# --------------------------------------------------------------------------- child process


def _serve(argv: list[str]) -> int:
    from omniembed.emulator import __main__ as cli
    from omniembed.emulator import app
    from omniembed.emulator.records import RequestLog

    log_file = open(argv[0], "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    lock = threading.Lock()
    current: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_record", default=None)

    def add(self: RequestLog, record: Any) -> None:  # keep nothing, remember this task's record
        current.set(record)

    original = app.Dispatcher.dispatch

    async def dispatch(self: Any, request: Any) -> Any:
        try:
            return await original(self, request)
        finally:
            record = current.get()
            if record is not None:
                line = json.dumps(
                    {
                        "route": record.route,
                        "status": record.status,
                        "body_size": record.body_size,
                        "path": record.path,
                    }
                )
                with lock:
                    log_file.write(line + "\n")

    RequestLog.add = add  # type: ignore[method-assign]
    app.Dispatcher.dispatch = dispatch  # type: ignore[method-assign]
    return cli.main(argv[1:])


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
