"""What `diff` needs: both sides in canonical form, the keys that changed, and those that force a replacement.

`olds` are the previous outputs (they carry output-only keys too); both sides go through `validate`, so
`2048` vs `"2048"`, key order and server defaults never show as a change. No I/O.

Decision: changing the declared engine (the `model.image` variant: the default image, `custom_image`, or an
`engine:` such as vllm or tgi) replaces the endpoint, like the fixed replacement keys: "the Inference Engine cannot be
changed on an existing Inference Endpoint" (contract §4.3). A change within one engine is an update: one PUT with
the whole image.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from providers import engines
from providers.fields import INPUT_KEYS, REPLACE_KEYS
from providers.validation import validate

CANONICAL_CACHE_SIZE = 4096
_CANONICAL: dict[str, dict[str, Any]] = {}
"""The input keys of a mapping, as JSON (1 and 1.0 apart, as validation keeps them) -> their canonical form. diff
canonicalizes the last outputs and the new inputs of every endpoint, and for an unchanged endpoint both hold the same
values: one validation instead of two, per endpoint of every preview and `up`. Bounded; per process."""


def canonical(props: Mapping[str, Any]) -> dict[str, Any]:
    """The input keys of `props` (inputs or outputs) in canonical form, for comparisons (a fresh copy each time)."""
    subset = {key: props[key] for key in INPUT_KEYS if key in props}
    try:
        key = json.dumps(subset, sort_keys=True)
    except (TypeError, ValueError):  # a preview's unknowns, or a value JSON cannot hold: nothing to reuse
        return validate(subset).inputs
    found = _CANONICAL.get(key)
    if found is None:
        if len(_CANONICAL) >= CANONICAL_CACHE_SIZE:
            _CANONICAL.clear()
        found = _CANONICAL[key] = validate(subset).inputs
    return copy.deepcopy(found)


def image_variant(inputs: Mapping[str, Any]) -> str:
    """The declared engine's name: what cannot change in place."""
    return engines.declared(inputs).name


def differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Input keys whose values differ between two canonical forms, in field order."""
    return [key for key in INPUT_KEYS if old.get(key) != new.get(key)]


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Input keys whose canonical values differ (`olds` may be outputs: extra keys are ignored)."""
    return differing(canonical(olds), canonical(news))


def replace_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The changed keys that force a replacement (delete before replace: the name is reused)."""
    return replacing(canonical(olds), canonical(news))


def replacing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """`replace_keys` of two canonical forms (diff canonicalizes each side once)."""
    changed = differing(old, new)
    keys = [key for key in changed if key in REPLACE_KEYS]
    if image_variant(old) != image_variant(new):
        keys.extend(key for key in ("custom_image", "engine") if key in changed)
    return keys
