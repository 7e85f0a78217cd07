"""Whether the run that wrote a Pulumi lock is still going, as far as this host can tell.

The lock names the CLI's pid, user, host and start time. On the host that wrote it, the pid answers: a process
with that pid that started no later than the lock was written is the run itself (or, rarely, an older process
that got the pid back, which counts as alive too: a false "alive" only costs a `--force`). A process that started
after the lock is another one that reuses the pid. On any other host nothing can be seen, so only the lock's age
speaks (see `providers.unlock`).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from providers.state_locks import Lock

PROC = Path("/proc")
# A lock is written a moment after its process started; /proc's start time is counted in clock ticks.
START_SLACK = timedelta(seconds=2)


@dataclass(frozen=True)
class Process:
    """A live process of this host: its start time (None where /proc is missing) and its command line."""

    pid: int
    started: datetime | None
    command: str


def this_host() -> str:
    """The host name as the CLI records it (Go's os.Hostname: the kernel's node name)."""
    return socket.gethostname()


def _boot_time(proc: Path) -> datetime:
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return datetime.fromtimestamp(int(line.split()[1]), UTC)
    raise OSError("no btime in /proc/stat")


def live_process(pid: int, proc: Path = PROC) -> Process | None:
    """The process `pid` of this host if it is alive (zombies are not), else None."""
    if pid <= 0:
        return None
    entry = proc / str(pid)
    if not proc.is_dir():  # no /proc (macOS): the pid's existence is all there is
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return Process(pid, None, "")
    try:
        fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        boot = _boot_time(proc)
    except OSError:
        return None
    if fields[0] == "Z":
        return None
    ticks = int(fields[19])  # field 22 of stat: start time in clock ticks after boot
    started = boot + timedelta(seconds=ticks / os.sysconf("SC_CLK_TCK"))
    return Process(pid, started, command)


def holds_lock(process: Process, lock: Lock) -> bool:
    """Is this live process of the lock's host the run that wrote it (it started no later than the lock)?"""
    return process.pid == lock.pid and (process.started is None or process.started <= lock.timestamp + START_SLACK)
