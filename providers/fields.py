"""The field table: one row per field of an InferenceEndpoint, and everything derived from it.

Why one table: the key -> API path mapping drives the create body, the sparse PUT and refresh's read-back,
and the same rows say which keys are required, force a replacement, have a default or are secret. Adding a
field is one row here plus its validator in `providers.validation`.

A path is where the API's JSON holds the field: the create body and the GET answer share them (contract
§3.1). A few fields are not one plain value there (the image variants, the scaling measure, the route): their
rows name a `Shape` that builds that block from the inputs and reads it back. No I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from providers import engines

Path = tuple[str, ...]


class Create(Enum):
    """When a create body carries a plain field."""

    ALWAYS = "always"  # null when unset
    WHEN_SET = "when set"
    WHEN_NOT_EMPTY = "when not empty"  # an empty map is the API's default: not sent


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


KEEP: Final[Any] = _Keep()
"""`cleared_by` of a field the API cannot clear: removing it from the YAML keeps the live value."""


@dataclass(frozen=True)
class Shape:
    """An API block that is not one input's plain value: built from the inputs, read back into them."""

    build: Callable[[Mapping[str, Any]], Any]
    """inputs -> the block; None leaves it out of a create body (a PUT sends it as null)."""
    parse: Callable[[Any, Mapping[str, Any]], dict[str, Any]]
    """the live block and our inputs -> the inputs it stands for; a key left out is not drift."""


@dataclass(frozen=True)
class Field:
    """One row: where the field lives in the API and how the provider treats it."""

    key: str
    path: Path | None = None  # None: not an API field
    required: bool = False  # the user must set it (under the endpoint or in hf-endpoints:defaults)
    replaces: bool = False  # a change deletes and recreates the endpoint: the API cannot change it in place
    default: Any = None  # what `check` fills in when unset (None: no default)
    in_update: bool = True  # a PUT carries it when it changed
    output_only: bool = False  # set by the API, never by the user
    secret: bool = False  # a Pulumi secret in state and in previews
    create: Create = Create.ALWAYS
    cleared_by: Any = None  # what a PUT sends once the user removed it (KEEP: the API cannot clear it)
    shape: Shape | None = None  # the block at `path` is shaped, not this field's plain value
    refresh: bool = True  # refresh reads it back from the API
    parse: Callable[[Any], Any] | None = None  # the API's plain value -> ours (None: as it is)
    diffs: bool = True  # False: a change of this input alone is no change of the endpoint (bookkeeping)
    server_default: Any = None  # what the API shows when unset: not drift unless the user set the field


def _image_block(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """`model.image`: the declared engine's block (`providers.engines`): `{"huggingface": {}}` by default."""
    return engines.image_block(inputs)


def _image_inputs(block: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The live image as `engine` or `custom_image`; the API redacts registry credentials, so ours stay."""
    return engines.image_inputs(block, inputs)


def _measure_block(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """`compute.scaling.measure`: `{metric: threshold}`, one entry."""
    if not inputs.get("scaling_metric"):
        return None
    return {inputs["scaling_metric"]: inputs.get("scaling_threshold")}


def _measure_inputs(block: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The server's default metric with no threshold is not drift unless the user set a metric."""
    metric, threshold = next(iter((block or {}).items()), (None, None))
    if threshold is None and "scaling_metric" not in inputs:
        return {}
    return {"scaling_metric": metric, "scaling_threshold": threshold}


def _private_block(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """`privateService` (AWS PrivateLink): `{accountId, region}`, as huggingface_hub 2.4.0 sends it."""
    link = inputs.get("private_link")
    if not link:
        return None
    return {"accountId": link["account_id"], "region": link["region"]}


def _private_inputs(block: Any, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    if not block:
        return {"private_link": None}
    return {"private_link": {"account_id": block.get("accountId"), "region": block.get("region")}}


def _route_block(inputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """`route`: domain and path together, or nothing."""
    if not inputs.get("domain") and not inputs.get("path"):
        return None
    return {"domain": inputs.get("domain"), "path": inputs.get("path")}


def _route_inputs(block: Any, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    route = block or {}
    return {"domain": route.get("domain"), "path": route.get("path")}


MARKER_PREFIX = "hf-endpoints:"


def owner_tag(stack: Any) -> str | None:
    """The tag marking an endpoint as created by this stack: `hf-endpoints:<project>/<stack>`."""
    return f"{MARKER_PREFIX}{stack}" if isinstance(stack, str) and stack else None


def _tags_block(inputs: Mapping[str, Any]) -> list[str] | None:
    """`tags`: the user's tags, then this stack's marker (so the next `up` can tell a create of ours that landed
    before a crash from someone else's endpoint of that name)."""
    marker = owner_tag(inputs.get("stack"))
    if inputs.get("tags") is None and marker is None:
        return None
    return [*(inputs.get("tags") or []), *([marker] if marker else [])]


def _tags_inputs(block: Any, _inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Markers (ours or another stack's) are not the user's tags: never drift."""
    return {"tags": [tag for tag in block or [] if not str(tag).startswith(MARKER_PREFIX)]}


IMAGE = Shape(_image_block, _image_inputs)
PRIVATE = Shape(_private_block, _private_inputs)
MEASURE = Shape(_measure_block, _measure_inputs)
ROUTE = Shape(_route_block, _route_inputs)
TAGS = Shape(_tags_block, _tags_inputs)


def _text(value: Any) -> Any:
    return value or ""


def _count(value: Any) -> int:
    return int(value or 0)


# Input rows first, in the order of huggingface_hub's create_inference_endpoint arguments, then ours; that
# order is the order of diffs. `name` and `namespace` come from the program (the entry's key and
# hf-endpoints:namespace), never from the mapping: validation requires them with a fix saying so.
FIELDS: tuple[Field, ...] = (
    Field("name", ("name",), replaces=True, in_update=False, refresh=False),
    Field("namespace", replaces=True, in_update=False),  # in the URL, not the body
    Field("repository", ("model", "repository"), required=True),
    Field("framework", ("model", "framework"), default="pytorch"),
    Field("task", ("model", "task"), create=Create.WHEN_SET, cleared_by=KEEP),  # not nullable server-side
    Field("revision", ("model", "revision")),
    Field("accelerator", ("compute", "accelerator"), required=True, replaces=True),
    Field("vendor", ("provider", "vendor"), required=True, replaces=True, in_update=False),
    Field("region", ("provider", "region"), required=True, replaces=True, in_update=False),
    Field("instance_type", ("compute", "instanceType"), required=True),
    Field("instance_size", ("compute", "instanceSize"), required=True),
    Field("type", ("type",), replaces=True, in_update=False, default="authenticated"),
    Field("min_replica", ("compute", "scaling", "minReplica"), default=1),
    Field("max_replica", ("compute", "scaling", "maxReplica"), default=1),
    Field("scale_to_zero_timeout", ("compute", "scaling", "scaleToZeroTimeout")),
    Field("scaling_metric", ("compute", "scaling", "measure"), shape=MEASURE),
    Field("scaling_threshold", ("compute", "scaling", "measure"), shape=MEASURE),
    # Replaced when the declared engine changes (huggingface, custom, tgi, vllm, ...): see `spec.replace_keys`.
    Field("custom_image", ("model", "image"), shape=IMAGE),
    Field("engine", ("model", "image"), shape=IMAGE),
    Field("command", ("model", "command"), create=Create.WHEN_NOT_EMPTY, cleared_by=[]),
    Field("args", ("model", "args"), create=Create.WHEN_NOT_EMPTY, cleared_by=[]),
    Field("env", ("model", "env"), default={}, create=Create.WHEN_NOT_EMPTY, cleared_by={}),
    # The API redacts secrets on read, so refresh keeps ours.
    Field("secrets", ("model", "secrets"), default={}, create=Create.WHEN_NOT_EMPTY, cleared_by={}, secret=True,
          refresh=False),
    Field("tags", ("tags",), shape=TAGS),
    # GUESS (contract §4.3): privateService may not change in place, so a change replaces the endpoint.
    Field("private_link", ("privateService",), shape=PRIVATE, replaces=True, in_update=False),
    Field("cache_http_responses", ("cacheHttpResponses",), create=Create.WHEN_SET, cleared_by=False,
          server_default=False),
    Field("domain", ("route",), shape=ROUTE),
    Field("path", ("route",), shape=ROUTE),
    Field("paused", default=False, in_update=False),  # the pause and resume routes, not a field
    Field("adopt", default=False, in_update=False, diffs=False),
    # `<project>/<stack>`, set by the program (InferenceEndpoint), sent as the marker tag in `tags`.
    Field("stack", ("tags",), shape=TAGS, in_update=False, refresh=False, diffs=False),
    Field("smoke_test", in_update=False),  # EndpointsReady runs it
    Field("state", ("status", "state"), output_only=True),
    Field("message", ("status", "message"), output_only=True, parse=_text),
    Field("url", ("status", "url"), output_only=True, parse=_text),
    Field("ready_replica", ("status", "readyReplica"), output_only=True, parse=_count),
    Field("target_replica", ("status", "targetReplica"), output_only=True, parse=_count),
    Field("created_at", ("status", "createdAt"), output_only=True),
    Field("updated_at", ("status", "updatedAt"), output_only=True),
    Field("dashboard_url", output_only=True),  # from namespace and name
    Field("price_per_hour", output_only=True),  # from the catalog snapshot
)

INPUT_FIELDS = tuple(field for field in FIELDS if not field.output_only)
OUTPUT_FIELDS = tuple(field for field in FIELDS if field.output_only)
API_FIELDS = tuple(field for field in INPUT_FIELDS if field.path is not None)
INPUT_KEYS = tuple(field.key for field in INPUT_FIELDS)
OUTPUT_ONLY_KEYS = tuple(field.key for field in OUTPUT_FIELDS)
REQUIRED_KEYS = tuple(field.key for field in INPUT_FIELDS if field.required)
REPLACE_KEYS = tuple(field.key for field in INPUT_FIELDS if field.replaces)
NOT_IN_UPDATE = tuple(field.key for field in INPUT_FIELDS if not field.in_update)
DEFAULTS: dict[str, Any] = {field.key: field.default for field in INPUT_FIELDS if field.default is not None}
SECRET_KEYS = tuple(field.key for field in INPUT_FIELDS if field.secret)
NOT_DIFFED = tuple(field.key for field in INPUT_FIELDS if not field.diffs)


def endpoint_id(namespace: str, name: str) -> str:
    """`namespace/name`: the InferenceEndpoint's Pulumi id, the key of EndpointsReady's states and urls, and
    how log lines and messages name an endpoint."""
    return f"{namespace}/{name}"
