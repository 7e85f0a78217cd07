"""Validation: one endpoint's stack YAML mapping (plus `name`/`namespace`) -> canonical inputs, or failures.

`check` runs it with no network, so a bad spec fails in preview, before anything is created. It reports one
failure per bad key, naming `endpoints.<name>.<key>`, the bad value and the fix. Canonical means defaults
applied, legacy names mapped, numbers cast to `int` (the engine sends every number as a float) and env
values as strings, so that `2048` and `"2048"` never diff. No I/O (the hardware catalog is a shipped file).

Hostile input never crashes it: any type in any key (a list where a scalar goes, `.inf`, NaN, a boolean for a
number) is a failure naming the key, and a preview-time unknown (`pulumi.output.Unknown`) is left unjudged until it
is known. Values are shown through `values.show`, which redacts anything secret-looking.

Decisions (where the API contract is silent or says GUESS):
* `type: protected` is accepted with a warning and mapped to `private`: the UI renamed "Protected" to
  "Private", and the API coerces `protected` to `private` (contract §8.1, §12).
* Tutorial instance names (`g5.2xlarge`/`medium`, ...) map to the current pair of contract §12 with a warning.
* An image URL (`custom_image.url`, `engine.<name>.url`) must be a Docker image reference with a tag or a digest:
  an untagged image is whatever `latest` is when a replica starts, which is not a desired state.
* `engine:` is checked by the registry (`providers.engines`): the engine's name, its fields, then the serving
  engine's own rules (TGI's env rules, vLLM's GPU count, TEI's task, ...), also for a custom image a known engine
  publishes. `engine: {custom: ...}` is canonicalised to `custom_image` (one spelling in state and in diffs).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers import catalog, engines, reply_pattern
from providers.engines.base import EMBED, GENERATE, PROTOCOLS, report, validate_settings
from providers.fields import DEFAULTS, INPUT_KEYS, MARKER_PREFIX, OUTPUT_ONLY_KEYS, REQUIRED_KEYS
from providers.image_reference import NAME_MAX_LENGTH, parse_image_reference
from providers.values import has_unknown, is_number, is_unknown, show, show_key, split_url_credentials

ENDPOINT_TYPES = ("public", "authenticated", "private")
ACCELERATORS = ("cpu", "gpu", "neuron")
SCALING_METRICS = ("hardwareUsage", "pendingRequests")
PERCENT_METRIC = "hardwareUsage"
SCALE_TO_ZERO_RANGE = (15, 2880)
# Patterns are matched whole (`fullmatch`): `$` alone would accept a trailing newline.
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
ROUTE_PATH_PATTERN = re.compile(r"/[^\s\x00-\x1f\x7f]*")  # no spaces or control characters: one HTTP path
DOMAIN_PATTERN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                            r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
REVISION_PATTERN = re.compile(r"\S+")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # a prompt or env value may span lines
U32_MAX = 2**32 - 1  # the API's replica counts are u32: more is a 422
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STACK_PATTERN = re.compile(r"[^/\s]+/[^/\s]+")
# huggingface_hub's REPO_ID_REGEX: an optional namespace and a name, each 1-96 of [A-Za-z0-9_.-] between word bounds.
REPO_ID_PATTERN = re.compile(r"(\b[\w\-.]{1,96}\b/)?\b[\w\-.]{1,96}\b", re.ASCII)
EXAMPLE_IMAGE = "ghcr.io/huggingface/text-generation-inference:3.1.1"
CUSTOM_IMAGE_KEYS = ("url", "health_route", "port", "credentials")
SMOKE_TEST_KEYS = ("prompt", "expect", "max_new_tokens", "protocol", "dimension")
PRIVATE_LINK_KEYS = ("account_id", "region")
PRIVATE_LINK_REGIONS = ("us-east-1", "eu-west-1")  # huggingface_hub 2.4.0 create_inference_endpoint docstring
# Tutorial-era instance names (contract §12) -> the current (instance_type, instance_size).
LEGACY_INSTANCES: dict[tuple[str, str], tuple[str, str]] = {
    ("g4dn.xlarge", "small"): ("nvidia-t4", "x1"),
    ("g4dn.12xlarge", "large"): ("nvidia-t4", "x4"),
    ("g5.2xlarge", "medium"): ("nvidia-a10g", "x1"),
    ("g5.12xlarge", "xxlarge"): ("nvidia-a10g", "x4"),
    ("p4de", "xlarge"): ("nvidia-a100", "x1"),
    ("p4de", "2xlarge"): ("nvidia-a100", "x2"),
    ("c6i", "medium"): ("intel-spr", "x4"),
}
LEGACY_TYPES = frozenset(instance_type for instance_type, _ in LEGACY_INSTANCES)


@dataclass(frozen=True)
class Failure:
    """One bad key: the Pulumi property and a message naming `endpoints.<name>.<key>`, value and fix."""

    key: str
    reason: str


@dataclass(frozen=True)
class Checked:
    inputs: dict[str, Any]
    failures: list[Failure]
    warnings: list[str]
    notes: list[str] = field(default_factory=list)  # said in the preview, neither a warning nor a failure


def _label(name: Any) -> str:
    """`endpoints.<name>`, how every message names the endpoint (its key under hf-endpoints:endpoints)."""
    if isinstance(name, str) and name:
        return f"endpoints.{show_key(name)}"
    return f"endpoints.{show(name)}" if is_number(name) else "endpoints.<unnamed>"


class _Validator:
    """Collects one failure per bad key while building the canonical inputs."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.label = _label(raw.get("name"))
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.out: dict[str, Any] = {}

    def fail(self, key: str, value: Any, problem: str, fix: str, *, shown: str | None = None) -> None:
        """`key` is the path under the endpoint (`env.A`), shown escaped; a value under a secret-looking path is
        redacted."""
        if shown is None:
            shown = "missing" if value is None else show(value, key)
        self.failures.append(Failure(show_key(key.split(".")[0]), f"{self.label}.{show_key(key)}: {shown} {problem}; "
                                                                  f"{fix}"))

    def failed(self, key: str) -> bool:
        return any(f.reason.startswith(f"{self.label}.{show_key(key)}: ") for f in self.failures)

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.label}.{show_key(key)}: {message}")

    def integer(self, key: str, value: Any, low: int, high: int | None, fix: str) -> int | None:
        """A whole number from `low` to `high` (None: no upper bound; `U32_MAX`: the API's own)."""
        if not is_number(value) or value != int(value):
            self.fail(key, value, "is not a whole number", fix)
            return None
        if value < low or (high is not None and value > high):
            bound = (f"at least {low}" if high is None or (high == U32_MAX and value < low) else
                     f"between {low} and {high}" if high < U32_MAX else f"at most {high}, the API's limit")
            self.fail(key, value, f"is out of range (must be {bound})", fix)
            return None
        return int(value)

    def string(self, key: str, value: Any, fix: str, pattern: re.Pattern[str] | None = None, *,
               lines: bool = False) -> str | None:
        """A non-empty string without control characters (with `lines`, newlines and tabs are allowed)."""
        if not isinstance(value, str) or not value.strip():
            self.fail(key, value, "is not a non-empty string", fix)
            return None
        if self.control_character(key, value, fix, lines=lines):
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(key, value, "is not valid", fix)
            return None
        return value

    def control_character(self, key: str, value: str, fix: str, *, lines: bool = False) -> bool:
        """Reports a NUL, an ESC or any other control character (the API and the container refuse or mangle them)."""
        found = (CONTROL_IN_TEXT if lines else CONTROL_CHARACTER).search(value)
        if found:
            self.fail(key, value, f"has a control character ({show(found.group())[1:-1]}) in it", f"remove it; {fix}")
        return found is not None

    def block(self, key: str, value: Any, allowed: tuple[str, ...], fix: str,
              fix_key: Callable[[str], str | None] = lambda _key: None) -> bool:
        """A nested mapping (custom_image, smoke_test): one failure per unknown key; False if unusable."""
        if not isinstance(value, Mapping):
            self.fail(key, value, "is not a mapping", fix)
            return False
        ok = True
        for inner in value:
            if inner not in allowed:
                close = difflib.get_close_matches(str(inner), allowed, n=1)
                self.fail(f"{key}.{inner}", value[inner], f"is not a {key} key",
                          fix_key(inner) or (f"did you mean `{close[0]}`?" if close else
                                             f"remove it ({key} takes {', '.join(allowed)})"))
                ok = False
        return ok

    def choice(self, key: str, value: Any, choices: tuple[str, ...], fix: str = "") -> str | None:
        if not isinstance(value, str) or value not in choices:
            self.fail(key, value, f"is not one of {', '.join(choices)}", fix or f"use one of {', '.join(choices)}")
            return None
        return value


def validate(raw: Mapping[str, Any], steps: tuple[Step, ...] | None = None) -> Checked:
    """Validate one endpoint's inputs and return the canonical form; never touches the network. `steps` (default
    all of `STEPS`): `COST_STEPS` gives what prices and hourly costs need, for the program's outputs and budget."""
    v = _Validator(raw)
    _reject_unknown_keys(v)
    values = {key: raw[key] for key in INPUT_KEYS if raw.get(key) is not None}
    known = {key: value for key, value in values.items() if not is_unknown(value)}
    _require(v, values)
    v.out.update({key: value for key, value in values.items() if is_unknown(value)})  # validated once known
    for step in STEPS if steps is None else steps:
        step(v, known)
    for key, default in DEFAULTS.items():
        if key not in values:
            v.out[key] = default
    inputs = {key: value for key, value in v.out.items() if value is not None}
    return Checked(inputs=inputs, failures=v.failures, warnings=v.warnings)


def not_an_input(key: str) -> tuple[str, str] | None:
    """(problem, fix) for a key that is never an endpoint input, whatever its spelling: an output, or a `__` key
    (Pulumi's dynamic providers keep their own there: `__provider: x` reached the host and crashed it)."""
    if key in OUTPUT_ONLY_KEYS:
        return ("is an output of the endpoint, not an input",
                "remove it (the API sets it; read it with `pulumi stack output`)")
    if key.startswith("__"):
        return "is not a known key", "remove it (keys starting with `__` are Pulumi's own)"
    return None


def unknown_key_fix(key: str) -> str:
    """The fix for a key that is not an input key: the key it most likely meant (camelCase or a typo)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
    close = [snake] if snake in INPUT_KEYS else difflib.get_close_matches(key, INPUT_KEYS, n=1)
    return f"did you mean `{close[0]}`?" if close else f"remove it (known keys: {', '.join(INPUT_KEYS)})"


def _reject_unknown_keys(v: _Validator) -> None:
    """A typo or a camelCase key fails, with the key it most likely meant; an output or a `__` key given as input too.
    `__provider` is the engine's own (the pickled provider), never the user's: the program refuses that one."""
    for raw_key in v.raw:
        key = str(raw_key)
        if key == "__provider" or key in INPUT_KEYS:
            continue
        problem, fix = not_an_input(key) or ("is not a known key", unknown_key_fix(key))
        v.fail(key, v.raw[raw_key], problem, fix)


def _require(v: _Validator, values: Mapping[str, Any]) -> None:
    for key in REQUIRED_KEYS:
        if key not in values:
            v.fail(key, None, "is required", f"set `{key}` under {v.label} (or in hf-endpoints:defaults)")


# --- one key at a time: each returns the canonical value, or None after reporting the failure -------------

KeyValidator = Callable[[_Validator, str, Any], Any]
Step = Callable[[_Validator, Mapping[str, Any]], None]


def _name(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "use at most 32 lowercase letters, digits and '-', starting and ending with a "
                    "letter or digit", NAME_PATTERN)


def _namespace(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "set hf-endpoints:namespace to your HF user or organization name",
                    NAMESPACE_PATTERN)


def _repository(v: _Validator, key: str, value: Any) -> str | None:
    """A Hub repository id, by huggingface_hub's own rules (`validate_repo_id`: ASCII, at most 96 characters per
    part, no `--` or `..`)."""
    fix = "use the model's Hub id, e.g. `derek-thomas/jais-13b-chat-hf`"
    if v.string(key, value, fix) is None:
        return None
    reason = _repo_id_problem(value)
    if reason is not None:
        v.fail(key, value, f"is not valid (huggingface_hub: {reason})", fix)
        return None
    return value


@functools.lru_cache(maxsize=1024)
def _repo_id_problem(value: str) -> str | None:
    """Why huggingface_hub's `validate_repo_id` refuses an id, in its words without the id, or None. Its rules, not
    the function: importing that loads huggingface_hub's HTTP stack, 25 ms of the provider host's first check in
    every command. tests/test_validation.py holds this to the same answer as huggingface_hub's for any id."""
    if value.count("/") > 1:
        return "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"
    if not REPO_ID_PATTERN.fullmatch(value):
        return ("Repo id must use alphanumeric chars, '-', '_' or '.'. The name cannot start or end with '-' or '.' "
                "and the maximum length is 96")
    if "--" in value or ".." in value:
        return "Cannot have -- or .. in repo_id"
    if value.endswith(".git"):
        return "Repo_id cannot end by '.git'"
    return None


def _text(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, f"set `{key}` to a non-empty string or remove it")


def _revision(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "use a commit sha (or a branch/tag name), or remove it for the latest",
                    REVISION_PATTERN)


def _domain(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "give the host name alone, e.g. `models.example.com` (no scheme, port or path)",
                    DOMAIN_PATTERN)


def _route_path(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "start the route path with '/', e.g. `/v1`", ROUTE_PATH_PATTERN)


def _endpoint_type(v: _Validator, key: str, value: Any) -> str | None:
    if value == "protected":
        v.warn(key, "`protected` no longer exists; mapped to `private` (org members with a token), "
               "as the API does. Use `authenticated` for any Hugging Face account.")
        value = "private"
    return v.choice(key, value, ENDPOINT_TYPES)


def _accelerator(v: _Validator, key: str, value: Any) -> str | None:
    return v.choice(key, value, ACCELERATORS)


def _tags(v: _Validator, key: str, tags: Any) -> list[str] | None:
    """User tags; the `hf-endpoints:` prefix is reserved for the stack's marker, which is added for you."""
    if not isinstance(tags, list) or not all(is_unknown(t) or (isinstance(t, str) and t) for t in tags):
        v.fail(key, tags, "is not a list of non-empty strings", "write tags as a YAML list of strings")
        return None
    if any(isinstance(t, str) and v.control_character(key, t, "write tags as plain text") for t in tags):
        return None
    if any(isinstance(t, str) and t.strip().lower().startswith(MARKER_PREFIX) for t in tags):
        v.fail(key, tags, f"is not a list of non-empty strings without the `{MARKER_PREFIX}` prefix",
               f"write tags as a YAML list of strings ({MARKER_PREFIX} marks the stack's own endpoints and is added "
               "for you)")
        return None
    return list(tags)


def _stack(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "the program sets it to <project>/<stack>", STACK_PATTERN)


def _boolean(v: _Validator, key: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        v.fail(key, value, "is not a boolean", f"write `{key}: true` or `{key}: false`")
        return None
    return value


def _image_url(v: _Validator, key: str, url: Any) -> str | None:
    """A Docker image reference with a tag or a digest at `key`; each way of getting it wrong has its own fix.
    Registry credentials in it are refused without being shown (`show` redacts them)."""
    if v.string(key, url, f"give the container image, e.g. {EXAMPLE_IMAGE}") is None:
        return None
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    reference = parse_image_reference(url)
    if (credentials := split_url_credentials(url)) is not None:
        v.fail(key, url, "has registry credentials in it",
               f"write the image alone ({credentials[1]}) and give the credentials as custom_image.credentials: "
               "{username, password}, the password with `pulumi config set --secret --path "
               f"'hf-endpoints:{v.label}.custom_image.credentials.password' <password>`")
    elif len(url) > NAME_MAX_LENGTH + 200:
        v.fail(key, url, f"is {len(url)} characters long",
               f"an image reference is at most a {NAME_MAX_LENGTH}-character name, a tag and a digest, e.g. "
               f"{EXAMPLE_IMAGE}")
    elif re.search(r"\s", url):
        v.fail(key, url, "is not an image reference (it contains spaces)", f"remove the spaces, e.g. {EXAMPLE_IMAGE}")
    elif scheme:
        v.fail(key, url, "is not an image reference (it has a URL scheme)",
               f"drop `{scheme.group(0)}`: {url[scheme.end():]}")
    elif reference is None:
        v.fail(key, url, "is not an image reference", "write [registry/]repository:tag or "
               f"[registry/]repository@sha256:<digest>, repository in lowercase, e.g. {EXAMPLE_IMAGE}")
    elif reference.tag is None and reference.digest is None:
        v.fail(key, url, "has no tag or digest", f"pin one, e.g. {url}:3.1.1 (without one, a replica runs whatever "
               "`latest` is when it starts)")
    else:
        return url
    return None


def _credentials_ok(credentials: Any) -> bool:
    if not isinstance(credentials, Mapping) or set(credentials) - {"username", "password"}:
        return False
    username, password = credentials.get("username"), credentials.get("password")
    return all(is_unknown(part) or (isinstance(part, str) and bool(part)) for part in (username, password))


def _custom_image(v: _Validator, key: str, image: Any) -> dict[str, Any] | None:
    """`custom_image` (or `engine.custom`, the same settings): url, health_route, port, registry credentials."""
    ok = v.block(key, image, CUSTOM_IMAGE_KEYS, f"write {key} with url, health_route, port",
                 {"env": "environment variables belong in `env` (the API ignores them in the image)",
                  "healthRoute": "use `health_route`"}.get)
    if not isinstance(image, Mapping):
        return None
    url = image.get("url")
    url = url if is_unknown(url) else _image_url(v, f"{key}.url", url)
    route = image.get("health_route", "/health")
    if not is_unknown(route) and (not isinstance(route, str) or not ROUTE_PATH_PATTERN.fullmatch(route)):
        v.fail(f"{key}.health_route", route, "is not a path",
               "use a path such as /health (no spaces or control characters)")
        ok = False
    port = image.get("port", 80)
    if not is_unknown(port):
        port = v.integer(f"{key}.port", port, 1, 65535, "use the container's port, e.g. 80")
    credentials = image.get("credentials")
    if credentials is not None and not is_unknown(credentials) and not _credentials_ok(credentials):
        v.fail(f"{key}.credentials", credentials, "is not {username, password} strings",
               "give both username and password for the registry, neither empty (a password needs a username)")
        ok = False
    if not ok or url is None or port is None:
        return None
    result: dict[str, Any] = {"url": url, "health_route": route, "port": port}
    if credentials is not None:
        result["credentials"] = credentials if is_unknown(credentials) else {
            "username": credentials["username"], "password": credentials["password"]}
    return result


def env_value(value: Any) -> str | None:
    """Env values as the container sees them: strings (`2048`, `2048.0` and `"2048"` are one value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if is_number(value):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


NULL_FIX = 'give it a value (an empty string is "") or remove the line'


def _variables(v: _Validator, key: str, mapping: Any,
               value_of: Callable[[str, Any], str | None]) -> dict[str, Any] | None:
    """`env` and `secrets`: NAME: value pairs, sorted; each name checked here, each value by `value_of`, which
    returns the canonical text or None after reporting the failure. Unknowns are kept until known."""
    if not isinstance(mapping, Mapping):
        v.fail(key, mapping, "is not a mapping", f"write {key} as NAME: value pairs")
        return None
    result: dict[str, Any] = {}
    for name, value in mapping.items():
        path = f"{key}.{name}"
        if not isinstance(name, str) or not ENV_NAME_PATTERN.fullmatch(name):
            v.fail(path, value, "has an invalid variable name", "use letters, digits and '_'")
        elif is_unknown(value):
            result[name] = value
        elif (text := value_of(path, value)) is not None:
            result[name] = text
    return dict(sorted(result.items()))


def _env(v: _Validator, key: str, env: Any) -> dict[str, Any] | None:
    def value_of(path: str, value: Any) -> str | None:
        if value is None:
            v.fail(path, value, "has no value", NULL_FIX, shown="null")
        elif isinstance(value, float) and not is_number(value):
            v.fail(path, value, "is not a finite number", "quote it as a string")
        elif (text := env_value(value)) is None:
            v.fail(path, value, "is not a scalar", "quote it as a string")
        elif not v.control_character(path, text, "the container reads env values as text", lines=True):
            return text
        return None

    return _variables(v, key, env, value_of)


def _secrets(v: _Validator, key: str, secrets: Any) -> dict[str, Any] | None:
    """Like env, but values must be non-empty strings (set with `pulumi config set --secret`), and a failure never
    shows one (the path `secrets.*` is redacted)."""
    def value_of(path: str, value: Any) -> str | None:
        fix = ("quote the value (set it with `pulumi config set --secret --path "
               f"'hf-endpoints:{v.label}.{path}' <value>`)")
        if not isinstance(value, str) or not value:
            v.fail(path, value, "is not a non-empty string", fix)
        elif not v.control_character(path, value, fix, lines=True):
            return value
        return None

    return _variables(v, key, secrets, value_of)


def _smoke_test(v: _Validator, key: str, smoke: Any) -> dict[str, Any] | None:
    """prompt, expect (a regular expression the reply must match), max_new_tokens, and the protocol (the engine's
    default when unset: `_serving` settles it) with, for `embed`, the vector's dimension."""
    ok = v.block(key, smoke, SMOKE_TEST_KEYS, "give smoke_test a prompt (and optionally expect)")
    if not isinstance(smoke, Mapping):
        return None
    prompt = smoke.get("prompt")
    if not is_unknown(prompt):
        prompt = v.string("smoke_test.prompt", prompt, "give a prompt the model must answer", lines=True)
    expect = smoke.get("expect", r"\S")
    if not is_unknown(expect) and (problem := reply_pattern.problem(expect)) is not None:
        v.fail("smoke_test.expect", expect, f"is not a regular expression the smoke test can run: {problem}",
               "fix the pattern; lookaround and backreferences are not supported (the match must take linear time)")
        ok = False
    tokens = smoke.get("max_new_tokens", 20)
    if not is_unknown(tokens):
        tokens = v.integer("smoke_test.max_new_tokens", tokens, 1, 4096, "e.g. 20")
    result: dict[str, Any] = {"prompt": prompt, "expect": expect, "max_new_tokens": tokens}
    if "protocol" in smoke:
        result["protocol"] = v.choice("smoke_test.protocol", smoke["protocol"], PROTOCOLS)
        ok = ok and result["protocol"] is not None
    if "dimension" in smoke:
        result["dimension"] = v.integer("smoke_test.dimension", smoke["dimension"], 1, None,
                                        "the length of the model's embedding vectors, e.g. 768")
        ok = ok and result["dimension"] is not None
    if not ok or prompt is None or tokens is None:
        return None
    return result


def _strings(v: _Validator, key: str, value: Any) -> list[str] | None:
    """`command` and `args`: a non-empty list of one-line strings (the API refuses an empty `model.args`)."""
    if not isinstance(value, list) or not value or not all(
            is_unknown(item) or (isinstance(item, str) and item and not any(c in item for c in "\n\r\0"))
            for item in value):
        v.fail(key, value, "is not a non-empty list of one-line strings",
               f'write it as a YAML list, e.g. {key}: ["--max-model-len", "8192"], or remove it')
        return None
    return list(value)


def _private_link(v: _Validator, key: str, link: Any) -> dict[str, Any] | None:
    """AWS PrivateLink (`privateService`): the 12-digit AWS account to share the endpoint with, and its region."""
    if not v.block(key, link, PRIVATE_LINK_KEYS, "write private_link with account_id and region"):
        return None
    account, region = link.get("account_id"), link.get("region")
    ok = True
    if not is_unknown(account) and not (isinstance(account, str) and re.fullmatch(r"[0-9]{12}", account)):
        v.fail(f"{key}.account_id", account, "is not a 12-digit AWS account id", 'quote it, e.g. "123456789012"')
        ok = False
    if not is_unknown(region) and region not in PRIVATE_LINK_REGIONS:
        v.fail(f"{key}.region", region, "is not a PrivateLink region", f"use one of {', '.join(PRIVATE_LINK_REGIONS)}")
        ok = False
    vendor = v.raw.get("vendor")
    if ok and isinstance(vendor, str) and vendor != "aws":
        v.fail(key, link, f"is only offered on aws (vendor is {vendor})", "remove private_link, or deploy on aws")
        ok = False
    return {"account_id": account, "region": region} if ok else None


def _engine_block(v: _Validator, known: Mapping[str, Any]) -> None:
    """`engine: {<name>: {...}}`: one registered engine and its settings (`engine: {custom: ...}` becomes
    `custom_image`)."""
    raw = known.get("engine")
    if raw is None:
        return
    example = "e.g. engine: {vllm: {tensor_parallel_size: 4}}"
    if "custom_image" in known:
        v.fail("engine", raw, "is set together with custom_image", "keep one (custom_image is engine: {custom: ...})")
        return
    if not isinstance(raw, Mapping) or len(raw) != 1:
        v.fail("engine", raw, "is not a mapping with exactly one key, the engine's name",
               f"{example}; engines: {', '.join(engines.DECLARABLE)}")
        return
    ((name, settings),) = raw.items()
    engine = engines.ENGINES.get(str(name)) if str(name) in engines.DECLARABLE else None
    if engine is None:
        variant = next((e.name for e in engines.REGISTERED if e.variant == name), None)
        close = variant or next(iter(difflib.get_close_matches(str(name).lower(), engines.DECLARABLE, n=1)), None)
        v.fail(f"engine.{name}", settings, "is not an engine", f"did you mean `{close}`?" if close else
               f"use one of {', '.join(engines.DECLARABLE)}")
        return
    if is_unknown(settings):
        v.out["engine"] = {engine.name: settings}  # judged once known
        return
    if engine is engines.CUSTOM:
        v.out["custom_image"] = _custom_image(v, "engine.custom", settings)
        return
    found = validate_settings(v, engine, f"engine.{name}", settings, engines.TYPED, _image_url,
                              engine.default_url(catalog.compute_of(v.out), v.out.get("accelerator")))
    v.out["engine"] = None if found is None else {engine.name: found}


SERVING_KEYS = ("engine", "custom_image", "env", "task", "accelerator", "instance_type", "instance_size", "args",
                "smoke_test")


def _serving(v: _Validator, known: Mapping[str, Any]) -> None:
    """The serving engine's rules (also for a custom image a known engine publishes) and the smoke test's protocol:
    its default settled here, one the container does not serve refused."""
    _engine_block(v, known)
    out = v.out
    if any(key in known and out.get(key) is None for key in ("engine", "custom_image", "env", "smoke_test")) or any(
            has_unknown(out.get(key)) or is_unknown(v.raw.get(key)) for key in SERVING_KEYS):
        return  # reported already, or not known until apply
    engine, spec = engines.serving_engine(out), engines.serving_spec(out)
    report(v, engine.check(spec), v.failed)
    smoke = out.get("smoke_test")
    if not smoke:
        return
    served = engine.smoke_protocols(spec)
    protocol = smoke.get("protocol") or served[0]
    if "protocol" in smoke and protocol not in served and not v.failed("smoke_test.protocol"):
        v.fail("smoke_test.protocol", protocol, f"is not served by {engine.title}", f"use one of {', '.join(served)}")
        return
    raw = v.raw.get("smoke_test") or {}
    if protocol == EMBED:
        for key in ("expect", "max_new_tokens"):
            if key in raw:
                v.fail(f"smoke_test.{key}", raw[key], "does not apply to the embed protocol (the reply is a vector, "
                       "whose length is checked)", f"remove {key}, or use smoke_test.dimension")
        smoke = {key: value for key, value in smoke.items() if key not in ("expect", "max_new_tokens")}
    elif "dimension" in smoke:
        v.fail("smoke_test.dimension", smoke["dimension"], f"applies only to the embed protocol, not {protocol}",
               "remove dimension")
    if protocol != GENERATE:
        smoke = {**smoke, "protocol": protocol}
    out["smoke_test"] = smoke


# --- steps: a table of per-key validators, and the keys that are only valid together ----------------------

# name and namespace come from the program, never from the mapping: a missing one says where it comes from.
IDENTITY: dict[str, tuple[KeyValidator, str]] = {
    "name": (_name, "give every endpoint a name (the key under hf-endpoints:endpoints)"),
    "namespace": (_namespace, "set hf-endpoints:namespace to your HF user or organization"),
}


def _identity(v: _Validator, known: Mapping[str, Any]) -> None:
    for key, (check, fix) in IDENTITY.items():
        if key in known:
            v.out[key] = check(v, key, known[key])
        elif not is_unknown(v.raw.get(key)):
            v.fail(key, None, "is required", fix)


def _each(validators: Mapping[str, KeyValidator]) -> Step:
    """A step validating each key on its own, when it is set."""
    def step(v: _Validator, known: Mapping[str, Any]) -> None:
        for key, check in validators.items():
            if key in known:
                v.out[key] = check(v, key, known[key])
    return step


def _hardware(v: _Validator, known: Mapping[str, Any]) -> None:
    """vendor/region/accelerator/instance against the shipped catalog snapshot; legacy names mapped."""
    out = v.out
    vendor, region = known.get("vendor"), known.get("region")
    instance_type, instance_size = known.get("instance_type"), known.get("instance_size")
    legacy = isinstance(instance_type, str) and instance_type in LEGACY_TYPES
    if legacy and isinstance(instance_size, str) and (instance_type, instance_size) in LEGACY_INSTANCES:
        new_type, new_size = LEGACY_INSTANCES[(instance_type, instance_size)]
        v.warn("instance_type", f"the tutorial name {instance_type}/{instance_size} is retired; mapped to "
               f"instance_type: {new_type}, instance_size: {new_size}. Write those to silence this warning.")
        instance_type, instance_size = new_type, new_size
    elif legacy:
        pairs = ", ".join(f"{t}/{s}" for t, s in LEGACY_INSTANCES if t == instance_type)
        v.fail("instance_size", instance_size, f"is not a known size for the retired type {instance_type}",
               f"use the current names (e.g. nvidia-a10g/x1); known retired pairs: {pairs}")
        return
    if vendor is not None and v.choice("vendor", vendor, tuple(catalog.vendors())) is None:
        return
    if vendor is not None:
        out["vendor"] = vendor
    if region is not None and vendor is not None:
        if region not in catalog.regions(vendor):
            v.fail("region", region, f"is not a region of {vendor}",
                   f"use one of {', '.join(catalog.regions(vendor))}")
            return
        out["region"] = region
    for key, value in (("instance_type", instance_type), ("instance_size", instance_size)):
        if value is not None and v.string(key, value, f"set `{key}`, e.g. nvidia-a10g / x1") is not None:
            out[key] = value
    accelerator = out.get("accelerator")
    placement = (vendor, region, accelerator, instance_type, instance_size)
    if not all(isinstance(part, str) for part in placement) or any(
            f.key in ("instance_type", "instance_size") for f in v.failures):
        return  # something is unset, unknown until apply, or already reported
    compute = catalog.find_compute(vendor, region, accelerator, instance_type, instance_size)
    offers = ", ".join(catalog.offers(vendor, region, accelerator)) or "none"
    if compute is None:
        v.fail("instance_type", f"{instance_type}/{instance_size}",
               f"is not offered for accelerator {accelerator} in {vendor}/{region}",
               f"pick one of: {offers}")
    elif compute.status in catalog.UNUSABLE_STATUSES:
        v.fail("instance_type", f"{instance_type}/{instance_size}",
               f"is {compute.status} in {vendor}/{region}", f"pick one of: {offers}")


def _scaling(v: _Validator, known: Mapping[str, Any]) -> None:
    """Replica bounds, scale to zero (needs min_replica 0), and the metric a threshold belongs to."""
    out = v.out
    min_fix = "set min_replica to 0 (scale to zero) or more"
    if "min_replica" in known:
        out["min_replica"] = v.integer("min_replica", known["min_replica"], 0, U32_MAX, min_fix)
    if "max_replica" in known:
        out["max_replica"] = v.integer("max_replica", known["max_replica"], 1, U32_MAX,
                                       "set max_replica to 1 or more")
    low = out.get("min_replica", DEFAULTS["min_replica"])
    high = out.get("max_replica", DEFAULTS["max_replica"])  # each an int, None (reported) or unknown (preview)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        v.fail("min_replica", low, f"is greater than max_replica ({high})",
               "lower min_replica or raise max_replica")
    if "scale_to_zero_timeout" in known:
        timeout = v.integer("scale_to_zero_timeout", known["scale_to_zero_timeout"], *SCALE_TO_ZERO_RANGE,
                            "give the idle time in minutes, 15 to 2880")
        if timeout is not None and isinstance(low, int) and low != 0:
            v.fail("scale_to_zero_timeout", timeout, f"needs min_replica 0 (it is {show(low)})",
                   "set min_replica: 0, or remove scale_to_zero_timeout")
            timeout = None
        out["scale_to_zero_timeout"] = timeout
    if "scaling_metric" in known:
        out["scaling_metric"] = v.choice("scaling_metric", known["scaling_metric"], SCALING_METRICS)
    if "scaling_threshold" in known:
        threshold = known["scaling_threshold"]
        if not is_number(threshold) or threshold <= 0:
            v.fail("scaling_threshold", threshold, "is not a positive finite number",
                   "e.g. 80 (% hardware usage) or 1.5 (pending requests per replica)")
        elif v.raw.get("scaling_metric") is None:
            v.fail("scaling_threshold", threshold, "has no scaling_metric",
                   "set scaling_metric: hardwareUsage or pendingRequests")
        elif known.get("scaling_metric") == PERCENT_METRIC and threshold > 100:
            v.fail("scaling_threshold", threshold, "is not a percentage",
                   f"{PERCENT_METRIC} is the share of hardware in use: give more than 0 and at most 100, e.g. 80")
        else:
            out["scaling_threshold"] = int(threshold) if threshold == int(threshold) else float(threshold)


# In the order their failures are reported. A new field adds its validator to one of the tables.
STEPS: tuple[Step, ...] = (
    _identity,
    _each({"repository": _repository, "framework": _text, "task": _text, "domain": _domain,
           "revision": _revision, "path": _route_path, "type": _endpoint_type, "accelerator": _accelerator}),
    _hardware,  # after accelerator: the catalog is searched with it
    _scaling,
    _each({"custom_image": _custom_image, "env": _env, "secrets": _secrets, "tags": _tags,
           "paused": _boolean, "adopt": _boolean, "smoke_test": _smoke_test, "stack": _stack,
           "command": _strings, "args": _strings, "private_link": _private_link,
           "cache_http_responses": _boolean}),
    _serving,  # last: the engine's rules see every other key canonical
)

COST_STEPS: tuple[Step, ...] = (
    _each({"accelerator": _accelerator}),
    _hardware,
    _scaling,
    _each({"paused": _boolean}),
)
"""Just what an endpoint's price and hourly cost need (placement, replicas, paused): the program's outputs and the
budget, which must not pay for the whole validation of hundreds of endpoints."""
