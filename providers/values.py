"""How values look to the provider: unknowns during preview, and values shown as the user wrote them, secrets never.

Small helpers shared by validation, diff, the resources and the stack config; they sit below all of them, so
nothing imports in a circle. No I/O.

Why redaction lives here: every message about a value goes through `show`, so a value under a key that looks like
it holds a secret (`secret`, `Secrets`, `HF_TOKEN`, `apiKey`, `credential`, ... anywhere in the key's path, e.g.
`secrets.API_KEY`, `custom_image.credentials`) or a string shaped like a token is shown as `<redacted>`, whatever the
failure (a typo'd key, a wrong type, an unknown key). So are the credentials of a URL (`https://user:pass@host/`,
`user:pass@ghcr.io/...`). Key paths are shown through `show_key`: a key is user input too, and a control character
in it (an ESC) must not reach the terminal raw. A very long value is cut (a 10,000-character URL is not a message).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

# What the engine sends for a value it does not know yet, when it does not send `pulumi.output.Unknown`.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """A preview-time unknown (`pulumi.output.Unknown`) or the engine's unknown sentinel string."""
    return type(value).__name__ == "Unknown" or value == UNKNOWN_SENTINEL


def has_unknown(value: Any) -> bool:
    """Whether a value, or anything inside it, is not known until apply."""
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return False


def _as_written(value: Any) -> Any:
    """Engine floats back to the integers the user wrote (`5.0` -> `5`), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    return value


REDACTED = "<redacted>"
# Words of a key that say it holds a secret. `tokens` is not one: MAX_TOTAL_TOKENS is a TGI budget, not a secret.
SECRET_WORDS = frozenset({
    "secret", "secrets", "token", "password", "passwords", "passwd", "pwd", "passphrase", "credential",
    "credentials", "apikey", "auth", "authorization", "cookie",
})
_WORD_BOUNDARY = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Strings shaped like a Hugging Face token or a vendor API key are secrets wherever they appear.
TOKEN_SHAPED = re.compile(r"\bhf_[A-Za-z0-9]{8,}|\bsk-[A-Za-z0-9_-]{16,}")


def is_secret_key(key: Any) -> bool:
    """Whether a key's name says it holds a secret (`HF_TOKEN`, `apiKey`, `Secrets`), case-insensitive; a key
    ending in `key` (`API_KEY`, `private_key`) counts too."""
    words = [word.lower() for word in _WORD_BOUNDARY.split(str(key)) if word]
    return bool(words) and (words[-1] == "key" or any(word in SECRET_WORDS for word in words))


def is_secret_path(path: str) -> bool:
    """Whether any part of a dotted key path (`secrets.API_KEY`, `custom_image.credentials`) is secret-looking."""
    return any(is_secret_key(part) for part in path.split("."))


# `[scheme://]userinfo@host[:port][/path]`. Not an image digest (`name@sha256:<hex>`: no host and path after the `@`),
# and not an e-mail address (no scheme, no `:` in the userinfo, nothing after the host).
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)?(?P<userinfo>.+)@"
                           r"(?P<host>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::[0-9]+)?)(?P<path>/.*)?", re.S)
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def split_url_credentials(text: str) -> tuple[str, str] | None:
    """(`scheme://` or "", what follows the credentials) when `text` carries `user:password@` before a host, e.g.
    `https://bot:pw@ghcr.io/x:1` -> ("https://", "ghcr.io/x:1"); else None."""
    match = _URL_USERINFO.fullmatch(text) if "@" in text else None
    if match is None or _DIGEST.fullmatch(text[match.start("host"):]):
        return None
    scheme, path = match["scheme"] or "", match["path"] or ""
    if not (scheme or ":" in match["userinfo"] or path):
        return None
    return scheme, match["host"] + path


def redacted(value: Any) -> Any:
    """A copy of `value` with every value under a secret-looking key, every token-shaped string and the credentials
    of a URL redacted."""
    if isinstance(value, Mapping):
        return {key: REDACTED if is_secret_key(key) else redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if isinstance(value, str) and TOKEN_SHAPED.search(value):
        return REDACTED
    if isinstance(value, str) and (credentials := split_url_credentials(value)) is not None:
        return f"{credentials[0]}{REDACTED}@{credentials[1]}"
    return value


SHOWN_LENGTH = 120


def show(value: Any, path: str = "") -> str:
    """A value as the user wrote it in YAML/JSON terms (`"abc"`, `5`, `true`, `Infinity`), for messages; a value at
    a secret-looking `path` (or a token-shaped one) is `<redacted>`, and so is anything secret inside it. Control
    characters are escaped (`\\u001b`), as JSON writes them; past SHOWN_LENGTH characters the text is cut."""
    if is_secret_path(path):
        return REDACTED
    value = redacted(value)
    if value == REDACTED:
        return REDACTED
    try:
        text = json.dumps(_as_written(value), sort_keys=True)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) <= SHOWN_LENGTH:
        return text
    return f"{text[:SHOWN_LENGTH]}... ({len(value) if isinstance(value, str) else len(text)} characters)"


def show_key(path: Any) -> str:
    """A key path (`env.A`, `min\\u001breplica`) for a message: as written when it is printable ASCII, else escaped
    as `show` escapes values (JSON's escapes, without the quotes)."""
    text = str(path)
    if text.isascii() and text.isprintable():
        return text
    return json.dumps(text)[1:-1]


def is_number(value: Any) -> bool:
    """A real, finite number: not a boolean, not infinity, not NaN."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
