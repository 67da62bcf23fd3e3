"""The emulator in a child process, for benchmarks (shared by the scripts here).

Running it in its own process gives it its own GIL, so the clients being measured do not
compete with it for the interpreter; its ``-v`` log lines tell how many requests (and
which statuses) each client caused.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

log = logging.getLogger("benchmarks.emulator_process")

_URL_RE = re.compile(r"https?://[^\s\"'<>]+")
#: The emulator's ``-v`` line per answered request (``... DEBUG POST /path -> 200``).
_REQUEST_LINE_RE = re.compile(r"DEBUG (?P<method>[A-Z]+) (?P<path>/\S+) -> (?P<status>\S+)$")


class EmulatorProcess:
    """``python -m omniembed.emulator -v`` in a child process (its own GIL, so the clients
    measured do not compete with it), counting the ``:{route}`` requests it answers from
    its per-request log lines."""

    def __init__(
        self,
        *,
        latency_ms: float,
        port: int,
        route: str,
        rpm: float | None = None,
        startup_timeout: float = 30.0,
    ):
        self.args = [
            sys.executable,
            "-m",
            "omniembed.emulator",
            "--port",
            str(port),
            "--latency-ms",
            f"{latency_ms:g}",
            *(["--quota", f"{route}={rpm:g}"] if rpm is not None else []),
            "-v",
        ]
        self.route = route
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._tail: list[str] = []
        self._lock = threading.Lock()
        self._answered: list[str] = []  # statuses of the answered :{route} requests

    def __enter__(self) -> EmulatorProcess:
        log.info("starting emulator: %s", " ".join(self.args))
        self._proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: queue.Queue[str | None] = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, args=(lines,), daemon=True)
        self._drainer.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.base_url:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=remaining) if remaining > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                self.__exit__()
                tail = "\n".join(self._tail[-20:])
                raise RuntimeError(f"the emulator printed no base URL; its output:\n{tail}")
            found = None if _REQUEST_LINE_RE.search(line) else _URL_RE.search(line)
            if found:
                self.base_url = found.group(0).rstrip("/.,;")
        log.info("emulator at %s (pid %d)", self.base_url, self._proc.pid)
        return self

    def _drain(self, lines: queue.Queue[str | None]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            self._tail = [*self._tail[-49:], line]
            answered = _REQUEST_LINE_RE.search(line)
            if answered and answered.group("path").endswith(f":{self.route}"):
                with self._lock:
                    self._answered.append(answered.group("status"))
            else:
                log.debug("emulator: %s", line)
            if not self.base_url:
                lines.put(line)
        lines.put(None)

    def answered(self) -> list[str]:
        """Statuses of the ``:{route}`` requests answered so far."""
        with self._lock:
            return list(self._answered)

    def request_counts(self) -> Counter[str]:
        """Answered ``:{route}`` requests so far, by HTTP status."""
        return Counter(self.answered())

    @property
    def counting(self) -> bool:
        """True once a request line was recognised (the log format is as expected)."""
        return bool(self.answered())

    def wait_answered(self, count: int, timeout: float = 5.0) -> list[str]:
        """The statuses, once ``count`` are logged (log lines may trail the responses)."""
        deadline = time.monotonic() + timeout
        while len(self.answered()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.answered()

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the emulator process (Linux), else None."""
        if self._proc is None:
            return None
        try:
            fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            tail = "\n".join(self._tail[-20:])
            raise RuntimeError(f"the emulator exited with {self._proc.returncode}:\n{tail}")

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        # The drainer reads the pipe to its end (the process is gone); then close it.
        self._drainer.join(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
