"""The stack's secret values, and text with them masked. Pure: no I/O.

Why: whatever the server sends back can repeat a secret of the stack (an endpoint secret, a registry password, the
token): a failed endpoint's `status.message` of `KeyError: API_KEY=<the secret>` was copied into the `message`
output, and so into the state, its history and its backups, in plain text. The client masks every text of every
answer before it goes anywhere (outputs, log lines, errors), and every error message is masked again on its way
out of a provider (`base.reported`).

A secret is masked in each form a text may carry it in: as given, stripped as huggingface_hub strips a token
(`clean_token`: the server only ever sees that form), URL-encoded (in a URL or a query string), and in any letter
case (a log or an error that lower-cases it); and anything shaped like a token is masked too, known or not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from providers.values import TOKEN_SHAPED

MASK = "***"


def clean_token(token: str | None) -> str | None:
    """The token as huggingface_hub uses it (`utils/_auth.py` `_clean_token`): CR/LF removed, whitespace stripped."""
    if token is None:
        return None
    return token.replace("\r", "").replace("\n", "").strip() or None


def forms(secret: str) -> set[str]:
    """Every form of `secret` that text may carry: as given, stripped, URL-encoded (`/` kept or not, `+` for a
    space). Letter case is left to `mask`, which ignores it."""
    found: set[str] = set()
    for text in {secret, clean_token(secret) or ""} - {""}:
        found |= {text, quote(text), quote(text, safe=""), quote_plus(text)}
    return found


def _patterns(secrets: Iterable[str | None]) -> list[re.Pattern[str]]:
    """One case-blind pattern per form of every secret, longest first (so no part of one is left showing)."""
    every = {form for secret in secrets if secret for form in forms(secret)}
    return [re.compile(re.escape(form), re.IGNORECASE) for form in sorted(every, key=lambda form: (-len(form), form))]


def _mask_with(text: str, patterns: Iterable[re.Pattern[str]], replacement: str) -> str:
    text = TOKEN_SHAPED.sub(replacement, text)
    for pattern in patterns:
        text = pattern.sub(replacement, text)
    return text


def mask(text: str, secrets: Iterable[str | None], replacement: str = MASK) -> str:
    """`text` with every form of every secret (longest first, so no part of one is left showing) and anything
    shaped like a token replaced. Even a short value is masked: a garbled line is better than a leaked secret."""
    return _mask_with(text, _patterns(secrets), replacement)


def masked(value: Any, secrets: Iterable[str | None], replacement: str = MASK) -> Any:
    """A copy of a JSON value (an API answer) with every string in it masked; the secrets' forms are worked out
    once for the whole answer (a list of hundreds of endpoints has thousands of strings)."""
    patterns = _patterns(secrets)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return _mask_with(item, patterns, replacement)
        if isinstance(item, Mapping):
            return {key: walk(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    """Structured config arrives as JSON text (the engine's form) or already parsed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def endpoint_secrets(spec: Any) -> list[str]:
    """One endpoint's secret values: its `secrets` and its registry password."""
    spec = _mapping(spec)
    values = [str(v) for v in _mapping(spec.get("secrets")).values() if v not in (None, "")]
    password = _mapping(_mapping(spec.get("custom_image")).get("credentials")).get("password")
    return [*values, *([str(password)] if password else [])]


def secret_values(config: Mapping[str, Any], *tokens: str | None) -> list[str]:
    """Every secret value the stack holds: endpoint and default `secrets`, registry passwords, the token(s)."""
    found = endpoint_secrets(config.get("hf-endpoints:defaults"))
    for spec in _mapping(config.get("hf-endpoints:endpoints")).values():
        found += endpoint_secrets(spec)
    found += [token for token in tokens if token]
    return sorted(set(found), key=lambda value: (-len(value), value))  # longest first: no partial leftovers
