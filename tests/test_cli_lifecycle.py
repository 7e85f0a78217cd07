"""The lifecycle through the real Pulumi CLI and engine: preview, up, refresh, destroy of our stacks.

Each test copies the project into a scratch directory with its own file backend, points the `local` stack
at the emulator and runs `pulumi` as a user would. The emulator's call log is the judge of what reached the
API. These tests need the pinned CLI (`scripts/pulumi --install-only`); with `CI` set they fail without it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request

import pytest

from emulator.hub import builtin_sha

pytestmark = pytest.mark.cli
NS = "local"
NAME = "jais-13b-chat"
URN_ENDPOINT = f"urn:pulumi:local::hf-endpoints::pulumi-python:dynamic/hf:InferenceEndpoint::{NAME}"
WRITES = ("POST", "PUT", "DELETE")
HUB_SHA = builtin_sha("derek-thomas/jais-13b-chat-hf")  # the emulator Hub's commit of the stack's model


def api_calls(emulator, methods=("GET", *WRITES)) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in emulator.calls()
            if c["path"].startswith("/v2/") and c["method"] in methods]


def api_writes(emulator) -> list[tuple[str, str]]:
    return api_calls(emulator, WRITES)


def property_changes(preview_output: str, resource: str = "InferenceEndpoint") -> list[str]:
    """The property lines `pulumi preview --diff` marks as changed (`~ env`, `~ MAX_INPUT_LENGTH ...`) in the
    section of one resource type."""
    lines, inside = [], False
    for line in preview_output.splitlines():
        header = re.match(r"^\s+[~+-]+\s+[\w-]+:[\w/-]+:(\w+): \(", line)
        if header or line.startswith("    --outputs:--"):
            inside = bool(header) and header.group(1) == resource
        elif inside and re.match(r"^\s+[~+-]\s+\w[\w.-]*\s*:", line):
            lines.append(line.strip())
    return lines


def hub_calls(emulator) -> list[tuple[str, str]]:
    """Calls to the emulator's Hub routes (check reads the model's facts there), not to the Endpoints API."""
    return [(c["method"], c["path"]) for c in emulator.calls() if not c["path"].startswith("/v2/")]


def test_preview_of_a_new_stack_shows_creates_and_calls_nothing(project, emulator):
    """A preview makes zero Endpoints API calls and shows what up would create. check reads the model's facts
    from the Hub once (model info, config.json); a second preview reads them from the disk cache: no call at
    all."""
    emulator.clear_calls()
    assert project.preview_steps() == [("create", NAME), ("create", "endpoints-ready")]
    assert api_calls(emulator) == []
    model = "derek-thomas/jais-13b-chat-hf"
    assert hub_calls(emulator) == [
        ("GET", f"/api/models/{model}"), ("HEAD", f"/{model}/resolve/{HUB_SHA}/config.json"),
        ("GET", f"/{model}/resolve/{HUB_SHA}/config.json")]
    emulator.clear_calls()
    assert project.preview_steps() == [("create", NAME), ("create", "endpoints-ready")]
    assert emulator.calls() == []


def test_up_serves_and_exports_the_outputs(project, emulator):
    """up waits until the endpoint serves: running, url answering, outputs from the catalog."""
    result = project.up()
    assert f"hf-endpoints: local/{NAME}: ready (health 200 and smoke test matched)" in result.output
    (live,) = emulator.endpoints(NS)
    assert live["status"]["state"] == "running"
    outputs = project.outputs()
    url = f"{emulator.base_url}/e/{NS}/{NAME}"
    assert outputs[NAME] == {"url": url, "state": "running", "price_per_hour": 1,
                             "dashboard_url": f"https://endpoints.huggingface.co/{NS}/endpoints/{NAME}"}
    assert outputs["hourly_cost_at_min_replicas"] == 0  # min_replica 0: scales to zero when idle
    request = urllib.request.Request(
        url, data=json.dumps({"inputs": "Hi", "parameters": {"max_new_tokens": 3}}).encode(), method="POST",
        headers={"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        assert json.loads(response.read()) == [{"generated_text": "positive", "details": None}]


LIST = ("GET", f"/v2/endpoint/{NS}")


def test_nothing_changed_means_no_changes_and_no_writes(deployed, emulator):
    """Right after up, `preview --expect-no-changes` passes with one call, the list diff compares the live endpoints
    with, and up writes nothing."""
    deployed.preview("--expect-no-changes")
    assert api_calls(emulator) == [LIST]
    assert hub_calls(emulator) == []
    result = deployed.up()
    assert "3 unchanged" in result.output
    assert api_writes(emulator) == []


def test_refresh_of_an_unchanged_stack_changes_nothing(deployed, emulator):
    """A refresh reads the live endpoint (whose status moved on since create); with no drift, the next
    preview still shows no changes: readiness does not wait again because of a refresh."""
    deployed.refresh()
    deployed.preview("--expect-no-changes")
    assert api_writes(emulator) == []


def test_env_change_is_one_put_of_that_key(deployed, emulator):
    """An env edit previews as an update of that one key and reaches the API as one PUT of the env map."""
    env = deployed.stack_config()["hf-endpoints:endpoints"][NAME]["env"]
    deployed.edit_endpoint(NAME, env={**env, "MAX_INPUT_LENGTH": "1800"})
    preview = deployed.preview()
    assert property_changes(preview.output) == [
        "~ env                  : {", '~ MAX_INPUT_LENGTH        : "2000" => "1800"']
    assert deployed.preview_steps() == [("update", NAME), ("update", "endpoints-ready")]
    deployed.up()
    assert api_writes(emulator) == [("PUT", f"/v2/endpoint/{NS}/{NAME}")]
    (live,) = emulator.endpoints(NS)
    assert live["model"]["env"]["MAX_INPUT_LENGTH"] == "1800"
    assert live["status"]["state"] == "running"


def test_region_change_replaces_under_the_same_name(deployed, emulator):
    """A region change deletes first (the name is reused), then creates: never 409."""
    deployed.edit_endpoint(NAME, region="eu-west-1")
    assert deployed.preview_steps() == [("replace", NAME), ("update", "endpoints-ready")]
    deployed.up()
    writes = api_writes(emulator)
    assert writes == [("DELETE", f"/v2/endpoint/{NS}/{NAME}"), ("POST", f"/v2/endpoint/{NS}")]
    (live,) = emulator.endpoints(NS)
    assert live["provider"] == {"vendor": "aws", "region": "eu-west-1"}
    assert live["status"]["state"] == "running"


def test_pause_then_resume_and_nothing_else(deployed, emulator):
    """paused: true pauses (no PUT), paused: false resumes (no PUT)."""
    deployed.edit_endpoint(NAME, paused=True)
    deployed.up()
    assert api_writes(emulator) == [("POST", f"/v2/endpoint/{NS}/{NAME}/pause")]
    assert deployed.outputs()[NAME]["state"] == "paused"
    emulator.clear_calls()
    deployed.edit_endpoint(NAME, paused=False)
    deployed.up()
    assert api_writes(emulator) == [("POST", f"/v2/endpoint/{NS}/{NAME}/resume")]
    assert deployed.outputs()[NAME]["state"] == "running"


def test_out_of_band_edit_shows_on_refresh_and_up_reverts_it(deployed, emulator):
    """An edit made in the web UI is drift: refresh records it, the next up puts the spec back."""
    emulator.edit(NS, NAME, {"compute": {"scaling": {"maxReplica": 3}}})
    refresh = deployed.refresh("--diff")
    assert "~ max_replica" in refresh.output and "1 => 3" in refresh.output
    emulator.clear_calls()
    deployed.up()
    assert api_writes(emulator) == [("PUT", f"/v2/endpoint/{NS}/{NAME}")]
    (live,) = emulator.endpoints(NS)
    assert live["compute"]["scaling"]["maxReplica"] == 1


def test_out_of_band_delete_leaves_state_on_refresh_and_up_recreates(deployed, emulator):
    """An endpoint deleted in the UI: refresh drops it from state, up creates it again."""
    emulator.remove(NS, NAME)
    deployed.refresh()
    assert deployed.resources() == []
    deployed.up()
    assert ("POST", f"/v2/endpoint/{NS}") in api_writes(emulator)
    assert [e["name"] for e in emulator.endpoints(NS)] == [NAME]


DRIFT = [
    ("deleted", lambda emulator: emulator.remove(NS, NAME), "update",
     f"hf-endpoints: local/{NAME}: deleted outside Pulumi; `pulumi up` creates it again",
     [LIST, ("GET", f"/v2/endpoint/{NS}/{NAME}")], [("POST", f"/v2/endpoint/{NS}")]),
    ("edited", lambda emulator: emulator.edit(NS, NAME, {"compute": {"scaling": {"maxReplica": 3}}}), "update",
     f"hf-endpoints: local/{NAME}: changed outside Pulumi: max_replica 3 (the stack file: 1); `pulumi up` puts the "
     "stack file's values back", [LIST], [("PUT", f"/v2/endpoint/{NS}/{NAME}")]),
]


@pytest.mark.parametrize(("change", "outside", "op", "line", "preview_calls", "writes"), DRIFT,
                         ids=[case[0] for case in DRIFT])
def test_drift_shows_in_the_next_preview_and_up_puts_it_right_without_refresh(
        deployed, emulator, change, outside, op, line, preview_calls, writes):
    """An endpoint deleted or edited outside Pulumi: the next preview (no flag, no `refresh`) says so and fails
    `--expect-no-changes`, for one list call (plus a GET confirming a deletion); the next up puts it right, and then
    nothing is left to change."""
    outside(emulator)
    emulator.clear_calls()
    preview = deployed.preview("--expect-no-changes", check=False)
    assert preview.code != 0 and line in preview.output, preview.output
    assert api_calls(emulator) == preview_calls
    assert deployed.preview_steps() == [(op, NAME), ("update", "endpoints-ready")]
    emulator.clear_calls()
    up = deployed.up()
    assert line in up.output
    assert api_writes(emulator) == writes
    (live,) = emulator.endpoints(NS)
    assert (live["compute"]["scaling"]["maxReplica"], live["status"]["state"]) == (1, "running")
    deployed.preview("--expect-no-changes")


def test_destroy_after_an_out_of_band_delete_succeeds(deployed, emulator):
    """destroy of an endpoint that is already gone: the DELETE's 404 counts as done."""
    emulator.remove(NS, NAME)
    deployed.destroy()
    assert deployed.resources() == []
    assert emulator.endpoints(NS) == []


def test_failed_start_names_the_endpoint_and_stays_destroyable(deployed, emulator):
    """A start that fails: up exits non-zero naming the endpoint and the server's message, then the last lines
    of its container log, and no secret anywhere; the endpoint is in state, so destroy removes it."""
    secret = "s3cr3t-api-key-value"
    deployed.run("config", "set", "--stack", "local", "--secret", "--path",
                 f"hf-endpoints:endpoints.{NAME}.secrets.API_KEY", secret)
    emulator.faults(fail_start_pattern="jais")
    deployed.edit_endpoint(NAME, region="eu-west-1")  # a replacement: a fresh start
    result = deployed.up(check=False)
    assert result.code != 0
    assert f"local/{NAME} failed to deploy: " in result.output
    assert "Last 12 lines of its container log (secrets masked):" in result.output
    assert "| torch.OutOfMemoryError: CUDA out of memory." in result.output
    assert "| Error: ShardCannotStart" in result.output
    assert "pulumi/dynamic/__main__.py" not in result.output  # the message alone, no frames of the host
    assert secret not in result.output and emulator.token not in result.output
    assert [r["id"] for r in deployed.resources()] == [f"{NS}/{NAME}"]
    deployed.destroy()
    assert emulator.endpoints(NS) == []


def test_invalid_stack_file_fails_the_preview_naming_the_key(project, emulator):
    """A bad value fails the preview before anything is created, naming the key; zero API calls."""
    project.edit_endpoint(NAME, min_replica=3)
    emulator.clear_calls()
    result = project.preview(check=False)
    assert result.code != 0
    assert (f"endpoints.{NAME}.min_replica: 3 is greater than max_replica (1); lower min_replica or raise "
            "max_replica") in result.output
    assert emulator.calls() == []


def test_destroy_leaves_nothing_and_the_stack_can_be_removed(deployed, emulator):
    """destroy deletes the endpoint (and waits until the name is gone); `pulumi stack rm` then works."""
    deployed.destroy()
    assert api_writes(emulator) == [("DELETE", f"/v2/endpoint/{NS}/{NAME}")]
    assert emulator.endpoints(NS) == []
    deployed.run("stack", "rm", "local", "--yes")
    listing = deployed.run("stack", "ls", "--json").json()
    assert listing == []


def test_stack_config_mistakes_stop_the_preview_without_a_traceback(project, emulator):
    """Through the real engine, the program sees every key of the stack (a mistyped setting too) and stops with
    one line per problem, no traceback, before anything is registered: zero API calls."""
    config = project.stack_config()
    config["hf-endpoints:endpoint"] = {"x": {}}
    config["hf-endpoints:defaults"] = {**config.get("hf-endpoints:defaults", {}), "min_replicas": 1}
    config["hf-endpoints:endpoints"][NAME]["secrets"] = {"API_KEY": None}
    project.write_stack(config)
    emulator.clear_calls()
    result = project.preview(check=False)
    assert result.code != 0
    for line in (
        "hf-endpoints:endpoint is not a setting of hf-endpoints; did you mean `hf-endpoints:endpoints`?",
        "hf-endpoints:defaults.min_replicas: 1 is not an endpoint key; did you mean `min_replica`?",
        f"hf-endpoints:endpoints.{NAME}.secrets.API_KEY: null has no value, and Pulumi drops it before check",
    ):
        assert line in result.output, result.output
    assert "Traceback" not in result.output
    assert emulator.calls() == []


def test_killed_up_then_up_again_takes_the_endpoint_back(project, emulator):
    """`pulumi up` killed after its create's POST landed (the answer lost, the follow-up GET slow): the next `up`
    takes the endpoint back by this stack's tag, instead of failing with 409 and asking for `adopt: true`."""
    emulator.faults(error_after_rate=1.0, latency_seconds=1.0)
    running = project.start("up", "--stack", project.stack, "--yes", "--skip-preview")
    deadline = time.monotonic() + 120
    while not [c for c in emulator.calls() if c["method"] == "POST" and c["status"] == 502]:
        assert time.monotonic() < deadline and running.poll() is None, emulator.calls()
        time.sleep(0.05)
    project.kill(running)
    project.kill_leftovers()  # the provider host a killed CLI leaves behind
    emulator.faults(error_after_rate=0, latency_seconds=0)
    assert [e["name"] for e in emulator.endpoints(NS)] == [NAME]
    assert [e["tags"] for e in emulator.endpoints(NS)] == [["hf-endpoints:hf-endpoints/local"]]
    locked = project.up(check=False)  # the killed run's lock is still there: the error says what to do
    assert locked.code != 0 and "`pulumi cancel`" in locked.output, locked.output
    project.run("cancel", "--stack", project.stack, "--yes")
    result = project.up(check=False)
    assert result.code == 0, result.output
    assert f"InferenceEndpoint::{NAME}, interrupted while creating" in result.output  # Pulumi's own warning
    assert f"hf-endpoints: local/{NAME}: taking back the endpoint this stack created" in result.output
    assert [e["name"] for e in emulator.endpoints(NS)] == [NAME]
    assert [r["id"] for r in project.resources()] == [f"{NS}/{NAME}"]
    assert project.outputs()[NAME]["state"] == "running"


def test_a_protected_stack_refuses_destroy_until_protect_is_lifted(project, emulator):
    """hf-endpoints:protect (prod sets it): `pulumi destroy` and a removed entry are refused, the endpoint keeps
    serving; after `hf-endpoints:protect: false` and `pulumi up`, destroy deletes it."""
    config = project.stack_config()
    config["hf-endpoints:protect"] = True
    project.write_stack(config)
    project.up()
    refused = project.destroy(check=False)
    assert refused.code != 0
    assert f"InferenceEndpoint::{NAME}\" cannot be deleted" in refused.output, refused.output  # Pulumi's own words
    assert "because it is protected" in refused.output
    removed = {**config, "hf-endpoints:endpoints": {}}
    project.write_stack(removed)
    preview = project.preview(check=False)
    assert preview.code != 0
    assert (f"endpoints.{NAME}: local/{NAME} is no longer in the stack file, but hf-endpoints:protect is true: a "
            "protected endpoint is never deleted; to delete it, put its entry back, run `pulumi config set "
            "hf-endpoints:protect false` and `pulumi up`, then remove the entry (or run `pulumi destroy`)"
            ) in preview.output.replace("\n", " "), preview.output
    assert [e["status"]["state"] for e in emulator.endpoints(NS)] == ["running"]
    assert api_writes(emulator) == [("POST", f"/v2/endpoint/{NS}")]
    project.write_stack({**config, "hf-endpoints:protect": False})
    project.up()
    project.destroy()
    assert emulator.endpoints(NS) == []


def test_an_endpoint_deleted_outside_pulumi_on_a_protected_stack_is_created_again(project, emulator):
    """prod protects its endpoints (hf-endpoints:protect) and Pulumi refuses to replace a protected resource, so a
    deleted endpoint previews as an update: the drift check names it, and `up` creates it again, still protected."""
    config = project.stack_config()
    config["hf-endpoints:protect"] = True
    project.write_stack(config)
    project.up()
    emulator.remove(NS, NAME)
    preview = project.preview("--expect-no-changes", check=False)
    assert preview.code != 0, preview.output
    assert f"local/{NAME}: deleted outside Pulumi; `pulumi up` creates it again" in preview.output
    assert "marked for protection" not in preview.output
    assert project.preview_steps() == [("update", NAME), ("update", "endpoints-ready")]
    emulator.clear_calls()
    project.up()
    assert api_writes(emulator) == [("POST", f"/v2/endpoint/{NS}")]
    assert [e["name"] for e in emulator.endpoints(NS)] == [NAME]
    project.preview("--expect-no-changes")
    assert project.destroy(check=False).code != 0  # still protected
