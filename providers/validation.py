"""Validation: one endpoint's stack YAML mapping (plus `name`/`namespace`) -> canonical inputs, or failures.

`check` runs it with no network, so a bad spec fails in preview, before anything is created. It reports one
failure per bad key, naming `endpoints.<name>.<key>`, the bad value and the fix. Canonical means defaults
applied, legacy names mapped, numbers cast to `int` (the engine sends every number as a float) and env
values as strings, so that `2048` and `"2048"` never diff. No I/O (the hardware catalog is a shipped file).

Decisions (where the API contract is silent or says GUESS):
* `type: protected` is accepted with a warning and mapped to `private`: the UI renamed "Protected" to
  "Private", and the API coerces `protected` to `private` (contract §8.1, §12).
* Tutorial instance names (`g5.2xlarge`/`medium`, ...) map to the current pair of contract §12 with a warning.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from providers import catalog
from providers.fields import DEFAULTS, INPUT_KEYS, OUTPUT_ONLY_KEYS, REQUIRED_KEYS
from providers.values import is_unknown, show

ENDPOINT_TYPES = ("public", "authenticated", "private")
ACCELERATORS = ("cpu", "gpu", "neuron")
SCALING_METRICS = ("hardwareUsage", "pendingRequests")
SCALE_TO_ZERO_RANGE = (15, 2880)
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
REPOSITORY_PATTERN = re.compile(r"^([A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
ROUTE_PATH_PATTERN = re.compile(r"^/")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# TGI's --quantize values (text-generation-inference 3.x launcher).
TGI_QUANTIZE = (
    "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4",
    "bitsandbytes-fp4", "fp8",
)
TGI_TOKEN_LIMITS = ("MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS",
                    "MAX_BATCH_TOTAL_TOKENS")
CUSTOM_IMAGE_KEYS = ("url", "health_route", "port", "credentials")
SMOKE_TEST_KEYS = ("prompt", "expect", "max_new_tokens")
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


class _Validator:
    """Collects one failure per bad key while building the canonical inputs."""

    def __init__(self, raw: Mapping[str, Any]):
        self.raw = raw
        self.label = f"endpoints.{raw.get('name') or '<unnamed>'}"
        self.failures: list[Failure] = []
        self.warnings: list[str] = []
        self.out: dict[str, Any] = {}

    def fail(self, key: str, value: Any, problem: str, fix: str) -> None:
        shown = "missing" if value is None else show(value)
        self.failures.append(Failure(key.split(".")[0], f"{self.label}.{key}: {shown} {problem}; {fix}"))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{self.label}.{key}: {message}")

    def integer(self, key: str, value: Any, low: int, high: int | None, fix: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            self.fail(key, value, "is not a whole number", fix)
            return None
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.fail(key, value, f"is out of range (must be {bound})", fix)
            return None
        return int(value)

    def string(self, key: str, value: Any, fix: str, pattern: re.Pattern[str] | None = None) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, value, "is not a non-empty string", fix)
            return None
        if pattern is not None and not pattern.match(value):
            self.fail(key, value, "is not valid", fix)
            return None
        return value

    def block(self, key: str, value: Any, allowed: tuple[str, ...], fix: str,
              fix_key: Callable[[str], str | None] = lambda _key: None) -> bool:
        """A nested mapping (custom_image, smoke_test): one failure per unknown key; False if unusable."""
        if not isinstance(value, Mapping):
            self.fail(key, value, "is not a mapping", fix)
            return False
        ok = True
        for inner in value:
            if inner not in allowed:
                self.fail(f"{key}.{inner}", value[inner], f"is not a {key} key",
                          fix_key(inner) or f"remove it ({key} takes {', '.join(allowed)})")
                ok = False
        return ok

    def choice(self, key: str, value: Any, choices: tuple[str, ...], fix: str = "") -> str | None:
        if value not in choices:
            self.fail(key, value, f"is not one of {', '.join(choices)}", fix or f"use one of {', '.join(choices)}")
            return None
        return value


def validate(raw: Mapping[str, Any]) -> Checked:
    """Validate one endpoint's inputs and return the canonical form; never touches the network."""
    v = _Validator(raw)
    _reject_unknown_keys(v)
    values = {key: raw[key] for key in INPUT_KEYS if raw.get(key) is not None}
    known = {key: value for key, value in values.items() if not is_unknown(value)}
    _require(v, values)
    v.out.update({key: value for key, value in values.items() if is_unknown(value)})  # validated once known
    for step in STEPS:
        step(v, known)
    for key, default in DEFAULTS.items():
        if key not in values:
            v.out[key] = default
    inputs = {key: value for key, value in v.out.items() if value is not None}
    return Checked(inputs=inputs, failures=v.failures, warnings=v.warnings)


def _reject_unknown_keys(v: _Validator) -> None:
    """A typo or a camelCase key fails, with the key it most likely meant."""
    for key in v.raw:
        if key.startswith("__") or key in INPUT_KEYS:
            continue
        if key in OUTPUT_ONLY_KEYS:
            continue  # `olds` are outputs: they carry these, and they are not user input.
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        close = [snake] if snake in INPUT_KEYS else difflib.get_close_matches(key, INPUT_KEYS, n=1)
        fix = f"did you mean `{close[0]}`?" if close else f"remove it (known keys: {', '.join(INPUT_KEYS)})"
        v.fail(key, v.raw[key], "is not a known key", fix)


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
    return v.string(key, value, "use the model's Hub id, e.g. `derek-thomas/jais-13b-chat-hf`", REPOSITORY_PATTERN)


def _text(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, f"set `{key}` to a non-empty string or remove it")


def _revision(v: _Validator, key: str, value: Any) -> str | None:
    return v.string(key, value, "use a commit sha (or a branch/tag name), or remove it for the latest")


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
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        v.fail(key, tags, "is not a list of non-empty strings", "write tags as a YAML list of strings")
        return None
    return list(tags)


def _boolean(v: _Validator, key: str, value: Any) -> bool | None:
    if not isinstance(value, bool):
        v.fail(key, value, "is not a boolean", f"write `{key}: true` or `{key}: false`")
        return None
    return value


def _custom_image(v: _Validator, key: str, image: Any) -> dict[str, Any] | None:
    ok = v.block(key, image, CUSTOM_IMAGE_KEYS, "write custom_image with url, health_route, port",
                 {"env": "environment variables belong in `env` (the API ignores them in the image)",
                  "healthRoute": "use `health_route`"}.get)
    if not isinstance(image, Mapping):
        return None
    url = v.string("custom_image.url", image.get("url"),
                   "give the container image, e.g. ghcr.io/huggingface/text-generation-inference:3.1.1")
    route = image.get("health_route", "/health")
    if not isinstance(route, str) or not route.startswith("/"):
        v.fail("custom_image.health_route", route, "is not a path", "use a path such as /health")
        ok = False
    port = v.integer("custom_image.port", image.get("port", 80), 1, 65535, "use the container's port, e.g. 80")
    credentials = image.get("credentials")
    if credentials is not None and (
            not isinstance(credentials, Mapping) or set(credentials) - {"username", "password"}
            or not isinstance(credentials.get("username"), str) or not credentials.get("username")
            or not isinstance(credentials.get("password"), str)):
        v.fail("custom_image.credentials", "<redacted>", "is not {username, password} strings",
               "give both username and password for the registry (a password needs a username)")
        ok = False
    if not ok or url is None or port is None:
        return None
    result: dict[str, Any] = {"url": url, "health_route": route, "port": port}
    if credentials is not None:
        result["credentials"] = {"username": credentials["username"], "password": credentials["password"]}
    return result


def env_value(value: Any) -> str | None:
    """Env values as the container sees them: strings (`2048`, `2048.0` and `"2048"` are one value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    return None


def _env(v: _Validator, key: str, env: Any) -> dict[str, str] | None:
    if not isinstance(env, Mapping):
        v.fail(key, env, "is not a mapping", "write env as NAME: value pairs")
        return None
    result: dict[str, str] = {}
    for name, value in env.items():
        text = env_value(value)
        if not isinstance(name, str) or not ENV_NAME_PATTERN.match(name):
            v.fail(f"env.{name}", value, "has an invalid variable name", "use letters, digits and '_'")
        elif text is None:
            v.fail(f"env.{name}", value, "is not a scalar", "quote it as a string")
        else:
            result[name] = text
    _check_tgi_env(v, result)
    return dict(sorted(result.items()))


def _check_tgi_env(v: _Validator, env: dict[str, str]) -> None:
    """TGI launcher rules, checked here so a bad value fails in preview, not after minutes of startup."""
    numbers: dict[str, int] = {}
    for name in TGI_TOKEN_LIMITS:
        if name in env:
            if re.fullmatch(r"[0-9]+", env[name]) and int(env[name]) > 0:
                numbers[name] = int(env[name])
            else:
                v.fail(f"env.{name}", env[name], "is not a positive whole number", "e.g. 2048")
    max_input_name = "MAX_INPUT_TOKENS" if "MAX_INPUT_TOKENS" in numbers else "MAX_INPUT_LENGTH"
    max_input = numbers.get(max_input_name)
    total = numbers.get("MAX_TOTAL_TOKENS")
    prefill = numbers.get("MAX_BATCH_PREFILL_TOKENS")
    if max_input is not None and total is not None and max_input >= total:
        v.fail(f"env.{max_input_name}", env[max_input_name], f"must be less than MAX_TOTAL_TOKENS ({total})",
               f"lower {max_input_name} or raise MAX_TOTAL_TOKENS")
    if max_input is not None and prefill is not None and prefill < max_input:
        v.fail("env.MAX_BATCH_PREFILL_TOKENS", env["MAX_BATCH_PREFILL_TOKENS"],
               f"must be at least {max_input_name} ({max_input})",
               f"raise MAX_BATCH_PREFILL_TOKENS to {max_input} or more")
    if "QUANTIZE" in env and env["QUANTIZE"] not in TGI_QUANTIZE:
        v.fail("env.QUANTIZE", env["QUANTIZE"], "is not a TGI quantization", f"use one of {', '.join(TGI_QUANTIZE)}")


def _secrets(v: _Validator, key: str, secrets: Any) -> dict[str, str] | None:
    """Like env, but a failure never shows the value."""
    if not isinstance(secrets, Mapping):
        v.fail(key, "<redacted>", "is not a mapping", "write secrets as NAME: value pairs")
        return None
    result: dict[str, str] = {}
    for name, value in secrets.items():
        text = env_value(value)
        if not isinstance(name, str) or not ENV_NAME_PATTERN.match(name) or text is None:
            v.fail(f"secrets.{name}", "<redacted>", "is not a NAME: string pair",
                   "use a variable name and a string value (set it with `pulumi config set --secret --path`)")
        else:
            result[name] = text
    return dict(sorted(result.items()))


def _smoke_test(v: _Validator, key: str, smoke: Any) -> dict[str, Any] | None:
    ok = v.block(key, smoke, SMOKE_TEST_KEYS, "give smoke_test a prompt (and optionally expect)")
    if not isinstance(smoke, Mapping):
        return None
    prompt = v.string("smoke_test.prompt", smoke.get("prompt"), "give a prompt the model must answer")
    expect = smoke.get("expect", r"\S")
    try:
        re.compile(expect)
    except (re.error, TypeError) as error:
        v.fail("smoke_test.expect", expect, f"is not a regular expression ({error})", "fix the pattern")
        ok = False
    tokens = v.integer("smoke_test.max_new_tokens", smoke.get("max_new_tokens", 20), 1, 4096, "e.g. 20")
    if not ok or prompt is None or tokens is None:
        return None
    return {"prompt": prompt, "expect": expect, "max_new_tokens": tokens}


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
        else:
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
    if (instance_type, instance_size) in LEGACY_INSTANCES:
        new_type, new_size = LEGACY_INSTANCES[(instance_type, instance_size)]
        v.warn("instance_type", f"the tutorial name {instance_type}/{instance_size} is retired; mapped to "
               f"instance_type: {new_type}, instance_size: {new_size}. Write those to silence this warning.")
        instance_type, instance_size = new_type, new_size
    elif instance_type in {old_type for old_type, _ in LEGACY_INSTANCES}:
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
    if None in (vendor, region, accelerator, instance_type, instance_size) or (v.failures and any(
        f.key in ("instance_type", "instance_size") for f in v.failures
    )):
        return
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
        out["min_replica"] = v.integer("min_replica", known["min_replica"], 0, None, min_fix)
    if "max_replica" in known:
        out["max_replica"] = v.integer("max_replica", known["max_replica"], 1, None,
                                       "set max_replica to 1 or more")
    low = out.get("min_replica", DEFAULTS["min_replica"])
    high = out.get("max_replica", DEFAULTS["max_replica"])
    if low is not None and high is not None and low > high:
        v.fail("min_replica", low, f"is greater than max_replica ({high})",
               "lower min_replica or raise max_replica")
    if "scale_to_zero_timeout" in known:
        timeout = v.integer("scale_to_zero_timeout", known["scale_to_zero_timeout"], *SCALE_TO_ZERO_RANGE,
                            "give the idle time in minutes, 15 to 2880")
        if timeout is not None and low != 0:
            v.fail("scale_to_zero_timeout", timeout, f"needs min_replica 0 (it is {show(low)})",
                   "set min_replica: 0, or remove scale_to_zero_timeout")
            timeout = None
        out["scale_to_zero_timeout"] = timeout
    if "scaling_metric" in known:
        out["scaling_metric"] = v.choice("scaling_metric", known["scaling_metric"], SCALING_METRICS)
    if "scaling_threshold" in known:
        threshold = known["scaling_threshold"]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
            v.fail("scaling_threshold", threshold, "is not a positive number",
                   "e.g. 80 (% hardware usage) or 1.5 (pending requests per replica)")
        elif "scaling_metric" not in known:
            v.fail("scaling_threshold", threshold, "has no scaling_metric",
                   "set scaling_metric: hardwareUsage or pendingRequests")
        else:
            out["scaling_threshold"] = int(threshold) if threshold == int(threshold) else float(threshold)


# In the order their failures are reported. A new field adds its validator to one of the tables.
STEPS: tuple[Step, ...] = (
    _identity,
    _each({"repository": _repository, "framework": _text, "task": _text, "domain": _text,
           "revision": _revision, "path": _route_path, "type": _endpoint_type, "accelerator": _accelerator}),
    _hardware,  # after accelerator: the catalog is searched with it
    _scaling,
    _each({"custom_image": _custom_image, "env": _env, "secrets": _secrets, "tags": _tags,
           "paused": _boolean, "adopt": _boolean, "smoke_test": _smoke_test}),
)
