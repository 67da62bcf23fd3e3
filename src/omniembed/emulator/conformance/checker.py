"""Replay recorded exchanges against fresh emulators and compare the answers' shapes.

Each cassette's exchanges are a sequence (a Files API upload, then its use), so each
cassette is replayed in order against its own fresh `Emulator`; names the emulator gives
(upload URLs, file names) replace the recorded ones in later requests of that cassette.

Verdicts:

- ``match``: the recorded status, content type and response shape (keys, JSON kinds,
  list lengths; vectors by length; streams by their first and last event).
- ``drift``: the only differences are keys the real service itself sends only
  sometimes: for the same route (method and path with model and resource names as
  placeholders) and status class, recordings disagree on whether that key is there.
- ``differs``: anything else (status, content type, SSE framing, a key every recording
  has, a key none has, a kind or a length).
- ``not-emulated`` / ``retired``: see `catalogue`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import httpx

from ..server import Emulator
from .catalogue import Context, exclusion, is_google_api
from .recordings import Cassette, Exchange, find_cassettes, load_cassettes
from .shapes import Difference, compare, optional_keys

logger = logging.getLogger("omniembed.emulator.conformance")

Verdict = Literal["match", "drift", "differs", "not-emulated", "retired"]
VERDICTS: tuple[Verdict, ...] = ("match", "drift", "differs", "not-emulated", "retired")

#: Arrays whose length is not the request's to decide: how many parts an answer has
#: (thoughts, text, calls) follows what the model wrote; which models the service lists,
#: and what each supports, follow its catalogue that day.
FREE_LENGTH = frozenset(
    {"candidates[].content.parts", "models", "models[].supportedGenerationMethods"}
)
#: Structure the model generates: a function call's arguments follow the model's choices
#: (optional properties left out, arrays of any length), not a fixed shape.
OPAQUE = frozenset({"candidates[].content.parts[].functionCall.args"})
#: Recorded statuses the emulator reproduces by an injected fault (`Emulator.inject`).
INJECTABLE = frozenset({429, 500, 503})
#: Path segments followed by a resource name, and the placeholder that replaces it.
_PLACEHOLDERS = {
    "models": "{model}",
    "projects": "{project}",
    "locations": "{location}",
    "files": "{file}",
    "batches": "{batch}",
    "fileSearchStores": "{store}",
    "cachedContents": "{cache}",
    "operations": "{operation}",
    "documents": "{document}",
    "corpora": "{corpus}",
    "tunedModels": "{model}",
}
_RESOURCE = re.compile(r"/(" + "|".join(_PLACEHOLDERS) + r")/([^/:]+)")
#: Query parameters whose value picks the response format; others' values are ids.
_FORMAT_PARAMS = frozenset({"alt", "upload_protocol"})
#: How a difference line looks in a row: enough to act on, short enough for a table.
_SHOWN_DIFFERENCES = 5
_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Row:
    """The outcome of one recorded exchange."""

    name: str  # cassette#index
    method: str
    route: str  # path with placeholders (host first when not a Google API)
    recorded_status: int
    emulator_status: int | None  # None: not sent
    verdict: Verdict
    reason: str | None = None  # why not-emulated or retired
    differences: tuple[str, ...] = ()
    drift: tuple[str, ...] = ()  # key paths the recordings disagree on
    #: Identical exchanges elsewhere (same requests up to here, same recorded status).
    duplicates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """Every row, in recording order, plus totals."""

    root: str
    rows: tuple[Row, ...]
    cassettes: int
    exchanges: int  # recorded exchanges, duplicates included
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        """Rows per verdict (duplicates counted once, with their first occurrence)."""
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for row in self.rows:
            counts[row.verdict] += 1
        return counts

    @property
    def ok(self) -> bool:
        """No row differs."""
        return not any(row.verdict == "differs" for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "cassettes": self.cassettes,
            "exchanges": self.exchanges,
            "unique": len(self.rows),
            "seconds": round(self.seconds, 2),
            "counts": self.counts,
            "rows": [asdict(row) for row in self.rows],
        }


def route_pattern(exchange: Exchange) -> str:
    """The exchange's path with model ids and resource names as placeholders
    (``/v1beta/models/{model}:generateContent?alt=sse``); other hosts' paths keep the host."""
    parts = urlsplit(exchange.uri)
    path = _RESOURCE.sub(lambda m: f"/{m.group(1)}/{_PLACEHOLDERS[m.group(1)]}", parts.path)
    params = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{k}={v}" if k in _FORMAT_PARAMS else k for k, v in params if k != "key")
    shown = path + (f"?{query}" if query else "")
    return shown if is_google_api(exchange.host) else f"{exchange.host}{shown}"


def check(root: Path, *, only: str | None = None, workers: int | None = None) -> Report:
    """Replay every cassette under ``root`` (``only``: a glob over their relative paths)
    against fresh emulators and compare; see the module docstring for the verdicts.

    Which keys drift is learnt from every cassette under ``root``, selected or not."""
    started = time.perf_counter()
    everything = load_cassettes(root)
    selected = everything
    if only is not None:
        wanted = {p.relative_to(root).as_posix() for p in find_cassettes(root, only)}
        selected = [c for c in everything if c.path in wanted]
    optional = _optional_keys(e for c in everything for e in c.exchanges)
    first, duplicates = _dedupe(selected)
    todo = [c for c in selected if any(e.name in first for e in c.exchanges)]
    logger.info(
        "replaying %d of %d cassettes (%d exchanges, %d unique)",
        len(todo),
        len(selected),
        sum(len(c.exchanges) for c in selected),
        len(first),
    )
    workers = workers or min(4, (os.cpu_count() or 1) + 1)
    limits = httpx.Limits(max_connections=workers * 2, max_keepalive_connections=workers * 2)
    with (
        httpx.Client(timeout=_TIMEOUT_S, limits=limits) as client,
        ThreadPoolExecutor(workers, thread_name_prefix="conformance") as pool,
    ):
        results = list(pool.map(lambda c: _replay(c, client, optional), todo))
    rows = [
        _with_duplicates(row, duplicates.get(row.name, ()))
        for cassette_rows in results
        for row in cassette_rows
        if row.name in first
    ]
    return Report(
        root=str(root),
        rows=tuple(rows),
        cassettes=len(selected),
        exchanges=sum(len(c.exchanges) for c in selected),
        seconds=time.perf_counter() - started,
    )


def _with_duplicates(row: Row, names: Sequence[str]) -> Row:
    if not names:
        return row
    return Row(**{**asdict(row), "duplicates": tuple(names)})


def _dedupe(cassettes: Sequence[Cassette]) -> tuple[set[str], dict[str, list[str]]]:
    """The names of first occurrences, and each one's duplicates. Two exchanges are the
    same when their cassettes sent the same requests up to them and recorded the same
    status (so the emulator's state, and the expected answer, are the same too)."""
    first: dict[str, str] = {}
    duplicates: dict[str, list[str]] = defaultdict(list)
    for cassette in cassettes:
        digest = hashlib.sha256()
        for exchange in cassette.exchanges:
            for piece in (exchange.method, exchange.uri, str(exchange.response.status)):
                digest.update(piece.encode() + b"\0")
            digest.update(hashlib.sha256(exchange.body).digest())
            key = digest.copy().hexdigest()
            if key in first:
                duplicates[first[key]].append(exchange.name)
            else:
                first[key] = exchange.name
    return set(first.values()), duplicates


# --- drift: what the recordings disagree on --------------------------------------------------


def _group(exchange: Exchange, status: int) -> tuple[str, str, str]:
    return exchange.method, route_pattern(exchange), "ok" if status < 400 else "error"


def _documents(exchange: Exchange) -> list[Any]:
    """The JSON values an answer consists of: the body, or each event of a stream."""
    response = exchange.response
    if response.events is not None:
        return list(response.events)
    if isinstance(response.json, list):
        return response.json
    return [] if response.json is None else [response.json]


def _optional_keys(exchanges: Iterable[Exchange]) -> dict[tuple[str, str, str], frozenset[str]]:
    documents: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for exchange in exchanges:
        documents[_group(exchange, exchange.response.status)] += _documents(exchange)
    return {group: optional_keys(docs) for group, docs in documents.items()}


# --- replay -----------------------------------------------------------------------------------


@dataclass
class _Session:
    """One cassette's replay: its emulator and the names learnt so far."""

    emulator: Emulator
    client: httpx.Client
    #: Recorded text -> the emulator's (upload URLs, file names and URIs), longest first.
    renames: dict[str, str] = field(default_factory=dict)
    context: Context = field(default_factory=Context)

    def rename(self, text: str) -> str:
        for recorded, actual in self.renames.items():
            text = text.replace(recorded, actual)
        return text

    def learn(self, recorded: str | None, actual: str | None) -> None:
        if recorded and actual and recorded != actual:
            self.renames[recorded] = actual
            self.renames = dict(sorted(self.renames.items(), key=lambda kv: -len(kv[0])))


def _replay(
    cassette: Cassette,
    client: httpx.Client,
    optional: Mapping[tuple[str, str, str], frozenset[str]],
) -> list[Row]:
    rows = []
    with Emulator(file_processing_sec=0, batch_step_sec=0) as emulator:
        session = _Session(emulator, client)
        for exchange in cassette.exchanges:
            rows.append(_replay_one(exchange, session, optional))
            session.context.saw(exchange)
    logger.debug("%s: %d exchanges replayed", cassette.path, len(rows))
    return rows


def _replay_one(
    exchange: Exchange,
    session: _Session,
    optional: Mapping[tuple[str, str, str], frozenset[str]],
) -> Row:
    def row(verdict: Verdict, status: int | None, **details: Any) -> Row:
        recorded = exchange.response.status
        route = route_pattern(exchange)
        return Row(exchange.name, exchange.method, route, recorded, status, verdict, **details)

    excluded = exclusion(exchange, session.context)
    if excluded is not None and excluded.verdict == "not-emulated":
        return row("not-emulated", None, reason=excluded.reason)
    try:
        response = _send(exchange, session)
    except httpx.HTTPError as exc:
        return row("differs", None, differences=(f"no answer: {exc!r}",))
    _learn_names(exchange, response, session)
    status = response.status_code
    if excluded is not None:  # a retired model: the service's 404 now
        found = _error_status(response)
        if status == 404 and found == "NOT_FOUND":
            return row("retired", status, reason=excluded.reason)
        problem = f"a retired model must be 404 NOT_FOUND, got {status} {found}"
        return row("differs", status, reason=excluded.reason, differences=(problem,))
    problems, drift = _differences(exchange, response, optional)
    return row(
        "differs" if problems else "drift" if drift else "match",
        status,
        differences=tuple(problems[:_SHOWN_DIFFERENCES]),
        drift=tuple(sorted(set(drift))),
    )


def _send(exchange: Exchange, session: _Session) -> httpx.Response:
    # What the routes read: the body's type and the resumable-upload protocol. The
    # emulator runs without a key, so recorded (scrubbed) credentials are left out.
    headers = {
        name: value
        for name, value in exchange.headers.items()
        if name == "content-type" or name.startswith("x-goog-upload-")
    }
    body = exchange.body
    if session.renames and body:
        with contextlib.suppress(UnicodeDecodeError):  # media bytes: nothing to rename
            body = session.rename(body.decode("utf-8")).encode("utf-8")
    target = session.rename(exchange.uri)
    parts = urlsplit(target)
    if parts.scheme and parts.netloc and not target.startswith(session.emulator.base_url):
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        target = session.emulator.base_url + target
    if exchange.response.status in INJECTABLE:
        session.emulator.inject(str(exchange.response.status))
    return session.client.request(exchange.method, target, content=body, headers=headers)


def _learn_names(exchange: Exchange, response: httpx.Response, session: _Session) -> None:
    """Map what the service named in the recording to what the emulator named: the
    resumable-upload URL, and a file's name and URI."""
    session.learn(
        exchange.response.headers.get("x-goog-upload-url"),
        response.headers.get("x-goog-upload-url"),
    )
    recorded = exchange.response.json
    if not isinstance(recorded, dict) or not response.content:
        return
    try:
        actual = response.json()
    except ValueError:
        return
    recorded_file = recorded.get("file", recorded)
    actual_file = actual.get("file", actual) if isinstance(actual, dict) else None
    if not isinstance(recorded_file, dict) or not isinstance(actual_file, dict):
        return
    name = recorded_file.get("name")
    if isinstance(name, str) and name.startswith("files/"):
        session.context.uploaded.add(name)
        session.learn(recorded_file.get("uri"), actual_file.get("uri"))
        session.learn(name, actual_file.get("name"))


def _differences(
    exchange: Exchange,
    response: httpx.Response,
    optional: Mapping[tuple[str, str, str], frozenset[str]],
) -> tuple[list[str], list[str]]:
    """Real differences (as lines) and drifting key paths."""
    recorded = exchange.response
    if response.status_code != recorded.status:
        detail = f"status {recorded.status} recorded, {response.status_code} from the emulator"
        message = _error_message(response)
        return [f"{detail}: {message}" if message else detail], []
    problems: list[str] = []
    want_type, got_type = recorded.content_type, response.headers.get("content-type")
    if want_type and _media_type(want_type) != _media_type(got_type or ""):
        problems.append(f"content-type: expected {want_type!r}, got {got_type!r}")
    problems += [
        f"header {name}: missing"
        for name in recorded.headers
        if name.startswith("x-goog-upload-") and name not in response.headers
    ]
    shapes: list[Difference] = []
    if recorded.events is not None:
        events, framing = _sse_events(response)
        problems += framing
        shapes = _compare_stream(events, list(recorded.events)) if events else []
    elif recorded.json is not None:
        try:
            actual = response.json()
        except ValueError:
            return [*problems, "body: not JSON"], []
        if isinstance(recorded.json, list) and isinstance(actual, list):  # a JSON-array stream
            shapes = _compare_stream(actual, recorded.json)
        else:
            shapes = compare(actual, recorded.json, free_length=FREE_LENGTH, opaque=OPAQUE)
            problems += _error_status_difference(actual, recorded.json)
    drifting = optional.get(_group(exchange, recorded.status), frozenset())
    drift = []
    for difference in shapes:
        if difference.problem in ("missing", "unexpected") and difference.key_path in drifting:
            drift.append(difference.key_path)
        else:
            problems.append(str(difference))
    return problems, drift


def _compare_stream(actual: list[Any], recorded: list[Any]) -> list[Difference]:
    """The last events, and the first ones when both streams have several: how many
    chunks there are follows the answer's length, and a one-chunk answer's only event is
    a last one (it has the ``finishReason``)."""
    if not actual or not recorded:
        return compare(actual, recorded)
    rules: dict[str, Any] = {"free_length": FREE_LENGTH, "opaque": OPAQUE}
    found = compare(actual[-1], recorded[-1], path="$[-1]", **rules)
    if len(actual) > 1 and len(recorded) > 1:
        found = compare(actual[0], recorded[0], path="$[0]", **rules) + found
    return found


def _sse_events(response: httpx.Response) -> tuple[list[Any], list[str]]:
    """The events of an SSE answer and what is wrong with its framing
    (``data: {json}`` frames, each ended by CRLF CRLF)."""
    text = response.text
    if not text.endswith("\r\n\r\n"):
        return [], ["SSE framing: the body does not end with CRLF CRLF"]
    events = []
    for i, frame in enumerate(text[:-4].split("\r\n\r\n")):
        if not frame.startswith("data: "):
            return [], [f"SSE framing: event {i} does not start with 'data: '"]
        try:
            events.append(json.loads(frame[6:]))
        except ValueError:
            return [], [f"SSE framing: event {i} is not JSON"]
    return events, []


def _error_status_difference(actual: Any, recorded: Any) -> list[str]:
    """Error answers must name the same status (``INVALID_ARGUMENT``, ``NOT_FOUND``)."""
    if not (isinstance(actual, dict) and isinstance(recorded, dict)):
        return []
    want, got = _status_of(recorded), _status_of(actual)
    return [f"$.error.status: expected {want!r}, got {got!r}"] if want != got else []


def _status_of(body: Mapping[str, Any]) -> Any:
    error = body.get("error")
    return error.get("status") if isinstance(error, dict) else None


def _error_status(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return None
    return _status_of(body) if isinstance(body, dict) else None


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return " ".join(str(message).split())[:200] if message else ""


def _media_type(content_type: str) -> str:
    return content_type.replace(" ", "").lower()
