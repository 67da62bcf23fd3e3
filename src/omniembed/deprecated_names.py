"""Old public names kept working, with a `DeprecationWarning`, after a rename.

One spelling, ``MultiModal``, is used across the package: it is LlamaIndex's
(``MultiModalEmbedding``), Vertex AI's (``MultiModalEmbeddingModel``) and DashScope's
(``MultiModalEmbedding``). The ``Multimodal`` spellings of earlier releases resolve, through
a module ``__getattr__``, to the renamed class and warn once per use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any


def renamed(module: str, names: Mapping[str, str], namespace: Callable[[str], Any]) -> Any:
    """A module ``__getattr__``: ``names`` maps each old name to its new one, and
    ``namespace(new)`` finds the new object."""

    def __getattr__(name: str) -> Any:
        new = names.get(name)
        if new is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(
            f"{module}.{name} is deprecated; use {new} (one spelling, MultiModal, across "
            "omniembed)",
            DeprecationWarning,
            stacklevel=3,  # the line that named the old name, past our __getattr__
        )
        return namespace(new)

    return __getattr__
