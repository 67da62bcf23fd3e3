"""An offline HTTP server that speaks Google's embedding wire protocols (Gemini API and
Vertex AI, including multimodalembedding@001) and DashScope's multimodal embedding (with the
SDK's upload flow), plus Gemini generation (both backends) and the Files API, so the real
google-genai and dashscope SDKs and REST clients can run against it in tests, demos and CI.
Vectors and answers are deterministic stand-ins, not a model.

    from omniembed.emulator import Emulator

    with Emulator() as emu:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emu.base_url))
"""

from __future__ import annotations

try:
    import aiohttp  # noqa: F401
    import numpy  # noqa: F401
except ImportError as exc:  # the server and its stand-in vectors need the extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        f"the emulator needs {exc.name}; install it with: pip install 'omniembed[emulator]'"
    ) from exc

from .faults import FAULT_KINDS
from .records import RequestRecord
from .server import Emulator

__all__ = ["FAULT_KINDS", "Emulator", "RequestRecord"]
