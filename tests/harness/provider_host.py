"""Drive the real dynamic-provider host (``python -m pulumi.dynamic``) over gRPC, as the Pulumi engine does.

This is ``pulumi up`` talking to a provider, without the rest of the engine: the provider is un-pickled from
``__provider`` in a separate process, ``Configure`` carries the stack config, resource inputs go over the wire
plain (the host answers ``acceptSecrets=False``), and every number comes back as a float. Nothing here hides
those behaviours.

The CLI starts one host per operation (``pulumi up``, ``destroy``, ``refresh`` are separate processes, each
loading the ``pulumi-python`` plugin afresh), so the host's provider cache and ``configure`` never carry over
from one operation to the next: :class:`HostFactory` hands out one fresh host per operation.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, TypeVar

import grpc
from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN = rpc.UNKNOWN
"""The sentinel the engine sends for values not known yet (preview); ``Check``/``Diff`` see ``Unknown``."""
PROVIDER_KEY = "__provider"

_T = TypeVar("_T")
Launcher = Callable[[Mapping[str, str], Path], tuple[int, IO[bytes], IO[bytes]]]
"""Starts a host process with that environment and directory: its pid, stdout and stderr."""


def urn(stack: str, project: str, type_token: str, name: str) -> str:
    """The URN the engine gives a top-level resource (no parent type: the root stack is not encoded)."""
    return f"urn:pulumi:{stack}::{project}::{type_token}::{name}"


class HarnessError(Exception):
    """Base for deployment failures; ``state``/``steps`` are the partial results (what the engine saves)."""

    state: Any = None
    steps: Any = None


class ProviderError(HarnessError):
    """A gRPC call failed; ``details`` is what the host sent back (the Python traceback for CRUD methods)."""

    def __init__(self, method: str, details: str, code: str = "UNKNOWN") -> None:
        super().__init__(f"{method} failed ({code}): {details}")
        self.method = method
        self.details = details
        self.code = code


class HostCall(NamedTuple):
    """One gRPC call as the host received it (``args`` are the request's property maps, as dicts)."""

    method: str
    urn: str
    args: dict[str, Any]


class DiffOutcome(NamedTuple):
    changes: Literal["none", "some", "unknown"]
    replaces: list[str]
    delete_before_replace: bool


_CHANGES: dict[int, Literal["none", "some", "unknown"]] = {
    provider_pb2.DiffResponse.DIFF_NONE: "none",
    provider_pb2.DiffResponse.DIFF_SOME: "some",
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "unknown",
}


def _plain(value: Any) -> Any:
    """JSON-ready copy of ``value``; ``Unknown`` becomes the engine's sentinel string."""
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Dict → Struct the way the engine marshals a property map (plain JSON, numbers become doubles)."""
    struct = struct_pb2.Struct()
    struct.update(_plain(props))
    return struct


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Struct → dict; numbers stay floats and the unknown sentinel stays a string, as the engine sees them."""
    return json_format.MessageToDict(struct)


def secret(value: Any) -> dict[str, Any]:
    """Wrap a value as a Pulumi secret (the wire form used in ``Configure`` args)."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


class ProviderHost:
    """A running ``python -m pulumi.dynamic`` process plus a thread-safe stub; use as a context manager.

    One host per test: the host caches un-pickled providers (and calls ``configure`` once per provider), so
    state leaks between tests that share a process.
    """

    def __init__(
        self,
        project: str,
        env: Mapping[str, str] | None = None,
        cwd: Path = REPO_ROOT,
        start_timeout: float = 60.0,
        launcher: Launcher | None = None,
    ) -> None:
        self.project = project
        self._env = {**os.environ, "PULUMI_PROJECT": project, **(env or {})}
        self._cwd = cwd
        self._start_timeout = start_timeout
        self._launcher = launcher  # None: `python -u -m pulumi.dynamic` as a child process
        self._pid: int | None = None  # a launched host (not our child)
        self._pumps: list[threading.Thread] = []
        self._lines: list[str] = []
        self._lines_lock = threading.Condition()
        self._port_ready = threading.Event()
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._calls: list[HostCall] = []

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> ProviderHost:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        if self._launcher is None:
            self._proc = subprocess.Popen(
                [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
                cwd=self._cwd,
                env=self._env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = self._proc.stdout, self._proc.stderr
        else:
            self._pid, out, err = self._launcher(self._env, self._cwd)
        self._pumps = [threading.Thread(target=self._pump, args=(out, True), daemon=True),
                       threading.Thread(target=self._pump, args=(err, False), daemon=True)]
        for pump in self._pumps:
            pump.start()
        if not self._port_ready.wait(self._start_timeout) or self._port is None:
            self.close()
            raise RuntimeError("provider host did not report a port:\n" + "\n".join(self.log_lines()))
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self._port}")
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        pid, self._pid = self._pid, None
        if pid is not None:
            self._stop(pid)
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def kill(self) -> None:
        """SIGKILL the host, with no chance to clean up (as when `pulumi up` is killed); :meth:`close` still
        releases the rest."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        elif self._proc is not None:
            self._proc.kill()

    def _stop(self, pid: int) -> None:
        """Stop a launched host by its pid; its output pipes closing says it is gone."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if all(not pump.is_alive() for pump in self._pumps):
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            for pump in self._pumps:
                pump.join(timeout=5)

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        """Collect one stream line by line; the first stdout line is the port, not a diagnostic."""
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            if is_stdout and not self._port_ready.is_set():
                try:
                    self._port = int(line.strip())
                finally:
                    self._port_ready.set()
                continue
            with self._lines_lock:
                self._lines.append(line)
                self._lines_lock.notify_all()
        if is_stdout:
            self._port_ready.set()  # the process died before printing a port: unblock start()

    def log_lines(self) -> list[str]:
        """Everything the host printed so far (stdout and stderr, arrival order): ``pulumi up`` diagnostics."""
        with self._lines_lock:
            return list(self._lines)

    def wait_for_line(self, text: str, start: int = 0, timeout: float = 30.0) -> list[str]:
        """Block until a line from index `start` on contains `text` (the host's output reaches us through a
        reader thread, after the gRPC answer); returns the lines from `start` up to and including it."""
        def found() -> int | None:
            return next((i for i in range(start, len(self._lines)) if text in self._lines[i]), None)

        with self._lines_lock:
            if not self._lines_lock.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"the provider host printed no line containing {text!r} in {timeout}s")
            index = found()
            assert index is not None
            return list(self._lines[start:index + 1])

    def calls(self) -> list[HostCall]:
        """Every Check/Diff/Create/Update/Read/Delete received so far, in arrival order."""
        with self._lines_lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lines_lock:
            self._calls.clear()

    def _record(self, method: str, urn: str, **args: Mapping[str, Any] | None) -> None:
        with self._lines_lock:
            self._calls.append(HostCall(method, urn, {k: dict(v) for k, v in args.items() if v is not None}))

    # -- gRPC calls --------------------------------------------------------------------------------------

    def _call(self, method: str, fn: Callable[[provider_pb2_grpc.ResourceProviderStub], _T]) -> _T:
        if self._stub is None:
            raise RuntimeError("provider host is not running")
        try:
            return fn(self._stub)
        except grpc.RpcError as err:
            raise ProviderError(method, err.details() or "", err.code().name) from None

    def configure(self, config: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> None:
        """Send the full stack config; keys are ``project:key``, structured values travel as JSON text."""
        secrets = set(secret_keys)
        args: dict[str, Any] = {}
        for key, value in config.items():
            text = value if isinstance(value, str) else json.dumps(value)
            args[key] = secret(text) if key in secrets else text
        request = provider_pb2.ConfigureRequest(
            args=to_struct(args), acceptSecrets=True, type="pulumi:providers:pulumi-python", name="default"
        )
        self._call("Configure", lambda s: s.Configure(request))

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """``news`` must carry ``__provider`` (plain, not secret-wrapped: the engine strips secrets)."""
        self._record("Check", urn, olds=olds, news=news)
        request = provider_pb2.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        resp = self._call("Check", lambda s: s.Check(request))
        return from_struct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, id: str, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffOutcome:
        """``olds`` are the previous OUTPUTS, ``news`` the checked inputs."""
        self._record("Diff", urn, olds=olds, news=news)
        request = provider_pb2.DiffRequest(id=id, urn=urn, olds=to_struct(olds), news=to_struct(news))
        resp = self._call("Diff", lambda s: s.Diff(request))
        return DiffOutcome(_CHANGES[resp.changes], list(resp.replaces), resp.deleteBeforeReplace)

    def create(self, urn: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        self._record("Create", urn, properties=props)
        request = provider_pb2.CreateRequest(urn=urn, properties=to_struct(props))
        resp = self._call("Create", lambda s: s.Create(request))
        return resp.id, from_struct(resp.properties)

    def update(self, id: str, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        self._record("Update", urn, olds=olds, news=news)
        request = provider_pb2.UpdateRequest(id=id, urn=urn, olds=to_struct(olds), news=to_struct(news))
        return from_struct(self._call("Update", lambda s: s.Update(request)).properties)

    def read(
        self, id: str, urn: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Refresh-style read; returns ``inputs=None`` when the provider did not return inputs."""
        self._record("Read", urn, properties=props, inputs=inputs)
        request = provider_pb2.ReadRequest(id=id, urn=urn, properties=to_struct(props), inputs=to_struct(inputs or {}))
        resp = self._call("Read", lambda s: s.Read(request))
        new_inputs = from_struct(resp.inputs) if resp.HasField("inputs") else None
        return resp.id, from_struct(resp.properties), new_inputs

    def delete(self, id: str, urn: str, props: Mapping[str, Any]) -> None:
        """``props`` are the previous OUTPUTS."""
        self._record("Delete", urn, properties=props)
        request = provider_pb2.DeleteRequest(id=id, urn=urn, properties=to_struct(props))
        self._call("Delete", lambda s: s.Delete(request))


class HostZygote:
    """A process that imported what a host imports, forking one host per :meth:`launch` (see
    ``tests/harness/host_zygote.py``): a fresh host costs milliseconds instead of a 0.4 s cold start."""

    def __init__(self, preload: Iterable[str] = (), cwd: Path = REPO_ROOT, start_timeout: float = 60.0) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.harness.host_zygote", str(theirs.fileno()), *preload],
            cwd=cwd, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        self._socket = ours
        self._lock = threading.Lock()
        ours.settimeout(start_timeout)
        try:
            ready = ours.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready":
            self.close()
            raise RuntimeError("the host zygote did not start (see its stderr above)")
        ours.settimeout(None)

    def launch(self, env: Mapping[str, str], cwd: Path) -> tuple[int, IO[bytes], IO[bytes]]:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        request = json.dumps({"env": dict(env), "cwd": str(cwd)}).encode()
        try:
            with self._lock:
                socket.send_fds(self._socket, [request], [out_w, err_w])
                pid = int(self._socket.recv(32))
        finally:
            os.close(out_w)
            os.close(err_w)
        return pid, os.fdopen(out_r, "rb"), os.fdopen(err_r, "rb")

    def close(self) -> None:
        self._socket.close()  # the zygote exits when its end reads EOF
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=5)


class HostFactory:
    """One fresh, started :class:`ProviderHost` per engine operation, as the CLI starts one plugin per command.

    Hosts are forked from a :class:`HostZygote` that imported the host's modules and ``preload`` (e.g. the
    provider package, so an operation does not wait for those imports). A forked host runs the host's real
    code (``pulumi.dynamic.__main__``) with an empty provider cache and no configuration, like a cold
    ``python -m pulumi.dynamic``; what differs is only that modules were imported before the fork (so
    environment variables a module reads at import time are the factory's, not the host's). Every host handed
    out is recorded in ``opened`` (its logs and calls stay readable after it closed).
    """

    def __init__(self, project: str, env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT,
                 preload: Iterable[str] = ()) -> None:
        self.project, self._env, self._cwd, self._preload = project, dict(env or {}), cwd, tuple(preload)
        self._zygote: HostZygote | None = None
        self._lock = threading.Lock()
        self.opened: list[ProviderHost] = []

    def __call__(self) -> ProviderHost:
        """A started host, for one operation; the caller closes it when the operation ends."""
        with self._lock:
            if self._zygote is None:
                self._zygote = HostZygote(self._preload, self._cwd)
            zygote = self._zygote
        host = ProviderHost(self.project, env=self._env, cwd=self._cwd, launcher=zygote.launch)
        host.start()
        self.opened.append(host)
        return host

    def __enter__(self) -> HostFactory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every host handed out and not closed, then the zygote."""
        for host in self.opened:
            host.close()
        with self._lock:
            zygote, self._zygote = self._zygote, None
        if zygote is not None:
            zygote.close()
