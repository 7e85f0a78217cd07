"""A model of the Pulumi engine over :class:`ProviderHost`: registrations + previous state -> provider calls.

It follows the engine of the pinned CLI (``github.com/pulumi/pulumi/pkg/v3@v3.274.0``, paths below are in
that module) wherever a test's verdict can depend on it, and says so next to each rule:

* Check/Diff (``resource/deploy/step_generator.go`` ``continueStepsFromImport``, ``diffResource``): ``Check``
  gets the previous INPUTS as olds (none for a new or re-created resource); ``Diff`` gets the previous
  OUTPUTS as olds; ``DIFF_UNKNOWN`` makes the engine compare old and new inputs itself (``__provider``
  included). Check and Diff run one registration at a time, as the step generator does; Create, Update and
  Delete run in parallel, as the step executor's workers do.
* Resource options (``generateResourceSteps``, ``continueStepsFromDiff``): ``ignoreChanges`` copies the old
  input values before Check (``processIgnoreChanges``); ``replaceOnChanges`` turns changed keys into
  replacement keys, and only keys the engine knows changed count: the Python host never reports ``diffs``,
  so this works only when ``diff`` returns ``changes=None`` (``applyReplaceOnChanges``); the
  ``deleteBeforeReplace`` option overrides the provider's answer; ``protect`` refuses a replacement and a
  delete; ``retainOnDelete`` skips the provider's Delete.
* A replacement re-runs Check with NO olds on the program's raw inputs (``continueStepsFromDiff``).
* Delete-before-replace first asks Diff of every dependent in the old state whose inputs came from the
  replaced resource, with those inputs unknown, and deletes (then re-creates) the ones that would be
  replaced (``calculateDependentReplacements``).
* A delete-before-replace whose create does not happen leaves the old resource in state as
  ``pending_replacement`` (``step.go`` ``DeleteStep.Apply``); the next ``up`` replaces it without a second
  delete, and a removal or ``destroy`` drops it without calling the provider (``GenerateDeletes``,
  ``RemovePendingReplaceStep``, an internal step that is not shown). A create-before-delete whose delete does
  not happen leaves the old one as a pending delete, deleted by the next operation.
* The first failure cancels the deployment (``step_executor.go`` ``cancelDueToError``): steps in flight finish
  and are saved, no new step starts, later registrations are not processed, removed resources are not deleted
  (``deployment_executor.go`` ``Execute`` runs ``performPostSteps`` only after the program finished cleanly).
* Deletes run dependents first, in parallel antichains (``ScheduleDeletes``, ``performPostSteps``).
* Secrets (``resource/plugin/provider_plugin.go`` ``annotateSecrets``, ``step_executor.go`` ``executeStep``):
  the Python host does not accept secrets, so the engine re-marks what comes back: a checked input or an
  output is secret when the program's input of the same key held a secret; outputs named in
  ``additionalSecretOutputs``, and outputs whose input of the same key is secret, are secret too. State
  records these as paths (``secret_inputs``/``secret_outputs``); :meth:`State.to_json` writes them as the
  backend does, encrypted (here: ``"[secret]"``).
* The default provider (``default_providers.go``, ``target.go`` ``GetPackageConfig``): one
  ``pulumi:providers:pulumi-python::default`` per stack whose inputs are the WHOLE stack config. Its Diff is
  ``DiffConfig``, which the host does not implement, so any config change updates it (``providers/registry.go``
  ``Diff``); the CLI hides default-provider steps (``engine/update.go`` ``isInternalStep``), so a config change
  alone shows NO change and ``--expect-no-changes`` passes. :class:`State` keeps that config (``config``,
  ``secret_keys``): an ``up`` records the config it ran with; ``destroy`` and ``refresh`` do not run the
  program and configure the provider from state.
* Refresh (``step.go`` ``RefreshStep.Apply``): Read with the old inputs and outputs, in parallel; an empty id
  drops the resource; returned inputs replace the old ones; the shown change is Diff with the refreshed outputs
  as olds and the old inputs as news; a ``pending_replacement`` resource is not read.

Not modelled: aliases, parents and components, imports, targets, plans, custom timeouts (ignored by the
host anyway), ``ignoreChanges``/``replaceOnChanges`` wildcards other than a final ``*``, explicit providers.
Preview only calls Check and Diff and never changes state.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from tests.harness.provider_host import UNKNOWN, DiffOutcome, HarnessError, ProviderHost, urn

Op = Literal["create", "update", "replace", "delete", "same", "delete-replaced"]
PropPath = tuple[str | int, ...]
SECRET_MARK = "[secret]"
"""What :meth:`State.to_json` writes for a secret value: the backend stores only ciphertext."""


# --- property paths (sdk/go/common/resource/properties_path.go) -------------------------------------------

def parse_path(text: str) -> PropPath:
    """``a.b[0]["c.d"]`` -> ``("a", "b", 0, "c.d")`` (``ParsePropertyPath``)."""
    parts: list[str | int] = []
    i = 0
    while i < len(text):
        if text.startswith('["', i):
            end = text.index('"]', i + 2)
            parts.append(text[i + 2:end].replace('\\"', '"'))
            i = end + 2
        elif text[i] == "[":
            end = text.index("]", i)
            inner = text[i + 1:end]
            parts.append("*" if inner == "*" else int(inner))
            i = end + 1
        else:
            if text[i] == "." and parts:
                i += 1
            j = i
            while j < len(text) and text[j] not in ".[":
                j += 1
            parts.append(text[i:j])
            i = j
    return tuple(parts)


def format_path(path: PropPath) -> str:
    """The inverse of :func:`parse_path` (``PropertyPath.String``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_]+|\*", part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace('"', '\\"') + '"]'
    return out


def _contains(outer: PropPath, inner: PropPath) -> bool:
    """``PropertyPath.Contains``: ``inner`` is ``outer`` or below it (``*`` matches any key)."""
    return len(inner) >= len(outer) and all(o == "*" or o == i for o, i in zip(outer, inner, strict=False))


def _under(path: PropPath, paths: Iterable[PropPath]) -> bool:
    """Whether ``path`` is one of ``paths`` or inside one of them."""
    return any(path[:len(p)] == p for p in paths)


def _normal(paths: Iterable[PropPath]) -> set[PropPath]:
    """Drop paths inside another secret path: a secret value is secret as a whole."""
    kept = set(paths)
    return {p for p in kept if not any(q != p and p[:len(q)] == q for q in kept)}


def child(value: Any, key: str | int) -> tuple[bool, Any]:
    """``(True, value[key])`` when ``value`` (an object or an array) has ``key``, else ``(False, None)``."""
    if isinstance(key, int):
        return (True, value[key]) if isinstance(value, list) and 0 <= key < len(value) else (False, None)
    return (True, value[key]) if isinstance(value, dict) and key in value else (False, None)


def _reset(path: PropPath, old: Any, new: Any) -> bool:
    """``PropertyPath.Reset``: in ``new`` (mutated), put the value ``old`` has at ``path``, or remove it when
    ``old`` has none there. False when ``path`` cannot be followed in both."""
    for key in path[:-1]:
        (has_old, old), (has_new, new) = child(old, key), child(new, key)
        if not (has_old and has_new):
            return not has_old and not has_new
    last = path[-1]
    if isinstance(last, int):
        if not (isinstance(old, list) and isinstance(new, list)):
            return not isinstance(old, list) and not isinstance(new, list)
        if last >= len(old) or last >= len(new):
            return last >= len(old) and last >= len(new)
        new[last] = copy.deepcopy(old[last])
        return True
    if not isinstance(new, dict) or not isinstance(old, dict):
        return not isinstance(new, dict) and not isinstance(old, dict)
    keys = list(old) + [k for k in new if k not in old] if last == "*" else [last]
    for key in keys:
        if key in old:
            new[key] = copy.deepcopy(old[key])
        else:
            new.pop(key, None)
    return True


def ignore_changes(inputs: Mapping[str, Any], secrets: set[PropPath], old_inputs: Mapping[str, Any],
                   old_secrets: set[PropPath], paths: Iterable[str]) -> tuple[dict[str, Any], set[PropPath]]:
    """``processIgnoreChanges``: the program's inputs with every ignored path reset to its old value (and its
    old secretness)."""
    result = copy.deepcopy(dict(inputs))
    kept = set(secrets)
    for text in paths:
        path = parse_path(text)
        if _reset(path, dict(old_inputs), result):
            kept = {p for p in kept if not _contains(path, p)} | {p for p in old_secrets if _contains(path, p)}
    return result, kept


def annotate_secrets(outs: Mapping[str, Any], ins: Mapping[str, Any], in_secrets: set[PropPath],
                     prefix: PropPath = ()) -> set[PropPath]:
    """``annotateSecrets``: the paths of ``outs`` that are secret because ``ins`` held a secret at the same
    key (recursing into objects that are not secret as a whole)."""
    found: set[PropPath] = set()
    for key, in_value in ins.items():
        if key not in outs:
            continue
        path = (*prefix, key)
        if isinstance(outs[key], dict) and isinstance(in_value, dict) and path not in in_secrets:
            found |= annotate_secrets(outs[key], in_value, in_secrets, path)
        elif any(p[:len(path)] == path for p in in_secrets):
            found.add(path)
    return found


def secret_paths(value: Any, is_secret: Callable[[Any], bool], unwrap: Callable[[Any], Any],
                 prefix: PropPath = ()) -> tuple[Any, set[PropPath]]:
    """Split a value holding wrapped secrets into the plain value and the paths that were secret."""
    if is_secret(value):
        plain, _ = secret_paths(unwrap(value), is_secret, unwrap, prefix)
        return plain, {prefix}
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        found: set[PropPath] = set()
        for key, item in value.items():
            out[key], inner = secret_paths(item, is_secret, unwrap, (*prefix, key))
            found |= inner
        return out, found
    if isinstance(value, list):
        items, found = [], set()
        for index, item in enumerate(value):
            plain, inner = secret_paths(item, is_secret, unwrap, (*prefix, index))
            items.append(plain)
            found |= inner
        return items, found
    return value, set()


def replace_at(value: Any, paths: Iterable[PropPath], replace: Callable[[Any], Any]) -> Any:
    """A copy of ``value`` with the value at each path (deepest first) replaced by ``replace(value)``."""
    result = copy.deepcopy(value)
    for path in sorted(paths, key=len, reverse=True):
        if not path:
            return replace(result)
        parent = result
        for key in path[:-1]:
            found, parent = child(parent, key)
            if not found:
                break
        else:
            if child(parent, path[-1])[0]:
                parent[path[-1]] = replace(parent[path[-1]])
    return result


def _redact(value: Any, paths: Iterable[PropPath]) -> Any:
    """A copy of ``value`` with the value at each path replaced by :data:`SECRET_MARK`."""
    return replace_at(value, paths, lambda _secret: SECRET_MARK)


# --- registrations, steps, state ---------------------------------------------------------------------------

class Options(NamedTuple):
    """The resource options the engine reads from a registration (``source_eval.go``)."""

    delete_before_replace: bool | None = None  # None: the provider decides
    additional_secret_outputs: tuple[str, ...] = ()
    ignore_changes: tuple[str, ...] = ()
    protect: bool = False
    replace_on_changes: tuple[str, ...] = ()
    retain_on_delete: bool = False


class Registration(NamedTuple):
    """One resource as the program declares it; ``inputs`` are plain (``__provider`` a plain string) and
    ``secrets`` says which of their paths the program passed as secrets."""

    type: str
    name: str
    inputs: dict[str, Any]
    dependencies: list[str] = []
    options: Options = Options()
    secrets: frozenset[PropPath] = frozenset()
    property_dependencies: dict[str, list[str]] = {}


class Step(NamedTuple):
    """What the CLI shows for one resource (internal steps, e.g. the default provider's, are not listed)."""

    op: Op
    urn: str
    delete_before_replace: bool = False


class Canceled(HarnessError):
    """A step or registration the engine did not run because an earlier step failed."""

    def __init__(self, urn: str, cause: BaseException) -> None:
        super().__init__(f"{urn}: not run, the deployment was canceled by an earlier failure: {cause}")
        self.urn, self.cause = urn, cause


class ProtectedError(HarnessError):
    """``deleteProtectedError`` and the protected-replacement refusal, with the engine's wording."""


def _entry_secrets(entry: Mapping[str, Any], side: str) -> set[PropPath]:
    return {parse_path(p) for p in entry.get(f"secret_{side}", [])}


@dataclass
class State:
    """A state file: per URN ``{type, id, inputs, outputs, dependencies, property_dependencies,
    secret_inputs, secret_outputs, options, pending_replacement}`` in dependency order, resources pending
    delete, and the default provider's inputs (``config`` and its ``secret_keys``)."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    secret_keys: list[str] = field(default_factory=list)
    pending_deletes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self, show_secrets: bool = False) -> str:
        """The state as the backend stores it: secret values encrypted unless ``show_secrets``."""
        def stored(entry: dict[str, Any]) -> dict[str, Any]:
            if show_secrets:
                return entry
            return {**entry, "inputs": _redact(entry["inputs"], _entry_secrets(entry, "inputs")),
                    "outputs": _redact(entry["outputs"], _entry_secrets(entry, "outputs"))}
        config = {k: (SECRET_MARK if k in self.secret_keys and not show_secrets else v)
                  for k, v in self.config.items()}
        return json.dumps({"resources": {u: stored(e) for u, e in self.resources.items()}, "config": config,
                           "secret_keys": self.secret_keys, "pending_deletes": [stored(e) for e in
                                                                                self.pending_deletes]})

    def copy(self) -> State:
        return copy.deepcopy(self)

    def by_name(self, name: str) -> dict[str, Any]:
        """The single resource whose URN ends in ``::name`` (tests mostly know names, not URNs)."""
        (entry,) = [r for u, r in self.resources.items() if u.rsplit("::", 1)[1] == name]
        return entry

    def secrets(self, name: str) -> dict[str, set[str]]:
        """``{"inputs": {...}, "outputs": {...}}``: the secret property paths of one resource."""
        entry = self.by_name(name)
        return {side: set(entry.get(f"secret_{side}", [])) for side in ("inputs", "outputs")}


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


def delete_antichains(jobs: Mapping[str, tuple[str, Iterable[str]]]) -> list[list[str]]:
    """``ScheduleDeletes``: deletes (job -> its URN and that resource's dependencies) in batches that can run
    in parallel, every resource before the ones it depends on."""
    left = {job: (u, set(deps)) for job, (u, deps) in jobs.items()}
    batches: list[list[str]] = []
    while left:
        urns = {u for u, _ in left.values()}
        leaves = [job for job, (u, deps) in left.items() if not (deps & urns) - {u}] or list(left)
        batches.append(leaves)
        left = {job: v for job, v in left.items() if job not in leaves}
    return list(reversed(batches))


def _entry(reg: Registration, inputs: dict[str, Any], secrets: set[PropPath]) -> dict[str, Any]:
    return {
        "type": reg.type,
        "id": "",
        "inputs": inputs,
        "outputs": inputs,
        "dependencies": list(reg.dependencies),
        "property_dependencies": {k: list(v) for k, v in reg.property_dependencies.items()},
        "secret_inputs": sorted(format_path(p) for p in _normal(secrets)),
        "secret_outputs": sorted(format_path(p) for p in _normal(secrets)),
        "options": reg.options._asdict(),
        "pending_replacement": False,
    }


def _set_outputs(entry: dict[str, Any], outputs: dict[str, Any], annotated: set[PropPath]) -> None:
    """Record outputs and their secretness (``executeStep``: ``additionalSecretOutputs`` and same-key secret
    inputs are secret too)."""
    in_secrets = _entry_secrets(entry, "inputs")
    secret = set(annotated)
    secret |= {(k,) for k in entry["options"]["additional_secret_outputs"] if k in outputs and k != "id"}
    secret |= {(k,) for k in outputs if (k,) in in_secrets}
    entry["outputs"] = outputs
    entry["secret_outputs"] = sorted(format_path(p) for p in _normal(secret))


def _changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``PropertyMap.Diff(...).ChangedKeys()``: keys added, removed or changed (a null counts as absent)."""
    keys = [k for k in {**old, **new} if old.get(k) is not None or new.get(k) is not None]
    return sorted(k for k in keys if old.get(k) != new.get(k))


class _Plan(NamedTuple):
    """The steps generated for one registration, to run outside the generator lock."""

    step: Step
    entry: dict[str, Any]
    old: dict[str, Any] | None
    deletes_first: list[tuple[str, dict[str, Any]]]  # delete-before-replace: dependents, then the old one
    condemn_old: bool  # create-before-delete: the old one is deleted at the end


class Deployment:
    """One ``up``/``preview`` in progress. ``register`` is thread-safe; ``finish`` runs the deletes.

    ``config``/``secret_keys``: the stack config this operation runs with. The default provider is registered
    with it when the first resource registers (``default_providers.go``), so from then on, failure or not, the
    state records it; a program that fails before registering anything leaves the recorded config as it was.
    """

    def __init__(self, engine: Engine, old: State, preview: bool, config: Mapping[str, str] | None = None,
                 secret_keys: Iterable[str] = ()) -> None:
        self._engine = engine
        self._host = engine.host
        self._old = old.copy()
        self.preview = preview
        self._config = None if config is None else (dict(config), list(secret_keys))
        self._lock = threading.Lock()  # guards the bookkeeping below
        self._generator = threading.Lock()  # the step generator handles one registration at a time
        self._order: list[str] = []
        self._new: dict[str, dict[str, Any]] = {}
        self._registered: set[str] = set()
        self._planned: set[str] = set()  # URNs the step generator has handled
        self._gone: set[str] = set()  # old URNs deleted for good
        self._pending_replacement: set[str] = set()  # old URNs deleted by a delete-before-replace
        self._recreate: set[str] = set()  # dependents deleted by another's delete-before-replace
        self._condemned: list[str] = []  # old URNs to delete at the end (create-before-delete)
        self._pending_deletes = list(self._old.pending_deletes)
        self.error: BaseException | None = None  # the first failure: it cancels the rest
        self._deferred: BaseException | None = None  # reported at the end (preview goes on to show the rest)
        self.steps: list[Step] = []

    # -- failures and cancellation (step_executor.go cancelDueToError) --------------------------------------

    def _failed(self, err: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = err

    def _go_on(self, r_urn: str) -> None:
        """Refuse to start a step once something failed: in-flight steps finish, no new one starts."""
        with self._lock:
            error = self.error
        if error is not None:
            raise Canceled(r_urn, error)

    def _call(self, r_urn: str, fn: Callable[[], Any]) -> Any:
        self._go_on(r_urn)
        try:
            return fn()
        except BaseException as err:
            self._failed(err)
            raise

    # -- registrations --------------------------------------------------------------------------------------

    def reserve(self, urns: list[str]) -> None:
        """Fix the state order up front (apply knows it; the program path uses arrival order)."""
        with self._lock:
            self._order.extend(u for u in urns if u not in self._order)

    def register(self, reg: Registration) -> dict[str, Any]:
        """Check -> Diff -> steps for one resource, then run them; returns its new state entry."""
        r_urn = self._engine.urn(reg)
        with self._lock:
            if r_urn in self._registered:
                raise ValueError(f"duplicate resource URN {r_urn}")
            self._registered.add(r_urn)
            if r_urn not in self._order:
                self._order.append(r_urn)
        self._go_on(r_urn)  # a registration after a failure is never processed
        with self._generator:
            try:
                plan = self._plan(r_urn, reg)
            except BaseException as err:
                self._failed(err)
                raise
        self._run(r_urn, plan)
        with self._lock:
            self.steps.append(plan.step)
        return plan.entry

    def _check(self, r_urn: str, olds: Mapping[str, Any], inputs: dict[str, Any],
               secrets: set[PropPath]) -> tuple[dict[str, Any], set[PropPath]]:
        checked, failures = self._host.check(r_urn, olds, inputs)
        if failures:
            raise CheckFailed(r_urn, failures)
        return checked, annotate_secrets(checked, inputs, secrets)

    def _diff(self, entry: Mapping[str, Any], r_urn: str, inputs: Mapping[str, Any],
              ignored: Iterable[str]) -> tuple[DiffOutcome, list[str]]:
        """``diffResource``: the provider's Diff; on DIFF_UNKNOWN the engine compares inputs itself."""
        diff = self._host.diff(entry["id"], r_urn, entry["outputs"], inputs)
        if diff.changes != "unknown":
            return diff, []  # the Python host never reports which keys changed
        news, _ = ignore_changes(inputs, set(), entry["inputs"], set(), ignored)
        changed = _changed_keys(entry["inputs"], news)
        return DiffOutcome("some" if changed else "none", diff.replaces, diff.delete_before_replace), changed

    def _plan(self, r_urn: str, reg: Registration) -> _Plan:
        with self._lock:
            self._planned.add(r_urn)
        old = self._old.resources.get(r_urn)
        if old is not None and old["type"] != reg.type:
            raise ValueError(f"{r_urn}: type changed from {old['type']}")
        secrets = set(reg.secrets)
        with self._lock:
            recreating = r_urn in self._recreate
        if old is None or recreating:
            inputs, in_secrets = self._check(r_urn, {}, reg.inputs, secrets)
            entry = _entry(reg, inputs, in_secrets)
            if old is None:
                return _Plan(Step("create", r_urn), entry, None, [], False)
            # Deleted earlier in this deployment by a dependency's delete-before-replace: re-created.
            return _Plan(Step("replace", r_urn, True), entry, old, [], False)

        opts = reg.options
        news, news_secrets = ignore_changes(reg.inputs, secrets, old["inputs"], _entry_secrets(old, "inputs"),
                                            opts.ignore_changes)
        inputs, in_secrets = self._check(r_urn, old["inputs"], news, news_secrets)
        entry = _entry(reg, inputs, in_secrets)
        entry["id"] = old["id"]
        diff, changed = self._diff(old, r_urn, inputs, opts.ignore_changes)
        replace_keys = list(diff.replaces) + [  # applyReplaceOnChanges
            k for k in changed if any(_contains(parse_path(p), (k,)) for p in opts.replace_on_changes)]
        pending = bool(old.get("pending_replacement"))
        if diff.changes != "some" and not pending:
            return _Plan(Step("same", r_urn), entry, old, [], False)
        if not replace_keys and not pending:
            return _Plan(Step("update", r_urn), entry, old, [], False)

        if opts.protect and old["options"].get("protect"):
            error = ProtectedError(
                f'unable to replace resource "{r_urn}"\nas it is currently marked for protection. To unprotect '
                "the resource, remove the `protect` flag from the resource in your Pulumi program and run "
                "`pulumi up`")
            if not self.preview:
                raise error
            self._deferred = self._deferred or error
        # A replacement recomputes the inputs from scratch: Check again, with no olds, on the program's inputs.
        inputs, in_secrets = self._check(r_urn, {}, reg.inputs, secrets)
        entry = _entry(reg, inputs, in_secrets)
        dbr = diff.delete_before_replace if opts.delete_before_replace is None else opts.delete_before_replace
        if not dbr:
            return _Plan(Step("replace", r_urn), entry, old, [], not pending)
        deletes = [] if pending else [(r_urn, old)]
        return _Plan(Step("replace", r_urn, True), entry, old, self._dependents_to_replace(r_urn) + deletes,
                     False)

    def _dependents_to_replace(self, root: str) -> list[tuple[str, dict[str, Any]]]:
        """``calculateDependentReplacements``: old dependents not registered yet whose inputs came from a
        resource being replaced; Diff each with those inputs unknown, keep the ones that would be replaced.
        Returned in delete order (dependents first)."""
        resources = self._old.resources
        replace_set = {root}
        found: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            registered = self._planned | self._recreate  # impossibleDependents
        for u in topological(resources):
            entry = resources[u]
            if u in registered or u in replace_set or not set(entry.get("dependencies", [])) & replace_set:
                continue
            unknown = {k for k, deps in entry.get("property_dependencies", {}).items() if set(deps) & replace_set}
            if not unknown:
                continue
            inputs = {k: (UNKNOWN if k in unknown else v) for k, v in entry["inputs"].items()}
            diff, changed = self._diff(entry, u, inputs, entry["options"].get("ignore_changes", []))
            replaces = list(diff.replaces) + [
                k for k in changed
                if any(_contains(parse_path(p), (k,)) for p in entry["options"].get("replace_on_changes", []))]
            if diff.changes == "some" and replaces:
                if entry["options"].get("protect"):
                    raise ProtectedError(
                        f'unable to replace resource "{u}" as part of replacing "{root}" as it is currently '
                        "marked for protection.")
                replace_set.add(u)
                if not entry.get("pending_replacement"):
                    found.append((u, entry))
        with self._lock:
            self._recreate.update(u for u, _ in found)
        return list(reversed(found))

    # -- running the steps (step_executor.go) ---------------------------------------------------------------

    def _run(self, r_urn: str, plan: _Plan) -> None:
        entry, old, op = plan.entry, plan.old, plan.step.op
        if op == "same":
            assert old is not None
            _set_outputs(entry, old["outputs"], _entry_secrets(old, "outputs"))
        elif self.preview:
            _set_outputs(entry, entry["inputs"], _entry_secrets(entry, "inputs"))  # no supportsPreview
        else:
            for d_urn, d_entry in plan.deletes_first:
                self._delete(d_urn, d_entry)
                with self._lock:
                    self._pending_replacement.add(d_urn)
            if op == "update":
                assert old is not None
                outputs = self._call(r_urn, lambda: self._host.update(old["id"], r_urn, old["outputs"],
                                                                      entry["inputs"]))
            else:
                entry["id"], outputs = self._call(r_urn, lambda: self._host.create(r_urn, entry["inputs"]))
            _set_outputs(entry, outputs, annotate_secrets(outputs, entry["inputs"],
                                                          _entry_secrets(entry, "inputs")))
        with self._lock:
            self._new[r_urn] = entry
            if plan.condemn_old:
                self._condemned.append(r_urn)

    def _delete(self, r_urn: str, entry: Mapping[str, Any]) -> None:
        """One provider Delete (none for ``retainOnDelete``)."""
        if not entry["options"].get("retain_on_delete"):
            self._call(r_urn, lambda: self._host.delete(entry["id"], r_urn, entry["outputs"]))

    def finish(self) -> tuple[State, list[Step]]:
        """``performPostSteps``: delete what the program no longer declares, pending deletes and the old halves
        of create-before-delete replacements, dependents first, in parallel batches; then the new state."""
        with self._lock:
            error = self.error or self._deferred
        if error is not None:
            raise self.fail(error)
        olds = self._old.resources
        removed = [u for u in olds if u not in self._registered and u not in self._pending_replacement]
        # GenerateDeletes: a resource already deleted (pending replacement) is dropped without a provider call
        # (RemovePendingReplaceStep, an internal step the CLI does not show).
        dropped = {u for u in removed if olds[u].get("pending_replacement")}
        with self._lock:
            self._gone |= dropped
            jobs: dict[str, tuple[Op, str, dict[str, Any]]] = {
                u: ("delete", u, olds[u]) for u in removed if u not in dropped}
            for i, entry in enumerate(self._pending_deletes):
                if not entry.get("pending_replacement"):
                    jobs[f"pending:{i}"] = ("delete-replaced", entry["urn"], entry)
            jobs.update({f"old:{u}": ("delete-replaced", u, {**olds[u], "urn": u}) for u in self._condemned})
            self._pending_deletes, self._condemned = [], []
        batches = delete_antichains({job: (u, e.get("dependencies", [])) for job, (_, u, e) in jobs.items()})
        with self._lock:  # the old half of this run's replacements is part of its "replace" step
            self.steps.extend(Step(jobs[job][0], jobs[job][1]) for batch in batches for job in batch
                              if not job.startswith("old:"))
        if self.preview:
            protected = [job for job in jobs if jobs[job][2]["options"].get("protect")]
            if protected:
                raise self.fail(self._protected(jobs[protected[0]][1]))
            return self._old.copy(), list(self.steps)
        failures = self._run_deletes(batches, jobs)
        if failures:
            raise self.fail(failures[0])
        return self._state(), list(self.steps)

    @staticmethod
    def _protected(r_urn: str) -> ProtectedError:
        return ProtectedError(f'resource "{r_urn}" cannot be deleted\nbecause it is protected. To unprotect the '
                              "resource, either remove the `protect` flag from the resource in your Pulumi program "
                              "and run `pulumi up`")

    def _delete_job(self, op: Op, r_urn: str, entry: Mapping[str, Any]) -> None:
        if op == "delete" and entry["options"].get("protect"):
            raise self._protected(r_urn)  # DeleteStep.Apply, before any provider call
        self._delete(r_urn, entry)

    def _run_deletes(self, batches: list[list[str]],
                     jobs: Mapping[str, tuple[Op, str, dict[str, Any]]]) -> list[BaseException]:
        """Each batch in parallel. A failure stops the batches after it; a protected resource does not (the
        engine goes on past those, skipping what it depends on) but still fails the operation."""
        failures: list[BaseException] = []
        kept: set[str] = set()  # URNs still in place: what they depend on must stay too
        for batch in batches:
            todo = [job for job in batch if jobs[job][1] not in kept]
            with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
                futures = {job: pool.submit(self._delete_job, *jobs[job]) for job in todo}
            for job in batch:
                _, r_urn, entry = jobs[job]
                fut = futures.get(job)
                if fut is not None and fut.exception() is None:
                    if not job.startswith(("pending:", "old:")):
                        with self._lock:
                            self._gone.add(r_urn)
                    continue
                if fut is not None:
                    failures.append(fut.exception())  # type: ignore[arg-type]
                kept.add(r_urn)
                kept.update(entry.get("dependencies", []))
                if job.startswith(("pending:", "old:")):
                    with self._lock:
                        self._pending_deletes.append(entry)
            if any(not isinstance(f, ProtectedError) for f in failures):
                for later in batches[batches.index(batch) + 1:]:  # never started: they stay
                    with self._lock:
                        self._pending_deletes.extend(jobs[j][2] for j in later if j.startswith(("pending:", "old:")))
                break
        return failures

    def _state(self) -> State:
        """New entries, then old entries neither superseded nor deleted (a partial deployment keeps them)."""
        with self._lock:
            resources = {u: self._new[u] for u in self._order if u in self._new}
            for u, entry in self._old.resources.items():
                if u in resources or u in self._gone:
                    continue
                if u in self._pending_replacement:
                    entry = {**entry, "pending_replacement": True}
                resources[u] = entry
            pending = list(self._pending_deletes)
            for u in self._condemned:  # create-before-delete whose delete did not run
                pending.append({**self._old.resources[u], "urn": u})
        resources = {u: resources[u] for u in topological(resources)}
        config, secret_keys = dict(self._old.config), list(self._old.secret_keys)
        if self._config is not None and self._registered:
            config, secret_keys = dict(self._config[0]), list(self._config[1])
        return State(resources, config, secret_keys, pending)

    def fail(self, err: BaseException) -> BaseException:
        """Attach the partial state/steps to an error, as the engine saves what completed."""
        err.state = self._old.copy() if self.preview else self._state()  # type: ignore[attr-defined]
        with self._lock:
            err.steps = list(self.steps)  # type: ignore[attr-defined]
        return err


class Engine:
    """One operation's engine over one provider host (the CLI starts a host per operation); see the module
    docstring."""

    def __init__(self, host: ProviderHost, stack: str, project: str, parallel: int = 16) -> None:
        self.host = host
        self.stack = stack
        self.project = project
        self.parallel = parallel

    def urn(self, reg: Registration) -> str:
        return urn(self.stack, self.project, reg.type, reg.name)

    def begin(self, state: State, preview: bool = False, config: Mapping[str, str] | None = None,
              secret_keys: Iterable[str] = ()) -> Deployment:
        return Deployment(self, state, preview, config, secret_keys)

    def apply(
        self, registrations: list[Registration], state: State, preview: bool = False
    ) -> tuple[State, list[Step]]:
        """Like ``pulumi up`` for a fixed list: ready registrations (dependencies done) run in a pool; after a
        failure nothing new starts and what is in flight finishes."""
        run = self.begin(state, preview)
        urns = [self.urn(r) for r in registrations]
        if len(set(urns)) != len(urns):
            raise ValueError("duplicate URNs in registrations")
        run.reserve(urns)
        pending = dict(zip(urns, registrations, strict=True))
        done: set[str] = set()
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            running: dict[Future[dict[str, Any]], str] = {}
            while pending or running:
                if run.error is None:
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
                    else:
                        run._failed(fut.exception())  # type: ignore[arg-type]
        if run.error is not None:
            raise run.fail(run.error)
        if pending:
            raise ValueError(f"dependency cycle or unknown order among {sorted(pending)}")
        return run.finish()

    def destroy(self, state: State) -> list[Step]:
        """``pulumi destroy`` (no program): delete everything, dependents first, in parallel antichains;
        pending replacements are dropped without a provider call. On failure ``err.state`` holds what is
        left."""
        run = self.begin(state)
        _, steps = run.finish()
        return steps

    def refresh(self, state: State) -> tuple[State, list[Step]]:
        """``pulumi refresh`` (no program): Read every resource in parallel; see the module docstring."""
        entries = list(state.resources.items())
        with ThreadPoolExecutor(max_workers=max(1, min(self.parallel, len(entries)))) as pool:
            results = list(pool.map(lambda item: self._refresh_one(*item), entries))
        new = State({}, dict(state.config), list(state.secret_keys), copy.deepcopy(state.pending_deletes))
        steps: list[Step] = []
        for (r_urn, _), (step, fresh) in zip(entries, results, strict=True):
            steps.append(step)
            if fresh is not None:
                new.resources[r_urn] = fresh
        return new, steps

    def _refresh_one(self, r_urn: str, entry: dict[str, Any]) -> tuple[Step, dict[str, Any] | None]:
        if entry.get("pending_replacement"):
            return Step("same", r_urn), entry
        rid, outs, inputs = self.host.read(entry["id"], r_urn, entry["outputs"], entry["inputs"])
        if not rid:
            return Step("delete", r_urn), None
        fresh = copy.deepcopy(entry)
        fresh["id"] = rid
        if inputs is not None:
            fresh["inputs"] = inputs
            fresh["secret_inputs"] = sorted(format_path(p) for p in _normal(
                annotate_secrets(inputs, entry["inputs"], _entry_secrets(entry, "inputs"))))
        _set_outputs(fresh, outs, annotate_secrets(outs, entry["outputs"], _entry_secrets(entry, "outputs")))
        # What the CLI shows: Diff with the refreshed outputs as olds and the old inputs as news.
        diff = self.host.diff(rid, r_urn, fresh["outputs"], entry["inputs"])
        changed = diff.changes == "some" or (diff.changes == "unknown" and fresh["inputs"] != entry["inputs"])
        return Step("update" if changed else "same", r_urn), fresh
