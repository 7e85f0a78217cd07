"""What changed outside Pulumi, seen by the next preview: one list call per namespace per provider-host process.

Why: the engine's diff only compares the stack file with the last outputs, so an endpoint deleted or edited in the
web UI went unnoticed until someone ran `pulumi refresh`. `InferenceEndpoint.diff` also compares the stack file with
the live endpoint: a deleted one previews as an update that creates it again (not a replace: Pulumi refuses to
replace a protected resource, and prod protects its endpoints), an edited one as an update that puts the stack file's
values back, and `pulumi preview --expect-no-changes` fails on either.

Cost: the first diff of a namespace in a provider-host process (the engine starts one per command) lists it,
`GET /v2/endpoint/{namespace}` (through the standard library: `client.list_endpoints`), and every other diff of that
process reads the same listing. An endpoint missing from the listing is confirmed by its own GET before it counts as
gone (the list's paging is undocumented, contract Q10). A new stack has nothing to diff: its preview calls nothing.

When the API cannot be asked (no token, no network, 401, 5xx; 3 tries of at most 10 s each), diff compares with the
last outputs only, as `pulumi preview` always did, and one warning line per namespace says so: a preview works
offline, it just cannot see drift. The failure text is scrubbed of the token.

The listings live here, per process: never on the provider object (it is pickled into state); they hold what the
API answered (it redacts secrets), never the token, which each listing call reads from the settings it is given.
They are kept unmasked, as sent (`client.list_endpoints`): masking garbles values that mirror the spec (an env value
shaped like a token, or holding a short secret), and a garbled value is a change that is not there. What diff shows of
them is masked on its way out (`InferenceEndpoint.diff`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers import payloads, spec
from providers.base import log_line
from providers.client import EndpointsClient, Settings, describe_error, list_endpoints
from providers.fields import NOT_DIFFED, endpoint_id
from providers.secret_text import mask
from providers.values import show

LIST_ATTEMPTS = 3
LIST_TIMEOUT_SECONDS = 10.0
"""A preview offline must not hang: 3 tries of at most 10 s each, then diff goes on without the live view."""


@dataclass(frozen=True)
class Listing:
    """One namespace's live endpoints by name; None when they could not be listed (a warning said why)."""

    endpoints: Mapping[str, Mapping[str, Any]] | None


@dataclass(frozen=True)
class Live:
    """The live endpoint as diff sees it: `known` False when the API could not be asked; `raw` None when gone."""

    known: bool
    raw: Mapping[str, Any] | None = None

    @property
    def gone(self) -> bool:
        return self.known and self.raw is None


_LOCK = threading.Lock()
_LISTINGS: dict[tuple[str, str], Listing] = {}
"""(API URL, namespace) -> listing, for the life of this process (one engine command)."""


def _list(settings: Settings, namespace: str) -> Listing:
    try:
        items = list_endpoints(settings, namespace, attempts=LIST_ATTEMPTS, timeout=LIST_TIMEOUT_SECONDS)
    except Exception as error:
        problem = mask(describe_error(error), [settings.token])
        log_line(f"warning: could not list the live endpoints of {namespace} ({problem}); this diff compares the "
                 "stack file with the last `pulumi up` only, so changes made outside Pulumi are not shown")
        return Listing(None)
    return Listing({str(raw.get("name")): raw for raw in items})


def listing(settings: Settings, namespace: str) -> Listing:
    """The namespace's listing, made by the first caller of this process; concurrent diffs wait for it."""
    key = (settings.api_url, namespace)
    with _LOCK:
        found = _LISTINGS.get(key)
        if found is None:
            found = _LISTINGS[key] = _list(settings, namespace)
        return found


def live(settings: Settings, namespace: str, name: str) -> Live:
    """The live endpoint, from the namespace's listing (an absent one confirmed gone by its own GET)."""
    endpoints = listing(settings, namespace).endpoints
    if endpoints is None:
        return Live(known=False)
    raw = endpoints.get(name)
    if raw is not None:
        return Live(known=True, raw=raw)
    try:
        client = EndpointsClient(settings, attempts=LIST_ATTEMPTS, max_delay=1.0)
        return Live(known=True, raw=client.get(namespace, name, unmasked=True))
    except Exception as error:
        log_line(f"warning: {endpoint_id(namespace, name)} is not in the list of {namespace} and could not be read "
                 f"({mask(describe_error(error), [settings.token])}); not counted as deleted")
        return Live(known=False)


def drifted(old: Mapping[str, Any], raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The live endpoint as canonical inputs (what the API redacts stays ours), and the keys that differ from `old`,
    the last outputs in canonical form (`spec.canonical`): what changed outside Pulumi. Pure.

    When the API shows, key for key, what `old` holds (the usual case: nothing drifted), `old` is the answer as it
    stands: a canonical form is its own, and validating it again was a third of diff's time."""
    live = payloads.live_inputs(old, raw)
    current = dict(old) if live == old else spec.canonical(live)
    return current, [key for key in spec.differing(old, current) if key not in NOT_DIFFED]


def describe(current: Mapping[str, Any], new: Mapping[str, Any], keys: list[str]) -> str:
    """`max_replica 3 (the stack file: 1)`, one per drifted key, secrets redacted; both sides canonical."""
    return ", ".join(f"{key} {show(current.get(key), key)} (the stack file: {show(new.get(key), key)})"
                     for key in keys)
