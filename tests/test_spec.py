"""The pure layer: canonical inputs, exact payloads, diffs, drift, readiness verdicts, stack config. No I/O."""

from __future__ import annotations

import copy

import pytest

from providers import InferenceEndpointProvider, budget, fields, payloads, spec, stack_config, validation
from providers.readiness import FAILED, PROBE, READY, WAIT, classify

JAIS = {
    "name": "jais-13b-chat", "namespace": "local", "repository": "derek-thomas/jais-13b-chat-hf",
    "task": "text-generation", "accelerator": "gpu", "vendor": "aws", "region": "us-east-1",
    "instance_type": "nvidia-a10g", "instance_size": "x1", "min_replica": 0, "max_replica": 1,
    "scale_to_zero_timeout": 15,
    "custom_image": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health"},
    "env": {"MAX_BATCH_PREFILL_TOKENS": 2048, "MAX_INPUT_LENGTH": 2000, "QUANTIZE": "bitsandbytes",
            "TRUST_REMOTE_CODE": True, "MODEL_ID": "/repository"},
}


TEI_ON_CPU = {"task": "feature-extraction", "accelerator": "cpu", "instance_type": "intel-spr", "instance_size": "x2",
              "custom_image": None, "env": None, "engine": {"tei": {}}}


def checked(**changes):
    raw = {**copy.deepcopy(JAIS), **changes}
    return validation.validate({k: v for k, v in raw.items() if v is not None})


def test_jais_create_payload_is_exact():
    """The tutorial's deployment becomes the exact body huggingface_hub would send, in current names."""
    result = checked()
    assert result.failures == [] and result.warnings == []
    assert payloads.create_payload(result.inputs) == {
        "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-a10g",
                    "scaling": {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15}},
        "model": {"framework": "pytorch", "repository": "derek-thomas/jais-13b-chat-hf", "revision": None,
                  "image": {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4",
                                       "port": 80, "healthRoute": "/health"}},
                  "task": "text-generation",
                  "env": {"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000",
                          "MODEL_ID": "/repository", "QUANTIZE": "bitsandbytes", "TRUST_REMOTE_CODE": "true"}},
        "name": "jais-13b-chat",
        "provider": {"region": "us-east-1", "vendor": "aws"},
        "type": "authenticated",
    }


@pytest.mark.parametrize(("changes", "expected"), [
    ({"task": None, "custom_image": None, "env": None, "min_replica": None, "max_replica": None,
      "scale_to_zero_timeout": None},
     {"model": {"framework": "pytorch", "repository": "derek-thomas/jais-13b-chat-hf", "revision": None,
                "image": {"huggingface": {}}},
      "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-a10g",
                  "scaling": {"minReplica": 1, "maxReplica": 1, "scaleToZeroTimeout": None}}}),
    ({"tags": [], "domain": "d.example", "path": "/p", "scaling_metric": "pendingRequests",
      "scaling_threshold": 1.5, "secrets": {"TOKEN": "s3cret"}},
     {"tags": [], "route": {"domain": "d.example", "path": "/p"},
      "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-a10g",
                  "scaling": {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15,
                              "measure": {"pendingRequests": 1.5}}}}),
    ({"custom_image": {"url": "r.example/x:1", "port": 8080, "credentials": {"username": "u", "password": "p"}}},
     {"type": "authenticated"}),
], ids=["minimal-defaults", "optional-blocks", "registry-credentials"])
def test_create_payload_optional_parts(changes, expected):
    """Optional blocks appear only when set (tags [] is sent); task is omitted, never null."""
    payload = payloads.create_payload(checked(**changes).inputs)
    assert {key: payload[key] for key in expected} == expected
    assert ("route" in payload) == ("domain" in changes)
    assert ("task" in payload["model"]) == ("task" not in changes)
    assert payload["model"].get("secrets") == changes.get("secrets")
    image = changes.get("custom_image")
    if image and "credentials" in image:
        assert payload["model"]["image"] == {"custom": {"url": "r.example/x:1", "port": 8080, "healthRoute": "/health",
                                                        "credentials": {"username": "u", "password": "p"}}}


@pytest.mark.parametrize(("raw", "canonical_part"), [
    ({"env": {"MAX_INPUT_LENGTH": 2000.0}}, {"env": {"MAX_INPUT_LENGTH": "2000"}}),
    ({"env": {"MAX_INPUT_LENGTH": "2000"}}, {"env": {"MAX_INPUT_LENGTH": "2000"}}),
    ({"min_replica": 0.0, "max_replica": 4.0}, {"min_replica": 0, "max_replica": 4}),
    ({"instance_type": "g5.2xlarge", "instance_size": "medium"}, {"instance_type": "nvidia-a10g",
                                                                    "instance_size": "x1"}),
    ({"instance_type": "p4de", "instance_size": "xlarge"}, {"instance_type": "nvidia-a100", "instance_size": "x1"}),
    ({"type": "protected"}, {"type": "private"}),
    ({**TEI_ON_CPU, "smoke_test": {"prompt": "hi", "dimension": 768.0}},
     {"smoke_test": {"prompt": "hi", "protocol": "embed", "dimension": 768}}),
], ids=["float-env", "string-env", "float-replicas", "legacy-a10g", "legacy-a100", "protected", "embed-dimension"])
def test_canonical_forms(raw, canonical_part):
    """Engine floats, YAML ints and strings, and tutorial names all reach one canonical value."""
    inputs = checked(**raw).inputs
    assert {key: inputs[key] for key in canonical_part} == canonical_part


@pytest.mark.parametrize(("raw", "warning"), [
    ({"type": "protected"}, "endpoints.jais-13b-chat.type: `protected` no longer exists; mapped to `private`"),
    ({"instance_type": "g4dn.xlarge", "instance_size": "small"},
     "endpoints.jais-13b-chat.instance_type: the tutorial name g4dn.xlarge/small is retired; mapped to "
     "instance_type: nvidia-t4, instance_size: x1."),
], ids=["protected", "legacy-instance"])
def test_legacy_names_warn(raw, warning):
    result = checked(**raw)
    assert result.failures == []
    assert any(w.startswith(warning) for w in result.warnings), result.warnings


@pytest.mark.parametrize(("change", "changed", "replaces"), [
    ({}, [], []),
    ({"env": {**JAIS["env"], "MAX_INPUT_LENGTH": "2000"}}, [], []),
    ({"env": {**JAIS["env"], "MAX_INPUT_LENGTH": 1800}}, ["env"], []),
    ({"max_replica": 2}, ["max_replica"], []),
    ({"custom_image": {**JAIS["custom_image"], "url": "ghcr.io/huggingface/text-generation-inference:3.1.1"}},
     ["custom_image"], []),
    ({"custom_image": None}, ["custom_image"], ["custom_image"]),
    ({"region": "eu-west-1"}, ["region"], ["region"]),
    ({"vendor": "gcp", "region": "us-east4", "instance_type": "nvidia-l4"},
     ["vendor", "region", "instance_type"], ["vendor", "region"]),
    ({"name": "jais-2"}, ["name"], ["name"]),
    ({"type": "public"}, ["type"], ["type"]),
    ({"accelerator": "cpu", "instance_type": "intel-spr", "instance_size": "x4"},
     ["accelerator", "instance_type", "instance_size"], ["accelerator"]),
    ({"adopt": True}, ["adopt"], []),
], ids=["same", "string-vs-int-env", "env", "scaling", "image-tag", "image-variant", "region",
        "vendor", "name", "type", "accelerator", "adopt"])
def test_diff(change, changed, replaces):
    """Replacement exactly on identity and placement; no spurious diffs from types or key order."""
    olds = payloads.outputs_from_api(checked().inputs, {"status": {"state": "running"}})
    news = checked(**change).inputs
    assert spec.changed_keys(olds, news) == changed
    assert spec.replace_keys(olds, news) == replaces


@pytest.mark.parametrize(("change", "payload"), [
    ({"env": {**JAIS["env"], "MAX_INPUT_LENGTH": 1800}},
     {"model": {"env": {"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "1800", "MODEL_ID": "/repository",
                        "QUANTIZE": "bitsandbytes", "TRUST_REMOTE_CODE": "true"}}}),
    ({"max_replica": 3, "scale_to_zero_timeout": None, "min_replica": 1},
     {"compute": {"scaling": {"maxReplica": 3, "minReplica": 1, "scaleToZeroTimeout": None}}}),
    ({"custom_image": {**JAIS["custom_image"], "url": "ghcr.io/huggingface/text-generation-inference:3.1.1"}},
     {"model": {"image": {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:3.1.1", "port": 80,
                                     "healthRoute": "/health"}}}}),
    ({"revision": "0" * 40}, {"model": {"revision": "0" * 40}}),
    ({"tags": ["a"]}, {"tags": ["a"]}),
    ({"paused": True, "smoke_test": {"prompt": "hi"}}, {}),
], ids=["env-whole-map", "scaling", "image-whole", "revision", "tags", "not-api-fields"])
def test_update_payload_is_sparse(change, payload):
    """PUT carries only what changed, with the whole image and env map."""
    olds = payloads.outputs_from_api(checked().inputs, {"status": {"state": "running"}})
    assert payloads.update_payload(olds, checked(**change).inputs) == payload


LIVE = {
    "name": "jais-13b-chat", "type": "authenticated", "provider": {"vendor": "aws", "region": "us-east-1"},
    "compute": {"accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1",
                "scaling": {"minReplica": 0, "maxReplica": 1, "scaleToZeroTimeout": 15, "metric": "hardwareUsage",
                            "measure": {"hardwareUsage": None}}},
    "model": {"repository": "derek-thomas/jais-13b-chat-hf", "revision": None, "task": "text-generation",
              "framework": "pytorch", "env": {"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000",
                                               "MODEL_ID": "/repository", "QUANTIZE": "bitsandbytes",
                                               "TRUST_REMOTE_CODE": "true"},
              "secrets": {}, "image": {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4",
                                                  "port": 80, "healthRoute": "/health"}}},
    "healthRoute": "/health", "tags": [], "cacheHttpResponses": False,
    "status": {"state": "running", "url": "http://x", "createdAt": "2026-01-01T00:00:00Z",
               "updatedAt": "2026-01-01T00:00:01Z", "readyReplica": 1, "targetReplica": 1, "message": "ok"},
}


@pytest.mark.parametrize(("edit", "drift"), [
    ({}, []),
    ({"compute": {**LIVE["compute"], "scaling": {**LIVE["compute"]["scaling"], "maxReplica": 3}}}, ["max_replica"]),
    ({"model": {**LIVE["model"], "env": {"MAX_INPUT_LENGTH": "1000"}}}, ["env"]),
    ({"status": {**LIVE["status"], "state": "paused"}}, ["paused"]),
    ({"model": {**LIVE["model"], "image": {"huggingface": {}}}}, ["custom_image"]),
], ids=["none", "scaling-in-ui", "env-in-ui", "paused-in-ui", "image-in-ui"])
def test_drift_from_api(edit, drift):
    """Refresh maps the live endpoint back to inputs; server defaults are not drift."""
    inputs = checked().inputs
    assert spec.changed_keys(inputs, payloads.inputs_from_api(inputs, {**LIVE, **edit})) == drift


@pytest.mark.parametrize(("state", "min_replica", "paused", "verdict"), [
    ("running", 1, False, PROBE), ("pending", 1, False, WAIT), ("initializing", 1, False, WAIT),
    ("scaledToZero", 0, False, READY), ("scaledToZero", 1, False, WAIT),
    ("paused", 1, True, READY), ("running", 1, True, WAIT), ("paused", 1, False, WAIT),
    ("failed", 1, False, FAILED), ("updateFailed", 1, False, FAILED), ("updating", 1, False, WAIT),
], ids=lambda value: str(value))
def test_readiness(state, min_replica, paused, verdict):
    raw = {"status": {"state": state, "url": "http://x", "message": "m"}}
    assert classify(raw, min_replica=min_replica, paused=paused)[0] == verdict


@pytest.mark.parametrize("url", [None, ""], ids=["null", "empty"])
def test_running_without_a_url_is_not_ready(url):
    """`running` before the API hands out a URL cannot be probed (health, smoke test): keep waiting."""
    raw = {"status": {"state": "running", "url": url, "message": ""}}
    assert classify(raw, min_replica=1, paused=False) == (WAIT, "running")


def test_replacement_keys_are_exactly_identity_and_placement():
    assert fields.REPLACE_KEYS == ("name", "namespace", "accelerator", "vendor", "region", "type", "private_link")


@pytest.mark.parametrize("change", [{"adopt": True}, {"adopt": False}], ids=["adopt-set", "adopt-unset"])
def test_adopt_alone_is_no_change(change):
    """`adopt` says how to create, not what to run: flipping it must not update (or wait for) the endpoint."""
    provider = InferenceEndpointProvider()
    olds = payloads.outputs_from_api(checked(adopt=not change["adopt"]).inputs, {"status": {"state": "running"}})
    result = provider.diff("local/jais-13b-chat", olds, checked(**change).inputs)
    assert (result.changes, result.replaces) == (False, [])


def test_stack_endpoints_merges_defaults_under_each_endpoint():
    result = stack_config.stack_endpoints("org", {"a": {"region": "eu-west-1"}, "b": {}},
                                          {"vendor": "aws", "region": "us-east-1"})
    assert result == {"a": {"vendor": "aws", "region": "eu-west-1", "name": "a", "namespace": "org"},
                      "b": {"vendor": "aws", "region": "us-east-1", "name": "b", "namespace": "org"}}


def test_hourly_cost_counts_min_replicas_and_skips_paused():
    assert budget.hourly_cost_at_min_replicas([
        {"price_per_hour": 2.5, "min_replica": 2}, {"price_per_hour": 1.0, "min_replica": 0},
        {"price_per_hour": 9.0, "min_replica": 1, "paused": True}]) == 5.0


OWNER = "hf-endpoints/dev"
MARKER = "hf-endpoints:hf-endpoints/dev"


@pytest.mark.parametrize(("tags", "expected"), [
    (None, [MARKER]), ([], [MARKER]), (["team-a"], ["team-a", MARKER]),
], ids=["no-tags", "empty-tags", "user-tags"])
def test_create_marks_the_endpoint_as_this_stacks(tags, expected):
    """The create body carries `hf-endpoints:<project>/<stack>`, so a create that landed before a crash is known as
    ours by the next `up`."""
    assert payloads.create_payload(checked(stack=OWNER, tags=tags).inputs)["tags"] == expected


def test_the_marker_never_shows_as_a_diff_or_drift():
    inputs = checked(stack=OWNER, tags=["team-a"]).inputs
    olds = payloads.outputs_from_api(inputs, {"status": {"state": "running"}})
    assert olds["tags"] == ["team-a"]
    assert spec.changed_keys(olds, inputs) == []
    live = {**LIVE, "tags": ["team-a", MARKER, "hf-endpoints:hf-endpoints/other"]}
    assert spec.changed_keys(inputs, payloads.inputs_from_api(inputs, live)) == []
    assert payloads.update_payload(olds, checked(stack=OWNER, tags=["team-a"], max_replica=2).inputs) == {
        "compute": {"scaling": {"maxReplica": 2}}}


def test_changed_tags_are_sent_with_the_marker():
    olds = payloads.outputs_from_api(checked(stack=OWNER, tags=["team-a"]).inputs, {"status": {"state": "running"}})
    assert payloads.update_payload(olds, checked(stack=OWNER, tags=["team-b"]).inputs) == {"tags": ["team-b", MARKER]}
    assert payloads.update_payload(olds, checked(stack=OWNER).inputs) == {"tags": [MARKER]}


@pytest.mark.parametrize(("raw_tags", "owned"), [
    ([MARKER], True), (["team-a", MARKER], True), ([], False), (["hf-endpoints:hf-endpoints/prod"], False),
    (None, False),
], ids=["marker", "marker-and-user-tags", "no-tags", "another-stack", "tags-missing"])
def test_an_endpoint_is_ours_only_with_this_stacks_marker(raw_tags, owned):
    assert payloads.is_owned({"tags": raw_tags}, checked(stack=OWNER).inputs) is owned


def test_without_a_stack_input_nothing_is_owned():
    assert payloads.is_owned({"tags": [MARKER]}, checked().inputs) is False
    assert "tags" not in payloads.create_payload(checked().inputs)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"tags": ["hf-endpoints:x/y"]}, 'endpoints.jais-13b-chat.tags: ["hf-endpoints:x/y"] is not a list of '
     "non-empty strings without the `hf-endpoints:` prefix; write tags as a YAML list of strings (hf-endpoints: "
     "marks the stack's own endpoints and is added for you)"),
    ({"stack": "dev"}, 'endpoints.jais-13b-chat.stack: "dev" is not valid; the program sets it to '
     "<project>/<stack>"),
], ids=["reserved-tag", "bad-stack"])
def test_reserved_marker_and_stack_input(changes, reason):
    assert [f.reason for f in checked(**changes).failures] == [reason]


def test_a_changed_stack_marker_alone_is_no_change():
    """`stack` is bookkeeping (a renamed stack, or state written before the marker existed): no update for it."""
    provider = InferenceEndpointProvider()
    olds = payloads.outputs_from_api(checked(stack=OWNER).inputs, {"status": {"state": "running"}})
    for news in (checked(stack="hf-endpoints/renamed").inputs, checked().inputs):
        assert provider.diff("local/jais-13b-chat", olds, news).changes is False
    legacy = payloads.outputs_from_api(checked().inputs, {"status": {"state": "running"}})
    assert provider.diff("local/jais-13b-chat", legacy, checked(stack=OWNER).inputs).changes is False


@pytest.mark.parametrize(("live_image", "dropped"), [
    ({"vLLM": {"url": "vllm/vllm-openai:v0.23.0", "port": 8000, "healthRoute": "/health", "maxNumSeqs": 8}}, []),
    ({"vLLM": {"url": "vllm/vllm-openai:v0.23.0", "port": 8000, "healthRoute": "/health"}},
     ["model.image.vLLM.maxNumSeqs"]),
    ({"custom": {"url": "x:1"}}, []),
], ids=["kept", "dropped", "another-variant"])
def test_a_setting_the_api_dropped_is_named(live_image, dropped):
    """The API ignores a field its variant does not declare: the provider names what did not come back."""
    from providers import engines

    inputs = checked(custom_image=None, engine={"vllm": {"max_num_seqs": 8}}).inputs
    assert engines.dropped_fields(inputs, {"model": {"image": live_image}}) == dropped


VLLM = {"custom_image": None, "env": {}, "instance_type": "nvidia-l4", "instance_size": "x4",
        "engine": {"vllm": {"tensor_parallel_size": 4, "max_num_seqs": 16}}, "args": ["--max-model-len", "8192"]}
VLLM_IMAGE = {"url": "vllm/vllm-openai:v0.23.0", "port": 8000, "healthRoute": "/health", "tensorParallelSize": 4}


@pytest.mark.parametrize(("change", "changed", "replaces"), [
    ({}, [], []),
    ({"engine": {"vllm": {"tensor_parallel_size": 4.0, "max_num_seqs": 16, "url": "vllm/vllm-openai:v0.23.0"}}},
     [], []),
    ({"engine": {"vllm": {"tensor_parallel_size": 4, "max_num_seqs": 32}}}, ["engine"], []),
    ({"engine": {"vllm": {"tensor_parallel_size": 4, "url": "vllm/vllm-openai:v0.30.0"}}}, ["engine"], []),
    ({"engine": {"sglang": {"tensor_parallel_size": 4}}}, ["engine"], ["engine"]),
    ({"engine": {"tgi": {}}, "args": None}, ["engine", "args"], ["engine"]),
    ({"engine": None, "custom_image": {"url": "vllm/vllm-openai:v0.23.0", "port": 8000}},
     ["custom_image", "engine"], ["custom_image", "engine"]),
    ({"args": ["--max-model-len", "4096"]}, ["args"], []),
], ids=["same", "defaults-and-number-types", "typed-field", "image-tag", "to-sglang", "to-tgi",
        "to-custom-image-of-vllm", "args"])
def test_engine_diff(change, changed, replaces):
    """A change of engine replaces (the API cannot change it in place); a change within one engine updates."""
    olds = payloads.outputs_from_api(checked(**VLLM).inputs, {"status": {"state": "running"}})
    news = checked(**{**VLLM, **change}).inputs
    assert spec.changed_keys(olds, news) == changed
    assert spec.replace_keys(olds, news) == replaces


def test_a_change_within_the_engine_is_one_put_of_the_whole_image():
    olds = payloads.outputs_from_api(checked(**VLLM).inputs, {"status": {"state": "running"}})
    news = checked(**{**VLLM, "engine": {"vllm": {"tensor_parallel_size": 4, "max_num_seqs": 32}}}).inputs
    assert payloads.update_payload(olds, news) == {"model": {"image": {"vLLM": {**VLLM_IMAGE, "maxNumSeqs": 32}}}}


def test_engine_create_payload_is_exact():
    """The typed fields in camelCase inside the variant, the container's args, PrivateLink and the cache flag."""
    inputs = checked(**VLLM, private_link={"account_id": "123456789012", "region": "us-east-1"},
                     cache_http_responses=True, command=["vllm", "serve"]).inputs
    body = payloads.create_payload(inputs)
    assert body["model"] == {"repository": "derek-thomas/jais-13b-chat-hf", "framework": "pytorch",
                             "task": "text-generation", "revision": None,
                             "image": {"vLLM": {**VLLM_IMAGE, "maxNumSeqs": 16}}, "command": ["vllm", "serve"],
                             "args": ["--max-model-len", "8192"]}
    assert (body["privateService"], body["cacheHttpResponses"]) == (
        {"accountId": "123456789012", "region": "us-east-1"}, True)


def test_engine_custom_is_custom_image():
    """`engine: {custom: ...}` is the other spelling of `custom_image`: one canonical form, so no diff between them."""
    image = {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health", "port": 80}
    assert checked(custom_image=None, engine={"custom": image}).inputs == checked(custom_image=image).inputs


@pytest.mark.parametrize(("live_image", "drift"), [
    ({"vLLM": {**VLLM_IMAGE, "maxNumSeqs": 16}}, {}),
    ({"vLLM": {**VLLM_IMAGE, "maxNumSeqs": 8}}, {"engine": {"vllm": {
        "url": "vllm/vllm-openai:v0.23.0", "port": 8000, "health_route": "/health", "tensor_parallel_size": 4,
        "max_num_seqs": 8}}}),
    ({"tgi": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.7", "port": 80, "healthRoute": "/health",
              "disableCustomKernels": False}},
     {"engine": {"tgi": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.7", "port": 80,
                         "health_route": "/health"}}}),
], ids=["none", "a-typed-field", "another-engine-with-a-server-default"])
def test_engine_drift_from_api(live_image, drift):
    """Refresh reads the engine back; a field the server shows at its default, never set by us, is not drift."""
    inputs = checked(**VLLM).inputs
    body = payloads.create_payload(inputs)
    live = payloads.inputs_from_api(inputs, {**body, "model": {**body["model"], "image": live_image},
                                             "status": {"state": "running"}})
    assert {key: live[key] for key in spec.differing(inputs, live)} == drift


@pytest.mark.parametrize("raw", [
    JAIS,
    {**JAIS, "custom_image": None, "engine": {"vllm": {"max_num_seqs": 8}}, "args": ["--max-model-len", "8192"]},
    {**JAIS, **TEI_ON_CPU},
], ids=["tgi-custom-image", "vllm", "tei-cpu"])
def test_a_canonical_form_is_reused_but_never_shared(raw):
    """diff asks for the same canonical form twice per unchanged endpoint, and the second comes from the cache: equal
    to a fresh validation, and a copy, so a caller that changes what it got changes nothing for the next one."""
    raw = {key: value for key, value in raw.items() if value is not None}
    expected = validation.validate(copy.deepcopy(raw)).inputs
    first = spec.canonical(raw)
    first["env"] = {"CHANGED": "by a caller"}
    for key in expected:
        if isinstance(first.get(key), dict):
            first[key]["changed"] = True
    assert spec.canonical(raw) == expected


def test_diff_of_an_unchanged_endpoint_validates_it_once(monkeypatch):
    """diff runs for every endpoint of every preview and `up`: the last outputs and the new inputs share one canonical
    form, and the live endpoint, which the API shows as the last `up` left it, needs none of its own."""
    from providers import drift

    def as_the_engine_sends(value):  # a protobuf Struct: every number a float
        if isinstance(value, dict):
            return {key: as_the_engine_sends(item) for key, item in value.items()}
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    inputs = validation.validate({**JAIS, "name": "counted-validations"}).inputs
    raw = {**payloads.create_payload(inputs), "status": {"state": "running"}}
    olds = as_the_engine_sends(payloads.outputs_from_api(inputs, raw))
    monkeypatch.setattr(InferenceEndpointProvider, "_live", lambda self, olds: drift.Live(known=True, raw=raw))
    validations = []
    monkeypatch.setattr(spec, "validate", lambda raw: validations.append(raw) or validation.validate(raw))
    result = InferenceEndpointProvider().diff("local/counted-validations", olds, as_the_engine_sends(inputs))
    assert (result.changes, result.replaces, len(validations)) == (False, [], 1)


def test_an_endpoints_outputs_hold_every_readiness_key_it_does_not_declare_only():
    """EndpointsReady reads these of every endpoint; an output that the last `up` did not record is unknown in every
    preview, so a resource's view leaves out what only a declared spec has (a minimal spec here: no smoke test)."""
    from providers.endpoints_ready import DECLARED_ONLY_VIEW_KEYS, VIEW_KEYS

    minimal = {key: JAIS[key] for key in ("name", "namespace", "repository", "accelerator", "vendor", "region",
                                          "instance_type", "instance_size")}
    inputs = validation.validate(minimal).inputs
    raw = {**payloads.create_payload(inputs), "status": {"state": "pending", "updatedAt": "2026-12-08T00:00:00Z"}}
    outputs = payloads.outputs_from_api(inputs, raw)
    assert [key for key in VIEW_KEYS if outputs.get(key) is None] == list(DECLARED_ONLY_VIEW_KEYS)


class MaskingClient:
    """Answers as EndpointsClient does: every string masked with the stack's secrets, unless asked for the answer as
    sent; records what it is sent."""

    def __init__(self, answer, secrets):
        self.answer, self.secrets, self.sent = answer, secrets, []

    def get(self, namespace, name, *, deadline=None, unmasked=False):
        return copy.deepcopy(self.answer) if unmasked else self.masked(self.answer)

    def masked(self, answer):
        from providers.secret_text import masked

        return masked(answer, self.secrets)

    def update(self, namespace, name, payload):
        self.sent.append(payload)
        return self.masked(self.answer)


def test_an_update_compares_the_live_endpoint_as_sent_and_sends_only_what_changed():
    """The stack's secret `FLAG: "1"` masks every 1 of a masked answer (x1, the image's 1.3.4, ...), and a token-shaped
    env value masks too: compared masked, they all looked changed and the PUT re-sent image, hardware and env, a
    rollout the preview had not announced. Compared as sent, a change of max_replica is the scaling alone."""
    old = validation.validate({**JAIS, "env": {**JAIS["env"], "UPSTREAM": "sk-proj-abcdefghijklmnopqrstu"},
                               "secrets": {"FLAG": "1"}}).inputs
    new = {**old, "max_replica": 2}
    client = MaskingClient({**payloads.create_payload(old), "status": {"state": "running"}}, ["1"])
    raw = InferenceEndpointProvider()._update(client, old, new)
    assert client.sent == [{"compute": {"scaling": {"maxReplica": 2}}}]
    assert raw["compute"]["instanceSize"] == "x***"  # what goes on to the outputs is masked
