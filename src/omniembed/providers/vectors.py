"""Vector arithmetic shared by `GeminiEmbedder` and its batch jobs (`gemini_batch`).

Gemini sends only full-size vectors normalized; a truncated one (``output_dimensionality``,
Matryoshka) is re-normalized here, the same way whichever path fetched it.
"""

from __future__ import annotations

import math


def l2_normalize(values: list[float]) -> list[float]:
    norm = math.hypot(*values)
    if norm == 0 or abs(norm - 1.0) < 1e-7:  # e.g. gemini-embedding-2 sends unit vectors
        return values
    scale = 1.0 / norm
    return [v * scale for v in values]
