"""Reading request bodies as the real service does: JSON parsed like serde_json, and shape checkers named
after the serde types they stand for. Shared by the management API (`models.py`) and the inference surface
(`engines/`), so both word a bad body the same way.

A checker takes the value and its dotted path in the body, returns the value, and raises the plain-text 422
`ShapeError` with serde's wording when the value has the wrong type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request

from emulator.errors import BadRequest, JsonSyntaxError, ShapeError

# serde_json's recursion limit: the 129th nested array or object is an error.
MAX_DEPTH = 128
_OPEN, _CLOSE, _NUMBER = frozenset("[{"), frozenset("]}"), frozenset("+-0123456789.eE")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"expected value ({name} is not JSON)")


def _scan(text: str) -> None:
    """What serde_json refuses and Python's json accepts: nesting deeper than MAX_DEPTH (Python recurses, then a
    deepcopy of the value overflows the stack) and numbers that do not fit an f64 (`1e999` is `inf` in Python,
    which no JSON answer can carry afterwards). Raises the plain-text 400 with serde's wording and position."""
    depth, line, line_start, i, n = 0, 1, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonSyntaxError(f"recursion limit exceeded at line {line} column {i - line_start + 1}")
        elif ch in _CLOSE:
            depth -= 1
        elif ch == "\n":
            line, line_start = line + 1, i + 1
        elif ch in _NUMBER:
            j = i
            while j < n and text[j] in _NUMBER:
                j += 1
            token = text[i:j]
            try:
                finite = math.isfinite(float(token))
            except (ValueError, OverflowError):
                finite = True  # not a number at all: json.loads words the syntax error
            if not finite:
                raise JsonSyntaxError(f"number out of range at line {line} column {j - line_start}")
            i = j - 1
        i += 1


def parse_json(raw: bytes) -> Any:
    """Parse a request body like serde_json, raising the service's plain-text 400."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonSyntaxError(f"invalid unicode code point at byte {e.start}") from None
    _scan(text)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        reason = "EOF while parsing a value" if not text.strip() else e.msg.replace("Expecting", "expected")
        raise JsonSyntaxError(f"{reason} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise JsonSyntaxError(str(e)) from None


def finite_copy(value: Any, path: str, cleared: list[str]) -> Any:
    """`value` with every non-finite float replaced by None, naming each in `cleared` (a state file written by
    an older version may hold them; no JSON answer can carry them)."""
    if isinstance(value, float) and not math.isfinite(value):
        cleared.append(path)
        return None
    if isinstance(value, dict):
        return {k: finite_copy(v, f"{path}.{k}" if path else k, cleared) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_copy(v, f"{path}[{i}]", cleared) for i, v in enumerate(value)]
    return value


async def json_body(request: Request) -> Any:
    """The request's body parsed with `parse_json`. A client gone before sending all of it gets a typed 400 (no one
    reads it), not an internal error whose traceback the server logs."""
    try:
        raw = await request.body()
    except ClientDisconnect:
        raise BadRequest("The client disconnected before sending the whole request body") from None
    return parse_json(raw)


def describe(value: Any) -> str:
    """serde's wording for an unexpected JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        return f"floating point `{value}`"
    if isinstance(value, str):
        return f'string "{value}"'
    return "sequence" if isinstance(value, list) else "map"


def bad_type(path: str, value: Any, expected: str) -> ShapeError:
    return ShapeError(path, f"invalid type: {describe(value)}, expected {expected}")


def string(v: Any, p: str) -> str:
    if not isinstance(v, str):
        raise bad_type(p, v, "a string")
    return v


def u16(v: Any, p: str) -> int:
    """serde's u16 (a port)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad_type(p, v, "u16")
    if not 0 <= v < 2**16:
        raise ShapeError(p, f"invalid value: integer `{v}`, expected u16")
    return v


def uint(v: Any, p: str) -> int:
    """serde's u32 (booleans are not integers in JSON)."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad_type(p, v, "u32")
    if not 0 <= v < 2**32:
        raise ShapeError(p, f"invalid value: integer `{v}`, expected u32")
    return v


def boolean(v: Any, p: str) -> bool:
    if not isinstance(v, bool):
        raise bad_type(p, v, "a boolean")
    return v


def f64(v: Any, p: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise bad_type(p, v, "f64")
    return float(v)


def obj(v: Any, p: str, what: str = "a map") -> dict:
    """A JSON object; `what` is serde's name for the expected type (e.g. `struct GenerateRequest`)."""
    if not isinstance(v, dict):
        raise bad_type(p, v, what)
    return v


def str_list(v: Any, p: str) -> list[str]:
    if not isinstance(v, list):
        raise bad_type(p, v, "a sequence")
    return [string(x, f"{p}[{i}]") for i, x in enumerate(v)]


def str_map(v: Any, p: str, null_values: bool = False) -> dict[str, str | None]:
    """A map of strings; with `null_values`, a null value is kept as None (a redacted secret echoed back)."""
    out: dict[str, str | None] = {}
    for k, x in obj(v, p).items():
        out[k] = None if (x is None and null_values) else string(x, f"{p}.{k}")
    return out


def enum(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    """A checker for a unit-variant enum with these variant names."""
    def check(v: Any, p: str) -> str:
        if not isinstance(v, str):
            raise bad_type(p, v, "a string")
        if v not in choices:
            expected = ", ".join(f"`{c}`" for c in choices)
            raise ShapeError(p, f"unknown variant `{v}`, expected one of {expected}")
        return v
    return check
