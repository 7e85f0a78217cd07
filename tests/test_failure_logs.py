"""How failure logs are masked and cut (`providers.failure_logs`, pure)."""

from __future__ import annotations

import pytest

from providers.failure_logs import log_section, mask


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
