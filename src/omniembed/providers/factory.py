"""One way from settings to a provider embedder, for every layer above the providers.

The LlamaIndex and LangChain classes, `omniembed.rag` (the CLI) and `omniembed.ray` name a
provider and pass their settings here, in one vocabulary: the provider classes' own
parameter names (``dimensions`` for the vector size, ``default_task``, the runtime knobs of
`RUNTIME_SETTINGS`), plus ``model_name`` as LlamaIndex spells ``model``. The adapters keep
only framework glue (which of their fields are settings, and their framework's defaults).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigurationError
from ..keywords import accepted_keywords, resolve_keywords
from .base import Embedder

#: Provider names, as the CLI's ``--provider`` and ``omniembed.ray`` take them.
PROVIDERS = ("gemini", "vertex", "dashscope")
VERTEX_MULTIMODAL = "multimodalembedding@001"
#: Names other layers use for a provider parameter.
ALIASES: Mapping[str, str] = {"model_name": "model"}


def embedder_class(provider: str | type[Embedder], model: str | None = None) -> type[Embedder]:
    """The class serving ``provider``: ``"gemini"`` (the Gemini API, or Vertex AI with
    ``vertexai=True``), ``"vertex"`` (Vertex AI: `VertexMultiModalEmbedder` for
    multimodalembedding@001, the default, else `GeminiEmbedder`), ``"dashscope"``, or an
    `Embedder` subclass, returned as it is."""
    if isinstance(provider, type):
        if issubclass(provider, Embedder):
            return provider
        raise ConfigurationError(f"{provider.__name__} is not an omniembed Embedder class")
    name = str(provider).lower()
    if name == "gemini" or (name == "vertex" and model not in (None, VERTEX_MULTIMODAL)):
        from .gemini import GeminiEmbedder

        return GeminiEmbedder
    if name == "vertex":
        from .vertex_multimodal import VertexMultiModalEmbedder

        return VertexMultiModalEmbedder
    if name == "dashscope":
        from .dashscope import DashScopeEmbedder

        return DashScopeEmbedder
    raise ConfigurationError(
        f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)} or an Embedder class"
    )


@functools.cache
def accepted_settings(cls: type[Embedder]) -> frozenset[str]:
    """The setting names ``cls`` takes (its parameters and the runtime's)."""
    return accepted_keywords(cls.__init__, cls.__mro__[1:])


def resolve(
    provider: str | type[Embedder], settings: Mapping[str, Any]
) -> tuple[type[Embedder], dict[str, Any]]:
    """The class serving ``provider`` and the keyword arguments to build it with: aliases
    renamed, ``tier=None`` dropped (the provider's default tier), ``vertexai=True`` for
    ``"vertex"``; an unknown setting raises `UnknownParameterError` naming the nearest."""
    model = settings.get("model", settings.get("model_name"))
    cls = embedder_class(provider, model)
    kwargs = resolve_keywords(cls.__name__, settings, accepted_settings(cls), ALIASES)
    if kwargs.get("tier", "") is None:
        del kwargs["tier"]
    if provider == "vertex" and "vertexai" in accepted_settings(cls):
        kwargs["vertexai"] = True
    return cls, kwargs


def build_embedder(provider: str | type[Embedder], /, **settings: Any) -> Embedder:
    """The provider embedder for ``settings`` (see `embedder_class` and `resolve`)."""
    cls, kwargs = resolve(provider, settings)
    return cls(**kwargs)


def pick_settings(cls: type[Embedder], values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``values`` (an adapter's fields) that ``cls`` takes as settings,
    aliases renamed (``model_name`` → ``model``)."""
    accepted = accepted_settings(cls)
    picked = {ALIASES.get(name, name): value for name, value in values.items()}
    return {name: value for name, value in picked.items() if name in accepted}
