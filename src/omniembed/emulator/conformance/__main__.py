"""``python -m omniembed.emulator.conformance DIR [--json] [--only GLOB]``.

Prints one row per recorded exchange and a summary (or one JSON object with ``--json``).
Exit status: 0 when no exchange differs, 1 when some do, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .checker import VERDICTS, Report, Row, check
from .recordings import RecordingError, find_cassettes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m omniembed.emulator.conformance",
        description="Replay recorded real API exchanges (VCR YAML cassettes) against fresh "
        "emulators and compare status, content type and response shape.",
    )
    parser.add_argument("dir", type=Path, help="folder of cassettes (read recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--only",
        metavar="GLOB",
        default=None,
        help="replay only cassettes whose path under DIR matches (e.g. 'gemini/*', "
        "'*embed*'); drift is still learnt from every cassette",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="cassettes replayed at once (default: CPUs+1, ≤4)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    root: Path = args.dir
    if not root.is_dir():
        parser.error(f"{root} is not a folder")  # exits with status 2
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if not find_cassettes(root, args.only):
        parser.error(f"no cassettes (*.yaml, *.yml) under {root}" + _only(args.only))
    try:
        report = check(root, only=args.only, workers=args.workers)
    except RecordingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render(report))
    return 0 if report.ok else 1


def render(report: Report) -> str:
    """The rows, then the summary."""
    lines = list(row_lines(report.rows))
    counts = report.counts
    lines += [
        "",
        f"{report.exchanges} exchanges in {report.cassettes} cassettes, "
        f"{len(report.rows)} unique, checked in {report.seconds:.1f} s",
        "  ".join(f"{verdict}: {counts[verdict]}" for verdict in VERDICTS),
    ]
    return "\n".join(lines)


def row_lines(rows: Iterable[Row]) -> Iterator[str]:
    """Per row: cassette#index, method and route, recorded -> emulator status, verdict;
    then the reason, the first differences, the drifting keys and identical exchanges."""
    for row in rows:
        emulated = "-" if row.emulator_status is None else str(row.emulator_status)
        yield (
            f"{row.name}  {row.method} {row.route}  "
            f"{row.recorded_status} -> {emulated}  {row.verdict}"
        )
        if row.reason:
            yield f"    reason: {row.reason}"
        yield from (f"    {problem}" for problem in row.differences)
        if row.drift:
            yield f"    drift: {', '.join(row.drift)}"
        if row.duplicates:
            yield f"    identical: {', '.join(row.duplicates)}"


def _only(only: str | None) -> str:
    return f" matching {only!r}" if only else ""


if __name__ == "__main__":
    sys.exit(main())
