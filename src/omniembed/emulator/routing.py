"""Which API, route and model a request path names.

Gemini API: ``/{v1beta|v1}/models/{model}:{action}``, ``GET /{ver}/models/{model}``,
``GET /{ver}/models``. Vertex AI: ``/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/
google/models/{model}:{action}`` and the express-mode form without project and location
(google-genai with ``vertexai=True`` and an API key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Api = Literal["gemini", "vertex"]

GEMINI_ACTIONS = frozenset({"batchEmbedContents", "embedContent", "countTokens"})
VERTEX_ACTIONS = frozenset({"predict", "embedContent", "batchEmbedContents"})

_GEMINI_ACTION = re.compile(r"^/(v1beta|v1)/models/([^/:]+):([A-Za-z]+)$")
_GEMINI_MODEL = re.compile(r"^/(v1beta|v1)/models/([^/:]+)$")
_GEMINI_MODELS = re.compile(r"^/(v1beta|v1)/models/?$")
_VERTEX_ACTION = re.compile(
    r"^/(v1|v1beta1)/(?:projects/([^/]+)/locations/([^/]+)/)?"
    r"publishers/google/models/([^/:]+):([A-Za-z]+)$"
)


@dataclass(frozen=True)
class Call:
    """A request matched to a route."""

    api: Api
    #: Short route name: batchEmbedContents, embedContent, countTokens, predict, getModel,
    #: listModels. Quotas are keyed by it.
    route: str
    version: str
    model: str | None = None
    project: str | None = None
    location: str | None = None

    @property
    def vertex_model_name(self) -> str:
        """How Vertex names the model in messages."""
        name = f"publishers/google/models/{self.model}"
        if self.project is not None:
            return f"projects/{self.project}/locations/{self.location}/{name}"
        return name


def resolve(method: str, path: str) -> Call | None:
    """The route a (percent-decoded) path names, or None."""
    if method == "POST":
        match = _GEMINI_ACTION.match(path)
        if match and match.group(3) in GEMINI_ACTIONS:
            return Call("gemini", match.group(3), match.group(1), model=match.group(2))
        match = _VERTEX_ACTION.match(path)
        if match and match.group(5) in VERTEX_ACTIONS:
            version, project, location, model, action = match.groups()
            return Call("vertex", action, version, model, project, location)
    elif method == "GET":
        match = _GEMINI_MODEL.match(path)
        if match:
            return Call("gemini", "getModel", match.group(1), model=match.group(2))
        match = _GEMINI_MODELS.match(path)
        if match:
            return Call("gemini", "listModels", match.group(1))
    return None
