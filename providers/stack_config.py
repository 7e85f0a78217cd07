"""The stack's config as the program reads it: each endpoint's inputs, the stack's settings, what it costs per hour.

Why here and not in `check`: some mistakes exist only in the YAML the program reads. The provider host drops null
values before `check` (`secrets: {API_KEY: }` would deploy without the secret), a typo in `hf-endpoints:defaults`
would reach `check` merged into every endpoint (and be named there as `endpoints.<name>.<typo>`), and a mistyped
setting (`hf-endpoints:endpoint`) reaches no resource at all. `read` refuses all of these before anything is
registered, with one line per problem: `<config key>: <value> <problem>; <fix>` (secret values redacted, key paths
escaped: a key is user input too). Keys that are never inputs (outputs such as `state`, Pulumi's `__` keys) are
refused here: `__provider` would replace the pickled provider and crash the host before `check` could say a word.

No I/O: `__main__.py` hands in the raw config (keys `hf-endpoints:<key>`, values as text, structured ones as JSON
text, as the engine passes them) and the endpoints of the files `hf-endpoints:endpointFiles` names, read by
`providers.endpoint_files` (a problem of an endpoint from a file names the file: `endpoints/a.yaml: x.min_replica`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from providers import plaintext_secrets
from providers.budget import check_budget
from providers.endpoint_files import FileEndpoints
from providers.fields import INPUT_KEYS
from providers.stack_files import PINNED_REVISION_RE
from providers.validation import NAME_PATTERN, NAMESPACE_PATTERN, not_an_input, unknown_key_fix
from providers.values import show, show_key

PREFIX = "hf-endpoints:"
SETTINGS = ("namespace", "endpoints", "defaults", "apiUrl", "hfToken", "readyTimeoutSeconds", "deleteTimeoutSeconds",
            "pollSeconds", "requirePinnedRevision", "hubUrl", "maxHourlyUsd", "protect", "endpointFiles")
"""Every `hf-endpoints:` setting; anything else under that prefix is a typo."""
SET_BY_THE_PROGRAM = ("name", "namespace", "stack")
"""Inputs the program sets (the entry's key, hf-endpoints:namespace, this stack), never the YAML."""
NAMESPACE_FIX = "set your Hugging Face user or organization: `pulumi config set hf-endpoints:namespace <name>`"
ENDPOINTS_FIX = "map each endpoint name to its settings under hf-endpoints:endpoints"
NULL_PROBLEM = "has no value, and Pulumi drops it before check (the endpoint would deploy without it)"
NULL_FIX = 'give it a value (an empty string is "") or remove the line'


class StackConfigError(ValueError):
    """Everything wrong with the stack's config, one line per problem; raised before anything is registered."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class StackConfig:
    namespace: str
    endpoints: dict[str, dict[str, Any]]
    """endpoint name -> its inputs: defaults merged under the entry, plus `name` and `namespace`."""
    ready_timeout_seconds: int | None
    warnings: tuple[str, ...] = ()
    """Secret values the stack file holds in clear (`plaintext_secrets`), one line each with the fix."""
    protect: bool = False
    """`hf-endpoints:protect`: every endpoint gets Pulumi's `protect` option (prod sets it)."""


def read(config: Mapping[str, Any], secret_keys: Collection[str] = (),
         files: FileEndpoints | None = None) -> StackConfig:
    """The stack from its raw config (and the endpoints of its endpoint files), or StackConfigError with every problem
    at once. `secret_keys`: the config keys Pulumi keeps encrypted (any other holds its values in clear)."""
    files = files or FileEndpoints()
    settings = {key[len(PREFIX):]: value for key, value in config.items() if key.startswith(PREFIX)}
    problems = [_unknown_setting(key) for key in settings if key not in SETTINGS]
    if isinstance(_decoded(settings.get("hfToken")), list | Mapping):
        problems.append(f"{PREFIX}hfToken: <redacted> is not a string (the API would refuse it at `up`); set the "
                        f"token alone: `pulumi config set --secret {PREFIX}hfToken <token>`")
    ready = _seconds(settings, "readyTimeoutSeconds", 1800, problems)
    _seconds(settings, "deleteTimeoutSeconds", 300, problems)
    _seconds(settings, "pollSeconds", 1, problems, whole=False)
    pinned = _boolean(settings, "requirePinnedRevision", problems)
    protect = _boolean(settings, "protect", problems)
    api_url = settings.get("apiUrl")
    if api_url is not None and not re.fullmatch(r"https?://\S+", str(api_url)):
        problems.append(f"{PREFIX}apiUrl: {show(api_url)} is not an http(s) URL; e.g. "
                        "https://api.endpoints.huggingface.cloud/v2")
    hub_url = settings.get("hubUrl")
    if hub_url not in (None, "") and not re.fullmatch(r"https?://\S+", str(hub_url)):
        problems.append(f"{PREFIX}hubUrl: {show(hub_url)} is not an http(s) URL; e.g. https://huggingface.co, or "
                        "remove it for the public Hub")
    endpoints = _decoded(settings.get("endpoints")) if "endpoints" in settings else {} if files.named else None
    if endpoints is None:
        problems.append(f"{PREFIX}endpoints: missing; {ENDPOINTS_FIX}")
    problems.extend(files.problems)
    specs = {}
    try:
        specs = stack_endpoints(settings.get("namespace"), endpoints, _decoded(settings.get("defaults")),
                                require_pinned_revision=bool(pinned), files=files)
    except StackConfigError as error:
        problems.extend(error.problems if endpoints is not None else
                        [p for p in error.problems if not p.startswith(f"{PREFIX}endpoints:")])
    if not problems:
        try:
            check_budget(settings.get("maxHourlyUsd"), specs)
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise StackConfigError(problems)
    warnings = plaintext_secrets.warnings(settings, endpoints, _decoded(settings.get("defaults")), secret_keys)
    warnings += plaintext_secrets.file_warnings(files.endpoints, files.sources)
    return StackConfig(namespace=settings["namespace"], endpoints=specs, ready_timeout_seconds=ready,
                       warnings=tuple(warnings), protect=bool(protect))


def stack_endpoints(namespace: Any, endpoints: Any, defaults: Any = None, *, require_pinned_revision: bool = False,
                    files: FileEndpoints | None = None) -> dict[str, dict[str, Any]]:
    """Each endpoint's inputs from the stack config: `hf-endpoints:defaults` merged under every
    `hf-endpoints:endpoints.<name>` mapping (the endpoint's own keys win, whole values; a top-level null unsets a
    default), plus `name` and `namespace`. An endpoint of an endpoint file is its file's mapping, merged with the stack
    file's entry of that name if any (secrets live there); a key in both is a problem. Raises StackConfigError with
    every problem."""
    problems = _namespace(namespace)
    if defaults is None:
        defaults = {}
    elif not isinstance(defaults, Mapping):
        problems.append(f"{PREFIX}defaults: {show(defaults)} is not a mapping; write endpoint settings shared by "
                        "every endpoint (vendor, region, ...)")
        defaults = {}
    else:
        problems.extend(_mapping_problems(f"{PREFIX}defaults", defaults))
        for key in defaults:
            if key not in INPUT_KEYS:
                problems.append(f"{PREFIX}defaults.{show_key(key)}: {show(defaults[key], str(key))} is not an "
                                f"endpoint key; {unknown_key_fix(str(key))}")
    if not isinstance(endpoints, Mapping):
        problems.append(f"{PREFIX}endpoints: {show(endpoints)} is not a mapping; {ENDPOINTS_FIX}")
        endpoints = {}
    result = {}
    for name, mapping, where in _entries(endpoints, files or FileEndpoints(), problems):
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            problems.append(f"{where}: {show(name)} is not a valid endpoint name; use at most 32 lowercase "
                            "letters, digits and '-', starting and ending with a letter or digit")
        if not isinstance(mapping, Mapping):
            problems.append(f"{where}: {show(mapping)} is not a mapping; give the endpoint its settings "
                            "(repository, instance_type, ...)")
            continue
        problems.extend(_mapping_problems(where, mapping, f"{PREFIX}endpoints.{show_key(name)}"))
        problems.extend(f"{where}.{show_key(key)}: {show(mapping[key], str(key))} {refusal[0]}; {refusal[1]}"
                        for key in mapping if (refusal := not_an_input(str(key))) is not None)
        inputs = {**defaults, **mapping, "name": name, "namespace": namespace}
        revision = inputs.get("revision")
        if require_pinned_revision and not (isinstance(revision, str) and PINNED_REVISION_RE.fullmatch(revision)):
            problems.append(
                f"{where}.revision: {'missing' if revision is None else show(revision)} is not a pinned "
                f"commit (40 lowercase hex digits), and this stack sets {PREFIX}requirePinnedRevision; promote a "
                "tested commit from dev first: pin it in Pulumi.dev.yaml, `pulumi up --stack dev`, then "
                "`python -m providers.promote dev prod`")
        result[name] = inputs
    if problems:
        raise StackConfigError(problems)
    return result


def _entries(endpoints: Mapping[str, Any], files: FileEndpoints,
             problems: list[str]) -> list[tuple[Any, Any, str]]:
    """(name, mapping, label) of every endpoint: the stack file's, then the files' (merged with a stack file entry of
    the same name, which may add keys the file does not set, such as secrets)."""
    entries = [(name, mapping, f"{PREFIX}endpoints.{show_key(name)}") for name, mapping in endpoints.items()
               if name not in files.endpoints]
    for name, mapping in files.endpoints.items():
        label = f"{files.sources[name]}: {show_key(name)}"
        extra = endpoints.get(name)
        if isinstance(mapping, Mapping) and isinstance(extra, Mapping):
            for key in extra:
                if key in mapping:
                    problems.append(f"{PREFIX}endpoints.{name}.{key}: also set in {files.sources[name]}; set each key "
                                    "of an endpoint in one place (secrets in the stack file, the rest in the file)")
            mapping = {**mapping, **extra}
        entries.append((name, mapping, label))
    return entries


def _namespace(namespace: Any) -> list[str]:
    if namespace is None:
        return [f"{PREFIX}namespace: missing; {NAMESPACE_FIX}"]
    if not isinstance(namespace, str) or not namespace.strip():
        return [f"{PREFIX}namespace: {show(namespace)} is empty; {NAMESPACE_FIX}"]
    if not NAMESPACE_PATTERN.fullmatch(namespace):
        return [f"{PREFIX}namespace: {show(namespace)} is not a valid user or organization name; {NAMESPACE_FIX}"]
    return []


def _mapping_problems(where: str, mapping: Mapping[str, Any], config_path: str | None = None) -> list[str]:
    """Keys the program sets, and null values below the top level (a top-level null unsets a default). `where` labels
    the mapping in messages: `hf-endpoints:endpoints.<name>`, or `<file>: <name>` for an endpoint file's;
    `config_path` is its path in the stack config (`where` when omitted), for the `pulumi config set` of a fix."""
    problems = [f"{where}.{key}: {show(mapping[key])} is not allowed; the name is the key under "
                f"{PREFIX}endpoints, the namespace is {PREFIX}namespace, the stack is this stack"
                for key in SET_BY_THE_PROGRAM if key in mapping]
    for key, value in mapping.items():
        problems.extend(_nulls(f"{where}.{show_key(key)}", value, f"{config_path or where}.{show_key(key)}"))
    return problems


def _nulls(path: str, value: Any, config_path: str) -> list[str]:
    """A problem per null inside a mapping or list value: the host would drop it silently. `path` labels it,
    `config_path` is where `pulumi config set --path` puts it."""
    items = (value.items() if isinstance(value, Mapping) else
             ((f"[{index}]", item) for index, item in enumerate(value)) if isinstance(value, list) else ())
    problems = []
    for key, item in items:
        step = f"{key}" if str(key).startswith("[") else f".{show_key(key)}"
        inner, config_inner = f"{path}{step}", f"{config_path}{step}"
        if item is None:
            secret = "secrets" in inner.split(".")[:-1]
            fix = (f"set it with `pulumi config set --secret --path '{config_inner}' <value>`, or remove the line"
                   if secret else NULL_FIX)
            problems.append(f"{inner}: null {NULL_PROBLEM}; {fix}")
        else:
            problems.extend(_nulls(inner, item, config_inner))
    return problems


def _unknown_setting(key: str) -> str:
    close = difflib.get_close_matches(key, SETTINGS, n=1, cutoff=0.6)
    fix = f"did you mean `{PREFIX}{close[0]}`?" if close else f"remove it (settings: {', '.join(SETTINGS)})"
    return f"{PREFIX}{show_key(key)} is not a setting of hf-endpoints; {fix}"


def _decoded(value: Any) -> Any:
    """A setting as written: the engine passes config values as text (`"300"`), structured ones as JSON text
    (`pulumi.Config.require_object` decodes them the same way)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _seconds(settings: Mapping[str, Any], key: str, example: int, problems: list[str], *,
             whole: bool = True) -> Any:
    if key not in settings:
        return None
    value = _decoded(settings[key])
    fix = f"e.g. `pulumi config set {PREFIX}{key} {example}`"
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and value != int(value)):
        problems.append(f"{PREFIX}{key}: {show(value)} is not {kind} of seconds; {fix}")
        return None
    if not 0 < value < float("inf"):
        problems.append(f"{PREFIX}{key}: {show(value)} is not a positive number of seconds; {fix}")
        return None
    return int(value) if whole else value


def _boolean(settings: Mapping[str, Any], key: str, problems: list[str]) -> bool | None:
    if key not in settings:
        return None
    value = _decoded(settings[key])
    if not isinstance(value, bool):
        problems.append(f"{PREFIX}{key}: {show(value)} is not a boolean; write true or false")
        return None
    return value
