"""LangChain's standard chat-model suites for `ChatGemini`, offline against the emulator.

The integration suite downloads sample media (an image, a PDF, a WAV) from the internet;
an autouse fixture serves files of the same kinds from tests/data instead, by patching
the suite's own download calls (never our code).
"""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as integration_module
from langchain_tests.unit_tests import ChatModelUnitTests

from omniembed.emulator import Emulator
from omniembed.langchain import ChatGemini

DATA = Path(__file__).parent.parent / "data"
_BY_SUFFIX = {".png": "red_apple.png", ".pdf": "lighthouse.pdf", ".wav": "foghorn.wav"}


def _local_copy(url: str) -> bytes:
    for suffix, name in _BY_SUFFIX.items():
        if url.lower().endswith(suffix):
            return (DATA / name).read_bytes()
    raise AssertionError(f"the standard suite asked for an unexpected download: {url}")


class _OfflineHttpx:
    """Stands in for the ``httpx`` module inside the suite: ``get`` reads tests/data."""

    @staticmethod
    def get(url: str, **_: Any) -> SimpleNamespace:
        return SimpleNamespace(content=_local_copy(url), status_code=200)


@pytest.fixture(autouse=True)
def _offline_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integration_module, "httpx", _OfflineHttpx)
    monkeypatch.setattr(
        integration_module,
        "_get_base64_from_url",
        lambda url: base64.b64encode(_local_copy(url)).decode(),
    )


class TestChatGeminiUnit(ChatModelUnitTests):
    """The unit suite as shipped. One test is marked xfail (strict), with this reason:

    * ``test_serdes`` loads with ``allowed_objects="all"``, which since langchain-core 1.x
      admits only the classes in langchain-core's own partner mapping, so no package
      outside that list can pass it as written (the suite also forbids overriding it).
      test_chat_gemini.py::test_serialization_round_trip makes the same checks (snapshot-
      free ``dumpd``, secret as an env reference, load round trip) with ChatGemini allowed
      explicitly, which is how users load it.
    """

    @pytest.fixture(autouse=True)
    def _known_xfails(self, request: pytest.FixtureRequest) -> None:
        if request.node.originalname == "test_serdes":
            request.applymarker(
                pytest.mark.xfail(
                    reason="langchain-core's allowed_objects='all' lists partner classes "
                    "only; see the class docstring",
                    strict=True,
                )
            )

    @property
    def chat_model_class(self) -> type[ChatGemini]:
        return ChatGemini

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "gemini-2.5-flash", "api_key": "FAKE-KEY-unit"}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"GEMINI_API_KEY": "FAKE-KEY-from-env"},
            {"model": "gemini-2.5-flash"},
            {"api_key": "FAKE-KEY-from-env"},
        )

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_video_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "gemini-2.5-pro"


class TestChatGeminiIntegration(ChatModelIntegrationTests):
    """Every standard test runs, except one the suite itself skips:

    * ``test_stream_time`` needs ``enable_vcr_tests``: it benchmarks replayed VCR cassettes
      of live HTTP traffic. There is no live traffic to record offline; the emulator
      already answers in milliseconds, and our own timing figures live in benchmarks/.
    """

    @pytest.fixture(autouse=True)
    def _emulator(self, emu: Emulator) -> None:
        self._base_url = emu.base_url

    @property
    def chat_model_class(self) -> type[ChatGemini]:
        return ChatGemini

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "gemini-2.5-flash",
            "api_key": "FAKE-KEY-integration",
            "base_url": self._base_url,
            "max_retries": 2,
        }

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        # The suite's image URL is on raw.githubusercontent.com, which an offline run cannot
        # reach, and the model (our code) would have to download it. URL inputs are covered
        # in test_chat_gemini.py::test_http_image_url_is_downloaded against a local server.
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return True

    @property
    def supports_audio_inputs(self) -> bool:
        return True

    @property
    def supports_video_inputs(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def supports_pdf_tool_message(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "gemini-2.5-pro"
