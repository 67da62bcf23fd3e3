"""Emulator lifecycle and the request log."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from omniembed.emulator import Emulator

PATH = "/v1beta/models/gemini-embedding-001:embedContent"


def test_start_stop_are_idempotent_and_release_the_port() -> None:
    emu = Emulator()
    assert emu.start() is emu
    port = emu.port
    assert emu.start() is emu
    assert emu.port == port
    assert emu.base_url == f"http://127.0.0.1:{port}"
    emu.stop()
    emu.stop()

    with socket.socket() as sock:  # the port is free again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/v1beta/models", timeout=2)


def test_fixed_port_and_restart() -> None:
    with Emulator() as first:
        port = first.port
    with Emulator(port=port) as second:
        assert httpx.get(f"{second.base_url}/v1beta/models").status_code == 200


def test_request_records(emulator: Emulator, http: httpx.Client) -> None:
    http.post(
        PATH,
        params={"key": "k", "alt": "json"},
        json={"content": {"parts": [{"text": "x"}]}},
        headers={"X-Goog-Api-Client": "test/1"},
    )
    http.get("/v1beta/models/gemini-embedding-001")

    post, get = emulator.requests
    assert (post.method, post.path, post.route, post.status) == ("POST", PATH, "embedContent", 200)
    assert post.query == {"key": "k", "alt": "json"}
    assert post.headers["x-goog-api-client"] == "test/1"
    assert post.json == {"content": {"parts": [{"text": "x"}]}}
    assert (get.method, get.route, get.json, get.status) == ("GET", "getModel", None, 200)


def test_requests_are_copies_and_can_be_cleared(emulator: Emulator, http: httpx.Client) -> None:
    http.get("/v1beta/models")
    records = emulator.requests
    records[0].status = 999
    records.clear()

    assert emulator.requests[0].status == 200
    emulator.clear_requests()
    assert emulator.requests == []


def test_repr_hides_the_api_key() -> None:
    emu = Emulator(api_key="very-secret")

    assert "very-secret" not in repr(emu)
    assert "stopped" in repr(emu)


def test_stop_does_not_wait_for_a_slow_request() -> None:
    emu = Emulator(faults={"slow_seconds": 30}).start()
    emu.inject("slow")
    errors: list[Exception] = []

    def call() -> None:
        try:
            httpx.post(f"{emu.base_url}/v1beta/models", timeout=30)
        except httpx.TransportError as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not emu.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    emu.stop()
    thread.join(timeout=10)

    assert time.monotonic() - started < 3
    assert len(errors) == 1  # the client saw the connection drop
    assert emu.requests[0].status == "reset"
