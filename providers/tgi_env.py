"""What TGI (text-generation-inference) reads from its environment, and the rules its launcher and router
enforce at start-up, checked here so a bad value fails in preview, not after minutes of a paid start. No I/O.

Sources, in huggingface/text-generation-inference: 1.x reads `MAX_INPUT_LENGTH` with defaults 1024 /
`MAX_TOTAL_TOKENS` 2048 / `MAX_BATCH_PREFILL_TOKENS` 4096 (docs/source/basic_tutorials/launcher.md of the 1.x docs;
router/src/main.rs of 1.x validates input < total, prefill >= input, and with `MAX_BATCH_TOTAL_TOKENS` prefill <= it
and total <= it). 2.0 renamed it `MAX_INPUT_TOKENS` and keeps `MAX_INPUT_LENGTH` as "Legacy version of
`Args::max_input_tokens`"; the launcher refuses both ("Both `max_input_tokens` ... and `max_input_length` ... are
set") and derives the defaults from the model's `max_position_embeddings` (launcher/src/main.rs, commit 009c4e0b;
PR #1727 "Improve the defaults for the launcher"), so for 2.x/3.x only values that are set are compared. An image
whose version is not known (another engine, a `latest` or `sha-...` tag, the default image) gets the
version-independent rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from providers.image_reference import ImageReference
from providers.values import is_unknown

# TGI's --quantize values (text-generation-inference 3.x launcher).
QUANTIZE = (
    "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4",
    "bitsandbytes-fp4", "fp8",
)
TOKEN_LIMITS = ("MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS",
                "MAX_BATCH_TOTAL_TOKENS")
# TGI 1.x's defaults when a limit is unset (2.0 and later derive them from the model, see the docstring).
V1_DEFAULTS = {"MAX_INPUT_LENGTH": 1024, "MAX_TOTAL_TOKENS": 2048, "MAX_BATCH_PREFILL_TOKENS": 4096}
V1_DEFAULT_NOTE = "TGI 1.x's default when it is unset"


class Problem(NamedTuple):
    """One env variable TGI would refuse: `env.<name>: <value> <problem>; <fix>`."""

    name: str
    problem: str
    fix: str


def problems(env: Mapping[str, Any], image: ImageReference | None) -> list[Problem]:
    """TGI launcher and router rules for `env` (canonical: values are strings), for the TGI major version
    `image`'s tag names; at most one problem per variable, in the order a reader fixes them."""
    if any(is_unknown(env.get(name)) for name in (*TOKEN_LIMITS, "QUANTIZE")):
        return []
    found: dict[str, Problem] = {}

    def fail(name: str, problem: str, fix: str) -> None:
        found.setdefault(name, Problem(name, problem, fix))

    numbers: dict[str, int] = {}
    for name in TOKEN_LIMITS:
        if name in env:
            if re.fullmatch(r"[0-9]+", env[name]) and int(env[name]) > 0:
                numbers[name] = int(env[name])
            else:
                fail(name, "is not a positive whole number", "e.g. 2048")
    major = image.tgi_major if image else None
    if major == 1:
        if "MAX_INPUT_TOKENS" in env:
            fail("MAX_INPUT_TOKENS", f"is not read by TGI 1.x (custom_image tag {image.tag})",  # type: ignore[union-attr]
                 "use MAX_INPUT_LENGTH (TGI 2.0 renamed it MAX_INPUT_TOKENS)")
        input_name = "MAX_INPUT_LENGTH"
    else:
        if "MAX_INPUT_TOKENS" in env and "MAX_INPUT_LENGTH" in env:
            fail("MAX_INPUT_LENGTH", "is set together with MAX_INPUT_TOKENS, and TGI 2.0 and later refuse both "
                 "(MAX_INPUT_LENGTH is the legacy name)", "remove MAX_INPUT_LENGTH" if major else
                 "remove one (TGI 1.x reads MAX_INPUT_LENGTH, 2.0 and later MAX_INPUT_TOKENS)")
        input_name = "MAX_INPUT_TOKENS" if "MAX_INPUT_TOKENS" in env else "MAX_INPUT_LENGTH"
    defaults = V1_DEFAULTS if major == 1 else {}

    def limit(name: str) -> tuple[int | None, str]:
        """The value TGI will use, and ", <why>" when it is TGI's default rather than the user's."""
        if name in env:
            return numbers.get(name), ""
        return (defaults[name], f", {V1_DEFAULT_NOTE}") if name in defaults else (None, "")

    max_input, input_note = limit(input_name)
    total, total_note = limit("MAX_TOTAL_TOKENS")
    prefill, prefill_note = limit("MAX_BATCH_PREFILL_TOKENS")
    batch_total = numbers.get("MAX_BATCH_TOTAL_TOKENS")
    if max_input is not None and total is not None and max_input >= total:
        if not input_note:
            fail(input_name, f"must be less than MAX_TOTAL_TOKENS ({total}{total_note})",
                 f"lower {input_name} or " + ("set MAX_TOTAL_TOKENS above it" if total_note else
                                              "raise MAX_TOTAL_TOKENS"))
        elif not total_note:
            fail("MAX_TOTAL_TOKENS", f"must be greater than {input_name} ({max_input}{input_note})",
                 f"raise MAX_TOTAL_TOKENS or set {input_name} below it")
    if max_input is not None and prefill is not None and prefill < max_input:
        if not prefill_note:
            fail("MAX_BATCH_PREFILL_TOKENS", f"must be at least {input_name} ({max_input}{input_note})",
                 f"raise MAX_BATCH_PREFILL_TOKENS to {max_input} or more")
        elif not input_note:
            fail(input_name, f"is above MAX_BATCH_PREFILL_TOKENS ({prefill}{prefill_note})",
                 f"set MAX_BATCH_PREFILL_TOKENS to {max_input} or more")
    if batch_total is not None and total is not None and batch_total < total:
        fail("MAX_BATCH_TOTAL_TOKENS", f"must be at least MAX_TOTAL_TOKENS ({total}{total_note})",
             "raise MAX_BATCH_TOTAL_TOKENS or lower MAX_TOTAL_TOKENS")
    if batch_total is not None and prefill is not None and prefill > batch_total:
        if not prefill_note:
            fail("MAX_BATCH_PREFILL_TOKENS", f"must be at most MAX_BATCH_TOTAL_TOKENS ({batch_total})",
                 "lower MAX_BATCH_PREFILL_TOKENS or raise MAX_BATCH_TOTAL_TOKENS")
        else:
            fail("MAX_BATCH_TOTAL_TOKENS", f"must be at least MAX_BATCH_PREFILL_TOKENS ({prefill}{prefill_note})",
                 "raise MAX_BATCH_TOTAL_TOKENS or set MAX_BATCH_PREFILL_TOKENS below it")
    if "QUANTIZE" in env and env["QUANTIZE"] not in QUANTIZE:
        fail("QUANTIZE", "is not a TGI quantization", f"use one of {', '.join(QUANTIZE)}")
    return list(found.values())
