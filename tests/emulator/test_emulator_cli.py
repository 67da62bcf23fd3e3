"""``python -m omniembed.emulator``: argument parsing and a real run."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import httpx
import pytest

from omniembed.emulator.__main__ import build_parser, main, model_quota_options


def test_parser_reads_every_option() -> None:
    args = build_parser().parse_args(
        [
            "--port", "0", "--host", "127.0.0.1", "--latency-ms", "5", "--api-key", "k",
            "--quota", "batchEmbedContents=600", "--quota", "*=1200",
            "--fault", "429=0.1", "--fault", "slow_seconds=2", "--seed", "3",
        ]
    )  # fmt: skip

    assert (args.port, args.latency_ms, args.api_key, args.seed) == (0, 5.0, "k", 3)
    assert args.quota == ["batchEmbedContents=600", "*=1200"]
    assert args.fault == ["429=0.1", "slow_seconds=2"]


@pytest.mark.parametrize(
    "argv", [["--quota", "nonsense"], ["--fault", "429=lots"], ["--fault", "418=0.5"]]
)
def test_bad_arguments_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--port", "0", *argv])
    assert caught.value.code == 2


def test_module_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "omniembed.emulator", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        response = httpx.get(f"{base_url}/v1beta/models", headers={"x-goog-api-key": "k"})
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=10)
        finally:
            if process.poll() is None:  # never leave an emulator running
                process.kill()
                process.wait()
            process.communicate()  # and close its pipes
    assert code == 0


def test_module_stops_on_sigint_even_when_started_with_it_ignored() -> None:
    # As from a background shell or nohup: SIGINT ignored in the parent is inherited.
    process = subprocess.Popen(
        [sys.executable, "-m", "omniembed.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("http://127.0.0.1:")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.communicate()  # and close its pipes


def test_out_of_range_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from omniembed.emulator.__main__ import main

    with pytest.raises(SystemExit) as raised:
        main(["--port", "99999"])
    assert raised.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_quota_options_build_tier_and_model_quotas() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--tier", "free", "--rpm", "50", "--tpm", "9000",
            "--model-quota", "gemini-embedding-001=rpm:100,tpm:30000,rpd:1000",
            "--model-quota", "vertex:multimodalembedding=rpm:120",
            "--quota-window-sec", "0.5",
        ]
    )  # fmt: skip

    assert (args.tier, args.quota_window_sec, args.rpd) == ("free", 0.5, None)
    assert model_quota_options(parser, args) == {
        "*": {"rpm": 50, "tpm": 9000},
        "gemini-embedding-001": {"rpm": 100, "tpm": 30000, "rpd": 1000},
        "vertex:multimodalembedding": {"rpm": 120},
    }
    defaults = build_parser().parse_args([])
    assert (defaults.tier, defaults.rpm, defaults.model_quota) == (None, None, [])
    assert defaults.quota_window_sec == 60.0


def test_quota_help_shows_defaults() -> None:
    text = build_parser().format_help()
    assert "--tier {free,tier1,tier2,tier3}" in text
    assert "(default: 60)" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--tier", "gold"],
        ["--rpm", "-1"],
        ["--model-quota", "gemini-embedding-001"],
        ["--model-quota", "gemini-embedding-001=rpm=5"],
        ["--model-quota", "gemini-embedding-001=rqm:5"],
        ["--model-quota", "openai:x=rpm:5"],
        ["--quota-window-sec", "0"],
    ],
)
def test_bad_quota_options_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--port", "0", *argv])
    assert caught.value.code == 2


def test_omniembed_emulator_verbose_logs_every_request() -> None:
    # Through the `omniembed` command, which configures logging before the emulator does.
    process = subprocess.Popen(
        [sys.executable, "-m", "omniembed", "emulator", "--port", "0", "-v"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert httpx.get(f"{base_url}/v1beta/models").status_code == 200
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert re.search(r"GET /v1beta/models -> 200 \(\d+ ms\)", err), err


def test_version_and_default_port_are_shown() -> None:
    from omniembed import __version__

    done = subprocess.run(
        [sys.executable, "-m", "omniembed", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == f"omniembed {__version__}"
    assert "default 8765" in build_parser().format_help()
