"""Waiting until endpoints really serve: one list request per namespace per tick, however many wait.

An endpoint is ready when `running` with its health route answering 200 and its smoke test (if any)
passing in the protocol its engine speaks (`smoke_test.protocol`: TGI's `generate`, OpenAI `chat` or
`completions`, TEI's `embed`, whose vector must have the model's dimension); `scaledToZero` counts when
`min_replica` is 0 (it is not probed: a probe would wake it and bill);
`paused` counts when `paused` is set. `failed`/`updateFailed` fail at once, naming the endpoint and the
server's message, followed by the last lines of its container log (secrets masked: `failure_logs`).
Progress: a line per endpoint when its state changes and every 30 s.

`classify` (pure) gives the verdict on one endpoint's live view; `wait_until_ready` does the polling.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from huggingface_hub import InferenceEndpointStatus
from huggingface_hub.errors import HfHubHTTPError

from providers import failure_logs, reply_pattern
from providers.base import log_line
from providers.client import EndpointError, EndpointsClient, describe_error
from providers.engines.base import CHAT, COMPLETIONS, EMBED, GENERATE
from providers.fields import endpoint_id

PROGRESS_EVERY_SECONDS = 30.0
READY, PROBE, WAIT, FAILED = "ready", "probe", "wait", "failed"


class EndpointNotReadyError(EndpointError):
    """An endpoint failed, or did not become ready before the deadline."""


@dataclass(frozen=True)
class Target:
    """What EndpointsReady needs to know of one InferenceEndpoint (a subset of its outputs)."""

    namespace: str
    name: str
    type: str = "authenticated"
    min_replica: int = 1
    paused: bool = False
    smoke_test: Mapping[str, Any] | None = None

    @property
    def endpoint_id(self) -> str:
        return endpoint_id(self.namespace, self.name)

    @classmethod
    def from_outputs(cls, outs: Mapping[str, Any]) -> Target:
        return cls(namespace=outs["namespace"], name=outs["name"], type=outs.get("type", "authenticated"),
                   min_replica=int(outs.get("min_replica", 1)), paused=bool(outs.get("paused", False)),
                   smoke_test=outs.get("smoke_test"))


@dataclass
class _Progress:
    state: str | None = None
    last_line_at: float = 0.0
    detail: str = ""
    done: bool = False
    final: dict[str, Any] = field(default_factory=dict)


def classify(raw: Mapping[str, Any], *, min_replica: int, paused: bool) -> tuple[str, str]:
    """One endpoint's verdict from its live view: ready, probe (running: check health and smoke test),
    wait, or failed, with a message to show."""
    status = raw.get("status") or {}
    state, message = status.get("state"), status.get("message") or ""
    if state == InferenceEndpointStatus.FAILED:
        return FAILED, f"failed to deploy: {message or 'no message from the server'}"
    if state == InferenceEndpointStatus.UPDATE_FAILED:
        return FAILED, f"failed to update: {message or 'no message from the server'}"
    if paused:
        if state == InferenceEndpointStatus.PAUSED:
            return READY, "paused as requested"
        return WAIT, f"{state}, pausing"
    if state == InferenceEndpointStatus.RUNNING and status.get("url"):
        return PROBE, "running"
    if state == InferenceEndpointStatus.SCALED_TO_ZERO and min_replica == 0:
        return READY, "scaled to zero (min_replica 0): wakes on the first request"
    if state == InferenceEndpointStatus.PAUSED:
        return WAIT, "paused, but the spec says running: `pulumi refresh` then `pulumi up` resumes it"
    return WAIT, f"{state}: {message}" if message else str(state)


def smoke_test_passes(expect: str, text: str) -> bool:
    """The reply matches `expect`, in time linear in its length (RE2: `reply_pattern`), so no pattern outlives the
    wait's deadline."""
    return reply_pattern.matches(expect, text)


def wait_until_ready(
    client: EndpointsClient,
    targets: Sequence[Target],
    *,
    timeout: float,
    poll_seconds: float,
    log: Callable[[str], None] = log_line,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    secrets: Sequence[str] = (),
    dimension_of: Callable[[Mapping[str, Any]], int | None] = lambda _raw: None,
) -> dict[str, dict[str, Any]]:
    """Block until every target is ready; return the last raw API view of each, keyed by endpoint_id. A
    failed endpoint fails with the tail of its container log, `secrets` masked."""
    start = clock()
    progress = {target.endpoint_id: _Progress() for target in targets}
    namespaces = sorted({target.namespace for target in targets})
    with ThreadPoolExecutor(max_workers=8) as probes:
        while True:
            pending = [t for t in targets if not progress[t.endpoint_id].done]
            if not pending:
                return {key: p.final for key, p in progress.items()}
            live: dict[str, dict[str, Any]] = {}
            for namespace in namespaces:
                if any(t.namespace == namespace for t in pending):
                    for raw in client.list(namespace):
                        live[endpoint_id(namespace, raw.get("name"))] = raw
            elapsed = clock() - start
            to_probe = []
            for target in pending:
                raw = live.get(target.endpoint_id)
                if raw is None:
                    raise EndpointNotReadyError(
                        f"{target.endpoint_id} does not exist any more (deleted outside Pulumi?): run "
                        "`pulumi refresh` then `pulumi up` to recreate it")
                verdict, message = classify(raw, min_replica=target.min_replica, paused=target.paused)
                _report(progress[target.endpoint_id], target, raw, message, elapsed, clock(), log)
                if verdict == FAILED:
                    raise EndpointNotReadyError(failure_logs.mask(
                        f"{target.endpoint_id} {message}{_container_log(client, target, secrets)}", secrets))
                if verdict == READY:
                    _finish(progress[target.endpoint_id], raw, target, message, elapsed, log)
                elif verdict == PROBE:
                    to_probe.append((target, raw))
            for (target, raw), (ok, detail) in zip(
                to_probe, probes.map(lambda item: _probe(client, *item, dimension_of, secrets), to_probe), strict=True
            ):
                if ok:
                    _finish(progress[target.endpoint_id], raw, target, detail, clock() - start, log)
                elif detail != progress[target.endpoint_id].detail:
                    progress[target.endpoint_id].detail = detail
                    log(f"{target.endpoint_id}: running, {detail}")
            if all(p.done for p in progress.values()):
                continue
            if clock() - start >= timeout:
                waiting = ", ".join(f"{t.endpoint_id} ({progress[t.endpoint_id].state})" for t in pending
                                    if not progress[t.endpoint_id].done)
                raise EndpointNotReadyError(
                    f"timed out after {timeout:g}s waiting for {waiting}. The endpoints stay deployed; "
                    "check their logs in the dashboard, then run `pulumi up` again to keep waiting, or "
                    "raise hf-endpoints:readyTimeoutSeconds")
            sleep(poll_seconds)


def _container_log(client: EndpointsClient, target: Target, secrets: Sequence[str]) -> str:
    """The failed endpoint's last log lines, or one line saying why they could not be read."""
    try:
        log = client.logs(target.namespace, target.name, tail=failure_logs.LOG_TAIL)
    except Exception as error:  # the failure is reported either way; the log only explains it
        return failure_logs.unreadable(describe_error(error), secrets)
    return failure_logs.log_section(log, secrets)


def _report(progress: _Progress, target: Target, raw: Mapping[str, Any], message: str, elapsed: float,
            now: float, log: Callable[[str], None]) -> None:
    status = raw.get("status") or {}
    state = status.get("state")
    if state != progress.state or now - progress.last_line_at >= PROGRESS_EVERY_SECONDS:
        log(f"{target.endpoint_id}: {message} (replicas {status.get('readyReplica', 0)}/"
            f"{status.get('targetReplica', 0)}, {elapsed:.0f}s elapsed)")
        progress.state, progress.last_line_at = state, now


def _finish(progress: _Progress, raw: dict[str, Any], target: Target, message: str, elapsed: float,
            log: Callable[[str], None]) -> None:
    progress.done, progress.final = True, raw
    log(f"{target.endpoint_id}: ready ({message}) after {elapsed:.1f}s")


SMOKE_ROUTES = {GENERATE: "POST /", CHAT: "POST /v1/chat/completions", COMPLETIONS: "POST /v1/completions",
                EMBED: "POST /embed"}
"""The route each protocol of `smoke_test.protocol` (`providers.engines.base.PROTOCOLS`) calls, for messages."""
TEXT_CALLS = {GENERATE: "generate", CHAT: "chat", COMPLETIONS: "completions"}
"""The client method of each text protocol (embed answers a vector, not text)."""


def _probe(client: EndpointsClient, target: Target, raw: Mapping[str, Any],
           dimension_of: Callable[[Mapping[str, Any]], int | None] = lambda _raw: None,
           secrets: Sequence[str] = ()) -> tuple[bool, str]:
    """Health route, then the smoke test in the engine's protocol. A failed probe is not fatal: the next tick tries
    again, except for a smoke test whose answer does not match, or that the endpoint refuses with a 4xx (other than
    408/429), which fails at once with the server's message (a broken model or request is not going to improve)."""
    url = raw["status"]["url"]
    authenticated = target.type != "public"
    route = raw.get("healthRoute") or "/health"  # top-level and always present in the API's answer
    code = client.health(url, route, authenticated=authenticated)
    if code != 200:
        return False, f"health route {route} answered {code or 'no connection'}"
    if not target.smoke_test:
        return True, "health route answered 200"
    smoke = target.smoke_test
    protocol = str(smoke.get("protocol") or GENERATE)
    where = f"endpoints.{target.name}.smoke_test"
    try:
        if protocol == EMBED:
            reply: Any = client.embed(url, smoke["prompt"], authenticated=authenticated)
        else:
            call = getattr(client, TEXT_CALLS[protocol])
            reply = call(url, smoke["prompt"], int(smoke.get("max_new_tokens", 20)), authenticated=authenticated)
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else 0
        if 400 <= status < 500 and status not in (408, 429):
            raise EndpointNotReadyError(failure_logs.mask(
                f"{target.endpoint_id} smoke test failed: {SMOKE_ROUTES[protocol]} answered {describe_error(error)} "
                f"({where})", secrets)) from None
        return False, f"smoke test call failed ({describe_error(error)})"
    except Exception as error:  # the model may still be warming up: try again next tick
        return False, f"smoke test call failed ({describe_error(error)})"
    if protocol == EMBED:
        return _embedding_ok(target, raw, reply, smoke.get("dimension") or dimension_of(raw), where)
    if not smoke_test_passes(smoke.get("expect", r"\S"), reply):
        raise EndpointNotReadyError(failure_logs.mask(
            f"{target.endpoint_id} smoke test failed: the reply {reply[:200]!r} does not match "
            f"expect {smoke.get('expect')!r} ({where})", secrets))
    return True, "health 200 and smoke test matched"


def _embedding_ok(target: Target, raw: Mapping[str, Any], reply: Any, dimension: int | None,
                  where: str) -> tuple[bool, str]:
    """One vector of finite numbers, of the model's dimension when it is known."""
    vector = reply[0] if isinstance(reply, list) and len(reply) == 1 and isinstance(reply[0], list) else None
    if not vector or not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                             for x in vector):
        raise EndpointNotReadyError(f"{target.endpoint_id} smoke test failed: /embed did not answer one vector of "
                                    f"numbers ({where})")
    if dimension is not None and len(vector) != dimension:
        raise EndpointNotReadyError(
            f"{target.endpoint_id} smoke test failed: /embed answered a vector of {len(vector)} numbers, but "
            f"{(raw.get('model') or {}).get('repository')} embeds in {dimension} ({where}.dimension)")
    checked = f"of dimension {dimension}" if dimension is not None else "(dimension not known: not checked)"
    return True, f"health 200 and /embed answered a vector {checked}"
