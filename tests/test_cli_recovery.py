"""Crash recovery through the real CLI: `pulumi up` killed with SIGKILL in the middle of a create."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"


def pending_operations(project) -> list[dict]:
    """The operations `pulumi stack export` still holds as pending (interrupted)."""
    return project.export()["deployment"].get("pending_operations") or []


def test_killed_up_converges_with_the_readme_commands(project, emulator):
    """The create's POST landed, then the CLI was killed: the engine leaves the stack locked and the create
    pending. The README's commands (`python -m providers.unlock`, `pulumi refresh --clear-pending-creates`, then
    `pulumi up`) converge: one endpoint, the one the killed run made, taken back with no flag; no duplicate, no
    pending operation left in the state, and destroy leaves nothing behind."""
    project.edit_endpoint(NAME, paused=True)  # create = POST, then pause: the kill falls between the two
    emulator.faults(latency_seconds=2)
    process = project.start("up", "--stack", "local", "--yes", "--skip-preview")
    deadline = time.monotonic() + 60
    while not any(c["method"] == "POST" and c["path"] == "/v2/endpoint/local" and c["status"] == 202
                  for c in emulator.calls()):
        assert process.poll() is None and time.monotonic() < deadline, "the create never reached the API"
        time.sleep(0.02)
    project.kill(process)  # the emulator's call log, not the CLI's output, says the POST landed
    emulator.faults(latency_seconds=0)
    # Our language host notices that the CLI is gone and ends, with the program it was running; Pulumi's
    # dynamic-provider host (its own code) stays until killed, as with a release CLI.
    deadline = time.monotonic() + 15
    while any("language_host.py" in command or "pulumi-language-python-exec" in command
              for command in project.leftovers().values()):
        assert time.monotonic() < deadline, project.leftovers()
        time.sleep(0.1)
    assert all("pulumi.dynamic" in command or "pulumi-resource-pulumi-python" in command
               for command in project.kill_leftovers().values())

    locked = project.up(check=False)
    assert locked.code != 0
    assert "the stack is currently locked by 1 lock(s)" in locked.output
    assert "`pulumi cancel`" in locked.output
    unlocked = project.unlock()
    assert "Running `pulumi cancel --stack local --yes`." in unlocked.stdout
    assert f"{NAME} (interrupted while creating)" in unlocked.stdout
    assert "pulumi refresh --clear-pending-creates --stack local --yes" in unlocked.stdout
    # A plain refresh keeps the pending create, whatever the CLI's warning suggests; --clear-pending-creates drops it.
    project.refresh()
    assert [op["type"] for op in pending_operations(project)] == ["creating"]
    project.refresh("--clear-pending-creates")
    assert pending_operations(project) == []
    emulator.clear_calls()
    recovered = project.up()
    assert "interrupted while creating" not in recovered.output
    assert "taking back the endpoint this stack created before an interrupted run" in recovered.output
    assert [(c["method"], c["path"]) for c in emulator.calls() if c["method"] == "POST"
            and c["path"] == "/v2/endpoint/local"] == [("POST", "/v2/endpoint/local")]  # answered 409: no duplicate
    (live,) = emulator.endpoints("local")
    assert live["status"]["state"] == "paused"
    assert [r["id"] for r in project.resources()] == [f"local/{NAME}"]
    assert pending_operations(project) == []
    project.preview("--expect-no-changes")
    project.destroy()
    assert emulator.endpoints("local") == []
    assert project.leftovers() == {}
