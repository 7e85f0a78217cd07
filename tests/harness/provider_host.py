"""Drive the real dynamic-provider host (``python -m pulumi.dynamic``) over gRPC, as the Pulumi engine does.

The engine cannot be installed here, so this is the closest we get to ``pulumi up`` talking to a provider:
the provider is un-pickled from ``__provider`` in a separate process, ``Configure`` carries the stack config,
resource inputs go over the wire plain (the host answers ``acceptSecrets=False``), and every number comes back
as a float. Nothing here hides those behaviours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

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
    ) -> None:
        self.project = project
        self._env = {**os.environ, "PULUMI_PROJECT": project, **(env or {})}
        self._cwd = cwd
        self._start_timeout = start_timeout
        self._lines: list[str] = []
        self._lines_lock = threading.Condition()
        self._port_ready = threading.Event()
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    def __enter__(self) -> ProviderHost:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=self._cwd,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        threading.Thread(target=self._pump, args=(self._proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._proc.stderr, False), daemon=True).start()
        if not self._port_ready.wait(self._start_timeout) or self._port is None:
            self.close()
            raise RuntimeError("provider host did not report a port:\n" + "\n".join(self.log_lines()))
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self._port}")
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

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
        request = provider_pb2.CheckRequest(urn=urn, olds=to_struct(olds), news=to_struct(news))
        resp = self._call("Check", lambda s: s.Check(request))
        return from_struct(resp.inputs), [(f.property, f.reason) for f in resp.failures]

    def diff(self, id: str, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffOutcome:
        """``olds`` are the previous OUTPUTS, ``news`` the checked inputs."""
        request = provider_pb2.DiffRequest(id=id, urn=urn, olds=to_struct(olds), news=to_struct(news))
        resp = self._call("Diff", lambda s: s.Diff(request))
        return DiffOutcome(_CHANGES[resp.changes], list(resp.replaces), resp.deleteBeforeReplace)

    def create(self, urn: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = provider_pb2.CreateRequest(urn=urn, properties=to_struct(props))
        resp = self._call("Create", lambda s: s.Create(request))
        return resp.id, from_struct(resp.properties)

    def update(self, id: str, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        request = provider_pb2.UpdateRequest(id=id, urn=urn, olds=to_struct(olds), news=to_struct(news))
        return from_struct(self._call("Update", lambda s: s.Update(request)).properties)

    def read(
        self, id: str, urn: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Refresh-style read; returns ``inputs=None`` when the provider did not return inputs."""
        request = provider_pb2.ReadRequest(id=id, urn=urn, properties=to_struct(props), inputs=to_struct(inputs or {}))
        resp = self._call("Read", lambda s: s.Read(request))
        new_inputs = from_struct(resp.inputs) if resp.HasField("inputs") else None
        return resp.id, from_struct(resp.properties), new_inputs

    def delete(self, id: str, urn: str, props: Mapping[str, Any]) -> None:
        """``props`` are the previous OUTPUTS."""
        request = provider_pb2.DeleteRequest(id=id, urn=urn, properties=to_struct(props))
        self._call("Delete", lambda s: s.Delete(request))
