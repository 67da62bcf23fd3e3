#!/usr/bin/env python3
"""Bulk indexing under a Gemini API quota: omniembed side by side with the integrations
users know, on the emulator enforcing the quota as the service counts it.

For each tier (``--tiers free,tier1``) the emulator runs with that tier's limits for
gemini-embedding-001 (per-item RPM on ``batchEmbedContents``, input TPM by its own token
counts, RPD; a sliding window of ``--window-sec``, 60 s = real minutes) and 50 ms latency.
Each client embeds the same ``--chunks`` texts of ``--words`` words (the emulator counts a
word as a token, so 500 words = ~500 tokens), with its default settings:

* ``omniembed``: `GeminiEmbedder` told the tier (``tier=``);
* ``omniembed-learnt``: `GeminiEmbedder` told nothing (it learns the limits from 429s);
* ``langchain``: `GoogleGenerativeAIEmbeddings.embed_documents` (langchain-google-genai);
* ``llamaindex``: `GoogleGenAIEmbedding.get_text_embedding_batch`
  (llama-index-embeddings-google-genai).

Figures, from the emulator's own ledger: inputs embedded, rejected calls (429s), wall time,
and the bound: the fastest any client could finish — the emulator's windows packed exactly
with its own token counts (``(windows - 1) x window``) plus the time the same calls take
with no quota at all (omniembed, measured in the same run). Targets (issue 11): 100%
embedded; <= 2 rejected calls with the quota given, <= 5 learnt; wall <= 1.1x the bound.

``--daily`` adds the daily-cap case: a cap of 250 inputs and 400 inputs to embed; how many
rejected calls and seconds until each client stops (target: 1 call, < 5 s).

Quick smoke: ``python benchmarks/quota.py --chunks 60 --window-sec 2 --tiers free``.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import util
from typing import Any

from omniembed import GeminiEmbedder, Quota
from omniembed.emulator import Emulator
from omniembed.emulator.tokens import count_text_tokens
from omniembed.providers.quota_table import quota_limits

MODEL = "gemini-embedding-001"
API_KEY = "bench-key"
VOCAB = [
    *("harbour", "ferry", "granite", "lantern", "tide", "market", "bread", "island"),
    *("sunset", "gull", "rope", "anchor", "sail", "keeper", "beacon", "storm", "pier"),
    *("net", "fish", "salt", "wave", "shore", "cliff", "bell", "mast", "deck", "chart"),
]


def corpus(count: int, words: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        f"chunk{i:05d} " + " ".join(rng.choice(VOCAB) for _ in range(words - 1))
        for i in range(count)
    ]


# --------------------------------------------------------------------------- clients


def omniembed_given(url: str, texts: list[str], tier: str, window: float) -> int:
    limits = quota_limits("gemini-api", MODEL, tier)
    e = GeminiEmbedder(MODEL, api_key=API_KEY, base_url=url, quota=Quota(limits, window_sec=window))
    return len(e.embed(texts))


def omniembed_learnt(url: str, texts: list[str], tier: str, window: float) -> int:
    e = GeminiEmbedder(MODEL, api_key=API_KEY, base_url=url, quota=Quota(window_sec=window))
    return len(e.embed(texts))


def langchain(url: str, texts: list[str], tier: str, window: float) -> int:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings
    from pydantic import SecretStr

    e = GoogleGenerativeAIEmbeddings(model=MODEL, api_key=SecretStr(API_KEY), base_url=url)
    return sum(1 for v in e.embed_documents(texts) if v)


def llamaindex(url: str, texts: list[str], tier: str, window: float) -> int:
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    e = GoogleGenAIEmbedding(
        model_name=MODEL, api_key=API_KEY, http_options=types.HttpOptions(base_url=url)
    )
    return sum(1 for v in e.get_text_embedding_batch(texts) if v)


Client = Callable[[str, list[str], str, float], int]
CLIENTS: dict[str, tuple[str, Client, str | None]] = {
    "omniembed": ("omniembed GeminiEmbedder (tier given)", omniembed_given, None),
    "omniembed-learnt": ("omniembed GeminiEmbedder (told nothing)", omniembed_learnt, None),
    "langchain": (
        "LangChain GoogleGenerativeAIEmbeddings",
        langchain,
        "langchain_google_genai",
    ),
    "llamaindex": (
        "LlamaIndex GoogleGenAIEmbedding",
        llamaindex,
        "llama_index.embeddings.google_genai",
    ),
}


def installed(module: str | None) -> bool:
    if module is None:
        return True
    try:
        return util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    embedded: int
    rejected: int
    seconds: float
    error: str = ""


def run(
    emu: Emulator, client: Client, texts: list[str], tier: str, window: float, timeout: float
) -> Result:
    emu.reset_quotas()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["n"] = client(emu.base_url, texts, tier, window)
        except BaseException as exc:
            outcome["error"] = f"{type(exc).__name__}: {str(exc)[:80]}"

    start = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    seconds = time.monotonic() - start
    usage = emu.quota_usage().get(f"gemini:{MODEL}")
    embedded = usage.embedded_inputs if usage else 0
    rejected = usage.rejected_calls if usage else 0
    error = outcome.get("error", "")
    if thread.is_alive():
        error = f"still running after {timeout:.0f} s"
    return Result(min(embedded, len(texts)), rejected, seconds, error)


def quota_bound(texts: list[str], tier: str, window: float) -> float:
    """Seconds before the last call can be admitted, packing each window exactly with the
    emulator's own token counts (calls of at most 100 inputs)."""
    limits = quota_limits("gemini-api", MODEL, tier)
    rpm = limits.requests_per_minute or float("inf")
    tpm = limits.tokens_per_minute or float("inf")
    windows, items, tokens = 1, 0, 0
    for text in texts:
        cost = count_text_tokens(text)
        if items + 1 > rpm or tokens + cost > tpm:
            windows, items, tokens = windows + 1, 0, 0
        items += 1
        tokens += cost
    return (windows - 1) * window


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument("--words", type=int, default=500)
    parser.add_argument("--tiers", default="free,tier1")
    parser.add_argument("--window-sec", type=float, default=60.0, help="the emulator's minute")
    parser.add_argument("--only", action="append", choices=sorted(CLIENTS), default=None)
    parser.add_argument("--daily", action="store_true", help="also the daily-cap case")
    parser.add_argument("--timeout-factor", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    chosen = args.only or list(CLIENTS)
    texts = corpus(args.chunks, args.words)
    tokens = sum(count_text_tokens(t) for t in texts)
    print(f"{len(texts)} chunks, {tokens:,} tokens (emulator count), {MODEL}")
    print(f"the emulator's minute: {args.window_sec:g} s")
    lines = [
        "| tier | client | embedded | rejected calls | wall time | bound | wall / bound |",
        "|---|---|---|---|---|---|---|",
    ]
    with Emulator(latency_ms=50, quota_window_sec=args.window_sec) as emu:
        for tier in args.tiers.split(","):
            emu.tier = None
            free_run = run(emu, omniembed_given, texts, "tier3", args.window_sec, 600)
            bound = quota_bound(texts, tier, args.window_sec) + free_run.seconds
            emu.tier = tier
            print(f"\n{tier}: {quota_limits('gemini-api', MODEL, tier).describe()}")
            print(f"bound {bound:.1f} s (no-quota time {free_run.seconds:.1f} s)")
            for name in chosen:
                label, client, module = CLIENTS[name]
                if not installed(module):
                    lines.append(f"| {tier} | {label} | not installed | | | | |")
                    continue
                r = run(emu, client, texts, tier, args.window_sec, args.timeout_factor * bound + 60)
                ratio = r.seconds / bound if bound else float("nan")
                note = f" ({r.error})" if r.error else ""
                row = (
                    f"| {tier} | {label} | {r.embedded}/{len(texts)}{note} | {r.rejected} | "
                    f"{r.seconds:.1f} s | {bound:.1f} s | {ratio:.2f} |"
                )
                print(row, flush=True)
                lines.append(row)
        if args.daily:
            lines += daily(emu, chosen)
    print("\n" + "\n".join(lines))
    return 0


def daily(emu: Emulator, chosen: list[str]) -> list[str]:
    """A daily cap of 250 inputs, 400 to embed: rejected calls and seconds to stop."""
    emu.tier = None
    emu.model_quotas = {MODEL: {"rpd": 250}}
    texts = corpus(400, 20, seed=11)
    out = [
        "",
        "| daily cap 250, 400 inputs | embedded | rejected calls | seconds to stop "
        "| how it stops |",
        "|---|---|---|---|---|",
    ]
    for name in chosen:
        label, client, module = CLIENTS[name]
        if not installed(module) or name == "omniembed":
            continue
        r = run(emu, client, texts, "free", 60.0, 120)
        how = (r.error or "returned").split(":")[0]
        row = f"| {label} | {r.embedded}/400 | {r.rejected} | {r.seconds:.1f} | {how} |"
        print(row, flush=True)
        out.append(row)
    emu.model_quotas = None
    return out


if __name__ == "__main__":
    sys.exit(main())
