"""Unlock a stack whose run is over, and never one whose run is still going.

Usage (in the project's directory, with the backend login or PULUMI_BACKEND_URL the stack's runs use)::

    python -m providers.unlock --stack STACK [--min-age-minutes N] [--force]

Why: a killed `pulumi up` leaves its lock, and Pulumi's message says to run `pulumi cancel`. On a self-managed
backend `pulumi cancel` deletes every lock of the stack and stops nothing: if that run is still going, the next
run sees a stale state and undoes what it deploys. This command reads the stack's locks from the backend
(`providers.state_locks`), says whose they are (user, host, pid, time), and only runs `pulumi cancel` when each
lock's run is over:

* a lock written on this host: its process must be gone (`providers.lock_owner`);
* a lock from another host: nothing here can see that run, so it must be older than the longest a run of this
  stack can hold the lock: `hf-endpoints:readyTimeoutSeconds` + `hf-endpoints:deleteTimeoutSeconds` + 30 minutes
  (65 minutes with the defaults; `--min-age-minutes` overrides it).

`--force` unlocks whatever the locks say, for when a person has made sure by hand that the run is over. Afterwards
it says what the interrupted run left pending and the command that clears it.

Exit status: 0 unlocked, or no lock; 1 refused (a run may still be going, or the locks changed meanwhile); 2 an
error (no Pulumi CLI, an unreadable backend, `pulumi cancel` failed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from providers.lock_owner import PROC, holds_lock, live_process, this_host
from providers.state_locks import Lock, LockReadError, read_locks, redact

REPO = Path(__file__).resolve().parents[1]
PROJECT_KEY_PREFIX = "hf-endpoints:"
TIMEOUT_KEYS = ("readyTimeoutSeconds", "deleteTimeoutSeconds")
MARGIN = timedelta(minutes=30)


class UnlockError(Exception):
    """A reason to stop with exit status 2; the message says what to do."""


@dataclass(frozen=True)
class Verdict:
    """What is known of one lock's run: over or maybe still going, and why, in one line."""

    lock: Lock
    over: bool
    why: str
    running_pid: int | None = None  # the live process of this host that holds it


def age_text(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


def judge(lock: Lock, now: datetime, min_age: timedelta, hostname: str, proc: Path = PROC) -> Verdict:
    """Is the run that wrote `lock` over? On its own host its process says so; elsewhere only its age."""
    age = now - lock.timestamp
    if lock.hostname == hostname:
        process = live_process(lock.pid, proc)
        if process is None:
            return Verdict(lock, True, f"over: pid {lock.pid} has ended on this host")
        if not holds_lock(process, lock):
            return Verdict(lock, True, f"over: pid {lock.pid} is now another process, started after the lock")
        return Verdict(lock, False, f"still running on this host: {process.command or f'pid {lock.pid}'}",
                       running_pid=lock.pid)
    if age < min_age:
        return Verdict(lock, False, f"on another host, {age_text(age)} old (younger than {age_text(min_age)}): its "
                                    "run may still be going")
    return Verdict(lock, True, f"on another host, {age_text(age)} old (older than {age_text(min_age)}): taken for "
                               "over")


def refusal(verdicts: Sequence[Verdict], min_age: timedelta, min_age_source: str) -> str:
    """Why nothing was unlocked, and what to do instead."""
    running = [v for v in verdicts if v.running_pid is not None]
    if running:
        pids = " ".join(str(v.running_pid) for v in running)
        return (f"Not unlocked: the run holding the lock is still going (pid {pids} on this host). `pulumi cancel` "
                "would not stop it: it only deletes the lock, and the next run would then undo what that run "
                f"deploys. Let it finish, or stop it first (kill {pids}), then run this again.")
    owners = ", ".join(f"{v.lock.username}@{v.lock.hostname} (pid {v.lock.pid})" for v in verdicts if not v.over)
    return (f"Not unlocked: the run of {owners} may still be going, and nothing on this host can tell. Ask them, or "
            "look at that CI job; once someone has made sure the run is over, run this again with --force. Locks "
            f"from another host count as over after {age_text(min_age)} ({min_age_source}; --min-age-minutes "
            "changes it).")


# --- the project, its stack and the CLI -------------------------------------------------------------------

def project_name(directory: Path) -> str:
    path = directory / "Pulumi.yaml"
    try:
        return str(yaml.safe_load(path.read_text())["name"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
        raise UnlockError(f"no Pulumi project here ({path}: {error}); run this in the project's directory") \
            from error


def stack_min_age(directory: Path, stack: str) -> tuple[timedelta, str]:
    """The longest a run of this stack may hold its lock: its readiness and delete timeouts plus a margin."""
    declared = (yaml.safe_load((directory / "Pulumi.yaml").read_text()) or {}).get("config") or {}
    stack_file = directory / f"Pulumi.{stack}.yaml"
    config = ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}) if stack_file.exists() else {}
    total = MARGIN
    for name in TIMEOUT_KEYS:
        key = PROJECT_KEY_PREFIX + name
        declaration = declared.get(key)  # `key: {type, default}`, or the short form `key: value`
        default = declaration.get("default", 0) if isinstance(declaration, dict) else declaration or 0
        value = config.get(key, default)
        try:
            total += timedelta(seconds=float(value))
        except (TypeError, ValueError) as error:
            raise UnlockError(f"{key} in {stack_file.name} is {value!r}, not a number of seconds") from error
    return total, "hf-endpoints:readyTimeoutSeconds + deleteTimeoutSeconds + 30 min"


def pulumi_cli() -> str:
    found = shutil.which("pulumi") or (str(REPO / "scripts" / "pulumi") if (REPO / "scripts" / "pulumi").exists()
                                       else None)
    if found is None:
        raise UnlockError("no `pulumi` on PATH: install the Pulumi CLI, or run ./scripts/pulumi --install-only and "
                          "put its directory on PATH")
    return found


def run_pulumi(cli: str, directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([cli, *args, "--color", "never"], cwd=directory, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


def backend_url(cli: str, directory: Path) -> str:
    """The backend the CLI uses here (PULUMI_BACKEND_URL, Pulumi.yaml's `backend.url`, or the login)."""
    done = run_pulumi(cli, directory, "whoami", "--json")
    if done.returncode != 0:
        raise UnlockError(f"`pulumi whoami` failed, so the stack's backend is unknown: {redact(done.stderr.strip())}")
    return str(json.loads(done.stdout)["url"])


def pending_operations(cli: str, directory: Path, stack: str) -> list[tuple[str, str]]:
    """(type, resource name) of each pending operation in the stack's state."""
    done = run_pulumi(cli, directory, "stack", "export", "--stack", stack)
    if done.returncode != 0:
        return []
    operations = json.loads(done.stdout).get("deployment", {}).get("pending_operations") or []
    return [(op["type"], op["resource"]["urn"].rsplit("::", 1)[-1]) for op in operations]


def pending_advice(operations: Sequence[tuple[str, str]], stack: str) -> str:
    """What the interrupted run left pending and how it is cleared (as the pinned CLI behaves)."""
    listed = ", ".join(f"{name} (interrupted while {kind})" for kind, name in operations)
    head = f"The interrupted run left {len(operations)} pending operation(s): {listed}."
    if any(kind == "creating" for kind, _ in operations):
        return (f"{head} Pulumi keeps an interrupted create, and warns about it, until it is cleared:\n"
                f"  pulumi refresh --clear-pending-creates --stack {stack} --yes\n"
                f"then `pulumi up --stack {stack}` (it takes back an endpoint the interrupted run had created).")
    return f"{head} The next `pulumi up --stack {stack}` (or `pulumi destroy`) clears them."


# --- the command -------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m providers.unlock",
                                     description="Unlock a stack whose run is over (then `pulumi cancel`), and "
                                                 "refuse while that run may still be going.")
    parser.add_argument("--stack", required=True, help="the stack, e.g. dev")
    parser.add_argument("--min-age-minutes", type=float, default=None,
                        help="how old a lock from another host must be to count as over (default: the stack's "
                             "readyTimeoutSeconds + deleteTimeoutSeconds + 30 min)")
    parser.add_argument("--force", action="store_true",
                        help="unlock whatever the locks say: only once a person has made sure the run is over")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the project's directory (default: here)")
    return parser


def unlock(args: argparse.Namespace, now: datetime | None = None) -> int:
    directory = args.cwd.resolve()
    stack = args.stack.rsplit("/", 1)[-1]
    project = project_name(directory)
    if args.min_age_minutes is not None:
        min_age, source = timedelta(minutes=args.min_age_minutes), "--min-age-minutes"
    else:
        min_age, source = stack_min_age(directory, stack)
    cli = pulumi_cli()
    url = backend_url(cli, directory)
    locks = read_locks(url, project, stack)
    if not locks:
        print(f"Stack {stack} has no lock: nothing to unlock.")
        return 0
    now = now or datetime.now(UTC)
    hostname = this_host()
    verdicts = [judge(lock, now, min_age, hostname) for lock in locks]
    print(f"Stack {stack} is locked by {len(locks)} lock(s):")
    for verdict in verdicts:
        lock = verdict.lock
        print(f"  {lock.owner} since {lock.timestamp:%Y-%m-%dT%H:%M:%SZ}: {verdict.why}")
    if not all(v.over for v in verdicts):
        if not args.force:
            print(refusal(verdicts, min_age, source))
            return 1
        print("--force: unlocking all the same, as you have made sure that run is over.")
    if {lock.key for lock in read_locks(url, project, stack)} != {lock.key for lock in locks}:
        print("Not unlocked: the stack's locks changed while they were checked (a run started or ended); run this "
              "again.")
        return 1
    print(f"Running `pulumi cancel --stack {stack} --yes`.")
    done = run_pulumi(cli, directory, "cancel", "--stack", stack, "--yes")
    print(redact((done.stdout + done.stderr).strip(), url))
    if done.returncode != 0:
        raise UnlockError(f"`pulumi cancel` exited {done.returncode} (above); the locks may still be there")
    operations = pending_operations(cli, directory, stack)
    if operations:
        print(pending_advice(operations, stack))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return unlock(args)
    except (UnlockError, LockReadError) as error:
        print(f"python -m providers.unlock: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
