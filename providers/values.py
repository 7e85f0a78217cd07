"""How values look to the provider: unknowns during preview, and values shown as the user wrote them.

Small helpers shared by validation, diff, the resources and the stack config; they sit below all of them, so
nothing imports in a circle. No I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# What the engine sends for a value it does not know yet, when it does not send `pulumi.output.Unknown`.
UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """A preview-time unknown (`pulumi.output.Unknown`) or the engine's unknown sentinel string."""
    return type(value).__name__ == "Unknown" or value == UNKNOWN_SENTINEL


def _as_written(value: Any) -> Any:
    """Engine floats back to the integers the user wrote (`5.0` -> `5`), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    return value


def show(value: Any) -> str:
    """A value as the user wrote it in YAML/JSON terms (`"abc"`, `5`, `true`), for messages."""
    try:
        return json.dumps(_as_written(value), sort_keys=True)
    except TypeError:
        return repr(value)
