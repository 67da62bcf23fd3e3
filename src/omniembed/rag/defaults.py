"""Defaults shared by the API and the CLI (a light module: the CLI parser imports it)."""

from __future__ import annotations

PROVIDERS = ("gemini", "vertex", "dashscope")
DEFAULT_MODELS = {
    "gemini": "gemini-embedding-2",
    "vertex": "multimodalembedding@001",
    "dashscope": "tongyi-embedding-vision-plus",
}
DEFAULT_LLM_MODEL = "gemini-2.5-flash"
#: Hits per retrieval group (text; images and PDF pages; video and audio).
DEFAULT_TOP_K = 2
DEFAULT_VIDEO_INTERVAL_SEC = 4.0
#: ``--tier`` values: `omniembed.providers.quota_table.TIERS`, repeated here so the CLI's
#: parser stays light (a test checks they agree).
TIERS = ("free", "tier1", "tier2", "tier3", "default")
