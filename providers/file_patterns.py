"""The endpoint files a stack names (`hf-endpoints:endpointFiles`): which patterns it may use, which files they name.

One rule for both readers: the program (`providers.endpoint_files`, which reads the files) and promotion
(`providers.stack_files`, which writes into them). A pattern is a path or glob relative to the project directory; an
absolute one or one with `..` is refused, so neither ever reads or writes outside the project. No I/O but the glob;
imports nothing of the package.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

KEY = "hf-endpoints:endpointFiles"
FIX = "write a list of paths or glob patterns relative to the project directory, e.g. [endpoints/*.yaml]"


def patterns_of(value: Any) -> tuple[list[str], list[str]]:
    """The patterns `value` names and what is wrong with it: the engine passes a list as JSON text, a stack file
    as a list; one pattern may be written as a string."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # else one pattern, written as a string
            value = json.loads(value)
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        return [], [f"{KEY}: {json.dumps(value, default=str)} is not a list of file patterns; {FIX}"]
    problems = [f"{KEY}: {pattern!r} is not relative to the project directory; {FIX}"
                for pattern in patterns if Path(pattern).is_absolute() or ".." in Path(pattern).parts]
    return ([] if problems else list(patterns)), problems


def files_of(root: Path, pattern: str) -> list[Path]:
    """The files (not directories) `pattern` names under `root`, in a stable order."""
    return sorted(path for path in Path(root).glob(pattern) if path.is_file())
