"""The serving engines an endpoint can declare (`engine: {<name>: {...}}`), one module each, and the one registry.

Adding an engine is one module (a subclass of `providers.engines.base.Engine`) and one line in `REGISTERED`; nothing
else in `providers/` names an engine: validation, the API mapping, diff, the GPU fit and the smoke test ask the
registry. `custom` is the custom container (`custom_image` is its other spelling) and `huggingface` the default image
(no `engine`, no `custom_image`); both are registered like the others, so every `model.image` variant the provider
sends has one module.

Each engine's current default image (`url` may be omitted where it has one; pin `url` to stay on a version when
hf-endpoints moves the default) is its module's `default_image`: `DEFAULT_IMAGES` gathers them in one table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers import catalog
from providers.engines import custom, huggingface, llamacpp, sglang, tei, tgi, vllm
from providers.engines.base import PROTOCOLS, Engine, ServingSpec
from providers.fit import Estimate, EstimateOn, FactsMissing, ModelFacts, Verdict, describe
from providers.fit import verdict as fit_verdict
from providers.values import is_unknown

REGISTERED: tuple[Engine, ...] = (
    tgi.ENGINE,
    vllm.ENGINE,
    sglang.ENGINE,
    llamacpp.ENGINE,
    tei.ENGINE,
    custom.ENGINE,
    huggingface.ENGINE,
)
ENGINES: dict[str, Engine] = {engine.name: engine for engine in REGISTERED}
BY_VARIANT: dict[str, Engine] = {engine.variant: engine for engine in REGISTERED}
CUSTOM, DEFAULT = custom.ENGINE, huggingface.ENGINE
REGISTRY_CREDENTIALS = (("custom_image", "credentials"), ("engine", CUSTOM.name, "credentials"))
"""Where an endpoint's stack config may hold registry credentials (their password is a secret): the image block, or
the custom engine's settings, which check turns into one."""
DECLARABLE = tuple(name for name in ENGINES if name != DEFAULT.name)
"""What `engine:` may name (the default image is what omitting it means)."""
TYPED = tuple(engine for engine in REGISTERED if engine not in (CUSTOM, DEFAULT))
DEFAULT_IMAGES: dict[str, str] = {engine.name: engine.default_image for engine in TYPED if engine.default_image}
FIT_DEFAULT = tgi.ENGINE
"""The engine `python -m providers.fit` estimates for without `--engine` (the only one it knew before engines)."""
__all__ = ["DECLARABLE", "DEFAULT_IMAGES", "ENGINES", "PROTOCOLS", "Engine", "ServingSpec"]


def declared(inputs: Mapping[str, Any]) -> Engine:
    """The engine the inputs declare: `engine`'s, `custom` for a custom_image, else the default image's. Its variant
    is what cannot change in place."""
    block = inputs.get("engine")
    if isinstance(block, Mapping) and len(block) == 1:
        found = ENGINES.get(str(next(iter(block))))
        if found is not None:
            return found
    return CUSTOM if inputs.get("custom_image") else DEFAULT


def settings_of(inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    """The declared engine's settings (a custom image's own mapping for `custom`)."""
    block = inputs.get("engine")
    if isinstance(block, Mapping) and len(block) == 1:
        value = next(iter(block.values()))
        return value if isinstance(value, Mapping) else {}
    image = inputs.get("custom_image")
    return image if isinstance(image, Mapping) else {}


def serving_engine(inputs: Mapping[str, Any]) -> Engine:
    """The engine that will really serve: the declared one, or for a custom image the engine whose published image
    it is (its rules, memory model and protocols then apply), else `custom`."""
    engine = declared(inputs)
    if engine is CUSTOM:
        url = settings_of(inputs).get("url")
        if isinstance(url, str) and not is_unknown(url):
            return next((typed for typed in TYPED if typed.recognises(url)), CUSTOM)
    return engine


def serving_spec(inputs: Mapping[str, Any]) -> ServingSpec:
    """What the serving engine's rules see of canonical inputs."""
    engine = declared(inputs)
    args = inputs.get("args")
    return ServingSpec(settings=settings_of(inputs), typed=engine not in (CUSTOM, DEFAULT),
                       env=inputs.get("env") or {}, task=inputs.get("task"), accelerator=inputs.get("accelerator"),
                       compute=catalog.compute_of(inputs), args=tuple(args) if isinstance(args, list) else (),
                       smoke_test=inputs.get("smoke_test"))


def smoke_protocol(inputs: Mapping[str, Any]) -> str:
    """The protocol the smoke test speaks: `smoke_test.protocol`, else the serving engine's default."""
    smoke = inputs.get("smoke_test") or {}
    given = smoke.get("protocol") if isinstance(smoke, Mapping) else None
    if isinstance(given, str):
        return given
    return serving_engine(inputs).smoke_protocols(serving_spec(inputs))[0]


def image_block(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """`model.image` for canonical inputs: the declared engine's block."""
    return declared(inputs).api_block(settings_of(inputs))


def image_inputs(block: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The live `model.image` as inputs (`engine` or `custom_image`); what the API redacts (registry credentials)
    stays ours."""
    variant, live = next(iter((block or {}).items()), (DEFAULT.variant, {}))
    engine = BY_VARIANT.get(variant)
    if engine is None or engine is DEFAULT or variant.startswith("huggingface"):
        return {"engine": None, "custom_image": None}
    live = live if isinstance(live, Mapping) else {}
    if engine is CUSTOM:
        image = {"url": live.get("url"), "health_route": live.get("healthRoute") or "/health",
                 "port": live.get("port") or 80}
        if (inputs.get("custom_image") or {}).get("credentials"):
            image["credentials"] = inputs["custom_image"]["credentials"]
        return {"engine": None, "custom_image": image}
    ours = settings_of(inputs) if declared(inputs) is engine else {}
    return {"engine": {engine.name: engine.settings_from_api(live, ours)}, "custom_image": None}


def estimator(engine: Engine, spec: ServingSpec, facts: ModelFacts) -> EstimateOn:
    """The engine's estimate of this model and spec on any instance (the spec moved there as the engine would move
    it: vLLM and SGLang split over all of its GPUs)."""
    def on(compute: catalog.Compute) -> Estimate:
        moved = engine.on(spec, compute)
        found = engine.estimate(facts, moved, compute.num_accelerators if compute.accelerator == "gpu" else 0)
        if found is None:
            raise FactsMissing(f"{engine.title} has no memory model for {describe(compute)}")
        return found
    return on


def verdict(label: str, engine: Engine, spec: ServingSpec, facts: ModelFacts) -> Verdict:
    """What `check` says of the fit on the spec's instance (`spec.compute`): too big, tight, or its capacity."""
    assert spec.compute is not None
    return fit_verdict(label, facts, estimator(engine, spec, facts), spec.compute, catalog.load_catalog(),
                       hints=lambda compute: engine.hints(facts, engine.on(spec, compute), compute),
                       tight_advice=engine.tight_advice)


def dropped_fields(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> list[str]:
    """The fields of the image we sent that the API's answer lacks: it ignores a field a variant does not declare
    instead of refusing it (huggingface_hub 2.4.0 `_inference_endpoints.py`), so such a setting has no effect and
    the user must hear it."""
    sent = image_block(inputs)
    ((variant, fields),) = sent.items()
    live = ((raw.get("model") or {}).get("image") or {}).get(variant)
    if not isinstance(live, Mapping):
        return []
    return [f"model.image.{variant}.{key}" for key in fields if key not in live and key != "credentials"]
