"""The endpoint record: its states (contract §6), its timeline and its wire shape (contract §5).

Request bodies are parsed and validated in `schema`; the store keeps what it returns in `Endpoint.config`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from emulator.schema import REDACTED_CREDENTIALS


class State(StrEnum):
    """`status.state`. A str enum (StrEnum: str() and f-strings give the wire value), so a member is the wire
    value in JSON, in the state file and in error messages."""

    PENDING = "pending"
    INITIALIZING = "initializing"
    UPDATING = "updating"
    UPDATE_FAILED = "updateFailed"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    SCALED_TO_ZERO = "scaledToZero"

    @property
    def message(self) -> str:
        """The `status.message` the service shows in this state."""
        return _MESSAGES[self]


_MESSAGES = {
    State.PENDING: "Endpoint waiting to be scheduled",
    State.INITIALIZING: "Endpoint is initializing",
    State.UPDATING: "Endpoint waiting for the update",
    State.UPDATE_FAILED: "Endpoint failed to update",
    State.RUNNING: "Endpoint is ready",
    State.PAUSED: "Endpoint is paused",
    State.FAILED: "Endpoint failed to deploy",
    State.SCALED_TO_ZERO: "Endpoint is scaled to zero",
}
# A replica serves: readyReplica is the target, and the url answers inference.
SERVING = frozenset({State.RUNNING, State.UPDATING, State.UPDATE_FAILED})

# ---------------------------------------------------------------------------------------------- the record

def rfc3339(ts: float) -> str:
    """RFC 3339 UTC with millisecond precision and a `Z` (huggingface_hub rejects `+00:00`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class Step:
    """One point of an endpoint's timeline: from `at` (epoch seconds) on, the endpoint is in `state`."""

    at: float
    state: State
    message: str
    woken: bool = False  # initializing after scale-to-zero keeps the url


@dataclass
class Endpoint:
    """One stored endpoint: its normalized config (camelCase, as sent) and its timeline of states."""

    namespace: str
    config: dict
    created_at: float
    created_by: dict
    updated_by: dict
    timeline: list[Step] = field(default_factory=list)
    last_request: float | None = None
    deleted_at: float | None = None

    @property
    def name(self) -> str:
        return self.config["name"]

    @property
    def endpoint_id(self) -> str:
        """`namespace/name`, as messages name the endpoint."""
        return f"{self.namespace}/{self.name}"

    @property
    def scaling(self) -> dict:
        return self.config["compute"]["scaling"]

    def health_route(self) -> str:
        ((_, conf),) = self.config["model"]["image"].items()
        return conf.get("healthRoute") or "/health"

    def step_at(self, now: float, seconds_per_minute: float) -> Step:
        """The current step; a running endpoint idle for scaleToZeroTimeout minutes is scaledToZero."""
        step = self.timeline[0]
        for s in self.timeline:
            if s.at <= now:
                step = s
        stz = self.scaling.get("scaleToZeroTimeout")
        if step.state == State.RUNNING and self.scaling["minReplica"] == 0 and stz is not None:
            idle_since = max(step.at, self.last_request or 0.0)
            at = idle_since + stz * seconds_per_minute
            if now >= at:
                return Step(at, State.SCALED_TO_ZERO, State.SCALED_TO_ZERO.message)
        return step

    def to_dict(self, now: float, seconds_per_minute: float, base_url: str) -> dict:
        """The wire shape of contract §5 (secrets and registry credentials redacted)."""
        cfg = copy.deepcopy(self.config)
        step = self.step_at(now, seconds_per_minute)
        compute, model = cfg["compute"], cfg["model"]
        vendor, region = cfg["provider"]["vendor"], cfg["provider"]["region"]
        compute["id"] = f"{vendor}-{region}-{compute['instanceType']}-{compute['instanceSize']}"
        ((_, conf),) = model["image"].items()
        if "credentials" in conf:
            conf["credentials"] = dict(REDACTED_CREDENTIALS)
        model["secrets"] = dict.fromkeys(model.get("secrets") or {})
        target = max(self.scaling["minReplica"], 1)
        ready = target if step.state in SERVING else 0
        if step.state in (State.PAUSED, State.SCALED_TO_ZERO):
            target = 0
        has_url = step.state in SERVING or step.state == State.SCALED_TO_ZERO or step.woken
        out = {
            "name": cfg.pop("name"),
            "type": cfg.pop("type"),
            "accountId": cfg.pop("accountId", None),
            "provider": cfg.pop("provider"),
            "compute": {"id": compute.pop("id"), **compute},
            "model": model,
            "healthRoute": self.health_route(),
            "tags": cfg.pop("tags"),
            "cacheHttpResponses": cfg.pop("cacheHttpResponses"),
        }
        cfg.pop("compute")
        cfg.pop("model")
        out.update({k: v for k, v in cfg.items() if v is not None})
        out["status"] = {
            "createdAt": rfc3339(self.created_at),
            "createdBy": self.created_by,
            "updatedAt": rfc3339(step.at),
            "updatedBy": self.updated_by,
            "state": step.state,
            "message": step.message,
            "readyReplica": ready,
            "targetReplica": target,
            "url": f"{base_url}/e/{self.namespace}/{self.name}" if has_url else None,
            "private": {"serviceName": f"com.amazonaws.vpce.{region}.emulated-{self.name}"}
            if self.config.get("privateService") else None,
        }
        return out

    # Persistence ----------------------------------------------------------------------------------------
    def dump(self) -> dict:
        return {
            "namespace": self.namespace, "config": self.config, "createdAt": self.created_at,
            "createdBy": self.created_by, "updatedBy": self.updated_by,
            "timeline": [[s.at, s.state, s.message, s.woken] for s in self.timeline],
            "lastRequest": self.last_request, "deletedAt": self.deleted_at,
        }

    @classmethod
    def load(cls, d: dict) -> Endpoint:
        return cls(
            d["namespace"], d["config"], d["createdAt"], d["createdBy"], d["updatedBy"],
            [Step(s[0], State(s[1]), *s[2:]) for s in d["timeline"]], d.get("lastRequest"), d.get("deletedAt"),
        )
