"""The secrets that failure logs mask, and how (`providers.failure_logs`, pure)."""

from __future__ import annotations

import json

import pytest

from providers.failure_logs import log_section, mask, secret_values

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


@pytest.mark.parametrize(("text", "secrets", "expected"), [
    ("key=s3cr3t-value-2 and s3cr3t-value", ["s3cr3t-value", "s3cr3t-value-2"], "key=*** and ***"),
    ("Bearer hf_abcdefghijklmnop", [], "Bearer ***"),
    ("Bearer hf_abcdefghijklmnop ab", ["ab"], "Bearer *** ***"),
    ("hf_short stays", [], "hf_short stays"),
], ids=["longest-first", "token-shape", "token-before-short-secret", "not-a-token"])
def test_mask(text, secrets, expected):
    assert mask(text, secrets) == expected


def test_log_section_keeps_the_last_lines_without_blanks():
    assert log_section("a\n\nb\nc\n", [], tail=2) == \
        "\nLast 2 lines of its container log (secrets masked):\n  | b\n  | c"
