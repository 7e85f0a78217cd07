"""Run a Pulumi program (``__main__.py``) under Pulumi's mocks, optionally with the real provider host in the loop.

How it works: the program (a ``__main__.py`` run via ``runpy.run_path``, or a function) runs under ``set_mocks``
with a ``MockMonitor`` subclass whose ``RegisterResource`` turns each dynamic registration into a
:class:`Registration` as the engine reads it: inputs with their secret paths (the engine unwraps them for the
``acceptSecrets=False`` host and re-marks what comes back), unknowns kept, dependencies and property
dependencies, and the resource options (``deleteBeforeReplace`` only when the program defined it,
``additionalSecretOutputs``, ``ignoreChanges``, ``protect``, ``replaceOnChanges``, ``retainOnDelete``). It
answers with real outputs from :class:`Deployment.register`, secret where the engine marks them secret, so
later resources see earlier resources' real outputs. Non-dynamic resources (components, other providers) get
canned answers (outputs = inputs) and are not in state.

Each ``deploy``/``preview``/``destroy``/``refresh`` is one operation: it takes a fresh host (from a
:class:`~tests.harness.provider_host.HostFactory`) and configures it, as the CLI does: ``up`` and ``preview``
with the stack config they run with, ``destroy`` and ``refresh`` (which do not run the program) with the config
recorded in state.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from google.protobuf import json_format
from pulumi import Output
from pulumi._utils import ContextProperty
from pulumi.output import Unknown
from pulumi.runtime import mocks, rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from tests.harness.engine import (
    Deployment,
    Engine,
    Options,
    PropPath,
    Registration,
    State,
    Step,
    replace_at,
    secret_paths,
)
from tests.harness.engine import parse_path as parse
from tests.harness.provider_host import UNKNOWN, ProviderHost, urn

DYNAMIC_PREFIX = "pulumi-python:dynamic"

Handler = Callable[[Registration], tuple[str, dict[str, Any], set[PropPath]]]
"""Turns a dynamic registration into ``(id, outputs, secret output paths)``, as the engine answers the program."""
Program = str | Path | Callable[[], None]
"""A ``__main__.py`` path, or a function that declares the resources."""
Hosts = Callable[[], ProviderHost]
"""Where each operation gets its fresh, started host (a :class:`HostFactory`); the operation closes it."""


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
    host: ProviderHost
    """The operation's provider host (closed): its ``log_lines()`` are the diagnostics, ``calls()`` what it got."""


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
        reg = registration(request)
        with self._lock:
            self.registrations.append(reg)
        id_, outputs, secrets = self._handler(reg)
        answer = _wrap_secrets({k: None if v == UNKNOWN else v for k, v in outputs.items()}, secrets)
        obj = _sync_await(rpc.serialize_properties(answer, {}))
        r_urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[r_urn] = mocks.MockMonitor.ResourceRegistration(r_urn, id_, outputs)
        return resource_pb2.RegisterResourceResponse(urn=r_urn, id=id_, object=obj)


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def registration(request: Any) -> Registration:
    """A ``RegisterResourceRequest`` as the engine reads it (``source_eval.go`` ``RegisterResource``)."""
    # The wire form keeps each secret where the program put it (the SDK's deserializer would push it up a level).
    inputs, secrets = secret_paths(json_format.MessageToDict(request.object), _is_secret, lambda v: v["value"])
    property_dependencies = {k: list(v.urns) for k, v in request.propertyDependencies.items()}
    deps = list(request.dependencies)
    for urns in property_dependencies.values():
        deps.extend(u for u in urns if u not in deps)
    defined = request.deleteBeforeReplaceDefined or request.deleteBeforeReplace
    options = Options(
        delete_before_replace=request.deleteBeforeReplace if defined else None,
        additional_secret_outputs=tuple(request.additionalSecretOutputs),
        ignore_changes=tuple(request.ignoreChanges),
        protect=bool(request.protect),
        replace_on_changes=tuple(request.replaceOnChanges),
        retain_on_delete=bool(request.retainOnDelete),
    )
    return Registration(request.type, request.name, inputs, deps, options, frozenset(secrets),
                        property_dependencies)


def _wrap_secrets(value: dict[str, Any], paths: set[PropPath]) -> dict[str, Any]:
    """A copy of ``value`` with the values at ``paths`` marked secret, as the engine's answer to the program."""
    return replace_at(value, paths, rpc.wrap_rpc_secret)


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
    program: Program,
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
        if callable(program):
            program()
        else:
            runpy.run_path(str(program), run_name="__main__")
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
        tuning = sys.modules.get("providers.program_tuning")  # the harness runs toy programs too, without providers
        if tuning is not None:
            tuning.undo()  # what __main__.py tuned in this process is for one program, not the test session
    error = monitor.errors[0] if monitor.errors else failure[0] if failure else None
    if error is not None:  # the engine-side error first, not the SDK's wrapped re-raise
        error.registrations = list(monitor.registrations)  # type: ignore[attr-defined]  # what got registered
        raise error
    return ProgramRun(list(monitor.registrations), exports, exports_secret)


def run_program(
    program: Program,
    project: str,
    stack: str,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    preview: bool = False,
) -> ProgramRun:
    """Run the program with canned answers (outputs = inputs, id = ``<name>-id``) and capture what it declares.

    If the program fails, the exception carries ``registrations``: what it had registered before it failed."""

    def canned(reg: Registration) -> tuple[str, dict[str, Any], set[PropPath]]:
        return ("" if preview else f"{reg.name}-id"), dict(reg.inputs), set(reg.secrets)

    cfg = full_config(project, config)
    return _execute(program, project, stack, cfg, _full_keys(project, secret_keys), preview, canned)


def _run_with_engine(
    program: Program,
    hosts: Hosts,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str],
    stack: str,
    preview: bool,
) -> DeployResult:
    host = hosts()
    project = host.project
    cfg = full_config(project, config)
    keys = _full_keys(project, secret_keys)
    try:
        # The default provider is configured with the stack config this operation runs with.
        host.configure(cfg, keys)
        run: Deployment = Engine(host, stack, project).begin(state, preview, cfg, keys)

        def handler(reg: Registration) -> tuple[str, dict[str, Any], set[PropPath]]:
            entry = run.register(reg)
            return entry["id"], entry["outputs"], {parse(p) for p in entry["secret_outputs"]}

        try:
            program_run = _execute(program, project, stack, cfg, keys, preview, handler)
            new_state, steps = run.finish()
        except Exception as err:
            first = run.error or err  # the failure that canceled the rest, not a later cancellation
            raise run.fail(first) from (None if first is err else err)
    finally:
        host.close()
    if preview:
        new_state = state.copy()
    return DeployResult(new_state, steps, program_run.exports, program_run.exports_secret,
                        program_run.registrations, host)


def deploy(
    program: Program,
    hosts: Hosts,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
) -> DeployResult:
    """``pulumi up``: Configure a fresh host with the stack config, run the program, delete what is gone."""
    return _run_with_engine(program, hosts, state, config, secret_keys, stack, preview=False)


def preview(
    program: Program,
    hosts: Hosts,
    state: State,
    config: Mapping[str, object],
    secret_keys: Iterable[str] = (),
    stack: str = "dev",
) -> DeployResult:
    """``pulumi preview``: Check and Diff only; new/changed resources show unknown outputs; state unchanged."""
    return _run_with_engine(program, hosts, state, config, secret_keys, stack, preview=True)


def destroy(hosts: Hosts, state: State) -> list[Step]:
    """``pulumi destroy``: no program; a fresh host configured with the config recorded in state."""
    return _without_program(hosts, state, Engine.destroy)


def refresh(hosts: Hosts, state: State) -> tuple[State, list[Step]]:
    """``pulumi refresh`` (no program): a fresh host configured with the config recorded in state."""
    return _without_program(hosts, state, Engine.refresh)


def _without_program(hosts: Hosts, state: State, operation: Callable[[Engine, State], Any]) -> Any:
    host = hosts()
    try:
        host.configure(state.config, state.secret_keys)
        return operation(Engine(host, "", host.project), state)
    finally:
        host.close()
