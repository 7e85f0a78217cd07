"""Why it failed: the tail of a failed endpoint's container log, with secrets masked. Pure: no I/O.

`readiness` reads the log (`GET /v2/endpoint/{namespace}/{name}/logs?tail=N`, contract R11, through
`client.py`) when an endpoint ends in `failed` or `updateFailed`, and appends it after the server's message,
so `pulumi up` says why without a trip to the dashboard. A container log can hold anything the application
printed: every secret value of the stack's endpoints (`secrets`, registry passwords), the token, and anything
shaped like a Hugging Face token are replaced by `***` before it is shown (`secret_text.mask`, in every form).
"""

from __future__ import annotations

from collections.abc import Iterable

from providers.secret_text import mask

LOG_TAIL = 20


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
