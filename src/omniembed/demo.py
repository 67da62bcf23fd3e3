"""`omniembed demo`: the whole promise in one command.

Writes a small sample corpus (notes, pictures, a three-page PDF, a short video, a foghorn
recording), indexes it into one multimodal space with gemini-embedding-2 through the same
pipeline as `omniembed index`, asks four questions and prints the ranked hits and grounded
answers with their citations. Offline it runs on the built-in emulator; ``--live`` runs the same
against the real Gemini API.

Everything printed is deterministic (no timings, ports or temporary paths), so the README
can show the output exactly as it prints.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

Printer = Callable[[str], None]

QUESTIONS = (
    "When was the lighthouse built?",
    "When does the ferry leave for Seal Island?",
    "Which picture or video clip shows an orange sky?",
    "Which recording has a 220 Hz tone?",
)


def run_demo(out: Printer = print, *, live: bool = False) -> int:
    """Index the sample corpus and answer `QUESTIONS`; returns the exit code."""
    from .rag import ask, format_answer, index_folder
    from .samples import write_corpus

    if live and not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")):
        out("omniembed demo --live needs a Gemini API key: set GEMINI_API_KEY (from")
        out("https://aistudio.google.com/apikey) and run it again, or drop --live to run")
        out("offline on the built-in emulator.")
        return 1
    with _service(live) as base_url, tempfile.TemporaryDirectory() as tmp:
        if base_url is None:
            out("omniembed demo — live, on the Gemini API (gemini-embedding-2, gemini-2.5-flash).")
        else:
            out("omniembed demo — offline, on the built-in emulator. It speaks the Gemini API")
            out("wire protocol; its vectors and answers are deterministic stand-ins (word,")
            out("pixel and sound features, the best-matching context sentence), not a model.")
        corpus = Path(tmp) / "harbour-guide"
        store = Path(tmp) / "store"
        files = write_corpus(corpus)
        out(f"\nCorpus: {', '.join(p.name for p in files)}")
        report = index_folder(corpus, store, provider="gemini", base_url=base_url, progress=False)
        out(report.summary())
        if not report.ok:
            return 1
        again = index_folder(corpus, store, provider="gemini", base_url=base_url, progress=False)
        out(f"Re-indexed unchanged: {again.requests} requests (everything from the store)")
        for question in QUESTIONS:
            out("")
            out(format_answer(ask(question, store, base_url=base_url)))
    return 0


@contextlib.contextmanager
def _service(live: bool) -> Iterator[str | None]:
    """None for the real service, else the base URL of a private emulator."""
    if live:
        yield None
        return
    from .emulator import Emulator

    with Emulator() as emu:
        yield emu.base_url
