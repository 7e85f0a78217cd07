"""A minimal deployment engine over :class:`ProviderHost`: registrations + previous state → provider calls.

It reproduces what matters of ``pulumi up`` for dynamic providers (pkg/resource/deploy/step_generator.go):
``Check(olds=previous inputs)``; ``Diff``/``Update`` get the previous OUTPUTS as ``olds``; ``Delete`` gets the
previous outputs; ``DIFF_UNKNOWN`` makes the engine compare inputs itself (``__provider`` included); state keeps
checked inputs and returned outputs. Independent resources run in parallel like the real engine does; deletes
(removed resources, and the old half of a create-before-delete replacement) run at the end, dependents first.
Preview only calls ``Check``/``Diff`` and never changes state. Not modelled: aliases, protect, ignore_changes,
retain_on_delete, pending-delete bookkeeping after a failure, parallel deletes.
"""

from __future__ import annotations

import copy
import json
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from tests.harness.provider_host import HarnessError, ProviderHost, urn

Op = Literal["create", "update", "replace", "delete", "same"]


class Registration(NamedTuple):
    """One resource as the program declares it; ``inputs`` include ``__provider`` (plain string). ``secrets`` are
    the input keys the program marked secret (the engine keeps them encrypted in state)."""

    type: str
    name: str
    inputs: dict[str, Any]
    dependencies: list[str] = []
    secrets: frozenset[str] = frozenset()


class Step(NamedTuple):
    op: Op
    urn: str
    delete_before_replace: bool = False


@dataclass
class State:
    """A state file: per URN ``{type, id, inputs, outputs, dependencies}`` in registration order, plus the
    stack config the default provider was configured with (destroy and removed-resource deletes use it)."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"resources": self.resources, "config": self.config, "secret_keys": self.secret_keys})

    @classmethod
    def from_json(cls, text: str) -> State:
        return cls(**json.loads(text))

    def copy(self) -> State:
        return copy.deepcopy(self)

    def by_name(self, name: str) -> dict[str, Any]:
        """The single resource whose URN ends in ``::name`` (tests mostly know names, not URNs)."""
        (entry,) = [r for u, r in self.resources.items() if u.rsplit("::", 1)[1] == name]
        return entry


class CheckFailed(HarnessError):
    def __init__(self, urn: str, failures: list[tuple[str, str]]) -> None:
        listed = "; ".join(f"{prop}: {reason}" for prop, reason in failures)
        super().__init__(f"Check failed for {urn}: {listed}")
        self.urn = urn
        self.failures = failures


def topological(resources: dict[str, dict[str, Any]]) -> list[str]:
    """URNs with dependencies first, otherwise in the given order (how the engine orders a state file)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(u: str) -> None:
        if u in seen or u not in resources:
            return
        seen.add(u)
        for dep in resources[u].get("dependencies", []):
            visit(dep)
        order.append(u)

    for u in resources:
        visit(u)
    return order


class Deployment:
    """One ``up``/``preview`` in progress. ``register`` is thread-safe; ``finish`` runs the deletes."""

    def __init__(self, engine: Engine, old: State, preview: bool) -> None:
        self._engine = engine
        self._host = engine.host
        self._old = old.copy()
        self.preview = preview
        self._lock = threading.Lock()
        self._order: list[str] = []
        self._new: dict[str, dict[str, Any]] = {}
        self._gone: set[str] = set()  # old URNs already deleted (delete-before-replace)
        self._condemned: set[str] = set()  # old URNs to delete at the end (create-before-delete)
        self.steps: list[Step] = []

    def reserve(self, urns: list[str]) -> None:
        """Fix the state order up front (apply knows it; the program path uses arrival order)."""
        with self._lock:
            self._order.extend(u for u in urns if u not in self._order)

    def register(self, reg: Registration) -> dict[str, Any]:
        """Check → Diff → Create/Update/Replace/Same for one resource; returns its new state entry."""
        r_urn = self._engine.urn(reg)
        with self._lock:
            if r_urn in self._new:
                raise ValueError(f"duplicate resource URN {r_urn}")
            if r_urn not in self._order:
                self._order.append(r_urn)
        old = self._old.resources.get(r_urn)
        if old is not None and old["type"] != reg.type:
            raise ValueError(f"{r_urn}: type changed from {old['type']}")
        inputs, failures = self._host.check(r_urn, old["inputs"] if old else {}, reg.inputs)
        if failures:
            raise CheckFailed(r_urn, failures)
        entry: dict[str, Any] = {
            "type": reg.type,
            "id": "",
            "inputs": inputs,
            "outputs": inputs,
            "dependencies": list(reg.dependencies),
        }
        step: Step
        if old is None:
            step = Step("create", r_urn)
            if not self.preview:
                entry["id"], entry["outputs"] = self._host.create(r_urn, inputs)
        else:
            entry["id"] = old["id"]
            diff = self._host.diff(old["id"], r_urn, old["outputs"], inputs)
            if diff.changes == "some" and diff.replaces:
                step = Step("replace", r_urn, diff.delete_before_replace)
                if not self.preview:
                    if diff.delete_before_replace:
                        self._host.delete(old["id"], r_urn, old["outputs"])
                        with self._lock:
                            self._gone.add(r_urn)
                    entry["id"], entry["outputs"] = self._host.create(r_urn, inputs)
                    if not diff.delete_before_replace:
                        with self._lock:
                            self._condemned.add(r_urn)
            elif diff.changes == "some" or (diff.changes == "unknown" and old["inputs"] != inputs):
                step = Step("update", r_urn)
                if not self.preview:
                    entry["outputs"] = self._host.update(old["id"], r_urn, old["outputs"], inputs)
            else:
                step = Step("same", r_urn)
                entry["outputs"] = old["outputs"]
        with self._lock:
            self._new[r_urn] = entry
            self.steps.append(step)
        return entry

    def finish(self) -> tuple[State, list[Step]]:
        """Delete replaced and unregistered resources, dependents first."""
        removed = [u for u in self._old.resources if u not in self._order]
        for r_urn in reversed(topological(self._old.resources)):
            if r_urn in removed or r_urn in self._condemned:
                old = self._old.resources[r_urn]
                if r_urn in removed:
                    self.steps.append(Step("delete", r_urn))
                if not self.preview:
                    try:
                        self._host.delete(old["id"], r_urn, old["outputs"])
                    except HarnessError as err:
                        raise self.fail(err) from None
                    self._gone.add(r_urn)
                    self._condemned.discard(r_urn)
        if self.preview:
            return self._old.copy(), list(self.steps)
        return self._state(), list(self.steps)

    def _state(self) -> State:
        """New entries in order, then old entries neither superseded nor deleted (a partial deployment)."""
        resources = {u: self._new[u] for u in self._order if u in self._new}
        for u, entry in self._old.resources.items():
            if u not in resources and u not in self._gone:
                resources[u] = entry
        resources = {u: resources[u] for u in topological(resources)}
        return State(resources, dict(self._old.config), list(self._old.secret_keys))

    def fail(self, err: HarnessError) -> HarnessError:
        """Attach the partial state/steps to an error, as the engine saves what completed."""
        err.state = self._old.copy() if self.preview else self._state()
        err.steps = list(self.steps)
        return err


class Engine:
    """Turns registrations + previous state into provider calls; see the module docstring."""

    def __init__(self, host: ProviderHost, stack: str, project: str, parallel: int = 16) -> None:
        self.host = host
        self.stack = stack
        self.project = project
        self.parallel = parallel

    def urn(self, reg: Registration) -> str:
        return urn(self.stack, self.project, reg.type, reg.name)

    def begin(self, state: State, preview: bool = False) -> Deployment:
        return Deployment(self, state, preview)

    def apply(
        self, registrations: list[Registration], state: State, preview: bool = False
    ) -> tuple[State, list[Step]]:
        """Like ``pulumi up`` for a fixed list: ready registrations (dependencies done) run in a pool."""
        run = self.begin(state, preview)
        urns = [self.urn(r) for r in registrations]
        if len(set(urns)) != len(urns):
            raise ValueError("duplicate URNs in registrations")
        run.reserve(urns)
        pending = dict(zip(urns, registrations, strict=True))
        done: set[str] = set()
        error: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            running: dict[Future[dict[str, Any]], str] = {}
            while pending or running:
                if error is None:
                    ready = [u for u, r in pending.items() if all(d in done or d not in urns for d in r.dependencies)]
                    for u in ready:
                        running[pool.submit(run.register, pending.pop(u))] = u
                if not running:
                    break  # a failure stopped scheduling, or a dependency cycle
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    u = running.pop(fut)
                    if fut.exception() is None:
                        done.add(u)
                    elif error is None:
                        error = fut.exception()
        if error is not None:
            raise run.fail(error) if isinstance(error, HarnessError) else error
        if pending:
            raise ValueError(f"dependency cycle or unknown order among {sorted(pending)}")
        return run.finish()

    def destroy(self, state: State) -> list[Step]:
        """Delete everything, dependents first; on failure ``err.state`` holds what is left."""
        left = state.copy()
        steps: list[Step] = []
        for r_urn in reversed(topological(state.resources)):
            entry = state.resources[r_urn]
            try:
                self.host.delete(entry["id"], r_urn, entry["outputs"])
            except HarnessError as err:
                err.state, err.steps = left, steps
                raise
            del left.resources[r_urn]
            steps.append(Step("delete", r_urn))
        return steps

    def refresh(self, state: State) -> tuple[State, list[Step]]:
        """Read each resource: an empty id drops it, otherwise outputs (and returned inputs) replace the old."""
        new = State({}, dict(state.config), list(state.secret_keys))
        steps: list[Step] = []
        for r_urn, entry in state.resources.items():
            rid, outs, inputs = self.host.read(entry["id"], r_urn, entry["outputs"], entry["inputs"])
            if not rid:
                steps.append(Step("delete", r_urn))
                continue
            fresh = {
                **entry,
                "id": rid,
                "outputs": outs,
                "inputs": inputs if inputs is not None else entry["inputs"],
            }
            steps.append(Step("same" if fresh == entry else "update", r_urn))
            new.resources[r_urn] = fresh
        return new, steps
