"""Start provider hosts by forking one process that already imported what a host imports.

Run as ``python -m tests.harness.host_zygote <fd> <module>...`` by :class:`HostFactory`. Why: the CLI starts a
fresh ``python -m pulumi.dynamic`` per operation, and so must a faithful harness, but a cold start costs about
0.4 s of CPU (Pulumi's SDK, gRPC, the provider modules). This process pays that once: it imports the host's
modules (and the given ``<module>``s, e.g. ``providers``) without starting anything, then forks on request.
Each fork runs the real host's code, ``pulumi.dynamic.__main__`` as ``__main__`` (a fresh gRPC server, an
empty provider cache, nothing configured), with its own environment, working directory and output pipes.

Protocol over the UNIX socket ``<fd>``: a request is one JSON line ``{"env": {...}, "cwd": "..."}`` sent with
two file descriptors (the host's stdout and stderr); the answer is the host's pid as one line. The host is a
child of this process, which reaps it when it exits; the caller stops it by pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import io
import json
import os
import runpy
import signal
import socket
import sys


def _die_with_parent() -> None:
    """Linux: a host outlives neither this process nor, through it, the test run (PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _serve_host(request: dict, out_fd: int, err_fd: int) -> None:
    """In the forked host: plumb the pipes, the environment and the directory, then run the host."""
    _die_with_parent()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    # `python -u`: unbuffered standard streams.
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", 0), write_through=True)
    sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", 0), write_through=True)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.path[0] = request["cwd"]  # what `python -m` puts first
    sys.argv = ["pulumi.dynamic", "127.0.0.1:0"]
    try:
        runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
    finally:
        os._exit(0)


def _reap(*_: object) -> None:
    """SIGCHLD: collect every host that exited (the caller watches its pipes and its pid)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    channel = socket.socket(fileno=int(sys.argv[1]))
    # Everything `pulumi/dynamic/__main__.py` imports, plus the provider modules, imported once here.
    for module in ("grpc", "dill", "pulumi", "pulumi.dynamic", "pulumi.runtime.proto.provider_pb2_grpc",
                   *sys.argv[2:]):
        importlib.import_module(module)
    signal.signal(signal.SIGCHLD, _reap)
    channel.sendall(b"ready")
    while True:
        message, fds, _, _ = socket.recv_fds(channel, 65536, 2)
        if not message:
            return  # the factory closed its end
        out_fd, err_fd = fds
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            channel.close()
            _serve_host(json.loads(message), out_fd, err_fd)
        os.close(out_fd)
        os.close(err_fd)
        channel.sendall(str(pid).encode())


if __name__ == "__main__":
    main()
