"""`index_folder`: embed a folder into a store, resumably.

Resume design: vectors land in the runtime's SQLite cache as each request finishes, and a
file's points plus its manifest entry are written as soon as its group of files is
embedded. A re-run skips files whose manifest entry matches (size and mtime, else content
hash), and the cache answers everything a killed run had already paid for, so nothing is
embedded twice. Groups start at one file and double (to ``max_group_files``): the first
files are stored within a request's time, and later groups are large enough for the
runtime to batch and parallelize.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    InvalidParameterError,
    MissingCredentialsError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
)
from ..providers.base import Embedder
from ..providers.gemini import GeminiEmbedder
from ..providers.gemini_batch import GeminiBatchJob
from ..tasks import Task
from ..types import EmbeddingResult, VideoSegmentConfig
from .corpus import (
    PAGE_DPI,
    PAGE_MAX_SIDE,
    FilePlan,
    Skip,
    SourceFile,
    plan_file,
    video_pieces,
    walk,
)
from .defaults import DEFAULT_VIDEO_INTERVAL_SEC
from .embedders import (
    Capabilities,
    EmbedderSettings,
    build_embedder,
    capabilities,
    close_embedder,
)
from .manifest import FileEntry, Manifest
from .pieces import Piece
from .store import CACHE_NAME, Store

logger = logging.getLogger("omniembed.rag")

#: Errors every further request would repeat: stop the run instead of failing each file.
FATAL_ERRORS = (AuthenticationError, PermissionDeniedError, NotFoundError, MissingCredentialsError)


@dataclass(frozen=True)
class FileIssue:
    source: str
    reason: str


@dataclass
class IndexReport:
    """What one `index_folder` run did."""

    provider: str
    model: str
    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[FileIssue] = field(default_factory=list)
    failed: list[FileIssue] = field(default_factory=list)
    #: Pieces (vectors) written by this run, and held by the store afterwards.
    pieces: int = 0
    total_pieces: int = 0
    #: HTTP requests sent to the embedding service (retries included), and cache hits.
    requests: int = 0
    cache_hits: int = 0
    #: The Gemini batch job that embedded this run's files (``batch_job=True``).
    batch_job: str | None = None

    def summary(self) -> str:
        """A short, deterministic account (no paths outside the indexed folder, no times)."""
        lines = [
            f"indexed {len(self.indexed)} files ({self.pieces} pieces), "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped, {len(self.failed)} failed",
            f"{self.requests} embedding requests, {self.cache_hits} cache hits; "
            f"{self.provider}:{self.model}, {self.total_pieces} pieces in the store",
        ]
        if self.batch_job:
            lines.append(f"embedded by batch job {self.batch_job}")
        lines += [f"  skipped {i.source}: {i.reason}" for i in self.skipped]
        lines += [f"  failed  {i.source}: {i.reason}" for i in self.failed]
        return "\n".join(lines)


def index_folder(
    path: str | os.PathLike[str],
    store_dir: str | os.PathLike[str],
    *,
    provider: str | None = None,
    model: str | None = None,
    dimension: int | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
    project: str | None = None,
    location: str | None = None,
    video_interval_sec: float = DEFAULT_VIDEO_INTERVAL_SEC,
    requests_per_minute: float | None = None,
    max_concurrency: int | None = None,
    max_group_files: int = 32,
    batch_job: bool = False,
    batch_poll_interval: float = 10.0,
    progress: bool = True,
) -> IndexReport:
    """Index the files under ``path`` into the store in ``store_dir``.

    ``provider`` is ``gemini`` (Gemini API), ``vertex`` (Vertex AI; default model
    multimodalembedding@001, or a Gemini embedding model) or ``dashscope``; an existing
    store keeps its provider and model when they are not given. Credentials come from the
    arguments or the environment (``GEMINI_API_KEY``, ``GOOGLE_CLOUD_PROJECT`` + ADC or
    ``GOOGLE_ACCESS_TOKEN``, ``DASHSCOPE_API_KEY``); with ``base_url`` and none, a
    placeholder key is sent. Per-file problems are reported in the `IndexReport`, never
    raised; bad credentials, an unknown model or a bad setting raise.

    ``batch_job=True`` (Gemini API only) embeds every changed file except videos in one
    Gemini batch job — cheaper, but it can take hours. The job's name is kept in the store,
    so a run that is interrupted while waiting picks the same job up again.
    """
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ConfigurationError(f"{root} is not a folder; pass the folder to index")
    if video_interval_sec <= 0:
        raise InvalidParameterError(f"the video interval must be > 0 s, got {video_interval_sec:g}")
    if max_group_files < 1:
        raise InvalidParameterError(f"max_group_files must be >= 1, got {max_group_files}")
    directory = Path(store_dir).expanduser().resolve()
    settings = _settings(directory, provider, model, dimension, project, location)
    embedder = build_embedder(
        settings,
        base_url=base_url,
        api_key=api_key,
        access_token=access_token,
        cache=directory / CACHE_NAME,
        requests_per_minute=requests_per_minute,
        max_concurrency=max_concurrency,
    )
    try:
        caps = capabilities(embedder)
        if caps.video and video_interval_sec < caps.min_video_interval_sec:
            raise InvalidParameterError(
                f"{settings.model} segments video in intervals of at least "
                f"{caps.min_video_interval_sec:g} s; pass a video interval of "
                f"{caps.min_video_interval_sec:g} or more"
            )
        with Store.create(directory, settings, root) as store:
            run = _Run(store, embedder, caps, settings, video_interval_sec, max_group_files)
            if batch_job:
                run.use_batch_job(progress, batch_poll_interval)
            run.index(walk(root, exclude=[directory]), progress)
            run.report.total_pieces = store.count()
            return run.report
    finally:
        close_embedder(embedder)


def _settings(
    directory: Path,
    provider: str | None,
    model: str | None,
    dimension: int | None,
    project: str | None,
    location: str | None,
) -> EmbedderSettings:
    """Explicit values, else the existing store's, else the defaults."""
    existing = Manifest.load(directory) if directory.is_dir() else None
    if existing is not None and provider in (None, existing.embedder.provider):
        old = existing.embedder
        return EmbedderSettings.resolve(
            old.provider,
            model or old.model,
            dimension if dimension is not None else old.dimension,
            project or old.project,
            location or old.location,
        )
    return EmbedderSettings.resolve(provider or "gemini", model, dimension, project, location)


class _Run:
    """One indexing run's state: the pending group, the report, the manifest updates."""

    max_group_pieces = 256  # bounds memory (rendered pages) and the work lost to a kill

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        caps: Capabilities,
        settings: EmbedderSettings,
        video_interval_sec: float,
        max_group_files: int,
    ):
        self.store = store
        self.embedder = embedder
        self.caps = caps
        self.settings = settings
        self.video_interval_sec = video_interval_sec
        self.max_group_files = max_group_files
        self.report = IndexReport(settings.provider, settings.model)
        # Pieces depend on these settings too: changing them re-indexes the files.
        shape = (caps.text_chars, caps.fused_pages, caps.images, PAGE_DPI, PAGE_MAX_SIDE)
        self.plan_key = _fingerprint(*shape, video_interval_sec)
        self.group: list[FilePlan] = []
        self.group_target = 1
        self.bar: tqdm[Any] | None = None
        self.batch_job: PendingBatchJob | None = None

    def use_batch_job(self, progress: bool, poll_interval: float) -> None:
        """Collect every file's pieces for one Gemini batch job instead of direct calls."""
        if not isinstance(self.embedder, GeminiEmbedder) or self.embedder.vertexai:
            raise ConfigurationError(
                "batch jobs are a Gemini API feature: use --provider gemini without Vertex AI, "
                "or drop --batch-job"
            )
        self.batch_job = PendingBatchJob(self.store.directory, progress, poll_interval)
        # One group, flushed once at the end: one job for the whole run.
        self.max_group_files = self.max_group_pieces = self.group_target = sys.maxsize

    @property
    def manifest(self) -> Manifest:
        return self.store.manifest

    def index(self, files: Sequence[SourceFile], progress: bool) -> None:
        present = {f.source for f in files}
        for source in sorted(set(self.manifest.files) - present):
            self.store.delete_source(source)
            del self.manifest.files[source]
            self.report.removed.append(source)
        self.store.save_manifest()
        self.bar = tqdm(
            total=len(files), desc="indexing", unit="file", file=sys.stderr, disable=not progress
        )
        try:
            for file in files:
                self._visit(file)
            self._flush()
        finally:
            self.bar.close()

    def _visit(self, file: SourceFile) -> None:
        assert self.bar is not None
        entry = self.manifest.files.get(file.source)
        stat = (file.size, file.mtime_ns)
        if (
            entry is not None
            and entry.plan == self.plan_key
            and (entry.size, entry.mtime_ns) == stat
        ):
            self._unchanged(file)
            return
        try:
            sha256 = file.sha256()
        except OSError as exc:
            self._fail(file.source, f"cannot be read ({exc.strerror or exc})")
            self.bar.update(1)
            return
        if entry is not None and entry.plan == self.plan_key and entry.sha256 == sha256:
            # Touched, not changed: remember the new stat so the next run skips hashing.
            self.manifest.files[file.source] = FileEntry(
                sha256, file.size, file.mtime_ns, entry.pieces, entry.plan
            )
            self._unchanged(file)
            return
        try:
            plan = plan_file(file, self.caps, self.settings.model, sha256)
        except Skip as skip:
            self._drop(file.source)
            self.report.skipped.append(FileIssue(file.source, str(skip)))
            self.bar.update(1)
            return
        except Exception as exc:  # a corrupt or unreadable file must not stop the run
            self._fail(file.source, _describe(exc))
            self.bar.update(1)
            return
        if plan.video is not None:
            self._embed_video(plan)
            self.store.save_manifest()
            self.bar.update(1)
            return
        self.group.append(plan)
        pieces = sum(len(p.pieces) for p in self.group)
        if len(self.group) >= self.group_target or pieces >= self.max_group_pieces:
            self._flush()

    def _unchanged(self, file: SourceFile) -> None:
        assert self.bar is not None
        self.report.unchanged.append(file.source)
        self.bar.update(1)

    # --- embedding -----------------------------------------------------------------------

    def _flush(self) -> None:
        group, self.group = self.group, []
        if not group:
            return
        if self.batch_job is not None:
            self._embed_as_job(group, self.batch_job)
        else:
            self._embed_group(group)
        self.store.save_manifest()
        assert self.bar is not None
        self.bar.update(len(group))
        self.group_target = min(self.group_target * 2, self.max_group_files)

    def _embed_group(self, group: list[FilePlan]) -> None:
        inputs = [value for plan in group for value in plan.inputs]
        titles: list[str | None] = [plan.title for plan in group for _ in plan.inputs]
        try:
            results = self.embedder.embed(
                inputs, Task.RETRIEVAL_DOCUMENT, titles=titles, raise_on_error=False
            )
        except FATAL_ERRORS:
            raise
        except Exception as exc:
            if len(group) > 1:  # find the file that broke the call; keep the others
                for plan in group:
                    self._embed_group([plan])
                return
            self._count()
            self._fail(group[0].file.source, _describe(exc))
            return
        self._count()
        cursor = 0
        for plan in group:
            mine = results[cursor : cursor + len(plan.inputs)]
            cursor += len(plan.inputs)
            self._store_results(plan, mine)

    def _embed_as_job(self, group: list[FilePlan], pending: PendingBatchJob) -> None:
        assert isinstance(self.embedder, GeminiEmbedder)
        inputs = [value for plan in group for value in plan.inputs]
        titles: list[str | None] = [plan.title for plan in group for _ in plan.inputs]
        key = _fingerprint([(p.file.source, p.sha256, len(p.inputs)) for p in group])
        job = pending.resume(self.embedder, key) or pending.submit(
            self.embedder, key, inputs, titles
        )
        self.report.batch_job = job.name
        job.wait(poll_interval=pending.poll_interval, progress=pending.progress)
        results = job.results()  # raises BatchJobError if the job failed or expired
        cursor = 0
        for plan in group:
            mine = results[cursor : cursor + len(plan.inputs)]
            cursor += len(plan.inputs)
            self._store_results(plan, mine)
        pending.forget()

    def _store_results(self, plan: FilePlan, results: Sequence[EmbeddingResult]) -> None:
        problems = []
        for piece, result in zip(plan.pieces, results, strict=True):
            if isinstance(result.error, FATAL_ERRORS):
                raise result.error
            if result.error is not None:
                problems.append(f"{_where(piece)}{_describe(result.error)}")
            elif len(result.embeddings) != 1:
                problems.append(f"{_where(piece)}{len(result.embeddings)} vectors, expected 1")
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            self._fail(plan.file.source, problems[0] + more)
            return
        self._write(plan, plan.pieces, [r.embeddings[0].vector for r in results])

    def _embed_video(self, plan: FilePlan) -> None:
        assert plan.video is not None
        config = VideoSegmentConfig(interval_sec=self.video_interval_sec)
        try:
            [segments] = self.embedder.embed_videos(
                [plan.video], config, task=Task.RETRIEVAL_DOCUMENT
            )
        except FATAL_ERRORS:
            raise
        except Exception as exc:
            self._count()
            self._fail(plan.file.source, _describe(exc))
            return
        self._count()
        if not segments:
            self._fail(plan.file.source, "the service returned no video segments")
            return
        spans = [(s.start_offset_sec or 0.0, s.end_offset_sec or 0.0) for s in segments]
        pieces = video_pieces(plan.file.source, plan.title, spans)
        self._write(plan, pieces, [s.vector for s in segments])

    def _count(self) -> None:
        stats = self.embedder.last_stats
        self.report.requests += stats.requests
        self.report.cache_hits += stats.cache_hits

    # --- bookkeeping ---------------------------------------------------------------------

    def _write(self, plan: FilePlan, pieces: Sequence[Piece], vectors: list[list[float]]) -> None:
        source = plan.file.source
        try:
            self.store.replace_file(source, plan.sha256, pieces, vectors)
        except OmniEmbedError as exc:
            self._fail(source, _describe(exc))
            return
        self.manifest.files[source] = FileEntry(
            plan.sha256, plan.file.size, plan.file.mtime_ns, len(pieces), self.plan_key
        )
        self.report.indexed.append(source)
        self.report.pieces += len(pieces)

    def _fail(self, source: str, reason: str) -> None:
        # The file's old version (if any) is stale now: its points must not answer.
        self._drop(source)
        logger.info("not indexed: %s: %s", source, reason)  # the report lists it
        self.report.failed.append(FileIssue(source, reason))

    def _drop(self, source: str) -> None:
        # Also when the manifest does not know the file: a killed run may have written
        # its points without the entry.
        self.manifest.files.pop(source, None)
        self.store.delete_source(source)


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


def _where(piece: Piece) -> str:
    if piece.page is not None:
        return f"page {piece.page}: "
    return f"piece {piece.ordinal + 1}: " if piece.ordinal else ""


def _describe(exc: BaseException) -> str:
    """The error without our call's input position (meaningless to the user)."""
    if isinstance(exc, InputError):
        return exc.detail
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OmniEmbedError) else f"{type(exc).__name__}: {text}"


def _fingerprint(*values: object) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:12]
