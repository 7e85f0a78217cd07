"""Every bad key fails `check` in the real provider host, naming `endpoints.<name>.<key>`, the value and the
fix, before anything is created and without a single API call."""

from __future__ import annotations

import pytest

from tests.endpoint_stack import ENDPOINT_PROVIDER, ENDPOINT_TYPE, PROJECT
from tests.harness.provider_host import urn
from tests.test_inference_endpoint import jais, start_host

pytestmark = pytest.mark.slow

E = "endpoints.jais"
INVALID = [
    ("name-case", {"name": "Jais_13B"}, "name",
     'endpoints.Jais_13B.name: "Jais_13B" is not valid; use at most 32 lowercase letters, digits and \'-\', '
     "starting and ending with a letter or digit"),
    ("name-too-long", {"name": "j" * 33}, "name", f"endpoints.{'j' * 33}.name: \"{'j' * 33}\" is not valid;"),
    ("name-trailing-dash", {"name": "jais-"}, "name", 'endpoints.jais-.name: "jais-" is not valid;'),
    ("namespace-bad", {"namespace": "my org"}, "namespace", f'{E}.namespace: "my org" is not valid; set '
     "hf-endpoints:namespace to your HF user or organization name"),
    ("repository-missing", {"repository": None}, "repository",
     f"{E}.repository: missing is required; set `repository` under {E} (or in hf-endpoints:defaults)"),
    ("repository-bad", {"repository": "a/b/c"}, "repository", f'{E}.repository: "a/b/c" is not valid; use the '
     "model's Hub id, e.g. `derek-thomas/jais-13b-chat-hf`"),
    ("framework-empty", {"framework": ""}, "framework", f'{E}.framework: "" is not a non-empty string;'),
    ("task-number", {"task": 5}, "task", f"{E}.task: 5 is not a non-empty string;"),
    ("accelerator", {"accelerator": "tpu"}, "accelerator",
     f'{E}.accelerator: "tpu" is not one of cpu, gpu, neuron; use one of cpu, gpu, neuron'),
    ("vendor", {"vendor": "ibm"}, "vendor", f'{E}.vendor: "ibm" is not one of aws, azure, gcp;'),
    ("region", {"region": "mars-1"}, "region", f'{E}.region: "mars-1" is not a region of aws; use one of '),
    ("instance-unknown", {"instance_type": "nvidia-b300"}, "instance_type",
     f'{E}.instance_type: "nvidia-b300/x1" is not offered for accelerator gpu in aws/us-east-1; pick one of: '),
    ("instance-size", {"instance_size": "x3"}, "instance_type",
     f'{E}.instance_type: "nvidia-a10g/x3" is not offered for accelerator gpu in aws/us-east-1;'),
    ("cpu-instance-on-gpu", {"instance_type": "intel-spr", "instance_size": "x4"}, "instance_type",
     f'{E}.instance_type: "intel-spr/x4" is not offered for accelerator gpu in aws/us-east-1;'),
    ("deprecated", {"accelerator": "cpu", "instance_type": "intel-icl", "instance_size": "x4"}, "instance_type",
     f'{E}.instance_type: "intel-icl/x4" is deprecated in aws/us-east-1; pick one of: '),
    ("legacy-size-unknown", {"instance_type": "g5.2xlarge", "instance_size": "huge"}, "instance_size",
     f'{E}.instance_size: "huge" is not a known size for the retired type g5.2xlarge; use the current names'),
    ("type", {"type": "secret"}, "type", f'{E}.type: "secret" is not one of public, authenticated, private;'),
    ("min-negative", {"min_replica": -1}, "min_replica", f"{E}.min_replica: -1 is out of range (must be at least 0)"),
    ("min-fraction", {"min_replica": 0.5}, "min_replica", f"{E}.min_replica: 0.5 is not a whole number;"),
    ("max-zero", {"max_replica": 0}, "max_replica", f"{E}.max_replica: 0 is out of range (must be at least 1); "
     "set max_replica to 1 or more"),
    ("min-above-max", {"min_replica": 3, "max_replica": 2}, "min_replica",
     f"{E}.min_replica: 3 is greater than max_replica (2); lower min_replica or raise max_replica"),
    ("scale-to-zero-needs-min-0", {"scale_to_zero_timeout": 30}, "scale_to_zero_timeout",
     f"{E}.scale_to_zero_timeout: 30 needs min_replica 0 (it is 1); set min_replica: 0, or remove "
     "scale_to_zero_timeout"),
    ("scale-to-zero-range", {"min_replica": 0, "scale_to_zero_timeout": 5}, "scale_to_zero_timeout",
     f"{E}.scale_to_zero_timeout: 5 is out of range (must be between 15 and 2880); give the idle time in "
     "minutes, 15 to 2880"),
    ("scaling-metric", {"scaling_metric": "cpu"}, "scaling_metric",
     f'{E}.scaling_metric: "cpu" is not one of hardwareUsage, pendingRequests;'),
    ("threshold-without-metric", {"scaling_threshold": 80}, "scaling_threshold",
     f"{E}.scaling_threshold: 80 has no scaling_metric; set scaling_metric: hardwareUsage or pendingRequests"),
    ("image-env-key", {"custom_image": {"url": "x:1", "env": {"A": "1"}}}, "custom_image",
     f'{E}.custom_image.env: {{"A": "1"}} is not a custom_image key; environment variables belong in `env`'),
    ("image-no-url", {"custom_image": {"health_route": "/health"}}, "custom_image",
     f"{E}.custom_image.url: missing is not a non-empty string;"),
    ("image-port", {"custom_image": {"url": "x:1", "port": 70000}}, "custom_image",
     f"{E}.custom_image.port: 70000 is out of range (must be between 1 and 65535)"),
    ("image-password-only", {"custom_image": {"url": "x:1", "credentials": {"password": "p"}}}, "custom_image",
     f'{E}.custom_image.credentials: "<redacted>" is not {{username, password}} strings; give both username '
     "and password for the registry (a password needs a username)"),
    ("env-not-mapping", {"env": ["A=1"]}, "env", f'{E}.env: ["A=1"] is not a mapping; write env as NAME: value pairs'),
    ("env-bad-name", {"env": {"MY-VAR": "1"}}, "env", f'{E}.env.MY-VAR: "1" has an invalid variable name;'),
    ("env-nested", {"env": {"A": {"b": 1}}}, "env", f'{E}.env.A: {{"b": 1}} is not a scalar; quote it as a string'),
    ("tgi-input-vs-total", {"env": {"MAX_INPUT_LENGTH": 4096, "MAX_TOTAL_TOKENS": 2048}}, "env",
     f'{E}.env.MAX_INPUT_LENGTH: "4096" must be less than MAX_TOTAL_TOKENS (2048); lower MAX_INPUT_LENGTH or '
     "raise MAX_TOTAL_TOKENS"),
    ("tgi-prefill", {"env": {"MAX_INPUT_LENGTH": 2000, "MAX_BATCH_PREFILL_TOKENS": 1024}}, "env",
     f'{E}.env.MAX_BATCH_PREFILL_TOKENS: "1024" must be at least MAX_INPUT_LENGTH (2000); raise '
     "MAX_BATCH_PREFILL_TOKENS to 2000 or more"),
    ("tgi-quantize", {"env": {"QUANTIZE": "int4"}}, "env",
     f'{E}.env.QUANTIZE: "int4" is not a TGI quantization; use one of awq,'),
    ("tgi-not-a-number", {"env": {"MAX_TOTAL_TOKENS": "lots"}}, "env",
     f'{E}.env.MAX_TOTAL_TOKENS: "lots" is not a positive whole number; e.g. 2048'),
    ("secrets-not-mapping", {"secrets": "hunter2"}, "secrets", f'{E}.secrets: "<redacted>" is not a mapping;'),
    ("tags", {"tags": "prod"}, "tags", f'{E}.tags: "prod" is not a list of non-empty strings;'),
    ("path", {"path": "v1"}, "path", f"{E}.path: \"v1\" is not valid; start the route path with '/'"),
    ("paused", {"paused": "yes"}, "paused", f'{E}.paused: "yes" is not a boolean; write `paused: true` or'),
    ("adopt", {"adopt": 1}, "adopt", f"{E}.adopt: 1 is not a boolean;"),
    ("smoke-no-prompt", {"smoke_test": {"expect": "x"}}, "smoke_test",
     f"{E}.smoke_test.prompt: missing is not a non-empty string; give a prompt the model must answer"),
    ("smoke-bad-regex", {"smoke_test": {"prompt": "hi", "expect": "(unclosed"}}, "smoke_test",
     f'{E}.smoke_test.expect: "(unclosed" is not a regular expression'),
    ("smoke-tokens", {"smoke_test": {"prompt": "hi", "max_new_tokens": 0}}, "smoke_test",
     f"{E}.smoke_test.max_new_tokens: 0 is out of range (must be between 1 and 4096)"),
    ("camel-case-key", {"minReplica": 0}, "minReplica", f"{E}.minReplica: 0 is not a known key; did you mean "
     "`min_replica`?"),
    ("typo-key", {"instance_typ": "x"}, "instance_typ", f'{E}.instance_typ: "x" is not a known key; did you '
     "mean `instance_type`?"),
]


@pytest.fixture(scope="module")
def host(emulator_process):
    host = start_host(emulator_process)
    yield host
    host.close()


def test_table_is_large_enough():
    assert len(INVALID) >= 30


@pytest.mark.parametrize(("change", "key", "reason"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_spec_fails_check_naming_the_key(host, emulator, change, key, reason):
    news = {"__provider": ENDPOINT_PROVIDER, **jais(), "name": "jais", "namespace": "local"}
    news.update(change)
    news = {k: v for k, v in news.items() if v is not None}
    _, failures = host.check(urn("dev", PROJECT, ENDPOINT_TYPE, "jais"), {}, news)
    assert len(failures) == 1, failures
    assert failures[0][0] == key
    assert failures[0][1].startswith(reason), failures[0][1]
    assert emulator.calls() == []  # validation is local: not one API call


def test_every_failure_of_one_spec_is_reported_at_once(host, emulator):
    news = {"__provider": ENDPOINT_PROVIDER, **jais(), "name": "jais", "namespace": "local",
            "min_replica": -1, "region": "mars-1", "env": {"QUANTIZE": "int4"}, "paused": "no"}
    _, failures = host.check(urn("dev", PROJECT, ENDPOINT_TYPE, "jais"), {}, news)
    assert sorted(key for key, _ in failures) == ["env", "min_replica", "paused", "region"]
    assert emulator.calls() == []
