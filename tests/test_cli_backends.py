"""A team's shared state, through the real CLI: two checkouts of the project on one stack, on a real PostgreSQL
server and a real S3-compatible server (versitygw), against the emulator.

The backend's own listing (the state table's rows, the bucket's keys) is the witness of the locks, and the
emulator's call log of what reached the API, so no test waits on the CLI's output or on a clock.
"""

from __future__ import annotations

import os
import pwd
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from providers.lock_owner import this_host
from tests.pulumi_cli import PulumiProject, Result

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"
USER = pwd.getpwuid(os.getuid()).pw_name  # as the CLI records it (Go's user.Current), whatever $USER says
LOCKED = ("error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
          "the lock file with `pulumi cancel`.")


@dataclass(frozen=True)
class SharedBackend:
    """One stack's shared state: the URL and environment both checkouts use, and the locks now in it."""

    name: str
    url: str
    env: dict[str, str]
    lock_keys: Callable[[], list[str]]
    secret: str  # the credential in the URL or environment, which no output may show


@pytest.fixture(params=["postgres", "s3"])
def shared_backend(request) -> SharedBackend:
    """A fresh state table (PostgreSQL) or bucket (versitygw) on the session's server."""
    if request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        table = f"state_{uuid.uuid4().hex[:10]}"
        return SharedBackend("postgres", server.url(table), {},
                             lambda: [key for key, _ in server.rows(table) if "/.pulumi/locks/" in key],
                             server.password)
    server = request.getfixturevalue("s3_server")
    bucket = f"state-{uuid.uuid4().hex[:10]}"
    server.create_bucket(bucket)
    return SharedBackend("s3", server.url(bucket, "team"), server.env,
                         lambda: [key for key in server.keys(bucket) if "/.pulumi/locks/" in key], server.secret_key)


@pytest.fixture
def checkouts(tmp_path, pulumi_bin, emulator, shared_backend):
    """Two checkouts (a, b) of the `local` stack on the shared backend, its endpoint paused (so that a create is
    a POST, then a pause: a kill can fall between the two)."""
    emulator.configure(reply="positive", time_scale=60)
    a = PulumiProject(tmp_path / "a", pulumi_bin, emulator, backend_url=shared_backend.url,
                      backend_env=shared_backend.env)
    a.point_at_emulator()
    a.only_endpoints(NAME)
    a.edit_endpoint(NAME, paused=True)
    a.init()
    b = a.teammate(tmp_path / "b")
    yield a, b
    a.kill_leftovers()
    b.kill_leftovers()


def wait_until(condition: Callable[[], object], what: str, process=None, timeout: float = 60) -> None:
    """Poll `condition` (the backend, the call log) until it holds; the run under test must still be going."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process is None or process.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"no {what} in {timeout}s"
        time.sleep(0.02)


def landed(emulator, method: str, path: str) -> Callable[[], bool]:
    return lambda: any(c["method"] == method and c["path"] == path and 200 <= c["status"] < 300
                       for c in emulator.calls())


def assert_refused_on_the_lock(result: Result, backend: SharedBackend, holder_pid: int) -> None:
    """The loser's message, as the pinned CLI prints it: the lock, and whose it is, credentials masked."""
    assert result.code == 1, result.output
    assert LOCKED in result.output
    assert re.search(rf"  {backend.name}://\S*/\.pulumi/locks/organization/hf-endpoints/local/[0-9a-f-]{{36}}\.json"
                     rf"\S*: created by {re.escape(USER)}@{re.escape(this_host())} \(pid {holder_pid}\) "
                     r"at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result.output), result.output
    assert backend.secret not in result.output


def pending(project: PulumiProject) -> list[dict]:
    return project.export()["deployment"].get("pending_operations") or []


def creates(emulator) -> int:
    return sum(c["method"] == "POST" and c["path"] == "/v2/endpoint/local" for c in emulator.calls())


def test_two_checkouts_take_turns_on_the_lock(checkouts, emulator, shared_backend):
    """While one checkout's `up` runs, the other's `up`, `destroy` and `providers.unlock` are refused, naming the
    run that holds the lock (a preview is not); that run deploys, once, and the other checkout sees it. Then a
    `destroy` running holds off the other's `up`, and leaves nothing behind."""
    a, b = checkouts
    emulator.faults(latency_seconds=1)  # every API call takes a second: the first run holds the lock for several
    first = a.start("up", "--stack", "local", "--yes", "--skip-preview")
    wait_until(shared_backend.lock_keys, "lock of the first run", first)

    assert_refused_on_the_lock(b.up(check=False), shared_backend, first.pid)
    assert_refused_on_the_lock(b.destroy(check=False), shared_backend, first.pid)
    unlock = b.unlock(check=False)
    assert unlock.code == 1, unlock.output
    assert (f"  {USER}@{this_host()} (pid {first.pid}) since " in unlock.stdout
            and ": still running on this host: " in unlock.stdout), unlock.stdout
    assert (f"Not unlocked: the run holding the lock is still going (pid {first.pid} on this host). `pulumi cancel` "
            "would not stop it") in unlock.stdout
    assert shared_backend.lock_keys(), "the refusal left the lock in place"
    # A preview takes no lock, not even with --refresh (the CI's drift check needs no concurrency group).
    assert LOCKED not in b.preview("--refresh", check=False).output
    assert shared_backend.secret not in unlock.output

    output, _ = first.communicate(timeout=180)
    assert first.returncode == 0, output
    emulator.faults(latency_seconds=0)
    assert [e["name"] for e in emulator.endpoints("local")] == [NAME]
    assert creates(emulator) == 1  # nothing duplicated
    assert [r["id"] for r in b.resources()] == [f"local/{NAME}"]  # nothing lost: the other checkout sees it
    b.preview("--expect-no-changes")
    assert shared_backend.lock_keys() == []

    emulator.faults(latency_seconds=1)
    teardown = a.start("destroy", "--stack", "local", "--yes", "--skip-preview")
    wait_until(shared_backend.lock_keys, "lock of the destroy", teardown)
    assert_refused_on_the_lock(b.up(check=False), shared_backend, teardown.pid)
    output, _ = teardown.communicate(timeout=180)
    assert teardown.returncode == 0, output
    assert emulator.endpoints("local") == []
    assert b.resources() == []
    assert shared_backend.lock_keys() == []


def test_killed_runs_recover_with_the_documented_commands(checkouts, emulator, shared_backend):
    """SIGKILL of an `up` (after its POST), of an update (after its PUT) and of a `destroy` (after its DELETE) in one
    checkout; each time the other checkout follows the README: `providers.unlock` (the holder is gone, so it runs
    `pulumi cancel`), `pulumi refresh --clear-pending-creates` where it says so, then the run again. Each ends
    converged, with no lock and no pending operation, one endpoint (then none), and nothing left running."""
    a, b = checkouts
    endpoint_path = f"/v2/endpoint/local/{NAME}"

    def kill_after(args: tuple[str, ...], method: str, path: str) -> None:
        emulator.clear_calls()
        emulator.faults(latency_seconds=1)
        run = a.start(*args, "--stack", "local", "--yes", "--skip-preview")
        wait_until(landed(emulator, method, path), f"{method} {path}", run)
        a.kill(run)
        emulator.faults(latency_seconds=0)
        a.kill_leftovers()
        assert shared_backend.lock_keys(), "a killed run leaves its lock"

    def unlock() -> str:
        result = b.unlock()
        assert "over: pid " in result.stdout and " has ended on this host" in result.stdout, result.stdout
        assert "Running `pulumi cancel --stack local --yes`." in result.stdout
        assert shared_backend.lock_keys() == []
        assert shared_backend.secret not in result.output
        return result.stdout

    kill_after(("up",), "POST", "/v2/endpoint/local")
    advice = unlock()
    assert f"{NAME} (interrupted while creating)" in advice
    assert "pulumi refresh --clear-pending-creates --stack local --yes" in advice
    b.refresh("--clear-pending-creates")
    assert pending(b) == []
    assert "taking back the endpoint this stack created before an interrupted run" in b.up().output
    assert creates(emulator) == 2  # the killed run's and the 409 of the recovery: one endpoint
    assert [e["name"] for e in emulator.endpoints("local")] == [NAME]

    for project in (a, b):  # a reviewed change, pulled by both
        project.edit_endpoint(NAME, paused=False, max_replica=2)
    kill_after(("up",), "PUT", endpoint_path)
    unlock()
    b.up()
    assert pending(b) == []
    (live,) = emulator.endpoints("local")
    assert (live["compute"]["scaling"]["maxReplica"], live["status"]["state"]) == (2, "running")
    b.preview("--expect-no-changes")

    kill_after(("destroy",), "DELETE", endpoint_path)
    unlock()
    b.destroy()
    assert pending(b) == []
    assert emulator.endpoints("local") == []
    assert b.resources() == []
    assert shared_backend.lock_keys() == []
    assert a.leftovers() == {} and b.leftovers() == {}
