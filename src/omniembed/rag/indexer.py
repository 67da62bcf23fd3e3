"""`index_folder`: embed a folder into a store, resumably, in bounded memory.

The run streams: each file's pieces are read as they are embedded (a 100 MB text is never
held whole) and cut into embedding calls of at most `MAX_WINDOW_PIECES` pieces
(`plan.Windows`: the first call one file, then doubling), whose vectors are written
before the next call. Resume: vectors land in the runtime's SQLite cache as each request
finishes; a file's manifest entry is dropped before its old points go and written once
all its new points are in. A re-run skips files whose entry matches (size and mtime, else
content hash), and the cache answers everything a killed run had already paid for.

A daily quota running out stops the run at once (`IndexPausedError`): files embedded so
far are in the store, a file cut off midway keeps the pieces it got (its entry says it is
partial), and the same command after the reset sends only the rest. An endpoint that
cannot be reached, rejected credentials or an unknown model stop it too
(`IndexStoppedError`), after the first request's retries rather than one file at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    ConfigurationError,
    DailyQuotaExceededError,
    InvalidParameterError,
    OmniEmbedError,
)
from ..providers.base import Embedder
from ..providers.gemini import GeminiEmbedder
from ..tasks import Task
from ..types import Embedding, EmbeddingResult, VideoSegmentConfig
from .batch_job_record import PendingBatchJob
from .corpus import (
    EmbedInput,
    FilePlan,
    Skip,
    SourceFile,
    TimedMedia,
    audio_segment_config,
    plan_file,
    timed_pieces,
    walk,
)
from .defaults import DEFAULT_VIDEO_INTERVAL_SEC
from .embedders import (
    Capabilities,
    EmbedderSettings,
    build_embedder,
    capabilities,
    close_embedder,
    endpoint,
)
from .manifest import FileEntry, Manifest, StoreFormatError
from .pieces import Piece
from .plan import (
    MAX_WINDOW_PIECES,
    IndexPlan,
    Survey,
    Todo,
    Windows,
    describe,
    fingerprint,
    plan_key,
)
from .progress import Progress
from .report import (
    FATAL_ERRORS,
    FileIssue,
    IndexPausedError,
    IndexReport,
    IndexStoppedError,
)
from .store import CACHE_NAME, ReadOnlyCache, Store, check_same_model

logger = logging.getLogger("omniembed.rag")

#: The manifest's plan fingerprint for a file a daily quota cut off midway: it never matches
#: a real plan, so the next run embeds the file again (the cache answers what it got).
PARTIAL = "partial"
#: Files per embedding call at most (calls start at one file and double).
MAX_GROUP_FILES = 32

__all__ = [
    "FileIssue",
    "IndexPausedError",
    "IndexPlan",
    "IndexReport",
    "IndexStoppedError",
    "index_folder",
    "plan_folder",
]


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
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | None = None,
    max_concurrency: int | None = None,
    max_retries: int | None = None,
    max_group_files: int = MAX_GROUP_FILES,
    batch_job: bool = False,
    batch_poll_interval: float = 10.0,
    progress: bool = True,
    on_plan: Callable[[IndexPlan], None] | None = None,
    rebuild: bool = False,
    follow_links: bool = False,
    verify: bool = False,
) -> IndexReport:
    """Index the files under ``path`` into the store in ``store_dir``.

    ``provider`` is ``gemini`` (Gemini API), ``vertex`` (Vertex AI; default model
    multimodalembedding@001, or a Gemini embedding model) or ``dashscope``; an existing
    store keeps its provider and model when they are not given. Credentials come from the
    arguments or the environment (``GEMINI_API_KEY``, ``GOOGLE_CLOUD_PROJECT`` + ADC or
    ``GOOGLE_ACCESS_TOKEN``, ``DASHSCOPE_API_KEY``); with ``base_url`` and none, a
    placeholder key is sent. Per-file problems are reported in the `IndexReport`
    (``report.ok`` is false when a file failed), never raised. An endpoint that cannot be
    reached (after the first request's retries), rejected credentials or an unknown model
    stop the run with `IndexStoppedError` (its ``report`` says what got done); a bad
    setting raises before anything is sent.

    The store is transactional: a file's entry in the manifest appears only once all its
    vectors are written, and the manifest binds the store to a model only once it names a
    file, so a run that fails or is killed leaves a store the next (corrected) call
    resumes. A store holding vectors of another model is refused unless ``rebuild=True``,
    which drops them (the cache keeps every vector paid for). Large files are read and
    embedded as a stream, in calls of at most a few hundred pieces. Video is cut into
    segments of ``video_interval_sec``, audio (models that hear it) into windows as long
    as the model takes per input (80 s for gemini-embedding-2): one piece per segment,
    with its time range. A file with a picture track is a video, sound or not.

    A file whose size and mtime match its entry is taken as unchanged without reading it
    (unless it changed within 2 s of its last check); ``verify=True`` hashes every file, for
    tools that rewrite files and restore their mtime. Symbolic links that lead outside
    ``path`` are skipped unless ``follow_links=True``.

    The quota: ``tier`` (``"free"``, ``"tier1"``, ``"tier2"``, ``"tier3"``, ``"default"``;
    default: the provider's own default) fills the published figures, and
    ``requests_per_minute`` (in the service's unit), ``tokens_per_minute`` and
    ``requests_per_day`` replace them (``0`` drops one); ``max_retries`` bounds the retries
    of each request (default 6). ``on_plan`` gets the `IndexPlan`
    (the quota, pieces, an ETA) before the first request. The progress bar (``progress``)
    counts pieces; waits for the quota and retries show on it and are logged once per
    episode. When a daily quota runs out
    the run stops with `IndexPausedError`: what got embedded is kept, and the same call
    after the reset sends only the rest.

    ``batch_job=True`` (Gemini API only) embeds every changed file except videos and audio
    (cut into segments, embedded directly) in one Gemini batch job — cheaper, but it can
    take hours. The job's name is kept in the store, so a run that is interrupted while
    waiting picks the same job up again.
    """
    root, directory = _check(path, store_dir, video_interval_sec, max_group_files)
    settings = _settings(directory, provider, model, dimension, project, location, rebuild)
    created = not directory.exists()
    _private(directory)
    waits = _Waits(progress)
    try:
        embedder = build_embedder(
            settings,
            base_url=base_url,
            api_key=api_key,
            access_token=access_token,
            cache=directory / CACHE_NAME,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            requests_per_day=requests_per_day,
            tier=tier,
            max_concurrency=max_concurrency,
            max_retries=max_retries,
            on_wait=lambda text: waits.waiting(text),
        )
    except BaseException:
        if created:  # a bad setting leaves nothing behind
            shutil.rmtree(directory, ignore_errors=True)
        raise
    try:
        caps = _capabilities(embedder, settings, video_interval_sec)
        with Store.create(directory, settings, root, rebuild=rebuild) as store:
            run = _Run(store, embedder, caps, settings, video_interval_sec, max_group_files)
            run.verify = verify
            store.manifest.follow_links = follow_links
            waits.target = run
            if batch_job:
                run.use_batch_job(progress, batch_poll_interval)
            try:
                files = walk(root, exclude=[directory], follow_links=follow_links)
                plan = run.index(files, progress, on_plan)
            except FATAL_ERRORS as exc:
                run.report.total_pieces = store.count()
                raise IndexStoppedError(exc, run.report, endpoint(settings, base_url)) from exc
            run.report.total_pieces = store.count()
            if run.stopped is not None:
                raise IndexPausedError(run.stopped, run.report, plan)
            return run.report
    finally:
        close_embedder(embedder)


def plan_folder(
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
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | None = None,
    max_retries: int | None = None,  # accepted for symmetry: nothing is sent
    follow_links: bool = False,
    verify: bool = False,
    progress: bool = False,
) -> IndexPlan:
    """What `index_folder` with the same arguments would do — pieces, requests, estimated
    tokens, the time the quota implies and the price — without calling the service and
    without writing the store (its manifest and cache are only read). No credentials are
    needed: nothing is sent."""
    root, directory = _check(path, store_dir, video_interval_sec, 1)
    settings = _settings(directory, provider, model, dimension, project, location)
    manifest = Manifest.load(directory) if directory.is_dir() else None
    if manifest is not None:
        check_same_model(directory, manifest, settings)
    cache_path = directory / CACHE_NAME
    cache = ReadOnlyCache(cache_path) if cache_path.is_file() else None
    try:
        embedder = build_embedder(
            settings,
            base_url=base_url,
            api_key=api_key,
            access_token=access_token,
            cache=cache,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            requests_per_day=requests_per_day,
            tier=tier,
            offline=True,
        )
        try:
            caps = _capabilities(embedder, settings, video_interval_sec)
            known = manifest.files if manifest is not None else {}
            survey = Survey(
                embedder, caps, settings, video_interval_sec, known, MAX_GROUP_FILES, verify
            )
            survey.run(walk(root, exclude=[directory], follow_links=follow_links), progress)
            return survey.plan()
        finally:
            close_embedder(embedder)
    finally:
        if cache is not None:
            cache.close()


def _private(directory: Path) -> None:
    """Create the store folder and its cache file readable by their owner only: they hold
    the documents' text (the cache file is created here, before SQLite would create it
    with the process's umask; SQLite gives its -wal and -shm files the same mode)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cache = directory / CACHE_NAME
    if not cache.exists():
        cache.touch(mode=0o600)


def _check(
    path: str | os.PathLike[str],
    store_dir: str | os.PathLike[str],
    video_interval_sec: float,
    max_group_files: int,
) -> tuple[Path, Path]:
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ConfigurationError(f"{root} is not a folder; pass the folder to index")
    if video_interval_sec <= 0:
        raise InvalidParameterError(f"the video interval must be > 0 s, got {video_interval_sec:g}")
    if max_group_files < 1:
        raise InvalidParameterError(f"max_group_files must be >= 1, got {max_group_files}")
    return root, Path(store_dir).expanduser().resolve()


def _capabilities(
    embedder: Embedder, settings: EmbedderSettings, video_interval_sec: float
) -> Capabilities:
    caps = capabilities(embedder)
    if caps.video and video_interval_sec < caps.min_video_interval_sec:
        raise InvalidParameterError(
            f"{settings.model} segments video in intervals of at least "
            f"{caps.min_video_interval_sec:g} s; pass a video interval of "
            f"{caps.min_video_interval_sec:g} or more"
        )
    return caps


def _settings(
    directory: Path,
    provider: str | None,
    model: str | None,
    dimension: int | None,
    project: str | None,
    location: str | None,
    rebuild: bool = False,
) -> EmbedderSettings:
    """Explicit values, else the existing store's, else the defaults."""
    try:
        existing = Manifest.load(directory) if directory.is_dir() else None
    except StoreFormatError:
        if not rebuild:
            raise
        existing = None  # another version's store, about to be rebuilt
    if existing is not None and provider in (None, existing.embedder.provider):
        # A manifest naming no file binds nothing, but its model is still the default.
        old = existing.embedder
        return EmbedderSettings.resolve(
            old.provider,
            model or old.model,
            dimension if dimension is not None else old.dimension,
            project or old.project,
            location or old.location,
        )
    return EmbedderSettings.resolve(provider or "gemini", model, dimension, project, location)


class _Waits:
    """Where waits are told: the run's bar once it has one; before that, the log."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.target: _Run | None = None

    def waiting(self, text: str) -> None:
        bar = self.target.bar if self.target is not None else None
        if bar is not None:
            bar.waiting(text)
        else:
            logger.info("%s", text)


class _DailyStop(Exception):
    """Internal: a daily quota ran out; the run stops here."""

    def __init__(self, error: DailyQuotaExceededError):
        super().__init__(str(error))
        self.error = error


@dataclass
class _File:
    """A file being embedded: how far its pieces got."""

    plan: FilePlan
    #: Its pieces as the survey counted them.
    pieces: int = 0
    #: When the survey read it (the entry's ``checked_ns``).
    read_ns: int = 0
    #: Its old points are deleted (done once, before its first new points are written).
    started: bool = False
    #: Pieces written so far, and whether all were read (the file is complete once they
    #: are all written too).
    written: int = 0
    read_all: bool = False
    failed: bool = False

    @property
    def source(self) -> str:
        return self.plan.file.source


@dataclass
class _Window:
    """The pieces of one embedding call, with the file each belongs to."""

    items: list[tuple[_File, Piece, EmbedInput]] = field(default_factory=list)

    @property
    def files(self) -> list[_File]:
        return list({id(f): f for f, _, _ in self.items}.values())

    def __len__(self) -> int:
        return len(self.items)


class _Run:
    """One indexing run's state: the window being filled, the report, the manifest."""

    max_window_pieces = MAX_WINDOW_PIECES

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
        self.plan_key = plan_key(caps, video_interval_sec)
        self.window = _Window()
        self.windows = Windows(max_group_files, self.max_window_pieces)
        self.bar: Progress | None = None
        self.batch_job: PendingBatchJob | None = None
        #: The daily-quota error that stopped the run, if one did.
        self.stopped: DailyQuotaExceededError | None = None
        #: Hash every file, trusting no stat (``verify=True``).
        self.verify = False

    def use_batch_job(self, progress: bool, poll_interval: float) -> None:
        """Collect every file's pieces for one Gemini batch job instead of direct calls."""
        if not isinstance(self.embedder, GeminiEmbedder) or self.embedder.vertexai:
            raise ConfigurationError(
                "batch jobs are a Gemini API feature: use provider='gemini', or drop batch_job=True"
            )
        self.batch_job = PendingBatchJob(self.store.directory, progress, poll_interval)
        # One window, flushed once at the end: one job for the whole run.
        self.windows = Windows(sys.maxsize, sys.maxsize)
        self.windows.files = sys.maxsize

    @property
    def manifest(self) -> Manifest:
        return self.store.manifest

    def index(
        self,
        files: Sequence[SourceFile],
        progress: bool,
        on_plan: Callable[[IndexPlan], None] | None = None,
    ) -> IndexPlan:
        present = {f.source for f in files}
        removed = sorted(set(self.manifest.files) - present)
        for source in removed:
            del self.manifest.files[source]
            self.report.removed.append(source)
        if removed:
            self.store.save_manifest()  # before their points go: never name a missing file
            for source in removed:
                self.store.delete_source(source)
        survey = Survey(
            self.embedder,
            self.caps,
            self.settings,
            self.video_interval_sec,
            self.manifest.files,
            self.max_group_files,
            self.verify,
        )
        survey.run(files, progress)
        plan = survey.plan()
        if on_plan is not None:
            on_plan(plan)
        for file in survey.unchanged:
            self.report.unchanged.append(file.source)
        for file, entry in survey.touched:
            self.manifest.files[file.source] = entry
            self.report.unchanged.append(file.source)
        # Skipped and unreadable files hold no points now (an older version's are stale):
        # their entries go first, saved once, then their points, in one transaction.
        gone = [issue.source for issue in [*survey.skipped, *survey.failed]]
        dropped = [self.manifest.files.pop(source, None) is not None for source in gone]
        if any(dropped) or survey.touched:
            self.store.save_manifest()
        self.store.delete_sources(gone)
        self.report.skipped += survey.skipped
        for issue in survey.failed:
            logger.info("not indexed: %s: %s", issue.source, issue.reason)
            self.report.failed.append(issue)
        self.bar = Progress(plan.pieces, desc="indexing", unit="piece", show=progress)
        try:
            for todo in survey.todo:
                self._visit(todo)
            self._flush()
        except _DailyStop as stop:
            self.stopped = stop.error
        finally:
            if self.manifest.files or self.report.removed:
                self.store.save_manifest()  # what deferred saves left, and a partial file
            self.bar.close()
        return plan

    def _visit(self, todo: Todo) -> None:
        assert self.bar is not None
        source = todo.file.source
        try:
            plan = plan_file(todo.file, self.caps, self.settings.model, todo.sha256)
        except Skip as skip:  # changed since the survey
            self._drop(source)
            self.report.skipped.append(FileIssue(source, str(skip)))
            return
        except Exception as exc:  # a corrupt or unreadable file must not stop the run
            self._fail_source(source, describe(exc))
            return
        if plan.timed is not None:
            self._embed_timed(plan, plan.timed, todo)
            self.store.save_manifest(soon=True)
            return
        file = _File(plan, todo.pieces, todo.read_ns)
        try:
            for piece, value in file.plan.items():
                self.window.items.append((file, piece, value))
                if self.windows.full(len(self.window)):
                    self._flush()
                if file.failed:
                    return
        except Skip as skip:  # no pieces after all (changed since the survey)
            self._drop(source)
            self.report.skipped.append(FileIssue(source, str(skip)))
            return
        except Exception as exc:  # a file unreadable midway must not stop the run
            self._discard(file)
            self._fail(file, describe(exc))
            return
        file.read_all = True
        if not any(f is file for f, _, _ in self.window.items):
            self._complete(file)  # its last piece filled the window just flushed
            self.store.save_manifest(soon=True)
        elif self.windows.full(len(self.window), len(self.window.files)):
            self._flush()

    # --- embedding -----------------------------------------------------------------------

    def _flush(self) -> None:
        window, self.window = self.window, _Window()
        if not window.items:
            return
        self.windows.advance()
        if self.batch_job is not None:
            self._embed_as_job(window, self.batch_job)
        else:
            self._embed_window(window)
        self.store.save_manifest(soon=True)

    def _embed_window(self, window: _Window) -> None:
        inputs = [value for _, _, value in window.items]
        titles: list[str | None] = [f.plan.title for f, _, _ in window.items]
        try:
            results = self.embedder.embed(
                inputs, Task.RETRIEVAL_DOCUMENT, titles=titles, raise_on_error=False
            )
        except FATAL_ERRORS:
            raise
        except DailyQuotaExceededError as exc:  # not expected with raise_on_error=False
            self._count()
            if len(exc.results) != len(inputs):
                raise _DailyStop(exc) from exc
            results = exc.results
        except Exception as exc:
            files = window.files
            if len(files) > 1:  # find the file that broke the call; keep the others
                for one in files:
                    self._embed_window(_Window([i for i in window.items if i[0] is one]))
                return
            self._count()
            self._discard(files[0])
            self._fail(files[0], describe(exc))
            return
        self._count()
        self._store_window(window, results)

    def _store_window(self, window: _Window, results: Sequence[EmbeddingResult]) -> None:
        daily = next(
            (r.error for r in results if isinstance(r.error, DailyQuotaExceededError)), None
        )
        by_file: dict[int, list[tuple[Piece, EmbeddingResult]]] = {}
        for (file, piece, _), result in zip(window.items, results, strict=True):
            if isinstance(result.error, FATAL_ERRORS):
                raise result.error
            by_file.setdefault(id(file), []).append((piece, result))
        writes: list[tuple[_File, list[Piece], list[list[float]], bool]] = []
        for file in window.files:
            mine = by_file[id(file)]
            cut_off = any(isinstance(r.error, DailyQuotaExceededError) for _, r in mine)
            if daily is not None and (cut_off or not file.read_all):
                done = [(p, r) for p, r in mine if r.error is None and len(r.embeddings) == 1]
                pieces, vectors = [p for p, _ in done], [r.embeddings[0].vector for _, r in done]
                writes.append((file, pieces, vectors, True))
                continue
            problems = [
                f"{_where(p)}{describe(r.error)}"
                if r.error is not None
                else f"{_where(p)}{len(r.embeddings)} vectors, expected 1"
                for p, r in mine
                if r.error is not None or len(r.embeddings) != 1
            ]
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                self._fail(file, problems[0] + more)
                continue
            pieces, vectors = [p for p, _ in mine], [r.embeddings[0].vector for _, r in mine]
            writes.append((file, pieces, vectors, False))
        self._write_many([(f, p, v) for f, p, v, _ in writes])
        for file, _, _, partial in writes:
            if partial:
                self._partial(file)
            elif file.read_all:
                self._complete(file)
        if isinstance(daily, DailyQuotaExceededError):
            raise _DailyStop(daily)

    def _embed_as_job(self, window: _Window, pending: PendingBatchJob) -> None:
        assert isinstance(self.embedder, GeminiEmbedder)
        inputs = [value for _, _, value in window.items]
        titles: list[str | None] = [f.plan.title for f, _, _ in window.items]
        files = window.files
        key = fingerprint(
            [(f.source, f.plan.sha256, sum(1 for g, _, _ in window.items if g is f)) for f in files]
        )
        job = pending.resume(self.embedder, key) or pending.submit(
            self.embedder, key, inputs, titles
        )
        self.report.batch_job = job.name
        job.wait(poll_interval=pending.poll_interval, progress=pending.progress)
        results = job.results()  # raises BatchJobError if the job failed or expired
        for file in files:
            file.read_all = True
        self._store_window(window, results)
        pending.forget()

    def _embed_timed(self, plan: FilePlan, timed: TimedMedia, todo: Todo) -> None:
        """A video or audio file: cut into segments and embedded by the embedder (one
        call), one piece per segment."""
        file = _File(plan, todo.pieces, todo.read_ns, read_all=True)
        try:
            segments = self._segments(timed)
        except FATAL_ERRORS:
            raise
        except DailyQuotaExceededError as exc:
            # The segments embedded so far are in the cache; the file is stored next time.
            self._count()
            self._drop(plan.file.source)
            raise _DailyStop(exc) from exc
        except Exception as exc:  # corrupt or undecodable media must not stop the run
            self._count()
            self._fail(file, describe(exc))
            return
        self._count()
        if not segments:
            self._fail(file, f"the service returned no {timed.modality} segments")
            return
        spans = [(s.start_offset_sec or 0.0, s.end_offset_sec or 0.0) for s in segments]
        pieces = timed_pieces(plan.file.source, plan.title, timed.modality, spans)
        self._write(file, pieces, [s.vector for s in segments])
        if not file.failed:
            self._complete(file)

    def _segments(self, timed: TimedMedia) -> list[Embedding]:
        task = Task.RETRIEVAL_DOCUMENT
        if timed.modality == "video":
            clips = VideoSegmentConfig(interval_sec=self.video_interval_sec)
            [segments] = self.embedder.embed_videos([timed.media], clips, task=task)
        else:
            windows = audio_segment_config(self.caps)
            [segments] = self.embedder.embed_audios([timed.media], windows, task=task)
        return segments

    def _count(self) -> None:
        stats = self.embedder.last_stats
        self.report.requests += stats.requests
        self.report.cache_hits += stats.cache_hits

    # --- bookkeeping ---------------------------------------------------------------------

    def _write(self, file: _File, pieces: Sequence[Piece], vectors: Sequence[list[float]]) -> None:
        self._write_many([(file, pieces, vectors)])

    def _write_many(
        self, writes: Sequence[tuple[_File, Sequence[Piece], Sequence[list[float]]]]
    ) -> None:
        """Write the pieces of several files in one go. Before a file's first pieces, its
        entry leaves the manifest (saved, once for all of them) and its old points go."""
        starting = [f for f, _, _ in writes if not f.started]
        if starting:
            if any([self.manifest.files.pop(f.source, None) is not None for f in starting]):
                self.store.save_manifest()
            self.store.delete_sources([f.source for f in starting])
            for file in starting:
                file.started = True
        batches = [(f.source, f.plan.sha256, p, v) for f, p, v in writes if p]
        try:
            self.store.add_many(batches)
        except OmniEmbedError as exc:
            if len(writes) > 1:  # find the file the store refuses; keep the others
                for one in writes:
                    self._write_many([one])
                return
            self._fail(writes[0][0], describe(exc))
            return
        for file, pieces, _ in writes:
            file.written += len(pieces)
            self.report.pieces += len(pieces)
        assert self.bar is not None
        self.bar.advance(sum(len(p) for _, p, _ in writes))

    def _complete(self, file: _File) -> None:
        if file.failed:
            return
        plan = file.plan
        self.manifest.files[file.source] = FileEntry(
            plan.sha256,
            plan.file.size,
            plan.file.mtime_ns,
            file.written,
            self.plan_key,
            file.read_ns,
        )
        self.report.indexed.append(file.source)

    def _partial(self, file: _File) -> None:
        """A file the daily quota cut off midway: keep the pieces it got, marked partial so
        the next run embeds the file again (the cache answers these pieces then)."""
        if file.failed:
            return
        source = file.source
        if not file.written:
            self._drop(source)  # an older version's points are stale now
            return
        plan = file.plan
        self.manifest.files[source] = FileEntry(
            plan.sha256, plan.file.size, plan.file.mtime_ns, file.written, PARTIAL, file.read_ns
        )
        reason = f"{file.written} of {file.pieces} pieces (the daily quota ran out)"
        self.report.partial.append(FileIssue(source, reason))

    def _discard(self, file: _File) -> None:
        """Take ``file``'s pieces out of the window being filled."""
        self.window.items = [i for i in self.window.items if i[0] is not file]

    def _fail(self, file: _File, reason: str) -> None:
        if file.failed:
            return
        file.failed = True
        self._discard(file)
        self._fail_source(file.source, reason)

    def _fail_source(self, source: str, reason: str) -> None:
        # The file's old version (if any) is stale now: its points must not answer.
        self._drop(source)
        logger.info("not indexed: %s: %s", source, reason)  # the report lists it
        self.report.failed.append(FileIssue(source, reason))

    def _drop(self, source: str) -> None:
        # Also when the manifest does not know the file: a killed run may have written
        # its points without the entry.
        if self.manifest.files.pop(source, None) is not None:
            self.store.save_manifest()
        self.store.delete_source(source)


def _where(piece: Piece) -> str:
    if piece.page is not None:
        return f"page {piece.page}: "
    return f"piece {piece.ordinal + 1}: " if piece.ordinal else ""
