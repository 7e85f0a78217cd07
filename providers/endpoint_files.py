"""Endpoint definitions in files beside the stack file, named by the stack config: the way past Pulumi's 128 KiB.

Why: Pulumi hands the whole stack config to a Python program in one environment variable, `PULUMI_CONFIG`, and Linux
limits one variable to 128 KiB (`MAX_ARG_STRLEN`); past it the language host cannot start the program (`fork/exec
.../python: argument list too long` from Pulumi's own host, `[Errno 7]` from older ones: pulumi/pulumi#8680), at
about 240 endpoints. With

    hf-endpoints:endpointFiles:
      - endpoints/prod/*.yaml

the program reads the endpoints from those files itself (paths or glob patterns, relative to the project directory,
where Pulumi.yaml and the stack files are), so the config stays small whatever the number of endpoints.

Each file is a YAML mapping of endpoint name -> settings: what `hf-endpoints:endpoints` holds in a stack file.
Rules, each broken one named with its file:
* a pattern must match a file, and an endpoint is defined in one file;
* secret values never go in a file (`secrets`, registry credentials): they stay encrypted in the stack file
  (`pulumi config set --secret --path 'hf-endpoints:endpoints.<name>.secrets.<KEY>' ...`), whose entry for that
  endpoint is merged with the file's; a key set in both places is refused;
* YAML as the stack files are read (Go's YAML library in the Pulumi CLI): booleans are true/false only (`yes`, `on`
  stay strings), dates stay strings, numbers as yaml.v3 reads them (0o17, 017 and 1e3 are numbers, 1:30 a string),
  a key written twice is an error.

I/O: reads the files; `providers.stack_config` judges what they say, with the rest of the config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from providers import engines
from providers.file_patterns import KEY, files_of, patterns_of

SECRET_PATHS = (("secrets",), *engines.REGISTRY_CREDENTIALS)
"""Where an endpoint holds secret values: Pulumi encrypts them in the stack file, a plain file would not."""


@dataclass(frozen=True)
class FileEndpoints:
    """The endpoints the files define, where each one is, and what is wrong with the files."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """endpoint name -> the file that defines it (as the pattern found it, relative to the project directory)."""
    problems: list[str] = field(default_factory=list)
    named: bool = False
    """Whether the stack config names endpoint files at all."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser when built with it) with YAML 1.2's booleans and no timestamps."""


_BOOL = "tag:yaml.org,2002:bool"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _TIMESTAMP, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
# Numbers as Go's yaml.v3 reads them (`resolve.go`): underscores dropped; 0x, 0o, 0b and a leading 0 (octal);
# exponents without a dot (1e3); no base 60 (1:30 stays a string, where PyYAML's YAML 1.1 made it 90).
_Loader.add_implicit_resolver(
    _INT, re.compile(r"^[-+]?(?:0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+.0123456789"))


def _int(loader: _Loader, node: yaml.ScalarNode) -> int | float:
    text = loader.construct_scalar(node).replace("_", "")
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    try:
        if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
            return sign * int(digits, 8)  # 017, octal as YAML 1.1 wrote it, which yaml.v3 still reads
        return sign * int(digits, 0)
    except ValueError:  # 08: no octal, so yaml.v3 reads a float
        return _json_number(sign * float(digits))


def _float(loader: _Loader, node: yaml.ScalarNode) -> int | float:
    return _json_number(loader.construct_yaml_float(node))


def _json_number(value: float) -> int | float:
    """As the program receives a stack file's number: Pulumi passes structured config as JSON from Go, which writes a
    whole float64 without a fraction (1e3 arrives as 1000)."""
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


_Loader.add_constructor(_INT, _int)
_Loader.add_constructor(_FLOAT, _float)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is written twice",
                                                    key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _mapping)


def load(value: Any, root: Path) -> FileEndpoints:
    """Read the files `value` (the raw `hf-endpoints:endpointFiles`, None when unset) names under `root`."""
    if value is None:
        return FileEndpoints()
    patterns, problems = patterns_of(value)
    files: list[Path] = []
    for pattern in patterns:
        found = files_of(root, pattern)
        if not found:
            problems.append(f"{KEY}: {pattern!r} matches no file under {root}; fix the pattern or add the file")
        files.extend(path for path in found if path not in files)
    endpoints: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for path in files:
        where = path.relative_to(root).as_posix()
        document, problem = _read(path, where)
        if problem:
            problems.append(problem)
            continue
        for name, settings in document.items():
            if name in sources:
                problems.append(f"{where}: {name}: also defined in {sources[name]}; define each endpoint in one file")
                continue
            problems.extend(_secret_problems(where, str(name), settings))
            endpoints[name], sources[name] = settings, where
    return FileEndpoints(endpoints, sources, problems, named=True)


def _read(path: Path, where: str) -> tuple[dict[Any, Any], str | None]:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a safe loader
    except OSError as error:
        return {}, f"{where}: cannot be read ({error.strerror})"
    except UnicodeDecodeError as error:
        return {}, f"{where}: is not UTF-8 text (byte {error.start}); save it as UTF-8"
    except TypeError as error:  # a key no mapping can have (a list or a mapping as a key)
        return {}, f"{where}: malformed: {error}; keys are endpoint names and setting names"
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or "not YAML"
        return {}, f"{where}: malformed YAML{line}: {problem}"
    if document is None:
        return {}, None  # an empty file defines nothing
    if not isinstance(document, dict):
        return {}, (f"{where}: is not a mapping of endpoint name to settings (what hf-endpoints:endpoints holds in a "
                    "stack file)")
    return document, None


def _secret_problems(where: str, name: str, settings: Any) -> list[str]:
    problems = []
    for path in SECRET_PATHS:
        node = settings
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node in (None, {}, ""):
            continue
        dotted = ".".join(path)
        if path == ("secrets",):
            fix = (f"remove it and set it encrypted in the stack file: `pulumi config set --secret --path "
                   f"'hf-endpoints:endpoints.{name}.secrets.<KEY>' <value>`")
        else:  # a key is set in one place: the whole image block moves to the stack file, its password encrypted
            fix = (f"move {name}.{path[0]} to the stack file's entry of {name}, with the password encrypted: "
                   f"`pulumi config set --secret --path 'hf-endpoints:endpoints.{name}.{dotted}.password' <password>`")
        problems.append(f"{where}: {name}.{dotted}: <redacted> is a secret, and a plain file would keep it in clear; "
                        f"{fix}")
    return problems
