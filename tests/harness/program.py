"""Run a Pulumi program (``__main__.py``) under Pulumi's mocks, optionally with the real provider host in the loop.

How it works: the program runs via ``runpy.run_path`` under ``set_mocks`` with a ``MockMonitor`` subclass whose
``RegisterResource`` turns each dynamic registration into a :class:`Registration` (secrets unwrapped as the
engine does for the ``acceptSecrets=False`` host, unknowns kept, dependencies from the request) and answers with
real outputs from :class:`Deployment.register`, so later resources see earlier resources' real outputs.
Non-dynamic resources (components, other providers) get canned answers (outputs = inputs) and are not in state.

Mocks concurrency (pulumi 3.272.0, observed): the SDK calls the monitor's ``RegisterResource`` through
``loop.run_in_executor(None, ...)`` (``pulumi/runtime/resource.py``), i.e. on the event loop's default thread
pool (``min(32, cpus + 4)`` workers). Independent registrations therefore arrive concurrently (4 toy creates of
0.5 s each took 0.55 s in total on 2 CPUs) and in no fixed order; dependents arrive once their inputs resolved.
The harness is thread-safe, but the degree of parallelism depends on the CPU count: do not rely on it in tests,
use ``Engine.apply`` to test parallel behaviour.

Isolation: the program runs in a fresh thread (fresh contextvars, fresh event loop). Pulumi's ``Settings`` keep
values in ContextVars but also leak "defaults" across contexts (``ContextProperty.fset``); those are saved and
restored around each run, so the caller's Pulumi settings are untouched.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from pulumi import Output
from pulumi._utils import ContextProperty
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.harness.engine import Deployment, Engine, Registration, State, Step
from tests.harness.provider_host import UNKNOWN, HarnessError, ProviderHost, urn

DYNAMIC_PREFIX = "pulumi-python:dynamic"

Handler = Callable[[Registration], tuple[str, dict[str, Any]]]
"""Turns a dynamic registration into ``(id, outputs)``, as the engine would answer the program."""


class ProgramRun(NamedTuple):
    registrations: list[Registration]
    exports: dict[str, Any]
    exports_secret: set[str]


class DeployResult(NamedTuple):
    state: State
    steps: list[Step]
    exports: dict[str, Any]
    exports_secret: set[str]
    registrations: list[Registration]


def full_config(project: str, config: Mapping[str, object]) -> dict[str, str]:
    """``{"key": value}`` → ``{"project:key": text}``; structured values become JSON text, as the CLI stores them."""
    return {
        (k if ":" in k else f"{project}:{k}"): (v if isinstance(v, str) else json.dumps(v)) for k, v in config.items()
    }


def _full_keys(project: str, keys: Iterable[str]) -> list[str]:
    return [k if ":" in k else f"{project}:{k}" for k in keys]


class _Mocks(mocks.Mocks):
    """Canned answers for everything that is not a dynamic resource."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        return (f"{args.name}-id" if args.custom else ""), dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class _Monitor(mocks.MockMonitor):
    """Routes dynamic registrations to a handler, with engine-shaped URNs and real outputs."""

    def __init__(self, handler: Handler, stack: str, project: str) -> None:
        super().__init__(_Mocks())
        self._handler = handler
        self._stack = stack
        self._project = project
        self._lock = threading.Lock()
        self.registrations: list[Registration] = []
        self.errors: list[BaseException] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """Like the engine: children of the root stack carry no parent type, others ``parent$type``."""
        parent_type = parent.split("::")[2] if parent else "pulumi:pulumi:Stack"
        if parent_type != "pulumi:pulumi:Stack":
            type_ = f"{parent_type.split('$')[-1]}${type_}"
        return urn(self._stack, self._project, type_, name)

    def RegisterResource(self, request: Any) -> Any:
        if not request.type.startswith(DYNAMIC_PREFIX):
            return super().RegisterResource(request)
        try:
            return self._register_dynamic(request)
        except BaseException as err:
            with self._lock:
                self.errors.append(err)
            raise

    def _register_dynamic(self, request: Any) -> Any:
        raw = rpc.deserialize_properties(request.object, keep_unknowns=True)
        secret_keys = {k for k, v in raw.items() if rpc.is_rpc_secret(v)}
        inputs = {k: _plain(rpc.unwrap_rpc_secret(v)) for k, v in raw.items()}
        deps = list(request.dependencies)
        for prop_deps in request.propertyDependencies.values():
            deps.extend(u for u in prop_deps.urns if u not in deps)
        reg = Registration(request.type, request.name, inputs, deps, frozenset(secret_keys))
        with self._lock:
            self.registrations.append(reg)
        id_, outputs = self._handler(reg)
        # The engine re-marks outputs secret when the input of the same key was secret (annotateSecrets).
        answer = {k: rpc.wrap_rpc_secret(v) if k in secret_keys else v for k, v in outputs.items()}
        answer = {k: None if v == UNKNOWN else v for k, v in answer.items()}
        obj = _sync_await(rpc.serialize_properties(answer, {}))
        r_urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[r_urn] = mocks.MockMonitor.ResourceRegistration(r_urn, id_, outputs)
        return resource_pb2.RegisterResourceResponse(urn=r_urn, id=id_, object=obj)


async def _resolve(value: Any) -> tuple[Any, bool]:
    """An export as a plain value (unknown → ``UNKNOWN``) and whether it is secret."""
    out = Output.from_input(value)
    is_secret = await out.is_secret()
    resolved = await out.future(with_unknowns=True)
    if resolved is None and not await out.is_known():
        return UNKNOWN, is_secret
    return _plain(resolved), is_secret


def _plain(value: Any) -> Any:
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _context_defaults() -> dict[ContextProperty, Any]:
    props = [p for p in vars(settings.Settings).values() if isinstance(p, ContextProperty)]
    return {p: p._ContextProperty__default for p in props}  # type: ignore[attr-defined]


def _execute(
    program_path: str | Path,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: list[str],
    preview: bool,
    handler: Handler,
) -> ProgramRun:
    monitor = _Monitor(handler, stack, project)
    exports: dict[str, Any] = {}
    exports_secret: set[str] = set()
    failure: list[BaseException] = []

    async def body() -> None:
        runpy.run_path(str(program_path), run_name="__main__")
        root = settings.get_root_resource()
        for name, value in getattr(root, "outputs", {}).items():
            exports[name], is_secret = await _resolve(value)
            if is_secret:
                exports_secret.add(name)

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Drop "exception never retrieved" noise for the engine error we re-raise anyway."""
        if context.get("exception") not in monitor.errors:
            loop.default_exception_handler(context)

    def in_thread() -> None:
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(quiet)
        asyncio.set_event_loop(loop)
        try:
            settings.ROOT.set(None)
            set_all_config(dict(config), secret_keys)
            mocks.set_mocks(_Mocks(), project=project, stack=stack, preview=preview, monitor=monitor)
            # Not set by set_mocks; the shared default would keep a failed run's tasks (bound to a closed loop).
            settings.SETTINGS.outputs = set()
            settings.SETTINGS.lock = threading.Lock()
            _sync_await(run_pulumi_func(body))
        except BaseException as err:
            failure.append(err)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    saved = _context_defaults()
    try:
        thread = threading.Thread(target=in_thread, name=f"pulumi-program-{stack}")
        thread.start()
        thread.join()
    finally:
        for prop, default in saved.items():
            prop._ContextProperty__default = default  # type: ignore[attr-defined]
    error = monitor.errors[0] if monitor.errors else failure[0] if failure else None
    if error is not None:  # the engine-side error first, not the SDK's wrapped re-raise
        error.registrations = list(monitor.registrations)  # type: ignore[attr-defined]  # what got registered
        raise error
    return ProgramRun(list(monitor.registrations), exports, exports_secret)


def run_program(
    program_path: str | Path,
    project: str,
    stack: str,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    preview: bool = False,
) -> ProgramRun:
    """Run the program with canned answers (outputs = inputs, id = ``<name>-id``) and capture what it declares.

    If the program fails, the exception carries ``registrations``: what it had registered before it failed."""

    def canned(reg: Registration) -> tuple[str, dict[str, Any]]:
        return ("" if preview else f"{reg.name}-id"), dict(reg.inputs)

    cfg = full_config(project, config)
    return _execute(program_path, project, stack, cfg, _full_keys(project, secret_keys), preview, canned)


def _run_with_engine(
    program_path: str | Path,
    host: ProviderHost,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str],
    stack: str,
    preview: bool,
) -> DeployResult:
    project = host.project
    cfg = full_config(project, config)
    keys = _full_keys(project, secret_keys)
    host.configure(cfg, keys)
    run: Deployment = Engine(host, stack, project).begin(State(state.resources, cfg, keys), preview)

    def handler(reg: Registration) -> tuple[str, dict[str, Any]]:
        entry = run.register(reg)
        return entry["id"], entry["outputs"]

    try:
        program = _execute(program_path, project, stack, cfg, keys, preview, handler)
        new_state, steps = run.finish()
    except HarnessError as err:
        raise run.fail(err) from None
    if preview:
        new_state = state.copy()
    return DeployResult(new_state, steps, program.exports, program.exports_secret, program.registrations)


def deploy(
    program_path: str | Path,
    host: ProviderHost,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
) -> DeployResult:
    """``pulumi up``: Configure the host with the stack config, run the program, delete what is gone."""
    return _run_with_engine(program_path, host, state, config, secret_keys, stack, preview=False)


def preview(
    program_path: str | Path,
    host: ProviderHost,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
) -> DeployResult:
    """``pulumi preview``: Check and Diff only; new/changed resources show unknown outputs; state unchanged."""
    return _run_with_engine(program_path, host, state, config, secret_keys, stack, preview=True)


def destroy(host: ProviderHost, state: State) -> list[Step]:
    """``pulumi destroy``: no program; the host is configured with the config recorded in state."""
    host.configure(state.config, state.secret_keys)
    return Engine(host, "", host.project).destroy(state)


def refresh(host: ProviderHost, state: State) -> tuple[State, list[Step]]:
    """``pulumi refresh`` with the config recorded in state."""
    host.configure(state.config, state.secret_keys)
    return Engine(host, "", host.project).refresh(state)
