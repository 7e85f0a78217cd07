"""Why it failed: the tail of a failed endpoint's container log, with secrets masked. Pure: no I/O.

`readiness` reads the log (`GET /v2/endpoint/{namespace}/{name}/logs?tail=N`, contract R11, through
`client.py`) when an endpoint ends in `failed` or `updateFailed`, and appends it after the server's message,
so `pulumi up` says why without a trip to the dashboard. A container log can hold anything the application
printed: every secret value of the stack's endpoints (`secrets`, registry passwords), the token, and anything
shaped like a Hugging Face token are replaced by `***` before it is shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

LOG_TAIL = 20
MASK = "***"
HF_TOKEN_SHAPE = re.compile(r"\bhf_[A-Za-z0-9]{8,}")


def _mapping(value: Any) -> Mapping[str, Any]:
    """Structured config arrives as JSON text (the engine's form) or already parsed."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, Mapping) else {}


def _endpoint_secrets(spec: Any) -> list[str]:
    spec = _mapping(spec)
    values = [str(v) for v in _mapping(spec.get("secrets")).values() if v not in (None, "")]
    password = _mapping(_mapping(spec.get("custom_image")).get("credentials")).get("password")
    return [*values, *([str(password)] if password else [])]


def secret_values(config: Mapping[str, Any], token: str | None) -> list[str]:
    """Every secret value the stack holds: endpoint and default `secrets`, registry passwords, the token."""
    found = _endpoint_secrets(config.get("hf-endpoints:defaults"))
    for spec in _mapping(config.get("hf-endpoints:endpoints")).values():
        found += _endpoint_secrets(spec)
    if token:
        found.append(token)
    return sorted(set(found), key=lambda value: (-len(value), value))  # longest first: no partial leftovers


def mask(text: str, secrets: Iterable[str]) -> str:
    """Token shapes first, then every secret value, longest first (so no part of one is left showing). Even
    a short value is masked: a garbled log line is better than a leaked secret."""
    text = HF_TOKEN_SHAPE.sub(MASK, text)
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text


def log_section(log: str, secrets: Iterable[str], tail: int = LOG_TAIL) -> str:
    """The last `tail` lines of the log, masked and indented, under a line saying what they are."""
    lines = [line.rstrip() for line in log.splitlines() if line.strip()][-tail:]
    if not lines:
        return "\nIts container log is empty."
    shown = "\n".join(f"  | {mask(line, secrets)}" for line in lines)
    return f"\nLast {len(lines)} lines of its container log (secrets masked):\n{shown}"


def unreadable(reason: str, secrets: Iterable[str]) -> str:
    """One line when the logs route failed; the failure itself is reported all the same."""
    return f"\n(Its container log could not be read: {mask(reason, secrets)}; see it in the dashboard.)"
