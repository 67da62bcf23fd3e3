"""The emulator's minimal Cloud Storage object route (metadata, media, byte ranges)."""

from __future__ import annotations

import httpx

from omniembed.emulator import Emulator

PATH = "/storage/v1/b/bucket/o/dir%2Fclip.mp4"


def test_metadata_media_and_ranges(emulator: Emulator, http: httpx.Client) -> None:
    emulator.gcs_objects["gs://bucket/dir/clip.mp4"] = bytes(range(256)) * 4
    meta = http.get(PATH)
    assert meta.status_code == 200
    assert meta.json()["size"] == "1024"
    assert http.get(PATH, params={"alt": "media"}).content == bytes(range(256)) * 4
    part = http.get(PATH, params={"alt": "media"}, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == bytes(range(10, 20))
    assert part.headers["content-range"] == "bytes 10-19/1024"
    tail = http.get(PATH, params={"alt": "media"}, headers={"Range": "bytes=1000-"})
    assert tail.content == (bytes(range(256)) * 4)[1000:]
    assert http.get("/storage/v1/b/bucket/o/nope").status_code == 404
