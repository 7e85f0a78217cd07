"""Crash recovery through the real CLI: `pulumi up` killed with SIGKILL in the middle of a create."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"


def test_killed_up_converges_with_the_readme_commands(project, emulator):
    """The create's POST landed, then the CLI was killed: the engine leaves the stack locked and the create
    pending. The README's commands (`pulumi cancel`, then `pulumi up`) converge: one endpoint, the one the
    killed run made, taken back with no flag; no duplicate, and destroy leaves nothing behind."""
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
    project.run("cancel", "--stack", "local", "--yes")
    emulator.clear_calls()
    recovered = project.up()
    assert "interrupted while creating" in recovered.output
    assert [(c["method"], c["path"]) for c in emulator.calls() if c["method"] == "POST"
            and c["path"] == "/v2/endpoint/local"] == [("POST", "/v2/endpoint/local")]  # answered 409: no duplicate
    (live,) = emulator.endpoints("local")
    assert live["status"]["state"] == "paused"
    assert [r["id"] for r in project.resources()] == [f"local/{NAME}"]
    project.preview("--expect-no-changes")
    project.destroy()
    assert emulator.endpoints("local") == []
    assert project.leftovers() == {}
