"""Gemini API async batch embedding jobs: half the price of ``embed()``, hours not seconds.

`submit_batch_job` conditions inputs exactly as `GeminiEmbedder.embed` does (its
``_prepare``: task types, titles, prefixes, local checks), then creates the job with
google-genai's ``client.batches.create_embeddings``:

* inline (``inlined_requests``) when every request shares one config — google-genai sends
  one ``EmbedContentConfig`` for all inline requests — and the estimated payload is under
  ``inline_limit_bytes``. Responses come back in input order.
* otherwise a JSONL file uploaded through the Files API, one line per input:
  ``{"key": "<input index>", "request": EmbedContentRequest}``. The responses file repeats
  the keys.

The mapping from responses to inputs therefore lives in the job itself (order or keys), so
a new process that knows only the job name gets the same results (`GeminiBatchJob.from_name`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from google.genai import types as genai_types
from tqdm.auto import tqdm

from ..errors import (
    BatchJobError,
    BatchJobTimeoutError,
    ConfigurationError,
    OmniEmbedError,
    ServiceError,
)
from ..runtime.batching import WorkItem
from ..runtime.retry import RetryPolicy
from ..tasks import Task
from ..types import Embedding, EmbeddingResult
from .google_errors import google_error, map_google_error
from .vectors import l2_normalize

if TYPE_CHECKING:
    # The embedder hands itself to these functions; it imports this module, not the reverse.
    from .gemini import GeminiEmbedder

logger = logging.getLogger("omniembed.gemini")

#: Inline jobs above this estimated size go through a JSONL file instead (the service
#: rejects request bodies over 20 MB).
INLINE_LIMIT_BYTES = 16 * 1024 * 1024
SUCCEEDED = "JOB_STATE_SUCCEEDED"
ENDED = frozenset({SUCCEEDED, "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})
_REQUEST_OVERHEAD = 200  # JSON framing per inline request, for the size estimate
# google.rpc.Status codes (gRPC) → the HTTP status the service would answer.
_GRPC_TO_HTTP = {1: 499, 3: 400, 4: 504, 5: 404, 7: 403, 8: 429, 9: 400, 13: 500, 14: 503, 16: 401}
_CONFIG_TO_WIRE = {
    "task_type": "taskType",
    "title": "title",
    "output_dimensionality": "outputDimensionality",
}
_JOB_NAME = re.compile(r"batches/[A-Za-z0-9_-]+")
T = TypeVar("T")


@dataclass(frozen=True)
class BatchStats:
    """Request counts of a job (``batchStats``)."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


class GeminiBatchJob:
    """A handle on one ``batches/{id}`` job: poll it, wait for it, read its results.

    Build one with `GeminiEmbedder.submit_batch_job` or resume one anywhere with
    `GeminiEmbedder.batch_job(name)`; the handle holds no state the service does not.
    """

    def __init__(
        self,
        embedder: GeminiEmbedder,
        name: str,
        operation: dict[str, Any] | None = None,
        *,
        modalities: Sequence[str] | None = None,
        cache_keys: Sequence[str | None] | None = None,
    ):
        check_backend(embedder)
        self.embedder = embedder
        self.name = name if name.startswith("batches/") else f"batches/{name}"
        if not _JOB_NAME.fullmatch(self.name):
            raise ConfigurationError(f"{name!r} is not a batch job name; expected batches/<id>")
        self._operation: dict[str, Any] = operation or {}
        # Known only to the submitting process: a resumed job reports modality=None and
        # does not fill the embedder's cache.
        self._modalities = list(modalities) if modalities is not None else None
        self._cache_keys = list(cache_keys) if cache_keys is not None else None

    @classmethod
    def from_name(cls, embedder: GeminiEmbedder, name: str) -> GeminiBatchJob:
        """Resume a job by name (``batches/...``), e.g. in a new process; fetches it once."""
        job = cls(embedder, name).refresh()
        model = job.model
        if model is not None and model.removeprefix("models/") != _bare(embedder.model):
            raise ConfigurationError(
                f"{job.name} runs {model}, but this embedder is for {embedder.model}; resume "
                f"it with GeminiEmbedder({model.removeprefix('models/')!r}, ...) and the same "
                "output_dimensionality"
            )
        return job

    # --- what the service says ------------------------------------------------------------

    @property
    def _metadata(self) -> dict[str, Any]:
        meta = self._operation.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def state(self) -> str:
        """``JOB_STATE_PENDING``, ``_RUNNING``, ``_SUCCEEDED``, ``_FAILED``, ``_CANCELLED``,
        ``_EXPIRED`` (google-genai's `JobState` names)."""
        raw = str(self._metadata.get("state") or "JOB_STATE_UNSPECIFIED")
        return raw.replace("BATCH_STATE_", "JOB_STATE_", 1)

    @property
    def done(self) -> bool:
        return self.state in ENDED or self._operation.get("done") is True

    @property
    def display_name(self) -> str | None:
        value = self._metadata.get("displayName")
        return str(value) if value is not None else None

    @property
    def model(self) -> str | None:
        value = self._metadata.get("model")
        return str(value) if value is not None else None

    @property
    def stats(self) -> BatchStats:
        raw = self._metadata.get("batchStats") or {}
        return BatchStats(
            total=int(raw.get("requestCount") or 0),
            succeeded=int(raw.get("successfulRequestCount") or 0),
            failed=int(raw.get("failedRequestCount") or 0),
            pending=int(raw.get("pendingRequestCount") or 0),
        )

    @property
    def error(self) -> dict[str, Any] | None:
        """The operation's ``google.rpc.Status`` when the job failed, expired or was cancelled."""
        value = self._operation.get("error")
        return value if isinstance(value, dict) else None

    # --- actions ----------------------------------------------------------------------------

    def refresh(self) -> GeminiBatchJob:
        """Fetch the job's current state (one ``GET batches/{id}``)."""
        api = self.embedder._client._api_client
        # google-genai's BatchJob drops batchStats and the operation's error, so read the
        # operation itself through the SDK's own transport (base URL, key, timeout).
        response = _call(self.embedder, lambda: api.request("get", self.name, {}))
        self._operation = json.loads(response.body or "{}")
        return self

    def wait(
        self,
        poll_interval: float = 10.0,
        timeout: float | None = None,
        progress: bool = True,
        *,
        max_poll_interval: float = 60.0,
        backoff: float = 1.5,
    ) -> GeminiBatchJob:
        """Poll until the job ends (any end state; `results` says how it went).

        The wait between polls starts at ``poll_interval`` and grows by ``backoff`` up to
        ``max_poll_interval``; transient errors while polling (429, 5xx, resets) are
        logged and polling goes on. Past ``timeout`` seconds raises `BatchJobTimeoutError`
        (the job keeps running: resume it later by name).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = poll_interval
        with tqdm(
            total=self.stats.total or None,
            desc=self.name,
            unit="req",
            disable=not progress,
            leave=False,
        ) as bar:
            while True:
                _show(bar, self)
                if self.done:
                    return self
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise BatchJobTimeoutError(
                        f"{self.name} is still {self.state} after {timeout:g} s; it keeps "
                        f"running at the service: resume with embedder.batch_job({self.name!r})",
                        job_name=self.name,
                        state=self.state,
                    )
                time.sleep(interval if left is None else min(interval, left))
                interval = min(max_poll_interval, interval * backoff)
                try:
                    self.refresh()
                except ServiceError as exc:
                    if not exc.retryable:
                        raise
                    logger.info("polling %s failed (%s); polling on", self.name, exc)

    def results(self) -> list[EmbeddingResult]:
        """One `EmbeddingResult` per input, in input order; a request the service rejected
        has ``.error`` set (a typed `OmniEmbedError`) while the others keep their vectors.

        Raises `BatchJobError` if the job failed, expired, was cancelled or is not done.
        """
        if not self.done:
            self.refresh()
        if self.state != SUCCEEDED:
            raise self._no_results()
        output = self._output()
        inline = output.get("inlinedResponses") or output.get("inlinedEmbedContentResponses")
        if isinstance(inline, dict):
            entries: list[tuple[int, dict[str, Any]]] = list(
                enumerate(inline.get("inlinedResponses") or [])
            )
            total = max(len(entries), self.stats.total)
        elif output.get("responsesFile"):
            entries = self._file_entries(str(output["responsesFile"]))
            total = max(self.stats.total, max((i for i, _ in entries), default=-1) + 1)
        else:
            raise BatchJobError(
                f"{self.name} succeeded but names no output (no inlinedResponses or responsesFile)",
                job_name=self.name,
                state=self.state,
            )
        results = [EmbeddingResult(index=i) for i in range(total)]
        for index, entry in entries:
            if 0 <= index < total:
                results[index] = self._result(index, entry)
        for result in results:
            if not result.embeddings and result.error is None:
                result.error = BatchJobError(
                    f"{self.name} has no response for input {result.index}",
                    job_name=self.name,
                    state=self.state,
                )
        self._fill_cache(results)
        return results

    def cancel(self) -> None:
        """Ask the service to stop the job (no-op once it has ended)."""
        if self.refresh().done:
            return
        client = self.embedder._client
        _call(self.embedder, lambda: client.batches.cancel(name=self.name))
        self.refresh()

    def delete(self) -> None:
        """Delete the job at the service (its result files expire on their own)."""
        client = self.embedder._client
        _call(self.embedder, lambda: client.batches.delete(name=self.name))

    # --- internals --------------------------------------------------------------------------

    def _output(self) -> dict[str, Any]:
        for holder in (self._metadata, self._operation.get("response") or {}):
            output = holder.get("output")
            if isinstance(output, dict):
                return output
        response = self._operation.get("response")
        return response if isinstance(response, dict) else {}

    def _file_entries(self, file_name: str) -> list[tuple[int, dict[str, Any]]]:
        client = self.embedder._client
        with tempfile.TemporaryDirectory(prefix="omniembed-batch-") as tmp:
            path = Path(tmp) / "responses.jsonl"
            # Streamed to disk: a large job's output need not sit in memory twice.
            _call(self.embedder, lambda: client.files.download(file=file_name, destination=path))
            with path.open(encoding="utf-8") as lines:
                rows = [json.loads(line) for line in lines if line.strip()]
        keys = [row.get("key") for row in rows]
        if all(isinstance(k, (str, int)) and str(k).isdigit() for k in keys):
            return [(int(k), row) for k, row in zip(keys, rows, strict=True)]
        # Not keyed by input index (a job built elsewhere): the file keeps input order.
        return list(enumerate(rows))

    def _result(self, index: int, entry: dict[str, Any]) -> EmbeddingResult:
        raw = entry.get("response")
        response: dict[str, Any] = raw if isinstance(raw, dict) else {}
        status = entry.get("error") or entry.get("status") or response.get("error")
        if isinstance(status, dict):
            return EmbeddingResult(index, error=status_error(status))
        values = (response.get("embedding") or {}).get("values")
        if not isinstance(values, list):
            error = BatchJobError(f"{self.name}: the response for input {index} has no vector")
            return EmbeddingResult(index, error=error)
        vector = [float(v) for v in values]
        embedder = self.embedder
        if embedder.output_dimensionality is not None and embedder.normalize:
            vector = l2_normalize(vector)  # as embed() does
        modality = self._modalities[index] if self._modalities else None
        return EmbeddingResult(index, [Embedding(vector, modality=modality)])

    def _fill_cache(self, results: list[EmbeddingResult]) -> None:
        """Keep the vectors where `embed` finds them, so re-indexing costs no request."""
        cache, keys = self.embedder.cache, self._cache_keys
        if cache is None or keys is None or len(keys) != len(results):
            return
        entries = {k: r.embeddings for k, r in zip(keys, results, strict=True) if k and r.ok}
        if entries:
            cache.put_many(entries)

    def _no_results(self) -> BatchJobError:
        state = self.state
        if state not in ENDED:
            return BatchJobError(
                f"{self.name} is still {state}; call wait() first",
                job_name=self.name,
                state=state,
            )
        why = (self.error or {}).get("message")
        return BatchJobError(
            f"{self.name} ended {state} without results" + (f": {why}" if why else ""),
            job_name=self.name,
            state=state,
        )

    def __repr__(self) -> str:
        return f"GeminiBatchJob(name={self.name!r}, state={self.state!r})"


# --- submitting -------------------------------------------------------------------------------


def submit_batch_job(
    embedder: GeminiEmbedder,
    inputs: object,
    task: Task | str | None = None,
    *,
    titles: Sequence[str | None] | None = None,
    display_name: str | None = None,
    inline_limit_bytes: int | None = None,
) -> GeminiBatchJob:
    """Create a batch job for ``inputs`` (see the module docstring); bad inputs raise an
    `InputError` before any request."""
    check_backend(embedder)
    items, _, count = embedder._plan(inputs, task, titles, True, {})
    if [item.index for item in items] != list(range(count)):
        raise ConfigurationError("an input became several requests; batch jobs take one each")
    name = display_name or f"omniembed {embedder.model} {count} inputs"
    limit = INLINE_LIMIT_BYTES if inline_limit_bytes is None else inline_limit_bytes
    configs = {json.dumps(embedder._config(item.payload), sort_keys=True) for item in items}
    size = sum(item.weight + _REQUEST_OVERHEAD for item in items)
    if len(configs) == 1 and size <= limit:
        source = _inline_source(embedder, items)
    else:
        source = _file_source(embedder, items, name)
    client = embedder._client
    quota_only = dataclasses.replace(embedder._runner.retry, max_retries=0)

    def create() -> genai_types.BatchJob:
        with warnings.catch_warnings():  # create_embeddings is marked experimental
            warnings.simplefilter("ignore")
            return client.batches.create_embeddings(
                model=embedder.model, src=source, config={"display_name": name}
            )

    # A create that failed mid-way may have made a job: retry only the 429s, which did not.
    job = _call(embedder, create, retry=quota_only)
    logger.info(
        "created %s (%d inputs, %s)", job.name, count, "file" if source.file_name else "inline"
    )
    handle = GeminiBatchJob(
        embedder,
        str(job.name),
        modalities=[item.payload.modality for item in items],
        cache_keys=[item.cache_key for item in items],
    )
    return handle.refresh()


def check_backend(embedder: GeminiEmbedder) -> None:
    if embedder.vertexai:
        raise ConfigurationError(
            "Gemini batch jobs (asyncBatchEmbedContent) exist only on the Gemini API; on "
            "Vertex AI use Vertex batch prediction (a BatchPredictionJob over JSONL in Cloud "
            "Storage: https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/"
            "batch-prediction-genai-embeddings), or embed() with a requests_per_minute quota"
        )


def _inline_source(
    embedder: GeminiEmbedder, items: list[WorkItem]
) -> genai_types.EmbeddingsBatchJobSource:
    config = embedder._config(items[0].payload)
    batch = genai_types.EmbedContentBatch(
        contents=embedder._contents(items),  # type: ignore[arg-type]
        config=genai_types.EmbedContentConfig(**config) if config else None,
    )
    return genai_types.EmbeddingsBatchJobSource(inlined_requests=batch)


def _file_source(
    embedder: GeminiEmbedder, items: list[WorkItem], name: str
) -> genai_types.EmbeddingsBatchJobSource:
    client = embedder._client
    with tempfile.TemporaryDirectory(prefix="omniembed-batch-") as tmp:
        path = Path(tmp) / "requests.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for item in items:  # one input at a time: media bytes are never all in memory
                line = {"key": str(item.index), "request": _wire_request(embedder, item)}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
        config = genai_types.UploadFileConfig(
            mime_type="application/jsonl", display_name=f"{name} requests"
        )
        uploaded = _call(embedder, lambda: client.files.upload(file=path, config=config))
    return genai_types.EmbeddingsBatchJobSource(file_name=uploaded.name)


def _wire_request(embedder: GeminiEmbedder, item: WorkItem) -> dict[str, Any]:
    """One ``EmbedContentRequest`` in proto JSON, as google-genai would put it on the wire."""
    content = genai_types.Content.model_validate(embedder._contents([item])[0])
    request: dict[str, Any] = {
        "content": content.model_dump(mode="json", by_alias=True, exclude_none=True)
    }
    for key, value in embedder._config(item.payload).items():
        request[_CONFIG_TO_WIRE[key]] = value
    return request


# --- helpers ----------------------------------------------------------------------------------


def status_error(status: dict[str, Any]) -> OmniEmbedError:
    """The typed error for a per-request ``google.rpc.Status`` (``{"code", "message"}``)."""
    code = int(status.get("code") or 0)
    http = code if code >= 100 else _GRPC_TO_HTTP.get(code, 500)
    body = {"error": {"code": http, "message": status.get("message") or f"error code {code}"}}
    return google_error(http, body, None, "gemini")


def _call(embedder: GeminiEmbedder, fn: Callable[[], T], *, retry: RetryPolicy | None = None) -> T:
    """``fn()`` with typed errors, retried per the embedder's retry policy."""

    def once() -> T:
        try:
            return fn()
        except Exception as exc:
            raise (map_google_error(exc, provider="gemini") or exc) from exc

    policy = retry or embedder._runner.retry
    return policy.retrying()(once)


def _bare(model: str) -> str:
    return model.removeprefix("models/")


def _show(bar: Any, job: GeminiBatchJob) -> None:
    stats = job.stats
    if stats.total and bar.total != stats.total:
        bar.total = stats.total
    bar.n = stats.finished
    bar.set_postfix_str(job.state.removeprefix("JOB_STATE_").lower(), refresh=False)
    bar.refresh()


__all__ = [
    "INLINE_LIMIT_BYTES",
    "BatchJobError",
    "BatchJobTimeoutError",
    "BatchStats",
    "GeminiBatchJob",
    "check_backend",
    "status_error",
    "submit_batch_job",
]
