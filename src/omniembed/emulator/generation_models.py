"""The Gemini generation models the emulator serves, with their published token limits.

``profile`` picks the response shape the real service sends for that model family (see the
recordings in ``shared/wire-samples``): gemini-2.0 models send ``avgLogprobs`` and
``candidatesTokensDetails`` and no candidate ``index``; 2.5 and later send ``index`` and
``serviceTier`` on the Gemini API and, when they think, ``thoughtsTokenCount``; gemini-3
models also sign every answer (``thoughtSignature``) and end a stream with an empty text
part (see `routes_generate`).

The ``Model`` resource fields (``version``, ``displayName``, ``description``, limits,
sampling defaults, ``thinking``) are those of the recorded model list, llm-gemini's
``test_cli_gemini_models.yaml`` (``GET v1beta/models``, 2026-08-05), and so is their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

#: "never": no thinking; "optional": thinks unless ``thinkingBudget`` is 0 (``default_on``
#: says what happens without a config); "always": a budget of 0 is an error.
Thinking = Literal["never", "optional", "always"]
Profile = Literal["2.0", "2.5", "3"]

#: Retired models answer 404 like any unknown model (the service retired them).
RETIRED = frozenset({"gemini-1.5-flash", "gemini-1.5-pro", "gemini-2.0-flash-exp"})

#: What the recorded model list says every generation model supports.
GENERATE_METHODS = ("generateContent", "countTokens", "createCachedContent", "batchGenerateContent")


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
    version: str
    display_name: str
    description: str
    #: The ``topK`` default the model list reports (40 for gemini-2.0, 64 later).
    top_k: int
    #: Thinking level used without a ``thinkingConfig`` (Gemini 3 models; None: no level).
    default_level: str | None = None
    #: The model id answers name (``modelVersion``); an alias names the model it points to.
    model_version: str | None = None

    def resource(self) -> dict[str, Any]:
        """The ``Model`` resource of ``GET models`` / ``GET models/{m}``, as recorded."""
        body: dict[str, Any] = {
            "name": f"models/{self.id}",
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_token_limit,
            "outputTokenLimit": self.output_token_limit,
            "supportedGenerationMethods": list(GENERATE_METHODS),
            "temperature": 1,
            "topP": 0.95,
            "topK": self.top_k,
            "maxTemperature": 2,
        }
        if self.thinking != "never":
            body["thinking"] = True
        return body


def _model(
    model_id: str,
    output: int,
    thinking: Thinking,
    version: str,
    display_name: str,
    description: str | None = None,
    *,
    default_on: bool = True,
    budget: tuple[int, int] = (1, 24576),
    levels: bool = False,
    profile: Profile = "2.5",
    default_level: str | None = None,
    model_version: str | None = None,
) -> GenerationModel:
    return GenerationModel(
        model_id,
        1_048_576,
        output,
        thinking,
        default_on,
        budget,
        levels,
        profile,
        version,
        display_name,
        description or display_name,
        40 if profile == "2.0" else 64,
        default_level,
        model_version,
    )


_FLASH_2_0_001 = (
    "Stable version of Gemini 2.0 Flash, our fast and versatile multimodal model for scaling "
    "across diverse tasks, released in January of 2025."
)
_FLASH_2_5 = (
    "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 "
    "million tokens, released in June of 2025."
)

GENERATION_MODELS: dict[str, GenerationModel] = {
    m.id: m
    for m in (
        _model("gemini-2.5-flash", 65536, "optional", "001", "Gemini 2.5 Flash", _FLASH_2_5),
        _model(
            "gemini-2.5-pro",
            65536,
            "always",
            "2.5",
            "Gemini 2.5 Pro",
            "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
            budget=(128, 32768),
        ),
        _model("gemini-2.0-flash", 8192, "never", "2.0", "Gemini 2.0 Flash", profile="2.0"),
        _model(
            "gemini-2.0-flash-001",
            8192,
            "never",
            "2.0",
            "Gemini 2.0 Flash 001",
            _FLASH_2_0_001,
            profile="2.0",
        ),
        _model(
            "gemini-2.0-flash-lite-001",
            8192,
            "never",
            "2.0",
            "Gemini 2.0 Flash-Lite 001",
            "Stable version of Gemini 2.0 Flash-Lite",
            profile="2.0",
        ),
        _model(
            "gemini-2.0-flash-lite", 8192, "never", "2.0", "Gemini 2.0 Flash-Lite", profile="2.0"
        ),
        # An alias: llm-gemini's recordings of it (2026-08) answer with modelVersion
        # gemini-3.6-flash, a Gemini 3 model (signed answers, thinking levels).
        _model(
            "gemini-flash-latest",
            65536,
            "always",
            "Gemini Flash Latest",
            "Gemini Flash Latest",
            "Latest release of Gemini Flash",
            levels=True,
            profile="3",
            model_version="gemini-3.6-flash",
        ),
        _model(
            "gemini-flash-lite-latest",
            65536,
            "optional",
            "Gemini Flash-Lite Latest",
            "Gemini Flash-Lite Latest",
            "Latest release of Gemini Flash-Lite",
            default_on=False,
        ),
        _model(
            "gemini-2.5-flash-lite",
            65536,
            "optional",
            "001",
            "Gemini 2.5 Flash-Lite",
            "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
            default_on=False,
            budget=(512, 24576),
        ),
        _model(
            "gemini-3-pro-preview",
            65536,
            "always",
            "3-pro-preview-11-2025",
            "Gemini 3 Pro Preview",
            budget=(128, 32768),
            levels=True,
            profile="3",
        ),
        _model(
            "gemini-3-flash-preview",
            65536,
            "always",
            "3-flash-preview-12-2025",
            "Gemini 3 Flash Preview",
            levels=True,
            profile="3",
        ),
        # gemini-3.1-flash-lite: 1,048,576 in / 65,536 out and four thinking levels
        # (docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/3-1-flash-lite);
        # its recorded answer (pydantic-ai test_google_model_top_k) is signed but reports no
        # thinking tokens: it thinks at the "minimal" level unless asked for more.
        _model(
            "gemini-3.1-flash-lite",
            65536,
            "always",
            "3.1-flash-lite-05-2026",
            "Gemini 3.1 Flash Lite",
            levels=True,
            profile="3",
            default_level="MINIMAL",
        ),
        # gemini-3.5-flash: "1M token context window, 65k max output tokens, thinking"
        # (ai.google.dev/gemini-api/docs/whats-new-gemini-3.5); recorded in pydantic-ai's
        # test_google_model_gemini_3_5_flash.
        _model(
            "gemini-3.5-flash",
            65536,
            "always",
            "3.5-flash-05-2026",
            "Gemini 3.5 Flash",
            levels=True,
            profile="3",
        ),
        # gemini-3.6-flash: no public page found; the recorded model list and pydantic-ai's
        # test_tool_search__test_google_deferred_capability_announcement_live are the source.
        _model(
            "gemini-3.6-flash",
            65536,
            "always",
            "3.6-flash-07-2026",
            "Gemini 3.6 Flash",
            levels=True,
            profile="3",
        ),
    )
}

#: Thinking tokens a thinking model spends on every answer (capped by the budget and by
#: ``maxOutputTokens``, which counts thoughts too, as on the real service).
THOUGHT_TOKENS = 24


def generation_model(model_id: str) -> GenerationModel | None:
    """The model for a URL's model id (Vertex ``@version`` suffixes are accepted)."""
    return GENERATION_MODELS.get(model_id.split("@", 1)[0])
