"""Old public names kept working, with a `DeprecationWarning`, after a rename or a move.

Renames: one spelling, ``MultiModal``, is used across the package: it is LlamaIndex's
(``MultiModalEmbedding``), Vertex AI's (``MultiModalEmbeddingModel``) and DashScope's
(``MultiModalEmbedding``). The ``Multimodal`` spellings of earlier releases resolve, through
a module ``__getattr__``, to the renamed class and warn once per use.

Moves: the media modules of earlier releases (``omniembed.pdf``, ``omniembed.video``) now
live in the `omniembed.media` package; their old paths are small modules whose
``__getattr__`` (`moved`) finds each name at its new home and warns once per use.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from importlib import import_module
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


def moved(module: str, homes: str | Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for names that moved, unchanged, to another module:
    ``homes`` maps each moved name to the module it now lives in, or is that module for
    every name (the old module moved as a whole)."""

    def __getattr__(name: str) -> Any:
        home = homes if isinstance(homes, str) else homes.get(name)
        # Dunder look-ups (``__path__``, ``__all__``, ...) are the import system's and
        # tools' questions about the old module itself, not moved names.
        if home is not None and not (name.startswith("__") and name.endswith("__")):
            new_module = import_module(home)
            if hasattr(new_module, name):
                warnings.warn(
                    f"importing {name} from {module} is deprecated; import it from {home}",
                    DeprecationWarning,
                    stacklevel=3,  # the line that named the old name, past our __getattr__
                )
                return getattr(new_module, name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
