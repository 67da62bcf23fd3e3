"""Gemini API async batch embedding routes, as google-genai's ``client.batches`` speaks them.

* ``POST /{ver}/models/{m}:asyncBatchEmbedContent`` with ``{"batch": {"displayName",
  "inputConfig": {"requests": {"requests": [{"request": EmbedContentRequest, "metadata"}]}}
  | {"fileName": "files/..."}}}`` → a long-running operation ``{"name": "batches/{id}",
  "metadata": EmbedContentBatch}``. A file holds JSONL lines ``{"key", "request"}``.
* ``GET /{ver}/batches/{id}`` → the operation: ``metadata.state`` (``BATCH_STATE_*``),
  ``metadata.batchStats`` (int64 counts as strings, zeros omitted), ``done`` and ``error``
  once terminal, and ``metadata.output``: ``inlinedResponses.inlinedResponses[]`` (in input
  order) or ``responsesFile`` (JSONL lines ``{"key", "response": {"embedding"}}`` or
  ``{"key", "error": Status}``, downloadable).
* ``GET /{ver}/batches`` (``pageSize``, ``pageToken``) → ``{"operations", "nextPageToken"}``;
  ``POST /{ver}/batches/{id}:cancel`` and ``DELETE /{ver}/batches/{id}`` → ``{}``.

A malformed body fails the create call (400); a request that breaks a model rule (empty
content, bad task type, ...) fails alone, as an error entry in the output, while the others
are embedded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .batch_files import download
from .batches import (
    METADATA_TYPE,
    TERMINAL,
    BatchJob,
    BatchStore,
    JobRequest,
    rfc3339,
    rpc_status,
    update_time,
    violation_message,
)
from .files_api import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, FileStore, Reply
from .google_errors import GoogleError, invalid_argument, not_found
from .jsonio import dumps
from .models import EmbeddingModel
from .proto_json import Violation, as_int, as_list, as_str, read_fields
from .routes_gemini import embed_request, model_or_404
from .routing import Call

BATCH_ROUTES = frozenset(
    {"asyncBatchEmbedContent", "getBatch", "listBatches", "cancelBatch", "deleteBatch"}
)
DOWNLOAD_ROUTE = "downloadFile"
JSON_CONTENT_TYPE = "application/json; charset=UTF-8"

_BATCH_FIELDS = (
    "name",
    "displayName",
    "model",
    "inputConfig",
    "output",
    "createTime",
    "endTime",
    "updateTime",
    "batchStats",
    "state",
    "priority",
)
_LINE_FIELDS = frozenset({"key", "request", "metadata"})
_REQUESTS_PATH = "batch.input_config.requests.requests"


class BatchService:
    """Answers the batch routes of one emulator."""

    def __init__(self, store: BatchStore, files: FileStore) -> None:
        self.store = store
        self.files = files

    def handle(self, call: Call, query: Mapping[str, str], body: Any, step_sec: float) -> Reply:
        if call.route == DOWNLOAD_ROUTE:
            return download(self.files, call.resource or "")
        if call.route == "asyncBatchEmbedContent":
            return _json(self._operation(self._create(call, body, step_sec)))
        if call.route == "listBatches":
            return _json(self._list(query))
        job = self.store.get(f"batches/{call.resource}")
        if job is None:
            raise not_found("Requested entity was not found.")
        if call.route == "getBatch":
            return _json(self._operation(job))
        if call.route == "deleteBatch":
            self.store.delete(job.name)
            return _json({})
        terminal = self.store.cancel(job)
        if terminal is not None:
            raise GoogleError(
                400,
                f"Batch {job.name} is already {terminal} and cannot be cancelled.",
                status="FAILED_PRECONDITION",
            )
        return _json({})

    # --- create ---------------------------------------------------------------------------

    def _create(self, call: Call, body: Any, step_sec: float) -> BatchJob:
        model = model_or_404(call, "asyncBatchEmbedContent")
        try:
            fields = read_fields({} if body is None else body, "", ("batch",))
            if "batch" not in fields:
                raise Violation("batch", "required field not set")
            batch = read_fields(fields["batch"], "batch", _BATCH_FIELDS)
            if "model" in batch:
                named = as_str(batch["model"], "batch.model")
                if named.removeprefix("models/") != call.model:
                    raise Violation("batch.model", f"{named!r} differs from the model in the URL")
            display = (
                as_str(batch["displayName"], "batch.display_name")
                if "displayName" in batch
                else None
            )
            if "inputConfig" not in batch:
                raise Violation("batch.input_config", "required field not set")
            source = read_fields(
                batch["inputConfig"], "batch.input_config", ("fileName", "requests")
            )
            if ("fileName" in source) == ("requests" in source):
                raise Violation("batch.input_config", "set exactly one of file_name and requests")
            input_file: str | None = None
            if "requests" in source:
                requests = self._inline(source["requests"], model, call)
            else:
                input_file = as_str(source["fileName"], "batch.input_config.file_name")
                requests = self._from_file(input_file, model, call)
        except Violation as exc:
            raise invalid_argument(
                f"* AsyncBatchEmbedContentRequest.{exc.field}: {exc.problem}\n"
            ) from None
        return self.store.create(
            lambda name: BatchJob(
                name=name,
                model=model,
                model_name=call.model or model.id,
                display_name=display,
                requests=requests,
                input_file=input_file,
                step=max(0.0, step_sec),
            )
        )

    def _inline(self, value: object, model: EmbeddingModel, call: Call) -> list[JobRequest]:
        wrapper = read_fields(value, "batch.input_config.requests", ("requests",))
        raw = as_list(wrapper.get("requests", []), _REQUESTS_PATH)
        if not raw:
            raise Violation(_REQUESTS_PATH, "at least one request is required")
        out = []
        for i, item in enumerate(raw):
            entry = read_fields(item, f"{_REQUESTS_PATH}[{i}]", ("request", "metadata"))
            metadata = entry.get("metadata")
            if "request" not in entry:
                out.append(JobRequest(None, rpc_status(400, "request is required"), None, metadata))
                continue
            # Malformed JSON fails the whole call (GoogleError); rule breaks only this one.
            try:
                request = embed_request(entry["request"], "", model, call, model_required=False)
            except Violation as exc:
                error = rpc_status(400, violation_message(exc))
                out.append(JobRequest(None, error, None, metadata))
                continue
            out.append(JobRequest(request, metadata=metadata))
        return out

    def _from_file(self, name: str, model: EmbeddingModel, call: Call) -> list[JobRequest]:
        stored = self.files.get(name)
        if stored is None:
            raise GoogleError(
                403,
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
            )
        if stored.state != "ACTIVE":
            raise GoogleError(
                400, f"The File {name} is not in an ACTIVE state.", status="FAILED_PRECONDITION"
            )
        out = []
        text = stored.data.decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                out.append(_line_request(number, line, model, call))
        if not out:
            raise Violation("batch.input_config.file_name", f"{name} holds no requests")
        return out

    # --- read -----------------------------------------------------------------------------

    def _operation(self, job: BatchJob) -> dict[str, Any]:
        state = self.store.advance(job)
        stats = job.final_stats or job.running_stats(time.monotonic())
        meta: dict[str, Any] = {"@type": METADATA_TYPE, "model": f"models/{job.model_name}"}
        if job.display_name is not None:
            meta["displayName"] = job.display_name
        if job.input_file is not None:
            meta["inputConfig"] = {"fileName": job.input_file}
        if job.output is not None:
            meta["output"] = job.output
        meta["createTime"] = rfc3339(job.created)
        meta["updateTime"] = rfc3339(update_time(job, state))
        if job.ended is not None:
            meta["endTime"] = rfc3339(job.ended)
        # int64 fields are strings in proto JSON, and zeros are left out.
        meta["batchStats"] = {k: str(v) for k, v in stats.items() if v}
        meta["state"] = state
        meta["name"] = job.name
        operation: dict[str, Any] = {"name": job.name, "metadata": meta}
        if state in TERMINAL:
            operation["done"] = True
        if job.error is not None:
            operation["error"] = job.error
        return operation

    def _list(self, query: Mapping[str, str]) -> dict[str, Any]:
        size = as_int(query.get("pageSize", DEFAULT_PAGE_SIZE), "page_size")
        size = DEFAULT_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)
        token = query.get("pageToken", "")
        start = int(token) if token.isdigit() else 0
        jobs = self.store.list()
        body: dict[str, Any] = {}
        page = jobs[start : start + size]
        if page:
            body["operations"] = [self._operation(job) for job in page]
        if start + size < len(jobs):
            body["nextPageToken"] = str(start + size)
        return body


def _line_request(number: int, line: str, model: EmbeddingModel, call: Call) -> JobRequest:
    """One JSONL line ``{"key", "request"}``; anything wrong fails this request only."""
    try:
        value = json.loads(line)
    except ValueError:
        return JobRequest(None, rpc_status(400, f"line {number}: invalid JSON"))
    if not isinstance(value, dict):
        return JobRequest(None, rpc_status(400, f"line {number}: expected a JSON object"))
    key = value.get("key")
    key = None if key is None else str(key)
    unknown = sorted(set(value) - _LINE_FIELDS)
    if unknown:
        message = f"line {number}: unknown field {unknown[0]!r}; use key and request"
        return JobRequest(None, rpc_status(400, message), key)
    if "request" not in value:
        return JobRequest(None, rpc_status(400, f"line {number}: request is required"), key)
    try:
        request = embed_request(value["request"], "", model, call, model_required=False)
    except Violation as exc:
        return JobRequest(None, rpc_status(400, violation_message(exc)), key)
    except GoogleError as exc:
        return JobRequest(None, rpc_status(exc.code, exc.message), key)
    return JobRequest(request, key=key)


def _json(body: dict[str, Any]) -> Reply:
    return Reply(200, dumps(body), {"Content-Type": JSON_CONTENT_TYPE})


__all__ = ["BATCH_ROUTES", "DOWNLOAD_ROUTE", "BatchService"]
