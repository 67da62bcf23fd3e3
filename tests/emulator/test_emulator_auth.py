"""Required API key: Gemini API (403 missing / 400 wrong) and Vertex (401)."""

from __future__ import annotations

import httpx
import pytest

from omniembed.emulator import Emulator

GEMINI = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
VERTEX = "/v1/projects/p/locations/l/publishers/google/models/gemini-embedding-001:predict"
GEMINI_BODY = {
    "requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]
}
VERTEX_BODY = {"instances": [{"content": "x"}]}


@pytest.fixture
def secured(emulator: Emulator) -> Emulator:
    emulator.api_key = "secret"
    return emulator


def test_no_key_configured_accepts_anything(http: httpx.Client) -> None:
    assert http.post(GEMINI, json=GEMINI_BODY).status_code == 200
    assert http.post(VERTEX, json=VERTEX_BODY).status_code == 200


def test_gemini_missing_key_is_permission_denied(secured: Emulator, http: httpx.Client) -> None:
    response = http.post(GEMINI, json=GEMINI_BODY)

    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": 403,
            "message": "Method doesn't allow unregistered callers (callers without established "
            "identity). Please use API Key or other form of API consumer identity to call this "
            "API.",
            "status": "PERMISSION_DENIED",
        }
    }


def test_gemini_wrong_key_is_invalid(secured: Emulator, http: httpx.Client) -> None:
    response = http.post(GEMINI, json=GEMINI_BODY, headers={"x-goog-api-key": "nope"})

    error = response.json()["error"]
    assert response.status_code == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert error["details"][0]["domain"] == "googleapis.com"


@pytest.mark.parametrize(
    ("headers", "query"), [({"x-goog-api-key": "secret"}, {}), ({}, {"key": "secret"})]
)
def test_gemini_key_in_header_or_query(
    secured: Emulator, http: httpx.Client, headers: dict[str, str], query: dict[str, str]
) -> None:
    assert http.post(GEMINI, json=GEMINI_BODY, headers=headers, params=query).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"authorization": "Bearer secret"}, {"x-goog-api-key": "secret"}],
)
def test_vertex_bearer_or_api_key(
    secured: Emulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    assert http.post(VERTEX, json=VERTEX_BODY, headers=headers).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer nope"}, {"x-goog-api-key": "x"}])
def test_vertex_missing_or_wrong_is_unauthenticated(
    secured: Emulator, http: httpx.Client, headers: dict[str, str]
) -> None:
    response = http.post(VERTEX, json=VERTEX_BODY, headers=headers)

    error = response.json()["error"]
    assert response.status_code == 401
    assert error["status"] == "UNAUTHENTICATED"
    assert error["message"].startswith(
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential."
    )


def test_auth_is_checked_before_the_model(secured: Emulator, http: httpx.Client) -> None:
    response = http.post("/v1beta/models/nope:batchEmbedContents", json={})

    assert response.status_code == 403
