"""The API mapping: canonical inputs -> the create body and the sparse PUT, API JSON -> outputs and inputs.

Every path comes from the field table (`providers.fields`); this module only walks it. No I/O (the prices come
from the shipped catalog snapshot).

Decisions (where the API contract is silent or says GUESS):
* a PUT replaces the `env` and `secrets` maps whole, so a changed map is always sent whole;
* removing `task` cannot be expressed to the API (`model.task` is not nullable): it keeps its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers import catalog, spec
from providers.fields import (
    API_FIELDS,
    KEEP,
    NOT_IN_UPDATE,
    OUTPUT_FIELDS,
    TAGS,
    Create,
    Field,
    Path,
    Shape,
    owner_tag,
)

PAUSED = "paused"  # huggingface_hub's InferenceEndpointStatus.PAUSED; not imported: diff must not load huggingface_hub
DASHBOARD_URL = "https://endpoints.huggingface.co/{namespace}/endpoints/{name}"


def _shaped_blocks() -> dict[Path, tuple[Shape, frozenset[str]]]:
    """Each shaped block once, with the fields it carries (the measure and the route carry two)."""
    blocks: dict[Path, tuple[Shape, frozenset[str]]] = {}
    for field in API_FIELDS:
        if field.shape is not None and field.path is not None:
            shape, keys = blocks.get(field.path, (field.shape, frozenset()))
            blocks[field.path] = (shape, keys | {field.key})
    return blocks


# Plain fields map one value to one path; a shaped block is built from, and read back into, its fields.
PLAIN_FIELDS = tuple(field for field in API_FIELDS if field.shape is None)
SHAPED_BLOCKS = _shaped_blocks()


def _get(raw: Mapping[str, Any], path: Path) -> Any:
    node: Any = raw
    for part in path:
        node = (node or {}).get(part)
    return node


def _put(payload: dict[str, Any], path: Path, value: Any) -> None:
    node = payload
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def _copy(value: Any) -> Any:
    """Maps and lists are sent as copies, never as the inputs' own objects."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _same(value: Any) -> Any:
    return value


def _in_create_body(field: Field, value: Any) -> bool:
    if field.create is Create.WHEN_SET:
        return value is not None
    if field.create is Create.WHEN_NOT_EMPTY:
        return bool(value)
    return True


def create_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The `POST /v2/endpoint/{namespace}` body, shaped as huggingface_hub sends it (contract §3.1)."""
    payload: dict[str, Any] = {}
    for field in PLAIN_FIELDS:
        value = inputs.get(field.key)
        if _in_create_body(field, value):
            _put(payload, field.path, _copy(value))
    for path, (shape, _keys) in SHAPED_BLOCKS.items():
        block = shape.build(inputs)
        if block is not None:
            _put(payload, path, block)
    return payload


def update_payload(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """The sparse `PUT` body: only what changed; the whole image, env and secrets maps when they changed."""
    old, new = spec.canonical(olds), spec.canonical(news)
    changed = set(spec.differing(old, new)) - set(NOT_IN_UPDATE)
    payload: dict[str, Any] = {}
    for field in PLAIN_FIELDS:
        if field.key not in changed:
            continue
        value = new.get(field.key)
        if value is None:
            if field.cleared_by is KEEP:
                continue
            value = field.cleared_by
        _put(payload, field.path, _copy(value))
    for path, (shape, keys) in SHAPED_BLOCKS.items():
        if changed & keys:
            _put(payload, path, shape.build(new))
    return payload


def is_owned(raw: Mapping[str, Any], inputs: Mapping[str, Any]) -> bool:
    """Whether a live endpoint carries this stack's marker tag: created by this stack (a create that landed before a
    crash), not by anyone else."""
    marker = owner_tag(inputs.get("stack"))
    return marker is not None and marker in (raw.get("tags") or [])


def tags_to_send(raw: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str] | None:
    """The whole `tags` list when the live one differs from what the inputs want (e.g. an adopted endpoint without
    this stack's marker, or with another stack's), else None."""
    wanted = TAGS.build(inputs)
    if wanted is None or sorted(raw.get("tags") or []) == sorted(wanted):
        return None
    return wanted


def price_per_hour(inputs: Mapping[str, Any]) -> float | None:
    """USD per replica-hour from the catalog snapshot (None when the hardware is not in it)."""
    compute = catalog.compute_of(inputs)
    return compute.price_per_hour if compute else None


def outputs_from_api(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs: every input echoed (secrets stay secret by key), plus the live status fields."""
    live = {field.key: (field.parse or _same)(_get(raw, field.path)) for field in OUTPUT_FIELDS if field.path}
    return {
        **inputs,
        **live,
        "dashboard_url": DASHBOARD_URL.format(namespace=inputs["namespace"], name=inputs["name"]),
        "price_per_hour": price_per_hour(inputs),
    }


def inputs_from_api(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as the live endpoint has them (drift for refresh), in canonical form; what the API redacts
    (secrets, registry credentials) stays ours."""
    return spec.canonical(live_inputs(inputs, raw))


def live_inputs(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> dict[str, Any]:
    """`inputs` with what the live endpoint `raw` has instead, before canonicalization: for canonical `inputs`,
    equal to them when nothing changed."""
    live = dict(inputs)

    def take(key: str, value: Any, server_default: Any = None) -> None:
        unset = value is None or value == [] or value == {} or (
            server_default is not None and value is server_default)
        if unset and key not in inputs:
            return  # a server default for something the user never set is not drift
        if value is None:
            live.pop(key, None)
        else:
            live[key] = value

    for field in PLAIN_FIELDS:
        if field.refresh:
            take(field.key, _get(raw, field.path), field.server_default)
    for path, (shape, _keys) in SHAPED_BLOCKS.items():
        for key, value in shape.parse(_get(raw, path), inputs).items():
            take(key, value)
    # `paused` is the endpoint's state, not a field: pause and resume are routes of their own.
    live["paused"] = _get(raw, ("status", "state")) == PAUSED
    return live
