"""``python -m omniembed.emulator``: serve the emulator until Ctrl-C.

Prints one line with the base URL (for ``types.HttpOptions(base_url=...)``), then serves.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence

from .faults import FAULT_KINDS, FAULT_SETTINGS
from .model_quotas import DEFAULT_WINDOW_SEC, LIMIT_NAMES, TIERS
from .records import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RECORDS
from .server import Emulator

#: Where the CLI reads the API key from when ``--api-key`` is not given (a flag's value is
#: visible to every user in the process list; the environment is not).
API_KEY_ENV = "OMNIEMBED_EMULATOR_API_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omniembed emulator",
        description="Offline stand-in for Google's embedding APIs (Gemini API and Vertex AI) "
        "and DashScope multimodal embedding (base_address=BASE_URL/api/v1). "
        "Vectors are deterministic stand-ins, not a model.",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="port to listen on (default 8765; 0: any free)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay before every answer")
    parser.add_argument(
        "--api-key",
        default=None,
        help=f"require this API key / bearer token (prefer the {API_KEY_ENV} environment "
        "variable: a flag shows in the process list)",
    )
    parser.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="ROUTE=RPM",
        help='requests per minute for a route (e.g. batchEmbedContents=600, "*"=1200); repeatable',
    )
    parser.add_argument(
        "--tier",
        choices=TIERS,
        default=None,
        help="Gemini API per-model limits of this usage tier for every embedding model "
        "(RPM counted per embedded content, TPM, RPD) (default: none)",
    )
    for name, what in (
        ("rpm", "requests (embedded contents on the Gemini API) per minute"),
        ("tpm", "input tokens per minute"),
        ("rpd", "requests per day (reset at midnight Pacific time)"),
    ):
        parser.add_argument(
            f"--{name}",
            type=non_negative_int,
            default=None,
            metavar="N",
            help=f"{what} for every embedding model; wins over --tier (default: none)",
        )
    parser.add_argument(
        "--model-quota",
        action="append",
        default=[],
        metavar="MODEL=rpm:N,tpm:N,rpd:N",
        help="limits of one model (a model id, or gemini:/vertex:/dashscope: + id); wins over "
        "--tier, --rpm, --tpm and --rpd; repeatable (default: none)",
    )
    parser.add_argument(
        "--quota-window-sec",
        type=float,
        default=DEFAULT_WINDOW_SEC,
        metavar="S",
        help=f"the sliding window of RPM and TPM, in seconds (default: {DEFAULT_WINDOW_SEC:g})",
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
    parser.add_argument(
        "--log-max-records",
        type=non_negative_int,
        default=DEFAULT_MAX_RECORDS,
        metavar="N",
        help=f"keep the last N requests in the request log (default {DEFAULT_MAX_RECORDS:,})",
    )
    parser.add_argument(
        "--log-max-bytes",
        type=non_negative_int,
        default=DEFAULT_MAX_BODY_BYTES,
        metavar="N",
        help="keep at most N bytes of parsed request bodies in the request log "
        f"(default {DEFAULT_MAX_BODY_BYTES:,})",
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


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def model_quota_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> dict[str, dict[str, int | None]]:
    """``--rpm/--tpm/--rpd`` (as the ``"*"`` entry) and every ``--model-quota``."""
    out: dict[str, dict[str, int | None]] = {}
    every: dict[str, int | None] = {
        name: getattr(args, name) for name in LIMIT_NAMES if getattr(args, name) is not None
    }
    if every:
        out["*"] = every
    for item in args.model_quota:
        model, sep, spec = item.partition("=")
        limits: dict[str, int | None] = {}
        try:
            if not sep or not model.strip() or not spec.strip():
                raise ValueError
            for field in spec.split(","):
                name, colon, value = field.strip().partition(":")
                if not colon or name not in LIMIT_NAMES:
                    raise ValueError
                limits[name] = non_negative_int(value.strip())
        except ValueError:
            parser.error(f"--model-quota expects MODEL=rpm:N,tpm:N,rpd:N, got {item!r}")
        out.setdefault(model.strip(), {}).update(limits)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quotas = _pairs(parser, args.quota, "quota")
    faults = _pairs(parser, args.fault, "fault")
    model_quotas = model_quota_options(parser, args)
    logging.basicConfig(
        # force: `omniembed emulator` has already configured logging in the parent command
        force=True,
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
            api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
            seed=args.seed,
            file_processing_sec=args.file_processing_sec,
            batch_step_sec=args.batch_step_sec,
            tier=args.tier,
            model_quotas=model_quotas or None,
            quota_window_sec=args.quota_window_sec,
            log_max_records=args.log_max_records,
            log_max_bytes=args.log_max_bytes,
        )
        emulator.start()
    except (ValueError, OSError, OverflowError) as exc:  # OverflowError: a port > 65535
        parser.error(str(exc))
    # A process started from a background shell or nohup inherits SIGINT as ignored;
    # Ctrl-C / `kill -INT` must still stop the emulator, and so must SIGTERM.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # The signal may come as soon as the URL is out, before serving starts: every point
    # from here on must take it as "stop".
    try:
        print(emulator.base_url, flush=True)  # the CLI's one line: where to point clients
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
