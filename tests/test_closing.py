"""Closing: every public class that holds connections releases its sockets on ``close()`` /
``aclose()``, works as a sync and an async context manager, may be closed twice, and
raises ``ConfigurationError`` ("this X is closed; build a new one") when used afterwards.

Sockets are counted from the kernel's view of this process (Linux ``/proc``) against an
emulator of this module's own, so nothing another test left open is counted. A script
in a subprocess with ResourceWarning as an error checks what a user's script sees at exit.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import os
import pickle
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from omniembed import DashScopeEmbedder, GeminiEmbedder
from omniembed.closing import Closeable, PerLoop
from omniembed.emulator import Emulator
from omniembed.errors import ConfigurationError
from omniembed.generation import Message
from omniembed.providers.gemini_llm import GeminiGenerator
from omniembed.providers.vertex_multimodal import VertexMultiModalEmbedder
from omniembed.runtime import MemoryCache

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/net/tcp").exists(), reason="counts sockets through Linux /proc"
)

KEY = "FAKE-CLOSING-KEY-2b7e"
TOKEN = "FAKE-CLOSING-TOKEN-5c1a"


@pytest.fixture(scope="module")
def own_emu() -> Iterator[Emulator]:
    """An emulator only this module talks to: every client socket to it is ours."""
    with Emulator() as emulator:
        yield emulator


def client_sockets(emu: Emulator) -> int:
    """Open TCP sockets of this process whose far end is ``emu`` (the client side)."""
    port = urllib.parse.urlsplit(emu.base_url).port
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[9] in inodes:
                count += 1
    return count


# --- every public class that holds connections, and how to use it ----------------------


@dataclass
class Kind:
    name: str
    build: Callable[[Emulator], Any]
    use: Callable[[Any], Any]
    ause: Callable[[Any], Awaitable[Any]]


def _embedder_kinds() -> list[Kind]:
    def embed(obj: Any) -> Any:
        return obj.embed(["closing"])

    def aembed(obj: Any) -> Awaitable[Any]:
        return obj.aembed(["closing async"])

    return [
        Kind(
            "GeminiEmbedder",
            lambda emu: GeminiEmbedder(api_key=KEY, base_url=emu.base_url, max_retries=1),
            embed,
            aembed,
        ),
        Kind(
            "VertexMultiModalEmbedder",
            lambda emu: VertexMultiModalEmbedder(
                project="proj", access_token=TOKEN, base_url=emu.base_url, max_retries=1
            ),
            embed,
            aembed,
        ),
        Kind(
            "DashScopeEmbedder",
            lambda emu: DashScopeEmbedder(api_key=KEY, base_url=emu.base_url, max_retries=1),
            embed,
            aembed,
        ),
        Kind(
            "GeminiGenerator",
            lambda emu: GeminiGenerator(api_key=KEY, base_url=emu.base_url, max_retries=1),
            lambda obj: obj.generate([Message("user", ["hello"])]),
            lambda obj: obj.agenerate([Message("user", ["hello"])]),
        ),
    ]


def _llama_index_kinds() -> list[Kind]:
    from omniembed.llama_index import (
        DashScopeMultiModalEmbedding,
        GeminiMultiModalEmbedding,
        GeminiMultiModalLLM,
        VertexMultiModalEmbedding,
    )

    def embed(obj: Any) -> Any:
        return obj.get_text_embedding("closing")

    def aembed(obj: Any) -> Awaitable[Any]:
        return obj.aget_text_embedding("closing async")

    return [
        Kind(
            "GeminiMultiModalEmbedding",
            lambda emu: GeminiMultiModalEmbedding(api_key=KEY, base_url=emu.base_url),
            embed,
            aembed,
        ),
        Kind(
            "VertexMultiModalEmbedding",
            lambda emu: VertexMultiModalEmbedding(
                project="proj", access_token=TOKEN, base_url=emu.base_url
            ),
            embed,
            aembed,
        ),
        Kind(
            "DashScopeMultiModalEmbedding",
            lambda emu: DashScopeMultiModalEmbedding(api_key=KEY, base_url=emu.base_url),
            embed,
            aembed,
        ),
        Kind(
            "GeminiMultiModalLLM",
            lambda emu: GeminiMultiModalLLM(api_key=KEY, base_url=emu.base_url, max_retries=1),
            lambda obj: obj.complete("hello"),
            lambda obj: obj.acomplete("hello"),
        ),
    ]


def _langchain_kinds() -> list[Kind]:
    from omniembed.langchain import (
        ChatGemini,
        DashScopeMultiModalEmbeddings,
        GeminiEmbeddings,
        VertexMultiModalEmbeddings,
    )

    def embed(obj: Any) -> Any:
        return obj.embed_query("closing")

    def aembed(obj: Any) -> Awaitable[Any]:
        return obj.aembed_query("closing async")

    return [
        Kind(
            "GeminiEmbeddings",
            lambda emu: GeminiEmbeddings(api_key=KEY, base_url=emu.base_url),
            embed,
            aembed,
        ),
        Kind(
            "VertexMultiModalEmbeddings",
            lambda emu: VertexMultiModalEmbeddings(
                project="proj", access_token=TOKEN, base_url=emu.base_url
            ),
            embed,
            aembed,
        ),
        Kind(
            "DashScopeMultiModalEmbeddings",
            lambda emu: DashScopeMultiModalEmbeddings(api_key=KEY, base_url=emu.base_url),
            embed,
            aembed,
        ),
        Kind(
            "ChatGemini",
            lambda emu: ChatGemini(api_key=KEY, base_url=emu.base_url, max_retries=1),
            lambda obj: obj.invoke("hello"),
            lambda obj: obj.ainvoke("hello"),
        ),
    ]


KINDS = {k.name: k for k in _embedder_kinds() + _llama_index_kinds() + _langchain_kinds()}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


async def _until_no_sockets(emu: Emulator) -> int:
    """Client sockets left once the loop has run the transports' close callbacks."""
    for _ in range(50):
        if client_sockets(emu) == 0:
            return 0
        await asyncio.sleep(0.01)
    return client_sockets(emu)


# --- the behaviour -----------------------------------------------------------------------


def test_every_class_is_closeable(kind: Kind, own_emu: Emulator) -> None:
    with kind.build(own_emu) as obj:
        assert isinstance(obj, Closeable)


def test_close_releases_every_socket(kind: Kind, own_emu: Emulator) -> None:
    obj = kind.build(own_emu)
    kind.use(obj)
    assert client_sockets(own_emu) > 0  # the sync pool keeps its connection alive
    # Async use in two loops: each loop's connections close when that loop shuts down.
    asyncio.run(kind.ause(obj))
    asyncio.run(kind.ause(obj))
    kind.use(obj)
    obj.close()
    assert client_sockets(own_emu) == 0


def test_sync_context_manager_then_use_raises(kind: Kind, own_emu: Emulator) -> None:
    with kind.build(own_emu) as obj:
        kind.use(obj)
    assert client_sockets(own_emu) == 0
    with pytest.raises(ConfigurationError, match=r"this \w+ is closed; build a new one"):
        kind.use(obj)
    obj.close()  # closing twice is fine, sync or async
    asyncio.run(obj.aclose())
    assert client_sockets(own_emu) == 0


async def test_async_context_manager_closes_in_its_loop(kind: Kind, own_emu: Emulator) -> None:
    async with kind.build(own_emu) as obj:
        await kind.ause(obj)
        await kind.ause(obj)
        assert client_sockets(own_emu) > 0
    assert await _until_no_sockets(own_emu) == 0
    with pytest.raises(ConfigurationError, match="is closed"):
        await kind.ause(obj)
    await obj.aclose()
    obj.close()


async def test_sync_close_inside_a_running_loop(kind: Kind, own_emu: Emulator) -> None:
    obj = kind.build(own_emu)
    await kind.ause(obj)
    obj.close()  # schedules the loop's own connections to close in it
    assert await _until_no_sockets(own_emu) == 0


def test_owned_cache_is_closed_a_given_one_is_not(tmp_path: Path, own_emu: Emulator) -> None:
    with GeminiEmbedder(api_key=KEY, base_url=own_emu.base_url, cache=tmp_path / "c.db") as e:
        e.embed(["cached"])
        owned = e._owned_cache
        assert owned is not None
    assert e._owned_cache is None and owned._conns == {}  # every thread's connection

    given = MemoryCache()
    with GeminiEmbedder(api_key=KEY, base_url=own_emu.base_url, cache=given) as e:
        e.embed(["cached"])
    assert len(given) == 1  # still usable: not ours to close


def test_other_calls_after_close_raise(own_emu: Emulator) -> None:
    embedder = GeminiEmbedder(api_key=KEY, base_url=own_emu.base_url)
    embedder.close()
    for call in (
        lambda: embedder.estimate(["x"]),
        lambda: embedder.embed_query("x"),
        lambda: embedder.batch_job("batches/123"),
        lambda: embedder.submit_batch_job(["x"]),
    ):
        with pytest.raises(ConfigurationError, match="GeminiEmbedder is closed"):
            call()
    generator = GeminiGenerator(api_key=KEY, base_url=own_emu.base_url)
    generator.close()
    with pytest.raises(ConfigurationError, match="GeminiGenerator is closed"):
        list(generator.stream([Message("user", ["x"])]))


def test_adapters_gain_no_fields_and_copies_share_the_provider(
    own_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omniembed.llama_index import GeminiMultiModalEmbedding

    # The mixin has no state: pydantic models gain no field, slot or annotation by it.
    assert Closeable.__slots__ == () and not getattr(Closeable, "__annotations__", {})
    original = GeminiMultiModalEmbedding(api_key=KEY, base_url=own_emu.base_url)
    twin = copy.deepcopy(original)
    assert twin.embedder is original.embedder  # shared: closing one closes both
    monkeypatch.setenv("GEMINI_API_KEY", KEY)  # a pickle holds no key: from the environment
    unpickled = pickle.loads(pickle.dumps(original))
    original.close()
    with pytest.raises(ConfigurationError):
        twin.get_text_embedding("x")
    with unpickled:  # a pickled copy has its own, open provider embedder
        assert len(unpickled.get_text_embedding("x")) > 0


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_gemini_closes_each_loops_connections_and_stays_usable(
    transport: str, own_emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """google-genai's async side is aiohttp when installed, else httpx: either way a loop's
    connections close when it ends, and the client serves the next loop."""
    if transport == "httpx":
        from google.genai import _api_client

        monkeypatch.setattr(_api_client, "has_aiohttp", False)
    with GeminiEmbedder(api_key=KEY, base_url=own_emu.base_url) as embedder:
        for _ in range(3):
            assert asyncio.run(embedder.aembed(["each loop"]))[0].ok
            assert client_sockets(own_emu) == 0


# --- PerLoop: one resource per event loop, closed in that loop ----------------------------


class _Resource:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.loop = asyncio.get_running_loop()
        log.append("open")

    async def aclose(self) -> None:
        assert asyncio.get_running_loop() is self.loop  # always in its own loop
        self.log.append("closed")


def _per_loop(log: list[str]) -> PerLoop[_Resource]:
    return PerLoop(lambda: _Resource(log), _Resource.aclose, "Thing")


def test_per_loop_closes_at_loop_shutdown_and_on_aclose() -> None:
    log: list[str] = []
    resources = _per_loop(log)

    async def use() -> _Resource:
        first = resources.get()
        assert resources.get() is first  # one per loop
        return first

    asyncio.run(use())
    assert log == ["open", "closed"]  # asyncio.run's shutdown closed it
    asyncio.run(use())
    assert log == ["open", "closed"] * 2

    async def use_and_close() -> None:
        await use()
        await resources.aclose()
        assert log[-1] == "closed"
        with pytest.raises(ConfigurationError, match="this Thing is closed"):
            resources.get()

    asyncio.run(use_and_close())
    assert log == ["open", "closed"] * 3


def test_per_loop_sync_close_runs_an_idle_loop() -> None:
    log: list[str] = []
    resources = _per_loop(log)
    loop = asyncio.new_event_loop()
    try:

        async def use() -> None:
            resources.get()

        loop.run_until_complete(use())
        resources.close()
        assert log == ["open", "closed"]
    finally:
        loop.close()


# --- what a user's script sees at exit ------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import asyncio

    from tests.test_closing import KINDS
    from omniembed.emulator import Emulator

    with Emulator() as emu:
        for kind in KINDS.values():
            with kind.build(emu) as obj:  # sync use, and async use under asyncio.run
                kind.use(obj)
                asyncio.run(kind.ause(obj))

            async def main(kind=kind):
                async with kind.build(emu) as obj:
                    kind.use(obj)
                    await kind.ause(obj)

            asyncio.run(main())
    print("ok")
    """
)


@pytest.mark.timeout(300)
def test_a_script_ends_without_resource_warnings() -> None:
    root = Path(__file__).parent.parent
    # -X dev: ResourceWarnings shown, asyncio debug mode (which logs unclosed transports)
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error::ResourceWarning", "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip().endswith("ok")
    assert "ResourceWarning" not in done.stderr, done.stderr[-4000:]
    assert "Unclosed" not in done.stderr, done.stderr[-4000:]


async def test_dropped_unclosed_in_a_reference_cycle(kind: Kind, own_emu: Emulator) -> None:
    """Dropped without closing, even inside a reference cycle (where the garbage collector
    finalizes objects in any order), nothing is reported unclosed: the sync pool closes
    when its owner is collected, the loop's connections close in the loop."""
    obj = kind.build(own_emu)
    kind.use(obj)
    await kind.ause(obj)
    cycle: list[Any] = [obj]
    cycle.append(cycle)
    del obj, cycle
    gc.collect()
    assert await _until_no_sockets(own_emu) == 0
