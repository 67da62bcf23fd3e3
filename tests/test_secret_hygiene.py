"""Keys and tokens never leave the object that holds them (DESIGN.md §5).

Every public class that takes a credential — the three provider embedders, the generator,
the LlamaIndex and LangChain adapters — is checked with recognisable fake secrets that the
emulator really accepts, so full calls run: the secret must not appear in repr/str, in
any log record at DEBUG (ours, httpx/httpcore, google-genai, dashscope, urllib3, ...), in
warnings, in the message, repr or traceback of a service error or a local error, in
pickles (the provider clients refuse to be pickled), in LlamaIndex ``to_json``/``to_dict``
or in LangChain ``dumps``.
"""

from __future__ import annotations

import logging
import pickle
import socket
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from langchain_core.load import dumpd, dumps
from llama_index.core.llms import ChatMessage
from pydantic import SecretStr

from omniembed import (
    AuthenticationError,
    DashScopeEmbedder,
    GeminiEmbedder,
    InvalidParameterError,
    Media,
    OmniEmbedError,
    RetryPolicy,
    VertexMultiModalEmbedder,
)
from omniembed.emulator import Emulator
from omniembed.generation import GenerationConfig, Message
from omniembed.langchain import (
    ChatGemini,
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from omniembed.llama_index import (
    DashScopeMultiModalEmbedding,
    GeminiMultiModalEmbedding,
    GeminiMultiModalLLM,
    VertexMultiModalEmbedding,
)
from omniembed.providers.gemini_llm import GeminiGenerator
from tests import media_factory as make

GEMINI_KEY = "AIzaSy-FAKE-omniembed-gemini-9f3c1a"
DASHSCOPE_KEY = "sk-FAKE-omniembed-dashscope-5d7e2b"
VERTEX_TOKEN = "ya29.FAKE-omniembed-vertex-token-3a8f"
SECRETS = (GEMINI_KEY, DASHSCOPE_KEY, VERTEX_TOKEN)
# The parts that make each secret unique: a leak of a fragment (a prefix cut for a log
# line, a base64 or URL-quoted copy split differently) still contains one of these.
MARKERS = ("9f3c1a", "5d7e2b", "3a8f", "FAKE-omniembed")

FAST = RetryPolicy(max_retries=2, initial_delay=0.01, max_delay=0.02)
PNG = make.png(size=(16, 16))


def assert_clean(value: object, where: str) -> None:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    leaked = [m for m in MARKERS if m in text]
    assert not leaked, f"a secret leaked into {where}: {leaked}"


def assert_error_clean(exc: BaseException, where: str) -> None:
    assert_clean(str(exc), f"{where}: str(exc)")
    assert_clean(repr(exc), f"{where}: repr(exc)")
    assert_clean(repr(exc.args), f"{where}: exc.args")
    # The traceback text includes every chained cause (google-genai / dashscope errors).
    assert_clean("".join(traceback.format_exception(exc)), f"{where}: traceback")
    try:
        data = pickle.dumps(exc)
    except Exception:  # an unpicklable error cannot leak through a pickle
        return
    assert_clean(data, f"{where}: pickled exception")


# --- the subjects -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    id: str
    #: The secret the emulator must see for a call to succeed.
    secret: str
    build: Callable[[Emulator], Any]
    #: A full round trip through the emulator (embed, chat, upload...).
    call: Callable[[Any, Path], object]
    #: Something rejected locally, before any request.
    local_error: Callable[[Any], object]
    kind: str  # "provider", "llama_index" or "langchain"


def _video(tmp: Path) -> Path:
    path = tmp / "clip.mp4"
    path.write_bytes(make.video(2, fps=1, size=16))
    return path


def _image(tmp: Path) -> Path:
    path = tmp / "red.png"
    path.write_bytes(PNG)
    return path


def _user(*parts: Any) -> list[Message]:
    return [Message("user", list(parts))]


def _generator_calls(llm: GeminiGenerator, tmp: Path) -> None:
    llm.generate(_user("describe", Media.from_bytes(PNG)))
    list(llm.stream(_user("hello")))
    llm.upload_file(Media.from_path(_image(tmp)))  # the Files API's resumable upload


def _bad_tool_choice(llm: GeminiGenerator) -> object:
    return llm.generate(_user("hi"), config=GenerationConfig(tool_choice="nope"))


SUBJECTS = [
    Subject(
        "GeminiEmbedder",
        GEMINI_KEY,
        lambda emu: GeminiEmbedder(api_key=GEMINI_KEY, base_url=emu.base_url, retry_policy=FAST),
        lambda e, tmp: e.embed(["a text", Media.from_path(_image(tmp))]),
        lambda e: e.embed([""]),
        "provider",
    ),
    Subject(
        "GeminiEmbedder-vertex",
        VERTEX_TOKEN,
        lambda emu: GeminiEmbedder(
            vertexai=True,
            project="proj",
            location="us-central1",
            access_token=VERTEX_TOKEN,
            base_url=emu.base_url,
            retry_policy=FAST,
        ),
        lambda e, tmp: e.embed(["a text", Media.from_bytes(PNG)]),
        lambda e: e.embed([""]),
        "provider",
    ),
    Subject(
        "VertexMultiModalEmbedder",
        VERTEX_TOKEN,
        lambda emu: VertexMultiModalEmbedder(
            project="proj",
            access_token=VERTEX_TOKEN,
            base_url=emu.base_url,
            retry_policy=FAST,
            requests_per_minute=None,
        ),
        lambda e, tmp: e.embed(["a text", Media.from_bytes(PNG), Media.from_path(_video(tmp))]),
        lambda e: e.embed([""]),
        "provider",
    ),
    Subject(
        "DashScopeEmbedder",
        DASHSCOPE_KEY,
        lambda emu: DashScopeEmbedder(
            api_key=DASHSCOPE_KEY, base_url=emu.base_url + "/api/v1", retry_policy=FAST
        ),
        # The local video goes through the upload flow, which sends the key once more.
        lambda e, tmp: e.embed(["a text", Media.from_bytes(PNG), Media.from_path(_video(tmp))]),
        lambda e: e.embed([""]),
        "provider",
    ),
    Subject(
        "GeminiGenerator",
        GEMINI_KEY,
        lambda emu: GeminiGenerator(api_key=GEMINI_KEY, base_url=emu.base_url, retry_policy=FAST),
        _generator_calls,
        _bad_tool_choice,
        "provider",
    ),
    Subject(
        "llama_index.GeminiMultiModalEmbedding",
        GEMINI_KEY,
        lambda emu: GeminiMultiModalEmbedding(api_key=SecretStr(GEMINI_KEY), base_url=emu.base_url),
        lambda e, tmp: (e.get_text_embedding("a text"), e.get_image_embedding(_image(tmp))),
        lambda e: e.get_text_embedding(""),
        "llama_index",
    ),
    Subject(
        "llama_index.GeminiMultiModalEmbedding-vertex",
        VERTEX_TOKEN,
        lambda emu: GeminiMultiModalEmbedding(
            vertexai=True,
            project="proj",
            location="us-central1",
            access_token=SecretStr(VERTEX_TOKEN),
            base_url=emu.base_url,
        ),
        lambda e, tmp: e.get_text_embedding("a text"),
        lambda e: e.get_text_embedding(""),
        "llama_index",
    ),
    Subject(
        "llama_index.VertexMultiModalEmbedding",
        VERTEX_TOKEN,
        lambda emu: VertexMultiModalEmbedding(
            project="proj",
            access_token=SecretStr(VERTEX_TOKEN),
            base_url=emu.base_url,
            requests_per_minute=None,
        ),
        lambda e, tmp: (e.get_text_embedding("a text"), e.get_image_embedding(_image(tmp))),
        lambda e: e.get_text_embedding(""),
        "llama_index",
    ),
    Subject(
        "llama_index.DashScopeMultiModalEmbedding",
        DASHSCOPE_KEY,
        lambda emu: DashScopeMultiModalEmbedding(
            api_key=SecretStr(DASHSCOPE_KEY), base_url=emu.base_url + "/api/v1"
        ),
        lambda e, tmp: (e.get_text_embedding("a text"), e.get_image_embedding(_image(tmp))),
        lambda e: e.get_text_embedding(""),
        "llama_index",
    ),
    Subject(
        "llama_index.GeminiMultiModalLLM",
        GEMINI_KEY,
        lambda emu: GeminiMultiModalLLM(api_key=GEMINI_KEY, base_url=emu.base_url, max_retries=2),
        lambda llm, tmp: (llm.complete("hello"), list(llm.stream_complete("hello"))),
        lambda llm: llm.chat(
            [ChatMessage(role="user", content="hi")], safety_settings={"HARM_X": "BLOCK_NONE"}
        ),
        "llama_index",
    ),
    Subject(
        "langchain.GeminiEmbeddings",
        GEMINI_KEY,
        lambda emu: GeminiEmbeddings(api_key=SecretStr(GEMINI_KEY), base_url=emu.base_url),
        lambda e, tmp: (e.embed_documents(["a text"]), e.embed_image([str(_image(tmp))])),
        lambda e: e.embed_documents([""]),
        "langchain",
    ),
    Subject(
        "langchain.GeminiEmbeddings-vertex",
        VERTEX_TOKEN,
        lambda emu: GeminiEmbeddings(
            vertexai=True,
            project="proj",
            location="us-central1",
            access_token=SecretStr(VERTEX_TOKEN),
            base_url=emu.base_url,
        ),
        lambda e, tmp: e.embed_query("a text"),
        lambda e: e.embed_documents([""]),
        "langchain",
    ),
    Subject(
        "langchain.VertexMultiModalEmbeddings",
        VERTEX_TOKEN,
        lambda emu: VertexMultiModalEmbeddings(
            project="proj",
            access_token=SecretStr(VERTEX_TOKEN),
            base_url=emu.base_url,
            requests_per_minute=None,
        ),
        lambda e, tmp: (e.embed_query("a text"), e.embed_image([str(_image(tmp))])),
        lambda e: e.embed_documents([""]),
        "langchain",
    ),
    Subject(
        "langchain.DashScopeMultiModalEmbeddings",
        DASHSCOPE_KEY,
        lambda emu: DashScopeMultiModalEmbeddings(
            api_key=SecretStr(DASHSCOPE_KEY), base_url=emu.base_url + "/api/v1"
        ),
        lambda e, tmp: (e.embed_query("a text"), e.embed_video(_video(tmp))),
        lambda e: e.embed_documents([""]),
        "langchain",
    ),
    Subject(
        "langchain.ChatGemini",
        GEMINI_KEY,
        lambda emu: ChatGemini(  # type: ignore[call-arg]
            api_key=SecretStr(GEMINI_KEY), base_url=emu.base_url, max_retries=2
        ),
        lambda chat, tmp: (chat.invoke("hello"), list(chat.stream("hello"))),
        lambda chat: chat.invoke("hi", safety_settings={"HARM_X": "BLOCK_NONE"}),
        "langchain",
    ),
]


_built: dict[tuple[str, str], Any] = {}


def built(subject: Subject, emu: Emulator) -> Any:
    """One object per subject for the session's emulator: building a google-genai client
    costs ~0.2 s, and none of these tests changes the object."""
    key = (subject.id, emu.base_url)
    if key not in _built:
        _built[key] = subject.build(emu)
    return _built[key]


@pytest.fixture(scope="module", autouse=True)
def _close_built() -> Iterator[None]:
    yield
    # Close the shared clients' connections now, not at interpreter exit (ResourceWarning).
    for obj in _built.values():
        for owner in (obj, getattr(obj, "_client", None)):
            close = getattr(owner, "close", None)
            if callable(close):
                close()
    _built.clear()


def _by_kind(*kinds: str) -> list[Any]:
    return [pytest.param(s, id=s.id) for s in SUBJECTS if s.kind in kinds]


ALL = _by_kind("provider", "llama_index", "langchain")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, captured — including loggers that do not propagate."""
    caplog.set_level(logging.DEBUG)
    detached: list[logging.Logger] = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            detached.append(logger)
    yield caplog
    for logger in detached:
        logger.removeHandler(caplog.handler)


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    # getMessage() formats the arguments, as any handler would; args repr catches the rest.
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )


# --- repr / str ---------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ALL)
def test_repr_and_str_hide_the_secret(subject: Subject, emu: Emulator) -> None:
    obj = built(subject, emu)
    assert_clean(repr(obj), "repr")
    assert_clean(str(obj), "str")
    assert_clean(f"{obj!r:>10} {obj}", "f-string")


# --- logs during a full call -------------------------------------------------------------------


@pytest.mark.parametrize("subject", ALL)
def test_debug_logs_of_a_full_call_hide_the_secret(
    subject: Subject, emu: Emulator, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    emu.api_key = subject.secret  # the secret is really sent, and accepted
    retried = subject.secret != DASHSCOPE_KEY
    if retried:
        # One 429 first, so the runtime's retry path (which logs the error) runs too. Only
        # on Google's APIs: their 429 carries a retryDelay; DashScope's carries no hint, so
        # the runtime would back off for a second (the retry path is the same code).
        emu.faults = {"retry_delay_s": 0.01}
        emu.inject("429")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj = subject.build(emu)  # fresh: construction logs are captured too
        subject.call(obj, tmp_path)
    assert len(emu.requests) >= 1 + retried, "the call reached the emulator (and was retried)"
    assert debug_logs.records, "DEBUG logging was captured"
    assert_clean(_log_text(debug_logs), "DEBUG logs")
    assert_clean(debug_logs.text, "formatted DEBUG logs")
    assert_clean("\n".join(str(w.message) for w in caught), "warnings")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ALL)
def test_a_service_error_hides_the_secret(
    subject: Subject, emu: Emulator, tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    obj = built(subject, emu)
    emu.api_key = "the-emulator-wants-another-key"
    with pytest.raises(AuthenticationError) as raised:
        subject.call(obj, tmp_path)
    assert emu.requests, "the rejection came from the service"
    assert_error_clean(raised.value, "an authentication error")
    assert_clean(_log_text(debug_logs), "DEBUG logs of a failed call")


@pytest.mark.parametrize("subject", ALL)
def test_a_local_error_hides_the_secret(subject: Subject, emu: Emulator) -> None:
    obj = built(subject, emu)
    with pytest.raises(OmniEmbedError) as raised:
        subject.local_error(obj)
    assert emu.requests == []
    assert_error_clean(raised.value, "a local error")


class _Closed:
    """Stands in for the emulator: a loopback port that nothing listens on."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("subject", _by_kind("provider"))
def test_a_connection_error_hides_the_secret(subject: Subject, tmp_path: Path) -> None:
    obj = subject.build(cast(Emulator, _Closed()))
    with pytest.raises(OmniEmbedError) as raised:
        subject.call(obj, tmp_path)
    assert_error_clean(raised.value, "a connection error")


def test_a_local_error_from_the_constructor_hides_the_secret() -> None:
    with pytest.raises(InvalidParameterError) as raised:
        DashScopeEmbedder(api_key=DASHSCOPE_KEY, dimension=100)
    assert_error_clean(raised.value, "a constructor error")
    with pytest.raises(InvalidParameterError) as raised:
        GeminiEmbedder(api_key=GEMINI_KEY, output_dimensionality=0)
    assert_error_clean(raised.value, "a constructor error")


# --- pickles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", _by_kind("provider", "langchain"))
def test_clients_refuse_to_be_pickled(subject: Subject, emu: Emulator) -> None:
    # A pickle of a live client would carry its credentials; these refuse, saying why.
    # (The LangChain classes hold a provider client, so they refuse the same way.)
    obj = built(subject, emu)
    with pytest.raises(TypeError, match="not picklable") as raised:
        pickle.dumps(obj)
    assert_error_clean(raised.value, "the pickling refusal")


@pytest.mark.parametrize("subject", _by_kind("llama_index"))
def test_llama_index_pickles_drop_the_secret(
    subject: Subject, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    obj = built(subject, emu)
    data = pickle.dumps(obj)
    assert_clean(data, "a LlamaIndex pickle")
    copy = pickle.loads(data)
    assert_clean(repr(copy.__dict__), "the unpickled copy")


# --- framework serialization ---------------------------------------------------------------


@pytest.mark.parametrize("subject", _by_kind("llama_index"))
def test_llama_index_serialization_hides_the_secret(subject: Subject, emu: Emulator) -> None:
    obj = built(subject, emu)
    assert_clean(obj.to_json(), "to_json()")
    assert_clean(repr(obj.to_dict()), "to_dict()")
    assert_clean(obj.model_dump_json(), "model_dump_json()")
    assert_clean(repr(obj.model_dump()), "model_dump()")


@pytest.mark.parametrize("subject", _by_kind("langchain"))
def test_langchain_dumps_hides_the_secret(subject: Subject, emu: Emulator) -> None:
    obj = built(subject, emu)
    text = dumps(obj, pretty=True)
    assert_clean(text, "langchain_core.load.dumps")
    assert_clean(repr(dumpd(obj)), "langchain_core.load.dumpd")
    assert_clean(obj.model_dump_json(), "model_dump_json()")
    # The secret is named (so `loads` can take it from the environment), never written.
    assert '"type": "secret"' in text
