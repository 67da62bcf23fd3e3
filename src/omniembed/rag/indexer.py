"""`index_folder`: embed a folder into a store, resumably.

Resume design: vectors land in the runtime's SQLite cache as each request finishes, and a
file's points plus its manifest entry are written as soon as its group of files is
embedded. A re-run skips files whose manifest entry matches (size and mtime, else content
hash), and the cache answers everything a killed run had already paid for, so nothing is
embedded twice. Groups start at one file and double (to ``max_group_files``): the first
files are stored within a request's time, and later groups are large enough for the
runtime to batch and parallelize.

Before any request, a survey pass hashes and plans every changed file and estimates the
work locally (`Embedder.estimate`): pieces, requests, tokens, the time the quota implies
and the price (`IndexPlan`; a dry run stops there). A daily quota running out stops the
run at once (`IndexPausedError`): files embedded so far are in the store, a file cut off
midway keeps the pieces it got (its manifest entry says it is partial), and the cache
holds every vector paid for, so the same command after the reset sends only the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    DailyQuotaExceededError,
    InputError,
    InvalidParameterError,
    MissingCredentialsError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    QuotaExceededError,
)
from ..media import Media
from ..providers.base import Embedder
from ..providers.estimate import Estimate
from ..providers.estimate import format_duration as duration
from ..providers.gemini import GeminiEmbedder
from ..providers.gemini_batch import GeminiBatchJob
from ..runtime.quota import QuotaLimits, minimum_seconds
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
from .store import CACHE_NAME, ReadOnlyCache, Store, check_same_model

logger = logging.getLogger("omniembed.rag")

#: Errors every further request would repeat: stop the run instead of failing each file.
FATAL_ERRORS = (AuthenticationError, PermissionDeniedError, NotFoundError, MissingCredentialsError)
#: The manifest's plan fingerprint for a file a daily quota cut off midway: it never matches
#: a real plan, so the next run embeds the file again (the cache answers what it got).
PARTIAL = "partial"
#: Files per group at most (groups start at one file and double), and pieces per group.
MAX_GROUP_FILES = 32
MAX_GROUP_PIECES = 256  # bounds memory (rendered pages) and the work lost to a kill


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
    #: Files a daily quota cut off midway: their embedded pieces are in the store.
    partial: list[FileIssue] = field(default_factory=list)

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
        lines += [f"  partial {i.source}: {i.reason}" for i in self.partial]
        return "\n".join(lines)


@dataclass(frozen=True)
class IndexPlan:
    """What an indexing run has to do, worked out locally before any request (the survey
    pass of `index_folder`, and all of `plan_folder`)."""

    provider: str
    model: str
    #: Files (and their pieces) to embed; video pieces are counted from the videos' length.
    files: int
    pieces: int
    #: Files already in the store as they are, and their pieces.
    unchanged_files: int
    unchanged_pieces: int
    skipped: int
    #: Files that cannot be read or cut into pieces (the run lists them as failed).
    unreadable: int
    #: Videos among ``files``: cut into clips only when indexing, so not in ``estimate``.
    videos: int
    video_pieces: int
    #: The quota the run works under.
    quota: QuotaLimits
    #: Requests, tokens, time and price for the pieces other than video segments (None
    #: when there are none).
    estimate: Estimate | None

    @property
    def total_pieces(self) -> int:
        """The folder's pieces: those in the store already and those to embed."""
        return self.unchanged_pieces + self.pieces

    def header(self) -> str:
        """Two lines for the start of a run: the quota, and what there is to do, with an
        ETA."""
        return (
            f"quota: {self.quota.describe()}\n"
            f"to index: {_count(self.pieces, 'piece')} in {_count(self.files, 'file')} "
            f"({self.unchanged_files} unchanged); ETA: {self._eta()}"
        )

    def describe(self) -> str:
        """A dry run's report: pieces, requests, tokens, quota, time, price."""
        lines = ["dry run: nothing sent, nothing written"]
        others = [f"{self.unchanged_files} unchanged", f"{self.skipped} skipped"]
        if self.unreadable:
            others.append(f"{self.unreadable} unreadable")
        if self.files:
            todo = f"{self.pieces} to embed in {_count(self.files, 'file')}"
        else:
            todo, others[0] = "none to embed", f"{_count(self.unchanged_files, 'file')} unchanged"
        lines.append(f"pieces: {todo} ({', '.join(others)})")
        e = self.estimate
        if e is not None:
            lines += [
                f"requests: {e.requests} ({e.quota_requests} as the quota counts them); "
                f"{e.cached} pieces from the cache",
                f"tokens: about {e.tokens:,} (estimated locally)",
            ]
        lines.append(f"quota: {self.quota.describe()}")
        if e is not None:
            lines.append(f"time the quota implies: {self._time()}")
            if e.days > 1 and self.quota.requests_per_day is not None:
                lines.append(
                    f"daily quota: {e.days} days' worth ({self.quota.requests_per_day:,.0f} "
                    "requests/day): each run stops at the day's cap; run it again after the reset"
                )
            if e.price_usd is not None:
                batch = (
                    f", ${e.batch_price_usd:.4f} as a batch job"
                    if e.batch_price_usd is not None
                    else ", no batch job price"
                )
                lines.append(f"price: ${e.price_usd:.4f} interactive{batch} (estimated)")
            else:
                lines.append(f"price: not known for {self.model} here")
        if self.videos:
            lines.append(
                f"videos: {_count(self.videos, 'file')}, about "
                f"{_count(self.video_pieces, 'segment')} (cut into clips when indexing; not "
                "in the figures above)"
            )
        return "\n".join(lines)

    def _time(self) -> str:
        e = self.estimate
        if e is None or e.seconds is None:
            return "unknown (no per-minute quota known: paced by the service's 429 answers)"
        if e.seconds < 1:
            return "none (it fits one minute's allowance)"
        return f"at least {duration(e.seconds)}"

    def _eta(self) -> str:
        e = self.estimate
        if e is None:
            text = "unknown"
        elif e.seconds is None:
            text = "unknown (no per-minute quota known)"
        elif e.seconds < 1:
            text = "no wait for the quota"
        else:
            text = f"at least {duration(e.seconds)} (the time the quota implies)"
        if e is not None and e.days > 1 and self.quota.requests_per_day is not None:
            text += (
                f"; needs {e.days} days of the daily quota "
                f"({self.quota.requests_per_day:,.0f} requests/day): the run stops at the cap"
            )
        if self.videos:
            text += f"; plus {_count(self.videos, 'video')}, not in the estimate"
        return text


class IndexPausedError(DailyQuotaExceededError):
    """`index_folder` stopped at a daily quota. What got embedded is in the store (``report``
    says what this run did) and in the cache, so the same call after ``resets_at`` sends
    only the rest. ``indexed_pieces`` of the folder's ``total_pieces`` are in the store.
    """

    def __init__(self, cause: DailyQuotaExceededError, report: IndexReport, plan: IndexPlan):
        super().__init__(
            cause.message,
            resets_at=cause.resets_at,
            quota_id=cause.quota_id,
            limit=cause.limit,
            violations=cause.violations,
            status_code=cause.status_code,
            status=cause.status,
            provider=cause.provider,
        )
        self.report = report
        self.plan = plan
        self.indexed_pieces = plan.unchanged_pieces + report.pieces
        self.total_pieces = max(plan.total_pieces, self.indexed_pieces)

    def __str__(self) -> str:
        if self.limit is not None:
            quota = f"{self.limit:,.0f} requests"
        else:
            quota = self.quota_id or "its limit not stated"
        return (
            f"{self.indexed_pieces} of {self.total_pieces} pieces indexed; the daily quota "
            f"({quota}) resets at {self.resets_at.astimezone():%H:%M} local time; run the "
            "same command again then"
        )


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
    max_group_files: int = MAX_GROUP_FILES,
    batch_job: bool = False,
    batch_poll_interval: float = 10.0,
    progress: bool = True,
    on_plan: Callable[[IndexPlan], None] | None = None,
) -> IndexReport:
    """Index the files under ``path`` into the store in ``store_dir``.

    ``provider`` is ``gemini`` (Gemini API), ``vertex`` (Vertex AI; default model
    multimodalembedding@001, or a Gemini embedding model) or ``dashscope``; an existing
    store keeps its provider and model when they are not given. Credentials come from the
    arguments or the environment (``GEMINI_API_KEY``, ``GOOGLE_CLOUD_PROJECT`` + ADC or
    ``GOOGLE_ACCESS_TOKEN``, ``DASHSCOPE_API_KEY``); with ``base_url`` and none, a
    placeholder key is sent. Per-file problems are reported in the `IndexReport`, never
    raised; bad credentials, an unknown model or a bad setting raise.

    The quota: ``tier`` (``"free"``, ``"tier1"``, ``"tier2"``, ``"tier3"``, ``"default"``;
    default: the provider's own default) fills the published figures, and
    ``requests_per_minute`` (in the service's unit), ``tokens_per_minute`` and
    ``requests_per_day`` replace them (``0`` drops one). ``on_plan`` gets the `IndexPlan`
    (the quota, pieces, an ETA) before the first request. A long wait for the quota is
    written above the progress bar (``progress``) or logged. When a daily quota runs out
    the run stops with `IndexPausedError`: what got embedded is kept, and the same call
    after the reset sends only the rest.

    ``batch_job=True`` (Gemini API only) embeds every changed file except videos in one
    Gemini batch job — cheaper, but it can take hours. The job's name is kept in the store,
    so a run that is interrupted while waiting picks the same job up again.
    """
    root, directory = _check(path, store_dir, video_interval_sec, max_group_files)
    settings = _settings(directory, provider, model, dimension, project, location)
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
        quota_notice=_notice(progress),
    )
    try:
        caps = _capabilities(embedder, settings, video_interval_sec)
        with Store.create(directory, settings, root) as store:
            run = _Run(store, embedder, caps, settings, video_interval_sec, max_group_files)
            if batch_job:
                run.use_batch_job(progress, batch_poll_interval)
            plan = run.index(walk(root, exclude=[directory]), progress, on_plan)
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
            survey = _Survey(embedder, caps, settings, video_interval_sec, known, MAX_GROUP_FILES)
            survey.run(walk(root, exclude=[directory]), progress)
            return survey.plan()
        finally:
            close_embedder(embedder)
    finally:
        if cache is not None:
            cache.close()


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


def _notice(progress: bool) -> Callable[[str], None]:
    """Where a long wait for the quota is told: above the progress bar, else the log."""
    if progress:
        return lambda message: tqdm.write(f"omniembed: {message}", file=sys.stderr)
    return lambda message: logger.info("%s", message)


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


def _plan_key(caps: Capabilities, video_interval_sec: float) -> str:
    # Pieces depend on these settings too: changing them re-indexes the files.
    shape = (caps.text_chars, caps.fused_pages, caps.images, PAGE_DPI, PAGE_MAX_SIDE)
    return _fingerprint(*shape, video_interval_sec)


@dataclass(frozen=True)
class _Todo:
    """A file to embed: new, changed, or cut off by a daily quota last time."""

    file: SourceFile
    sha256: str


class _Survey:
    """The pass before any request: which files are unchanged, skipped, unreadable or to
    embed, their pieces, and the local estimate of the work (nothing is written). Files are
    estimated in the groups the run will embed them in, so the requests are the run's."""

    def __init__(
        self,
        embedder: Embedder,
        caps: Capabilities,
        settings: EmbedderSettings,
        video_interval_sec: float,
        known: Mapping[str, FileEntry],
        max_group_files: int,
    ):
        self.embedder = embedder
        self.caps = caps
        self.settings = settings
        self.video_interval_sec = video_interval_sec
        self.known = known
        self.plan_key = _plan_key(caps, video_interval_sec)
        self.unchanged: list[SourceFile] = []
        self.touched: list[tuple[SourceFile, FileEntry]] = []
        self.skipped: list[FileIssue] = []
        self.failed: list[FileIssue] = []
        self.todo: list[_Todo] = []
        self.unchanged_pieces = 0
        self.pieces = 0
        self.videos = 0
        self.video_pieces = 0
        self._estimates: list[Estimate] = []
        self._pending: list[FilePlan] = []
        self._group_target = 1
        self._max_group_files = max_group_files

    def run(self, files: Sequence[SourceFile], progress: bool) -> None:
        bar = tqdm(files, desc="planning", unit="file", file=sys.stderr, disable=not progress)
        try:
            for file in bar:
                self._visit(file)
            self._estimate()
        finally:
            bar.close()

    def _visit(self, file: SourceFile) -> None:
        entry = self.known.get(file.source)
        current = entry is not None and entry.plan == self.plan_key
        if (
            current
            and entry is not None
            and (entry.size, entry.mtime_ns)
            == (
                file.size,
                file.mtime_ns,
            )
        ):
            self.unchanged.append(file)
            self.unchanged_pieces += entry.pieces
            return
        try:
            sha256 = file.sha256()
        except OSError as exc:
            self.failed.append(FileIssue(file.source, f"cannot be read ({exc.strerror or exc})"))
            return
        if current and entry is not None and entry.sha256 == sha256:
            # Touched, not changed: remember the new stat so the next run skips hashing.
            touched = FileEntry(sha256, file.size, file.mtime_ns, entry.pieces, entry.plan)
            self.touched.append((file, touched))
            self.unchanged_pieces += entry.pieces
            return
        try:
            plan = plan_file(file, self.caps, self.settings.model, sha256)
        except Skip as skip:
            self.skipped.append(FileIssue(file.source, str(skip)))
            return
        except Exception as exc:  # a corrupt or unreadable file must not stop the run
            self.failed.append(FileIssue(file.source, _describe(exc)))
            return
        self.todo.append(_Todo(file, sha256))
        if plan.video is not None:
            self.videos += 1
            segments = _video_segments(plan.video, self.video_interval_sec)
            self.video_pieces += segments
            self.pieces += segments
            return
        self.pieces += len(plan.pieces)
        self._pending.append(plan)
        pieces = sum(len(p.pieces) for p in self._pending)
        if len(self._pending) >= self._group_target or pieces >= MAX_GROUP_PIECES:
            self._estimate()
            self._group_target = min(self._group_target * 2, self._max_group_files)

    def _estimate(self) -> None:
        """Estimate the pending files together (as the run will batch them); a file the
        provider rejects locally is left out (the run reports it as failed)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            self._estimates.append(self._estimate_files(pending))
        except (InputError, QuotaExceededError):
            for plan in pending:
                try:
                    self._estimates.append(self._estimate_files([plan]))
                except (InputError, QuotaExceededError):
                    continue

    def _estimate_files(self, plans: Sequence[FilePlan]) -> Estimate:
        inputs = [value for plan in plans for value in plan.inputs]
        titles: list[str | None] = [plan.title for plan in plans for _ in plan.inputs]
        return self.embedder.estimate(inputs, Task.RETRIEVAL_DOCUMENT, titles=titles)

    def plan(self) -> IndexPlan:
        quota = self.embedder.quota
        return IndexPlan(
            provider=self.settings.provider,
            model=self.settings.model,
            files=len(self.todo),
            pieces=self.pieces,
            unchanged_files=len(self.unchanged) + len(self.touched),
            unchanged_pieces=self.unchanged_pieces,
            skipped=len(self.skipped),
            unreadable=len(self.failed),
            videos=self.videos,
            video_pieces=self.video_pieces,
            quota=quota.limits,
            estimate=_combine(self._estimates, quota.limits, quota.window_sec),
        )


def _video_segments(video: Media, interval_sec: float) -> int:
    """How many segments a video will yield (from its header; 1 when unknown)."""
    from ..probe import media_duration_sec
    from ..video import windows

    try:
        seconds = media_duration_sec(video)
    except Exception:
        return 1
    return max(1, len(windows(seconds, 0.0, None, interval_sec)))


def _combine(
    estimates: Sequence[Estimate], limits: QuotaLimits, window_sec: float
) -> Estimate | None:
    """One `Estimate` for several consecutive ones: counts, tokens and prices add up; the
    time is the quota's bound for all their requests in a row (each chunk's requests taken
    as equal shares of its inputs and tokens)."""
    if not estimates:
        return None
    if len(estimates) == 1:
        return estimates[0]
    calls: list[tuple[int, int]] = []
    for e in estimates:
        items = e.quota_requests if limits.unit == "item" else e.inputs - e.cached
        calls += [
            (_part(items, e.requests, i), _part(e.tokens, e.requests, i)) for i in range(e.requests)
        ]
    seconds = None
    if limits.requests_per_minute is not None or limits.tokens_per_minute is not None:
        try:
            seconds = minimum_seconds(calls, limits, window_sec)
        except QuotaExceededError:
            seconds = None
    quota_requests = sum(e.quota_requests for e in estimates)
    days = 1
    if limits.requests_per_day is not None and quota_requests:
        days = max(1, math.ceil(quota_requests / limits.requests_per_day))
    prices = [e.price_usd for e in estimates]
    batch_prices = [e.batch_price_usd for e in estimates]
    return Estimate(
        inputs=sum(e.inputs for e in estimates),
        cached=sum(e.cached for e in estimates),
        requests=sum(e.requests for e in estimates),
        quota_requests=quota_requests,
        tokens=sum(e.tokens for e in estimates),
        seconds=seconds,
        days=days,
        price_usd=None if None in prices else sum(p for p in prices if p is not None),
        batch_price_usd=(
            None if None in batch_prices else sum(p for p in batch_prices if p is not None)
        ),
        limits=limits,
        price_source=estimates[0].price_source,
    )


def _part(total: int, parts: int, index: int) -> int:
    """The ``index``-th of ``parts`` near-equal integer shares of ``total``."""
    return total // parts + (1 if index < total % parts else 0)


class _DailyStop(Exception):
    """Internal: a daily quota ran out; the run stops here."""

    def __init__(self, error: DailyQuotaExceededError):
        super().__init__(str(error))
        self.error = error


class _Run:
    """One indexing run's state: the pending group, the report, the manifest updates."""

    max_group_pieces = MAX_GROUP_PIECES

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
        self.plan_key = _plan_key(caps, video_interval_sec)
        self.group: list[FilePlan] = []
        self.group_target = 1
        self.bar: tqdm[Any] | None = None
        self.batch_job: PendingBatchJob | None = None
        #: The daily-quota error that stopped the run, if one did.
        self.stopped: DailyQuotaExceededError | None = None

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

    def index(
        self,
        files: Sequence[SourceFile],
        progress: bool,
        on_plan: Callable[[IndexPlan], None] | None = None,
    ) -> IndexPlan:
        present = {f.source for f in files}
        for source in sorted(set(self.manifest.files) - present):
            self.store.delete_source(source)
            del self.manifest.files[source]
            self.report.removed.append(source)
        self.store.save_manifest()
        survey = _Survey(
            self.embedder,
            self.caps,
            self.settings,
            self.video_interval_sec,
            self.manifest.files,
            self.max_group_files,
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
        for issue in survey.skipped:
            self._drop(issue.source)
            self.report.skipped.append(issue)
        for issue in survey.failed:
            self._fail(issue.source, issue.reason)
        self.store.save_manifest()
        self.bar = tqdm(
            total=len(survey.todo),
            desc="indexing",
            unit="file",
            file=sys.stderr,
            disable=not progress,
        )
        try:
            for todo in survey.todo:
                self._visit(todo)
            self._flush()
        except _DailyStop as stop:
            self.stopped = stop.error
            self.store.save_manifest()
        finally:
            self.bar.close()
        return plan

    def _visit(self, todo: _Todo) -> None:
        assert self.bar is not None
        file = todo.file
        try:
            plan = plan_file(file, self.caps, self.settings.model, todo.sha256)
        except Skip as skip:  # changed since the survey
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
        except DailyQuotaExceededError as exc:  # not expected with raise_on_error=False
            self._count()
            if len(exc.results) != len(inputs):
                raise _DailyStop(exc) from exc
            results = exc.results
        except Exception as exc:
            if len(group) > 1:  # find the file that broke the call; keep the others
                for plan in group:
                    self._embed_group([plan])
                return
            self._count()
            self._fail(group[0].file.source, _describe(exc))
            return
        else:
            self._count()
        daily = next(
            (r.error for r in results if isinstance(r.error, DailyQuotaExceededError)), None
        )
        cursor = 0
        for plan in group:
            mine = results[cursor : cursor + len(plan.inputs)]
            cursor += len(plan.inputs)
            if any(isinstance(r.error, DailyQuotaExceededError) for r in mine):
                self._store_partial(plan, mine)
            else:
                self._store_results(plan, mine)
        if isinstance(daily, DailyQuotaExceededError):
            raise _DailyStop(daily)

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

    def _store_partial(self, plan: FilePlan, results: Sequence[EmbeddingResult]) -> None:
        """A file the daily quota cut off midway: store the pieces it got, marked partial so
        the next run embeds the file again (the cache answers these pieces then)."""
        done = [
            (piece, result.embeddings[0].vector)
            for piece, result in zip(plan.pieces, results, strict=True)
            if result.error is None and len(result.embeddings) == 1
        ]
        source = plan.file.source
        if not done:
            self._drop(source)  # an older version's points are stale now
            return
        try:
            self.store.replace_file(source, plan.sha256, [p for p, _ in done], [v for _, v in done])
        except OmniEmbedError as exc:
            self._fail(source, _describe(exc))
            return
        self.manifest.files[source] = FileEntry(
            plan.sha256, plan.file.size, plan.file.mtime_ns, len(done), PARTIAL
        )
        self.report.pieces += len(done)
        reason = f"{len(done)} of {len(plan.pieces)} pieces (the daily quota ran out)"
        self.report.partial.append(FileIssue(source, reason))

    def _embed_video(self, plan: FilePlan) -> None:
        assert plan.video is not None
        config = VideoSegmentConfig(interval_sec=self.video_interval_sec)
        try:
            [segments] = self.embedder.embed_videos(
                [plan.video], config, task=Task.RETRIEVAL_DOCUMENT
            )
        except FATAL_ERRORS:
            raise
        except DailyQuotaExceededError as exc:
            # The clips embedded so far are in the cache; the video is stored next time.
            self._count()
            self._drop(plan.file.source)
            raise _DailyStop(exc) from exc
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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
