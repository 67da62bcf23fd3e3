"""`omniembed index` against a hostile or careless folder: links out of it, store files
others could read, content changes that keep size and mtime."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from omniembed.emulator import Emulator
from omniembed.rag import Store

from .helpers import embedding_requests, request_text, run


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_links_out_of_the_folder_are_skipped_unless_followed(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "private"
    secret.mkdir()
    (secret / "passwords.md").write_text("the vault code is zq-secret-4711")
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "ferry.md").write_text("the ferry leaves at nine")
    (folder / "leak.md").symlink_to(secret / "passwords.md")
    (folder / "more").symlink_to(secret, target_is_directory=True)
    (folder / "inside.md").symlink_to(folder / "ferry.md")  # inside: fine
    store = tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    code, out, err = run(capsys, "index", str(folder), *base)
    assert code == 0, err
    assert "skipped leak.md: a link to outside the folder (pass --follow-links" in out
    assert "skipped more: a link to outside the folder" in out
    assert "indexed 2 files" in out
    assert not any("zq-secret" in request_text(r) for r in embedding_requests(emu))
    with Store.open(store) as opened:
        assert sorted(opened.manifest.files) == ["ferry.md", "inside.md"]
    code, out, err = run(capsys, "index", str(folder), *base, "--follow-links")
    assert code == 0, err
    assert "indexed 2 files" in out  # leak.md and more/passwords.md
    assert any("zq-secret" in request_text(r) for r in embedding_requests(emu))


def test_store_files_are_private(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "notes", tmp_path / "store"
    folder.mkdir()
    (folder / "a.md").write_text("private notes")
    old = os.umask(0o022)  # a typical umask: new files world-readable
    try:
        code, _, err = run(capsys, "index", str(folder), "--store", str(store),
                           "--base-url", emu.base_url, "--quiet")  # fmt: skip
    finally:
        os.umask(old)
    assert code == 0, err
    assert _mode(store) == 0o700
    for path in [store / "manifest.json", store / "embeddings.sqlite", store / "vectors",
                 *(store / "vectors").iterdir()]:  # fmt: skip
        assert _mode(path) & 0o077 == 0, f"{path.name} is {oct(_mode(path))}"


def test_a_change_that_keeps_size_and_mtime_is_seen_when_racy_or_verified(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "notes", tmp_path / "store"
    folder.mkdir()
    note = folder / "a.md"
    note.write_text("the ferry leaves at nine")
    base = ["index", str(folder), "--store", str(store), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, *base)[0] == 0
    # Rewritten in the same clock tick as the run that indexed it: same size, same mtime.
    stamp = note.stat()
    note.write_text("the ferry leaves at ten!")
    os.utime(note, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    code, out, _ = run(capsys, *base)
    assert code == 0 and "indexed 1 files" in out, out
    # An old mtime restored by a tool after a rewrite: only --verify can see it.
    entry = json.loads((store / "manifest.json").read_text())["files"]["a.md"]
    old_mtime = entry["checked_ns"] - 10_000_000_000
    os.utime(note, ns=(old_mtime, old_mtime))
    assert run(capsys, *base)[0] == 0  # records the old mtime (content unchanged)
    note.write_text("the ferry leaves at six!")
    os.utime(note, ns=(old_mtime, old_mtime))
    code, out, _ = run(capsys, *base)
    assert "1 unchanged" in out  # the documented limit of the stat check
    code, out, _ = run(capsys, *base, "--verify")
    assert code == 0 and "indexed 1 files" in out, out
    with Store.open(store) as opened:
        hits = opened.manifest.files["a.md"]
        assert hits.pieces == 1 and opened.count("a.md") == 1
