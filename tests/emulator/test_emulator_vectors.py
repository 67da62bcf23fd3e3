"""Deterministic stand-in vectors: stability, similarity structure, truncation, precision."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from typing import Any

import httpx
import numpy as np
import pytest

from omniembed.emulator import Emulator
from omniembed.emulator.jsonio import _stdlib_dumps, dumps
from omniembed.emulator.routes_gemini import batch_embed_contents
from omniembed.emulator.routing import Call
from tests import media_factory as media

M1 = "gemini-embedding-001"
M2 = "gemini-embedding-2"


def embed(
    http: httpx.Client, model: str, *parts_list: list[dict[str, Any]], **extra: Any
) -> list[np.ndarray]:
    body = {
        "requests": [
            {"model": f"models/{model}", "content": {"parts": parts}, **extra}
            for parts in parts_list
        ]
    }
    response = http.post(f"/v1beta/models/{model}:batchEmbedContents", json=body)
    assert response.status_code == 200, response.text
    return [np.array(e["values"], dtype=np.float64) for e in response.json()["embeddings"]]


def texts(http: httpx.Client, model: str, *values: str, **extra: Any) -> list[np.ndarray]:
    return embed(http, model, *[[{"text": v}] for v in values], **extra)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_same_input_same_vector_across_emulators() -> None:
    with Emulator() as one, httpx.Client(base_url=one.base_url) as http:
        first = texts(http, M1, "the same words", taskType="RETRIEVAL_QUERY")[0]
    with Emulator() as two, httpx.Client(base_url=two.base_url) as http:
        second = texts(http, M1, "the same words", taskType="RETRIEVAL_QUERY")[0]

    assert np.array_equal(first, second)


def test_same_vector_in_another_process_with_another_hash_seed(http: httpx.Client) -> None:
    """No Python ``hash()`` anywhere: a fresh interpreter with PYTHONHASHSEED=123 agrees."""
    here = texts(http, M1, "stable across processes")[0]
    code = (
        "from omniembed.emulator.vectors import content_vector\n"
        "from omniembed.emulator.contents import TextPart\n"
        "from omniembed.emulator.models import MODELS\n"
        "model = MODELS['gemini-embedding-001']\n"
        "v, _ = content_vector([TextPart('stable across processes')], model)\n"
        "print(','.join(repr(float(x)) for x in v[:16]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    there = [float(x) for x in out.stdout.strip().split(",")]

    assert np.allclose(here[:16], there, rtol=0, atol=1e-7)


def test_full_vectors_are_unit_float32(http: httpx.Client) -> None:
    [vector] = texts(http, M2, "precision check")
    body = {"content": {"parts": [{"text": "precision check"}]}}
    raw = http.post(f"/v1beta/models/{M2}:embedContent", json=body).text
    printed = raw.split("[", 1)[1].split("]", 1)[0].split(",")

    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    # Each number is printed with the shortest digits that identify a float32, like Google.
    assert all(float(str(np.float32(s))) == float(s) for s in printed)
    significant = [re.sub(r"\D", "", s.split("e")[0]).lstrip("0") for s in printed]
    assert max(len(digits) for digits in significant) <= 9


def test_shared_words_score_higher_than_unrelated(http: httpx.Client) -> None:
    cat, cat2, physics = texts(
        http, M1, "the cat sat on the mat", "a cat sat on a mat", "quantum chromodynamics notes"
    )

    assert cos(cat, cat2) > 0.4  # 4 of 6 words shared (bag of words: 4 / 8)
    assert abs(cos(cat, physics)) < 0.2


def test_task_type_shifts_gemini_embedding_001_slightly(http: httpx.Client) -> None:
    [query] = texts(http, M1, "how do cats purr", taskType="RETRIEVAL_QUERY")
    [document] = texts(http, M1, "how do cats purr", taskType="RETRIEVAL_DOCUMENT")

    assert 0.9 <= cos(query, document) <= 0.97


def test_title_counts_a_little(http: httpx.Client) -> None:
    [plain] = texts(http, M1, "cats purr", taskType="RETRIEVAL_DOCUMENT")
    [titled] = texts(http, M1, "cats purr", taskType="RETRIEVAL_DOCUMENT", title="Felines")

    assert 0.85 < cos(plain, titled) < 0.99


def test_gemini_embedding_2_prefixes_keep_query_and_document_close(http: httpx.Client) -> None:
    query, document, other, clustering, classification = texts(
        http,
        M2,
        "task: search result | query: how do cats purr",
        "title: none | text: how do cats purr",
        "title: none | text: interest rates rose again",
        "task: clustering | query: how do cats purr",
        "task: classification | query: how do cats purr",
    )

    assert cos(query, document) > 0.9
    assert cos(query, other) < 0.3
    assert 0.9 < cos(clustering, classification) < 0.97  # the prefix reached the server


def test_truncation_does_not_renormalize(http: httpx.Client) -> None:
    [full] = texts(http, M1, "matryoshka")
    [short] = texts(http, M1, "matryoshka", outputDimensionality=768)

    assert np.array_equal(short, full[:768])
    assert np.linalg.norm(short) < 0.9  # clients must re-normalize
    assert np.linalg.norm(short) > 0.1  # dense: a prefix keeps signal


def test_images_that_share_pixels_score_higher(http: httpx.Client) -> None:
    red_png, red_jpeg, red_striped, blue = embed(
        http,
        M2,
        [media.inline(media.png((200, 30, 30)), "image/png")],
        [media.inline(media.jpeg((200, 30, 30)), "image/jpeg")],
        [media.inline(media.png((200, 30, 30), stripe=(30, 200, 30)), "image/png")],
        [media.inline(media.png((30, 30, 200)), "image/png")],
    )

    assert cos(red_png, red_jpeg) > 0.95
    assert cos(red_png, red_striped) > cos(red_png, blue)


def test_video_is_close_to_its_frames(http: httpx.Client) -> None:
    red_video, red_image, blue_image = embed(
        http,
        M2,
        [media.inline(media.video(2, colors=[(200, 30, 30)]), "video/mp4")],
        [media.inline(media.png((200, 30, 30)), "image/png")],
        [media.inline(media.png((30, 30, 200)), "image/png")],
    )

    assert cos(red_video, red_image) > 0.9
    assert cos(red_video, red_image) > cos(red_video, blue_image)


def test_pdf_embeds_its_text(http: httpx.Client) -> None:
    [document] = embed(http, M2, [media.inline(media.pdf(["cats purr softly"]), "application/pdf")])
    near, far = texts(http, M2, "cats purr softly", "interest rates rose")

    assert cos(document, near) > 0.9
    assert cos(document, near) > cos(document, far)


def test_audio_is_deterministic_and_distinct(http: httpx.Client) -> None:
    a, a_again, b = embed(
        http,
        M2,
        [media.inline(media.wav(0.5, freq=440), "audio/wav")],
        [media.inline(media.wav(0.5, freq=440), "audio/wav")],
        [media.inline(media.wav(0.5, freq=3000), "audio/wav")],
    )

    assert np.array_equal(a, a_again)
    assert not np.array_equal(a, b)


def test_interleaved_parts_mix_their_vectors(http: httpx.Client) -> None:
    image = media.inline(media.png(), "image/png")
    mixed, text_only, image_only = embed(
        http, M2, [{"text": "a red square"}, image], [{"text": "a red square"}], [image]
    )

    assert cos(mixed, text_only) > 0.5
    assert cos(mixed, image_only) > 0.5


def test_a_batch_of_100_texts_serializes_fast() -> None:
    call = Call("gemini", "batchEmbedContents", "v1beta", model=M1)
    body = {
        "requests": [
            {"model": f"models/{M1}", "content": {"parts": [{"text": f"short text {i} about x"}]}}
            for i in range(100)
        ]
    }
    dumps(batch_embed_contents(call, body))  # warm the caches and projection
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        payload = dumps(batch_embed_contents(call, body))
        timings.append(time.perf_counter() - started)

    assert len(payload) > 100 * 3072 * 5
    assert min(timings) < 0.1


def test_stdlib_json_fallback_gives_the_same_numbers() -> None:
    """Without orjson the emulator still answers (longer digits, identical float32 values)."""
    vector = np.linspace(-1, 1, 7, dtype=np.float32)
    fast = json.loads(dumps({"values": vector}))["values"]
    slow = json.loads(_stdlib_dumps({"values": vector}))["values"]

    assert np.array_equal(np.float32(fast), np.float32(slow))
