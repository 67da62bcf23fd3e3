"""langchain-tests' standard suites for the three embeddings classes.

Unit suites build the classes offline (nothing is sent at construction). Integration
suites run against the session emulator: an autouse fixture points
``embedding_model_params`` at it before the suite's own ``model`` fixture builds the class,
so the suite builds the model exactly as it would for a real service. Nothing is skipped
or xfailed: every class sets ``init_from_env_params``, so ``test_init_from_env`` runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from dashscope.api_entities.aio_session import close_shared_aio_session
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from omniembed.emulator import Emulator
from omniembed.langchain import (
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)

from .conftest import dashscope_params, gemini_params, vertex_params

#: Nothing listens here: construction must not need the network.
OFFLINE = "http://127.0.0.1:9"


class _OnEmulator:
    """Mixin: the integration suites' params use the running emulator's URL."""

    base_url = OFFLINE

    @pytest.fixture(autouse=True)
    def _point_at_emulator(self, emu: Emulator) -> None:
        self.base_url = emu.base_url


# --- Gemini --------------------------------------------------------------------------------


class TestGeminiEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[GeminiEmbeddings]:
        return GeminiEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return gemini_params(OFFLINE)

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"GEMINI_API_KEY": "FAKE-ENV-GEMINI-KEY"},
            {"base_url": OFFLINE, "model": "gemini-embedding-001"},
            {"api_key": "FAKE-ENV-GEMINI-KEY", "model": "gemini-embedding-001"},
        )


class TestGeminiEmbeddingsIntegration(_OnEmulator, EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[GeminiEmbeddings]:
        return GeminiEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return gemini_params(self.base_url)


# --- Vertex AI multimodalembedding@001 ----------------------------------------------------


class TestVertexMultiModalEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[VertexMultiModalEmbeddings]:
        return VertexMultiModalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return vertex_params(OFFLINE)

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"GOOGLE_CLOUD_PROJECT": "env-project", "GOOGLE_CLOUD_LOCATION": "europe-west4"},
            {"access_token": "FAKE-ENV-TOKEN", "base_url": OFFLINE},
            {"project": "env-project", "location": "europe-west4"},
        )


class TestVertexMultiModalEmbeddingsIntegration(_OnEmulator, EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[VertexMultiModalEmbeddings]:
        return VertexMultiModalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return vertex_params(self.base_url)


# --- DashScope -----------------------------------------------------------------------------


class TestDashScopeMultiModalEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[DashScopeMultiModalEmbeddings]:
        return DashScopeMultiModalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return dashscope_params(OFFLINE)

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"DASHSCOPE_API_KEY": "sk-FAKE-ENV-KEY"},
            {"base_url": OFFLINE, "dimensions": 256},
            {"api_key": "sk-FAKE-ENV-KEY", "dimensions": 256},
        )


class TestDashScopeMultiModalEmbeddingsIntegration(_OnEmulator, EmbeddingsIntegrationTests):
    @pytest.fixture(autouse=True)
    async def _close_sdk_session(self) -> AsyncIterator[None]:
        # The dashscope SDK keeps one aiohttp session per event loop and never closes it;
        # close it before pytest-asyncio closes this test's loop.
        yield
        await close_shared_aio_session()

    @property
    def embeddings_class(self) -> type[DashScopeMultiModalEmbeddings]:
        return DashScopeMultiModalEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return dashscope_params(self.base_url)
