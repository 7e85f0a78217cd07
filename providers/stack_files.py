"""Reading and writing the project's Pulumi stack files (``Pulumi.<stack>.yaml``).

A stack file holds a top-level ``config:`` mapping whose keys are ``hf-endpoints:``-prefixed:
``namespace``, optional ``apiUrl`` and ``readyTimeoutSeconds``, optional ``defaults`` (merged under each
endpoint, per top-level key) and ``endpoints`` (endpoint name -> mapping of ``create_inference_endpoint``
arguments plus ``paused``, ``adopt`` and ``smoke_test``).

Files are loaded with ruamel.yaml in round-trip mode so that a rewrite keeps comments, key order and quoting. The
endpoint files a stack names (``hf-endpoints:endpointFiles``, see ``providers.endpoint_files``) are loaded the same
way, so that promotion can write into them too (``load_endpoints``), under the program's rule for their patterns
(``providers.file_patterns``, the only module of the package this one needs: no pulumi import).
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from providers.file_patterns import KEY as ENDPOINT_FILES_KEY
from providers.file_patterns import files_of, patterns_of

PROJECT = "hf-endpoints"
NAMESPACE_KEY = f"{PROJECT}:namespace"
TOKEN_KEY = f"{PROJECT}:hfToken"
DEFAULTS_KEY = f"{PROJECT}:defaults"
ENDPOINTS_KEY = f"{PROJECT}:endpoints"

PINNED_REVISION_RE = re.compile(r"[0-9a-f]{40}")
"""A pinned revision is a full 40-hex commit sha (match it whole: `fullmatch`)."""


class StackFileError(Exception):
    """A stack file is missing, malformed or lacks a required key; ``str()`` is one line naming the file."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path.name}: {message}")


def stack_path(directory: Path, stack: str) -> Path:
    """The stack file of ``stack`` in ``directory``."""
    return Path(directory) / f"Pulumi.{stack}.yaml"


def new_yaml() -> YAML:
    """A round-trip YAML instance set up to reproduce the committed files byte for byte."""
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines (prompts)
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_stack(path: Path) -> CommentedMap:
    """Load a stack file (round trip) and check it has a ``config:`` mapping."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(path, "file not found") from None
    except OSError as exc:
        raise StackFileError(path, f"cannot read: {exc.strerror}") from None
    try:
        doc = new_yaml().load(text)
    except MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        problem = exc.problem or exc.context or "syntax error"
        raise StackFileError(path, f"malformed YAML{where}: {problem}") from None
    except YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise StackFileError(path, f"malformed YAML: {first_line}") from None
    if not isinstance(doc, CommentedMap):
        raise StackFileError(path, "expected a mapping with a top-level 'config' key")
    if not isinstance(doc.get("config"), CommentedMap):
        raise StackFileError(path, "'config' is missing or is not a mapping")
    return doc


def endpoints_of(doc: Mapping[str, Any], path: Path) -> CommentedMap:
    """The ``hf-endpoints:endpoints`` mapping, each entry checked to be a mapping."""
    endpoints = doc["config"].get(ENDPOINTS_KEY)
    if endpoints is None:
        raise StackFileError(path, f"config.{ENDPOINTS_KEY} is missing")
    if not isinstance(endpoints, CommentedMap):
        raise StackFileError(path, f"config.{ENDPOINTS_KEY} must be a mapping of endpoint name to settings")
    for name, settings in endpoints.items():
        if not isinstance(settings, CommentedMap):
            raise StackFileError(path, f"config.{ENDPOINTS_KEY}.{name} must be a mapping")
    return endpoints


def defaults_of(doc: Mapping[str, Any], path: Path) -> Mapping[str, Any]:
    """The ``hf-endpoints:defaults`` mapping, or an empty one."""
    defaults = doc["config"].get(DEFAULTS_KEY)
    if defaults is None:
        return {}
    if not isinstance(defaults, Mapping):
        raise StackFileError(path, f"config.{DEFAULTS_KEY} must be a mapping")
    return defaults


def effective_endpoint(defaults: Mapping[str, Any], endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults under the endpoint: per top-level key, the endpoint's value replaces the default's whole."""
    return {**defaults, **endpoint}


def to_plain(value: Any) -> Any:
    """Convert round-trip YAML values to plain dict / list / str / int / float / bool / None."""
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if isinstance(value, bool | ScalarBoolean):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def same_value(a: Any, b: Any) -> bool:
    """Equality of plain values that tells 1 from True and "1" from 1, and ignores mapping key order."""
    return json.dumps(to_plain(a), sort_keys=True) == json.dumps(to_plain(b), sort_keys=True)


def dump_text(doc: Any) -> str:
    """Serialize a round-trip document with the same settings it was loaded with."""
    out = io.StringIO()
    new_yaml().dump(doc, out)
    return out.getvalue()


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class StackEndpoints:
    """One stack's endpoints, wherever they are written: the stack file, and the endpoint files it names.

    An endpoint's keys may be in two mappings: its endpoint file's entry, and the stack file's entry of the same name
    (its secrets); ``parts`` lists them, the file's first. Documents are round trip, so a change written into a part
    and dumped keeps the file's comments."""

    path: Path
    doc: CommentedMap
    files: dict[Path, CommentedMap] = field(default_factory=dict)
    parts: dict[str, list[tuple[Path, CommentedMap]]] = field(default_factory=dict)

    @property
    def defaults(self) -> Mapping[str, Any]:
        return defaults_of(self.doc, self.path)

    def own(self, name: str) -> dict[str, Any]:
        """The endpoint's own keys, from every part (round-trip values, so their styles carry over)."""
        return {key: value for _, part in self.parts[name] for key, value in part.items()}

    def holder(self, name: str, key: str) -> tuple[Path, CommentedMap]:
        """The part that holds `key`, else the endpoint's first (its endpoint file's, if it has one)."""
        return next((entry for entry in self.parts[name] if key in entry[1]), self.parts[name][0])


def load_endpoints(directory: Path, stack: str) -> StackEndpoints:
    """The stack file of ``stack`` in ``directory`` and the endpoint files it names, each endpoint's parts found."""
    path = stack_path(directory, stack)
    doc = load_stack(path)
    patterns = doc["config"].get(ENDPOINT_FILES_KEY)
    in_stack_file = patterns is None or ENDPOINTS_KEY in doc["config"]  # endpoint files alone are enough
    entries = endpoints_of(doc, path) if in_stack_file else CommentedMap()
    result = StackEndpoints(path, doc)
    for name, settings in entries.items():
        result.parts[name] = [(path, settings)]
    if patterns is None:
        return result
    patterns, problems = patterns_of(patterns)
    if problems:  # the program refuses these too: promotion must not write where no deploy reads
        raise StackFileError(path, f"config.{problems[0]}")
    for pattern in patterns:
        found = files_of(directory, pattern)
        if not found:
            raise StackFileError(path, f"config.{ENDPOINT_FILES_KEY}: {pattern!r} matches no file")
        for file in found:
            if file not in result.files:
                result.files[file] = _load_endpoint_file(file)
    for file, mapping in result.files.items():
        for name, settings in mapping.items():
            if not isinstance(settings, CommentedMap):
                raise StackFileError(file, f"{name} must be a mapping")
            if any(part_path != path for part_path, _ in result.parts.get(name, [])):
                raise StackFileError(file, f"{name} is also defined in another endpoint file of {path.name}")
            result.parts[name] = [(file, settings), *result.parts.get(name, [])]
    return result


def _load_endpoint_file(path: Path) -> CommentedMap:
    try:
        doc = new_yaml().load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise StackFileError(path, f"cannot read: {exc.strerror}") from None
    except YAMLError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
        raise StackFileError(path, f"malformed YAML: {first_line}") from None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, CommentedMap):
        raise StackFileError(path, "expected a mapping of endpoint name to settings")
    return doc
