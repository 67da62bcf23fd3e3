"""Replay fidelity for generation: every recorded real generateContent /
streamGenerateContent request is accepted and answered in the recorded response's shape.

Recorded models the service has since retired must now get the service's 404; requests
using file search stores (not emulated) are left out. SSE bodies are compared event by event
for the first and last event (the chunk count depends on the answer's length).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from omniembed.emulator.generation_models import RETIRED
from tests.wire_samples import (
    NEWER_KEYS,
    Interaction,
    interaction_params,
    replay,
    shape_differences,
)

#: Keys the emulator sends that some (older, or other-model) recordings lack: the service
#: adds ``serviceTier``, ``thoughtSignature``, ``finishMessage`` and ``index`` depending on
#: model and date.
TOLERATED = NEWER_KEYS | {"serviceTier", "thoughtSignature", "finishMessage", "index"}
#: Recorded keys the stand-in does not produce: grounding from file search stores.
NOT_EMULATED = frozenset(
    {"groundingMetadata", "toolUsePromptTokenCount", "toolUsePromptTokensDetails"}
)

_GENERATE = ":generateContent", ":streamGenerateContent"


def _generation_params() -> list[Any]:
    # Recordings that use file search stores (a retrieval service, not generation) are
    # left out rather than skipped: the emulator does not offer that tool.
    return [
        p
        for p in interaction_params("gemini/generate__*.yaml")
        if p.values[0] is None
        or (any(a in p.values[0].path for a in _GENERATE) and not _uses_file_search(p.values[0]))
    ]


def _uses_file_search(interaction: Interaction) -> bool:
    tools = (interaction.body or {}).get("tools", [])
    return any("fileSearch" in tool or "file_search" in tool for tool in tools)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in NOT_EMULATED}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _model(interaction: Interaction) -> str:
    return interaction.path.split("/models/", 1)[1].split(":", 1)[0]


@pytest.mark.parametrize("interaction", _generation_params())
def test_recorded_generation_interaction(http: httpx.Client, interaction: Interaction) -> None:
    response = replay(http, interaction)

    if _model(interaction) in RETIRED:
        assert response.status_code == 404
        assert response.json()["error"]["status"] == "NOT_FOUND"
        return
    assert response.status_code == interaction.status, response.text[:500]
    if "alt=sse" in interaction.path:
        assert interaction.events is not None
        recorded = list(interaction.events)
        frames = response.text.split("\r\n\r\n")
        actual = [json.loads(f.removeprefix("data: ")) for f in frames if f]
        assert response.headers["content-type"] == "text/event-stream"
        pairs = [(actual[-1], recorded[-1])]
        if len(recorded) > 1:  # a multi-chunk recording: the emulator's stream is multi-chunk
            assert len(actual) > 1
            pairs.append((actual[0], recorded[0]))
    else:
        assert response.headers["content-type"] == interaction.content_type
        pairs = [(response.json(), interaction.response)]
    for got, want in pairs:
        problems = shape_differences(got, _strip(want), newer_keys=TOLERATED)
        assert not problems, "shape differs from the recording:\n" + "\n".join(problems)
