"""The EndpointsReady dynamic resource: one wait for all endpoints of a stack.

Why a separate resource: the provider host serves only 4 calls at once and a failed create records
nothing in state. `InferenceEndpoint` returns as soon as the API accepted a change; this resource then
polls every endpoint together (one list request per namespace per tick) and succeeds once all are ready,
or fails fast naming the endpoint and the server's message. It waits again whenever an endpoint's
`updated_at` (or what readiness means for it) changes.

It also names `hf-endpoints:protect` when a protected endpoint's entry is removed from the stack file: Pulumi's own
refusal (the endpoints carry its `protect` option) only says "cannot be deleted because it is protected", and only
once the delete is reached. `check` sees the endpoints of the last `up` (olds) and of this one, so the preview fails
first, saying how to lift the protection.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, Resource, UpdateResult

from providers import model_facts
from providers.base import ConfiguredProvider
from providers.fit import architecture
from providers.values import is_unknown, show

# The fields of an InferenceEndpoint's outputs that readiness depends on.
VIEW_KEYS = ("namespace", "name", "type", "min_replica", "paused", "smoke_test", "updated_at")
DECLARED_ONLY_VIEW_KEYS = ("smoke_test",)
"""View keys an endpoint's outputs hold only when its spec declares them (every other one has a default or comes from
the API). A resource's view leaves such a key out unless declared: in a preview, an output the last `up` did not
record is unknown, and endpoints-ready would show an update on every preview of an unchanged stack."""


def readiness_view(endpoint: Any) -> Any:
    """An InferenceEndpoint (or a mapping of its outputs) reduced to what readiness depends on. A resource's view is
    a mapping of its Outputs (`view_keys`: what it has), not one Output over them: two fewer Outputs and tasks per
    endpoint in the program."""
    if isinstance(endpoint, Mapping):
        return {key: endpoint.get(key) for key in VIEW_KEYS if endpoint.get(key) is not None}
    return {key: getattr(endpoint, key) for key in endpoint.view_keys}


PROTECTED_FIX = ("to delete it, put its entry back, run `pulumi config set hf-endpoints:protect false` and "
                 "`pulumi up`, then remove the entry (or run `pulumi destroy`)")


def protected_removals(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """One line per endpoint of the last `up` that is no longer listed, while either `up` has `protect` set. A list
    not known yet (a preview with new endpoints) is judged once known: `up` checks again before any delete."""
    before, now = olds.get("protect") is True, news.get("protect") is True
    listed, previous = news.get("endpoints"), olds.get("endpoints")
    if not (before or now) or not isinstance(listed, list) or not isinstance(previous, list) or any(
            is_unknown(view) for view in listed):
        return []
    kept = {(view.get("namespace"), view.get("name")) for view in listed if isinstance(view, Mapping)}
    removed = [view for view in previous if isinstance(view, Mapping)
               and (view.get("namespace"), view.get("name")) not in kept]
    setting = ("hf-endpoints:protect is true" if now else
               "hf-endpoints:protect was true at the last `pulumi up`, so it is still protected")
    return [f"endpoints.{view.get('name')}: {view.get('namespace')}/{view.get('name')} is no longer in the stack "
            f"file, but {setting}: a protected endpoint is never deleted; {PROTECTED_FIX}" for view in removed]


def _canonical_views(endpoints: Any) -> list[dict[str, Any]]:
    views = []
    for view in endpoints if isinstance(endpoints, list) else []:
        if not isinstance(view, Mapping):
            views.append(view)
            continue
        view = readiness_view(view)
        if isinstance(view.get("min_replica"), int | float):
            view["min_replica"] = int(view["min_replica"])
        views.append(view)
    return views


class EndpointsReadyProvider(ConfiguredProvider):
    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures, endpoints = [], news.get("endpoints")
        if not is_unknown(endpoints):
            if not isinstance(endpoints, list):
                failures.append(CheckFailure("endpoints", "endpoints must be a list of InferenceEndpoint "
                                             f"outputs, got {show(endpoints)}"))
            else:
                for index, view in enumerate(endpoints):
                    if is_unknown(view):
                        continue
                    if not isinstance(view, Mapping) or not view.get("name") or not view.get("namespace"):
                        failures.append(CheckFailure("endpoints", f"endpoints[{index}] has no name/namespace: "
                                                     "pass InferenceEndpoint resources or their outputs"))
        timeout = news.get("timeout_seconds")
        if timeout is not None and not is_unknown(timeout) and (
                isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            failures.append(CheckFailure("timeout_seconds", f"timeout_seconds: {show(timeout)} is not a "
                                         "positive number of seconds; e.g. 1800"))
        protect = news.get("protect", False)
        if not isinstance(protect, bool) and not is_unknown(protect):
            failures.append(CheckFailure("protect", f"protect: {show(protect)} is not a boolean; write true or false"))
        failures += [CheckFailure("endpoints", line) for line in protected_removals(olds, news)]
        inputs = {"endpoints": _canonical_views(endpoints) if isinstance(endpoints, list) else endpoints}
        if timeout is not None:
            inputs["timeout_seconds"] = timeout
        if protect:
            inputs["protect"] = protect
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        # timeout_seconds and protect are not what to wait for: changing them alone waits for nothing.
        changed = _canonical_views(olds.get("endpoints")) != _canonical_views(news.get("endpoints"))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult("endpoints-ready", self._wait(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._wait(news))

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        # Imported here: readiness loads huggingface_hub, which the program and a no-op `up` never need.
        from providers.readiness import Target, wait_until_ready

        views = _canonical_views(props.get("endpoints"))
        targets = [Target.from_outputs(view) for view in views]
        started = time.monotonic()
        with self.reported([target.endpoint_id for target in targets], "waiting"):
            settings = self.settings()
            finals = wait_until_ready(self.client(), targets, poll_seconds=settings.poll_seconds,
                                      timeout=float(props.get("timeout_seconds") or settings.ready_timeout_seconds),
                                      secrets=self.secret_values(), dimension_of=self._dimension_of)
        return {
            "endpoints": views,
            **({"timeout_seconds": props["timeout_seconds"]} if props.get("timeout_seconds") else {}),
            **({"protect": True} if props.get("protect") else {}),
            "states": {endpoint_id: raw["status"]["state"] for endpoint_id, raw in finals.items()},
            "urls": {endpoint_id: raw["status"].get("url") or "" for endpoint_id, raw in finals.items()},
            "ready_seconds": round(time.monotonic() - started, 3),
        }

    def _dimension_of(self, raw: Mapping[str, Any]) -> int | None:
        """The embedding dimension of a live endpoint's model (its hidden size), from the facts `check` cached; None
        when they cannot be had (the smoke test then checks only that a vector came back)."""
        model = raw.get("model") or {}
        try:
            facts = model_facts.load(self.hub(), str(model.get("repository")), model.get("revision"))
            return architecture(facts.config).hidden_size
        except Exception:
            return None


class EndpointsReady(Resource, module="hf", name="EndpointsReady"):
    """Succeeds when every listed endpoint is ready (see `providers.readiness`)."""

    states: pulumi.Output[dict]
    """endpoint_id (`namespace/name`) -> the state each endpoint was ready in (running, scaledToZero or paused)."""
    urls: pulumi.Output[dict]
    """endpoint_id (`namespace/name`) -> the endpoint's URL once ready (an InferenceEndpoint's own `url` is the
    one the API answered at create/update time, often empty until it is deployed)."""
    ready_seconds: pulumi.Output[float]

    def __init__(self, resource_name: str, endpoints: Sequence[Any], timeout_seconds: float | None = None,
                 opts: pulumi.ResourceOptions | None = None, protect: bool = False):
        props = {
            "endpoints": [readiness_view(endpoint) for endpoint in endpoints],
            "timeout_seconds": timeout_seconds,
            "protect": protect or None,  # the stack's hf-endpoints:protect: see `protected_removals`
            "states": None,
            "urls": None,
            "ready_seconds": None,
        }
        super().__init__(EndpointsReadyProvider(), resource_name, props, opts)
