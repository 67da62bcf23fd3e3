"""The Gemini API's async batch embedding jobs (``batches/*``), kept in memory.

A job is a long-running operation that walks ``BATCH_STATE_PENDING`` → ``RUNNING`` →
``SUCCEEDED`` as time passes: one ``step`` (the emulator's ``batch_step_sec``, read when the
job is created) in each of the first two states, so clients have to poll. While it runs,
``batchStats`` move linearly from pending to done. Vectors are computed when the job
finishes, with the code that answers ``batchEmbedContents``, so both give the same vectors.

Test triggers in the display name: ``[fail]`` ends the job ``FAILED`` and ``[expire]``
ends it ``EXPIRED`` (both with an operation ``error`` and no output).
"""

from __future__ import annotations

import random
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .batch_files import put_generated
from .embedding import EmbedRequest, embed
from .files_api import FileStore
from .jsonio import dumps
from .models import EmbeddingModel
from .proto_json import Violation

PENDING = "BATCH_STATE_PENDING"
RUNNING = "BATCH_STATE_RUNNING"
SUCCEEDED = "BATCH_STATE_SUCCEEDED"
FAILED = "BATCH_STATE_FAILED"
CANCELLED = "BATCH_STATE_CANCELLED"
EXPIRED = "BATCH_STATE_EXPIRED"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELLED, EXPIRED})

FAIL_TRIGGER = "[fail]"
EXPIRE_TRIGGER = "[expire]"
METADATA_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch"

# google.rpc.Status carries gRPC codes, not HTTP statuses.
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 429: 8, 500: 13, 503: 14, 504: 4}
_ID_ALPHABET = string.ascii_lowercase + string.digits


def rpc_status(http_code: int, message: str) -> dict[str, Any]:
    """A ``google.rpc.Status`` for an error the service would answer with ``http_code``."""
    return {"code": GRPC_CODES.get(http_code, 2), "message": message}


@dataclass
class JobRequest:
    """One request of a job: parsed, or the error that rejects it, and what to echo back."""

    request: EmbedRequest | None
    error: dict[str, Any] | None = None
    key: str | None = None  # file jobs: the JSONL line's key
    metadata: Any = None  # inline jobs: the request's metadata


@dataclass
class BatchJob:
    name: str
    model: EmbeddingModel
    model_name: str  # as the URL named it
    display_name: str | None
    requests: list[JobRequest]
    input_file: str | None  # None for inline jobs
    step: float
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    started: float = field(default_factory=time.monotonic)
    #: Set once the job is terminal: its state, end time, stats, output and error.
    final_state: str | None = None
    ended: datetime | None = None
    final_stats: dict[str, int] | None = None
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def timed_state(self, now: float) -> str | None:
        """PENDING or RUNNING by elapsed time; None once the job is due to finish."""
        elapsed = now - self.started
        if elapsed < self.step:
            return PENDING
        if elapsed < 2 * self.step:
            return RUNNING
        return None

    def running_stats(self, now: float) -> dict[str, int]:
        total = len(self.requests)
        if self.timed_state(now) == PENDING:
            return _stats(total, 0, 0)
        fraction = min(1.0, max(0.0, (now - self.started - self.step) / (self.step or 1.0)))
        done = int(total * fraction)
        failed = sum(1 for r in self.requests[:done] if r.error is not None)
        return _stats(total, done - failed, failed)


class BatchStore:
    """The jobs of one emulator (thread-safe; ``emu.batches``)."""

    def __init__(self, files: FileStore, seed: int = 0) -> None:
        self._files = files
        self._lock = threading.Lock()
        self._jobs: dict[str, BatchJob] = {}
        self._rng = random.Random(f"batches-{seed}")

    # --- what tests use ---------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def get(self, name: str) -> BatchJob | None:
        with self._lock:
            return self._jobs.get(name if name.startswith("batches/") else f"batches/{name}")

    def finish_now(self, name: str) -> None:
        """Skip the waiting: the job finishes on its next read."""
        job = self.get(name)
        if job is not None:
            job.started = time.monotonic() - 2 * job.step

    def clear(self) -> None:
        with self._lock:
            self._jobs.clear()

    # --- routes -------------------------------------------------------------------------------

    def create(self, make: Callable[[str], BatchJob]) -> BatchJob:
        with self._lock:
            name = self._new_name()
            job = self._jobs[name] = make(name)
        return job

    def list(self) -> list[BatchJob]:
        with self._lock:
            return list(self._jobs.values())

    def delete(self, name: str) -> bool:
        with self._lock:
            return self._jobs.pop(name, None) is not None

    def advance(self, job: BatchJob) -> str:
        """The job's state now; runs the job's work when it is due to finish."""
        with job.lock:
            if job.final_state is None and job.timed_state(time.monotonic()) is None:
                self._finish(job)
            return job.final_state or job.timed_state(time.monotonic()) or RUNNING

    def cancel(self, job: BatchJob) -> str | None:
        """Cancel a job still pending or running; return its state if already terminal."""
        with job.lock:
            now = time.monotonic()
            if job.final_state is None and job.timed_state(now) is None:
                self._finish(job)
            if job.final_state is not None:
                return job.final_state
            job.final_stats = job.running_stats(now)
            job.final_state = CANCELLED
            job.ended = datetime.now(timezone.utc)
            job.error = {"code": 1, "message": "The batch was cancelled."}
            job.requests = []  # the stats are frozen; free the inputs
            return None

    # --- finishing ----------------------------------------------------------------------------

    def _finish(self, job: BatchJob) -> None:
        self._settle(job)
        job.requests = []  # the stats and output are final; free the inputs (media bytes)

    def _settle(self, job: BatchJob) -> None:
        job.ended = datetime.now(timezone.utc)
        total = len(job.requests)
        trigger = (job.display_name or "").lower()
        if FAIL_TRIGGER in trigger:
            job.final_state, job.final_stats = FAILED, _stats(total, 0, total)
            job.error = {
                "code": 13,
                "message": f"The batch failed (emulator trigger {FAIL_TRIGGER} in the display "
                "name).",
            }
            return
        if EXPIRE_TRIGGER in trigger:
            job.final_state, job.final_stats = EXPIRED, _stats(total, 0, 0)
            job.error = {
                "code": 4,
                "message": "The batch expired before it finished (emulator trigger "
                f"{EXPIRE_TRIGGER} in the display name).",
            }
            return
        entries = [_answer(job.model, r) for r in job.requests]
        failed = sum(1 for e in entries if "error" in e)
        job.final_stats = _stats(total, total - failed, failed)
        if job.input_file is None:
            for entry, request in zip(entries, job.requests, strict=True):
                if request.metadata is not None:
                    entry["metadata"] = request.metadata
            job.output = {"inlinedResponses": {"inlinedResponses": entries}}
        else:
            lines = []
            for entry, request in zip(entries, job.requests, strict=True):
                line = {"key": request.key, **entry} if request.key is not None else entry
                lines.append(dumps(line))
            name = f"files/{job.name.removeprefix('batches/')}-out"[:46]
            put_generated(self._files, name, b"\n".join(lines) + b"\n", "application/jsonl")
            job.output = {"responsesFile": name}
        job.final_state = SUCCEEDED

    def _new_name(self) -> str:
        while True:
            name = "batches/" + "".join(self._rng.choices(_ID_ALPHABET, k=20))
            if name not in self._jobs:
                return name


def _answer(model: EmbeddingModel, request: JobRequest) -> dict[str, Any]:
    """One response entry: ``{"response": {...}}`` or ``{"error": Status}``."""
    if request.request is None:
        return {"error": request.error or rpc_status(400, "Invalid request.")}
    try:
        result = embed(model, request.request)
    except Violation as exc:
        return {"error": rpc_status(400, violation_message(exc))}
    return {
        "response": {"embedding": {"values": result.values}, "tokenCount": str(result.token_count)}
    }


def violation_message(exc: Violation) -> str:
    field_name = f".{exc.field}" if exc.field else ""
    return f"* EmbedContentRequest{field_name}: {exc.problem}"


def _stats(total: int, successful: int, failed: int) -> dict[str, int]:
    return {
        "requestCount": total,
        "successfulRequestCount": successful,
        "failedRequestCount": failed,
        "pendingRequestCount": total - successful - failed,
    }


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def update_time(job: BatchJob, state: str) -> datetime:
    if job.ended is not None:
        return job.ended
    if state == RUNNING:
        return job.created + timedelta(seconds=job.step)
    return job.created
