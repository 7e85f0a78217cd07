"""Request bodies: their shape (contract §3, §4) and the values the service accepts (contract §8).

Parsing follows the real service: a body of the wrong *shape* is a plain-text 422 in serde's wording
(`ShapeError`, raised by the `wire` checkers), a body with the right shape but invalid *values* is a JSON 400
(`BadRequest`). Unknown keys are ignored, as serde does, except inside a `model.image` variant, where they are
kept verbatim.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from emulator import catalog, wire
from emulator.errors import BadRequest, JsonSyntaxError, ShapeError

NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")  # used with fullmatch: `$` would accept "abc\n"
TYPES = ("public", "authenticated", "private", "protected")
ACCELERATORS = ("cpu", "gpu", "neuron")
METRICS = ("hardwareUsage", "pendingRequests")
_SERVED = ("url", "port", "healthRoute")
_TGI = (*_SERVED, "maxBatchPrefillTokens", "maxBatchTotalTokens", "maxInputLength", "maxTotalTokens")
# The fields each `model.image` variant declares (contract §3.3). The API ignores the others instead of
# rejecting them (huggingface_hub's `_inference_endpoints.py`), so they are dropped: not stored, not echoed.
IMAGE_FIELDS: dict[str, tuple[str, ...]] = {
    "huggingface": (),
    "huggingfaceNeuron": ("batchSize", "neuronCache", "sequenceLength"),
    "custom": (*_SERVED, "credentials"),
    "tgi": (*_TGI, "disableCustomKernels", "quantize"),
    "tgiNeuron": (*_TGI, "hfAutoCastType", "hfNumCores"),
    "tei": (*_SERVED, "maxBatchTokens", "maxConcurrentRequests", "pooling"),
    "llamacpp": (*_SERVED, "ctxSize", "modelPath", "nParallel", "nGpuLayers", "threadsHttp", "mode", "pooling",
                 "variant", "mmprojModelPath"),
    # vLLM's tuning fields as gorgias-oss/terraform-provider-huggingface's `vllm` block names them.
    "vLLM": (*_SERVED, "tensorParallelSize", "dataParallelSize", "maxNumSeqs", "maxNumBatchedTokens", "kvCacheDtype"),
    "sGLang": (*_SERVED, "tensorParallelSize"),
    "vLLMNeuron": _SERVED,
    "hfServe": _SERVED,
}
IMAGE_VARIANTS = tuple(IMAGE_FIELDS)
URL_LESS_VARIANTS = ("huggingface", "huggingfaceNeuron")
REDACTED_CREDENTIALS = {"username": "", "password": None}


# ---------------------------------------------------------------------------------------------- body shape

def _measure(v: Any, p: str) -> dict[str, float | None]:
    m = wire.obj(v, p)
    if len(m) != 1:
        raise ShapeError(p, "invalid type: map, expected map with a single key")
    (key, threshold), = m.items()
    wire.enum(METRICS)(key, p)
    return {key: None if threshold is None else wire.f64(threshold, f"{p}.{key}")}


def _image(v: Any, p: str) -> dict:
    img = wire.obj(v, p)
    if len(img) != 1:
        raise ShapeError(p, "invalid type: map, expected map with a single key")
    (variant, conf), = img.items()
    wire.enum(IMAGE_VARIANTS)(variant, p)
    q = f"{p}.{variant}"
    declared = IMAGE_FIELDS[variant]
    conf = {k: x for k, x in wire.obj(conf, q, f"struct variant {variant}").items() if k in declared}
    if variant not in URL_LESS_VARIANTS:
        if "url" not in conf:
            raise ShapeError(q, "missing field `url`")
        wire.string(conf["url"], f"{q}.url")
    if conf.get("port") is not None:
        wire.u16(conf["port"], f"{q}.port")
    if conf.get("healthRoute") is not None:
        wire.string(conf["healthRoute"], f"{q}.healthRoute")
    if conf.get("credentials") is not None:
        cred = wire.obj(conf["credentials"], f"{q}.credentials")
        if cred.get("username") is not None:
            wire.string(cred["username"], f"{q}.credentials.username")
        if cred.get("password") is not None:
            wire.string(cred["password"], f"{q}.credentials.password")
    return {variant: copy.deepcopy(conf)}


# name -> (checker | nested spec, required on create, nullable)
Spec = dict[str, tuple[Any, bool, bool]]
SCALING: Spec = {
    "minReplica": (wire.uint, True, False),
    "maxReplica": (wire.uint, True, False),
    "scaleToZeroTimeout": (wire.uint, False, True),
    "metric": (wire.enum(METRICS), False, True),
    "measure": (_measure, False, True),
    "threshold": (wire.f64, False, True),
}
COMPUTE: Spec = {
    "accelerator": (wire.enum(ACCELERATORS), True, False),
    "instanceType": (wire.string, True, False),
    "instanceSize": (wire.string, True, False),
    "id": (wire.string, False, True),
    "scaling": (SCALING, True, False),
}
MODEL: Spec = {
    "repository": (wire.string, True, False),
    "framework": (wire.string, True, False),
    "revision": (wire.string, False, True),
    "task": (wire.string, False, False),
    "image": (_image, True, False),
    "env": (wire.str_map, False, True),
    "secrets": (lambda v, p: wire.str_map(v, p, null_values=True), False, True),
    "command": (wire.str_list, False, True),
    "args": (wire.str_list, False, True),
    "fromCatalog": (wire.boolean, False, True),
}
ENDPOINT: Spec = {
    "name": (wire.string, True, False),
    "type": (wire.enum(TYPES), True, False),
    "provider": ({"vendor": (wire.string, True, False), "region": (wire.string, True, False)}, True, False),
    "compute": (COMPUTE, True, False),
    "model": (MODEL, True, False),
    "tags": (wire.str_list, False, True),
    "cacheHttpResponses": (wire.boolean, False, True),
    "route": ({"domain": (wire.string, False, True), "path": (wire.string, False, True)}, False, True),
    "privateService": (
        {"accountId": (wire.string, True, False), "shared": (wire.boolean, False, True),
         "region": (wire.string, False, True)},
        False, True,
    ),
    "experimentalFeatures": (lambda v, p: copy.deepcopy(wire.obj(v, p)), False, True),
    "accountId": (wire.string, False, True),
}
# Keys whose object value replaces the stored one whole in a PUT instead of being merged key by key.
REPLACED_WHOLE = {"model.image", "model.env", "model.secrets", "route", "privateService",
                  "experimentalFeatures", "compute.scaling.measure"}


def _check(spec: Spec, value: Any, path: str, partial: bool) -> dict:
    """Check `value` against `spec`; returns only the known keys (with explicit nulls kept)."""
    obj = wire.obj(value, path or "", "struct Endpoint" if not path else f"struct {path.rsplit('.', 1)[-1]}")
    out: dict[str, Any] = {}
    for key, (checker, required, nullable) in spec.items():
        sub = f"{path}.{key}" if path else key
        if key not in obj:
            if required and not partial:
                raise ShapeError(path, f"missing field `{key}`")
            continue
        v = obj[key]
        if v is None:
            if sub == "model.task":
                # huggingface_hub#2510: the service words a null task as a JSON parse error.
                raise JsonSyntaxError("model.task: invalid type: null, expected a string")
            if not nullable:
                raise wire.bad_type(sub, v, "a map" if isinstance(checker, dict) else "a value")
            out[key] = None
        elif isinstance(checker, dict):
            out[key] = _check(checker, v, sub, partial and sub not in REPLACED_WHOLE)
        else:
            out[key] = checker(v, sub)
    return out


def parse_create(body: Any) -> dict:
    """A create body -> a normalized config (camelCase keys, defaults filled in)."""
    cfg = _check(ENDPOINT, body, "", partial=False)
    model, compute = cfg["model"], cfg["compute"]
    if model.get("args") == []:
        raise BadRequest("model.args must not be empty; omit it when the container takes no arguments")
    if any(v is None for v in (model.get("secrets") or {}).values()):
        raise BadRequest("model.secrets values must be strings")
    compute["scaling"].setdefault("scaleToZeroTimeout", None)
    model.setdefault("revision", None)
    model.setdefault("task", None)
    model["env"] = model.get("env") or {}
    model["secrets"] = model.get("secrets") or {}
    cfg["tags"] = cfg.get("tags") or []
    cfg["cacheHttpResponses"] = bool(cfg.get("cacheHttpResponses"))
    if cfg["type"] == "protected":  # contract §8.1: the service coerces the legacy `protected` to `private`
        cfg["type"] = "private"
    return cfg


def parse_update(body: Any) -> dict:
    """A PUT body -> a sparse patch (absent keys absent, explicit nulls kept)."""
    patch = _check(ENDPOINT, body, "", partial=True)
    if patch.get("type") == "protected":
        patch["type"] = "private"
    return patch


def _deep_merge(current: dict, patch: dict, path: str) -> dict:
    out = copy.deepcopy(current)
    for key, value in patch.items():
        sub = f"{path}.{key}" if path else key
        if isinstance(value, dict) and sub not in REPLACED_WHOLE and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value, sub)
        else:
            out[key] = copy.deepcopy(value)
    return out


def merge(current: dict, patch: dict) -> dict:
    """PUT merge rules: absent keeps, null clears, lists and REPLACED_WHOLE objects replace whole."""
    out = _deep_merge(current, patch, "")
    model = out["model"]
    model["env"] = model.get("env") or {}
    secrets = model.get("secrets") or {}
    old_secrets = current["model"].get("secrets") or {}
    # A null secret value (what a read returns) keeps the stored value, so echoing a read back is harmless.
    for k, v in list(secrets.items()):
        if v is None:
            if k not in old_secrets:
                raise BadRequest(f"model.secrets.{k} has no value: send the secret's value")
            secrets[k] = old_secrets[k]
    model["secrets"] = secrets
    # Echoing the redacted registry credentials back keeps the stored ones.
    ((variant, conf),) = model["image"].items()
    old_conf = current["model"]["image"].get(variant) or {}
    if conf.get("credentials") == REDACTED_CREDENTIALS and "credentials" in old_conf:
        conf["credentials"] = copy.deepcopy(old_conf["credentials"])
    out["tags"] = out.get("tags") or []
    out["cacheHttpResponses"] = bool(out.get("cacheHttpResponses"))
    return out


def validate(cfg: dict) -> catalog.Hardware:
    """The service's value checks (400); returns the catalog entry the config deploys on."""
    name = cfg["name"]
    if not NAME_RE.fullmatch(name):
        raise BadRequest(
            f"Invalid endpoint name {name!r}: it must only contain lowercase alphanumeric characters or '-', "
            "start and end with an alphanumeric character, and be at most 32 characters long"
        )
    vendor, region = cfg["provider"]["vendor"], cfg["provider"]["region"]
    if vendor not in catalog.CATALOG:
        raise BadRequest(f"Unknown vendor '{vendor}' (known: {', '.join(catalog.CATALOG)})")
    if not catalog.has_region(vendor, region):
        raise BadRequest(f"Region '{region}' is not available for vendor '{vendor}'")
    compute, model = cfg["compute"], cfg["model"]
    accel, itype, isize = compute["accelerator"], compute["instanceType"], compute["instanceSize"]
    if (itype, isize) in catalog.LEGACY_INSTANCES or itype in catalog.LEGACY_TYPES or isize in catalog.LEGACY_SIZES:
        new = catalog.LEGACY_INSTANCES.get((itype, isize))
        hint = f"use instanceType '{new[0]}' and instanceSize '{new[1]}'" if new else (
            "use the current names, e.g. instanceType 'nvidia-a10g' and instanceSize 'x1'")
        raise BadRequest(f"Instance '{itype}' / '{isize}' uses the legacy naming retired in May 2024: {hint}")
    hw = catalog.find(vendor, region, accel, itype, isize)
    if hw is None:
        raise BadRequest(
            f"Instance type '{itype}' of size '{isize}' with accelerator '{accel}' is not available in "
            f"{vendor}/{region}; see GET /v2/provider/{{namespace}} for the available hardware"
        )
    if hw.status in ("deprecated", "not_available"):
        raise BadRequest(f"Instance {hw.id} is {hw.status} and cannot be deployed")
    if compute.get("id") not in (None, hw.id):
        raise BadRequest(f"compute.id '{compute['id']}' does not match the instance {hw.id}")
    scaling = compute["scaling"]
    lo, hi, stz = scaling["minReplica"], scaling["maxReplica"], scaling.get("scaleToZeroTimeout")
    if hi < 1:
        raise BadRequest("compute.scaling.maxReplica must be at least 1")
    if lo > hi:
        raise BadRequest(f"compute.scaling.minReplica ({lo}) must be less than or equal to maxReplica ({hi})")
    if stz is not None:
        if lo != 0:
            raise BadRequest("compute.scaling.scaleToZeroTimeout can only be set when minReplica is 0")
        if not 15 <= stz <= 2880:
            raise BadRequest(f"compute.scaling.scaleToZeroTimeout must be between 15 and 2880 minutes (got {stz})")
    metric, measure = scaling.get("metric"), scaling.get("measure")
    if metric and measure and metric not in measure:
        raise BadRequest(f"compute.scaling.measure must be keyed by the metric '{metric}'")
    for key in ("repository", "framework"):
        if not model[key].strip():
            raise BadRequest(f"model.{key} must not be empty")
    if model.get("task") is not None and not model["task"].strip():
        raise BadRequest("model.task must not be empty")
    ((variant, conf),) = model["image"].items()
    if conf.get("port") == 0:
        raise BadRequest(f"model.image.{variant}.port must be between 1 and 65535")
    cred = conf.get("credentials")
    if cred and cred.get("password") is not None and not cred.get("username"):
        raise BadRequest("model.image.custom.credentials: a password requires a username")
    if variant in ("vLLM", "sGLang") and hw.num_accelerators > 1 and not (
        conf.get("tensorParallelSize") or conf.get("dataParallelSize")
    ):
        raise BadRequest(
            f"{variant} on {hw.num_accelerators} accelerators needs tensorParallelSize or dataParallelSize"
        )
    route = cfg.get("route")
    if route and route.get("path") is not None and not route["path"].startswith("/"):
        raise BadRequest("route.path must start with '/'")
    ps = cfg.get("privateService")
    if ps:
        if not re.fullmatch(r"\d{12}", ps["accountId"]):
            raise BadRequest("privateService.accountId must be a 12-digit AWS account id")
        if vendor != "aws" or ps.get("region", region) not in ("us-east-1", "eu-west-1"):
            raise BadRequest("privateService is only available on aws in us-east-1 and eu-west-1")
    return hw
