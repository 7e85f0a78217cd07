"""InferenceEndpoint and EndpointsReady through the real provider host (`python -m pulumi.dynamic`, driven
over gRPC as the engine drives it) against the emulator. The stack registers the program's own resource
classes (`tests.endpoint_stack`), so their options and secrets reach the engine model."""

from __future__ import annotations

import copy
import threading
import time

import pytest

from emulator.process import EmulatorProcess
from providers import payloads, validation
from tests.conftest import EMULATOR_FAST_ARGS
from tests.endpoint_stack import (
    ENDPOINT_PROVIDER,
    ENDPOINT_TYPE,
    PROJECT,
    READY_PROVIDER,
    TOKEN_KEY,
    EndpointStack,
    emulator_config,
    ops,
)
from tests.harness.engine import SECRET_MARK
from tests.harness.provider_host import UNKNOWN, ProviderError, ProviderHost, urn

pytestmark = pytest.mark.slow

TGI = "ghcr.io/huggingface/text-generation-inference"
JAIS = {
    "repository": "derek-thomas/jais-13b-chat-hf", "task": "text-generation", "accelerator": "gpu",
    "vendor": "aws", "region": "us-east-1", "instance_type": "nvidia-a10g", "instance_size": "x1",
    "min_replica": 1, "max_replica": 1,
    "custom_image": {"url": f"{TGI}:1.3.4", "health_route": "/health", "port": 80},
    "env": {"MAX_BATCH_PREFILL_TOKENS": 2048, "MAX_INPUT_LENGTH": 2000, "QUANTIZE": "bitsandbytes",
            "TRUST_REMOTE_CODE": True, "MODEL_ID": "/repository"},
    "smoke_test": {"prompt": "Classify the sentiment: I love it.", "expect": "(?i)hello", "max_new_tokens": 5},
}
WRITES = ("POST", "PUT", "DELETE", "PATCH")


def jais(**changes):
    spec = copy.deepcopy(JAIS)
    spec.update(changes)
    return {key: value for key, value in spec.items() if value is not None}


def api_calls(emulator, methods=None):
    return [c for c in emulator.calls() if c["path"].startswith("/v2/")
            and (methods is None or c["method"] in methods)]


def start_host(emulator, token=None, **env):
    host = ProviderHost(PROJECT, env={"HF_ENDPOINTS_POLL_SECONDS": "0.05", **env})
    host.start()
    host.configure({"hf-endpoints:apiUrl": emulator.api_url, "hf-endpoints:hfToken": token or emulator.token},
                   ["hf-endpoints:hfToken"])
    return host


@pytest.fixture
def host(emulator):
    host = start_host(emulator)
    yield host
    host.close()


@pytest.fixture
def stack(hosts, emulator):
    stack = EndpointStack(hosts, emulator_config(emulator))
    yield stack
    if stack.state.resources:
        stack.destroy()


def live(emulator, name, namespace="local"):
    (endpoint,) = [e for e in emulator.endpoints(namespace) if e["name"] == name]
    return endpoint


def test_create_waits_until_ready_then_noop_makes_no_write(stack, emulator):
    """Create returns at once; EndpointsReady waits for health and smoke test; a second up writes nothing: check and
    diff make one list call (diff compares with the live endpoint: providers.drift), nothing else."""
    assert ops(stack.up({"jais": jais()})) == {"jais": "create", "endpoints-ready": "create"}
    outs = stack.outputs("jais")
    assert outs["state"] == "pending"  # create did not wait
    ready = stack.state.by_name("endpoints-ready")["outputs"]
    assert ready["states"] == {"local/jais": "running"}
    assert live(emulator, "jais")["status"]["state"] == "running"
    assert (outs["price_per_hour"], outs["dashboard_url"]) == (
        1.0, "https://endpoints.huggingface.co/local/endpoints/jais")
    assert outs["env"]["MAX_INPUT_LENGTH"] == "2000"
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais()})) == {"jais": "same", "endpoints-ready": "same"}
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [("GET", "/v2/endpoint/local")]


@pytest.mark.parametrize(("change", "path", "expected"), [
    ({"env": {**JAIS["env"], "MAX_INPUT_LENGTH": 1800}}, ("model", "env", "MAX_INPUT_LENGTH"), "1800"),
    ({"max_replica": 3}, ("compute", "scaling", "maxReplica"), 3),
    ({"custom_image": {**JAIS["custom_image"], "url": f"{TGI}:3.1.1"}}, ("model", "image", "custom", "url"),
     f"{TGI}:3.1.1"),
], ids=["env", "scaling", "image-tag"])
def test_update_in_place_sends_one_put(stack, emulator, change, path, expected):
    """An in-place change is one PUT (its exact sparse body is tested in test_spec), then a new wait."""
    stack.up({"jais": jais()})
    created_at = stack.outputs("jais")["created_at"]
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais(**change)})) == {"jais": "update", "endpoints-ready": "update"}
    assert [(c["method"], c["path"]) for c in api_calls(emulator, WRITES)] == [("PUT", "/v2/endpoint/local/jais")]
    endpoint = live(emulator, "jais")
    value = endpoint
    for part in path:
        value = value[part]
    assert value == expected
    assert endpoint["status"]["state"] == "running"  # EndpointsReady waited through `updating`
    assert stack.outputs("jais")["created_at"] == created_at


@pytest.mark.parametrize("change", [
    {"region": "eu-west-1"},
    {"vendor": "gcp", "region": "us-east4", "instance_type": "nvidia-l4"},
    {"type": "public"},
], ids=["region", "vendor", "type"])
def test_replace_deletes_before_creating_the_same_name(stack, emulator, change):
    stack.up({"jais": jais()})
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais(**change)}))["jais"] == "replace"
    writes = [(c["method"], c["path"]) for c in api_calls(emulator, WRITES)]
    assert writes == [("DELETE", "/v2/endpoint/local/jais"), ("POST", "/v2/endpoint/local")]
    endpoint = live(emulator, "jais")
    assert {key: endpoint["provider"][key] for key in ("vendor", "region")} == {
        "vendor": change.get("vendor", "aws"), "region": change.get("region", "us-east-1")}
    assert endpoint["status"]["state"] == "running"


def calls(host: ProviderHost) -> list[tuple[str, str, str]]:
    """What a host was asked, as (method, resource name, what the engine sent that matters here)."""
    def detail(call) -> str:
        if call.method == "Check":
            return "olds" if call.args["olds"] else "no olds"
        if call.method == "Diff" and call.args["news"].get("endpoints") == UNKNOWN:
            return "endpoints unknown"
        return ""
    return [(c.method, c.urn.rsplit("::", 1)[1], detail(c)) for c in host.calls()]


def test_replace_asks_the_engine_questions_in_the_engines_order(stack, emulator):
    """step_generator.go, as the CLI's own log (-v=7) shows it at 3.274: Check with the old inputs, Diff,
    Check again with NO olds (a replacement recomputes its inputs), then, before the delete, Diff of the
    dependent EndpointsReady with its `endpoints` unknown (would it have to be replaced too? no)."""
    stack.up({"jais": jais()})
    stack.up({"jais": jais(region="eu-west-1")})
    assert calls(stack.used[-1]) == [
        ("Check", "jais", "olds"), ("Diff", "jais", ""), ("Check", "jais", "no olds"),
        ("Diff", "endpoints-ready", "endpoints unknown"),
        ("Delete", "jais", ""), ("Create", "jais", ""),
        ("Check", "endpoints-ready", "olds"), ("Diff", "endpoints-ready", ""), ("Update", "endpoints-ready", ""),
    ]


CREDENTIALS = {"username": "deploy-bot", "password": "registry-pass-1"}


@pytest.mark.parametrize(("spec", "secret_keys", "hidden"), [
    (jais(secrets={"API_KEY": "s3cret-value"}), {"secrets"}, "s3cret-value"),
    (jais(custom_image={**JAIS["custom_image"], "credentials": CREDENTIALS}), {"custom_image"}, "registry-pass-1"),
    (jais(), set(), None),
], ids=["secrets", "registry-credentials", "none"])
def test_secret_inputs_are_secret_in_state(stack, spec, secret_keys, hidden):
    """InferenceEndpoint passes `secrets`, and `custom_image` when it carries registry credentials, as Pulumi
    secrets: the engine keeps them secret in the inputs and the outputs of state, which stores them
    encrypted; the `secrets` output is always secret (additional_secret_outputs). An update keeps it so."""
    for change in ({}, {"max_replica": 2}):
        stack.up({"jais": {**spec, **change}})
        assert stack.secrets("jais") == {"inputs": secret_keys, "outputs": secret_keys | {"secrets"}}
        if hidden:
            assert hidden in stack.state.to_json(show_secrets=True)
            assert hidden not in stack.state.to_json()


def test_a_config_change_alone_shows_no_change(stack, emulator):
    """The default provider's inputs are the whole stack config; the engine updates it on a config change, but
    the CLI hides default-provider steps (engine/update.go isInternalStep): nothing to show, no API call but diff's
    list, and the state records the new config (what destroy will use)."""
    stack.up({"jais": jais()}, timeout_seconds=120)
    emulator.clear_calls()
    stack.config["hf-endpoints:readyTimeoutSeconds"] = "300"
    assert ops(stack.up({"jais": jais()}, timeout_seconds=300)) == {"jais": "same", "endpoints-ready": "same"}
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [("GET", "/v2/endpoint/local")]  # diff's list
    assert stack.state.config["hf-endpoints:readyTimeoutSeconds"] == "300"
    assert stack.state.by_name("endpoints-ready")["inputs"]["timeout_seconds"] == 300


def test_each_operation_configures_a_fresh_host(stack, emulator):
    """The CLI starts the provider per command: `up` runs with the stack config as it is now and records it,
    even when it fails; `destroy` (which does not run the program) uses the config the last `up` recorded,
    whatever the stack file says since (as the CLI does at 3.274)."""
    stack.up({"jais": jais()})
    stack.config[TOKEN_KEY] = "hf_not_a_valid_token"
    with pytest.raises(ProviderError, match="local/jais: the API refused the update: 401"):
        stack.up({"jais": jais(max_replica=2)})
    assert live(emulator, "jais")["compute"]["scaling"]["maxReplica"] == 1
    stack.config[TOKEN_KEY] = emulator.token  # the stack file is fixed, but no up ran since
    with pytest.raises(ProviderError, match="401"):
        stack.destroy()
    stack.up({"jais": jais()})  # records the fixed config
    stack.config[TOKEN_KEY] = "hf_not_a_valid_token"  # changed again, never used by an up
    stack.destroy()
    assert emulator.endpoints("local") == []
    assert len({id(host) for host in stack.used}) == len(stack.used) == 5


def test_a_failed_create_after_the_delete_leaves_the_endpoint_pending_replacement(stack, emulator):
    """step.go DeleteStep.Apply: a region change deleted the endpoint, then the create was refused (quota):
    the endpoint stays in state as pending replacement (`pulumi stack export` shows pendingReplacement), the
    next preview shows a replace, and the next up creates it without deleting again."""
    stack.up({"jais": jais()})
    emulator.configure(quota=0)
    with pytest.raises(ProviderError, match="Accelerator quota exceeded"):
        stack.up({"jais": jais(region="eu-west-1")})
    assert stack.names() == ["jais"]
    assert stack.state.by_name("jais")["pending_replacement"] is True
    assert emulator.endpoints("local") == []
    assert ops(stack.preview({"jais": jais(region="eu-west-1")})) == {"jais": "replace", "endpoints-ready": "update"}
    emulator.configure(quota=16)
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais(region="eu-west-1")}))["jais"] == "replace"
    assert [(c["method"], c["path"]) for c in api_calls(emulator, WRITES)] == [("POST", "/v2/endpoint/local")]
    assert stack.state.by_name("jais")["pending_replacement"] is False
    assert live(emulator, "jais")["provider"]["region"] == "eu-west-1"


def test_a_pending_replacement_is_dropped_without_a_delete(stack, emulator):
    """GenerateDeletes: an endpoint pending replacement that leaves the YAML is removed from state without
    calling the provider (it is already deleted); RemovePendingReplace is an internal step, not shown."""
    stack.up({"jais": jais(), "other": jais(instance_type="nvidia-l4")})
    emulator.configure(quota=0)
    with pytest.raises(ProviderError):
        stack.up({"jais": jais(region="eu-west-1"), "other": jais(instance_type="nvidia-l4")})
    emulator.configure(quota=16)
    emulator.clear_calls()
    assert ops(stack.up({"other": jais(instance_type="nvidia-l4")})) == {"other": "same", "endpoints-ready": "update"}
    assert api_calls(emulator, WRITES) == []
    assert stack.names() == ["other"]


def test_a_failed_create_stops_the_up_before_any_delete(stack, emulator):
    """deployment_executor.go: deletes of what left the program run only after every registration succeeded,
    so a refused create leaves the removed endpoint running and in state, and EndpointsReady untouched."""
    stack.up({"jais": jais()})
    ready_inputs = stack.state.by_name("endpoints-ready")["inputs"]
    emulator.configure(quota=1)
    emulator.clear_calls()
    with pytest.raises(ProviderError, match="local/big: the API refused to create it"):
        stack.up({"big": jais()})  # one more A10G than the quota allows
    assert [c["method"] for c in api_calls(emulator, WRITES)] == ["POST"]
    assert stack.names() == ["jais"]
    assert stack.state.by_name("endpoints-ready")["inputs"] == ready_inputs


def test_rename_creates_the_new_name_and_deletes_the_old(stack, emulator):
    """A new name is a new resource in the program; the old one is deleted after the new one is ready."""
    stack.up({"jais": jais()})
    assert ops(stack.up({"jais-v2": jais()})) == {"jais-v2": "create", "endpoints-ready": "update", "jais": "delete"}
    assert [e["name"] for e in emulator.endpoints("local")] == ["jais-v2"]


def test_name_change_on_the_same_resource_replaces(host, emulator):
    """Through Diff itself: `name` is a replacement key, deleted first because names are reused."""
    resource = urn("dev", PROJECT, ENDPOINT_TYPE, "jais")
    inputs, _ = host.check(resource, {}, {"__provider": ENDPOINT_PROVIDER, **jais(), "name": "jais",
                                          "namespace": "local"})
    renamed, _ = host.check(resource, inputs, {**inputs, "name": "jais-2"})
    outs = {**inputs, "state": "running"}
    assert host.diff("local/jais", resource, outs, renamed) == ("some", ["name"], True)


def test_pause_and_resume(stack, emulator):
    stack.up({"jais": jais()})
    emulator.clear_calls()
    stack.up({"jais": jais(paused=True)})
    assert [c["path"] for c in api_calls(emulator, WRITES)] == ["/v2/endpoint/local/jais/pause"]
    assert live(emulator, "jais")["status"]["state"] == "paused"
    assert stack.state.by_name("endpoints-ready")["outputs"]["states"] == {"local/jais": "paused"}
    emulator.clear_calls()
    stack.up({"jais": jais(paused=False)})
    assert [c["path"] for c in api_calls(emulator, WRITES)] == ["/v2/endpoint/local/jais/resume"]
    assert live(emulator, "jais")["status"]["state"] == "running"


def test_scale_to_zero_counts_as_ready_with_min_replica_zero(stack, emulator):
    stack.up({"jais": jais(min_replica=0, scale_to_zero_timeout=15)})
    emulator.request("POST", "/v2/endpoint/local/jais/scale-to-zero", token=emulator.token)
    stack.refresh()
    assert stack.outputs("jais")["state"] == "scaledToZero"
    steps = stack.up({"jais": jais(min_replica=0, scale_to_zero_timeout=15)})
    assert ops(steps) == {"jais": "same", "endpoints-ready": "same"}  # a refresh is not a rollout of ours
    assert live(emulator, "jais")["status"]["state"] == "scaledToZero"  # nothing woke it


def test_refresh_reports_out_of_band_change_and_up_reverts_it(stack, emulator):
    stack.up({"jais": jais()})
    emulator.edit("local", "jais", {"compute": {"scaling": {"maxReplica": 3}}, "model": {"env": {"X": "1"}}})
    stack.refresh()
    outs = stack.outputs("jais")
    assert (outs["max_replica"], outs["env"]) == (3, {"X": "1"})
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais()}))["jais"] == "update"
    endpoint = live(emulator, "jais")
    assert endpoint["compute"]["scaling"]["maxReplica"] == 1
    assert endpoint["model"]["env"]["MAX_INPUT_LENGTH"] == "2000"


def test_refresh_after_out_of_band_delete_drops_it_and_up_recreates(stack, emulator):
    stack.up({"jais": jais()})
    emulator.remove("local", "jais")
    stack.refresh()
    assert stack.names() == []
    assert ops(stack.up({"jais": jais()}))["jais"] == "create"
    assert live(emulator, "jais")["status"]["state"] == "running"


def test_failed_start_names_the_endpoint_and_stays_destroyable(stack, emulator):
    """The failure carries the server's message, then the tail of the container log (why TGI died)."""
    emulator.faults(fail_start_pattern="jais")
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais()})
    assert "local/jais failed to deploy: Endpoint failed to deploy: repository 'derek-thomas/jais-13b-chat-hf' " \
        "matches the emulator's fail-start pattern 'jais'\nLast 12 lines of its container log (secrets masked):\n" \
        in failure.value.details
    assert "  | torch.OutOfMemoryError: CUDA out of memory." in failure.value.details
    assert failure.value.details.rstrip().endswith("  | Error: ShardCannotStart")
    assert stack.names() == ["jais"]  # in state: destroy can remove it
    emulator.faults(fail_start_pattern=None)
    with pytest.raises(ProviderError) as refused:
        stack.up({"jais": jais(max_replica=2)})
    assert "It is in state `failed`, which the API cannot update: recreate it with `pulumi up --replace" \
        in refused.value.details
    stack.destroy()
    assert emulator.endpoints("local") == []


def test_failed_update_names_the_endpoint_and_stays_destroyable(stack, emulator):
    stack.up({"jais": jais()})
    emulator.faults(fail_update_pattern="jais")
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais(max_replica=2)})
    assert "local/jais failed to update:" in failure.value.details
    assert "its container log (secrets masked):\n" in failure.value.details
    assert failure.value.details.rstrip().endswith("  | Error: ShardCannotStart")
    assert stack.outputs("jais")["max_replica"] == 2
    stack.destroy()
    assert emulator.endpoints("local") == []


def test_conflict_without_adopt_fails_and_says_how(stack, emulator):
    emulator.request("POST", "/v2/endpoint/local", {
        "name": "jais", "type": "authenticated", "provider": {"vendor": "aws", "region": "us-east-1"},
        "compute": {"accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1",
                    "scaling": {"minReplica": 1, "maxReplica": 1}},
        "model": {"repository": "someone/else", "framework": "pytorch",
                  "image": {"custom": {"url": f"{TGI}:1.0.0", "port": 80, "healthRoute": "/health"}}}},
        token=emulator.token)
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais()})
    assert "local/jais already exists" in failure.value.details
    assert "set `adopt: true` under endpoints.jais" in failure.value.details
    assert stack.names() == []
    assert live(emulator, "jais")["model"]["repository"] == "someone/else"  # untouched

    stack.up({"jais": jais(adopt=True)})
    endpoint = live(emulator, "jais")
    assert endpoint["model"]["repository"] == "derek-thomas/jais-13b-chat-hf"
    assert endpoint["model"]["image"]["custom"]["url"] == f"{TGI}:1.3.4"
    assert stack.names() == ["jais"]


def test_adopt_refuses_an_endpoint_whose_placement_differs(stack, emulator):
    """Adoption updates in place; what cannot change in place (here the image variant) is refused."""
    emulator.request("POST", "/v2/endpoint/local", {
        "name": "jais", "type": "authenticated", "provider": {"vendor": "aws", "region": "us-east-1"},
        "compute": {"accelerator": "gpu", "instanceType": "nvidia-a10g", "instanceSize": "x1",
                    "scaling": {"minReplica": 1, "maxReplica": 1}},
        "model": {"repository": "someone/else", "framework": "pytorch", "image": {"huggingface": {}}}},
        token=emulator.token)
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais(adopt=True)})
    assert ("local/jais exists with different custom_image (live: custom_image=null); these cannot change in "
            "place, so it cannot be adopted.") in failure.value.details
    assert live(emulator, "jais")["model"]["repository"] == "someone/else"


def test_timeout_fails_with_the_waiting_endpoint(stack, emulator):
    emulator.configure(startup_seconds=30)
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais()}, timeout_seconds=0.5)
    assert "timed out after 0.5s waiting for local/jais (pending)" in failure.value.details
    assert stack.names() == ["jais"]


def test_destroy_waits_until_the_name_is_gone(stack, emulator):
    stack.up({"a": jais(), "b": jais(instance_type="nvidia-l4")})
    stack.destroy()
    assert emulator.endpoints("local") == []
    assert [c["status"] for c in api_calls(emulator, ("DELETE",))] == [200, 200]


def test_destroy_of_an_endpoint_deleted_outside_pulumi_succeeds(stack, emulator):
    """DELETE answering 404 means it is already gone: destroy succeeds instead of failing forever."""
    stack.up({"jais": jais()}, wait=False)
    emulator.remove("local", "jais")
    emulator.clear_calls()
    stack.destroy()
    assert [(c["method"], c["status"]) for c in api_calls(emulator)][:1] == [("DELETE", 404)]
    assert stack.names() == []


def test_no_token_in_pickle_outputs_or_logs(hosts):
    """The provider object is pickled into state: it, every output and every log line of the host stay free
    of the token (and of secret values in logs); the state stores the endpoint's secrets encrypted."""
    canary = "hf_canary_token_for_the_leak_test"
    with EmulatorProcess([*EMULATOR_FAST_ARGS, "--token", f"{canary}=local"]) as emulator:
        stack = EndpointStack(hosts, emulator_config(emulator, canary))
        seen = []
        for spec in (jais(secrets={"API_KEY": "s3cret-value"}),
                     jais(max_replica=2, secrets={"API_KEY": "s3cret-value"})):
            stack.up({"jais": spec})
            seen.append(stack.state.to_json())
        shown = stack.state.to_json(show_secrets=True)
        stack.refresh()
        seen.append(stack.state.to_json())
        stack.destroy()
        logs = "\n".join(stack.log_lines())
    assert "s3cret-value" in shown  # the secret is echoed in state, marked secret (so stored encrypted)...
    for blob in (ENDPOINT_PROVIDER, READY_PROVIDER, logs, *seen):
        assert canary not in blob
        assert "s3cret-value" not in blob  # ...and never logged
    assert SECRET_MARK in seen[-1]
    assert "hf-endpoints: local/jais: created (pending)" in logs
    assert "hf-endpoints: local/jais: ready (health 200 and smoke test matched)" in logs


def test_converges_under_injected_faults(stack, emulator):
    """20% 5xx, 10% 429 (with Retry-After), 10% answers lost after the change landed, 5% dropped
    connections: create, update, pause, resume and destroy still converge, and the live list matches state."""
    emulator.faults(error_rate=0.2, rate_limit_rate=0.1, retry_after_seconds=0.05, error_after_rate=0.1,
                    drop_rate=0.05)
    specs = {name: jais(instance_type=kind) for name, kind in (("a", "nvidia-a10g"), ("b", "nvidia-l4"))}
    # 8-bit jais needs ~17.9 GB with TGI's default 4096 tokens: too big for a 16 GB T4 (check says so), 4-bit fits.
    specs["c"] = jais(instance_type="nvidia-t4", env={**JAIS["env"], "QUANTIZE": "bitsandbytes-nf4"})
    stack.up(specs)
    stack.up({**specs, "a": jais(max_replica=2), "b": jais(instance_type="nvidia-l4", paused=True)})
    stack.up({**specs, "a": jais(max_replica=2)})
    injected = [c for c in api_calls(emulator) if c["status"] in (0, 429, 500, 502, 503)]
    emulator.faults(error_rate=0, rate_limit_rate=0, error_after_rate=0, drop_rate=0)
    by_name = {e["name"]: e for e in emulator.endpoints("local")}
    assert sorted(by_name) == sorted(stack.names()) == ["a", "b", "c"]
    for name in by_name:
        assert by_name[name]["status"]["state"] == "running"
        assert by_name[name]["compute"]["scaling"]["maxReplica"] == stack.outputs(name)["max_replica"]
    assert by_name["a"]["compute"]["scaling"]["maxReplica"] == 2
    assert injected, "no fault was injected"  # ~40 calls at 35%: the faults really happened
    emulator.faults(error_rate=0.2, rate_limit_rate=0.1, retry_after_seconds=0.05, error_after_rate=0.1,
                    drop_rate=0.05)
    stack.destroy()
    emulator.faults(error_rate=0, rate_limit_rate=0, error_after_rate=0, drop_rate=0)
    assert emulator.endpoints("local") == []


def leftover(emulator, owner="hf-endpoints/dev", **changes):
    """What a create that landed before a crash leaves: this stack's create body, marker tag included."""
    inputs = validation.validate({**jais(**changes), "name": "jais", "namespace": "local", "stack": owner}).inputs
    emulator.request("POST", "/v2/endpoint/local", payloads.create_payload(inputs), token=emulator.token)


def test_create_takes_back_this_stacks_endpoint_after_a_crash(stack, emulator):
    """The POST landed, then the process died (state never heard of it): the next `up` gets 409, sees this stack's
    marker and takes the endpoint back, no flag and no duplicate, bringing it to the spec."""
    leftover(emulator, max_replica=3)
    emulator.clear_calls()
    assert ops(stack.up({"jais": jais()})) == {"jais": "create", "endpoints-ready": "create"}
    assert [(c["method"], c["path"], c["status"]) for c in api_calls(emulator, WRITES)] == [
        ("POST", "/v2/endpoint/local", 409), ("PUT", "/v2/endpoint/local/jais", 200)]
    (endpoint,) = emulator.endpoints("local")
    assert endpoint["compute"]["scaling"]["maxReplica"] == 1
    assert endpoint["tags"] == ["hf-endpoints:hf-endpoints/dev"]
    assert stack.names() == ["jais"]


def test_a_taken_back_endpoint_whose_placement_changed_is_recreated(stack, emulator):
    """Crashed while creating in us-east-1, then the YAML moved it to eu-west-1: ours, so delete and create."""
    leftover(emulator)
    emulator.clear_calls()
    stack.up({"jais": jais(region="eu-west-1")})
    assert [(c["method"], c["status"]) for c in api_calls(emulator, WRITES)] == [
        ("POST", 409), ("DELETE", 200), ("POST", 202)]
    (endpoint,) = emulator.endpoints("local")
    assert endpoint["provider"]["region"] == "eu-west-1"


@pytest.mark.parametrize("owner", ["hf-endpoints/prod", "other-project/dev"])
def test_another_stacks_endpoint_is_still_refused(stack, emulator, owner):
    leftover(emulator, owner=owner)
    with pytest.raises(ProviderError) as failure:
        stack.up({"jais": jais()})
    assert ("local/jais already exists (An endpoint with the same name already exists) and does not carry this "
            "stack's tag hf-endpoints:hf-endpoints/dev. hf-endpoints never takes over an endpoint silently: to "
            "manage it from this stack, set `adopt: true` under endpoints.jais") in failure.value.details
    assert stack.names() == []
    stack.up({"jais": jais(adopt=True)})  # adopted: from now on it carries this stack's marker
    assert live(emulator, "jais")["tags"] == ["hf-endpoints:hf-endpoints/dev"]


def test_killed_up_then_up_again_takes_the_endpoint_back(hosts, emulator):
    """A real crash: the POST lands but its answer is lost, and the provider host is killed while it checks with a
    GET whether the POST landed. The next `up` (a new host, state without the endpoint) finishes the job instead of
    asking for `adopt: true`."""
    emulator.faults(error_after_rate=1.0, latency_seconds=1.0)
    stack = EndpointStack(hosts, emulator_config(emulator))
    crashed: list[BaseException] = []

    def up() -> None:
        try:
            stack.up({"jais": jais()}, wait=False)
        except ProviderError as error:  # the host died under its Create call
            crashed.append(error)

    crashing = threading.Thread(target=up)
    crashing.start()
    deadline = time.monotonic() + 20
    while not [c for c in emulator.calls() if c["method"] == "POST" and c["status"] == 502]:
        assert time.monotonic() < deadline, emulator.calls()
        time.sleep(0.05)
    stack.used[-1].kill()  # SIGKILL during the GET's latency: no cleanup, as when `pulumi up` is killed
    crashing.join()
    emulator.faults(error_after_rate=0, latency_seconds=0)
    assert crashed, "the host was killed after its create returned"
    assert [e["name"] for e in emulator.endpoints("local")] == ["jais"]  # the POST landed
    assert stack.names() == []  # ...but no state knows it
    again = EndpointStack(hosts, emulator_config(emulator), stack="dev")
    assert ops(again.up({"jais": jais()}))["jais"] == "create"
    assert [e["name"] for e in emulator.endpoints("local")] == ["jais"]  # no duplicate
    again.destroy()
