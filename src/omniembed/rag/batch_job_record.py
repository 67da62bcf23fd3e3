"""The store's record of a submitted Gemini batch job, so an interrupted `index --batch-job`
run picks the same job up again instead of paying for a second one."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from ..providers.gemini import GeminiEmbedder
from ..providers.gemini_batch import GeminiBatchJob
from ..tasks import Task

logger = logging.getLogger("omniembed.rag")


class PendingBatchJob:
    """The store's record of a submitted batch job (``batch-job.json``), so an interrupted
    run resumes the job by name instead of paying for a second one."""

    FILE = "batch-job.json"

    def __init__(self, directory: Path, progress: bool, poll_interval: float):
        self.path = directory / self.FILE
        self.progress = progress
        self.poll_interval = poll_interval

    def resume(self, embedder: GeminiEmbedder, key: str) -> GeminiBatchJob | None:
        try:
            record = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("key") != key:  # the folder changed since: that job is for other files
            logger.warning("ignoring batch job %s: it was submitted for other files", record)
            return None
        job = embedder.batch_job(record["name"])
        if job.done and job.state != "JOB_STATE_SUCCEEDED":
            # A failed, expired or cancelled job has nothing to give: submit a new one.
            logger.warning("batch job %s ended %s; submitting a new one", job.name, job.state)
            self.forget()
            return None
        logger.info("resuming batch job %s", job.name)
        return job

    def submit(
        self,
        embedder: GeminiEmbedder,
        key: str,
        inputs: Sequence[object],
        titles: list[str | None],
    ) -> GeminiBatchJob:
        job = embedder.submit_batch_job(
            list(inputs), Task.RETRIEVAL_DOCUMENT, titles=titles, display_name="omniembed index"
        )
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"name": job.name, "key": key}), "utf-8")
        temporary.replace(self.path)
        logger.info("submitted batch job %s (%d inputs)", job.name, len(inputs))
        return job

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
