"""What we know about the Gemini generation models without asking the service: token
limits (for LlamaIndex ``metadata`` and LangChain ``_get_ls_params``) and the MIME types
they read. Figures from the Gemini API model pages (ai.google.dev/gemini-api/docs/models).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "gemini-2.5-flash"


@dataclass(frozen=True)
class LLMSpec:
    name: str
    context_window: int
    max_output_tokens: int


_M = 1_048_576

_SPECS = {
    spec.name: spec
    for spec in (
        LLMSpec("gemini-3-pro-preview", _M, 65_536),
        LLMSpec("gemini-3-flash-preview", _M, 65_536),
        LLMSpec("gemini-2.5-pro", _M, 65_536),
        LLMSpec("gemini-2.5-flash", _M, 65_536),
        LLMSpec("gemini-2.5-flash-lite", _M, 65_536),
        LLMSpec("gemini-2.0-flash", _M, 8_192),
        LLMSpec("gemini-2.0-flash-lite", _M, 8_192),
    )
}


def llm_spec(model: str) -> LLMSpec:
    """The spec of ``model`` (a ``models/`` prefix and ``-NNN`` version suffixes are
    tolerated); unknown models get the common 1M-token window."""
    name = model.removeprefix("models/")
    if name in _SPECS:
        return _SPECS[name]
    for known, spec in _SPECS.items():
        if name.startswith(known):
            return LLMSpec(name, spec.context_window, spec.max_output_tokens)
    return LLMSpec(name, _M, 8_192)


#: MIME types Gemini reads natively (image, video, audio, document understanding pages).
NATIVE_MIME_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/heic",
        "image/heif",
        "video/mp4",
        "video/mpeg",
        "video/quicktime",
        "video/mov",
        "video/x-msvideo",
        "video/avi",
        "video/x-flv",
        "video/mpg",
        "video/webm",
        "video/wmv",
        "video/3gpp",
        "audio/wav",
        "audio/mp3",
        "audio/mpeg",
        "audio/aiff",
        "audio/aac",
        "audio/ogg",
        "audio/flac",
        "audio/mp4",
        "application/pdf",
        "text/plain",
    }
)

#: Image formats sent after a lossless re-encode to PNG (AVIF: Gemini's image
#: understanding lists PNG, JPEG, WEBP, HEIC and HEIF only,
#: https://ai.google.dev/gemini-api/docs/image-understanding).
REENCODED_IMAGE_TYPES = frozenset({"image/gif", "image/bmp", "image/tiff", "image/avif"})
