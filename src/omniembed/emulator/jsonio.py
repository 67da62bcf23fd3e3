"""JSON encoding of responses: orjson when installed (fast, numpy-aware), else the stdlib.

Vectors are numpy float32 arrays; orjson prints each as the shortest float32 repr
(``-0.006419318``), like the Gemini API. Vertex ``:predict`` prints float64 repr of float32
values (``-0.020920176059007645``); routes pass float64 arrays for that.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, default=_numpy_default, separators=(",", ":")).encode()


try:
    import orjson

    def dumps(value: Any) -> bytes:
        """UTF-8 JSON bytes; numpy arrays become lists."""
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)

except ImportError:  # pragma: no cover - only without the optional speed-up
    dumps = _stdlib_dumps


def _numpy_default(value: object) -> Any:
    if isinstance(value, np.ndarray):
        # float32 values print with float64 digits here: longer text, the same numbers.
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
