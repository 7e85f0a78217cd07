"""The stack's config as the program reads it (`providers.stack_config`): what only the program can see is refused
there, before anything is registered, one line per problem naming the config key, the value and the fix. Pure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from providers import stack_config
from providers.stack_config import StackConfigError

JAIS = {"repository": "derek-thomas/jais-13b-chat-hf", "accelerator": "gpu", "instance_type": "nvidia-a10g",
        "instance_size": "x1", "env": {"MAX_INPUT_LENGTH": "2000"}}
DEFAULTS = {"framework": "pytorch", "vendor": "aws", "region": "us-east-1"}
PINNED = "0123456789abcdef0123456789abcdef01234567"


def config(**settings: Any) -> dict[str, str]:
    """Raw config as the engine hands it to the program: `hf-endpoints:<key>`, text, JSON text when structured."""
    base: dict[str, Any] = {"namespace": "my-org", "endpoints": {"jais": JAIS}, "defaults": DEFAULTS}
    base.update(settings)
    return {f"hf-endpoints:{key}": value if isinstance(value, str) else json.dumps(value)
            for key, value in base.items() if value is not None}


def problems(raw: dict[str, str]) -> list[str]:
    with pytest.raises(StackConfigError) as error:
        stack_config.read(raw)
    assert str(error.value) == "\n".join(error.value.problems)
    return error.value.problems


def test_read_merges_defaults_and_adds_name_and_namespace():
    stack = stack_config.read(config(readyTimeoutSeconds="300"))
    assert stack.namespace == "my-org"
    assert stack.ready_timeout_seconds == 300
    assert stack.endpoints == {"jais": {**DEFAULTS, **JAIS, "name": "jais", "namespace": "my-org"}}


@pytest.mark.parametrize(("settings", "expected"), [
    ({"namespace": None}, ["hf-endpoints:namespace: missing; set your Hugging Face user or organization: `pulumi "
                           "config set hf-endpoints:namespace <name>`"]),
    ({"namespace": ""}, ['hf-endpoints:namespace: "" is empty; set your Hugging Face user or organization: `pulumi '
                         "config set hf-endpoints:namespace <name>`"]),
    ({"namespace": "my org"}, ['hf-endpoints:namespace: "my org" is not a valid user or organization name; set '
                               "your Hugging Face user or organization: `pulumi config set hf-endpoints:namespace "
                               "<name>`"]),
    ({"endpoints": None, "endpoint": {"jais": JAIS}},
     ["hf-endpoints:endpoint is not a setting of hf-endpoints; did you mean `hf-endpoints:endpoints`?",
      "hf-endpoints:endpoints: missing; map each endpoint name to its settings under hf-endpoints:endpoints"]),
    ({"endpoints": ["jais"]}, ['hf-endpoints:endpoints: ["jais"] is not a mapping; map each endpoint name to its '
                               "settings under hf-endpoints:endpoints"]),
    ({"endpoints": {"jais": "nvidia-a10g"}}, ['hf-endpoints:endpoints.jais: "nvidia-a10g" is not a mapping; give the '
                                              "endpoint its settings (repository, instance_type, ...)"]),
    ({"endpoints": {"jais": {**JAIS, "name": "x"}}},
     ['hf-endpoints:endpoints.jais.name: "x" is not allowed; the name is the key under hf-endpoints:endpoints, '
      "the namespace is hf-endpoints:namespace, the stack is this stack"]),
    ({"endpoints": {"jais": {**JAIS, "stack": "a/b"}}},
     ['hf-endpoints:endpoints.jais.stack: "a/b" is not allowed; the name is the key under hf-endpoints:endpoints, '
      "the namespace is hf-endpoints:namespace, the stack is this stack"]),
    ({"endpoints": {"Jais": JAIS}}, ['hf-endpoints:endpoints.Jais: "Jais" is not a valid endpoint name; use at most '
                                     "32 lowercase letters, digits and '-', starting and ending with a letter or "
                                     "digit"]),
    ({"defaults": {**DEFAULTS, "min_replicas": 1}},
     ["hf-endpoints:defaults.min_replicas: 1 is not an endpoint key; did you mean `min_replica`?"]),
    ({"defaults": {**DEFAULTS, "Secrets": {"API_KEY": "sk-live-1"}}},
     ["hf-endpoints:defaults.Secrets: <redacted> is not an endpoint key; did you mean `secrets`?"]),
    ({"defaults": ["aws"]}, ['hf-endpoints:defaults: ["aws"] is not a mapping; write endpoint settings shared by '
                             "every endpoint (vendor, region, ...)"]),
    ({"defaults": {**DEFAULTS, "namespace": "x"}},
     ['hf-endpoints:defaults.namespace: "x" is not allowed; the name is the key under hf-endpoints:endpoints, '
      "the namespace is hf-endpoints:namespace, the stack is this stack"]),
    ({"readyTimeoutSeconds": "abc"}, ['hf-endpoints:readyTimeoutSeconds: "abc" is not a whole number of seconds; '
                                      "e.g. `pulumi config set hf-endpoints:readyTimeoutSeconds 1800`"]),
    ({"readyTimeoutSeconds": "0"}, ["hf-endpoints:readyTimeoutSeconds: 0 is not a positive number of seconds; "
                                    "e.g. `pulumi config set hf-endpoints:readyTimeoutSeconds 1800`"]),
    ({"deleteTimeoutSeconds": "-5"}, ["hf-endpoints:deleteTimeoutSeconds: -5 is not a positive number of seconds; "
                                      "e.g. `pulumi config set hf-endpoints:deleteTimeoutSeconds 300`"]),
    ({"requirePinnedRevision": "yes"}, ['hf-endpoints:requirePinnedRevision: "yes" is not a boolean; write true or '
                                        "false"]),
    ({"apiUrl": "api.example.com"}, ['hf-endpoints:apiUrl: "api.example.com" is not an http(s) URL; e.g. '
                                     "https://api.endpoints.huggingface.cloud/v2"]),
    ({"hftoken": "hf_abc"}, ["hf-endpoints:hftoken is not a setting of hf-endpoints; did you mean "
                             "`hf-endpoints:hfToken`?"]),
], ids=["no-namespace", "empty-namespace", "bad-namespace", "endpoints-typo", "endpoints-list", "endpoint-string",
        "name-inside", "stack-inside", "uppercase-name", "defaults-typo", "defaults-secret-typo", "defaults-list",
        "defaults-namespace", "ready-timeout-text", "ready-timeout-zero", "delete-timeout-negative",
        "require-pinned-not-bool", "api-url", "setting-typo"])
def test_stack_level_problems_name_the_config_key(settings, expected):
    assert problems(config(**settings)) == expected


@pytest.mark.parametrize(("endpoint", "expected"), [
    ({**JAIS, "secrets": {"API_KEY": None}},
     ["hf-endpoints:endpoints.jais.secrets.API_KEY: null has no value, and Pulumi drops it before check (the endpoint "
      "would deploy without it); set it with `pulumi config set --secret --path "
      "'hf-endpoints:endpoints.jais.secrets.API_KEY' <value>`, or remove the line"]),
    ({**JAIS, "env": {"X": None, "MAX_INPUT_LENGTH": "2000"}},
     ["hf-endpoints:endpoints.jais.env.X: null has no value, and Pulumi drops it before check (the endpoint would "
      'deploy without it); give it a value (an empty string is "") or remove the line']),
    ({**JAIS, "custom_image": {"url": "x:1", "port": None}},
     ["hf-endpoints:endpoints.jais.custom_image.port: null has no value, and Pulumi drops it before check (the "
      'endpoint would deploy without it); give it a value (an empty string is "") or remove the line']),
    ({**JAIS, "tags": ["a", None]},
     ["hf-endpoints:endpoints.jais.tags[1]: null has no value, and Pulumi drops it before check (the endpoint would "
      'deploy without it); give it a value (an empty string is "") or remove the line']),
], ids=["secret-null", "env-null", "image-port-null", "tag-null"])
def test_null_values_inside_an_endpoint_are_refused_before_check(endpoint, expected):
    """The provider host drops nulls before `check`, so `secrets: {API_KEY: }` would deploy without the secret:
    only the program sees them."""
    assert problems(config(endpoints={"jais": endpoint})) == expected


def test_a_null_default_in_defaults_is_named_there():
    assert problems(config(defaults={**DEFAULTS, "env": {"X": None}})) == [
        "hf-endpoints:defaults.env.X: null has no value, and Pulumi drops it before check (the endpoint would deploy "
        'without it); give it a value (an empty string is "") or remove the line']


def test_a_top_level_null_unsets_a_default():
    """`task: null` on an endpoint removes the default's task for that endpoint (it is then unset, not empty)."""
    stack = stack_config.read(config(defaults={**DEFAULTS, "task": "text-generation"},
                                     endpoints={"jais": {**JAIS, "task": None}}))
    assert stack.endpoints["jais"]["task"] is None


@pytest.mark.parametrize(("revision", "expected"), [
    (None, "missing"), ("main", '"main"'), (PINNED.upper(), f'"{PINNED.upper()}"'), (PINNED + "0", f'"{PINNED}0"'),
])
def test_require_pinned_revision_refuses_anything_but_a_commit(revision, expected):
    endpoint = {**JAIS, "revision": revision} if revision else JAIS
    assert problems(config(requirePinnedRevision="true", endpoints={"jais": endpoint})) == [
        f"hf-endpoints:endpoints.jais.revision: {expected} is not a pinned commit (40 lowercase hex digits), and this "
        "stack sets hf-endpoints:requirePinnedRevision; promote a tested commit from dev first: pin it in "
        "Pulumi.dev.yaml, `pulumi up --stack dev`, then `python -m providers.promote dev prod`"]


def test_require_pinned_revision_accepts_a_commit_also_from_defaults():
    assert stack_config.read(config(requirePinnedRevision="true", defaults={**DEFAULTS, "revision": PINNED}))
    assert stack_config.read(config(requirePinnedRevision="false"))


def test_every_problem_is_reported_at_once():
    assert len(problems(config(namespace="", readyTimeoutSeconds="0", endpoints={"Jais": {**JAIS, "env": {"X": None}}},
                               defaults={"regoin": "x"}))) == 5


@pytest.mark.parametrize(("settings", "expected"), [
    ({"endpoints": {"jais": {**JAIS, "__provider": "x"}}},
     ['hf-endpoints:endpoints.jais.__provider: "x" is not a known key; remove it (keys starting with `__` are '
      "Pulumi's own)"]),
    ({"endpoints": {"jais": {**JAIS, "__proto__": {"polluted": True}}}},
     ['hf-endpoints:endpoints.jais.__proto__: {"polluted": true} is not a known key; remove it (keys starting with '
      "`__` are Pulumi's own)"]),
    ({"endpoints": {"jais": {**JAIS, "state": "running"}}},
     ['hf-endpoints:endpoints.jais.state: "running" is an output of the endpoint, not an input; remove it (the API '
      "sets it; read it with `pulumi stack output`)"]),
    ({"endpoints": {"jais": {**JAIS, "url": "http://evil.example/"}}},
     ['hf-endpoints:endpoints.jais.url: "http://evil.example/" is an output of the endpoint, not an input; remove it '
      "(the API sets it; read it with `pulumi stack output`)"]),
    ({"endpoints": {"ja\x1bis": JAIS}},
     ['hf-endpoints:endpoints.ja\\u001bis: "ja\\u001bis" is not a valid endpoint name; use at most 32 lowercase '
      "letters, digits and '-', starting and ending with a letter or digit"]),
    ({"ready\x1bTimeoutSeconds": "5"},
     ["hf-endpoints:ready\\u001bTimeoutSeconds is not a setting of hf-endpoints; did you mean "
      "`hf-endpoints:readyTimeoutSeconds`?"]),
    ({"defaults": {**DEFAULTS, "min\x1breplica": 1}},
     ["hf-endpoints:defaults.min\\u001breplica: 1 is not an endpoint key; did you mean `min_replica`?"]),
    ({"endpoints": {"jais": {**JAIS, "env": {"A\x1bB": None}}}},
     ["hf-endpoints:endpoints.jais.env.A\\u001bB: null has no value, and Pulumi drops it before check (the endpoint "
      'would deploy without it); give it a value (an empty string is "") or remove the line']),
], ids=["dunder-provider", "dunder-proto", "output-state", "output-url", "escape-in-endpoint-name",
        "escape-in-setting", "escape-in-defaults-key", "escape-in-env-name"])
def test_keys_that_are_no_inputs_and_raw_key_paths_are_refused_by_the_program(settings, expected):
    """Issue 16: `__provider: x` crashed the provider host with a traceback, outputs given as input were ignored, and a
    key's ESC byte reached the terminal raw. The program refuses them before anything is registered."""
    assert problems(config(**settings)) == expected


def test_a_token_given_as_a_list_fails_the_preview():
    """It passed the preview and reached the API at `up` (401)."""
    assert problems(config(hfToken=["hf_abcdefghijklmnop", "x"])) == [
        "hf-endpoints:hfToken: <redacted> is not a string (the API would refuse it at `up`); set the token alone: "
        "`pulumi config set --secret hf-endpoints:hfToken <token>`"]


IN_CLEAR = ("is in the stack file in plain text (the preview shows it as [secret], yet only `--secret` config is "
            "encrypted)")
WITH_SECRETS = {**JAIS, "secrets": {"API_KEY": "sk-live-0000"},
                "custom_image": {"url": "x:1", "credentials": {"username": "bot", "password": "pw-0000"}}}


@pytest.mark.parametrize(("settings", "secret_keys", "expected"), [
    ({"hfToken": "hf_abcdefghijklmnop"}, [],
     [f"hf-endpoints:hfToken {IN_CLEAR}; store it encrypted: `pulumi config set --secret hf-endpoints:hfToken "
      "<token>`, or export HF_TOKEN instead"]),
    ({"hfToken": "hf_abcdefghijklmnop"}, ["hf-endpoints:hfToken"], []),
    ({"endpoints": {"jais": WITH_SECRETS}}, [],
     [f"hf-endpoints:endpoints.jais.secrets.API_KEY {IN_CLEAR}; store it encrypted: `pulumi config set --secret "
      "--path 'hf-endpoints:endpoints.jais.secrets.API_KEY' <value>`",
      f"hf-endpoints:endpoints.jais.custom_image.credentials.password {IN_CLEAR}; store it encrypted: `pulumi config "
      "set --secret --path 'hf-endpoints:endpoints.jais.custom_image.credentials.password' <password>`"]),
    ({"endpoints": {"jais": WITH_SECRETS}}, ["hf-endpoints:endpoints"], []),
    ({"defaults": {**DEFAULTS, "secrets": {"DB": "x"}}}, ["hf-endpoints:endpoints"],
     [f"hf-endpoints:defaults.secrets.DB {IN_CLEAR}; store it encrypted: `pulumi config set --secret --path "
      "'hf-endpoints:defaults.secrets.DB' <value>`"]),
    ({"endpoints": {"jais": {**JAIS, "env": {"HF_TOKEN": "x", "TOKENIZER": "hf_abcdefghijklmnop",
                                             "MAX_TOTAL_TOKENS": "2048", "MODEL_ID": "/repository"}}}},
     ["hf-endpoints:endpoints"],
     ["hf-endpoints:endpoints.jais.env.HF_TOKEN looks like a secret, but env values are stored and shown in plain "
      "text (state, preview, the dashboard); move it to secrets: `pulumi config set --secret --path "
      "'hf-endpoints:endpoints.jais.secrets.HF_TOKEN' <value>`, and remove it from env",
      "hf-endpoints:endpoints.jais.env.TOKENIZER looks like a secret, but env values are stored and shown in plain "
      "text (state, preview, the dashboard); move it to secrets: `pulumi config set --secret --path "
      "'hf-endpoints:endpoints.jais.secrets.TOKENIZER' <value>`, and remove it from env"]),
    ({"endpoints": {"jais": {**{k: v for k, v in WITH_SECRETS.items() if k not in ("secrets", "custom_image")},
                             "engine": {"custom": WITH_SECRETS["custom_image"]}}}}, [],
     [f"hf-endpoints:endpoints.jais.engine.custom.credentials.password {IN_CLEAR}; store it encrypted: `pulumi "
      "config set --secret --path 'hf-endpoints:endpoints.jais.engine.custom.credentials.password' <password>`"]),
], ids=["token-in-clear", "token-encrypted", "secrets-in-clear", "secrets-encrypted", "default-secrets-in-clear",
        "secret-looking-env", "engine-custom-password-in-clear"])
def test_secret_values_in_clear_are_warned_about_never_shown(settings, secret_keys, expected):
    """They passed without a word; the preview even showed `[secret]`, hiding that they sit unencrypted on disk."""
    stack = stack_config.read(config(**settings), secret_keys)
    assert list(stack.warnings) == expected
    assert not [w for w in stack.warnings if "sk-live-0000" in w or "pw-0000" in w or "hf_abcdefghijklmnop" in w]
