"""The `omniembed` command: `demo`, `emulator`, `index` and `ask`."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from . import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="omniembed", description="Multimodal embeddings for RAG pipelines."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("--version", action="version", version=f"omniembed {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    from .rag.commands import HelpFormatter, add_ask_parser, add_index_parser

    demo = commands.add_parser(
        "demo",
        help="offline end-to-end demo on the built-in emulator",
        formatter_class=HelpFormatter,
    )
    demo.add_argument(
        "--live", action="store_true", help="run against the real Gemini API (GEMINI_API_KEY)"
    )
    # The emulator parses its own options (its --help included).
    commands.add_parser("emulator", help="run the offline Gemini/Vertex emulator", add_help=False)
    add_index_parser(commands)
    add_ask_parser(commands)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "emulator":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "emulator":
        from .emulator.__main__ import main as emulator_main

        return emulator_main(rest)
    # A process started from a background shell or nohup inherits SIGINT as ignored;
    # Ctrl-C and SIGTERM must still stop a long run cleanly (exit 130, resumable).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return _run(args)
    except KeyboardInterrupt:  # before or after the command's own handling
        print("omniembed: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from .demo import run_demo
        from .errors import OmniEmbedError
        from .rag.commands import INDEX_WORDS, report_error

        try:
            return run_demo(live=args.live)
        except OmniEmbedError as exc:
            return report_error(exc, INDEX_WORDS, getattr(exc, "cause", None))
    from .rag.commands import run_ask, run_index

    return run_index(args) if args.command == "index" else run_ask(args)


if __name__ == "__main__":
    sys.exit(main())
