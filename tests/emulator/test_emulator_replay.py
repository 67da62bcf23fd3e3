"""Replay fidelity: the emulator answers every recorded real request with the recorded
status and the same response shape (keys, casing, nesting, vector lengths)."""

from __future__ import annotations

import httpx
import pytest

from tests.wire_samples import Interaction, assert_same_shape, interaction_params, replay


@pytest.mark.parametrize("interaction", interaction_params("gemini/embed__*.yaml"))
def test_recorded_embedding_interaction(http: httpx.Client, interaction: Interaction) -> None:
    response = replay(http, interaction)

    assert response.status_code == interaction.status, response.text[:500]
    assert response.headers["content-type"] == interaction.content_type
    body = response.json()
    assert_same_shape(body, interaction.response)
    if "error" in interaction.response:  # error texts are part of the contract
        assert body["error"]["status"] == interaction.response["error"]["status"]
        assert body["error"]["message"] == interaction.response["error"]["message"]
