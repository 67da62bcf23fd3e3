"""The Files API: google-genai's resumable upload (small and chunked), get/list/delete,
PROCESSING -> ACTIVE, and generating with a file's URI."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from google import genai
from google.genai import errors, types

from omniembed.emulator import Emulator
from tests import media_factory as media


def client_for(emu: Emulator) -> genai.Client:
    options = types.HttpOptions(base_url=emu.base_url, api_version="v1beta")
    return genai.Client(api_key="k", http_options=options)


def upload(client: genai.Client, data: bytes, mime: str, name: str = "f") -> types.File:
    config = types.UploadFileConfig(mime_type=mime, display_name=name)
    return client.files.upload(file=io.BytesIO(data), config=config)


def test_small_upload_get_list_delete(emulator: Emulator) -> None:
    client = client_for(emulator)
    file = upload(client, b"Foxes are clever animals.", "text/plain", "notes")

    assert file.name is not None and file.name.startswith("files/")
    assert file.state == types.FileState.ACTIVE
    assert file.size_bytes == 25
    assert file.display_name == "notes"
    assert file.uri == f"{emulator.base_url}/v1beta/{file.name}"
    assert file.sha256_hash and file.create_time and file.expiration_time
    assert client.files.get(name=file.name).uri == file.uri
    assert [f.name for f in client.files.list()] == [file.name]
    assert emulator.files.names() == [file.name]

    answer = client.models.generate_content(
        model="gemini-2.5-flash", contents=[file, "Which animals are clever?"]
    )
    assert answer.text == "Foxes are clever animals. [seen: text/plain 25 bytes]"

    client.files.delete(name=file.name)
    with pytest.raises(errors.ClientError) as gone:
        client.files.get(name=file.name)
    assert gone.value.code == 403
    with pytest.raises(errors.ClientError) as missing:
        client.models.generate_content(model="gemini-2.5-flash", contents=[file, "hi"])
    assert missing.value.code == 403


def test_chunked_upload_of_a_large_file(emulator: Emulator) -> None:
    client = client_for(emulator)
    data = bytes(range(256)) * (9 * 1024 * 1024 // 256)  # > google-genai's 8 MB chunk
    file = upload(client, data, "application/octet-stream", "big")

    chunks = [r for r in emulator.requests if r.route == "uploadFileData"]
    assert [r.headers["x-goog-upload-command"] for r in chunks] == ["upload", "upload, finalize"]
    assert [r.headers["x-goog-upload-offset"] for r in chunks] == ["0", str(8 * 1024 * 1024)]
    assert file.size_bytes == len(data)
    stored = emulator.files.get(file.name or "")
    assert stored is not None and stored.data == data


def test_video_is_processing_then_active_and_usable(emulator: Emulator) -> None:
    emulator.file_processing_sec = 0.3
    client = client_for(emulator)
    file = upload(client, media.video(2), "video/mp4", "clip")
    assert file.state == types.FileState.PROCESSING

    with pytest.raises(errors.ClientError) as early:
        client.models.generate_content(model="gemini-2.5-flash", contents=[file, "What is it?"])
    assert early.value.code == 400
    assert early.value.status == "FAILED_PRECONDITION"
    assert "is not in an ACTIVE state" in (early.value.message or "")

    deadline = time.monotonic() + 5
    while (file := client.files.get(name=file.name or "")).state == types.FileState.PROCESSING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert file.state == types.FileState.ACTIVE
    assert file.video_metadata is not None

    part = types.Part(
        file_data=types.FileData(file_uri=file.uri, mime_type="video/mp4"),
        video_metadata=types.VideoMetadata(start_offset="0s", end_offset="2s", fps=2),
    )
    answer = client.models.generate_content(model="gemini-2.5-flash", contents=[part, "Describe"])
    assert (answer.text or "").endswith("[seen: video/mp4 0s-2s at 2 fps, mostly red]")


def test_list_pages(emulator: Emulator) -> None:
    client = client_for(emulator)
    names = {upload(client, b"x", "text/plain", str(i)).name for i in range(3)}
    pager = client.files.list(config=types.ListFilesConfig(page_size=2))
    assert {f.name for f in pager} == names
    emulator.files.clear()
    assert list(client.files.list()) == []


def test_raw_resumable_protocol(emulator: Emulator, http: httpx.Client) -> None:
    emulator.api_key = "k"
    start = http.post(
        "/upload/v1beta/files",
        json={"file": {"displayName": "raw"}},
        headers={
            "x-goog-api-key": "k",
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": "4",
            "X-Goog-Upload-Header-Content-Type": "image/png",
        },
    )
    assert start.status_code == 200
    assert start.headers["x-goog-upload-status"] == "active"
    url = start.headers["x-goog-upload-url"]
    bad = http.post(
        url, content=b"ab", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "7"}
    )
    assert bad.status_code == 400
    part = http.post(
        url, content=b"ab", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"}
    )
    assert part.headers["x-goog-upload-status"] == "active"
    final = http.post(
        url,
        content=b"cd",
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "2"},
    )
    assert final.headers["x-goog-upload-status"] == "final"
    assert final.json()["file"]["sizeBytes"] == "4"
    assert final.json()["file"]["state"] == "ACTIVE"  # images need no processing
    assert http.get("/v1beta/files/nope", headers={"x-goog-api-key": "k"}).status_code == 403
    assert http.get("/v1beta/files").status_code == 403  # the API key still guards the rest
