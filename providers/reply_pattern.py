"""The smoke test's `expect`, matched with RE2: a regular-expression engine without backtracking. Pure: no I/O.

Why RE2: Python's `re` backtracks, so `expect: '^(a+)+$'` against a reply of 29 `a`s and `!` ran for 18.8 s inside
the readiness probe, with a 10 s `readyTimeoutSeconds`. RE2 matches in time linear in the reply's length whatever
the pattern, so the wait's deadline always holds. The other ways out are worse: a time limit needs a thread or a
process per match (Python cannot stop a running `re` match) and makes the verdict depend on the machine's speed;
a bound on the reply's length still leaves exponential time (25 characters already take seconds).

The price: RE2 has no lookaround (`(?=...)`) and no backreferences (`\\1`); `check` refuses those at preview with
RE2's own reason, so a pattern accepted there is one the probe can run. In RE2, `\\w`, `\\d` and `\\b` are ASCII
(`\\pL` is any letter), and `$` matches only at the very end (not before a final newline).
"""

from __future__ import annotations

from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr, which `pulumi up` shows


def problem(pattern: Any) -> str | None:
    """Why RE2 cannot run `pattern`, or None when it can."""
    if not isinstance(pattern, str):
        return "it is not a string"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"it is {len(pattern)} characters long, more than {MAX_PATTERN_LENGTH}"
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        return (reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)) + " (RE2 syntax)"
    return None


def matches(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs anywhere in `text` (`re.search`), in linear time."""
    return re2.compile(pattern, _OPTIONS).search(text) is not None
