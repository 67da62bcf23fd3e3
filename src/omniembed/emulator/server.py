"""`Emulator`: the aiohttp app served from a background thread with its own event loop."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Mapping
from types import TracebackType

from aiohttp import web

from .app import Dispatcher
from .batches import BatchStore
from .faults import FaultPlan, check_faults
from .files_api import FileStore
from .model_quotas import (
    DEFAULT_WINDOW_SEC,
    ModelQuotaBook,
    ModelQuotas,
    QuotaUsage,
    check_model_quotas,
    check_tier,
    check_window,
)
from .quotas import QuotaBook
from .records import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_RECORDS, RequestLog, RequestRecord
from .routes_dashscope import DashScopeService

logger = logging.getLogger("omniembed.emulator")

#: How long `stop()` lets in-flight requests (e.g. a "slow" fault) finish before cancelling.
SHUTDOWN_GRACE_S = 0.5


class Emulator:
    """An offline, wire-compatible stand-in for Google's and DashScope's embedding APIs, and
    Gemini generation with the Files API, on a real HTTP port.

    Serves the Gemini API (``/v1beta/models/{m}:batchEmbedContents`` ...), Vertex AI
    (``/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predict`` ..., including
    ``multimodalembedding@001``) and DashScope multimodal embedding (the dashscope SDK with
    ``base_address=emu.base_url + "/api/v1"``; see `omniembed.emulator.routes_dashscope`) with
    deterministic stand-in vectors (see `omniembed.emulator.vectors`; not a model).
    ``generateContent``/``streamGenerateContent`` (both backends) answer deterministic text
    grounded in the request (see `omniembed.emulator.generation`); the Files API keeps
    uploads in ``emu.files``.

    Knobs (plain attributes; change them while it runs):

    - ``latency_ms``: delay before every answer (``asyncio.sleep``, other requests go on).
    - ``quotas``: requests per minute per route, e.g. ``{"batchEmbedContents": 600,
      "*": 1200}``; over quota answers the Gemini API's quota 429 (the exact wait in the
      message, ``RetryInfo.retryDelay`` in whole seconds, no ``Retry-After`` header; see
      docs/emulator.md). DashScope
      routes are ``multimodalEmbedding``, ``getPolicy`` and ``ossUpload``; over quota they
      answer 429 ``Throttling.RateQuota`` (DashScope sends no retry delay).
    - ``tier``: ``"free"``, ``"tier1"``, ``"tier2"`` or ``"tier3"``: the Gemini API's limits
      for every embedding model on the Gemini API routes (`model_quotas.TIER_PRESETS`),
      counted as the service counts them: each element of ``batchEmbedContents``'s
      ``requests[]`` is one request against RPM and RPD, tokens (the emulator's estimate)
      against TPM, in a sliding window of ``quota_window_sec``; RPD resets at midnight
      Pacific time. Over a limit: the service's 429 (``QuotaFailure`` violations, ``Help``,
      ``RetryInfo`` in whole seconds). Default None (no per-model limits).
    - ``model_quotas``: explicit per-model limits, e.g. ``{"gemini-embedding-001": {"rpm":
      100, "tpm": 30000, "rpd": 1000}}``; they win over ``tier`` field by field. Keys: a
      model id (every API), ``"gemini:<id>"``, ``"vertex:<id>"``, ``"dashscope:<id>"``, or
      ``"*"`` (every embedding model). Vertex and DashScope count one request per HTTP call
      and answer their own 429 shapes. `model_quotas.VERTEX_QUOTAS` holds Vertex's defaults.
    - ``quota_window_sec``: the RPM/TPM window (default 60; smaller for time-scaled tests).
    - ``faults``: per-request probabilities ``{"429", "500", "503", "reset", "slow"}`` plus
      ``slow_seconds`` (default 30) and ``retry_delay_s`` (default 1, the 429's delay),
      drawn from ``random.Random(seed)``; `inject` scripts exact outcomes first.
    - ``api_key``: when set, Gemini API requests need it in ``x-goog-api-key`` or ``?key=``,
      Vertex requests as ``Authorization: Bearer <key>`` or ``x-goog-api-key``, and DashScope
      requests as ``Authorization: Bearer <key>`` (the upload host checks the signature of a
      policy issued to a key holder; Files API data chunks carry their unguessable session
      id). Without the key a request's body is never read.
    - ``file_processing_sec``: how long an uploaded video or audio file stays
      ``PROCESSING`` before it turns ``ACTIVE`` (default 0.3; images, PDFs and text are
      ACTIVE at once). Read at upload time.
    - ``batch_step_sec``: how long a batch job (``asyncBatchEmbedContent``) stays PENDING,
      then RUNNING, before it finishes (default 0.2; read at creation). Jobs are in
      ``emu.batches``; a display name with ``[fail]`` or ``[expire]`` ends FAILED or EXPIRED.

    Constructor-only: ``log_max_records`` (default 10,000) and ``log_max_bytes`` (default
    64 MiB of parsed bodies) bound ``emu.requests``: the oldest records go first (None: no
    bound). Keys and bearer tokens are stored redacted (see `records.Redacted`).

    Use ``with Emulator() as emu:`` or `start`/`stop`; ``emu.base_url`` goes into
    ``types.HttpOptions(base_url=...)``; ``emu.requests`` lists what was received.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        latency_ms: float = 0,
        quotas: Mapping[str, float] | None = None,
        faults: Mapping[str, float] | None = None,
        api_key: str | None = None,
        seed: int = 0,
        file_processing_sec: float = 0.3,
        batch_step_sec: float = 0.2,
        tier: str | None = None,
        model_quotas: ModelQuotas | None = None,
        quota_window_sec: float = DEFAULT_WINDOW_SEC,
        log_max_records: int | None = DEFAULT_MAX_RECORDS,
        log_max_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        check_faults(faults)
        check_tier(tier)
        check_model_quotas(model_quotas)
        check_window(quota_window_sec)
        self.host = host
        self.port = port
        self.latency_ms = latency_ms
        self.quotas = quotas
        self.tier = tier
        self.model_quotas = model_quotas
        self.quota_window_sec = quota_window_sec
        self.faults = faults
        self.api_key = api_key
        self.seed = seed
        self.file_processing_sec = file_processing_sec
        #: Files API uploads (``emu.files.names()``, ``.get(name)``, ``.activate(name)``,
        #: ``.clear()``).
        self.files = FileStore(seed)
        self.batch_step_sec = batch_step_sec
        #: Batch jobs (``emu.batches.names()``, ``.get(name)``, ``.finish_now(name)``,
        #: ``.clear()``); their output files land in ``emu.files``.
        self.batches = BatchStore(self.files, seed)
        self._log = RequestLog(log_max_records, log_max_bytes)
        self._fault_plan = FaultPlan(seed)
        self._quota_book = QuotaBook()
        self._model_quota_book = ModelQuotaBook()
        self._dashscope = DashScopeService()
        #: Cloud Storage objects served at ``/storage/v1/b/{bucket}/o/{object}``, keyed by
        #: ``gs://bucket/object`` (so clients can read e.g. a video's length by range).
        self.gcs_objects: dict[str, bytes] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve from a daemon thread; returns self. Idempotent."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if os.name != "nt":  # on Windows SO_REUSEADDR would allow port hijacking
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except BaseException:  # OSError, or OverflowError for a port out of range
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []
        thread = threading.Thread(
            target=self._serve,
            args=(loop, sock, ready, failure),
            name="omniembed-emulator",
            daemon=True,
        )
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise RuntimeError(f"the emulator could not start: {failure[0]}") from failure[0]
        self._loop, self._thread = loop, thread
        logger.info("emulator serving on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (in-flight requests get a short grace)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        self._loop = self._thread = None
        logger.info("emulator on port %s stopped", self.port)

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (for the CLI)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _serve(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ready: threading.Event,
        failure: list[BaseException],
    ) -> None:
        asyncio.set_event_loop(loop)
        dispatcher = Dispatcher(
            self,
            self._log,
            self._fault_plan,
            self._quota_book,
            self._dashscope,
            self.files,
            self.batches,
            self._model_quota_book,
        )
        runner = web.AppRunner(
            dispatcher.application(), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S
        )
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(web.SockSite(runner, sock).start())
        except BaseException as exc:  # report to start() instead of dying silently
            failure.append(exc)
            sock.close()
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    # --- what tests look at -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (a wildcard host is shown as loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def requests(self) -> list[RequestRecord]:
        """Copies of the records of every request received so far, in arrival order."""
        return self._log.snapshot()

    @property
    def uploads(self) -> dict[str, int]:
        """DashScope uploads received so far: object key (``oss://`` + key) -> size."""
        return self._dashscope.uploaded()

    def clear_requests(self) -> None:
        self._log.clear()

    @property
    def request_log(self) -> RequestLog:
        """The bounded log behind `requests` (``max_records``, ``max_body_bytes``,
        ``body_bytes``, ``dropped``)."""
        return self._log

    def inject(self, *outcomes: str) -> None:
        """Script the next requests' outcomes, in order: "429", "500", "503", "reset",
        "slow" or "ok". They apply before (and instead of) random faults."""
        self._fault_plan.inject(*outcomes)

    def clear_injected(self) -> int:
        """Drop scripted outcomes no request used; return how many there were."""
        left = self._fault_plan.pending()
        self._fault_plan.clear()
        return left

    def reset_quotas(self) -> None:
        """Refill every quota bucket and empty every per-model window, day count and the
        `quota_usage` ledger (e.g. between test phases)."""
        self._model_quota_book.reset()
        loop = self._loop
        if loop is None:
            self._quota_book.reset()
        else:
            loop.call_soon_threadsafe(self._quota_book.reset)

    def quota_usage(self) -> dict[str, QuotaUsage]:
        """The per-model quota ledger since the last `reset_quotas`, keyed ``"{api}:{model}"``
        (``"gemini:gemini-embedding-001"``, ``"vertex:multimodalembedding"``,
        ``"dashscope:qwen3-vl-embedding"``): admitted ``calls``, ``items`` (RPM/RPD units),
        ``tokens`` (TPM units) and ``inputs``; ``rejected_calls`` and ``rejected_by``
        (``{"rpm": n, "tpm": n, "rpd": n}``); ``embedded_calls`` and ``embedded_inputs`` (admitted
        calls answered 200, and their inputs). Every embedding call is counted, with or
        without limits."""
        return self._model_quota_book.usage()

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        key = "set" if self.api_key else None
        return f"Emulator({state}, latency_ms={self.latency_ms}, api_key={key})"
