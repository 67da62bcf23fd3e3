"""400 details as Google's proto-JSON front end sends them: ``google.rpc.BadRequest`` with
one ``fieldViolations`` entry per parse error (mnfst/llm-gateway#1858,
MinLL/SkyrimNet-GamePlugin#77); rule violations carry no details."""

from __future__ import annotations

import httpx

from omniembed.emulator.google_errors import field_violations

GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def test_unknown_name_names_its_field(http: httpx.Client) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "hi", "colour": "red"}]}]}
    error = http.post(GEN, json=body).json()["error"]

    assert error["status"] == "INVALID_ARGUMENT"
    assert error["details"] == [
        {
            "@type": BAD_REQUEST,
            "fieldViolations": [{"field": "contents[0].parts[0]", "description": error["message"]}],
        }
    ]


def test_unknown_top_level_name_has_no_field(http: httpx.Client) -> None:
    error = http.post(GEN, json={"contents": [], "frequency": 1}).json()["error"]

    assert error["details"] == [
        {"@type": BAD_REQUEST, "fieldViolations": [{"description": error["message"]}]}
    ]


def test_wrong_type_names_its_field(http: httpx.Client) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": "many"},
    }
    error = http.post(GEN, json=body).json()["error"]

    assert error["message"].startswith("Invalid value at 'generation_config.max_output_tokens'")
    violation = error["details"][0]["fieldViolations"][0]
    assert violation["field"] == "generation_config.max_output_tokens"


def test_rule_violations_carry_no_details(http: httpx.Client) -> None:
    error = http.post(GEN, json={"contents": []}).json()["error"]

    assert error["status"] == "INVALID_ARGUMENT"
    assert "details" not in error


def test_one_violation_per_line() -> None:
    # As in MinLL/SkyrimNet-GamePlugin#77: a named field, then top-level names.
    message = (
        "Invalid JSON payload received. Unknown name \"extra_body\" at 'extra_body': Cannot "
        'find field.\nInvalid JSON payload received. Unknown name "top_k": Cannot find field.'
    )
    assert field_violations(message) == [
        {
            "@type": BAD_REQUEST,
            "fieldViolations": [
                {"field": "extra_body", "description": message.split("\n")[0]},
                {"description": message.split("\n")[1]},
            ],
        }
    ]
    assert field_violations("Request contains an invalid argument.") is None
