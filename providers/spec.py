"""The pure spec layer: stack YAML mapping -> validated inputs -> API payloads, and API JSON -> outputs.

No I/O here. Everything the provider decides without the network lives in this module:

* `validate` turns one endpoint's mapping (plus `name`/`namespace`) into canonical inputs: defaults
  applied, legacy names mapped, numbers cast to `int` (the engine sends every number as a float), env values
  as strings (so `2048` and `"2048"` never diff). It reports one failure per bad key, naming
  `endpoints.<name>.<key>`, the bad value and the fix.
* `changed_keys` / `replace_keys` decide the diff; `create_payload` / `update_payload` build the exact JSON.
* `outputs_from_api` and `inputs_from_api` map the API's answer back (outputs, and drift for refresh).
* `readiness` classifies one endpoint's live state for `EndpointsReady`.

Decisions (where the API contract is silent or says GUESS):
* `type: protected` is accepted with a warning and mapped to `private`: the UI renamed "Protected" to
  "Private", and the API coerces `protected` to `private` (contract §8.1, §12).
* Tutorial instance names (`g5.2xlarge`/`medium`, ...) map to the current pair of contract §12 with a warning.
* Changing the image variant (no `custom_image` <-> `custom_image`) replaces the endpoint, like the fixed
  replacement keys: the engine of an endpoint cannot be changed in place (contract §4.3).
* Removing `task` cannot be expressed to the API (`model.task` is not nullable): it keeps its value.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from providers import catalog

# The mapping's keys: the argument names of huggingface_hub's create_inference_endpoint, then ours.
API_KEYS = (
    "repository", "framework", "task", "revision", "accelerator", "vendor", "region", "instance_type",
    "instance_size", "type", "min_replica", "max_replica", "scale_to_zero_timeout", "scaling_metric",
    "scaling_threshold", "custom_image", "env", "secrets", "tags", "domain", "path",
)
OUR_KEYS = ("paused", "adopt", "smoke_test")
INPUT_KEYS = ("name", "namespace", *API_KEYS, *OUR_KEYS)
REQUIRED_KEYS = ("repository", "accelerator", "vendor", "region", "instance_type", "instance_size")
# Identity and placement: the API has no way to change them in place.
REPLACE_KEYS = ("name", "namespace", "vendor", "region", "accelerator", "type")
# Keys that never reach the API as a PUT field (handled by other routes, or by EndpointsReady).
NOT_IN_UPDATE = ("name", "namespace", "vendor", "region", "type", "paused", "adopt", "smoke_test")
OUTPUT_ONLY_KEYS = (
    "state", "message", "url", "ready_replica", "target_replica", "created_at", "updated_at",
    "dashboard_url", "price_per_hour",
)
DEFAULTS: dict[str, Any] = {
    "framework": "pytorch", "type": "authenticated", "min_replica": 1, "max_replica": 1,
    "env": {}, "secrets": {}, "paused": False, "adopt": False,
}
ENDPOINT_TYPES = ("public", "authenticated", "private")
ACCELERATORS = ("cpu", "gpu", "neuron")
SCALING_METRICS = ("hardwareUsage", "pendingRequests")
SCALE_TO_ZERO_RANGE = (15, 2880)
NAME_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
REPOSITORY_PATTERN = re.compile(r"^([A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")
ENV_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
COMMIT_PATTERN = re.compile(r"^[0-9a-f]{40}$")
# TGI's --quantize values (text-generation-inference 3.x launcher).
TGI_QUANTIZE = (
    "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4",
    "bitsandbytes-fp4", "fp8",
)
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
DASHBOARD_URL = "https://endpoints.huggingface.co/{namespace}/endpoints/{name}"


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


def is_unknown(value: Any) -> bool:
    """A preview-time unknown (`pulumi.output.Unknown`) or the engine's unknown sentinel string."""
    return type(value).__name__ == "Unknown" or value == "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


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
    """A value as the user wrote it in YAML/JSON terms (`"abc"`, `5`, `true`)."""
    try:
        return json.dumps(_as_written(value), sort_keys=True)
    except TypeError:
        return repr(value)


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
    for key in raw:
        if key.startswith("__") or key in INPUT_KEYS:
            continue
        if key in OUTPUT_ONLY_KEYS:
            continue  # `olds` are outputs: they carry these, and they are not user input.
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()
        close = [snake] if snake in INPUT_KEYS else difflib.get_close_matches(key, INPUT_KEYS, n=1)
        fix = f"did you mean `{close[0]}`?" if close else f"remove it (known keys: {', '.join(INPUT_KEYS)})"
        v.fail(key, raw[key], "is not a known key", fix)

    values = {key: raw[key] for key in INPUT_KEYS if raw.get(key) is not None}
    known = {key: value for key, value in values.items() if not is_unknown(value)}
    for key in REQUIRED_KEYS:
        if key not in values:
            v.fail(key, None, "is required", f"set `{key}` under {v.label} (or in hf-endpoints:defaults)")

    out = v.out
    for key, value in values.items():
        if is_unknown(value):
            out[key] = value  # Unknown during preview: keep, validate once known.

    if "name" in known:
        out["name"] = v.string("name", known["name"], "use at most 32 lowercase letters, digits and '-', "
                               "starting and ending with a letter or digit", NAME_PATTERN)
    else:
        v.fail("name", None, "is required", "give every endpoint a name (the key under hf-endpoints:endpoints)")
    if "namespace" in known:
        out["namespace"] = v.string("namespace", known["namespace"],
                                    "set hf-endpoints:namespace to your HF user or organization name",
                                    NAMESPACE_PATTERN)
    else:
        v.fail("namespace", None, "is required", "set hf-endpoints:namespace to your HF user or organization")
    if "repository" in known:
        out["repository"] = v.string("repository", known["repository"],
                                     "use the model's Hub id, e.g. `derek-thomas/jais-13b-chat-hf`",
                                     REPOSITORY_PATTERN)
    for key in ("framework", "task", "domain"):
        if key in known:
            out[key] = v.string(key, known[key], f"set `{key}` to a non-empty string or remove it")
    if "revision" in known:
        out["revision"] = v.string("revision", known["revision"],
                                   "use a commit sha (or a branch/tag name), or remove it for the latest")
    if "path" in known:
        out["path"] = v.string("path", known["path"], "start the route path with '/', e.g. `/v1`",
                               re.compile(r"^/"))
    if "type" in known:
        endpoint_type = known["type"]
        if endpoint_type == "protected":
            v.warn("type", "`protected` no longer exists; mapped to `private` (org members with a token), "
                   "as the API does. Use `authenticated` for any Hugging Face account.")
            endpoint_type = "private"
        out["type"] = v.choice("type", endpoint_type, ENDPOINT_TYPES)
    if "accelerator" in known:
        out["accelerator"] = v.choice("accelerator", known["accelerator"], ACCELERATORS)
    _validate_hardware(v, known)
    _validate_scaling(v, known)
    if "custom_image" in known:
        out["custom_image"] = _validate_custom_image(v, known["custom_image"])
    if "env" in known:
        out["env"] = _validate_env(v, known["env"])
    if "secrets" in known:
        out["secrets"] = _validate_secrets(v, known["secrets"])
    if "tags" in known:
        tags = known["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            v.fail("tags", tags, "is not a list of non-empty strings", "write tags as a YAML list of strings")
        else:
            out["tags"] = list(tags)
    for key in ("paused", "adopt"):
        if key in known:
            if isinstance(known[key], bool):
                out[key] = known[key]
            else:
                v.fail(key, known[key], "is not a boolean", f"write `{key}: true` or `{key}: false`")
    if "smoke_test" in known:
        out["smoke_test"] = _validate_smoke_test(v, known["smoke_test"])

    for key, default in DEFAULTS.items():
        if key not in values:
            out[key] = default
    inputs = {key: value for key, value in out.items() if value is not None}
    return Checked(inputs=inputs, failures=v.failures, warnings=v.warnings)


def _validate_hardware(v: _Validator, known: dict[str, Any]) -> None:
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


def _validate_scaling(v: _Validator, known: dict[str, Any]) -> None:
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


def _validate_custom_image(v: _Validator, image: Any) -> dict[str, Any] | None:
    ok = v.block("custom_image", image, CUSTOM_IMAGE_KEYS, "write custom_image with url, health_route, port",
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


def _validate_env(v: _Validator, env: Any) -> dict[str, str] | None:
    if not isinstance(env, Mapping):
        v.fail("env", env, "is not a mapping", "write env as NAME: value pairs")
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
    _validate_tgi_env(v, result)
    return dict(sorted(result.items()))


def _validate_tgi_env(v: _Validator, env: dict[str, str]) -> None:
    """TGI launcher rules, checked here so a bad value fails in preview, not after minutes of startup."""
    numbers: dict[str, int] = {}
    for name in ("MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS",
                 "MAX_BATCH_TOTAL_TOKENS"):
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


def _validate_secrets(v: _Validator, secrets: Any) -> dict[str, str] | None:
    if not isinstance(secrets, Mapping):
        v.fail("secrets", "<redacted>", "is not a mapping", "write secrets as NAME: value pairs")
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


def _validate_smoke_test(v: _Validator, smoke: Any) -> dict[str, Any] | None:
    ok = v.block("smoke_test", smoke, SMOKE_TEST_KEYS, "give smoke_test a prompt (and optionally expect)")
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


def canonical(props: Mapping[str, Any]) -> dict[str, Any]:
    """The input keys of `props` (inputs or outputs) in canonical form, for comparisons."""
    return validate({key: props[key] for key in INPUT_KEYS if key in props}).inputs


def image_variant(inputs: Mapping[str, Any]) -> str:
    return "custom" if inputs.get("custom_image") else "huggingface"


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [key for key in INPUT_KEYS if old.get(key) != new.get(key)]


def changed_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Input keys whose canonical values differ (`olds` may be outputs: extra keys are ignored)."""
    return _differing(canonical(olds), canonical(news))


def replace_keys(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The changed keys that force a replacement (delete before replace: the name is reused)."""
    old, new = canonical(olds), canonical(news)
    changed = _differing(old, new)
    keys = [key for key in changed if key in REPLACE_KEYS]
    if "custom_image" in changed and image_variant(old) != image_variant(new):
        keys.append("custom_image")
    return keys


def _image_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    image = inputs.get("custom_image")
    if not image:
        return {"huggingface": {}}
    custom: dict[str, Any] = {"url": image["url"], "port": image["port"], "healthRoute": image["health_route"]}
    if image.get("credentials"):
        custom["credentials"] = dict(image["credentials"])
    return {"custom": custom}


def _scaling_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    scaling: dict[str, Any] = {
        "minReplica": inputs["min_replica"],
        "maxReplica": inputs["max_replica"],
        "scaleToZeroTimeout": inputs.get("scale_to_zero_timeout"),
    }
    if inputs.get("scaling_metric"):
        scaling["measure"] = {inputs["scaling_metric"]: inputs.get("scaling_threshold")}
    return scaling


def _route_payload(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    if not inputs.get("domain") and not inputs.get("path"):
        return None
    return {"domain": inputs.get("domain"), "path": inputs.get("path")}


def create_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The `POST /v2/endpoint/{namespace}` body, shaped as huggingface_hub sends it (contract §3.1)."""
    model: dict[str, Any] = {
        "framework": inputs["framework"],
        "repository": inputs["repository"],
        "revision": inputs.get("revision"),
        "image": _image_payload(inputs),
    }
    if inputs.get("task"):
        model["task"] = inputs["task"]  # not nullable server-side: omitted rather than null
    if inputs.get("env"):
        model["env"] = dict(inputs["env"])
    if inputs.get("secrets"):
        model["secrets"] = dict(inputs["secrets"])
    payload: dict[str, Any] = {
        "compute": {
            "accelerator": inputs["accelerator"],
            "instanceSize": inputs["instance_size"],
            "instanceType": inputs["instance_type"],
            "scaling": _scaling_payload(inputs),
        },
        "model": model,
        "name": inputs["name"],
        "provider": {"region": inputs["region"], "vendor": inputs["vendor"]},
        "type": inputs["type"],
    }
    if "tags" in inputs:
        payload["tags"] = list(inputs["tags"])
    route = _route_payload(inputs)
    if route:
        payload["route"] = route
    return payload


def update_payload(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """The sparse `PUT` body: only what changed; the whole image, env and secrets maps when they changed."""
    old, new = canonical(olds), canonical(news)
    changed = set(_differing(old, new)) - set(NOT_IN_UPDATE)
    payload: dict[str, Any] = {}

    def put(path: tuple[str, ...], value: Any) -> None:
        node = payload
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value

    for key, path in (("repository", ("model", "repository")), ("framework", ("model", "framework")),
                      ("revision", ("model", "revision")), ("accelerator", ("compute", "accelerator")),
                      ("instance_type", ("compute", "instanceType")),
                      ("instance_size", ("compute", "instanceSize")),
                      ("min_replica", ("compute", "scaling", "minReplica")),
                      ("max_replica", ("compute", "scaling", "maxReplica")),
                      ("scale_to_zero_timeout", ("compute", "scaling", "scaleToZeroTimeout"))):
        if key in changed:
            put(path, new.get(key))
    if "task" in changed and new.get("task"):
        put(("model", "task"), new["task"])
    if "custom_image" in changed:
        put(("model", "image"), _image_payload(new))
    for key in ("env", "secrets"):
        if key in changed:
            put(("model", key), dict(new.get(key) or {}))
    if changed & {"scaling_metric", "scaling_threshold"}:
        put(("compute", "scaling", "measure"), _scaling_payload(new).get("measure"))
    if "tags" in changed:
        put(("tags",), list(new.get("tags") or []))
    if changed & {"domain", "path"}:
        put(("route",), _route_payload(new))
    return payload


def price_per_hour(inputs: Mapping[str, Any]) -> float | None:
    """USD per replica-hour from the catalog snapshot (None when the hardware is not in it)."""
    compute = catalog.find_compute(inputs.get("vendor", ""), inputs.get("region", ""),
                                   inputs.get("accelerator", ""), inputs.get("instance_type", ""),
                                   inputs.get("instance_size", ""))
    return compute.price_per_hour if compute else None


def outputs_from_api(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs: every input echoed (secrets stay secret by key), plus the live status fields."""
    status = raw.get("status") or {}
    return {
        **inputs,
        "state": status.get("state"),
        "message": status.get("message") or "",
        "url": status.get("url") or "",
        "ready_replica": int(status.get("readyReplica") or 0),
        "target_replica": int(status.get("targetReplica") or 0),
        "created_at": status.get("createdAt"),
        "updated_at": status.get("updatedAt"),
        "dashboard_url": DASHBOARD_URL.format(namespace=inputs["namespace"], name=inputs["name"]),
        "price_per_hour": price_per_hour(inputs),
    }


def inputs_from_api(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as the live endpoint has them (drift for refresh); secrets and credentials stay ours
    because the API redacts them."""
    compute, model = raw.get("compute") or {}, raw.get("model") or {}
    scaling, provider = compute.get("scaling") or {}, raw.get("provider") or {}
    live = dict(inputs)

    def take(key: str, value: Any) -> None:
        if value in (None, [], {}) and key not in inputs:
            return  # a server default for something the user never set is not drift
        if value is None:
            live.pop(key, None)
        else:
            live[key] = value

    for key, value in (
        ("repository", model.get("repository")), ("framework", model.get("framework")),
        ("revision", model.get("revision")), ("task", model.get("task")),
        ("accelerator", compute.get("accelerator")), ("instance_type", compute.get("instanceType")),
        ("instance_size", compute.get("instanceSize")), ("vendor", provider.get("vendor")),
        ("region", provider.get("region")), ("type", raw.get("type")),
        ("min_replica", scaling.get("minReplica")), ("max_replica", scaling.get("maxReplica")),
        ("scale_to_zero_timeout", scaling.get("scaleToZeroTimeout")), ("tags", raw.get("tags")),
    ):
        take(key, value)
    live["env"] = dict(model.get("env") or {})
    measure = scaling.get("measure") or {}
    metric, threshold = next(iter(measure.items()), (None, None))
    if threshold is not None or "scaling_metric" in inputs:
        take("scaling_metric", metric)
        take("scaling_threshold", threshold)
    image = model.get("image") or {}
    variant, fields = next(iter(image.items()), ("huggingface", {}))
    if variant.startswith("huggingface"):
        live.pop("custom_image", None)
    else:
        live_image = {"url": fields.get("url"), "health_route": fields.get("healthRoute") or "/health",
                      "port": fields.get("port") or 80}
        if (inputs.get("custom_image") or {}).get("credentials"):
            live_image["credentials"] = inputs["custom_image"]["credentials"]
        live["custom_image"] = live_image
    route = raw.get("route") or {}
    take("domain", route.get("domain"))
    take("path", route.get("path"))
    live["paused"] = (raw.get("status") or {}).get("state") == "paused"
    return canonical(live)


# --- readiness -------------------------------------------------------------------------------------------

READY, PROBE, WAIT, FAILED = "ready", "probe", "wait", "failed"


def readiness(raw: Mapping[str, Any], *, min_replica: int, paused: bool) -> tuple[str, str]:
    """Classify a live endpoint for EndpointsReady: ready, probe (running: check health and smoke test),
    wait, or failed, with a message to show."""
    status = raw.get("status") or {}
    state, message = status.get("state"), status.get("message") or ""
    if state == "failed":
        return FAILED, f"failed to deploy: {message or 'no message from the server'}"
    if state == "updateFailed":
        return FAILED, f"failed to update: {message or 'no message from the server'}"
    if paused:
        return (READY, "paused as requested") if state == "paused" else (WAIT, f"{state}, pausing")
    if state == "running" and status.get("url"):
        return PROBE, "running"
    if state == "scaledToZero" and min_replica == 0:
        return READY, "scaled to zero (min_replica 0): wakes on the first request"
    if state == "paused":
        return WAIT, "paused, but the spec says running: `pulumi refresh` then `pulumi up` resumes it"
    return WAIT, f"{state}: {message}" if message else str(state)


def smoke_test_passes(expect: str, text: str) -> bool:
    return re.search(expect, text) is not None


# --- the stack's config ----------------------------------------------------------------------------------


def stack_endpoints(namespace: str, endpoints: Any, defaults: Any = None) -> dict[str, dict[str, Any]]:
    """Each endpoint's inputs from the stack config: `hf-endpoints:defaults` merged under every
    `hf-endpoints:endpoints.<name>` mapping (the endpoint's own keys win), plus `name` and `namespace`."""
    if not isinstance(endpoints, Mapping):
        raise ValueError(f"hf-endpoints:endpoints must map endpoint names to settings, got {show(endpoints)}")
    if defaults is not None and not isinstance(defaults, Mapping):
        raise ValueError(f"hf-endpoints:defaults must be a mapping of settings, got {show(defaults)}")
    result = {}
    for name, mapping in endpoints.items():
        if not isinstance(mapping, Mapping):
            raise ValueError(f"hf-endpoints:endpoints.{name} must be a mapping of settings (repository, "
                             f"instance_type, ...), got {show(mapping)}")
        for key in ("name", "namespace"):
            if key in mapping:
                raise ValueError(f"hf-endpoints:endpoints.{name}.{key} is not allowed: the name is the key "
                                 "under hf-endpoints:endpoints and the namespace is hf-endpoints:namespace")
        result[name] = {**(defaults or {}), **mapping, "name": name, "namespace": namespace}
    return result


def hourly_cost_at_min_replicas(outputs: list[Mapping[str, Any]]) -> float:
    """USD per hour with every endpoint at `min_replica` (paused endpoints cost nothing)."""
    return round(sum((o.get("price_per_hour") or 0.0) * int(o.get("min_replica") or 0)
                     for o in outputs if not o.get("paused")), 4)
