"""Whole workflows through the real Pulumi CLI: the README's quickstart, secrets, dev -> prod, recovery."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from emulator.hub import builtin_sha
from emulator.process import EmulatorProcess
from tests.backend_servers import free_port
from tests.conftest import EMULATOR_FAST_ARGS
from tests.pulumi_cli import REPO, PulumiProject

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"


def fresh_checkout(root: Path) -> Path:
    """The tracked files of this checkout (as they are now) in a new git repository, as a fresh clone has them; the
    venv is this checkout's (a symlink, which git is told to ignore: a clone has no venv at all)."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    (root / "venv").symlink_to(REPO / "venv")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    (root / ".git" / "info" / "exclude").write_text("/venv\n")
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "checkout"], cwd=root, check=True)
    return root


def user_env(port: int) -> dict[str, str]:
    """The environment of a user's shell: none of the test run's Pulumi, HF or pytest settings."""
    return {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "HF_", "PYTEST_"))} | {
        "HF_ENDPOINTS_EMULATOR_PORT": str(port)}


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie has exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on the port now (as the emulator binds it: SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_script(checkout: Path, env: dict[str, str], *argv: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=checkout, env=env, capture_output=True, text=True, timeout=timeout)


def test_quickstart_scripts_bring_up_a_serving_endpoint_and_tear_it_down(tmp_path, pulumi_bin):
    """`./scripts/up-local` on a checkout does the whole job (the tutorial's endpoint on TGI 1.3.4, one on vLLM and
    one on TEI) and prints a curl line per endpoint that works; `./scripts/down-local` destroys the stack and returns
    once the emulator has exited and its port is free."""
    checkout = fresh_checkout(tmp_path / "checkout")
    port = free_port()
    env = user_env(port)
    up = run_script(checkout, env, "./scripts/up-local")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        emulator_pid = int((checkout / ".pulumi-local" / "emulator.pid").read_text())
        for name, how in (("jais-13b-chat", "health 200 and smoke test matched"),
                          ("llama-31-8b-vllm", "health 200 and smoke test matched"),
                          ("bge-base-tei", "health 200 and /embed answered a vector of dimension 768")):
            assert f"hf-endpoints: local/{name}: ready ({how})" in up.stdout, up.stdout
        curl_lines = [line.strip() for line in up.stdout.splitlines() if line.strip().startswith("curl ")]
        assert len(curl_lines) == 3, up.stdout
        replies = [subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60).stdout
                   for line in curl_lines]
        assert replies[0] == '[{"generated_text":"positive","details":null}]'  # TGI 1.3.4: POST /
        assert json.loads(replies[1])["choices"][0]["message"]["content"] == "positive"  # vLLM: chat
        (vector,) = json.loads(replies[2])  # TEI: /embed, one vector of bge-base's 768
        assert len(vector) == 768
    finally:
        down = run_script(checkout, env, "./scripts/down-local")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "- 5 deleted" in down.stdout  # three endpoints, endpoints-ready, the default provider
    assert not (checkout / ".pulumi-local" / "emulator.pid").exists()
    assert not alive(emulator_pid)
    assert port_is_free(port)


def test_up_local_then_the_test_command_pass_on_a_fresh_checkout(tmp_path, pulumi_bin):
    """The README's two commands in its order, on a fresh checkout: `up-local` leaves every tracked file as it was
    (Pulumi's encryption salt goes to .pulumi-local/), and then the test command passes. Not the whole suite (it
    runs in the suite): the test command itself (venv, ruff, CLI, pytest) with the tests that `up-local` used to
    break, the stack file's shape and a CLI test whose fixture runs `pulumi stack init local` on a copy of the
    checkout's Pulumi.local.yaml ("incorrect passphrase" once a salt was in it)."""
    checkout = fresh_checkout(tmp_path / "checkout")
    env = user_env(free_port())
    try:
        up = run_script(checkout, env, "./scripts/up-local")
        assert up.returncode == 0, up.stdout + up.stderr
        status = subprocess.run(["git", "status", "--porcelain"], cwd=checkout, capture_output=True, text=True)
        assert status.stdout == ""
        tests = run_script(checkout, env, "./scripts/test", "-q", "-p", "no:cacheprovider",
                           "tests/test_stack_files.py::test_stack_file_shape",
                           "tests/test_cli_lifecycle.py::test_invalid_stack_file_fails_the_preview_naming_the_key",
                           timeout=280)
        assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
        assert re.search(r"^4 passed", tests.stdout, re.MULTILINE), tests.stdout[-2000:]
    finally:
        run_script(checkout, env, "./scripts/down-local")


def secret_forms(*secrets: str) -> list[str]:
    """Each secret as a server (or a log) might repeat it: as it is, lower-cased, URL-encoded."""
    return [form for secret in secrets
            for form in dict.fromkeys((secret, secret.lower(), quote(secret, safe=""), quote_plus(secret)))]


def test_secrets_never_appear_in_plaintext(tmp_path, pulumi_bin):
    """The token (`config set --secret`), an endpoint secret and a registry password (`--secret --path`) reach the API,
    and appear in no command's output, no `stack export` and no file of the backend (state, history, backups), in
    any form, even after the server repeated all three in a failed endpoint's message (refreshed into the `message`
    output before issue 16), and an `up` against that failed endpoint."""
    token = "tok/En+OfTheSecretsTest-0123"  # not shaped like a token: only its value can mask it
    secret = "Live/Secret+Value=OfTheTest-42"
    password = "Registry/Pass+word=OfTheTest"
    state = tmp_path / "emulator.json"
    with EmulatorProcess([*EMULATOR_FAST_ARGS, "--time-scale", "60", "--reply", "positive",
                          "--token", f"{token}=local", "--state", str(state)]) as emulator:
        project = PulumiProject(tmp_path / "project", pulumi_bin, emulator)
        del project.env["HF_TOKEN"]
        project.point_at_emulator()
        project.only_endpoints(NAME)
        outputs = [project.init().output]
        endpoint = f"hf-endpoints:endpoints.{NAME}"
        for args in (("--secret", "hf-endpoints:hfToken", token),
                     ("--secret", "--path", f"{endpoint}.secrets.API_KEY", secret),
                     ("--path", f"{endpoint}.custom_image.credentials.username", "bot"),
                     ("--secret", "--path", f"{endpoint}.custom_image.credentials.password", password)):
            outputs.append(project.run("config", "set", "--stack", "local", *args).output)
        outputs.append(project.preview().output)
        outputs.append(project.up().output)
        outputs.append(project.refresh("--diff").output)
        outputs.append(project.preview("--expect-no-changes").output)
        leaked = secret_forms(secret, password, token)
        emulator.force_state("local", NAME, "failed", f"KeyError: {' '.join(leaked)}")
        outputs.append(project.refresh("--diff").output)
        (resource,) = project.resources()
        assert resource["outputs"]["message"].startswith("KeyError: ***")  # it reached the state, masked
        env = project.stack_config()["hf-endpoints:endpoints"][NAME]["env"]
        project.edit_endpoint(NAME, env={**env, "MAX_INPUT_LENGTH": "1800"})
        failed = project.up(check=False)
        assert failed.code != 0 and f"local/{NAME}: the API refused the update" in failed.output, failed.output
        outputs.append(failed.output)
        outputs.append(project.run("stack", "export", "--stack", "local").stdout)
        outputs.append(project.run("stack", "output", "--stack", "local", "--json").stdout)
        outputs.append(project.run("config", "--stack", "local").stdout)
        stored = state.read_text()
        outputs.append(project.destroy().output)
    assert secret in stored and password in stored  # they did reach the endpoint
    files = [Path(folder, name) for folder, dirs, names in os.walk(tmp_path / "project")
             if not {".pulumi-home", "providers", "__pycache__"} & set(Path(folder).parts) for name in names]
    backend = {part for path in files if ".state" in path.parts for part in path.parts}
    assert {"stacks", "history", "backups"} <= backend  # the whole backend is searched
    for text in [*outputs, *(path.read_text(errors="replace") for path in files)]:
        assert [form for form in leaked if form in text] == []
    assert "[secret]" in outputs[5]
    assert not [text for text in outputs if "in plain text" in text]  # `--secret --path` values are encrypted


def test_secrets_written_in_clear_are_warned_about_and_a_token_list_refused(project, emulator):
    """A token and a `secrets:` value typed into the stack file: the preview (which shows them as [secret]) says they
    sit there in clear and how to encrypt them, without showing them. A token given as a list fails it."""
    config = project.stack_config()
    config["hf-endpoints:hfToken"] = emulator.token
    config["hf-endpoints:endpoints"][NAME]["secrets"] = {"API_KEY": "in-clear-0000"}
    project.write_stack(config)
    preview = project.preview()
    assert ("hf-endpoints:hfToken is in the stack file in plain text (the preview shows it as [secret], yet only "
            "`--secret` config is encrypted); store it encrypted: `pulumi config set --secret hf-endpoints:hfToken "
            "<token>`, or export HF_TOKEN instead") in preview.output, preview.output
    assert (f"hf-endpoints:endpoints.{NAME}.secrets.API_KEY is in the stack file in plain text") in preview.output
    assert "in-clear-0000" not in preview.output
    config["hf-endpoints:hfToken"] = [emulator.token, "x"]
    project.write_stack(config)
    refused = project.preview(check=False)
    assert refused.code != 0
    assert "hf-endpoints:hfToken: <redacted> is not a string (the API would refuse it at `up`)" in refused.output
    assert [c for c in emulator.calls() if c["path"].startswith("/v2/")] == []  # no Endpoints API call


def test_replace_whose_create_fails_after_the_delete_converges_on_the_next_up(tmp_path, pulumi_bin, emulator):
    """Delete-before-replace, then the create is refused (quota): up fails naming the endpoint and the
    server's message; once the quota allows it, the next up creates it, with no duplicate."""
    emulator.configure(reply="positive", time_scale=60)
    project = PulumiProject(tmp_path / "project", pulumi_bin, emulator)
    project.point_at_emulator()
    project.only_endpoints(NAME)
    project.init()
    project.up()
    project.edit_endpoint(NAME, region="eu-west-1")
    emulator.configure(quota=0)
    failed = project.up(check=False)
    assert failed.code != 0
    assert f"local/{NAME}: the API refused to create it: 400: Accelerator quota exceeded" in failed.output
    assert emulator.endpoints("local") == []
    emulator.configure(quota=16)
    emulator.clear_calls()
    project.up()
    (live,) = emulator.endpoints("local")
    assert live["provider"]["region"] == "eu-west-1"
    assert [(c["method"], c["path"]) for c in emulator.calls() if c["method"] in ("POST", "PUT", "DELETE")
            and c["path"].startswith("/v2/")] == [("POST", "/v2/endpoint/local")]
    project.preview("--expect-no-changes")


def test_promotion_then_prod_preview_shows_one_update(tmp_path, pulumi_bin):
    """dev -> prod: after `python -m providers.promote dev prod`, prod's preview shows one update of the
    endpoint (the promoted env), and its up sends one PUT."""
    with EmulatorProcess([*EMULATOR_FAST_ARGS, "--time-scale", "60", "--reply", "positive",
                          "--token", "hf_team=local:prod-team"]) as emulator:
        dev = PulumiProject(tmp_path / "project", pulumi_bin, emulator, stack="dev")
        dev.env["HF_TOKEN"] = "hf_team"
        prod = PulumiProject.__new__(PulumiProject)
        prod.__dict__.update(dev.__dict__, stack="prod")
        dev.point_at_emulator()
        prod.point_at_emulator()
        config = prod.stack_config()
        config["hf-endpoints:namespace"] = "prod-team"
        config["hf-endpoints:protect"] = False  # prod's protection has its own test; this one ends with destroy
        prod.write_stack(config)
        revision = builtin_sha("derek-thomas/jais-13b-chat-hf")  # the commit the emulator's Hub knows
        dev.edit_endpoint(NAME, revision=revision)
        promote = [str(Path(sys.executable)), "-m", "providers.promote", "dev", "prod"]
        subprocess.run(promote, cwd=dev.root, check=True, capture_output=True, text=True)
        dev.init()
        prod.init()
        dev.up()
        prod.up()
        env = dev.stack_config()["hf-endpoints:endpoints"][NAME]["env"]
        dev.edit_endpoint(NAME, env={**env, "MAX_INPUT_LENGTH": "1800"})
        dev.up()
        done = subprocess.run(promote, cwd=dev.root, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f'{NAME}.env.MAX_INPUT_LENGTH: "2000" -> "1800"' in done.stdout
        assert prod.preview_steps() == [("update", NAME), ("update", "endpoints-ready")]
        emulator.clear_calls()
        prod.up()
        writes = [(c["method"], c["path"]) for c in emulator.calls()
                  if c["method"] in ("POST", "PUT", "DELETE") and c["path"].startswith("/v2/")]
        assert writes == [("PUT", f"/v2/endpoint/prod-team/{NAME}")]
        (live,) = emulator.endpoints("prod-team")
        assert live["model"]["env"]["MAX_INPUT_LENGTH"] == "1800"
        assert live["compute"]["instanceType"] == "nvidia-a100"  # prod keeps its own hardware
        dev.destroy()
        prod.destroy()


@pytest.mark.parametrize("spelling", ["custom_image", "engine.custom"])
def test_a_registry_password_is_encrypted_in_state_whichever_spelling(project, spelling):
    """`engine: {custom: ...}` is `custom_image` spelled another way. Pulumi keeps check's result secret only under
    the key that was sent secret, and check files `engine: {custom}` under `custom_image`: the password given there
    was stored in clear until the program sent it as `custom_image`."""
    password = "Registry-Pass-Of-The-Spelling-Test"
    config = project.stack_config()
    endpoint = config["hf-endpoints:endpoints"][NAME]
    image = endpoint.pop("custom_image")
    if spelling == "engine.custom":
        endpoint["engine"] = {"custom": image}
    else:
        endpoint["custom_image"] = image
    project.write_stack(config)
    where = f"hf-endpoints:endpoints.{NAME}.{spelling}.credentials"
    project.run("config", "set", "--stack", "local", "--path", f"{where}.username", "bot")
    project.run("config", "set", "--stack", "local", "--secret", "--path", f"{where}.password", password)
    project.up()
    stored = [path.read_text(errors="replace") for path in project.backend.rglob("*") if path.is_file()]
    assert stored and not [text for text in stored if password in text]
    assert password not in json.dumps(project.export())
