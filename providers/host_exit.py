"""The provider host's exit: at once, once Python has nothing left to run.

Why: when a command is done, the engine ends the dynamic-provider host (`python -m pulumi.dynamic`) with SIGINT and
waits for it to exit before it finishes (`TerminateProcessGroup` in the pinned SDK). The host then stops its gRPC
server, Python joins every thread (so every provider call in flight completes) and runs the atexit handlers, then
finalizes gRPC's core and every module: about 0.1 s on the path of every `preview` and `up`, for nothing. The last
atexit handler registered runs first: this one flushes stdout and stderr (the engine shows them) and ends the
process with the status Python would have used: 1 after an uncaught exception in the main thread, the code given to
`sys.exit`, else 0 (a bare `raise SystemExit(n)` is not seen: the host never raises one, and neither does this
project).

Installed once per process by `ConfiguredProvider.configure`, only inside the provider host: never in a test run or
a tool that imports the providers.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from types import TracebackType

_LOCK = threading.Lock()
_STATE = {"installed": False, "status": 0}


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing left to tell
            stream.flush()
    os._exit(_STATE["status"])


def install() -> None:
    """Register the quick exit (once): after every thread has been joined, before Python's finalization."""
    with _LOCK:
        if _STATE["installed"]:
            return
        _STATE["installed"] = True
        previous = sys.excepthook

        def failed(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
            _STATE["status"] = 1
            previous(kind, value, trace)

        sys.excepthook = failed
        exit_with = sys.exit

        def exit_recorded(status: object = None) -> None:
            _STATE["status"] = 0 if status is None else status if isinstance(status, int) else 1
            exit_with(status)

        sys.exit = exit_recorded
        atexit.register(_exit_now)
