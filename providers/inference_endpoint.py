"""The InferenceEndpoint dynamic resource: one Hugging Face Inference Endpoint under desired state.

Each method is thin: the decisions are in the pure modules (`validation` for check, `spec` for diff,
`payloads` for the API's JSON), the HTTP in `providers.client`.

* `create` returns as soon as the API accepted the endpoint, so it is in state at once and `pulumi destroy`
  can always remove it; `EndpointsReady` waits for readiness, for all endpoints together. Every create carries
  this stack's marker tag `hf-endpoints:<project>/<stack>` (input `stack`, set by the program). On a 409, an
  endpoint with that marker is this stack's own, left by a run that died after its POST landed: it is taken back
  and brought to the spec (deleted and created again if it cannot change in place). Anyone else's endpoint is
  adopted only when `adopt: true`, and never silently.
* `diff` also compares the stack file with the live endpoint (`providers.drift`: one list call per namespace per
  command), so an endpoint deleted or edited outside Pulumi shows in the next preview and the next `up` fixes it.
* `update` reads the live endpoint, sends only what differs from the spec, then pauses or resumes to match `paused`.
* `read` (refresh) records drift made outside Pulumi in state; an endpoint deleted out of band leaves state.
* `delete` deletes, then waits until the name is gone (404 counts as success), retrying and waiting until one
  deadline (`hf-endpoints:deleteTimeoutSeconds`, default 300 s), not for a fixed number of attempts.

Every method runs under `reported`: whatever fails, the user reads one message naming `namespace/name` and the
server's text, without a chained HTTP-library traceback and without the token.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from providers import drift, engines, fields, payloads, preflight, spec, validation
from providers.base import ConfiguredProvider, log_line
from providers.client import (
    ConflictError,
    EndpointsApiError,
    EndpointsClient,
    Settings,
    describe_error,
    is_transient,
)
from providers.endpoints_ready import DECLARED_ONLY_VIEW_KEYS, VIEW_KEYS
from providers.secret_text import mask
from providers.values import REDACTED, show

FAILED = "failed"  # huggingface_hub's InferenceEndpointStatus.FAILED, without importing huggingface_hub here


def _endpoint_id(inputs: Mapping[str, Any]) -> str:
    return fields.endpoint_id(inputs["namespace"], inputs["name"])


def _warn_dropped(inputs: Mapping[str, Any], raw: Mapping[str, Any]) -> None:
    """Say so when the API kept less of the image than we sent: the setting has no effect."""
    for path in engines.dropped_fields(inputs, raw):
        log_line(f"warning: {_endpoint_id(inputs)}: the API dropped {path}, so it has no effect (a setting this "
                 "engine does not take); remove it from the stack file or pass it as a container arg")


class InferenceEndpointProvider(ConfiguredProvider):
    """check asks only the Hub (once per model commit: cached on disk), diff one list per namespace per command;
    create/update/read/delete make the fewest calls they can."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Warnings on every check; the capacity note only for a new or changed spec (`olds` here are the last
        inputs), or every preview of an unchanged stack would repeat one line per endpoint and bury what changed."""
        checked = preflight.with_model_facts(validation.validate(news), self.hub())
        for warning in checked.warnings:
            log_line(f"warning: {warning}")
        if spec.differing(olds, checked.inputs):  # olds: the last checked inputs, canonical like these
            for note in checked.notes:
                log_line(note)
        return CheckResult(checked.inputs, [CheckFailure(f.key, f.reason) for f in checked.failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """The stack file against the last outputs and against the live endpoint (`providers.drift`: one list call
        per namespace for all diffs of this command), so what changed outside Pulumi shows and `up` puts it right."""
        # `adopt` and `stack` are bookkeeping: a change of either alone changes nothing on the endpoint.
        old, new = spec.canonical(olds), spec.canonical(news)  # once each: validation is most of diff's time
        changed = [key for key in spec.differing(old, new) if key not in fields.NOT_DIFFED]
        replaces = spec.replacing(old, new)
        live = self._live(olds)
        if live.gone:
            log_line(f"{_endpoint_id(olds)}: deleted outside Pulumi; `pulumi up` creates it again")
            # An update, which creates it again (`_update`): a replace would be refused for a protected endpoint
            # (hf-endpoints:protect, prod), so the stack could neither preview cleanly nor put it back.
            return DiffResult(changes=True, replaces=replaces, delete_before_replace=True)
        if live.raw is not None:
            current, drifted = drift.drifted(old, live.raw)
            if drifted:
                # The live values are unmasked (drift compares them as sent): what the line shows of them is masked.
                shown = mask(drift.describe(current, new, drifted), self.secret_values(old, new), REDACTED)
                log_line(f"{_endpoint_id(olds)}: changed outside Pulumi: {shown}; "
                         "`pulumi up` puts the stack file's values back")
                changed += [key for key in spec.differing(current, new)
                            if key not in fields.NOT_DIFFED and key not in changed]
                replaces += [key for key in spec.replacing(current, new) if key not in replaces]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def _live(self, olds: dict[str, Any]) -> drift.Live:
        """The live endpoint, or unknown when the settings cannot even be read (diff must not fail on them)."""
        try:
            settings = self.settings()
        except EndpointsApiError as error:
            log_line(f"warning: {error}; this diff cannot see changes made outside Pulumi")
            return drift.Live(known=False)
        return drift.live(settings, olds["namespace"], olds["name"])

    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = spec.canonical(props)
        endpoint_id = _endpoint_id(inputs)
        with self.reported(endpoint_id, "create", inputs):
            raw = self._create(self.client(inputs), inputs)
            return CreateResult(endpoint_id, payloads.outputs_from_api(inputs, raw))

    def _create(self, client: EndpointsClient, inputs: dict[str, Any]) -> dict[str, Any]:
        """POST it; a name taken by this stack's own endpoint (or, with `adopt`, anyone's) is taken over."""
        try:
            return self._post(client, inputs)
        except ConflictError as conflict:
            return self._existing(client, inputs, conflict)

    def _post(self, client: EndpointsClient, inputs: dict[str, Any]) -> dict[str, Any]:
        """POST the endpoint (marked with this stack's tag), then pause it when `paused`."""
        from huggingface_hub.errors import HfHubHTTPError  # here: the program and check/diff never load it

        endpoint_id = _endpoint_id(inputs)
        try:
            raw = client.create(inputs["namespace"], payloads.create_payload(inputs))
        except HfHubHTTPError as error:
            raise EndpointsApiError(f"{endpoint_id}: the API refused to create it: {describe_error(error)}") \
                from None
        log_line(f"{endpoint_id}: created ({raw['status']['state']})")
        _warn_dropped(inputs, raw)
        if inputs["paused"]:
            try:
                raw = client.pause(inputs["namespace"], inputs["name"])
            except Exception as error:
                # Never leave a running, billing endpoint behind that state does not know about.
                client.delete(inputs["namespace"], inputs["name"])
                raise EndpointsApiError(f"{endpoint_id}: created but could not be paused "
                                        f"({describe_error(error)}); deleted it again") from None
        return raw

    def _existing(self, client: EndpointsClient, inputs: dict[str, Any], conflict: ConflictError) -> dict[str, Any]:
        """The name is taken (409). An endpoint carrying this stack's marker is ours: a create that landed before a
        crash (killed `pulumi up`, lost answer), so it is taken back with no flag; anyone else's only with `adopt`.
        Either way it is then brought to the spec."""
        endpoint_id = _endpoint_id(inputs)
        as_sent = client.get(inputs["namespace"], inputs["name"], unmasked=True)  # compared with the spec only
        if as_sent is None:
            raise EndpointsApiError(f"{endpoint_id} answered 409 but cannot be read; try again")
        raw = client.masked(as_sent)
        owned = payloads.is_owned(as_sent, inputs)
        if not owned and not inputs["adopt"]:
            marker = fields.owner_tag(inputs.get("stack"))
            raise EndpointsApiError(
                f"{endpoint_id} already exists ({conflict})"
                + (f" and does not carry this stack's tag {marker}" if marker else "")
                + ". hf-endpoints never takes over an endpoint silently: to manage it from this stack, set "
                f"`adopt: true` under endpoints.{inputs['name']} (it will then be updated to this spec), or choose "
                "another name.")
        live = payloads.inputs_from_api(inputs, as_sent)
        fixed = [key for key in spec.replace_keys(live, inputs) if key not in ("name", "namespace")]
        failed = (raw.get("status") or {}).get("state") == FAILED
        if owned and (fixed or failed):
            log_line(f"{endpoint_id}: taking back the endpoint this stack created before an interrupted run; it "
                     f"{'failed' if failed else 'differs in ' + ', '.join(fixed)}, so it is deleted and created again")
            self._delete(client, inputs, self.settings())
            return self._post(client, inputs)
        if fixed:
            raise EndpointsApiError(
                f"{endpoint_id} exists with different {', '.join(fixed)} (live: "
                f"{', '.join(f'{k}={show(live.get(k))}' for k in fixed)}); these cannot change in "
                "place, so it cannot be adopted. Match them in the stack file, or delete it first.")
        log_line(f"{endpoint_id}: taking back the endpoint this stack created before an interrupted run"
                 if owned else f"{endpoint_id}: adopting the existing endpoint (adopt: true)")
        return self._converge(client, live, inputs, as_sent) or raw

    def _converge(self, client: EndpointsClient, olds: Mapping[str, Any], news: Mapping[str, Any],
                  live_raw: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """PUT what changed and pause/resume to match `paused`; pause first, resume last, so a paused
        endpoint never rolls out an update. With the live endpoint's JSON (adopt, take back), its tags are
        set to the inputs' (this stack's marker included). Returns the last API answer (None if nothing sent)."""
        namespace, name, raw = news["namespace"], news["name"], None
        if news["paused"] and not olds.get("paused"):
            raw = client.pause(namespace, name)
        payload = payloads.update_payload(olds, news)
        tags = payloads.tags_to_send(live_raw, news) if live_raw is not None else None
        if tags is not None:
            payload["tags"] = tags
        if payload:
            raw = client.update(namespace, name, payload)
        if olds.get("paused") and not news["paused"]:
            raw = client.resume(namespace, name)
        return raw

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, new = spec.canonical(olds), spec.canonical(news)
        endpoint_id = _endpoint_id(new)
        with self.reported(endpoint_id, "update", old, new):
            raw = self._update(self.client(old, new), old, new)
            log_line(f"{endpoint_id}: updated ({raw['status']['state']})")
            _warn_dropped(new, raw)
            return UpdateResult(payloads.outputs_from_api(new, raw))

    def _update(self, client: EndpointsClient, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Bring the live endpoint (not the last outputs: it may have changed outside Pulumi) to the spec; one deleted
        outside Pulumi is created again (diff previews it as this update)."""
        from huggingface_hub.errors import HfHubHTTPError

        endpoint_id = _endpoint_id(new)
        try:
            as_sent = client.get(new["namespace"], new["name"], unmasked=True)  # compared with the spec only
            if as_sent is None:
                log_line(f"{endpoint_id}: deleted outside Pulumi; creating it again")
                return self._create(client, new)
            raw = self._converge(client, payloads.inputs_from_api(old, as_sent), new) or client.masked(as_sent)
        except HfHubHTTPError as error:
            if error.response is not None and error.response.status_code == 404:  # deleted during the update
                raise EndpointsApiError(f"{endpoint_id} was deleted outside Pulumi while it was being updated; run "
                                        "`pulumi up` again to create it") from None
            hint = ""
            if error.response is not None and error.response.status_code == 400:
                current = client.get(new["namespace"], new["name"])
                if current is not None and current["status"]["state"] == FAILED:
                    hint = (" It is in state `failed`, which the API cannot update: recreate it with "
                            "`pulumi up --replace <urn>` (`pulumi stack --show-urns` lists them).")
            raise EndpointsApiError(
                f"{endpoint_id}: the API refused the update: {describe_error(error)}.{hint}") from None
        return raw

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        inputs = spec.canonical(props)
        with self.reported(_endpoint_id(inputs), "read", inputs):
            client = self.client(inputs)
            as_sent = client.get(inputs["namespace"], inputs["name"], unmasked=True)
            if as_sent is None:
                log_line(f"{_endpoint_id(inputs)}: gone (deleted outside Pulumi); removing it from state")
                return ReadResult("", {})
            # The inputs as the live endpoint has them, as sent (the values mirror the stack file's; masking would
            # record garbled ones); the status fields from the masked answer.
            live = payloads.inputs_from_api(inputs, as_sent)
            outs = payloads.outputs_from_api(live, client.masked(as_sent))
            # `updated_at` marks the last rollout we made, which EndpointsReady waits for: a refresh reads the
            # live status (which moved on since create), but only an update of ours starts a new rollout.
            outs["updated_at"] = props.get("updated_at", outs["updated_at"])
            return ReadResult(id_, outs, inputs=live)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        inputs = spec.canonical(props)
        endpoint_id = _endpoint_id(inputs)
        with self.reported(endpoint_id, "delete", inputs):
            self._delete(self.client(inputs), inputs, self.settings())
            log_line(f"{endpoint_id}: deleted")

    @staticmethod
    def _delete(client: EndpointsClient, inputs: Mapping[str, Any], settings: Settings) -> None:
        """DELETE, then wait until the name is gone: retries and waiting share one deadline (minutes)."""
        namespace, name, timeout = inputs["namespace"], inputs["name"], settings.delete_timeout_seconds
        endpoint_id = fields.endpoint_id(namespace, name)
        deadline = time.monotonic() + timeout
        try:
            client.delete(namespace, name, deadline=deadline)
            while client.get(namespace, name, deadline=deadline) is not None:
                if time.monotonic() >= deadline:
                    raise EndpointsApiError(
                        f"{endpoint_id} is still visible {timeout:g}s after DELETE; run `pulumi destroy` again, or "
                        "raise hf-endpoints:deleteTimeoutSeconds")
                time.sleep(settings.poll_seconds)
        except EndpointsApiError:
            raise
        except Exception as error:
            retried = (f" (retried for {timeout:g}s: raise hf-endpoints:deleteTimeoutSeconds to wait longer)"
                       if is_transient(error) else "")
            raise EndpointsApiError(f"{endpoint_id}: delete failed ({describe_error(error)}); it may still exist: "
                                    f"run `pulumi destroy` again{retried}") from None


class InferenceEndpoint(Resource, module="hf", name="InferenceEndpoint"):
    """One Inference Endpoint. `inputs` is the endpoint's stack YAML mapping plus `name` and `namespace`;
    outputs echo every input (secrets stay secret) plus the live status fields (`fields.OUTPUT_ONLY_KEYS`: state,
    message, url, replicas, times, dashboard URL, price).

    Its Output attributes: the inputs its mapping sets, and `view_keys`, what EndpointsReady reads (`updated_at`
    included). Not every input and output key: each attribute is an Output the SDK creates and resolves per resource,
    and all of them were about a fifth of the program's time (100 endpoints under Pulumi's mocks: 0.47 s, 0.37 s with
    fewer). The live status (state, url) is in the stack's outputs, from EndpointsReady, and in state."""

    updated_at: pulumi.Output[str]
    """The API's `status.updatedAt` as of our last create or update (a refresh keeps it): a new value means a
    new rollout, which EndpointsReady waits for."""

    def __init__(self, resource_name: str, inputs: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None):
        props: dict[str, Any] = dict(inputs)
        # Marks what this stack creates. Set here, in the program: inside the provider host pulumi.get_stack() is
        # always "stack" (the host configures placeholder settings), so the provider cannot know it.
        props.setdefault("stack", f"{pulumi.get_project()}/{pulumi.get_stack()}")
        for key in fields.SECRET_KEYS:
            if props.get(key):
                props[key] = pulumi.Output.secret(props[key])
        # `engine: {custom: ...}` with registry credentials goes as `custom_image` (what check makes of it anyway): the
        # engine keeps check's result secret only under the key that was sent secret, and check renames the key.
        engine, custom = props.get("engine"), engines.CUSTOM.name
        if ("custom_image" not in props and isinstance(engine, Mapping) and list(engine) == [custom]
                and isinstance(engine[custom], Mapping) and engine[custom].get("credentials")):
            props["custom_image"] = props.pop("engine")[custom]
        image = props.get("custom_image")
        if isinstance(image, Mapping) and image.get("credentials"):
            props["custom_image"] = pulumi.Output.secret(image)  # a secret only when it carries credentials
        self.view_keys = tuple(key for key in VIEW_KEYS
                               if key not in DECLARED_ONLY_VIEW_KEYS or props.get(key) is not None)
        for key in self.view_keys:
            props.setdefault(key, None)  # None: not an input, but wired as an output attribute
        defaults = pulumi.ResourceOptions(delete_before_replace=True,
                                          additional_secret_outputs=list(fields.SECRET_KEYS))
        super().__init__(InferenceEndpointProvider(), resource_name, props,
                         pulumi.ResourceOptions.merge(defaults, opts))
