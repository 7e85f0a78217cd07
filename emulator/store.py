"""The state store: endpoints keyed by (namespace, name), one method per API operation (moto's backend).

States progress with time, computed from each endpoint's timeline of timestamped steps, so no background
thread is needed: an action writes the steps it schedules (e.g. pending now, initializing at +S/2, running at
+S) and every read picks the step current at that moment. Durations come from `Config` at action time.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from emulator import catalog, logs, wire
from emulator.errors import ApiError, BadRequest, Conflict, InvalidState, NotFound
from emulator.models import Endpoint, State, Step
from emulator.schema import merge, parse_create, parse_update, validate


class StateFileError(Exception):
    """The `--state` file cannot be used; the message says why, in one line (`__main__` prints it and exits 2)."""


def _temp_prefix(state_file: str) -> str:
    """Temp files of one state file: `.state.json.<random>.tmp` beside it, so a start can tell its own leftovers
    (from a write killed before the rename) from anyone else's files."""
    return f".{os.path.basename(state_file)}."


def open_state_file(state_file: str) -> list[Endpoint]:
    """Check the `--state` path at start-up and load its endpoints. Removes this file's leftover temp files,
    proves the folder writable, and clears non-finite numbers an older version may have stored (warning on
    stderr). Raises StateFileError with a one-line reason."""
    folder = os.path.dirname(os.path.abspath(state_file))
    if not os.path.exists(folder):
        raise StateFileError(f"directory {folder} does not exist")
    if not os.path.isdir(folder):
        raise StateFileError(f"{folder} is not a directory")
    if os.path.isdir(state_file):
        raise StateFileError(f"{state_file} is a directory")
    prefix = _temp_prefix(state_file)
    try:
        for entry in os.listdir(folder):
            if entry.startswith(prefix) and entry.endswith(".tmp"):
                os.unlink(os.path.join(folder, entry))
        fd, probe = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StateFileError(f"directory {folder} is not writable ({e.strerror})") from None
    if not os.path.exists(state_file):
        return []
    try:
        with open(state_file) as f:
            data = json.load(f)
    except OSError as e:
        raise StateFileError(f"cannot read it ({e.strerror})") from None
    except (ValueError, RecursionError) as e:
        raise StateFileError(f"not a JSON state file ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("endpoints"), list):
        raise StateFileError('not a state file of this emulator (expected {"version": 1, "endpoints": [...]})')
    endpoints = []
    for i, d in enumerate(data["endpoints"]):
        try:
            ep = Endpoint.load(d)
        except KeyError as e:
            raise StateFileError(f"endpoint #{i} of the state file is not an endpoint record (missing {e})") from None
        except (TypeError, ValueError, IndexError, AttributeError) as e:
            raise StateFileError(f"endpoint #{i} of the state file is not an endpoint record ({e})") from None
        cleared: list[str] = []
        ep.config = wire.finite_copy(ep.config, "", cleared)
        for path in cleared:
            print(f"emulator: --state: endpoint {ep.endpoint_id} held a non-finite number at {path}; cleared "
                  "to null", file=sys.stderr, flush=True)
        endpoints.append(ep)
    return endpoints


@dataclass
class Config:
    """Timings and behaviour, settable on the command line and at run time (`/_emulator/config`)."""

    startup_seconds: float = 4.0
    update_seconds: float = 2.0
    delete_seconds: float = 1.0
    time_scale: float = 60.0  # seconds per idle minute of scaleToZeroTimeout
    reply: str | None = None  # the inference reply text (None: the documented default)
    quota: int | None = None  # GPU (and neuron) accelerators per namespace/vendor/region/instanceType
    body_timeout_seconds: float = 10.0  # a request body not in full by then is a 408 (a short one hung forever)

    def quotas(self) -> dict[str, int]:
        q = dict(catalog.DEFAULT_QUOTA)
        if self.quota is not None:
            q["gpu"] = q["neuron"] = self.quota
        return q


@dataclass
class Faults:
    """Fault injection for the management API (`/_emulator/faults`)."""

    error_rate: float = 0.0
    error_statuses: list[int] = field(default_factory=lambda: [500, 502, 503])
    error_after_rate: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_seconds: float = 1.0
    latency_seconds: float = 0.0
    drop_rate: float = 0.0
    fail_start_pattern: str | None = None
    fail_update_pattern: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Store:
    """All endpoints of one emulator process. Thread-safe: every public method holds the lock."""

    # Class-level valid-state tables per action (moto osis style), derived from the State enum.
    UPDATE_VALID = frozenset(State) - {State.FAILED}
    PAUSE_VALID = frozenset(State) - {State.FAILED}
    RESUME_VALID = frozenset({State.PAUSED, State.SCALED_TO_ZERO})
    SCALE_TO_ZERO_VALID = frozenset({State.RUNNING, State.SCALED_TO_ZERO})

    def __init__(self, config: Config, faults: Faults, state_file: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.config, self.faults = config, faults
        self.state_file = state_file
        self.clock = clock
        self.base_url = "http://127.0.0.1"
        self._lock = threading.RLock()
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        # Bumped by every change an API call makes (not by purging deleted endpoints): the fault injection
        # compares it around a call to tell whether the call changed something.
        self.version = 0
        for ep in open_state_file(state_file) if state_file else []:
            self._endpoints[(ep.namespace, ep.name)] = ep

    # ------------------------------------------------------------------------------------------- helpers
    def _purge(self, now: float) -> None:
        gone = [k for k, ep in self._endpoints.items()
                if ep.deleted_at is not None and now >= ep.deleted_at + self.config.delete_seconds]
        for k in gone:
            del self._endpoints[k]
        if gone:
            self._write()

    def _save(self) -> None:
        """Record a change: bump `version` and write the state file."""
        self.version += 1
        self._write()

    def _write(self) -> None:
        if not self.state_file:
            return
        data = {"version": 1, "endpoints": [ep.dump() for ep in self._endpoints.values()]}
        folder = os.path.dirname(os.path.abspath(self.state_file))
        try:
            fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(self.state_file), suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(data, f, allow_nan=False)
                os.replace(tmp, self.state_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            raise ApiError(f"emulator could not write its state file {self.state_file}: {e.strerror}") from None

    def _get(self, namespace: str, name: str, now: float) -> Endpoint:
        self._purge(now)
        ep = self._endpoints.get((namespace, name))
        if ep is None:
            raise NotFound(f"Endpoint '{name}' not found in namespace '{namespace}'")
        return ep

    @staticmethod
    def _refuse_if_deleting(ep: Endpoint, action: str) -> None:
        """Decision 15: an endpoint in its delete lag refuses every change but another delete."""
        if ep.deleted_at is not None:
            raise BadRequest(f"Cannot {action} endpoint {ep.endpoint_id}: it is being deleted")

    def _state(self, ep: Endpoint, now: float) -> State:
        return ep.step_at(now, self.config.time_scale).state

    def _view(self, ep: Endpoint, now: float) -> dict:
        return ep.to_dict(now, self.config.time_scale, self.base_url)

    @staticmethod
    def _matches(pattern: str | None, repository: str) -> bool:
        return bool(pattern) and re.search(pattern, repository) is not None

    def _start_steps(self, ep: Endpoint, now: float, from_pending: bool = True) -> list[Step]:
        s = self.config.startup_seconds
        repo = ep.config["model"]["repository"]
        steps = [Step(now, State.PENDING, State.PENDING.message)] if from_pending else []
        steps.append(Step(now + s / 2 if from_pending else now, State.INITIALIZING, State.INITIALIZING.message,
                          woken=not from_pending))
        if self._matches(self.faults.fail_start_pattern, repo):
            msg = (f"{State.FAILED.message}: repository '{repo}' matches the emulator's fail-start pattern "
                   f"'{self.faults.fail_start_pattern}'")
            steps.append(Step(now + s, State.FAILED, msg))
        else:
            steps.append(Step(now + s, State.RUNNING, State.RUNNING.message))
        return steps

    def _usage(self, namespace: str, now: float, exclude: str | None = None) -> dict[tuple[str, str, str], int]:
        used: dict[tuple[str, str, str], int] = {}
        for (ns, name), ep in self._endpoints.items():
            if ns != namespace or name == exclude or ep.deleted_at is not None:
                continue
            if self._state(ep, now) == State.PAUSED:
                continue
            c = ep.config
            key = (c["provider"]["vendor"], c["provider"]["region"], c["compute"]["instanceType"])
            hw = catalog.find(*key[:2], c["compute"]["accelerator"], key[2], c["compute"]["instanceSize"])
            n = hw.num_accelerators if hw else 0
            used[key] = used.get(key, 0) + n * c["compute"]["scaling"]["maxReplica"]
        return used

    def _check_quota(self, namespace: str, cfg: dict, hw: catalog.Hardware, now: float,
                     exclude: str | None = None) -> None:
        key = (hw.vendor, hw.region, hw.instance_type)
        used = self._usage(namespace, now, exclude).get(key, 0)
        wanted = hw.num_accelerators * cfg["compute"]["scaling"]["maxReplica"]
        limit = catalog.quota_for(hw, self.config.quotas())
        if used + wanted > limit:
            raise BadRequest(
                f"Accelerator quota exceeded for {hw.instance_type} in {hw.vendor}/{hw.region}: namespace "
                f"'{namespace}' uses {used} of {limit} and this endpoint needs {wanted} "
                f"({hw.num_accelerators} x maxReplica {cfg['compute']['scaling']['maxReplica']})"
            )

    # ---------------------------------------------------------------------------------------- operations
    def list(self, namespace: str) -> list[dict]:
        with self._lock:
            now = self.clock()
            self._purge(now)
            return [self._view(ep, now) for (ns, _), ep in sorted(self._endpoints.items()) if ns == namespace]

    def get(self, namespace: str, name: str) -> dict:
        with self._lock:
            now = self.clock()
            return self._view(self._get(namespace, name, now), now)

    def create(self, namespace: str, body: object, user: dict) -> dict:
        cfg = parse_create(body)
        with self._lock:
            now = self.clock()
            hw = validate(cfg)
            self._purge(now)
            if (namespace, cfg["name"]) in self._endpoints:
                raise Conflict("An endpoint with the same name already exists")
            self._check_quota(namespace, cfg, hw, now)
            ep = Endpoint(namespace, cfg, now, dict(user), dict(user))
            ep.timeline = self._start_steps(ep, now)
            self._endpoints[(namespace, ep.name)] = ep
            self._save()
            return self._view(ep, now)

    def update(self, namespace: str, name: str, body: object, user: dict) -> dict:
        patch = parse_update(body)
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            self._refuse_if_deleting(ep, "update")
            state = self._state(ep, now)
            if state not in self.UPDATE_VALID:
                raise InvalidState("update", ep.endpoint_id, state, self.UPDATE_VALID,
                                   "A failed endpoint must be deleted and created again")
            old = ep.config
            for key, current in (("name", old["name"]), ("type", old["type"])):
                if key in patch and patch[key] != current:
                    raise BadRequest(f"{key} cannot be changed (it is '{current}'); create a new endpoint")
            if "provider" in patch:
                for key in ("vendor", "region"):
                    if key in patch["provider"] and patch["provider"][key] != old["provider"][key]:
                        raise BadRequest(f"provider.{key} cannot be changed (it is '{old['provider'][key]}'); "
                                         "create a new endpoint")
            if "privateService" in patch and patch["privateService"] != old.get("privateService"):
                raise BadRequest("privateService cannot be changed; create a new endpoint")
            cfg = merge(old, patch)
            if cfg["compute"]["accelerator"] != old["compute"]["accelerator"]:
                raise BadRequest(f"compute.accelerator cannot be changed from '{old['compute']['accelerator']}' "
                                 f"to '{cfg['compute']['accelerator']}'; create a new endpoint")
            (old_variant,), (new_variant,) = old["model"]["image"], cfg["model"]["image"]
            if old_variant != new_variant:
                raise BadRequest(f"The inference engine cannot be changed (model.image.{old_variant} -> "
                                 f"model.image.{new_variant}); create a new endpoint")
            hw = validate(cfg)
            if state != State.PAUSED:
                self._check_quota(namespace, cfg, hw, now, exclude=name)
            ep.config = cfg
            ep.updated_by = dict(user)
            self._after_update(ep, state, now)
            self._save()
            return self._view(ep, now)

    def _after_update(self, ep: Endpoint, state: State, now: float) -> None:
        if state == State.PAUSED:
            ep.timeline = [Step(now, State.PAUSED, State.PAUSED.message)]
        elif state in (State.PENDING, State.INITIALIZING):
            ep.timeline = self._start_steps(ep, now)
        elif state == State.SCALED_TO_ZERO and ep.scaling["minReplica"] == 0:
            ep.timeline = [Step(now, State.SCALED_TO_ZERO, State.SCALED_TO_ZERO.message)]
        else:
            repo = ep.config["model"]["repository"]
            end = now + self.config.update_seconds
            if self._matches(self.faults.fail_update_pattern, repo):
                msg = (f"{State.UPDATE_FAILED.message}: repository '{repo}' matches the emulator's fail-update "
                       f"pattern '{self.faults.fail_update_pattern}'")
                last = Step(end, State.UPDATE_FAILED, msg)
            else:
                last = Step(end, State.RUNNING, State.RUNNING.message)
            ep.timeline = [Step(now, State.UPDATING, State.UPDATING.message), last]
            ep.last_request = None

    def delete(self, namespace: str, name: str) -> None:
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            if ep.deleted_at is None:
                ep.deleted_at = now
                self._save()

    def pause(self, namespace: str, name: str) -> dict:
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            self._refuse_if_deleting(ep, "pause")
            state = self._state(ep, now)
            if state not in self.PAUSE_VALID:
                raise InvalidState("pause", ep.endpoint_id, state, self.PAUSE_VALID)
            if state != State.PAUSED:
                ep.timeline = [Step(now, State.PAUSED, State.PAUSED.message)]
                self._save()
            return self._view(ep, now)

    def resume(self, namespace: str, name: str) -> dict:
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            self._refuse_if_deleting(ep, "resume")
            state = self._state(ep, now)
            if state == State.RUNNING:
                raise BadRequest(f"Endpoint {ep.endpoint_id} is already running")
            if state not in self.RESUME_VALID:
                raise InvalidState("resume", ep.endpoint_id, state, self.RESUME_VALID)
            if state == State.PAUSED:
                hw = validate(ep.config)
                self._check_quota(namespace, ep.config, hw, now, exclude=name)
                ep.timeline = self._start_steps(ep, now)
            else:
                ep.timeline = self._start_steps(ep, now, from_pending=False)
            self._save()
            return self._view(ep, now)

    def scale_to_zero(self, namespace: str, name: str) -> dict:
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            self._refuse_if_deleting(ep, "scale to zero")
            state = self._state(ep, now)
            if state not in self.SCALE_TO_ZERO_VALID:
                raise InvalidState("scale to zero", ep.endpoint_id, state, self.SCALE_TO_ZERO_VALID)
            if ep.scaling["minReplica"] >= 1:
                raise BadRequest(f"Cannot scale endpoint {ep.endpoint_id} to zero: compute.scaling.minReplica is "
                                 f"{ep.scaling['minReplica']}; set it to 0 first")
            if state != State.SCALED_TO_ZERO:
                ep.timeline = [Step(now, State.SCALED_TO_ZERO, State.SCALED_TO_ZERO.message)]
                self._save()
            return self._view(ep, now)

    def logs(self, namespace: str, name: str) -> list[str]:
        """The current replica's container log (also while the endpoint is being deleted)."""
        with self._lock:
            now = self.clock()
            return logs.container_log(self._get(namespace, name, now), now, self.config.time_scale)

    def usage(self, namespace: str) -> dict[tuple[str, str, str], int]:
        with self._lock:
            now = self.clock()
            self._purge(now)
            return self._usage(namespace, now)

    # ----------------------------------------------------------------------------- inference-side hooks
    def lookup(self, namespace: str, name: str) -> tuple[Endpoint, State]:
        """A copy of the endpoint and its state, for the inference surface (404 once deleted)."""
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            if ep.deleted_at is not None:
                raise NotFound(f"Endpoint '{name}' not found in namespace '{namespace}'")
            return copy.deepcopy(ep), self._state(ep, now)

    def wake(self, namespace: str, name: str) -> State:
        """An inference request reached a scaled-to-zero endpoint: start a replica. Returns the new state."""
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            state = self._state(ep, now)
            if state == State.SCALED_TO_ZERO:
                ep.timeline = self._start_steps(ep, now, from_pending=False)
                ep.last_request = None
                self._save()
                state = self._state(ep, now)
            return state

    def touch(self, namespace: str, name: str) -> None:
        """Record inference traffic (resets the scale-to-zero idle timer). Not persisted."""
        with self._lock:
            ep = self._endpoints.get((namespace, name))
            if ep is not None:
                ep.last_request = self.clock()

    # ------------------------------------------------------------------------ out-of-band (web UI) edits
    def edit(self, namespace: str, name: str, body: object) -> dict:
        return self.update(namespace, name, body, {"id": "emulator-ui", "name": "web-ui"})

    def remove(self, namespace: str, name: str) -> None:
        with self._lock:
            self._get(namespace, name, self.clock())
            del self._endpoints[(namespace, name)]
            self._save()

    def force_state(self, namespace: str, name: str, state: str, message: str | None = None) -> dict:
        """Put the endpoint in `state` now (an initializing endpoint keeps its url, as after a wake)."""
        try:
            forced = State(state)
        except ValueError:
            raise BadRequest(f"Unknown state '{state}' (known: {', '.join(sorted(State))})") from None
        with self._lock:
            now = self.clock()
            ep = self._get(namespace, name, now)
            ep.timeline = [Step(now, forced, message or forced.message, woken=forced == State.INITIALIZING)]
            ep.last_request = None
            self._save()
            return self._view(ep, now)

    def reset(self) -> None:
        with self._lock:
            self._endpoints.clear()
            self._save()
