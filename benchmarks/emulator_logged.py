"""The emulator in its own process, writing one JSON line per answered request.

``python benchmarks/emulator_logged.py LOG.jsonl [emulator options]`` runs
``python -m omniembed.emulator [emulator options]`` and appends, for every request it has
answered, ``{"route", "status", "body_size", "path"}`` to ``LOG.jsonl`` — the request log's
``body_size`` (the bytes the client uploaded) for a process the benchmark cannot reach
into. The records themselves are not kept (a benchmark uploading gigabytes would
otherwise keep every request body alive in the emulator).

An embedding call's line also has ``"inputs"``: per embedded content, the tokens the
emulator's quota counted for it and the kind of each part (``"text"``, ``"audio"``,
``"video"``, ``"video+sound"``, ...), as the emulator decoded them: what a benchmark needs
for a quota bound in the service's own counts, and to tell whether video clips carried
their sound.

`LoggedEmulator` (used by ``compare.py``) starts it through `EmulatorProcess`.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emulator_process import EmulatorProcess  # benchmarks/ is on sys.path when run as a script


class LoggedEmulator(EmulatorProcess):
    """`EmulatorProcess` running this module, with faults and several quotas, whose
    per-request records (route, status, request body size) are read from a JSONL file.
    ``options`` are further ``python -m omniembed.emulator`` options (e.g. ``--tier``)."""

    def __init__(
        self,
        log_path: Path,
        *,
        latency_ms: float = 0.0,
        quotas: dict[str, float] | None = None,
        faults: dict[str, float] | None = None,
        seed: int = 0,
        options: Sequence[str] = (),
        startup_timeout: float = 60.0,
    ):
        super().__init__(latency_ms=latency_ms, port=0, route="-", startup_timeout=startup_timeout)
        self.log_path = log_path
        log_path.write_text("")
        extra = [f"--quota={route}={rpm:g}" for route, rpm in (quotas or {}).items()]
        extra += [f"--fault={kind}={value:g}" for kind, value in (faults or {}).items()]
        extra += ["--seed", str(seed), *options]
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
    from omniembed.emulator import app, quota_costs
    from omniembed.emulator.records import RequestLog
    from omniembed.emulator.tokens import content_tokens

    log_file = open(argv[0], "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    lock = threading.Lock()
    current: contextvars.ContextVar[Any] = contextvars.ContextVar("bench_record", default=None)

    def add(self: RequestLog, record: Any) -> None:  # keep nothing, remember this task's record
        current.set(record)

    # The quota's cost of a call is worked out in an executor thread (no context variable
    # reaches it), parsing each content once: the parts it decoded are noted there, per
    # thread, and handed to the request's line through the parsed body's id (the body
    # stays alive until the line is written, so the id cannot be reused meanwhile).
    noted = threading.local()
    inputs_by_body: dict[int, list[dict[str, Any]]] = {}
    parse_content = quota_costs.parse_content
    call_cost = app.call_cost

    def noting_parse(value: Any, path: str, model: Any, backend: Any, **kw: Any) -> Any:
        parts = parse_content(value, path, model, backend, **kw)
        found = getattr(noted, "inputs", None)
        if found is not None:
            tokens = sum(content_tokens(parts, model.max_tokens).values())
            found.append({"tokens": tokens, "kinds": [_kind(p) for p in parts]})
        return parts

    def noting_cost(call: Any, body: Any) -> Any:
        noted.inputs = []
        try:
            return call_cost(call, body)
        finally:
            with lock:
                inputs_by_body[id(body)] = noted.inputs
            noted.inputs = None

    original = app.Dispatcher.dispatch

    async def dispatch(self: Any, request: Any) -> Any:
        try:
            return await original(self, request)
        finally:
            record = current.get()
            if record is not None:
                fields = {
                    "route": record.route,
                    "status": record.status,
                    "body_size": record.body_size,
                    "path": record.path,
                }
                with lock:
                    inputs = inputs_by_body.pop(id(record.json), None)
                    if inputs is not None:
                        fields["inputs"] = inputs
                    log_file.write(json.dumps(fields) + "\n")

    RequestLog.add = add  # type: ignore[method-assign]
    app.Dispatcher.dispatch = dispatch  # type: ignore[method-assign]
    quota_costs.parse_content = noting_parse  # type: ignore[assignment]
    app.call_cost = noting_cost  # type: ignore[assignment]
    return cli.main(argv[1:])


def _kind(part: Any) -> str:
    modality = getattr(part, "modality", None)
    if modality is None:
        return "text"
    kind = str(modality.value)
    if getattr(part, "uri", None) is not None:
        return kind + " (uri)"
    return kind + "+sound" if getattr(part, "sound", False) else kind


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))
