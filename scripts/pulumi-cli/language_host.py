"""A Python language host for the Pulumi CLI: `pulumi-language-python`, when Pulumi's own cannot be built.

Pulumi's language host for Python is a Go program in the module
`github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3`, which the Go module proxy reachable here
does not serve (403 "This module version is not available"). The CLI and the engine build from modules that
are served; this host stands in for the one missing piece and does what Pulumi's does, in the same order:

* the CLI starts it with the engine's address as its last argument and reads the gRPC port from stdout;
* `Run` executes the program with Pulumi's own runner `pulumi-language-python-exec` (shipped in the
  `sdk/v3` module, installed next to this file), in a fresh process of the project's virtualenv, with the
  same arguments and the `PULUMI_CONFIG`/`PULUMI_CONFIG_SECRET_KEYS` environment as Pulumi's host, and exit
  code 32 meaning "the program already told the user" (bail); a config too big for one environment variable
  (E2BIG) fails naming the limit, the config's size and the fix, where Pulumi's host says `Argument list too long`;
* `RunPlugin` runs a plugin written in Python, such as a policy pack (`pulumi preview --policy-pack DIR`), as
  Pulumi's host does: `python DIR ARGS...` in the virtualenv its `PulumiPolicy.yaml` names, its output streamed
  back to the engine, then its exit code;
* it requires no plugins (a dynamic-provider program needs only `pulumi-python`, which the engine knows).

It never installs anything: `pulumi install` fails with a message naming the project's venv script. When the CLI
that started it dies (a killed `pulumi up`), it ends too, and the program it runs with it: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

HERE = Path(__file__).resolve().parent
EXEC_SCRIPT = HERE / "pulumi-language-python-exec"
MAX_ARG_STRLEN = 128 * 1024  # Linux: the longest one environment entry may be
BAIL_EXIT_CODE = 32  # the runner printed an actionable message already
CHILDREN: set[subprocess.Popen] = set()  # the programs and plugins running now, ended with the host


def _python(root: str, options: dict) -> str:
    """The project's interpreter: runtime option `virtualenv` (relative to the project root), else ours."""
    venv = options.get("virtualenv")
    if venv:
        candidate = Path(root, venv, "bin", "python")
        if candidate.exists():
            return str(candidate)
    return sys.executable


def _options(info) -> dict:
    return json.loads(json.dumps(dict(info.options))) if info.HasField("options") else {}


def _stream(process: subprocess.Popen) -> Iterator[language_pb2.RunPluginResponse]:
    """The plugin's stdout and stderr as they come, then its exit code (the engine reads the port from
    stdout while the plugin keeps running)."""
    chunks: queue.Queue = queue.Queue()

    def pump(pipe, field: str) -> None:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            chunks.put((field, chunk))
        chunks.put((field, None))

    for pipe, field in ((process.stdout, "stdout"), (process.stderr, "stderr")):
        threading.Thread(target=pump, args=(pipe, field), daemon=True).start()
    open_pipes = 2
    while open_pipes:
        field, chunk = chunks.get()
        if chunk is None:
            open_pipes -= 1
        else:
            yield language_pb2.RunPluginResponse(**{field: chunk})
    yield language_pb2.RunPluginResponse(exitcode=process.wait())


@contextlib.contextmanager
def _child(argv: list[str], **options) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(argv, **options)
    CHILDREN.add(process)
    try:
        yield process
    finally:
        CHILDREN.discard(process)


def _too_big(size: int) -> str:
    """Why the program cannot start (E2BIG; Pulumi's own host fails alike, naming nothing: pulumi/pulumi#8680)."""
    return (f"the program cannot start: the stack config is {size / 1024:.0f} KiB as JSON, and Pulumi passes it in "
            f"one environment variable (PULUMI_CONFIG), which Linux limits to {MAX_ARG_STRLEN // 1024} KiB "
            "(MAX_ARG_STRLEN). Move endpoints from hf-endpoints:endpoints into files that hf-endpoints:endpointFiles "
            "names (README, \"Hundreds of endpoints\"); secrets stay in the stack file")


def _end_with_parent(parent: int) -> None:
    """The CLI starts the host and talks to it until it is done; if the CLI dies (SIGKILL, a lost runner), its
    plugins are not told. Poll: once this process has another parent, end the children and exit."""
    while os.getppid() == parent:
        time.sleep(1)
    for child in list(CHILDREN):
        child.kill()
    os._exit(1)


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str):
        self.engine_address = engine_address

    def Handshake(self, request, context):
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=os.environ.get("HF_ENDPOINTS_PULUMI_VERSION", "3.0.0"))

    def GetRequiredPlugins(self, request, context):
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def RuntimeOptionsPrompts(self, request, context):
        return language_pb2.RuntimeOptionsResponse()

    def About(self, request, context):
        return language_pb2.AboutResponse(executable=sys.executable, version=sys.version.split()[0])

    def InstallDependencies(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED,
                      "this language host does not install dependencies: run ./scripts/test or "
                      "./scripts/up-local once, which create ./venv from requirements.txt")

    def Run(self, request, context):
        info = request.info
        root = info.root_directory or request.pwd
        python = _python(root, _options(info))
        argv = [python, "-u", str(EXEC_SCRIPT),
                "--monitor", request.monitor_address, "--engine", self.engine_address,
                "--project", request.project, "--root_directory", root, "--stack", request.stack,
                "--pwd", request.pwd, "--dry_run", "true" if request.dryRun else "false",
                "--parallel", str(request.parallel), "--organization", request.organization,
                info.entry_point or request.program or ".", *request.args]
        env = dict(os.environ)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        venv_bin = str(Path(python).parent)
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONHOME", None)
        # The program's output is the user's: pass it through to the CLI, which shows it as diagnostics.
        try:
            with _child(argv, cwd=request.pwd or None, env=env, stdin=subprocess.DEVNULL) as program:
                code = program.wait()
        except OSError as error:
            if error.errno != errno.E2BIG:
                raise
            return language_pb2.RunResponse(error=_too_big(len(env["PULUMI_CONFIG"].encode())))
        if code == 0:
            return language_pb2.RunResponse()
        if code == BAIL_EXIT_CODE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {code}")

    def RunPlugin(self, request, context):
        info = request.info
        python = _python(info.root_directory or info.program_directory, _options(info))
        env = dict(os.environ)
        env.update(item.split("=", 1) for item in request.env if "=" in item)
        with _child([python, "-u", info.program_directory, *request.args], cwd=request.pwd or None, env=env,
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
            context.add_callback(process.kill)  # the engine ends the plugin by closing the stream
            yield from _stream(process)

    def Cancel(self, request, context):
        return empty_pb2.Empty()


def main() -> None:
    threading.Thread(target=_end_with_parent, args=(os.getppid(),), daemon=True).start()
    engine_address = sys.argv[-1] if len(sys.argv) > 1 else ""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(LanguageHost(engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    # The CLI stops its plugins with SIGINT (then SIGKILL): a quiet exit, not a KeyboardInterrupt traceback.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
