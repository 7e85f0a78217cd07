"""The committed project and stack files: schema, shape, tutorial values, and no secrets."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from providers.stack_files import (
    DEFAULTS_KEY,
    ENDPOINTS_KEY,
    NAMESPACE_KEY,
    TOKEN_KEY,
    dump_text,
    effective_endpoint,
    load_stack,
    new_yaml,
    stack_path,
    to_plain,
)
from providers.validation import NAME_PATTERN
from tests import shared_files

REPO = Path(__file__).resolve().parent.parent
SCHEMA = "schemas/pulumi-project.schema.json"
STACKS = ("dev", "prod", "local")
TOKEN_RE = re.compile(r"hf_[A-Za-z0-9]{30,}")


def _stack(name: str) -> dict[str, Any]:
    return to_plain(load_stack(stack_path(REPO, name)))


def _endpoint(stack: str, name: str) -> dict[str, Any]:
    config = _stack(stack)["config"]
    return effective_endpoint(config.get(DEFAULTS_KEY, {}), config[ENDPOINTS_KEY][name])


def test_project_file_validates_against_pulumi_schema() -> None:
    """Pulumi.yaml is a valid Pulumi project file (the published JSON schema, draft 2020-12, in ../shared)."""
    schema = json.loads(shared_files.require_shared(SCHEMA).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(project)


def test_missing_shared_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under CI a missing ../shared fails the tests that need it (a skip would hide the schema check)."""
    monkeypatch.setattr(shared_files, "shared_dir", lambda: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"schemas/pulumi-project.schema.json not found under ../shared"):
        shared_files.require_shared(SCHEMA)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        shared_files.require_shared(SCHEMA)


def test_project_file_declares_scalar_config() -> None:
    """Pulumi.yaml: name, Python runtime with a venv, typed scalar keys, no structured keys, no token."""
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "hf-endpoints"
    assert project["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert "main" not in project
    config = project["config"]
    assert config[NAMESPACE_KEY]["type"] == "string"
    assert config["hf-endpoints:apiUrl"]["default"] == "https://api.endpoints.huggingface.cloud/v2"
    assert config["hf-endpoints:readyTimeoutSeconds"] == {
        "type": "integer",
        "description": config["hf-endpoints:readyTimeoutSeconds"]["description"],
        "default": 1800,
    }
    # Structured values cannot be declared; a declared token would be required in every stack.
    assert ENDPOINTS_KEY not in config and DEFAULTS_KEY not in config and TOKEN_KEY not in config
    for key, declaration in config.items():
        assert key.startswith("hf-endpoints:"), key
        assert declaration["type"] in {"string", "integer", "boolean"}, key
        assert declaration["description"], key


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_shape(stack: str) -> None:
    """Each stack file parses, sets only hf-endpoints: keys, a namespace and valid endpoint names."""
    config = _stack(stack)["config"]
    assert set(_stack(stack)) == {"config"}
    assert all(key.startswith("hf-endpoints:") for key in config), sorted(config)
    assert isinstance(config[NAMESPACE_KEY], str) and config[NAMESPACE_KEY]
    assert TOKEN_KEY not in config  # a token is set with `pulumi config set --secret`, never committed
    endpoints = config[ENDPOINTS_KEY]
    assert endpoints and all(NAME_PATTERN.match(name) for name in endpoints), list(endpoints)
    for name in endpoints:
        endpoint = effective_endpoint(config.get(DEFAULTS_KEY, {}), endpoints[name])
        assert endpoint["repository"]
        assert endpoint["type"] in {"public", "authenticated", "private"}
        assert "secrets" not in endpoint
        assert all(isinstance(v, str) for v in endpoint.get("env", {}).values()), "env values are strings"
        if "scale_to_zero_timeout" in endpoint:
            assert endpoint["min_replica"] == 0 and 15 <= endpoint["scale_to_zero_timeout"] <= 2880
        assert endpoint["min_replica"] <= endpoint["max_replica"]
        if "expect" in endpoint["smoke_test"]:  # an embedding endpoint's smoke test checks the vector instead
            assert re.compile(endpoint["smoke_test"]["expect"])


@pytest.mark.parametrize("name", ["Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in STACKS)])
def test_committed_yaml_round_trips_byte_for_byte(name: str) -> None:
    """The round-trip loader reproduces each file exactly, so promotion only touches changed values."""
    text = (REPO / name).read_text()
    assert dump_text(new_yaml().load(text)) == text


def test_stacks_define_the_same_endpoints() -> None:
    """dev and prod describe the same set of endpoints; local has them too, with one on vLLM and one on TEI."""
    names = {stack: sorted(_stack(stack)["config"][ENDPOINTS_KEY]) for stack in STACKS}
    assert names["dev"] == names["prod"], names
    assert names["local"] == sorted([*names["dev"], "llama-31-8b-vllm", "bge-base-tei"]), names


def test_prod_leaves_revisions_to_the_promotion_and_requires_them() -> None:
    """No committed stack pins a revision: a commit sha that looks real and is not makes a paid start that cannot
    succeed. prod gets its revision from `python -m providers.promote dev prod`, and refuses to deploy without one."""
    for stack in STACKS:
        for name in _stack(stack)["config"][ENDPOINTS_KEY]:
            assert "revision" not in _endpoint(stack, name), (stack, name)
    assert _stack("prod")["config"]["hf-endpoints:requirePinnedRevision"] is True
    assert "hf-endpoints:requirePinnedRevision" not in _stack("dev")["config"]
    prod = (REPO / "Pulumi.prod.yaml").read_text()
    assert "`revision` is written by `python -m providers.promote dev prod`" in prod


def test_no_shipped_file_holds_a_commit_sha() -> None:
    """Outside the tests, nothing tracked holds a 40-hex value that could pass for a real commit."""
    offenders = [str(path.relative_to(REPO)) for path in _repo_files()
                 if path.relative_to(REPO).parts[0] != "tests" and path.is_file()
                 and re.search(r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])", path.read_bytes().decode(errors="ignore"))]
    assert offenders == []


def test_project_declares_the_stack_switches() -> None:
    config = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    pinned = config["hf-endpoints:requirePinnedRevision"]
    assert (pinned["type"], pinned["default"]) == ("boolean", False)
    delete = config["hf-endpoints:deleteTimeoutSeconds"]
    assert (delete["type"], delete["default"]) == ("integer", 300)


def test_local_stack_points_at_the_emulator() -> None:
    """local uses the emulator's URL and user."""
    config = _stack("local")["config"]
    assert config["hf-endpoints:apiUrl"] == "http://127.0.0.1:18787/v2"
    assert config[NAMESPACE_KEY] == "local"


PROMPT_START = "### Instruction: Your name is Jais"
TUTORIAL = [
    ("repository", "derek-thomas/jais-13b-chat-hf"),
    ("framework", "pytorch"),
    ("task", "text-generation"),
    ("vendor", "aws"),
    ("region", "us-east-1"),
    ("accelerator", "gpu"),
    ("instance_type", "nvidia-a10g"),
    ("instance_size", "x1"),
    ("type", "authenticated"),
    ("min_replica", 0),
    ("max_replica", 1),
    ("scale_to_zero_timeout", 15),
    ("custom_image.url", "ghcr.io/huggingface/text-generation-inference:1.3.4"),
    ("custom_image.health_route", "/health"),
    ("custom_image.port", 80),
    ("env.MAX_BATCH_PREFILL_TOKENS", "2048"),
    ("env.MAX_INPUT_LENGTH", "2000"),
    ("env.MAX_TOTAL_TOKENS", "2048"),
    ("env.TRUST_REMOTE_CODE", "true"),
    ("env.QUANTIZE", "bitsandbytes"),
    ("env.MODEL_ID", "/repository"),
    ("smoke_test.expect", "(?i)positive|negative|neutral"),
    ("smoke_test.max_new_tokens", 20),
]


def _get(mapping: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        mapping = mapping[part]
    return mapping


@pytest.mark.parametrize(("key", "expected"), TUTORIAL, ids=[key for key, _ in TUTORIAL])
def test_dev_matches_the_tutorial(key: str, expected: Any) -> None:
    """dev is the tutorial's deployment in the current API's names."""
    assert _get(_endpoint("dev", "jais-13b-chat"), key) == expected


def test_dev_smoke_test_is_the_sentiment_prompt() -> None:
    """The smoke test asks Jais (in its chat format) to classify a sentence's sentiment."""
    prompt = _endpoint("dev", "jais-13b-chat")["smoke_test"]["prompt"]
    assert prompt.startswith(PROMPT_START) and prompt.endswith("### Response: [|AI|]")
    assert "sentiment" in prompt and "positive, negative or neutral" in prompt


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("instance_type", "nvidia-a100"),
        ("instance_size", "x1"),
        ("min_replica", 1),
        ("max_replica", 4),
        ("type", "authenticated"),
    ],
)
def test_prod_hardware_and_scaling(key: str, expected: Any) -> None:
    """prod runs on one A100, 1 to 4 replicas, never scaled to zero."""
    endpoint = _endpoint("prod", "jais-13b-chat")
    assert endpoint[key] == expected
    assert "scale_to_zero_timeout" not in endpoint


@pytest.mark.parametrize("stack", ["prod", "local"])
def test_model_keys_match_dev_except_revision(stack: str) -> None:
    """prod and local serve dev's model: same image, env, task, framework, smoke test."""
    dev = _endpoint("dev", "jais-13b-chat")
    other = _endpoint(stack, "jais-13b-chat")
    for key in ("repository", "framework", "task", "custom_image", "env", "smoke_test"):
        assert other[key] == dev[key], key


def _repo_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=REPO,
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in out.decode().split("\0") if name]


def test_no_file_contains_a_token() -> None:
    """No tracked (or to-be-tracked) file contains something shaped like a Hugging Face token."""
    offenders = []
    for path in _repo_files():
        try:
            text = path.read_bytes().decode("utf-8", errors="ignore")
        except OSError:
            continue
        if TOKEN_RE.search(text):
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
