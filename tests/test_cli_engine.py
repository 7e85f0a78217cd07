"""Where the engine model (tests/harness/engine.py) claims to follow the real engine, the real CLI says so too.

* Resource options: the toy program's option table (tests/test_harness_toy.py `OPTION_CASES`) through the
  engine model and through the real CLI: same steps, same provider writes, same failures.
* Our stack: a config-only change shows no change; `destroy` uses the config the last `up` recorded, even a
  failed one; a replacement whose create fails leaves the endpoint pending replacement, dropped later without
  a delete; a failed create stops the `up` before any delete.

These tests need the pinned CLI (`scripts/pulumi --install-only`); with `CI` set they fail without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness import HarnessError, HostFactory, State, deploy, preview
from tests.harness.toy import load
from tests.pulumi_cli import REPO, PulumiProject, cli_env
from tests.test_harness_toy import OPTION_CASES

pytestmark = pytest.mark.cli
NS = "local"
NAME = "jais-13b-chat"
WRITES = ("POST", "PUT", "DELETE")
TOY_PROJECT = "toyproj"
REPLACE_OPS = {"replace", "create-replacement", "delete-replaced"}


def api_writes(emulator) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in emulator.calls()
            if c["path"].startswith("/v2/") and c["method"] in WRITES]


# --- the toy program through the real CLI --------------------------------------------------------------------

class ToyProject(PulumiProject):
    """A scratch project running the toy program (tests/harness/toy/program.py) with its own backend."""

    def __init__(self, root: Path, bin_dir: Path):  # the toy, not a copy of the product project
        self.root, self.bin_dir, self.emulator, self.stack = root, bin_dir, None, "dev"
        root.mkdir(parents=True)
        runtime = {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
        (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": TOY_PROJECT, "runtime": runtime}))
        shutil.copy(REPO / "tests" / "harness" / "toy" / "program.py", root / "__main__.py")
        (root / "tests").symlink_to(REPO / "tests")  # the toy provider is tests.harness.toy
        (root / "venv").symlink_to(REPO / "venv")
        self.backend = root / ".state"
        self.backend.mkdir()
        self.db = root / "toy.json"
        self.env = cli_env(root, bin_dir)

    def records(self, records: dict[str, Any]) -> None:
        self.write_stack({f"{TOY_PROJECT}:records": records, f"{TOY_PROJECT}:dbPath": str(self.db)})

    def ids(self) -> dict[str, str]:
        """Resource name -> id, from `pulumi stack export`."""
        resources = self.export()["deployment"].get("resources", [])
        return {r["urn"].rsplit("::", 1)[1]: r["id"] for r in resources if r["type"].startswith("pulumi-python")}


class Outcome:
    """What one change did: shown ops (no sames), each resource's provider writes, failure, what is left."""

    def __init__(self, ops: dict[str, str], writes: dict[str, list[str]], error: str | None, left: set[str]):
        self.ops, self.writes, self.error, self.left = ops, writes, error, left

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Outcome({vars(self)})"


def writes_by_name(log: list[list[str]], ids: dict[str, str]) -> dict[str, list[str]]:
    names = {rid: name for name, rid in ids.items()}
    result: dict[str, list[str]] = {}
    for op, rid in log:
        result.setdefault(names.get(rid, "?"), []).append(op)
    return result


def through_the_model(tmp: Path, before: dict[str, Any], after: dict[str, Any], error: str | None) -> Outcome:
    db = tmp / "model.json"
    program = REPO / "tests" / "harness" / "toy" / "program.py"
    config = {"dbPath": str(db)}
    with HostFactory(TOY_PROJECT) as hosts:
        state = deploy(program, hosts, State(), {**config, "records": before}).state
        ids = {u.rsplit("::", 1)[1]: e["id"] for u, e in state.resources.items()}
        count = len(load(db)["log"])
        try:  # what `pulumi preview` shows (a preview goes on past a protect error, to show the rest)
            shown = preview(program, hosts, state, {**config, "records": after}).steps
        except HarnessError as err:
            shown = err.steps
        try:
            state, failure = deploy(program, hosts, state, {**config, "records": after}).state, None
        except HarnessError as err:
            state, failure = err.state, str(err)
    ids |= {u.rsplit("::", 1)[1]: e["id"] for u, e in state.resources.items()}
    ops = {s.urn.rsplit("::", 1)[1]: s.op for s in shown if s.op != "same"}
    caught = error if failure and error and error in failure else failure
    return Outcome(ops, writes_by_name(load(db)["log"][count:], ids), caught,
                   {u.rsplit("::", 1)[1] for u in state.resources})


def through_the_cli(project: ToyProject, before: dict[str, Any], after: dict[str, Any], error: str | None) -> Outcome:
    project.run("stack", "init", "dev")
    project.records(before)
    project.up()
    ids = project.ids()
    count = len(load(project.db)["log"])
    project.records(after)
    preview = project.run("preview", "--stack", "dev", "--json", check=False)
    ops: dict[str, str] = {}
    for step in json.loads(preview.stdout or "{}").get("steps", []):
        name, op = step["urn"].rsplit("::", 1)[1], step["op"]
        if "pulumi:pulumi:Stack" not in step["urn"] and op != "same":
            ops[name] = "replace" if op in REPLACE_OPS else op
    result = project.up(check=False)
    ids |= project.ids()
    failure = None
    if result.code != 0:
        failure = error if error and error in result.output else result.output[-2000:]
    return Outcome(ops, writes_by_name(load(project.db)["log"][count:], ids), failure, set(project.ids()))


def option_groups() -> list[Any]:
    """The option table as stacks: every case that succeeds in one stack (one record each), and each failing
    case in its own (a failure stops the rest)."""
    ok = [case for case in OPTION_CASES if case.values[4] is None]
    groups = [pytest.param({case.id: case.values[0] for case in ok},
                           {case.id: case.values[1] for case in ok if case.values[1] is not None}, None,
                           id="succeeding-options")]
    for case in OPTION_CASES:
        if case.values[4] is not None:
            before, after = case.values[0], case.values[1]
            groups.append(pytest.param({"a": before}, {} if after is None else {"a": after}, case.values[4],
                                       id=case.id))
    return groups


@pytest.mark.parametrize(("before", "after", "error"), option_groups())
def test_engine_model_decides_resource_options_as_the_cli_does(tmp_path, pulumi_bin, before, after, error):
    """delete_before_replace over the provider's answer, ignore_changes, replace_on_changes (only with keys the
    engine knows changed), protect and retain_on_delete: the same steps and provider calls either way."""
    model = through_the_model(tmp_path, before, after, error)
    cli = through_the_cli(ToyProject(tmp_path / "project", pulumi_bin), before, after, error)
    assert model == cli


# --- our stack through the real CLI --------------------------------------------------------------------------

def provider_config(project: PulumiProject) -> dict[str, Any]:
    """The default provider's inputs in state: the stack config it was last configured with."""
    (provider,) = [r for r in project.export()["deployment"]["resources"]
                   if r["type"] == "pulumi:providers:pulumi-python"]
    return provider["inputs"]


def set_token(project: PulumiProject, token: str) -> None:
    project.run("config", "set", "--stack", project.stack, "--secret", "hf-endpoints:hfToken", token)


def test_config_is_recorded_by_each_up_and_used_by_destroy(deployed, emulator):
    """A config-only change updates the default provider, a step the CLI hides: no change shown, no API call but
    diff's list (one per command), but state records it. Every up records its config, even one that fails;
    `destroy` uses what was recorded, not the stack file
    (tests/test_inference_endpoint.py::test_each_operation_configures_a_fresh_host is the fast twin)."""
    config = deployed.stack_config()
    config["hf-endpoints:readyTimeoutSeconds"] = 300
    deployed.write_stack(config)
    deployed.preview("--expect-no-changes")
    assert "3 unchanged" in deployed.up().output
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [("GET", f"/v2/endpoint/{NS}")] * 2
    assert provider_config(deployed)["hf-endpoints:readyTimeoutSeconds"] == "300"

    set_token(deployed, "hf_not_a_valid_token")
    deployed.edit_endpoint(NAME, max_replica=2)
    failed = deployed.up(check=False)
    assert failed.code != 0 and f"local/{NAME}: the API refused the update: 401" in failed.output
    set_token(deployed, emulator.token)  # the stack file is fixed, but no up ran since
    refused = deployed.destroy(check=False)
    assert refused.code != 0 and "401" in refused.output
    deployed.up()  # records the fixed config (and applies max_replica)
    config = deployed.stack_config()
    config["hf-endpoints:apiUrl"] = "http://127.0.0.1:9/v2"  # nothing listens there; never used by an up
    deployed.write_stack(config)
    deployed.destroy()
    assert emulator.endpoints(NS) == []


def test_a_failed_replace_leaves_the_endpoint_pending_replacement(deployed, emulator):
    """The delete of a delete-before-replace done, the create refused: `stack export` keeps the endpoint with
    pendingReplacement, the next preview shows a replace, and once it leaves the YAML it is dropped from state
    without another DELETE (tests/test_inference_endpoint.py has the fast twins)."""
    deployed.edit_endpoint(NAME, region="eu-west-1")
    emulator.configure(quota=0)
    assert deployed.up(check=False).code != 0
    (endpoint,) = deployed.resources()
    assert endpoint["pendingReplacement"] is True
    assert emulator.endpoints(NS) == []
    assert deployed.preview_steps() == [("replace", NAME), ("update", "endpoints-ready")]
    config = deployed.stack_config()
    config["hf-endpoints:endpoints"] = {}
    deployed.write_stack(config)
    emulator.clear_calls()
    deployed.up()
    assert api_writes(emulator) == []
    assert deployed.resources() == []


def test_a_failed_create_stops_the_up_before_any_delete(deployed, emulator):
    """The endpoint is renamed, and the new name's create is refused (quota): the engine stops, so the old
    endpoint is neither deleted nor dropped from state, and EndpointsReady is untouched."""
    ready_before = deployed.resources("EndpointsReady")[0]["inputs"]
    config = deployed.stack_config()
    endpoints = config["hf-endpoints:endpoints"]
    endpoints["big"] = endpoints.pop(NAME)
    deployed.write_stack(config)
    emulator.configure(quota=0)
    failed = deployed.up(check=False)
    assert failed.code != 0 and "local/big: the API refused to create it" in failed.output
    assert [method for method, _ in api_writes(emulator)] == ["POST"]
    assert [r["id"] for r in deployed.resources()] == [f"{NS}/{NAME}"]
    assert [e["name"] for e in emulator.endpoints(NS)] == [NAME]
    assert deployed.resources("EndpointsReady")[0]["inputs"] == ready_before
