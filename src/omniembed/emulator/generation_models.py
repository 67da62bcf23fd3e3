"""The Gemini generation models the emulator serves, with their published token limits.

``profile`` picks the response shape the real service sends for that model family (see the
recordings in ``shared/wire-samples/gemini/generate__*``): gemini-2.0 models send
``avgLogprobs`` and ``candidatesTokensDetails`` and no candidate ``index``; 2.5 and later
send ``index``, ``serviceTier`` and, when they think, ``thoughtsTokenCount`` and a
``thoughtSignature``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: "never": no thinking; "optional": thinks unless ``thinkingBudget`` is 0 (``default_on``
#: says what happens without a config); "always": a budget of 0 is an error.
Thinking = Literal["never", "optional", "always"]
Profile = Literal["2.0", "2.5"]

#: Retired models answer 404 like any unknown model (the service retired them).
RETIRED = frozenset({"gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash-exp"})


@dataclass(frozen=True)
class GenerationModel:
    id: str
    input_token_limit: int
    output_token_limit: int
    thinking: Thinking
    default_on: bool
    #: Allowed ``thinkingBudget`` range when thinking (-1, "dynamic", is always allowed).
    budget_range: tuple[int, int]
    #: Gemini 3 models take ``thinkingLevel`` instead of a budget.
    thinking_levels: bool
    profile: Profile


def _model(
    model_id: str,
    output: int,
    thinking: Thinking,
    *,
    default_on: bool = True,
    budget: tuple[int, int] = (1, 24576),
    levels: bool = False,
    profile: Profile = "2.5",
) -> GenerationModel:
    return GenerationModel(
        model_id, 1_048_576, output, thinking, default_on, budget, levels, profile
    )


GENERATION_MODELS: dict[str, GenerationModel] = {
    m.id: m
    for m in (
        _model("gemini-2.0-flash", 8192, "never", profile="2.0"),
        _model("gemini-2.0-flash-001", 8192, "never", profile="2.0"),
        _model("gemini-2.0-flash-lite", 8192, "never", profile="2.0"),
        _model("gemini-2.0-flash-lite-001", 8192, "never", profile="2.0"),
        _model("gemini-2.5-flash", 65536, "optional"),
        _model("gemini-2.5-flash-lite", 65536, "optional", default_on=False, budget=(512, 24576)),
        _model("gemini-2.5-pro", 65536, "always", budget=(128, 32768)),
        _model("gemini-flash-latest", 65536, "optional"),
        _model("gemini-flash-lite-latest", 65536, "optional", default_on=False),
        _model("gemini-3-flash-preview", 65536, "always", levels=True),
        _model("gemini-3-pro-preview", 65536, "always", budget=(128, 32768), levels=True),
    )
}

#: Thinking tokens a thinking model spends on every answer (capped by the budget and by
#: ``maxOutputTokens``, which counts thoughts too, as on the real service).
THOUGHT_TOKENS = 24


def generation_model(model_id: str) -> GenerationModel | None:
    """The model for a URL's model id (Vertex ``@version`` suffixes are accepted)."""
    return GENERATION_MODELS.get(model_id.split("@", 1)[0])
