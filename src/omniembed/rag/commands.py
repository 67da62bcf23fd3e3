"""The `omniembed index` and `omniembed ask` subcommands (argument parsing and output)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import TYPE_CHECKING, Any

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    InputError,
    MissingCredentialsError,
    NotFoundError,
    OmniEmbedError,
    PermissionDeniedError,
    QuotaExceededError,
    ServiceConnectionError,
)
from .defaults import (
    DEFAULT_LLM_MODEL,
    DEFAULT_TOP_K,
    DEFAULT_VIDEO_INTERVAL_SEC,
    PROVIDERS,
    TIERS,
)

if TYPE_CHECKING:
    from .indexer import IndexPlan

#: Exit codes (docs/cli.md has the table). The large ones are sysexits.h's, which scripts
#: and CI systems already know: EX_UNAVAILABLE, EX_TEMPFAIL ("the user is invited to retry
#: later") and EX_NOPERM.
EXIT_OK = 0
EXIT_FILES_FAILED = 1  # the run finished; some files could not be indexed (listed)
EXIT_USAGE = 2  # the command as typed cannot work: a flag, the folder, the model, the store
EXIT_ERROR = 3  # anything else: the store in use, a service error that is not the above
EXIT_UNREACHABLE = 69  # the endpoint cannot be reached
EXIT_QUOTA = 75  # the quota is spent (a daily one: run again after the reset)
EXIT_CREDENTIALS = 77  # credentials missing or rejected
EXIT_INTERRUPTED = 130  # Ctrl-C

#: Python keyword mentions in library messages, in the words of each command's flags.
INDEX_WORDS = {
    "vertexai=True": "--provider vertex",
    "rebuild=True": "--rebuild",
    "follow_links=True": "--follow-links",
    "verify=True": "--verify",
    "batch_job=True": "--batch-job",
    "provider='gemini'": "--provider gemini",
    "api_key=": "--api-key",
    "access_token=": "--access-token",
    "credentials=": "--access-token",
    "project=": "--project",
    "location=": "--location",
    "base_url=": "--base-url",
    "provider=": "--provider",
    "model=": "--model",
    "dimension=": "--dimension",
    "output_dimensionality=": "--dimension",
    "interval_sec=": "--video-interval",
    "video_interval_sec=": "--video-interval",
    "requests_per_minute=": "--rpm",
    "tokens_per_minute=": "--tpm",
    "requests_per_day=": "--rpd",
    "tier=": "--tier",
    "point cache= at another file, or pass cache=None": "or index into a new --store folder",
}
ASK_WORDS = {
    **INDEX_WORDS,
    "vertexai=True": "--vertexai",
    "top_k=": "--top-k",
    "llm_model=": "--llm-model",
    "llm_api_key=": "--llm-api-key",
}

#: The quota options: the command-line flag of each `index_folder`/`ask` keyword.
QUOTA_FLAGS = {
    "requests_per_minute": "--rpm",
    "tokens_per_minute": "--tpm",
    "requests_per_day": "--rpd",
    "tier": "--tier",
}


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default (where its text does not already)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            and default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


def _number(kind: type[float] | type[int], *, zero: bool = False) -> Any:
    """A parser of numbers > 0 (``zero``: >= 0)."""

    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"must be {'>=' if zero else '>'} 0, got {text}")
        return value

    return parse


def _positive(kind: type[float] | type[int]) -> Any:
    return _number(kind)


def _quota_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "quota",
        "The quota the embedding calls work under: --tier fills the service's published "
        "figures (default: the provider's own: Vertex AI's published quota; none on the "
        "Gemini API and DashScope, where it is learnt from the service's 429 answers); "
        "--rpm/--tpm/--rpd replace single figures (0 drops one).",
    )
    group.add_argument(
        "--tier",
        choices=TIERS,
        help="published quota: the Gemini API's free, tier1, tier2, tier3; default: Vertex AI's",
    )
    group.add_argument(
        "--rpm",
        "--requests-per-minute",
        dest="requests_per_minute",
        type=_number(float, zero=True),
        metavar="N",
        help="requests per minute, counted as the service counts them (each input on the "
        "Gemini API, each HTTP call on Vertex AI and DashScope)",
    )
    group.add_argument(
        "--tpm",
        dest="tokens_per_minute",
        type=_number(float, zero=True),
        metavar="N",
        help="input tokens per minute (estimated locally)",
    )
    group.add_argument(
        "--rpd",
        dest="requests_per_day",
        type=_number(float, zero=True),
        metavar="N",
        help="requests per day (a run stops when they are spent; run it again after the reset)",
    )


def _quota(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in QUOTA_FLAGS}


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
    parser.add_argument(
        "--max-retries",
        type=_number(int, zero=True),
        default=6,
        metavar="N",
        help="retries of a failed request (429, 5xx, timeouts, connection errors) before "
        "giving up (default 6)",
    )


def add_index_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "index",
        formatter_class=HelpFormatter,
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
        "--dry-run",
        action="store_true",
        help="report pieces, requests, estimated tokens, the time the quota implies and the "
        "price, without calling the service or writing the store",
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
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="drop the store's vectors and index again (to switch --provider/--model/"
        "--dimension; vectors already paid for come from the store's cache)",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="hash every file instead of trusting an unchanged size and mtime (for tools "
        "that rewrite files and restore their mtime)",
    )
    parser.add_argument(
        "--follow-links",
        action="store_true",
        help="index files that symbolic links lead to outside PATH (skipped by default)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (waits for the quota and retries are then only logged, -v)",
    )
    _quota_options(parser)
    _connection_options(parser)


def add_ask_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "ask",
        formatter_class=HelpFormatter,
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
    _quota_options(parser)
    _connection_options(parser)


def run_index(args: argparse.Namespace) -> int:
    from .indexer import IndexPausedError, IndexStoppedError, index_folder, plan_folder

    common: dict[str, Any] = {
        "provider": args.provider,
        "model": args.model,
        "dimension": args.dimension,
        "base_url": args.base_url,
        "api_key": args.api_key,
        "access_token": args.access_token,
        "project": args.project,
        "location": args.location,
        "video_interval_sec": args.video_interval,
        "progress": not args.quiet,
        "max_retries": args.max_retries,
        "follow_links": args.follow_links,
        "verify": args.verify,
        **_quota(args),
    }
    try:
        if args.dry_run:
            print(plan_folder(args.path, args.store, **common).describe())
            return EXIT_OK
        report = index_folder(
            args.path,
            args.store,
            batch_job=args.batch_job,
            batch_poll_interval=args.batch_poll_sec,
            on_plan=None if args.batch_job else _show_plan,
            rebuild=args.rebuild,
            **common,
        )
    except IndexPausedError as exc:
        # What got embedded is in the store; the same command after the reset does the rest.
        print(in_words(exc.report.summary(), INDEX_WORDS))
        print(f"omniembed: {exc}", file=sys.stderr)
        return EXIT_QUOTA
    except IndexStoppedError as exc:
        print(in_words(exc.report.summary(), INDEX_WORDS))
        return report_error(exc, INDEX_WORDS, exc.cause)
    except OmniEmbedError as exc:
        return report_error(exc, INDEX_WORDS)
    except KeyboardInterrupt:
        # Finished files are in the store and paid requests in the cache: say so.
        print("omniembed: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(in_words(report.summary(), INDEX_WORDS))
    if not report.ok:
        failed = len(report.failed) + len(report.partial)
        print(
            f"omniembed: {_count(failed, 'file')} not indexed (listed above); the others are "
            "in the store. Fix them and run the same command again",
            file=sys.stderr,
        )
        return EXIT_FILES_FAILED
    return EXIT_OK


def _show_plan(plan: IndexPlan) -> None:
    """Before the first request: the quota the run works under and an ETA."""
    if plan.files:
        print(plan.header(), flush=True)


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
            on_wait=_tell,
            max_retries=args.max_retries,
            **_quota(args),
        )
    except OmniEmbedError as exc:
        return report_error(_explained(exc, args), ASK_WORDS, exc)
    except KeyboardInterrupt:
        print("omniembed: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(answer.to_json(), indent=2, ensure_ascii=False))
    else:
        print(format_answer(answer))
    return EXIT_OK


def _explained(exc: OmniEmbedError, args: argparse.Namespace) -> OmniEmbedError:
    """A service error that stops `ask`, said as `index` says it: endpoint, tries, fix."""
    from pathlib import Path

    from .embedders import endpoint
    from .manifest import Manifest
    from .report import explain

    try:
        manifest = Manifest.load(Path(args.store).expanduser())
    except OmniEmbedError:
        return exc
    if manifest is None:
        return exc
    settings = manifest.embedder
    text = explain(exc, endpoint(settings, args.base_url), settings.model)
    return exc if text is None else OmniEmbedError(text)


def _tell(text: str) -> None:
    """A wait or retry of `ask` (it has no progress bar): one line on stderr."""
    print(f"omniembed: {text}", file=sys.stderr, flush=True)


def report_error(
    exc: OmniEmbedError, words: dict[str, str], cause: BaseException | None = None
) -> int:
    """Print ``exc`` once, in the command's words; the exit code for it (or its
    ``cause``)."""
    from .quota import QuotaSettingError

    if isinstance(exc, QuotaSettingError):
        print(f"omniembed: error: argument {QUOTA_FLAGS[exc.setting]}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"omniembed: error: {in_words(str(exc), words)}", file=sys.stderr)
    return exit_code(cause or exc)


def exit_code(exc: BaseException) -> int:
    """The exit code for an error that stopped a command (docs/cli.md has the table)."""
    if isinstance(exc, ServiceConnectionError):
        return EXIT_UNREACHABLE
    if isinstance(exc, (AuthenticationError, PermissionDeniedError, MissingCredentialsError)):
        return EXIT_CREDENTIALS
    if isinstance(exc, QuotaExceededError):
        return EXIT_QUOTA
    if isinstance(exc, NotFoundError):
        return EXIT_USAGE  # an unknown model: --model
    from ..errors import CacheError
    from .store import StoreBusyError

    if isinstance(exc, (StoreBusyError, CacheError)):
        return EXIT_ERROR  # the store's files, not the command, need attention
    if isinstance(exc, (ConfigurationError, InputError)):
        return EXIT_USAGE
    return EXIT_ERROR


def in_words(message: str, words: dict[str, str]) -> str:
    """``message`` with its Python keyword mentions (``api_key=``) as the command's flags."""
    pattern = "|".join(re.escape(k) for k in sorted(words, key=len, reverse=True))
    return re.sub(rf"(?<![\w.-])(?:{pattern})", lambda m: words[m.group(0)], message)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
