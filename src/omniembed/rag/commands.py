"""The `omniembed index` and `omniembed ask` subcommands (argument parsing and output)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import InvalidParameterError, OmniEmbedError
from .defaults import DEFAULT_LLM_MODEL, DEFAULT_TOP_K, DEFAULT_VIDEO_INTERVAL_SEC, PROVIDERS

EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--base-url", help="an emulator or proxy for every service (e.g. http://127.0.0.1:8765)"
    )
    parser.add_argument(
        "--api-key",
        help="the embedding provider's key (default: GEMINI_API_KEY / DASHSCOPE_API_KEY)",
    )
    parser.add_argument(
        "--access-token",
        help="Vertex AI OAuth access token (default: GOOGLE_ACCESS_TOKEN, else ADC)",
    )
    parser.add_argument("--project", help="Vertex AI project (default: GOOGLE_CLOUD_PROJECT)")
    parser.add_argument("--location", help="Vertex AI location (default: us-central1)")


def add_index_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "index",
        help="embed a folder (text, images, PDFs, video, audio) into a local vector store",
        description="Embed a folder into a local vector store. Re-runs embed only new or "
        "changed files; an interrupted run resumes without repeating paid requests.",
    )
    parser.add_argument("path", metavar="PATH", help="the folder to index")
    parser.add_argument("--store", required=True, metavar="DIR", help="the store folder")
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="embedding provider (default: the store's, else gemini)",
    )
    parser.add_argument("--model", help="embedding model (default: the provider's multimodal one)")
    parser.add_argument("--dimension", type=_positive(int), help="vector size (model default)")
    parser.add_argument(
        "--video-interval",
        type=_positive(float),
        default=DEFAULT_VIDEO_INTERVAL_SEC,
        metavar="S",
        help=f"seconds per video segment (default {DEFAULT_VIDEO_INTERVAL_SEC:g})",
    )
    parser.add_argument(
        "--requests-per-minute",
        type=float,
        metavar="N",
        help="client-side pacing (default: the provider's; 0 turns it off)",
    )
    parser.add_argument(
        "--batch-job",
        action="store_true",
        help="embed through one Gemini batch job (Gemini API; cheaper, slower; resumable)",
    )
    parser.add_argument(
        "--batch-poll-sec",
        type=_positive(float),
        default=10.0,
        help="seconds between batch job status checks (default 10, backing off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    _connection_options(parser)


def add_ask_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ask",
        help="answer a question from a store, citing files, pages and timestamps",
        description="Retrieve text, images/PDF pages and video/audio from a store and answer "
        "with a Gemini model.",
    )
    parser.add_argument("question", metavar="QUESTION")
    parser.add_argument("--store", required=True, metavar="DIR", help="the store folder")
    parser.add_argument(
        "--top-k",
        type=_positive(int),
        default=DEFAULT_TOP_K,
        metavar="K",
        help="hits per modality group: text, images/PDF pages, video/audio "
        f"(default {DEFAULT_TOP_K})",
    )
    parser.add_argument("--llm-model", default=DEFAULT_LLM_MODEL, help="the answering model")
    parser.add_argument("--llm-base-url", help="endpoint for the LLM only (default: --base-url)")
    parser.add_argument(
        "--llm-api-key", help="Gemini API key for the LLM (default: GEMINI_API_KEY)"
    )
    parser.add_argument(
        "--vertexai",
        action="store_true",
        default=None,
        help="answer with Gemini on Vertex AI (default for Vertex-built stores)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    _connection_options(parser)


def run_index(args: argparse.Namespace) -> int:
    from .indexer import index_folder

    try:
        report = index_folder(
            args.path,
            args.store,
            provider=args.provider,
            model=args.model,
            dimension=args.dimension,
            base_url=args.base_url,
            api_key=args.api_key,
            access_token=args.access_token,
            project=args.project,
            location=args.location,
            video_interval_sec=args.video_interval,
            requests_per_minute=args.requests_per_minute,
            batch_job=args.batch_job,
            batch_poll_interval=args.batch_poll_sec,
            progress=not args.quiet,
        )
    except OmniEmbedError as exc:
        return _fail(exc)
    except KeyboardInterrupt:
        # Finished groups are in the store and paid requests in the cache: say so.
        print("omniembed: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(report.summary())
    return EXIT_OK


def run_ask(args: argparse.Namespace) -> int:
    from .answering import ask
    from .hits import format_answer

    try:
        answer = ask(
            args.question,
            args.store,
            top_k=args.top_k,
            base_url=args.base_url,
            llm_base_url=args.llm_base_url,
            llm_model=args.llm_model,
            api_key=args.api_key,
            llm_api_key=args.llm_api_key,
            access_token=args.access_token,
            vertexai=args.vertexai,
            project=args.project,
            location=args.location,
        )
    except OmniEmbedError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_answer(answer))
    return EXIT_OK


def _fail(exc: OmniEmbedError) -> int:
    print(f"omniembed: error: {exc}", file=sys.stderr)
    # A bad option value is a usage error; anything else (credentials, store) is fatal.
    return EXIT_USAGE if isinstance(exc, InvalidParameterError) else EXIT_FATAL
