"""The aiohttp application: one dispatcher that records, delays, faults, authenticates,
rate-limits and finally runs a route handler.

Order per request: record -> latency -> fault (scripted, then random) -> route lookup (404)
-> auth -> quota -> body checks -> handler. Faults model the network and Google's front
end, so they hit every request, routed or not, and injected faults do not use quota.
Handlers are synchronous (decoding video, hashing, JSON encoding) and run in the loop's
thread pool so one heavy request never stalls the others. On DashScope paths (``/api/...``
and the upload host) every error is answered in DashScope's shape instead of Google's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import unquote

from aiohttp import web

from . import routes_gemini, routes_vertex
from .auth import check_auth
from .dashscope_errors import JSON_CONTENT_TYPE as DASHSCOPE_JSON
from .dashscope_errors import dashscope_body, rate_quota
from .faults import FaultPlan, fault_setting
from .gcs import gcs_response
from .google_errors import (
    JSON_CONTENT_TYPE,
    GoogleError,
    internal,
    invalid_argument,
    method_not_found,
    resource_exhausted,
    unavailable,
)
from .jsonio import dumps
from .models import MAX_GEMINI_REQUEST_BYTES
from .quotas import QuotaBook
from .records import RequestLog, RequestRecord
from .routes_dashscope import DashScopeCall, DashScopeService
from .routing import Call, is_dashscope_path, resolve

logger = logging.getLogger("omniembed.emulator")

#: aiohttp refuses bodies above this; the Gemini API's own 20 MB limit is checked per route.
MAX_BODY_BYTES = 128 * 1024 * 1024

HANDLERS = {
    **{("gemini", name): handler for name, handler in routes_gemini.HANDLERS.items()},
    **{("vertex", name): handler for name, handler in routes_vertex.HANDLERS.items()},
}


class Settings(Protocol):
    """The knobs a running emulator reads on every request (tests may change them)."""

    latency_ms: float
    quotas: Mapping[str, float] | None
    faults: Mapping[str, float] | None
    api_key: str | None

    @property
    def gcs_objects(self) -> Mapping[str, bytes]: ...


class _Reset(Exception):
    """Drop the connection without answering."""


class Dispatcher:
    """Answers every request of one emulator."""

    def __init__(
        self,
        settings: Settings,
        log: RequestLog,
        faults: FaultPlan,
        quotas: QuotaBook,
        dashscope: DashScopeService | None = None,
    ) -> None:
        self._settings = settings
        self._log = log
        self._faults = faults
        self._quotas = quotas
        self._dashscope = dashscope or DashScopeService()

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        path = unquote(request.rel_url.raw_path)
        call = resolve(request.method, path)
        parsed, json_error = _parse_json(body)
        record = RequestRecord(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=parsed,
            route=call.route if call else None,
            body_size=len(body),
            received_at=time.monotonic(),
        )
        self._log.add(record)
        try:
            response = await self._answer(record, call, parsed, json_error, body, request.host)
        except _Reset:
            _abort(request)
            record.status = "reset"
            logger.debug("%s %s -> connection reset", request.method, path)
            return web.Response(status=500)  # never sent: the connection is gone
        except GoogleError as error:
            if is_dashscope_path(path):
                response = dashscope_error_response(error)
            else:
                response = error_response(error)
        except asyncio.CancelledError:  # stop() while in flight: the client sees a disconnect
            record.status = "reset"
            raise
        record.status = response.status
        logger.debug("%s %s -> %s", request.method, path, response.status)
        return response

    async def _answer(
        self,
        record: RequestRecord,
        call: Call | None,
        parsed: Any,
        json_error: str | None,
        body: bytes,
        host: str,
    ) -> web.Response:
        settings = self._settings
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
            raise resource_exhausted(fault_setting(faults, "retry_delay_s"))
        elif outcome == "500":
            raise internal()
        elif outcome == "503":
            raise unavailable()
        if call is None:
            raise method_not_found(record.method, record.path)
        if call.route != "ossUpload":  # OSS checks the policy signature, not the API key
            api = "vertex" if call.api == "gcs" else call.api  # Cloud Storage: Google OAuth too
            denied = check_auth(api, settings.api_key, record.headers, record.query)
            if denied is not None:
                raise denied
        wait = self._quotas.take(settings.quotas, call.route)
        if wait > 0:
            raise rate_quota() if call.api == "dashscope" else resource_exhausted(wait)
        if call.api == "gcs":
            assert call.resource is not None
            return gcs_response(settings.gcs_objects, call.resource, record.query, record.headers)
        loop = asyncio.get_running_loop()
        if call.api == "dashscope":
            ds_call = DashScopeCall(
                call.route, record.headers, record.query, body, parsed, json_error, f"http://{host}"
            )
            answer = await loop.run_in_executor(None, _run_dashscope, self._dashscope, ds_call)
            payload = answer.body if isinstance(answer.body, bytes) else dumps(answer.body)
            return web.Response(
                status=answer.status, body=payload, headers={"Content-Type": answer.content_type}
            )
        if call.api == "gemini" and record.body_size > MAX_GEMINI_REQUEST_BYTES:
            raise invalid_argument(
                f"Request payload size exceeds the limit: {MAX_GEMINI_REQUEST_BYTES} bytes."
            )
        if json_error is not None:
            raise invalid_argument(json_error)
        handler = HANDLERS[(call.api, call.route)]
        payload = await loop.run_in_executor(None, _run_handler, handler, call, parsed)
        return web.Response(body=payload, headers={"Content-Type": JSON_CONTENT_TYPE})


def _run_handler(handler: routes_gemini.Handler, call: Call, body: Any) -> bytes:
    try:
        return dumps(handler(call, {} if body is None else body))
    except GoogleError:
        raise
    except Exception as exc:  # a bug in the emulator: answer like Google, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


def _run_dashscope(service: DashScopeService, call: DashScopeCall) -> Any:
    try:
        return service.handle(call)
    except GoogleError:
        raise
    except Exception as exc:  # a bug in the emulator: answer like DashScope, log the traceback
        logger.exception("emulator handler %s failed", call.route)
        raise internal(f"omniembed emulator error in {call.route}: {exc!r}") from exc


def dashscope_error_response(error: GoogleError) -> web.Response:
    headers = {"Content-Type": DASHSCOPE_JSON}
    return web.Response(status=error.code, body=dumps(dashscope_body(error)), headers=headers)


def error_response(error: GoogleError) -> web.Response:
    headers = {"Content-Type": JSON_CONTENT_TYPE, **error.headers}
    return web.Response(status=error.code, body=dumps(error.body()), headers=headers)


def _parse_json(body: bytes) -> tuple[Any, str | None]:
    if not body.strip():
        return None, None
    try:
        return json.loads(body), None
    except (ValueError, UnicodeDecodeError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})"
        return None, f"Invalid JSON payload received.{where}"


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
