"""The aiohttp application: one dispatcher that records, delays, faults, authenticates,
rate-limits and finally runs a route handler.

Order per request: route lookup, key check and body-size check from the headers alone (a
request without the configured key, or whose ``Content-Length`` is over the route's limit,
has its body left unread; see `limits`) -> read and parse the body -> record (credentials
redacted, see `records`) -> latency -> fault (scripted, then random) -> unknown route (404)
-> auth -> per-route quota -> body size -> per-model quota (embedding routes; see
`model_quotas`) -> body checks -> handler. Faults model the network and Google's front end,
so they hit every request, routed or not, and injected faults do not use quota.
Handlers are synchronous (decoding video, hashing, JSON encoding) and run in the loop's
thread pool so one heavy request never stalls the others. ``streamGenerateContent`` computes
all its chunks first (so validation errors are ordinary error answers), then writes them
as SSE events (``?alt=sse``) or one JSON array; faults, auth and quota apply before any
byte is sent, so a "reset" fault drops the connection before the first chunk. Files API
data chunks need no API key: their upload URL (an unguessable session id) is the session's
credential, as on Google's resumable uploads. The OSS upload host needs none either: it
checks the policy signature `getPolicy` (which needs the key) issued. On DashScope
paths (``/api/...`` and the upload host) every error is answered in DashScope's shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import socket
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import web

from . import routes_gemini, routes_generate, routes_vertex
from .auth import check_auth
from .batches import BatchStore
from .dashscope_errors import JSON_CONTENT_TYPE as DASHSCOPE_JSON
from .dashscope_errors import dashscope_body, invalid_parameter, rate_quota
from .faults import FaultPlan, fault_setting
from .files_api import FilesRequest, FileStore, Reply
from .gcs import gcs_response
from .generation_models import generation_model
from .google_errors import (
    JSON_CONTENT_TYPE,
    GoogleError,
    internal,
    invalid_argument,
    method_not_found,
    resource_exhausted,
    unavailable,
    vertex_resource_exhausted,
)
from .jsonio import dumps
from .limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, RAW_BODY_ROUTES, body_limit, too_deep
from .media_errors import MediaDecodeError
from .model_quotas import Cost, ModelQuotaBook, ModelQuotas, resolve_limits
from .quota_costs import call_cost, quota_subject
from .quota_errors import quota_error
from .quotas import QuotaBook
from .records import RequestLog, RequestRecord, redact_headers, redact_query
from .routes_batches import BATCH_ROUTES, DOWNLOAD_ROUTE, BatchService
from .routes_dashscope import DashScopeCall, DashScopeService, OssError
from .routing import DASHSCOPE_UNPREFIXED, FILES_ROUTES, Call, is_dashscope_path, resolve

logger = logging.getLogger("omniembed.emulator")

#: Routes that take no API key: the OSS upload checks its policy signature, a Files API
#: data chunk its upload session id. Google documents the resumable-upload session URI as
#: the credential of the upload, usable without further authentication
#: (cloud.google.com/storage/docs/resumable-uploads, the protocol the Files API speaks);
#: OSS PostObject is authorized by the signed policy, not the caller's API key
#: (alibabacloud.com/help/en/oss/developer-reference/postobject).
NO_AUTH_ROUTES = frozenset({"ossUpload", "uploadFileData"})
SSE_CONTENT_TYPE = "text/event-stream"

HANDLERS = {
    **{("gemini", name): handler for name, handler in routes_gemini.HANDLERS.items()},
    **{("vertex", name): handler for name, handler in routes_vertex.HANDLERS.items()},
}


class Settings(Protocol):
    """The knobs a running emulator reads on every request (tests may change them)."""

    latency_ms: float
    quotas: Mapping[str, float] | None
    tier: str | None
    model_quotas: ModelQuotas | None
    quota_window_sec: float
    faults: Mapping[str, float] | None
    api_key: str | None
    file_processing_sec: float
    batch_step_sec: float

    @property
    def gcs_objects(self) -> Mapping[str, bytes]: ...


class _Reset(Exception):
    """Drop the connection without answering."""


class _Events:
    """A streamed answer: JSON events the dispatcher writes as SSE."""

    def __init__(self, events: list[bytes]) -> None:
        self.events = events


@dataclass(frozen=True)
class _Wire:
    """What the handlers need from one request: the raw (unredacted) headers and query,
    the body and its parse, and an error decided before the body was read."""

    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    json: Any
    json_error: str | None
    host: str
    refusal: GoogleError | None


class Dispatcher:
    """Answers every request of one emulator."""

    def __init__(
        self,
        settings: Settings,
        log: RequestLog,
        faults: FaultPlan,
        quotas: QuotaBook,
        dashscope: DashScopeService | None = None,
        files: FileStore | None = None,
        batches: BatchStore | None = None,
        model_quotas: ModelQuotaBook | None = None,
    ) -> None:
        self._settings = settings
        self._log = log
        self._faults = faults
        self._quotas = quotas
        self._model_quotas = model_quotas or ModelQuotaBook()
        self._dashscope = dashscope or DashScopeService()
        self._files = files or FileStore()
        self._batches = BatchService(batches or BatchStore(self._files), self._files)

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.rel_url.raw_path)
        call = resolve(request.method, path, request.query)
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query)
        body, refusal = await self._read_body(request, call, headers, query)
        parsed: Any = None
        json_error: str | None = None
        if call is None or call.route not in RAW_BODY_ROUTES:
            parsed, json_error = _parse_json(body)
        record = RequestRecord(
            method=request.method,
            path=path,
            query=redact_query(query),
            headers=redact_headers(headers),
            json=parsed,
            route=call.route if call else None,
            body_size=len(body) if refusal is None else (request.content_length or len(body)),
            received_at=time.monotonic(),
        )
        self._log.add(record)
        wire = _Wire(headers, query, body, parsed, json_error, request.host, refusal)
        try:
            answer = await self._answer(record, call, wire)
            if isinstance(answer, _Events):
                return await _stream(request, record, answer)
            response = answer
        except _Reset:
            _abort(request)
            record.status = "reset"
            logger.debug("%s %s -> connection reset", request.method, path)
            return web.Response(status=500)  # never sent: the connection is gone
        except OssError as error:
            response = web.Response(
                status=error.code, body=error.xml(), headers={"Content-Type": "application/xml"}
            )
        except GoogleError as error:
            if is_dashscope_path(path):
                response = dashscope_error_response(error)
            else:
                response = error_response(error)
        except asyncio.CancelledError:  # stop() while in flight: the client sees a disconnect
            record.status = "reset"
            raise
        record.status = response.status
        elapsed_ms = (time.monotonic() - record.received_at) * 1000
        logger.debug("%s %s -> %s (%.0f ms)", request.method, path, response.status, elapsed_ms)
        return response

    async def _read_body(
        self,
        request: web.Request,
        call: Call | None,
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> tuple[bytes, GoogleError | None]:
        """The body, or ``b""`` and the error to answer later when it must not be read: the
        configured key is missing or wrong (checked from the headers alone), or the body is
        over the route's limit. An unread body is drained and discarded by aiohttp after
        the answer, a chunk at a time, so it never sits in memory."""
        if call is not None and call.route not in NO_AUTH_ROUTES:
            api = "vertex" if call.api == "gcs" else call.api
            denied = check_auth(api, self._settings.api_key, headers, query)
            if denied is not None:
                return b"", denied
        limit = body_limit(call)
        declared = request.content_length
        if declared is not None and declared > limit:
            return b"", _too_large(call, limit)
        if declared is not None:
            return await request.read(), None
        received = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            received += chunk
            if len(received) > limit:
                return b"", _too_large(call, limit)
        return bytes(received), None

    async def _answer(
        self, record: RequestRecord, call: Call | None, wire: _Wire
    ) -> web.Response | _Events:
        settings = self._settings
        parsed, json_error, body, host = wire.json, wire.json_error, wire.body, wire.host
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        faults = settings.faults
        try:
            outcome = self._faults.next_outcome(faults)
        except ValueError as exc:  # a test assigned a bad `faults` mapping
            raise internal(f"omniembed emulator: invalid faults setting: {exc}") from None
        if outcome == "reset":
            raise _Reset
        if outcome == "slow":
            await asyncio.sleep(fault_setting(faults, "slow_seconds"))
        elif outcome == "429":
            if call is not None and call.api == "vertex":
                raise vertex_resource_exhausted()
            raise resource_exhausted(fault_setting(faults, "retry_delay_s"))
        elif outcome == "500":
            raise internal()
        elif outcome == "503":
            raise unavailable()
        if call is None:
            if record.path.startswith(DASHSCOPE_UNPREFIXED):
                raise GoogleError(
                    404,
                    f"{record.path} is not a DashScope route here: DashScope's API is under "
                    f"/api/v1 (base_url='http://{host}/api/v1')",
                )
            raise method_not_found(record.method, record.path)
        if call.route not in NO_AUTH_ROUTES:
            api = "vertex" if call.api == "gcs" else call.api  # Cloud Storage: Google OAuth too
            denied = check_auth(api, settings.api_key, wire.headers, wire.query)
            if denied is not None:
                raise denied
        wait = self._quotas.take(settings.quotas, call.route)
        if wait > 0:
            if call.api == "dashscope":
                raise rate_quota()
            raise vertex_resource_exhausted() if call.api == "vertex" else resource_exhausted(wait)
        if wire.refusal is not None:  # over the route's body limit (the body was not read)
            raise wire.refusal
        loop = asyncio.get_running_loop()
        subject = quota_subject(call, parsed) if json_error is None else None
        cost: Cost | None = None
        if subject is not None:
            cost = await loop.run_in_executor(None, call_cost, call, parsed)
            try:
                limits = resolve_limits(*subject, settings.tier, settings.model_quotas)
                rejection = self._model_quotas.admit(
                    *subject, limits, cost, settings.quota_window_sec
                )
            except ValueError as exc:  # a test assigned a bad quota setting
                raise internal(f"omniembed emulator: invalid quota setting: {exc}") from None
            if rejection is not None:
                raise quota_error(rejection, settings.tier)
        if call.api == "gcs":
            assert call.resource is not None
            return gcs_response(settings.gcs_objects, call.resource, wire.query, wire.headers)
        if call.api == "dashscope":
            ds_call = DashScopeCall(
                call.route, wire.headers, wire.query, body, parsed, json_error, f"http://{host}"
            )
            answer = await loop.run_in_executor(None, _run_dashscope, self._dashscope, ds_call)
            if subject is not None and cost is not None and answer.status == 200:
                self._model_quotas.embedded(*subject, cost)
            payload = answer.body if isinstance(answer.body, bytes) else dumps(answer.body)
            return web.Response(
                status=answer.status, body=payload, headers={"Content-Type": answer.content_type}
            )
        if call.route in FILES_ROUTES:
            files_request = FilesRequest(
                call.route,
                call.resource,
                wire.headers,
                wire.query,
                body,
                parsed,
                f"http://{host}",
                call.version,
            )
            reply = await loop.run_in_executor(
                None, self._files.handle, files_request, settings.file_processing_sec
            )
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        if json_error is not None:
            raise invalid_argument(json_error)
        if call.route in BATCH_ROUTES or call.route == DOWNLOAD_ROUTE:
            reply = await loop.run_in_executor(
                None, _run_batches, self._batches, call, wire.query, parsed, settings
            )
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        if call.route in routes_generate.GENERATE_ROUTES:
            return await self._generate(call, wire.query, parsed)
        if call.route == "listModels":
            payload = dumps(routes_gemini.list_models(call, wire.query))
            return web.Response(body=payload, headers={"Content-Type": JSON_CONTENT_TYPE})
        if call.route == "countTokens" and (
            call.api == "vertex" or generation_model(call.model or "") is not None
        ):
            return await self._count_tokens(call, parsed)
        handler = HANDLERS[(call.api, call.route)]
        payload = await loop.run_in_executor(None, _run_handler, handler, call, parsed)
        if subject is not None and cost is not None:
            self._model_quotas.embedded(*subject, cost)
        return web.Response(body=payload, headers={"Content-Type": JSON_CONTENT_TYPE})

    async def _count_tokens(self, call: Call, parsed: Any) -> web.Response:
        """``countTokens`` of a generation model (its fileData resolve like generation's)."""
        sources = routes_generate.Sources(self._files, self._settings.gcs_objects)
        handler = functools.partial(routes_generate.count_tokens, sources=sources)
        loop = asyncio.get_running_loop()
        payload = await loop.run_in_executor(None, _run_handler, handler, call, parsed)
        return web.Response(body=payload, headers={"Content-Type": JSON_CONTENT_TYPE})

    async def _generate(
        self, call: Call, query: Mapping[str, str], parsed: Any
    ) -> web.Response | _Events:
        sources = routes_generate.Sources(self._files, self._settings.gcs_objects)
        body = {} if parsed is None else parsed
        loop = asyncio.get_running_loop()
        if call.route == "generateContent":
            handler = functools.partial(routes_generate.generate_content, sources=sources)
            payload = await loop.run_in_executor(None, _run_handler, handler, call, body)
            return web.Response(body=payload, headers={"Content-Type": JSON_CONTENT_TYPE})
        chunks = await loop.run_in_executor(
            None, _run_stream, routes_generate.stream_generate_content, call, body, sources
        )
        if query.get("alt") == "sse":
            return _Events([dumps(chunk) for chunk in chunks])
        # Without alt=sse the service streams one JSON array of the same responses.
        return web.Response(body=dumps(chunks), headers={"Content-Type": JSON_CONTENT_TYPE})


def _run_handler(handler: Callable[[Call, Any], Any], call: Call, body: Any) -> bytes:
    try:
        return dumps(handler(call, {} if body is None else body))
    except GoogleError:
        raise
    except MediaDecodeError as exc:  # bytes that pass the probe but do not decode
        raise _undecodable(exc) from None
    except Exception as exc:  # a bug in the emulator: answer like Google, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


def _run_batches(
    service: BatchService, call: Call, query: Mapping[str, str], body: Any, settings: Settings
) -> Reply:
    try:
        return service.handle(call, query, body, settings.batch_step_sec)
    except GoogleError:
        raise
    except MediaDecodeError as exc:  # bytes that pass the probe but do not decode
        raise _undecodable(exc) from None
    except Exception as exc:  # a bug in the emulator: answer like Google, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


def _run_stream(
    handler: Callable[[Call, Any, routes_generate.Sources], list[dict[str, Any]]],
    call: Call,
    body: Any,
    sources: routes_generate.Sources,
) -> list[dict[str, Any]]:
    try:
        return handler(call, body, sources)
    except GoogleError:
        raise
    except MediaDecodeError as exc:  # bytes that pass the probe but do not decode
        raise _undecodable(exc) from None
    except Exception as exc:  # a bug in the emulator: answer like Google, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


async def _stream(
    request: web.Request, record: RequestRecord, answer: _Events
) -> web.StreamResponse:
    """Write the events as ``data: {json}`` + CRLF CRLF frames, as the service does."""
    response = web.StreamResponse(
        headers={"Content-Type": SSE_CONTENT_TYPE, "Content-Disposition": "attachment"}
    )
    await response.prepare(request)
    record.status = response.status
    try:
        for event in answer.events:
            await response.write(b"data: " + event + b"\r\n\r\n")
        await response.write_eof()
    except ConnectionError:  # the client went away mid-stream
        record.status = "reset"
    logger.debug(
        "%s %s -> %s (SSE, %d events)", request.method, record.path, 200, len(answer.events)
    )
    return response


def _run_dashscope(service: DashScopeService, call: DashScopeCall) -> Any:
    try:
        return service.handle(call)
    except GoogleError:
        raise
    except MediaDecodeError as exc:  # bytes that pass the probe but do not decode
        raise _undecodable(exc) from None
    except Exception as exc:  # a bug in the emulator: answer like DashScope, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


def _undecodable(exc: MediaDecodeError) -> GoogleError:
    """Media the emulator cannot decode is bad input, never a 500 (clients retry 5xx).
    Google answers such media with a plain 400 INVALID_ARGUMENT ("Unable to process input
    image. Please retry or report in ...", google-gemini/gemini-cli#5064; "Request contains
    an invalid argument.", google-gemini/gemini-cli#14838)."""
    logger.debug("undecodable media: %s", exc)
    return invalid_argument(f"Request contains an invalid argument. Unable to process input: {exc}")


def dashscope_error_response(error: GoogleError) -> web.Response:
    headers = {"Content-Type": DASHSCOPE_JSON}
    return web.Response(status=error.code, body=dumps(dashscope_body(error)), headers=headers)


def error_response(error: GoogleError) -> web.Response:
    headers = {"Content-Type": JSON_CONTENT_TYPE, **error.headers}
    return web.Response(status=error.code, body=dumps(error.body()), headers=headers)


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    """The parsed body and None, or None and Google's "Invalid JSON payload received."
    message (answered 400 by the route, in DashScope's shape on DashScope routes)."""
    if not body.strip():
        return None, None
    try:
        value = json.loads(body, parse_constant=_no_constant)
    except RecursionError:  # nesting deeper than Python's stack: not a 500
        return None, _TOO_DEEP
    except _BareConstant as exc:
        return None, _unexpected_token(body, exc.token)
    except (ValueError, UnicodeDecodeError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})"
        return None, f"Invalid JSON payload received.{where}"
    if too_deep(value):
        return None, _TOO_DEEP
    return value, None


class _BareConstant(ValueError):
    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.token = token


def _no_constant(token: str) -> Any:
    """Python reads ``NaN``, ``Infinity`` and ``-Infinity``; JSON (RFC 8259) and Google's
    parser do not."""
    raise _BareConstant(token)


def _unexpected_token(body: bytes, token: str) -> str:
    """Google's words for a bare ``NaN``/``Infinity``: the 20 characters either side of it
    and a caret under it, as users post them from the Gemini API (google-genai
    ``ClientError: 400 INVALID_ARGUMENT ... 'Invalid JSON payload received. Unexpected
    token.\\n75, "Cocoa (CC=F)": NaN, "Coffee (KC=F)"\\n                    ^'``) and from
    other Google APIs on the same front end (BigQuery's insertAll: ``Unexpected token.
    association_score": NaN, "trial_weight":`` with the caret under ``NaN``)."""
    text = body.decode("utf-8", "replace")
    # The first occurrence outside a string literal (strings are skipped whole).
    tokens = re.finditer(r'"(?:[^"\\]|\\.)*"|' + re.escape(token), text)
    at = next((m.start() for m in tokens if not m.group().startswith('"')), 0)
    start = max(0, at - 20)
    snippet = text[start : at + 20]
    return f"Invalid JSON payload received. Unexpected token.\n{snippet}\n{' ' * (at - start)}^"


_TOO_DEEP = (
    "Invalid JSON payload received. Message too deep. Max recursion depth reached "
    f"({MAX_JSON_DEPTH} levels)."
)


def _too_large(call: Call | None, limit: int) -> GoogleError:
    if call is not None and call.route == "ossUpload":
        return OssError(
            400,
            "EntityTooLarge",
            f"Your proposed upload exceeds the maximum allowed size ({limit} bytes).",
        )
    if call is not None and call.api == "dashscope":
        return invalid_parameter(f"Request payload size exceeds the limit: {limit} bytes.")
    return invalid_argument(f"Request payload size exceeds the limit: {limit} bytes.")


def _abort(request: web.Request) -> None:
    """Close the TCP connection with an RST (SO_LINGER 0), so the client sees a reset."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Not every platform allows it; a plain abort still drops the connection.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
