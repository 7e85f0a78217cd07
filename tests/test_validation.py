"""`validation.validate` under hostile input: every wrong type fails naming its key, nothing crashes, preview
unknowns are left for later, and no failure or warning ever shows a secret value. Pure: no host, no network."""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.output import Unknown

from providers import validation
from providers.fields import INPUT_KEYS
from providers.values import REDACTED, is_secret_key, show

BASE: dict[str, Any] = {
    "name": "jais", "namespace": "local", "repository": "derek-thomas/jais-13b-chat-hf", "framework": "pytorch",
    "task": "text-generation", "accelerator": "gpu", "vendor": "aws", "region": "us-east-1",
    "instance_type": "nvidia-a10g", "instance_size": "x1", "type": "authenticated", "min_replica": 0,
    "max_replica": 1, "scale_to_zero_timeout": 15,
    "custom_image": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health",
                     "port": 80},
    "env": {"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000", "MAX_TOTAL_TOKENS": "2048"},
    "smoke_test": {"prompt": "hi", "expect": "(?i)positive", "max_new_tokens": 20},
}
REPO = Path(__file__).resolve().parent.parent
DETERMINISTIC = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                         suppress_health_check=[HealthCheck.too_slow])
"""Hypothesis runs the same examples every time: a failure reproduces on any machine and in CI."""


def validate(**changes: Any) -> validation.Checked:
    raw = {**copy.deepcopy(BASE), **changes}
    return validation.validate({key: value for key, value in raw.items() if value is not None})


def reasons(result: validation.Checked) -> list[str]:
    return [failure.reason for failure in result.failures]


# Values of the wrong type for (nearly) every key; VALID lists the few that are right for a key.
HOSTILE: list[tuple[str, Any]] = [
    ("empty-list", []), ("list", ["x"]), ("empty-mapping", {}), ("mapping", {"a": 1}), ("inf", math.inf),
    ("minus-inf", -math.inf), ("nan", math.nan), ("true", True), ("false", False), ("empty-string", ""),
    ("blank", "  "), ("negative", -1), ("fraction", 0.5),
]
VALID: dict[str, tuple[str, ...]] = {
    "paused": ("true", "false"), "adopt": ("true", "false"), "tags": ("empty-list", "list"),
    "env": ("empty-mapping", "mapping"), "secrets": ("empty-mapping",), "command": ("list",), "args": ("list",),
    "cache_http_responses": ("true", "false"),
}


@pytest.mark.parametrize("key", INPUT_KEYS)
@pytest.mark.parametrize(("label", "value"), HOSTILE, ids=[label for label, _ in HOSTILE])
def test_a_wrong_type_fails_naming_the_key(key, label, value):
    """No traceback for any type in any key: a failure whose property is the key and whose text names it."""
    result = validate(**{key: value})
    if label in VALID.get(key, ()):
        assert not [f for f in result.failures if f.key == key], reasons(result)
        return
    named = [f for f in result.failures if f.key == key]
    assert named, (key, label, reasons(result))
    assert any(f".{key}: " in f.reason or f".{key}." in f.reason for f in named), reasons(result)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"max_replica": math.inf}, "endpoints.jais.max_replica: Infinity is not a whole number; set max_replica to 1 "
     "or more"),
    ({"min_replica": math.nan}, "endpoints.jais.min_replica: NaN is not a whole number; set min_replica to 0 (scale "
     "to zero) or more"),
    ({"min_replica": True}, "endpoints.jais.min_replica: true is not a whole number; set min_replica to 0 (scale to "
     "zero) or more"),
    ({"instance_type": ["nvidia-a10g"]}, 'endpoints.jais.instance_type: ["nvidia-a10g"] is not a non-empty string; '
     "set `instance_type`, e.g. nvidia-a10g / x1"),
    ({"instance_size": {"x": 1}}, 'endpoints.jais.instance_size: {"x": 1} is not a non-empty string; set '
     "`instance_size`, e.g. nvidia-a10g / x1"),
    ({"custom_image": {**BASE["custom_image"], "port": math.inf}},
     "endpoints.jais.custom_image.port: Infinity is not a whole number; use the container's port, e.g. 80"),
    ({"smoke_test": {"prompt": "hi", "max_new_tokens": -math.inf}},
     "endpoints.jais.smoke_test.max_new_tokens: -Infinity is not a whole number; e.g. 20"),
    ({"scaling_metric": "pendingRequests", "scaling_threshold": math.inf},
     "endpoints.jais.scaling_threshold: Infinity is not a positive finite number; e.g. 80 (% hardware usage) or 1.5 "
     "(pending requests per replica)"),
    ({"env": {"A": math.nan}}, "endpoints.jais.env.A: NaN is not a finite number; quote it as a string"),
], ids=["max-inf", "min-nan", "min-bool", "instance-type-list", "instance-size-mapping", "port-inf",
        "tokens-minus-inf", "threshold-inf", "env-nan"])
def test_wrong_type_messages(changes, reason):
    assert reasons(validate(**changes)) == [reason]


@pytest.mark.parametrize("changes", [
    {"min_replica": Unknown()},
    {"max_replica": Unknown()},
    {"min_replica": Unknown(), "max_replica": Unknown(), "scale_to_zero_timeout": Unknown()},
    {"min_replica": 3, "max_replica": Unknown(), "scale_to_zero_timeout": None},
    {"accelerator": Unknown()},
    {"instance_type": Unknown()},
    {"region": Unknown(), "vendor": Unknown()},
    {"scaling_metric": Unknown(), "scaling_threshold": 500},
    {"custom_image": Unknown()},
    {"custom_image": {"url": Unknown(), "health_route": "/health", "port": Unknown()}},
    {"env": {"MAX_INPUT_LENGTH": Unknown(), "MAX_TOTAL_TOKENS": "2048"}},
    {"env": Unknown()},
    {"secrets": {"API_KEY": Unknown()}},
    {"smoke_test": {"prompt": Unknown(), "expect": Unknown()}},
    {"tags": [Unknown(), "team-a"]},
    {"name": Unknown()},
], ids=["min", "max", "scaling-all", "min-above-unknown-max", "accelerator", "instance-type", "placement",
        "metric", "image", "image-fields", "env-value", "env", "secret-value", "smoke-fields", "tag", "name"])
def test_preview_unknowns_are_left_for_later(changes):
    """During preview a value may come from another resource's output: not known yet, so not judged yet."""
    result = validate(**changes)
    assert result.failures == []
    for key, value in changes.items():
        assert (key in result.inputs) is (value is not None)


SECRET = "sk-live-SECRET-VALUE"
PASSWORD = "registry-PASSWORD"
TOKEN_LIKE = "hf_" + "Ab1" * 12


@pytest.mark.parametrize(("changes", "reason"), [
    ({"Secrets": {"API_KEY": SECRET}}, "endpoints.jais.Secrets: <redacted> is not a known key; did you mean "
     "`secrets`?"),
    ({"secret": {"API_KEY": SECRET}}, "endpoints.jais.secret: <redacted> is not a known key; did you mean "
     "`secrets`?"),
    ({"hf_token": SECRET}, "endpoints.jais.hf_token: <redacted> is not a known key; remove it (known keys: "),
    ({"apiKey": SECRET}, "endpoints.jais.apiKey: <redacted> is not a known key; remove it (known keys: "),
    ({"env_vars": {"API_KEY": SECRET, "A": "1"}}, 'endpoints.jais.env_vars: {"A": "1", "API_KEY": "<redacted>"} '
     "is not a known key; remove it (known keys: "),
    ({"custom_image": {**BASE["custom_image"], "credential": {"username": "u", "password": PASSWORD}}},
     "endpoints.jais.custom_image.credential: <redacted> is not a custom_image key; did you mean `credentials`?"),
    ({"custom_image": {**BASE["custom_image"], "credentials": {"password": PASSWORD}}},
     "endpoints.jais.custom_image.credentials: <redacted> is not {username, password} strings; give both username "
     "and password for the registry, neither empty (a password needs a username)"),
    ({"secrets": {"API_KEY": [SECRET]}}, "endpoints.jais.secrets.API_KEY: <redacted> is not a non-empty string; "
     "quote the value (set it with `pulumi config set --secret --path "
     "'hf-endpoints:endpoints.jais.secrets.API_KEY' <value>`)"),
    ({"secrets": {"API_KEY": 123}}, "endpoints.jais.secrets.API_KEY: <redacted> is not a non-empty string; "
     "quote the value (set it with `pulumi config set --secret --path "
     "'hf-endpoints:endpoints.jais.secrets.API_KEY' <value>`)"),
    ({"secrets": {"API_KEY": ""}}, "endpoints.jais.secrets.API_KEY: <redacted> is not a non-empty string; "),
    ({"secrets": SECRET}, "endpoints.jais.secrets: <redacted> is not a mapping; write secrets as NAME: value pairs"),
    ({"secrets": {"api-key": SECRET}}, "endpoints.jais.secrets.api-key: <redacted> has an invalid variable name; "
     "use letters, digits and '_'"),
    ({"env": {"HF_TOKEN": [TOKEN_LIKE]}}, "endpoints.jais.env.HF_TOKEN: <redacted> is not a scalar; quote it as a "
     "string"),
    ({"region": TOKEN_LIKE}, "endpoints.jais.region: <redacted> is not a region of aws; use one of "),
], ids=["Secrets-typo", "secret-typo", "token-key", "camel-api-key", "nested-secret-key", "credential-typo",
        "password-without-user", "secret-list", "secret-int", "secret-empty", "secrets-string", "secret-bad-name",
        "token-in-env", "token-shaped-value"])
def test_failures_never_show_a_secret_value(changes, reason):
    """Keys that look like they hold a secret, and everything under `secrets` or registry credentials, are shown as
    <redacted> whatever the failure; so is a value shaped like a token anywhere."""
    (failure,) = validate(**changes).failures
    assert failure.reason.startswith(reason), failure.reason
    for value in (SECRET, PASSWORD, TOKEN_LIKE):
        assert value not in failure.reason


@pytest.mark.parametrize(("key", "secret"), [
    ("secret", True), ("Secrets", True), ("SECRETS", True), ("token", True), ("HF_TOKEN", True), ("hfToken", True),
    ("password", True), ("PASSWD", True), ("credential", True), ("credentials", True), ("api_key", True),
    ("API-KEY", True), ("apiKey", True), ("OPENAI_API_KEY", True), ("private_key", True), ("Authorization", True),
    ("MAX_TOTAL_TOKENS", False), ("MAX_INPUT_TOKENS", False), ("min_replica", False), ("env", False),
    ("keyboard", False), ("MODEL_ID", False), ("custom_image", False),
])
def test_secret_looking_keys(key, secret):
    assert is_secret_key(key) is secret


def test_show_redacts_nested_secret_keys_and_token_shaped_values():
    assert show({"a": 1, "password": "p", "nested": {"apiKey": "k", "ok": TOKEN_LIKE}}) == (
        '{"a": 1, "nested": {"apiKey": "<redacted>", "ok": "<redacted>"}, "password": "<redacted>"}')
    assert show("x", "custom_image.credentials.username") == REDACTED


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
KEYS = st.sampled_from([*INPUT_KEYS, "Secrets", "secret", "env_vars", "credential", "hf_token", "minReplica"])


@DETERMINISTIC
@given(changes=st.dictionaries(KEYS, JSON_VALUES | st.just(Unknown()), max_size=4))
def test_arbitrary_values_never_crash_and_never_leak(changes):
    """Any JSON-like value (and preview unknowns) in any key: validate returns, and a stand-in secret placed under
    a secret-looking key never shows in a message."""
    for key in list(changes):
        if is_secret_key(key) or key == "secrets":
            changes[key] = {"API_KEY": SECRET} if isinstance(changes[key], dict) else SECRET
    result = validate(**changes)
    for text in [*reasons(result), *result.warnings]:
        assert SECRET not in text


TGI = "ghcr.io/huggingface/text-generation-inference"
V1_DEFAULT = "TGI 1.x's default when it is unset"


def image(tag: str, repository: str = TGI) -> dict[str, Any]:
    return {"url": f"{repository}:{tag}", "health_route": "/health", "port": 80}


@pytest.mark.parametrize(("tag", "env", "expected"), [
    ("1.3.4", {"MAX_INPUT_LENGTH": 3000, "MAX_BATCH_PREFILL_TOKENS": 4096},
     [f'env.MAX_INPUT_LENGTH: "3000" must be less than MAX_TOTAL_TOKENS (2048, {V1_DEFAULT}); lower '
      "MAX_INPUT_LENGTH or set MAX_TOTAL_TOKENS above it"]),
    ("1.3.4", {"MAX_TOTAL_TOKENS": 1000},
     [f'env.MAX_TOTAL_TOKENS: "1000" must be greater than MAX_INPUT_LENGTH (1024, {V1_DEFAULT}); raise '
      "MAX_TOTAL_TOKENS or set MAX_INPUT_LENGTH below it"]),
    ("1.3.4", {"MAX_INPUT_LENGTH": 5000, "MAX_TOTAL_TOKENS": 6000},
     [f'env.MAX_INPUT_LENGTH: "5000" is above MAX_BATCH_PREFILL_TOKENS (4096, {V1_DEFAULT}); set '
      "MAX_BATCH_PREFILL_TOKENS to 5000 or more"]),
    ("1.3.4", {"MAX_BATCH_TOTAL_TOKENS": 1024},
     [f'env.MAX_BATCH_TOTAL_TOKENS: "1024" must be at least MAX_TOTAL_TOKENS (2048, {V1_DEFAULT}); raise '
      "MAX_BATCH_TOTAL_TOKENS or lower MAX_TOTAL_TOKENS"]),
    ("1.3.4", {"MAX_INPUT_TOKENS": 1000},
     ['env.MAX_INPUT_TOKENS: "1000" is not read by TGI 1.x (custom_image tag 1.3.4); use MAX_INPUT_LENGTH (TGI '
      "2.0 renamed it MAX_INPUT_TOKENS)"]),
    ("1.3.4", {"MAX_INPUT_TOKENS": 1000, "MAX_INPUT_LENGTH": 3000, "MAX_TOTAL_TOKENS": 2048},
     ['env.MAX_INPUT_TOKENS: "1000" is not read by TGI 1.x (custom_image tag 1.3.4); use MAX_INPUT_LENGTH (TGI '
      "2.0 renamed it MAX_INPUT_TOKENS)",
      'env.MAX_INPUT_LENGTH: "3000" must be less than MAX_TOTAL_TOKENS (2048); lower MAX_INPUT_LENGTH or raise '
      "MAX_TOTAL_TOKENS"]),
    ("1.3.4", {"MAX_INPUT_LENGTH": 1000, "MAX_TOTAL_TOKENS": 4096, "MAX_BATCH_PREFILL_TOKENS": 1024,
               "MAX_BATCH_TOTAL_TOKENS": 2048},
     ['env.MAX_BATCH_TOTAL_TOKENS: "2048" must be at least MAX_TOTAL_TOKENS (4096); raise MAX_BATCH_TOTAL_TOKENS or '
      "lower MAX_TOTAL_TOKENS"]),
    ("1.3.4", {"MAX_INPUT_LENGTH": 1000, "MAX_TOTAL_TOKENS": 2000, "MAX_BATCH_PREFILL_TOKENS": 8192,
               "MAX_BATCH_TOTAL_TOKENS": 4096},
     ['env.MAX_BATCH_PREFILL_TOKENS: "8192" must be at most MAX_BATCH_TOTAL_TOKENS (4096); lower '
      "MAX_BATCH_PREFILL_TOKENS or raise MAX_BATCH_TOTAL_TOKENS"]),
    ("3.1.1", {"MAX_INPUT_TOKENS": 1000, "MAX_INPUT_LENGTH": 1000, "MAX_TOTAL_TOKENS": 2048},
     ['env.MAX_INPUT_LENGTH: "1000" is set together with MAX_INPUT_TOKENS, and TGI 2.0 and later refuse both '
      "(MAX_INPUT_LENGTH is the legacy name); remove MAX_INPUT_LENGTH"]),
    ("3.1.1", {"MAX_INPUT_TOKENS": 4096, "MAX_TOTAL_TOKENS": 4096},
     ['env.MAX_INPUT_TOKENS: "4096" must be less than MAX_TOTAL_TOKENS (4096); lower MAX_INPUT_TOKENS or raise '
      "MAX_TOTAL_TOKENS"]),
    ("2.4.0-rocm", {"MAX_INPUT_LENGTH": 4096, "MAX_TOTAL_TOKENS": 4096},
     ['env.MAX_INPUT_LENGTH: "4096" must be less than MAX_TOTAL_TOKENS (4096); lower MAX_INPUT_LENGTH or raise '
      "MAX_TOTAL_TOKENS"]),
    ("3.1.1", {"MAX_INPUT_TOKENS": 3000}, []),
    ("3.1.1", {"MAX_INPUT_TOKENS": 3000, "MAX_BATCH_PREFILL_TOKENS": 2048},
     ['env.MAX_BATCH_PREFILL_TOKENS: "2048" must be at least MAX_INPUT_TOKENS (3000); raise '
      "MAX_BATCH_PREFILL_TOKENS to 3000 or more"]),
    ("latest", {"MAX_INPUT_TOKENS": 1000, "MAX_INPUT_LENGTH": 1000},
     ['env.MAX_INPUT_LENGTH: "1000" is set together with MAX_INPUT_TOKENS, and TGI 2.0 and later refuse both '
      "(MAX_INPUT_LENGTH is the legacy name); remove one (TGI 1.x reads MAX_INPUT_LENGTH, 2.0 and later "
      "MAX_INPUT_TOKENS)"]),
    ("latest", {"MAX_INPUT_LENGTH": 3000}, []),
    ("1.3.4", {"MAX_BATCH_PREFILL_TOKENS": 2048, "MAX_INPUT_LENGTH": 2000, "MAX_TOTAL_TOKENS": 2048}, []),
], ids=["v1-default-total", "v1-total-below-default-input", "v1-input-above-default-prefill",
        "v1-batch-total-below-default-total", "v1-reads-no-max-input-tokens", "v1-both-names",
        "batch-total-below-total", "prefill-above-batch-total", "v3-both-names", "v3-max-input-tokens",
        "v2-legacy-alias", "v3-defaults-depend-on-the-model", "v3-prefill-below-input", "unknown-version-both-names",
        "unknown-version-no-defaults", "dev-stack"])
def test_tgi_budget_rules_by_major_version(tag, env, expected):
    """TGI's launcher and router refuse these at start-up, minutes and dollars later; check refuses them now. The
    major version comes from the custom image's tag: 1.x reads MAX_INPUT_LENGTH (defaults 1024 / 2048 / 4096),
    2.0 and later read MAX_INPUT_TOKENS with MAX_INPUT_LENGTH as a legacy alias and model-dependent defaults."""
    result = validate(custom_image=image(tag), env=env)
    assert reasons(result) == [f"endpoints.jais.{line}" for line in expected]


def test_the_default_image_has_no_known_tgi_version():
    assert reasons(validate(custom_image=None, env={"MAX_INPUT_LENGTH": 3000})) == []


@pytest.mark.parametrize(("url", "reason"), [
    ("ghcr.io/huggingface/text generation:1", 'custom_image.url: "ghcr.io/huggingface/text generation:1" is not an '
     "image reference (it contains spaces); remove the spaces, e.g. "
     "ghcr.io/huggingface/text-generation-inference:3.1.1"),
    ("https://ghcr.io/huggingface/tgi:1", 'custom_image.url: "https://ghcr.io/huggingface/tgi:1" is not an image '
     "reference (it has a URL scheme); drop `https://`: ghcr.io/huggingface/tgi:1"),
    (TGI, f'custom_image.url: "{TGI}" has no tag or digest; pin one, e.g. {TGI}:3.1.1 (without one, a replica runs '
     "whatever `latest` is when it starts)"),
    ("ghcr.io/HuggingFace/TGI:1", 'custom_image.url: "ghcr.io/HuggingFace/TGI:1" is not an image reference; write '
     "[registry/]repository:tag or [registry/]repository@sha256:<digest>, repository in lowercase, e.g. "
     "ghcr.io/huggingface/text-generation-inference:3.1.1"),
    ("ghcr.io/a/b:", 'custom_image.url: "ghcr.io/a/b:" is not an image reference; write '),
    ("ghcr.io/a/b@sha256:abc", 'custom_image.url: "ghcr.io/a/b@sha256:abc" is not an image reference; write '),
    ("", 'custom_image.url: "" is not a non-empty string; give the container image, e.g. '
     "ghcr.io/huggingface/text-generation-inference:3.1.1"),
], ids=["spaces", "scheme", "untagged", "uppercase", "empty-tag", "short-digest", "empty"])
def test_custom_image_url_must_be_an_image_reference(url, reason):
    (failure,) = validate(custom_image={"url": url, "health_route": "/health", "port": 80}, env=None).failures
    assert failure.reason.startswith(f"endpoints.jais.{reason}"), failure.reason


@pytest.mark.parametrize("url", [
    f"{TGI}:3.1.1", "x:1", "ubuntu:22.04", "localhost:5000/team/img:1", "registry.example.com:443/a/b_c.d-e:v1.0",
    f"ghcr.io/a/b@sha256:{'0' * 64}", f"ghcr.io/a/b:1@sha256:{'a' * 64}", "docker.io/library/nginx:1.27-alpine",
])
def test_valid_image_references(url):
    assert reasons(validate(custom_image={"url": url, "health_route": "/health", "port": 80}, env=None)) == []


@pytest.mark.parametrize(("metric", "threshold", "reason"), [
    ("hardwareUsage", 500, "endpoints.jais.scaling_threshold: 500 is not a percentage; hardwareUsage is the share "
     "of hardware in use: give more than 0 and at most 100, e.g. 80"),
    ("hardwareUsage", 100.5, "endpoints.jais.scaling_threshold: 100.5 is not a percentage;"),
    ("hardwareUsage", -1, "endpoints.jais.scaling_threshold: -1 is not a positive finite number; e.g. 80"),
    ("pendingRequests", 0, "endpoints.jais.scaling_threshold: 0 is not a positive finite number; e.g. 80"),
    ("hardwareUsage", 100, None), ("hardwareUsage", 0.5, None), ("pendingRequests", 500, None),
    ("pendingRequests", 1.5, None),
], ids=["hw-500", "hw-100.5", "hw-negative", "pending-0", "hw-100", "hw-0.5", "pending-500", "pending-1.5"])
def test_scaling_threshold_range_depends_on_the_metric(metric, threshold, reason):
    result = validate(scaling_metric=metric, scaling_threshold=threshold)
    if reason is None:
        assert result.failures == [] and result.inputs["scaling_threshold"] == threshold
    else:
        (failure,) = result.failures
        assert failure.reason.startswith(reason), failure.reason


def hub_repo_id_problem(repo_id: str) -> str | None:
    """What the unmodified huggingface_hub says of an id: its reason, without the id its message ends with."""
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        return str(error).split(": '", 1)[0].rstrip(".")
    return None


NOT_ALPHANUMERIC = ("Repo id must use alphanumeric chars, '-', '_' or '.'. The name cannot start or end with '-' or "
                    "'.' and the maximum length is 96")


@pytest.mark.parametrize(("repo_id", "reason"), [
    ("derek-thomas/jais-13b-chat-hf", None),
    ("gpt2", None),
    ("Org_1/Model.v2-final", None),
    (f"{'a' * 96}/{'b' * 96}", None),
    ("a/b/c", "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"),
    ("datasets/org/name", "Repo id must be in the form 'repo_name' or 'namespace/repo_name'"),
    ("a" * 97, NOT_ALPHANUMERIC),
    (f"{'a' * 97}/b", NOT_ALPHANUMERIC),
    ("-leading", NOT_ALPHANUMERIC),
    ("org/trailing.", NOT_ALPHANUMERIC),
    ("derek-thomas/ja\u00efs-13b", NOT_ALPHANUMERIC),
    ("/name", NOT_ALPHANUMERIC),
    ("org/a b", NOT_ALPHANUMERIC),
    ("derek--thomas/jais", "Cannot have -- or .. in repo_id"),
    ("org/a..b", "Cannot have -- or .. in repo_id"),
    ("org/model.git", "Repo_id cannot end by '.git'"),
], ids=["namespace-and-name", "name-only", "underscore-dot-dash", "96-each", "three-parts", "repo-type-prefix",
        "97-characters", "97-character-namespace", "leading-dash", "trailing-dot", "non-ascii", "empty-namespace",
        "space", "double-dash", "double-dot", "dot-git"])
def test_repository_ids_by_huggingface_hubs_rules(repo_id, reason):
    """The provider's own copy of huggingface_hub's rules (importing them costs the provider host 25 ms per command)
    gives the reason huggingface_hub gives, word for word."""
    assert validation._repo_id_problem(repo_id) == reason
    assert hub_repo_id_problem(repo_id) == reason


@DETERMINISTIC
@given(st.lists(st.sampled_from(["a", "Z", "9", "_", "-", ".", "/", "..", "--", ".git", "\u00ef", " ", "a" * 95]),
                max_size=8).map("".join) | st.text(max_size=30))
def test_repository_ids_agree_with_huggingface_hub_on_any_text(repo_id):
    assert validation._repo_id_problem(repo_id) == hub_repo_id_problem(repo_id)


def test_checking_a_spec_does_not_load_huggingface_hub():
    """The provider host checks every endpoint of every command: huggingface_hub (its HTTP stack) loads only for a
    call to the Hub, which an endpoint whose model facts are on disk never makes."""
    probe = ("import sys; from providers import InferenceEndpointProvider, validation; "
             f"validation.validate({BASE!r}); "
             "print(sorted(m for m in sys.modules if m.startswith('huggingface_hub')))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
