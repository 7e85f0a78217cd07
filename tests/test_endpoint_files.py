"""Endpoint files (`providers.endpoint_files`) as the program reads them with the stack config (`stack_config.read`),
and how near the config is to the 128 KiB Pulumi can pass (`providers.config_size`). Pure but for the files, written
under tmp_path. The real CLI's twins are in tests/test_cli_scale.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from providers import config_size, endpoint_files, stack_config
from providers.stack_config import StackConfigError

JAIS = """\
jais:
  repository: derek-thomas/jais-13b-chat-hf
  accelerator: gpu
  vendor: aws
  region: us-east-1
  instance_type: nvidia-a10g
  instance_size: x1
"""
NAMED = {"hf-endpoints:endpointFiles": json.dumps(["endpoints/*.yaml"])}


def config(**settings: object) -> dict[str, str]:
    """A raw stack config as the engine hands it over (structured values as JSON text)."""
    raw = {"hf-endpoints:namespace": "local", **NAMED}
    raw.update({f"hf-endpoints:{key}": value if isinstance(value, str) else json.dumps(value)
                for key, value in settings.items()})
    return raw


def project(tmp_path: Path, **files: str) -> Path:
    """A project directory with these files under endpoints/ (name -> text)."""
    (tmp_path / "endpoints").mkdir()
    for name, text in files.items():
        path = tmp_path / "endpoints" / name
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return tmp_path


def read(tmp_path: Path, raw: dict[str, str]) -> stack_config.StackConfig:
    return stack_config.read(raw, files=endpoint_files.load(raw.get(endpoint_files.KEY), tmp_path))


def problems(tmp_path: Path, raw: dict[str, str]) -> list[str]:
    with pytest.raises(StackConfigError) as failure:
        read(tmp_path, raw)
    return failure.value.problems


def test_endpoints_come_from_the_files_with_defaults_and_the_stack_files_secrets(tmp_path):
    """Files define endpoints; defaults merge under them; the stack file's entry of the same name adds its secrets."""
    root = project(tmp_path, **{"a.yaml": JAIS, "b.yaml": JAIS.replace("jais:", "other:")})
    stack = read(root, config(defaults={"min_replica": 0}, endpoints={"jais": {"secrets": {"API_KEY": "k"}}}))
    assert sorted(stack.endpoints) == ["jais", "other"]
    assert stack.endpoints["jais"]["secrets"] == {"API_KEY": "k"}
    assert stack.endpoints["jais"]["min_replica"] == 0 and stack.endpoints["other"]["instance_type"] == "nvidia-a10g"


@pytest.mark.parametrize(("written", "read_as"), [
    ("yes", "yes"), ("true", True), ("2026-01-31", "2026-01-31"),
    ("1e3", 1000), ("0o17", 15), ("017", 15), ("0x1F", 31), ("1_000", 1000), ("3.0", 3), ("0.5", 0.5),
    ("1:30", "1:30"), ("08", 8),
], ids=["yes", "true", "date", "exponent", "octal-1.2", "octal-1.1", "hex", "underscores", "whole-float", "float",
        "no-base-60", "not-octal"])
def test_yaml_reads_as_the_stack_files_do(tmp_path, written, read_as):
    """As Go's yaml.v3 reads the stack files and Pulumi hands them over as JSON: YAML 1.2 booleans (`yes` stays a
    string), dates stay strings, numbers in yaml.v3's forms, a whole float arrives whole."""
    root = project(tmp_path, **{"a.yaml": JAIS + f"  env: {{VALUE: {written}}}\n"})
    value = read(root, config()).endpoints["jais"]["env"]["VALUE"]
    assert (value, type(value)) == (read_as, type(read_as))


def test_a_secret_looking_env_value_in_a_file_is_warned_about_naming_the_file(tmp_path):
    root = project(tmp_path, **{"a.yaml": JAIS + "  env: {HF_TOKEN: hf_abcdefghijklmnop}\n"})
    assert read(root, config()).warnings == (
        "endpoints/a.yaml: jais.env.HF_TOKEN looks like a secret, but env values are stored and shown in plain text "
        "(state, preview, the dashboard); move it to secrets: `pulumi config set --secret --path "
        "'hf-endpoints:endpoints.jais.secrets.HF_TOKEN' <value>`, and remove it from env",)


FILE_PROBLEMS = [
    ("no-match", {}, {"endpointFiles": ["endpoints/*.yml"]},
     "hf-endpoints:endpointFiles: 'endpoints/*.yml' matches no file under {root}; fix the pattern or add the file"),
    ("not-a-list", {}, {"endpointFiles": {"a": 1}},
     'hf-endpoints:endpointFiles: {"a": 1} is not a list of file patterns; write a list of paths or glob patterns '
     "relative to the project directory, e.g. [endpoints/*.yaml]"),
    ("absolute", {}, {"endpointFiles": ["/etc/*.yaml"]},
     "hf-endpoints:endpointFiles: '/etc/*.yaml' is not relative to the project directory; write a list of paths or "
     "glob patterns relative to the project directory, e.g. [endpoints/*.yaml]"),
    ("malformed", {"a.yaml": "jais: [\n"}, {},
     "endpoints/a.yaml: malformed YAML at line 2: did not find expected node content"),
    ("written-twice", {"a.yaml": JAIS + JAIS}, {},
     "endpoints/a.yaml: malformed YAML at line 8: the key 'jais' is written twice"),
    ("not-a-mapping", {"a.yaml": "- jais\n"}, {},
     "endpoints/a.yaml: is not a mapping of endpoint name to settings (what hf-endpoints:endpoints holds in a stack "
     "file)"),
    ("two-files", {"a.yaml": JAIS, "b.yaml": JAIS}, {},
     "endpoints/b.yaml: jais: also defined in endpoints/a.yaml; define each endpoint in one file"),
    ("secret-in-file", {"a.yaml": JAIS + "  secrets: {API_KEY: plain}\n"}, {},
     "endpoints/a.yaml: jais.secrets: <redacted> is a secret, and a plain file would keep it in clear; remove it and "
     "set it encrypted in the stack file: `pulumi config set --secret --path "
     "'hf-endpoints:endpoints.jais.secrets.<KEY>' <value>`"),
    ("credentials-in-file", {"a.yaml": JAIS + "  custom_image: {url: x:1, credentials: {password: p}}\n"}, {},
     "endpoints/a.yaml: jais.custom_image.credentials: <redacted> is a secret, and a plain file would keep it in "
     "clear; move jais.custom_image to the stack file's entry of jais, with the password encrypted: `pulumi config "
     "set --secret --path 'hf-endpoints:endpoints.jais.custom_image.credentials.password' <password>`"),
    ("engine-credentials-in-file",
     {"a.yaml": JAIS + "  engine: {custom: {url: x:1, credentials: {username: u, password: p}}}\n"}, {},
     "endpoints/a.yaml: jais.engine.custom.credentials: <redacted> is a secret, and a plain file would keep it in "
     "clear; move jais.engine to the stack file's entry of jais, with the password encrypted: `pulumi config set "
     "--secret --path 'hf-endpoints:endpoints.jais.engine.custom.credentials.password' <password>`"),
    ("null-secret-for-a-file", {"a.yaml": JAIS}, {"endpoints": {"jais": {"secrets": {"API_KEY": None}}}},
     "endpoints/a.yaml: jais.secrets.API_KEY: null has no value, and Pulumi drops it before check (the endpoint "
     "would deploy without it); set it with `pulumi config set --secret --path "
     "'hf-endpoints:endpoints.jais.secrets.API_KEY' <value>`, or remove the line"),
    ("not-utf8", {"a.yaml": JAIS.encode() + b"  env: {X: \xff}\n"}, {},
     "endpoints/a.yaml: is not UTF-8 text (byte 163); save it as UTF-8"),
    ("list-as-key", {"a.yaml": "? [a, b]\n: x\n"}, {},
     "endpoints/a.yaml: malformed: unhashable type: 'list'; keys are endpoint names and setting names"),
    ("both-places", {"a.yaml": JAIS}, {"endpoints": {"jais": {"max_replica": 2, "region": "eu-west-1"}}},
     "hf-endpoints:endpoints.jais.region: also set in endpoints/a.yaml; set each key of an endpoint in one place "
     "(secrets in the stack file, the rest in the file)"),
    ("null-in-file", {"a.yaml": JAIS + "  env: {MAX_INPUT_LENGTH: }\n"}, {},
     "endpoints/a.yaml: jais.env.MAX_INPUT_LENGTH: null has no value, and Pulumi drops it before check (the endpoint "
     'would deploy without it); give it a value (an empty string is "") or remove the line'),
    ("bad-name-in-file", {"a.yaml": JAIS.replace("jais:", "Jais_1:")}, {},
     'endpoints/a.yaml: Jais_1: "Jais_1" is not a valid endpoint name; use at most 32 lowercase letters, digits and '
     "'-', starting and ending with a letter or digit"),
]


@pytest.mark.parametrize(("case", "files", "settings", "problem"), FILE_PROBLEMS, ids=[c[0] for c in FILE_PROBLEMS])
def test_what_is_wrong_with_the_files_is_named_with_the_file(tmp_path, case, files, settings, problem):
    root = project(tmp_path, **files)
    assert problems(root, config(**settings)) == [problem.replace("{root}", str(root))]


def test_without_files_or_endpoints_the_endpoints_are_missing(tmp_path):
    raw = {"hf-endpoints:namespace": "local"}
    assert problems(tmp_path, raw) == ["hf-endpoints:endpoints: missing; map each endpoint name to its settings "
                                       "under hf-endpoints:endpoints"]
    assert read(project(tmp_path, **{"a.yaml": JAIS}), {**raw, **NAMED}).endpoints["jais"]["name"] == "jais"


@pytest.mark.parametrize(("kib", "warned"), [(95, False), (97, True), (200, True)], ids=["under", "near", "over"])
def test_a_config_near_the_limit_warns_naming_its_size_and_the_way_out(kib, warned):
    said: list[str] = []
    value = "x" * (kib * 1024 - len("PULUMI_CONFIG="))
    assert config_size.warn_when_near_the_limit({"PULUMI_CONFIG": value}, said.append) is warned
    assert said == ([f"this stack's config is {kib} KiB as Pulumi passes it to the program (PULUMI_CONFIG), and Linux "
                     "allows one environment variable 128 KiB: move endpoints from hf-endpoints:endpoints into files "
                     'that hf-endpoints:endpointFiles names (README, "Hundreds of endpoints"); secrets stay in the '
                     "stack file"] if warned else [])
