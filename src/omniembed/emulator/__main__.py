"""``python -m omniembed.emulator``: serve the emulator until Ctrl-C.

Prints one line with the base URL (for ``types.HttpOptions(base_url=...)``), then serves.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .faults import FAULT_KINDS, FAULT_SETTINGS
from .server import Emulator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniembed emulator",
        description="Offline stand-in for Google's embedding APIs (Gemini API and Vertex AI) "
        "and DashScope multimodal embedding (base_address=BASE_URL/api/v1). "
        "Vectors are deterministic stand-ins, not a model.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument("--api-key", default=None, help="require this API key / bearer token")
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="ROUTE=RPM",
        help='requests per minute for a route (e.g. batchEmbedContents=600, "*"=1200); repeatable',
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND=PROB",
        help=f"fault probability per request, KIND in {', '.join(FAULT_KINDS)}; or "
        f"{', '.join(FAULT_SETTINGS)}=SECONDS; repeatable",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random faults")
    parser.add_argument(
        "--file-processing-sec",
        type=float,
        default=0.3,
        help="how long uploaded videos/audio stay PROCESSING in the Files API",
    )
    parser.add_argument(
        "--batch-step-sec",
        type=float,
        default=0.2,
        help="how long a batch job spends in each state (PENDING, RUNNING)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    return parser


def _pairs(parser: argparse.ArgumentParser, items: Sequence[str], what: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            parser.error(f"--{what} expects NAME=NUMBER, got {item!r}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quotas = _pairs(parser, args.quota, "quota")
    faults = _pairs(parser, args.fault, "fault")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        emulator = Emulator(
            port=args.port,
            host=args.host,
            latency_ms=args.latency_ms,
            quotas=quotas or None,
            faults=faults or None,
            api_key=args.api_key,
            seed=args.seed,
            file_processing_sec=args.file_processing_sec,
            batch_step_sec=args.batch_step_sec,
        )
        emulator.start()
    except (ValueError, OSError, OverflowError) as exc:  # OverflowError: a port > 65535
        parser.error(str(exc))
    print(emulator.base_url, flush=True)  # the CLI's one line: where to point clients
    emulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
