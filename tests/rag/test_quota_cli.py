"""`omniembed index` / `ask` under a quota, against the emulator: the flags, the quota and
ETA printed before work starts, `--dry-run` (nothing sent, nothing written, the figures as
docs/cli.md shows them), the daily cap end to end (message, exit code, what the store
holds, the re-run after the reset), and long quota waits that are not silent."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from omniembed.cli import main
from omniembed.emulator import Emulator
from omniembed.providers.quota_table import TIERS
from omniembed.rag import IndexPausedError, Store, index_folder
from omniembed.rag import embedders as rag_embedders
from omniembed.rag.commands import EXIT_QUOTA
from omniembed.rag.defaults import TIERS as CLI_TIERS
from omniembed.rag.quota import NoticeQuota
from omniembed.runtime import QuotaLimits

from .helpers import PROVIDER_OPTIONS, corpus, embedding_requests, request_text, run

DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
DAILY_MESSAGE = re.compile(
    r"^omniembed: (\d+) of (\d+) pieces indexed; the daily quota \(([\d,]+) requests\) "
    r"resets at (\d\d:\d\d) local time; run the same command again then$",
    re.M,
)


@pytest.fixture
def capped(emu: Emulator) -> Iterator[Emulator]:
    """The session emulator; per-model quotas the test sets are removed afterwards."""
    try:
        yield emu
    finally:
        emu.model_quotas = None
        emu.quota_window_sec = 60.0
        emu.reset_quotas()


def notes(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"note{n}.md").write_text(f"Note {n}: the ferry to pier {n} is marker{n}.\n")
    return folder


def docs_block(marker: str) -> str:
    page = DOCS.read_text("utf-8")
    return page.split(f"<!-- {marker} -->\n```text\n", 1)[1].split("```", 1)[0]


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_dry_run_sends_nothing_writes_nothing_and_prints_what_the_docs_show(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = corpus(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    # The options the page's command line shows.
    [shown] = re.findall(r"^\$ omniembed index my-folder --store \./store (.*--dry-run)$",
                         DOCS.read_text("utf-8"), re.M)  # fmt: skip
    code, out, _ = run(capsys, "index", str(folder), *base, *shown.split())
    assert code == 0
    assert emu.requests == []
    assert not store.exists()
    assert out == docs_block("dry-run-output")

    # After a real run the store exists; a dry run reads it (nothing left to embed) and
    # changes nothing in it.
    assert run(capsys, "index", str(folder), *base)[0] == 0
    (folder / "extra.md").write_text("A new note about the harbour master.\n")
    before = tree(store)
    emu.clear_requests()
    code, out, _ = run(capsys, "index", str(folder), *base, "--dry-run")
    assert code == 0 and emu.requests == []
    assert tree(store) == before
    assert "pieces: 1 to embed in 1 file (7 unchanged, 0 skipped)" in out
    assert "requests: 1 (1 as the quota counts them); 0 pieces from the cache" in out


def test_dry_run_needs_no_credentials_and_counts_cached_pieces(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder, store = notes(tmp_path / "notes", 3), tmp_path / "store"
    assert run(capsys, "index", str(folder), "--store", str(store),
               "--base-url", emu.base_url, "--quiet")[0] == 0  # fmt: skip
    (store / "manifest.json").write_text(
        json.dumps({**json.loads((store / "manifest.json").read_text()), "files": {}})
    )  # the store forgot the files; the cache still holds their vectors
    emu.clear_requests()
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # The real endpoint, no key: fine, nothing is sent (and the emulator's vectors in the
    # cache never answer for the real service).
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store), "--dry-run")
    assert code == 0, out
    assert "pieces: 3 to embed in 3 files" in out and "; 0 pieces from the cache" in out
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store), "--dry-run",
                       "--base-url", emu.base_url)  # fmt: skip
    assert code == 0, out
    assert "requests: 0 (0 as the quota counts them); 3 pieces from the cache" in out
    assert emu.requests == []


def test_index_prints_the_quota_and_an_eta_before_work_starts(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes", 3)
    code, out, _ = run(capsys, "index", str(folder), "--store", str(tmp_path / "store"),
                       "--base-url", emu.base_url, "--quiet", "--tier", "free",
                       "--rpm", "60", "--rpd", "500")  # fmt: skip
    assert code == 0
    first, second, *rest = out.splitlines()
    assert first == (
        "quota: 60 requests/min (each input counts), 30,000 tokens/min, 500 requests/day"
    )
    assert second == "to index: 3 pieces in 3 files (0 unchanged); ETA: no wait for the quota"
    assert rest[0].startswith("indexed 3 files (3 pieces)")


@pytest.mark.parametrize(
    ("options", "quota"),
    [
        (["--requests-per-minute", "50"], "50 requests/min (each input counts)"),  # the alias
        (["--tpm", "20000", "--rpd", "900"], "20,000 tokens/min, 900 requests/day"),
        (["--tier", "tier1", "--rpd", "2000"],
         "3,000 requests/min (each input counts), 1,000,000 tokens/min, 2,000 requests/day"),
        ([], "no quota given (learnt from the service's 429 answers)"),
        (PROVIDER_OPTIONS["vertex"][:-2], "120 requests/min (each HTTP call counts)"),
        (PROVIDER_OPTIONS["vertex"], "no quota given (learnt from the service's 429 answers)"),
        (["--provider", "dashscope", "--rpm", "30"], "30 requests/min (each HTTP call counts)"),
    ],
)  # fmt: skip
def test_quota_flags(
    options: list[str],
    quota: str,
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = notes(tmp_path / "notes", 1)
    code, out, err = run(capsys, "index", str(folder), "--store", str(tmp_path / "s"),
                         "--base-url", emu.base_url, "--quiet", *options)  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == f"quota: {quota}"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--tier", "gold"], "argument --tier: invalid choice: 'gold'"),
        (["--rpm", "-1"], "argument --rpm/--requests-per-minute: must be >= 0, got -1"),
        (["--tpm", "lots"], "argument --tpm: not a number: 'lots'"),
        (["--rpd", "inf"], "argument --rpd: must be a finite number, got inf"),
    ],
)
def test_bad_quota_flags_are_usage_errors_naming_the_flag(
    options: list[str],
    message: str,
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = notes(tmp_path / "notes", 1)
    for command in (["index", str(folder)], ["ask", "a question?"]):
        with pytest.raises(SystemExit) as raised:
            main([*command, "--store", str(tmp_path / "s"), "--base-url", emu.base_url, *options])
        assert raised.value.code == 2
        assert message in capsys.readouterr().err
    assert emu.requests == []


def test_a_tier_the_model_does_not_have_is_a_usage_error(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = notes(tmp_path / "notes", 1)
    code, _, err = run(capsys, "index", str(folder), "--store", str(tmp_path / "s"),
                       "--base-url", emu.base_url, *PROVIDER_OPTIONS["vertex"],
                       "--tier", "free")  # fmt: skip
    assert code == 2
    assert err.startswith("omniembed: error: argument --tier: tier='free' has no published")
    assert emu.requests == [] and not (tmp_path / "s").exists()


def test_the_cli_tiers_are_the_quota_tables() -> None:
    assert CLI_TIERS == TIERS


def test_a_daily_cap_stops_the_run_and_the_rerun_sends_only_the_rest(
    capped: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = capped
    emu.model_quotas = {"gemini-embedding-2": {"rpd": 5}}  # counted per input, as Google does
    folder, store = notes(tmp_path / "notes", 8), tmp_path / "store"
    command = ["index", str(folder), "--store", str(store), "--base-url", emu.base_url, "--quiet"]
    code, out, err = run(capsys, *command)

    assert code == EXIT_QUOTA == 75
    [found] = DAILY_MESSAGE.findall(err)
    indexed, total, limit, hhmm = found
    # Groups of 1, 2, then 4 files: the third call (4 inputs past 3 used) is refused.
    assert (indexed, total, limit) == ("3", "8", "5")
    pacific = datetime.now(ZoneInfo("America/Los_Angeles"))
    midnight = datetime.combine(pacific.date() + timedelta(days=1), datetime.min.time())
    assert hhmm == f"{midnight.replace(tzinfo=pacific.tzinfo).astimezone():%H:%M}"
    assert "indexed 3 files (3 pieces)" in out  # what this run did, on stdout
    usage = emu.quota_usage()["gemini:gemini-embedding-2"]
    assert usage.rejected_by == {"rpd": 1} or usage.rejected_by.get("rpd") == 1
    assert usage.embedded_inputs == 3
    with Store.open(store) as opened:  # exactly what was embedded, and valid
        assert opened.count() == 3
        assert sorted(opened.manifest.files) == ["note0.md", "note1.md", "note2.md"]
    first_run = [request_text(r) for r in embedding_requests(emu)]

    emu.reset_quotas()  # the day's quota is back
    emu.clear_requests()
    code, out, err = run(capsys, *command)
    assert code == 0, err
    assert "indexed 5 files (5 pieces), 3 unchanged" in out
    sent = [request_text(r) for r in embedding_requests(emu)]
    assert sum(len(json.loads(t)["requests"]) for t in sent) == 5  # only the missing ones
    assert not any(f"marker{n}." in text for text in sent for n in range(3))
    assert first_run
    with Store.open(store) as opened:
        assert opened.count() == 8


def test_a_file_cut_off_midway_keeps_its_embedded_pieces(capped: Emulator, tmp_path: Path) -> None:
    """A 101-chunk file takes two calls (100 inputs per call); the day's 100 end between
    them: the store holds the 100 pieces that got vectors, marked partial, and the next run
    sends the last one only."""
    emu = capped
    emu.model_quotas = {"gemini-embedding-2": {"rpd": 100}}
    folder, store = tmp_path / "big", tmp_path / "store"
    folder.mkdir()
    paragraphs = [f"Chapter {n} " + "of the long harbour chronicle " * 40 for n in range(101)]
    (folder / "chronicle.md").write_text("\n\n".join(paragraphs))
    options = {"base_url": emu.base_url, "progress": False}
    with pytest.raises(IndexPausedError) as raised:
        index_folder(folder, store, **options)  # type: ignore[arg-type]
    paused = raised.value
    embedded = emu.quota_usage()["gemini:gemini-embedding-2"].embedded_inputs
    assert 0 < embedded < 101
    assert (paused.indexed_pieces, paused.total_pieces, paused.limit) == (embedded, 101, 100)
    assert [(i.source, i.reason) for i in paused.report.partial] == [
        ("chronicle.md", f"{embedded} of 101 pieces (the daily quota ran out)")
    ]
    with Store.open(store) as opened:
        assert opened.count() == embedded
        entry = opened.manifest.files["chronicle.md"]
        assert (entry.pieces, entry.plan) == (embedded, "partial")

    emu.reset_quotas()
    emu.clear_requests()
    report = index_folder(folder, store, **options)  # type: ignore[arg-type]
    sent = sum(len(r.json["requests"]) for r in embedding_requests(emu))
    assert sent == 101 - embedded
    assert report.cache_hits == embedded and report.indexed == ["chronicle.md"]
    with Store.open(store) as opened:
        assert opened.count() == 101
        assert opened.manifest.files["chronicle.md"].plan != "partial"


def test_ask_takes_the_quota_flags_and_stops_at_a_daily_cap(
    capped: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = capped
    folder, store = notes(tmp_path / "notes", 2), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url]
    assert run(capsys, "index", str(folder), *base, "--quiet")[0] == 0
    emu.model_quotas = {"gemini-embedding-2": {"rpd": 3}}  # 2 used by the index
    code, out, _ = run(capsys, "ask", "Which pier?", *base, "--tier", "free", "--rpd", "900")
    assert code == 0 and "Answer:" in out
    code, _, err = run(capsys, "ask", "Which ferry?", *base)
    assert code == EXIT_QUOTA
    assert "omniembed: error:" in err and "daily quota" in err and "resets at" in err
    code, _, err = run(capsys, "ask", "Which boat?", *base, "--tier", "tier1")
    assert code == EXIT_QUOTA  # the service's day is spent, whatever the client was told


def test_a_long_wait_for_the_quota_is_not_silent(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2 inputs per (time-scaled, 3.5 s) minute: the second group of files waits ~3.5 s for
    the quota, and the wait is written above the progress bar (stderr) as it starts."""
    scaled = functools.partial(NoticeQuota, window_sec=3.5)
    monkeypatch.setattr(rag_embedders, "NoticeQuota", scaled)
    folder = notes(tmp_path / "notes", 3)
    code, _, err = run(capsys, "index", str(folder), "--store", str(tmp_path / "store"),
                       "--base-url", emu.base_url, "--rpm", "2")  # fmt: skip
    assert code == 0
    assert re.search(
        r"omniembed: waiting \d s for the quota \(2 requests/min \(each input counts\)\)", err
    ), err


def test_notice_quota_tells_once_per_interval() -> None:
    clock = [0.0]
    told: list[str] = []
    quota = NoticeQuota(
        QuotaLimits(requests_per_minute=1, unit="call"),
        notice=told.append,
        window_sec=60,
        clock=lambda: clock[0],
    )
    quota.release(quota.acquire(1, 0))
    for _ in range(3):
        wait, permit = quota.try_acquire(1, 0)
        assert permit is None and wait > 59
    assert len(told) == 1  # once, however often the waiters poll
    assert told[0].startswith("waiting 1 min 00 s for the quota (1 requests/min")
