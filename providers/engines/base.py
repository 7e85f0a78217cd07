"""What every serving engine module provides, and the one walk that validates an `engine:` block. Pure: no I/O.

An endpoint declares its engine in the stack file as a mapping with one key, the engine's name, whose value holds
the engine's settings in snake_case: the container (`url`, `port`, `health_route`) and the engine's own typed
fields, each the snake_case of the API's camelCase name inside `model.image.<variant>`. An engine module
(`providers/engines/<name>.py`) is one subclass of `Engine`: its fields with the source of each API name, its
default image, its rules (`check`, and `check_facts` once the model's facts are known), its GPU memory model
(`estimate`), its smoke-test protocols and the token limits a smoke test must respect. `providers.engines`
registers them; nothing outside that package names an engine.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from providers.image_reference import ImageReference, parse_image_reference
from providers.values import is_number, is_unknown, show

if TYPE_CHECKING:
    from providers.catalog import Compute
    from providers.fit import Estimate, ModelFacts

# The protocols a smoke test can speak (`smoke_test.protocol`), each an API the engine's container serves.
GENERATE = "generate"  # POST / {"inputs", "parameters"} as huggingface_hub's text_generation (TGI, the toolkit)
CHAT = "chat"  # POST /v1/chat/completions (OpenAI Chat Completions)
COMPLETIONS = "completions"  # POST /v1/completions (OpenAI Completions, the prompt as plain text)
EMBED = "embed"  # POST /embed (TEI): the reply is one vector per input
PROTOCOLS = (GENERATE, CHAT, COMPLETIONS, EMBED)
CONTAINER_KEYS = ("url", "port", "health_route")


@dataclass(frozen=True)
class EngineField:
    """One typed setting of an engine: `key` in the stack file, `api` inside `model.image.<variant>`.

    `kind` is `count` (a whole number >= `low`), `flag` (a boolean), `choice` (one of `choices`) or `text` (a
    non-empty string). `source` says where the API name comes from, or starts with GUESS. `env`: the environment
    variable the container reads for the same setting (a typed field and that variable set to different values is
    an error)."""

    key: str
    api: str
    kind: str
    source: str
    choices: tuple[str, ...] = ()
    low: int = 1
    env: str | None = None
    fix: str = ""


class Reporter(Protocol):
    """What the endpoint validator offers an engine: a failure or a warning naming a key path under the endpoint."""

    label: str

    def fail(self, key: str, value: Any, problem: str, fix: str, *, shown: str | None = None) -> None: ...

    def warn(self, key: str, message: str) -> None: ...


@dataclass(frozen=True)
class Problem:
    """One rule an engine's settings break: `<label>.<path>: <value> <problem>; <fix>`."""

    path: str
    value: Any
    problem: str
    fix: str
    warning: bool = False
    shown: str | None = None  # how to show the value, when not as written (a long prompt)


@dataclass(frozen=True)
class ServingSpec:
    """What an engine's rules see of one endpoint (canonical inputs, preview unknowns excluded).

    `settings` is the engine block (url, port, health_route and typed fields) or, for a custom image recognised as
    this engine, the custom image's; `typed` says which. `compute` is the catalog entry, when known."""

    settings: Mapping[str, Any]
    typed: bool
    env: Mapping[str, Any]
    task: str | None
    accelerator: str | None
    compute: Compute | None
    args: Sequence[str] = ()
    smoke_test: Mapping[str, Any] | None = None

    @property
    def image(self) -> ImageReference | None:
        url = self.settings.get("url")
        return parse_image_reference(url) if isinstance(url, str) else None

    @property
    def gpus(self) -> int:
        return self.compute.num_accelerators if self.compute and self.accelerator == "gpu" else 0

    def prefix(self, name: str) -> str:
        """The key path of a typed field (`engine.vllm.max_num_seqs`)."""
        return f"engine.{name}"

    def arg(self, flag: str) -> str | None:
        """The value of `--flag value` or `--flag=value` in the container's `args`, if given."""
        args = self.args
        for index, item in enumerate(args):
            if item == flag and index + 1 < len(args):
                return args[index + 1]
            if item.startswith(f"{flag}="):
                return item.split("=", 1)[1]
        return None

    def count_arg(self, flag: str) -> int | None:
        """`flag`'s value when it is a positive whole number (e.g. `--max-model-len 8192`), else None."""
        given = self.arg(flag)
        return int(given) if given and given.isdigit() and int(given) > 0 else None

    def fraction_arg(self, flag: str) -> float | None:
        """`flag`'s value when it is a share of memory, above 0 and at most 1 (`--gpu-memory-utilization`), else
        None."""
        try:
            value = float(self.arg(flag) or "")
        except ValueError:
            return None
        return value if 0 < value <= 1 else None


@dataclass(frozen=True)
class SmokeLimits:
    """The most tokens an engine accepts in one request: `max_input` of prompt, `max_total` of prompt + reply."""

    max_input: int | None
    max_total: int | None
    source: str  # e.g. "MAX_TOTAL_TOKENS", "the model's max_position_embeddings"


class Engine:
    """One serving engine. Subclasses set the class attributes and override the rules they have."""

    name: ClassVar[str]
    variant: ClassVar[str]  # the key of `model.image` in the API
    title: ClassVar[str]
    default_image: ClassVar[str | None]
    default_port: ClassVar[int]
    default_health_route: ClassVar[str] = "/health"
    fields: ClassVar[tuple[EngineField, ...]] = ()
    image_names: ClassVar[tuple[str, ...]] = ()  # image repository names that run this engine in a custom image
    protocols: ClassVar[tuple[str, ...]] = (GENERATE,)  # the first is the default
    image_pattern: ClassVar[re.Pattern[str] | None] = None  # recognises this engine's image in a custom image URL
    tight_advice: ClassVar[str] = ""  # what to lower when the fit is tight
    needs_files: ClassVar[bool] = False  # its rules and memory model need the repository's file sizes (GGUF)
    fits_on_cpu: ClassVar[bool] = False  # a CPU instance holds it in RAM: its memory model applies there too

    def __repr__(self) -> str:
        return f"<engine {self.name}>"

    def default_url(self, compute: Compute | None, accelerator: str | None) -> str | None:
        """The image to run when `url` is omitted (some engines publish one build per accelerator)."""
        return self.default_image

    def recognises(self, url: str) -> bool:
        """Whether a custom image URL runs this engine (its rules, memory model and protocols then apply)."""
        return bool(self.image_pattern and self.image_pattern.search(url))

    # --- the stack file <-> canonical settings <-> the API block -----------------------------------------

    def field_named(self, key: str) -> EngineField | None:
        return next((f for f in self.fields if f.key == key), None)

    def api_block(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """`model.image` for these canonical settings: `{variant: {url, port, healthRoute, <typed fields>}}`."""
        block: dict[str, Any] = {"url": settings["url"], "port": settings["port"],
                                 "healthRoute": settings["health_route"]}
        for f in self.fields:
            if settings.get(f.key) is not None:
                block[f.api] = settings[f.key]
        return {self.variant: block}

    def settings_from_api(self, block: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
        """The live block as settings; a typed field the live block lacks, or one we never set that the server
        shows at its default, is not drift."""
        settings: dict[str, Any] = {"url": block.get("url"), "port": block.get("port") or self.default_port,
                                    "health_route": block.get("healthRoute") or self.default_health_route}
        for f in self.fields:
            live = block.get(f.api)
            if live is None or (f.key not in ours and live is False):
                continue
            settings[f.key] = int(live) if f.kind == "count" and is_number(live) else live
        return settings

    # --- rules -------------------------------------------------------------------------------------------

    def check(self, spec: ServingSpec) -> list[Problem]:
        """Rules on the settings, env, task and hardware alone (no model facts)."""
        return []

    def check_facts(self, spec: ServingSpec, facts: ModelFacts) -> list[Problem]:
        """Rules that need the model's facts (config.json, the repository's files)."""
        return []

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        """The GPU memory this engine needs on each GPU of an instance with `num_gpus` GPUs; None when this engine
        has no memory model for the spec (e.g. a CPU instance)."""
        return None

    def on(self, spec: ServingSpec, compute: Compute) -> ServingSpec:
        """The spec moved to another instance, for the ranking (an engine that splits over GPUs assumes all)."""
        return replace(spec, compute=compute)

    def hints(self, facts: ModelFacts, spec: ServingSpec, chosen: Compute) -> list[str]:
        """Further fixes when the model does not fit `chosen` (a narrower quantization, a shorter context)."""
        return []

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        """The token limits a smoke test's prompt and `max_new_tokens` must fit in, if known."""
        return None

    def smoke_protocols(self, spec: ServingSpec) -> tuple[str, ...]:
        """The protocols this container serves (the first is the default); a version may narrow them."""
        return self.protocols

    def metadata_file(self, spec: ServingSpec, facts: ModelFacts) -> str | None:
        """The file whose header holds the model's shapes when the repository has no config.json (a GGUF)."""
        return None


def _count(v: Reporter, path: str, value: Any, low: int, fix: str) -> int | None:
    if not is_number(value) or value != int(value):
        v.fail(path, value, "is not a whole number", fix)
        return None
    if value < low:
        v.fail(path, value, f"is out of range (must be at least {low})", fix)
        return None
    return int(value)


def validate_settings(v: Reporter, engine: Engine, path: str, raw: Any, others: Sequence[Engine],
                      image_url: Callable[[Any, str, Any], str | None],
                      default_url: str | None) -> dict[str, Any] | None:
    """One engine's settings (`engine.<name>`): url (defaulting to `default_url`, the engine's image for the
    instance), port, health route and the typed fields, one failure per bad key; a field of another engine names it.
    `image_url` checks an image reference. Returns the canonical settings, or None when they are unusable."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        v.fail(path, raw, "is not a mapping", f"write {path} as settings (url, port, ...), or {{}} for the defaults")
        return None
    allowed = (*CONTAINER_KEYS, *(f.key for f in engine.fields))
    ok = True
    for key in raw:
        if key in allowed:
            continue
        ok = False
        owners = [other.name for other in others if other.field_named(str(key)) is not None]
        if owners:
            fix = (f"it is a setting of {' and '.join(owners)}, not of {engine.name}; {engine.name} takes "
                   f"{', '.join(allowed)}")
        else:
            close = difflib.get_close_matches(_snake(str(key)), allowed, n=1)
            fix = f"did you mean `{close[0]}`?" if close else f"remove it ({engine.name} takes {', '.join(allowed)})"
        v.fail(f"{path}.{key}", raw[key], f"is not a {engine.name} setting", fix)
    settings: dict[str, Any] = {}
    url = raw.get("url", default_url)
    if url is None:
        v.fail(f"{path}.url", None, "is required", "give the container image, e.g. registry/repository:tag")
        ok = False
    elif is_unknown(url):
        settings["url"] = url
    else:
        settings["url"] = image_url(v, f"{path}.url", url)
        ok = ok and settings["url"] is not None
    port = raw.get("port", engine.default_port)
    if not is_unknown(port):
        port = _count(v, f"{path}.port", port, 1, f"use the container's port, e.g. {engine.default_port}")
        if isinstance(port, int) and port > 65535:
            v.fail(f"{path}.port", port, "is out of range (must be between 1 and 65535)",
                   f"use the container's port, e.g. {engine.default_port}")
            port = None
    settings["port"] = port
    route = raw.get("health_route", engine.default_health_route)
    if not is_unknown(route) and (not isinstance(route, str) or not route.startswith("/")
                                  or any(c.isspace() or not c.isprintable() for c in route)):
        v.fail(f"{path}.health_route", route, "is not a path",
               f"use a path such as {engine.default_health_route} (no spaces or control characters)")
        route = None
    settings["health_route"] = route
    for f in engine.fields:
        if f.key not in raw or raw[f.key] is None:
            continue
        value, where = raw[f.key], f"{path}.{f.key}"
        if is_unknown(value):
            settings[f.key] = value
            continue
        settings[f.key] = _typed(v, f, where, value)
        ok = ok and settings[f.key] is not None
    if not ok or any(settings.get(key) is None for key in CONTAINER_KEYS):
        return None
    return settings


def _typed(v: Reporter, f: EngineField, where: str, value: Any) -> Any:
    if f.kind == "count":
        return _count(v, where, value, f.low, f.fix or "e.g. 4")
    if f.kind == "flag":
        if not isinstance(value, bool):
            v.fail(where, value, "is not a boolean", f"write `{f.key}: true` or `{f.key}: false`")
            return None
        return value
    if f.kind == "choice":
        if value not in f.choices:
            choices = ", ".join(f.choices)
            v.fail(where, value, f"is not one of {choices}", f.fix or f"use one of {choices}")
            return None
        return value
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "\n\r\0"):
        v.fail(where, value, "is not a non-empty one-line string", f.fix or f"set `{f.key}` to text")
        return None
    return value


def _snake(key: str) -> str:
    out = []
    for char in key:
        if char.isupper():
            out.append("_")
        out.append(char.lower())
    return "".join(out).lstrip("_")


def report(v: Reporter, problems: Sequence[Problem], already: Callable[[str], bool]) -> None:
    """Engine problems as failures (or warnings) of the endpoint validator, one per key path (`already` says
    whether a path has failed before)."""
    for p in problems:
        if already(p.path):
            continue
        if p.warning:
            v.warn(p.path, f"{p.shown or show(p.value, p.path)} {p.problem}; {p.fix}")
        else:
            v.fail(p.path, p.value, p.problem, p.fix, shown=p.shown)
