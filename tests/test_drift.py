"""Drift the next preview sees (`providers.drift`), through the real provider host: an endpoint deleted, edited or
paused outside Pulumi shows in the next preview and the next `up` puts it right, with no `refresh`; one list call per
namespace however many endpoints diff; an API that cannot be asked leaves the preview as it was, and says so.

The real CLI's twins are in tests/test_cli_lifecycle.py (`test_drift_shows_in_the_next_preview...`)."""

from __future__ import annotations

import copy
import socket

import pytest

from providers import drift, payloads, spec, validation
from tests.endpoint_stack import TOKEN_KEY, EndpointStack, emulator_config, ops
from tests.harness.provider_host import UNKNOWN
from tests.test_inference_endpoint import JAIS, WRITES, api_calls, jais

pytestmark = pytest.mark.slow
NAME = "jais"
ID = f"local/{NAME}"
LIST = ("GET", "/v2/endpoint/local")


@pytest.fixture
def stack(hosts, emulator):
    stack = EndpointStack(hosts, emulator_config(emulator))
    yield stack
    stack.config = emulator_config(emulator)
    if stack.state.resources:
        stack.destroy()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def calls(emulator, methods=None):
    return [(c["method"], c["path"]) for c in api_calls(emulator, methods)]


def last_line(stack: EndpointStack, text: str) -> str:
    """The first line of the last operation's host containing `text` (waits for the host's output to arrive)."""
    return next(line for line in stack.used[-1].wait_for_line(text) if text in line)


DRIFT = [
    ("deleted", lambda emulator: emulator.remove("local", NAME), "update",
     f"hf-endpoints: {ID}: deleted outside Pulumi; `pulumi up` creates it again",
     [LIST, ("GET", f"/v2/endpoint/local/{NAME}")], [("POST", "/v2/endpoint/local")]),
    ("edited", lambda emulator: emulator.edit("local", NAME, {"model": {"env": {"MAX_INPUT_LENGTH": "1000"}}}),
     "update", f'hf-endpoints: {ID}: changed outside Pulumi: env {{"MAX_INPUT_LENGTH": "1000"}} (the stack file: '
     '{"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000", "MODEL_ID": "/repository", "QUANTIZE": '
     '"bitsandbytes", ... (148 characters)); `pulumi up` puts the stack file\'s values back',
     [LIST], [("PUT", f"/v2/endpoint/local/{NAME}")]),
    ("paused", lambda emulator: emulator.request("POST", f"/v2/endpoint/local/{NAME}/pause", token=emulator.token),
     "update", f"hf-endpoints: {ID}: changed outside Pulumi: paused true (the stack file: false); `pulumi up` puts "
     "the stack file's values back", [LIST], [("POST", f"/v2/endpoint/local/{NAME}/resume")]),
]


@pytest.mark.parametrize(("change", "outside", "op", "line", "preview_calls", "writes"), DRIFT,
                         ids=[case[0] for case in DRIFT])
def test_drift_shows_in_the_next_preview_and_up_puts_it_right(stack, emulator, change, outside, op, line,
                                                                preview_calls, writes):
    stack.up({NAME: jais()})
    outside(emulator)
    emulator.clear_calls()
    assert ops(stack.preview({NAME: jais()})) == {NAME: op, "endpoints-ready": "update"}
    assert last_line(stack, "outside Pulumi") == line
    assert calls(emulator) == preview_calls
    emulator.clear_calls()
    assert ops(stack.up({NAME: jais()})) == {NAME: op, "endpoints-ready": "update"}
    assert calls(emulator, WRITES) == writes
    (live,) = emulator.endpoints("local")
    assert (live["model"]["env"]["MAX_INPUT_LENGTH"], live["status"]["state"]) == ("2000", "running")
    assert ops(stack.preview({NAME: jais()})) == {NAME: "same", "endpoints-ready": "same"}


def test_the_preview_of_many_endpoints_lists_the_namespace_once(stack, emulator):
    """Every diff of one command shares one listing (the engine diffs them concurrently): one call, not one per
    endpoint, and no GET of any endpoint."""
    specs = {f"e{i}": jais(instance_type=kind) for i, kind in enumerate(["nvidia-a10g", "nvidia-l4"] * 3)}
    stack.up(specs, wait=False)
    emulator.clear_calls()
    assert set(ops(stack.preview(specs, wait=False)).values()) == {"same"}
    assert calls(emulator) == [LIST]


def test_drift_with_unknown_inputs_in_the_preview(stack, emulator):
    """An input not known until apply (another resource's output) is not judged, while the live endpoint still is."""
    stack.up({NAME: jais()})
    emulator.edit("local", NAME, {"compute": {"scaling": {"maxReplica": 2}}})
    assert ops(stack.preview({NAME: jais(min_replica=UNKNOWN)})) == {NAME: "update", "endpoints-ready": "update"}
    assert last_line(stack, "outside Pulumi") == (
        f"hf-endpoints: {ID}: changed outside Pulumi: max_replica 2 (the stack file: 1); `pulumi up` puts the stack "
        "file's values back")


UNREACHABLE = [
    ("no-token", lambda emulator: {key: value for key, value in emulator_config(emulator).items() if key != TOKEN_KEY},
     "no Hugging Face token: run `pulumi config set --secret hf-endpoints:hfToken <token>` or export HF_TOKEN (a "
     "token with the 'Manage Inference Endpoints' permission)"),
    ("refused-token", lambda emulator: {**emulator_config(emulator), TOKEN_KEY: "hf_" + "RefusedByTheEmulator" * 2},
     "401: A valid user or organization token, sent as a Bearer, is required"),
    ("no-api", lambda emulator: {**emulator_config(emulator),
                                 "hf-endpoints:apiUrl": f"http://127.0.0.1:{closed_port()}/v2"},
     "no answer from the API: "),
]


@pytest.mark.parametrize(("case", "config", "problem"), UNREACHABLE, ids=[case[0] for case in UNREACHABLE])
def test_a_preview_without_the_api_still_works_and_says_it_cannot_see_drift(stack, emulator, case, config, problem):
    """Offline, without a token or with a refused one, the preview is what it was before drift was seen: the stack
    file against the last `up` (here: no changes), and one warning per namespace naming the problem, never the
    token."""
    stack.up({NAME: jais()})
    emulator.remove("local", NAME)  # drift it cannot see
    stack.config = config(emulator)
    assert ops(stack.preview({NAME: jais()})) == {NAME: "same", "endpoints-ready": "same"}
    warning = last_line(stack, "could not list")
    assert warning.startswith(f"hf-endpoints: warning: could not list the live endpoints of local ({problem}")
    assert warning.endswith("); this diff compares the stack file with the last `pulumi up` only, so changes made "
                            "outside Pulumi are not shown")
    lines = stack.used[-1].log_lines()
    assert sum("could not list" in line for line in lines) == 1
    token = stack.config.get(TOKEN_KEY)
    assert not token or token not in "\n".join(lines)


@pytest.mark.parametrize(("edit", "drifted"), [
    (lambda raw: None, []),
    (lambda raw: raw["compute"]["scaling"].update(maxReplica=3), ["max_replica"]),
    (lambda raw: raw.update(tags=["hf-endpoints:hf-endpoints/other"]), []),
    (lambda raw: raw["model"].update(secrets={"API_KEY": "***"}), []),
], ids=["same", "scaling", "another-stacks-marker", "redacted-secret"])
def test_what_counts_as_drift(edit, drifted):
    """Only what the user controls: markers and the secrets the API redacts never count (pure, no host)."""
    inputs = validation.validate({**JAIS, "name": NAME, "namespace": "local", "secrets": {"API_KEY": "k"},
                                  "stack": "hf-endpoints/dev"}).inputs
    olds = payloads.outputs_from_api(inputs, {"status": {"state": "running"}})
    raw = {**copy.deepcopy(payloads.create_payload(inputs)), "status": {"state": "running"}}
    edit(raw)
    assert drift.drifted(spec.canonical(olds), raw)[1] == drifted


def test_values_the_masking_would_garble_are_not_drift(stack, emulator):
    """The live endpoint is compared as the API sent it, and only what diff shows is masked: an env value shaped like
    a token, and every `1` of the stack's one-character secret, are what the stack file says. Compared masked, every
    preview showed drift (`--expect-no-changes`, the CI drift check, always failed) and every up re-sent them. A
    secret of the stack pasted into the env in the web UI is drift, and the line saying so masks it."""
    spec = jais(env={"QUANTIZE": "bitsandbytes", "UPSTREAM": "sk-proj-abcdefghijklmnopqrstu"},
                secrets={"FLAG": "1", "API_KEY": "pasted-in-the-web-ui"})
    stack.up({NAME: spec})
    emulator.clear_calls()
    assert ops(stack.preview({NAME: spec})) == {NAME: "same", "endpoints-ready": "same"}
    assert calls(emulator) == [LIST]
    (live,) = emulator.endpoints("local")
    emulator.edit("local", NAME, {"model": {"env": {**live["model"]["env"], "UPSTREAM": "pasted-in-the-web-ui"}}})
    assert ops(stack.preview({NAME: spec})) == {NAME: "update", "endpoints-ready": "update"}
    assert last_line(stack, "outside Pulumi") == (
        f'hf-endpoints: {ID}: changed outside Pulumi: env {{"QUANTIZE": "bitsandbytes", "UPSTREAM": "<redacted>"}} '
        '(the stack file: {"QUANTIZE": "bitsandbytes", "UPSTREAM": "<redacted>"}); `pulumi up` puts the stack '
        "file's values back")
