"""The GitHub Actions workflow the README hands teams (`ci/github/deploy.yml`) cannot rot: every command it runs
exists in the project (`scripts/...`, `python -m ...` modules, their flags, the pinned CLI's subcommands and
flags), it gates and deploys as the README says, and its drift check catches a vanished endpoint for real."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
from functools import cache
from typing import Any

import pytest
import yaml

from tests.pulumi_cli import REPO

WORKFLOW = REPO / "ci" / "github" / "deploy.yml"
STACKS = sorted(path.name.split(".")[1] for path in REPO.glob("Pulumi.*.yaml") if path.name != "Pulumi.local.yaml")
# What the workflow may run besides the project's own commands; anything else fails the test until it is known.
PLAIN_COMMANDS = {"python3"}
STACK_EXPRESSIONS = ("${{ matrix.stack }}", "${{ inputs.unlock }}")


@cache
def workflow() -> dict[str, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def jobs() -> dict[str, dict[str, Any]]:
    return workflow()["jobs"]


def commands(job: dict[str, Any]) -> list[list[str]]:
    """Each command of the job's `run` steps as words, a stack expression read as `STACK`."""
    found = []
    for step in job["steps"]:
        script = step.get("run", "")
        for expression in STACK_EXPRESSIONS:
            script = script.replace(expression, "STACK")
        assert "${{" not in script, f"an expression the test cannot stand for: {script}"
        for line in script.replace("\\\n", " ").splitlines():
            found += [shlex.split(part) for part in line.split("&&") if part.strip()]
    return found


def all_commands() -> list[tuple[str, list[str]]]:
    return [(name, words) for name, job in jobs().items() for words in commands(job)]


def runs_on(job: dict[str, Any], event: str) -> bool:
    return f"github.event_name == '{event}'" in job.get("if", f"github.event_name == '{event}'")


def stacks_of(job: dict[str, Any]) -> list[str]:
    return job.get("strategy", {}).get("matrix", {}).get("stack", [])


@cache
def help_text(*command: str) -> str:
    done = subprocess.run(list(command), capture_output=True, text=True, cwd=REPO, timeout=60,
                          env={**os.environ, "PULUMI_SKIP_UPDATE_CHECK": "true"})
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout}{done.stderr}"
    return done.stdout


def flags(words: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("--")]


# --- every command exists ------------------------------------------------------------------------------------

def test_every_command_is_one_the_test_knows():
    unknown = {words[0] for _, words in all_commands()
               if not words[0].startswith(("./scripts/", "venv/bin/")) and words[0] not in PLAIN_COMMANDS}
    assert unknown == set()


@pytest.mark.parametrize("script", sorted({words[0] for _, words in all_commands()
                                           if words[0].startswith("./scripts/")}))
def test_each_script_exists_and_runs(script):
    path = REPO / script
    assert path.is_file() and os.access(path, os.X_OK), script


@pytest.mark.parametrize(("module", "words"), [
    pytest.param(words[words.index("-m") + 1], words, id=" ".join(words))
    for words in sorted({tuple(words) for _, words in all_commands() if "-m" in words})])
def test_each_python_module_exists_with_its_flags(module, words):
    """`venv/bin/python -m providers.promote ...`: the module is the project's (or the standard library's), and
    its --help names each flag the workflow passes."""
    if module.split(".")[0] in ("providers", "emulator", "policy"):
        assert importlib.util.find_spec(module) is not None, module
        text = help_text(str(REPO / "venv" / "bin" / "python"), "-m", module, "--help")
        assert [flag for flag in flags(list(words)) if flag not in text] == []
    else:
        assert importlib.util.find_spec(module) is not None and "site-packages" not in (
            importlib.util.find_spec(module).origin or ""), f"{module} is not in the standard library"


def test_pip_installs_the_pinned_requirements():
    for _, words in all_commands():
        if words[0] == "venv/bin/pip":
            assert words[1] == "install" and (REPO / words[words.index("-r") + 1]).is_file(), words


@pytest.mark.cli
@pytest.mark.parametrize("words", sorted({tuple(words) for _, words in all_commands()
                                          if words[0] == "./scripts/pulumi"}), ids=" ".join)
def test_each_pulumi_command_is_the_pinned_clis(pulumi_bin, words):
    """The subcommand and every flag exist in the pinned CLI (its --help), and the files they name are here."""
    subcommand = list(words[1:words.index("--stack")])
    text = help_text(str(pulumi_bin / "pulumi"), *subcommand, "--help")
    assert [flag for flag in flags(list(words)) if not re.search(rf"{re.escape(flag)}\b", text)] == []
    for option in ("--policy-pack", "--policy-pack-config"):
        if option in words:
            assert (REPO / words[words.index(option) + 1]).exists(), words


# --- it gates and deploys as the README says -----------------------------------------------------------------

def test_it_is_not_active_in_this_repository():
    assert not (REPO / ".github" / "workflows").exists()
    assert "`ci/github/deploy.yml`" in (REPO / "README.md").read_text()


def test_a_pull_request_runs_the_gates():
    """The test command, the promotion check, a policy preview and a drift check of every stack."""
    on_pr = [(name, job) for name, job in jobs().items() if runs_on(job, "pull_request")]
    runs = [" ".join(words) for _, job in on_pr for words in commands(job)]
    assert "./scripts/test" in runs
    assert "venv/bin/python -m providers.promote dev prod --check" in runs
    previews = [job for _, job in on_pr if any("--policy-pack policy" in " ".join(w) for w in commands(job))]
    drift = [job for _, job in on_pr if any("--refresh --expect-no-changes" in " ".join(w) for w in commands(job))]
    assert [stacks_of(job) for job in previews] == [STACKS]
    assert [stacks_of(job) for job in drift] == [STACKS]
    assert "--policy-pack-config" in " ".join(commands(previews[0])[-1])


def test_a_merge_deploys_dev_then_prod_after_approval():
    on_push = {name: job for name, job in jobs().items() if runs_on(job, "push") and name != "test"}
    ups = {name: [words for words in commands(job) if words[:2] == ["./scripts/pulumi", "up"]]
           for name, job in on_push.items()}
    assert {name: [w[w.index("--stack") + 1] for w in found] for name, found in ups.items() if found} == {
        "deploy-dev": ["dev"], "deploy-prod": ["prod"]}
    assert on_push["deploy-dev"]["needs"] == "test"
    assert on_push["deploy-prod"]["needs"] == "deploy-dev"
    assert on_push["deploy-prod"]["environment"] == "prod"
    assert all("--policy-pack" in found[0] for found in ups.values() if found)


def test_one_run_per_stack_at_a_time():
    """Every job that takes a stack's lock (up, unlock) is in that stack's group, and is never cancelled."""
    for name, job in jobs().items():
        locking = [w for w in commands(job) if w[:2] == ["./scripts/pulumi", "up"] or "providers.unlock" in w]
        if not locking:
            continue
        stack = locking[0][locking[0].index("--stack") + 1]
        expected = "pulumi-${{ inputs.unlock }}" if stack == "STACK" else f"pulumi-{stack}"
        assert job.get("concurrency") == {"group": expected, "cancel-in-progress": False}, name


def test_the_backend_and_the_token_come_from_the_ci_secrets():
    """Each job that reaches a stack gets PULUMI_BACKEND_URL, the passphrase and the token from secrets; the test
    job gets none (the tests make their own backends and never see a real token)."""
    for name, job in jobs().items():
        reaches = any(w[0] == "./scripts/pulumi" or "providers.unlock" in w for w in commands(job))
        env = job.get("env", {})
        if reaches:
            for key in ("PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "HF_TOKEN"):
                assert env.get(key) == f"${{{{ secrets.{key} }}}}", (name, key)
        else:
            assert not any("secrets." in str(value) for value in env.values()), name
        assert all(re.fullmatch(r"\$\{\{ secrets\.[A-Z_]+ }}", str(value)) for value in env.values()), name
    assert "secrets." not in str(workflow().get("env", {}))


# --- the drift check, through the real CLI -------------------------------------------------------------------

def drift_command() -> list[str]:
    (words,) = [w for w in commands(jobs()["drift"]) if w[0] == "./scripts/pulumi"]
    return [("local" if word == "STACK" else word) for word in words[1:]]


@pytest.mark.cli
def test_the_drift_check_fails_on_an_endpoint_deleted_outside_pulumi(deployed, emulator):
    """The workflow's own drift command, on a deployed stack: passes while nothing drifted, fails once the API
    lost the endpoint."""
    assert deployed.run(*drift_command()).code == 0
    emulator.remove("local", "jais-13b-chat")
    drifted = deployed.run(*drift_command(), check=False)
    assert drifted.code != 0
    assert "error: no changes were expected for preview but changes were proposed" in drifted.output
