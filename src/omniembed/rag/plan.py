"""The survey before an indexing run: what there is to embed, and what it will cost.

Before any request, `Survey` hashes every file whose size or mtime changed, reads each file
to embed once to count its pieces (streaming: a 100 MB text is never held whole) and
estimates the work locally (`Embedder.estimate`) in the calls the run will make
(`Windows`): pieces, requests, tokens, the time the quota implies and the price. The
result is an `IndexPlan`; a dry run stops there.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from ..errors import InputError, OmniEmbedError, QuotaExceededError
from ..media import Media
from ..providers.base import Embedder
from ..providers.estimate import Estimate
from ..providers.estimate import format_duration as duration
from ..runtime.quota import QuotaLimits, minimum_seconds
from ..tasks import Task
from .corpus import (
    PAGE_DPI,
    PAGE_MAX_SIDE,
    EmbedInput,
    Skip,
    SourceFile,
    TimedMedia,
    audio_segment_config,
    plan_file,
)
from .embedders import Capabilities, EmbedderSettings
from .manifest import FileEntry
from .report import FileIssue

#: Pieces per embedding call at most: bounds memory (vectors, rendered pages) and the work
#: a kill loses; enough for the runtime to keep several requests in flight.
MAX_WINDOW_PIECES = 512
#: File systems keep mtimes to 1 ns … 2 s: a file changed within this of its last check can
#: keep its stat, so its content is hashed again ("racy" stat, as git calls it).
STAT_TICK_NS = 2_000_000_000


@dataclass(frozen=True)
class IndexPlan:
    """What an indexing run has to do, worked out locally before any request (the survey
    pass of `index_folder`, and all of `plan_folder`)."""

    provider: str
    model: str
    #: Files (and their pieces) to embed; video and audio pieces are counted from the
    #: files' length.
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
    #: Requests, tokens, time and price for the pieces other than video and audio segments
    #: (None when there are none).
    estimate: Estimate | None
    #: Audio files among ``files``: cut into windows only when indexing, so not in
    #: ``estimate`` either.
    audios: int = 0
    audio_pieces: int = 0

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
        for label, files, pieces, how in (
            ("videos", self.videos, self.video_pieces, "clips"),
            ("audio", self.audios, self.audio_pieces, "windows"),
        ):
            if files:
                lines.append(
                    f"{label}: {_count(files, 'file')}, about {_count(pieces, 'segment')} "
                    f"(cut into {how} when indexing; not in the figures above)"
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
        timed = [_count(self.videos, "video")] if self.videos else []
        if self.audios:
            timed.append(_count(self.audios, "audio file"))
        if timed:
            text += f"; plus {' and '.join(timed)}, not in the estimate"
        return text


def plan_key(caps: Capabilities, video_interval_sec: float) -> str:
    # Pieces depend on these settings too: changing them re-indexes the files.
    shape = (caps.text_chars, caps.fused_pages, caps.images, PAGE_DPI, PAGE_MAX_SIDE)
    # Only models that hear audio have audio pieces: the others' stores keep their keys.
    audio = ("audio windows", caps.audio_window_sec) if caps.audio else ()
    return fingerprint(*shape, video_interval_sec, *audio)


@dataclass(frozen=True)
class Todo:
    """A file to embed: new, changed, or cut off by a daily quota last time."""

    file: SourceFile
    sha256: str
    #: Its pieces as the survey counted them (a video's or an audio's: an estimate from
    #: its length).
    pieces: int = 0
    #: When its content was read (hashed): its stat is trusted next time only if it was
    #: last modified well before that.
    read_ns: int = 0


class Windows:
    """How a run cuts its stream of pieces into embedding calls: the first call takes one
    file (so the first files are stored within a request's time), each next one twice as
    many files up to ``max_files``, and never more than ``max_pieces`` pieces — a large
    file spans several calls, so memory stays bounded whatever its size. The survey cuts
    the same way, so its estimate counts the run's requests."""

    def __init__(self, max_files: int, max_pieces: int = MAX_WINDOW_PIECES):
        self.max_files = max_files
        self.max_pieces = max_pieces
        self.files = 1

    def full(self, pieces: int, files: int | None = None) -> bool:
        """Whether a call of ``pieces`` is to go now: mid-file only when it has the most
        pieces a call takes; after a file's last piece (``files`` complete files in the
        call) also when it has the files this call is to take."""
        return pieces >= self.max_pieces or (files is not None and files >= self.files)

    def advance(self) -> None:
        self.files = min(self.files * 2, self.max_files)


class Survey:
    """The pass before any request: which files are unchanged, skipped, unreadable or to
    embed, how many pieces they make, and the local estimate of the work (nothing is
    written, and no file is held in memory whole)."""

    def __init__(
        self,
        embedder: Embedder,
        caps: Capabilities,
        settings: EmbedderSettings,
        video_interval_sec: float,
        known: Mapping[str, FileEntry],
        max_group_files: int,
        verify: bool = False,
    ):
        self.verify = verify
        self.embedder = embedder
        self.caps = caps
        self.settings = settings
        self.video_interval_sec = video_interval_sec
        self.known = known
        self.plan_key = plan_key(caps, video_interval_sec)
        self.unchanged: list[SourceFile] = []
        self.touched: list[tuple[SourceFile, FileEntry]] = []
        self.skipped: list[FileIssue] = []
        self.failed: list[FileIssue] = []
        self.todo: list[Todo] = []
        self.unchanged_pieces = 0
        self.pieces = 0
        #: Timed files to embed and their estimated segments, by modality.
        self.timed_files = {"video": 0, "audio": 0}
        self.timed_pieces = {"video": 0, "audio": 0}
        self._estimates: list[Estimate] = []
        self._windows = Windows(max_group_files)
        #: The current window: its inputs with their titles, and which file each is of.
        self._inputs: list[EmbedInput] = []
        self._titles: list[str | None] = []
        self._owners: list[str] = []
        self._files = 0

    def run(self, files: Sequence[SourceFile], progress: bool) -> None:
        bar = tqdm(
            total=sum(f.size for f in files),
            desc="planning",
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            disable=not progress,
        )
        try:
            for file in files:
                read = 0

                def advance(n: int) -> None:
                    nonlocal read
                    read += n
                    bar.update(n)

                self._visit(file, advance)
                bar.update(max(0, file.size - read))
            self._estimate()
        finally:
            bar.close()

    def _visit(self, file: SourceFile, on_bytes: Callable[[int], None]) -> None:
        if file.outside:
            reason = "a link to outside the folder (pass follow_links=True to index it)"
            self.skipped.append(FileIssue(file.source, reason))
            return
        entry = self.known.get(file.source)
        current = entry is not None and entry.plan == self.plan_key
        if (
            entry is not None
            and current
            and not self.verify
            and (entry.size, entry.mtime_ns) == (file.size, file.mtime_ns)
            and file.mtime_ns < entry.checked_ns - STAT_TICK_NS
        ):
            self.unchanged.append(file)
            self.unchanged_pieces += entry.pieces
            return
        read_ns = time.time_ns()
        try:
            sha256 = file.sha256()
        except OSError as exc:
            self.failed.append(FileIssue(file.source, f"cannot be read ({exc.strerror or exc})"))
            return
        if entry is not None and current and entry.sha256 == sha256:
            # Touched, not changed: remember the new stat so the next run skips hashing.
            touched = FileEntry(sha256, file.size, file.mtime_ns, entry.pieces, entry.plan, read_ns)
            self.touched.append((file, touched))
            self.unchanged_pieces += entry.pieces
            return
        try:
            plan = plan_file(file, self.caps, self.settings.model, sha256)
            segments = self._segments(plan.timed) if plan.timed is not None else 0
        except Skip as skip:
            self.skipped.append(FileIssue(file.source, str(skip)))
            return
        except Exception as exc:  # a corrupt or unreadable file must not stop the run
            self.failed.append(FileIssue(file.source, describe(exc)))
            return
        if plan.timed is not None:
            self.todo.append(Todo(file, sha256, segments, read_ns))
            self.timed_files[plan.timed.modality] += 1
            self.timed_pieces[plan.timed.modality] += segments
            self.pieces += segments
            return
        mark = len(self._inputs)
        count = 0
        try:
            for _piece, value in plan.items(on_bytes):
                self._inputs.append(value)
                self._titles.append(plan.title)
                self._owners.append(file.source)
                count += 1
                if self._windows.full(len(self._inputs)):
                    self._estimate()
                    mark = 0
        except Skip as skip:
            self.skipped.append(FileIssue(file.source, str(skip)))
            return
        except Exception as exc:  # a corrupt or unreadable file must not stop the run
            del self._inputs[mark:], self._titles[mark:], self._owners[mark:]
            self.failed.append(FileIssue(file.source, describe(exc)))
            return
        self.todo.append(Todo(file, sha256, count, read_ns))
        self.pieces += count
        self._files += 1
        if self._windows.full(len(self._inputs), self._files):
            self._estimate()

    def _segments(self, timed: TimedMedia) -> int:
        """How many segments a video or audio will be cut into, from its length. An audio
        that cannot be opened or decoded raises (it cannot be cut: the run reports it as
        failed); a video's header not saying its length counts as one segment."""
        if timed.modality == "video":
            return _video_segments(timed.media, self.video_interval_sec)
        from ..media.audio import audio_duration_sec, audio_windows

        config = audio_segment_config(self.caps)
        assert config.window_sec is not None
        seconds = audio_duration_sec(timed.media)
        return len(audio_windows(seconds, config, config.window_sec))

    def _estimate(self) -> None:
        """Estimate the current window as the run will send it; inputs the provider
        rejects locally are estimated file by file, leaving out the file that breaks (the
        run reports it as failed)."""
        inputs, titles, owners = self._inputs, self._titles, self._owners
        self._inputs, self._titles, self._owners = [], [], []
        self._files = 0
        if not inputs:
            return
        self._windows.advance()
        try:
            self._estimates.append(
                self.embedder.estimate(inputs, Task.RETRIEVAL_DOCUMENT, titles=titles)
            )
        except (InputError, QuotaExceededError):
            for source in dict.fromkeys(owners):
                mine = [i for i, owner in enumerate(owners) if owner == source]
                try:
                    self._estimates.append(
                        self.embedder.estimate(
                            [inputs[i] for i in mine],
                            Task.RETRIEVAL_DOCUMENT,
                            titles=[titles[i] for i in mine],
                        )
                    )
                except (InputError, QuotaExceededError):
                    continue

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
            videos=self.timed_files["video"],
            video_pieces=self.timed_pieces["video"],
            quota=quota.limits,
            estimate=_combine(self._estimates, quota.limits, quota.window_sec),
            audios=self.timed_files["audio"],
            audio_pieces=self.timed_pieces["audio"],
        )


def _video_segments(video: Media, interval_sec: float) -> int:
    """How many segments a video will yield (from its header; 1 when unknown)."""
    from ..media.probe import media_duration_sec
    from ..media.video import windows

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


def describe(exc: BaseException) -> str:
    """The error without our call's input position (meaningless to the user)."""
    if isinstance(exc, InputError):
        return exc.detail
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, OmniEmbedError) else f"{type(exc).__name__}: {text}"


def fingerprint(*values: object) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:12]


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
