"""The stack's secret values and how text is masked with them (`providers.secret_text`, pure): each secret in every
form a server's text may carry it in (as given, stripped, URL-encoded, in any letter case), and token shapes."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from providers.secret_text import mask, masked, secret_values

ENDPOINTS = {"jais": {"secrets": {"API_KEY": "s3cr3t-value", "EMPTY": ""},
                      "custom_image": {"url": "x:1", "credentials": {"username": "me", "password": "regpass"}}},
             "other": {"env": {"NOT_SECRET": "visible"}}}


@pytest.mark.parametrize(("config", "token", "expected"), [
    ({"hf-endpoints:endpoints": json.dumps(ENDPOINTS)}, "hf_tokenvalue123",
     ["hf_tokenvalue123", "s3cr3t-value", "regpass"]),
    ({"hf-endpoints:endpoints": ENDPOINTS, "hf-endpoints:defaults": json.dumps({"secrets": {"DB": "dbpass"}})},
     None, ["s3cr3t-value", "regpass", "dbpass"]),
    ({"hf-endpoints:endpoints": "not json"}, None, []),
    ({}, "tok", ["tok"]),
], ids=["engine-json-text", "parsed-and-defaults", "unparsable", "token-only"])
def test_secret_values_of_the_stack(config, token, expected):
    assert secret_values(config, token) == expected


SECRET = "Sk-Live/Secret+Value=42"
TOKEN = " canary-Token-0042 \n"  # as pasted into the stack config: the server only ever sees it stripped


@pytest.mark.parametrize(("form", "secret"), [
    (SECRET, SECRET), (SECRET.lower(), SECRET), (SECRET.upper(), SECRET), (quote(SECRET, safe=""), SECRET),
    (quote(SECRET, safe="").lower(), SECRET), (quote(SECRET), SECRET), (quote_plus(SECRET + " x"), SECRET + " x"),
    ("canary-Token-0042", TOKEN), ("canary-token-0042", TOKEN), (TOKEN, TOKEN),
], ids=["as-given", "lower-case", "upper-case", "url-encoded", "url-encoded-lower-case", "url-encoded-slash-kept",
        "form-encoded-space", "token-stripped", "token-stripped-lower-case", "token-as-pasted"])
def test_every_form_of_a_secret_is_masked(form, secret):
    """Removing the stripped form (the token as huggingface_hub sends it) passed the whole suite before."""
    assert mask(f"KeyError: API_KEY={form} (retry)", [secret]) == "KeyError: API_KEY=*** (retry)"


def test_an_api_answer_is_masked_in_every_string():
    answer = {"status": {"state": "failed", "message": f"boom {SECRET.lower()}"}, "tags": [SECRET], "port": 80}
    assert masked(answer, [SECRET], "<redacted>") == {
        "status": {"state": "failed", "message": "boom <redacted>"}, "tags": ["<redacted>"], "port": 80}
