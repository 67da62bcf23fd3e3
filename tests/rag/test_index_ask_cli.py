"""`omniembed index` / `ask` end to end against the emulator, for each provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omniembed.emulator import Emulator
from omniembed.rag import Store
from tests import media_factory as make

from .helpers import ASK_OPTIONS, PROVIDER_OPTIONS, corpus, embedding_requests, run


@pytest.mark.parametrize("provider", ["gemini", "vertex", "dashscope"])
def test_index_then_ask_cites_pages_and_timestamps(
    provider: str, emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = corpus(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url]
    code, out, _ = run(capsys, "index", str(folder), *base, *PROVIDER_OPTIONS[provider], "--quiet")
    assert code == 0, out
    assert "0 failed" in out
    assert embedding_requests(emu)

    code, out, _ = run(
        capsys, "ask", "When was the lighthouse built?", *base, *ASK_OPTIONS[provider], "--json"
    )
    assert code == 0
    answer = json.loads(out)
    assert answer["question"] == "When was the lighthouse built?"
    top = answer["hits"][0]
    assert (top["source"], top["page"], top["rank"]) == ("lighthouse.pdf", 1, 1)
    assert top["citation"] == "lighthouse.pdf, page 1"
    assert "1874" in answer["answer"]  # the emulator quotes the best-matching passage
    assert answer["usage"]["total_tokens"] > 0
    assert {"rank", "modality", "source", "page", "start_offset_sec", "end_offset_sec",
            "score", "text"} <= set(top)  # fmt: skip

    code, out, _ = run(
        capsys, "ask", "What is in the harbour video?", *base, *ASK_OPTIONS[provider]
    )
    assert code == 0
    video = [line for line in out.splitlines() if "video" in line and "harbour.mp4 00:0" in line]
    assert video, out  # e.g. "  4. video     harbour.mp4 00:00–00:04   0.015"
    assert out.splitlines()[-1].startswith("Sources: [1] ")
    assert "harbour.mp4 00:0" in out.splitlines()[-1]

    # Unchanged folder: nothing is embedded again.
    emu.clear_requests()
    code, out, _ = run(capsys, "index", str(folder), *base, "--quiet")
    assert code == 0
    assert "indexed 0 files" in out
    assert emu.requests == []


def test_changed_file_alone_is_reindexed_and_removed_file_is_dropped(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = corpus(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, "index", str(folder), *base)[0] == 0
    with Store.open(store) as opened:
        assert opened.count("red_apple.png") == 1

    (folder / "notes.md").write_text("# Harbour notes\n\nThe ferry now leaves at 10:30.\n")
    (folder / "red_apple.png").unlink()
    emu.clear_requests()
    code, out, _ = run(capsys, "index", str(folder), *base)
    assert code == 0
    assert "indexed 1 files (1 pieces)" in out and "1 removed" in out
    sent = embedding_requests(emu)
    assert len(sent) == 1
    assert "10:30" in json.dumps(sent[0].json)
    with Store.open(store) as opened:
        assert opened.count("red_apple.png") == 0
        assert opened.count("notes.md") == 1
        assert "red_apple.png" not in opened.manifest.files


def test_corrupt_pdf_and_empty_file_are_reported_and_skipped(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = corpus(tmp_path), tmp_path / "store"
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\nnot really a pdf\n")
    (folder / "empty.md").write_bytes(b"")
    (folder / ".hidden.md").write_text("never indexed")
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store),
                       "--base-url", emu.base_url, "--quiet")  # fmt: skip
    assert code == 1  # some files failed: a CI job must see it
    assert "failed  broken.pdf: the PDF cannot be opened" in out
    assert "skipped empty.md: empty file" in out
    assert ".hidden" not in out
    with Store.open(store) as opened:
        assert sorted(opened.manifest.files) == [
            "blue_sea.png", "foghorn.wav", "green_forest.jpg", "harbour.mp4",
            "lighthouse.pdf", "notes.md", "red_apple.png",
        ]  # fmt: skip


def test_a_rejected_file_keeps_the_others(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "texts", tmp_path / "store"
    folder.mkdir()
    for n in range(3):
        (folder / f"note{n}.txt").write_text(f"note number {n} about boats")
    # A PNG cut off inside its pixel data: the header is intact, the pixels are not. It is
    # rejected before anything is sent, and the three notes go through as usual.
    whole = make.png(size=(64, 64), stripe=(0, 0, 255))
    (folder / "bad.png").write_bytes(whole[: len(whole) * 2 // 3])
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store),
                       "--base-url", emu.base_url, "--quiet")  # fmt: skip
    assert code == 1, out
    assert "indexed 3 files" in out
    assert "failed  bad.png: the image is truncated or corrupt" in out
    assert all(r.status == 200 for r in emu.requests)


def test_ask_without_a_store_names_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "ask", "anything?", "--store", str(tmp_path / "nowhere"))
    assert code == 2  # the --store given holds no index
    assert "no index in" in err and "omniembed index FOLDER --store" in err


def test_missing_credentials_are_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    folder = corpus(tmp_path)
    code, _, err = run(capsys, "index", str(folder), "--store", str(tmp_path / "s"), "--quiet")
    assert code == 77  # EX_NOPERM: credentials missing or rejected
    # In the command's words: its flags and environment variables, not Python keywords.
    assert "GEMINI_API_KEY" in err and "--api-key" in err and "api_key=" not in err
    assert "--provider vertex with --project" in err
    assert err.count("error") == 1
    assert not (tmp_path / "s" / "manifest.json").exists()


def test_dashscope_store_needs_gemini_credentials_to_answer(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    folder, store = tmp_path / "texts", tmp_path / "store"
    folder.mkdir()
    (folder / "a.md").write_text("the ferry leaves at nine")
    assert run(capsys, "index", str(folder), "--store", str(store), "--base-url", emu.base_url,
               "--quiet", "--provider", "dashscope")[0] == 0  # fmt: skip
    monkeypatch.setenv("DASHSCOPE_API_KEY", "k")
    code, _, err = run(capsys, "ask", "When does the ferry leave?", "--store", str(store))
    assert code == 77
    assert "built with dashscope" in err and "GEMINI_API_KEY" in err


def test_usage_errors_exit_2(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = corpus(tmp_path)
    with pytest.raises(SystemExit) as raised:
        run(capsys, "ask", "q", "--store", str(tmp_path), "--top-k", "0")
    assert raised.value.code == 2
    code, _, err = run(capsys, "index", str(folder), "--store", str(tmp_path / "s"),
                       "--base-url", emu.base_url, "--video-interval", "2",
                       *PROVIDER_OPTIONS["vertex"])  # fmt: skip
    assert code == 2
    assert "at least 4 s" in err


def test_another_model_cannot_share_a_store(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "texts", tmp_path / "store"
    folder.mkdir()
    (folder / "a.md").write_text("hello")
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, "index", str(folder), *base)[0] == 0
    code, _, err = run(capsys, "index", str(folder), *base, "--provider", "dashscope")
    assert code == 2
    assert "gemini:gemini-embedding-2" in err and "--rebuild" in err and "new store" in err
    assert "rebuild=" not in err and "provider=" not in err


def test_a_store_inside_the_folder_is_not_indexed(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "texts"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.md").write_text("bee")
    (folder / "a.md").write_text("ay")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD.md").write_text("hidden folder")
    base = ["--store", str(folder / "store"), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, "index", str(folder), *base)[0] == 0
    code, out, _ = run(capsys, "index", str(folder), *base)
    assert code == 0
    assert "2 unchanged, 0 removed, 0 skipped" in out
    with Store.open(folder / "store") as opened:
        assert sorted(opened.manifest.files) == ["a.md", "sub/b.md"]
