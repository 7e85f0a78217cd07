"""What the server sends back never carries a secret of the stack into state, outputs, log lines or errors: through
the real provider host (over gRPC, as the engine drives it) against the emulator, and a stub that echoes the token.

A failed endpoint whose `status.message` repeats the endpoint secret, the registry password and the token (raw,
lower-cased, URL-encoded) used to put them in plain text in the `message` output, and so in the state file, its
history and its backups (issue 16, item 1); the stripped form of a token pasted with whitespace was never tested
(item 4)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.endpoint_stack import TOKEN_KEY, EndpointStack, emulator_config
from tests.harness.provider_host import ProviderError, ProviderHost
from tests.stub_server import Answer, stub_server
from tests.test_inference_endpoint import JAIS, jais
from tests.test_provider_errors import CALLS, PROJECT

pytestmark = pytest.mark.slow

SECRET = "Sk-Live/Secret+Value=42"
PASSWORD = "Registry/Pass+word=7"
ENDPOINTS_KEY = "hf-endpoints:endpoints"


def forms(*secrets: str) -> list[str]:
    """Each secret as a server might repeat it: as it is, lower-cased, URL-encoded."""
    return [form for secret in secrets for form in (secret, secret.lower(), quote(secret, safe=""))]


def spec() -> dict:
    image = {**JAIS["custom_image"], "credentials": {"username": "bot", "password": PASSWORD}}
    return jais(secrets={"API_KEY": SECRET}, custom_image=image, smoke_test=None)


def test_a_failed_endpoints_message_is_masked_in_outputs_state_logs_and_errors(hosts, emulator):
    endpoints = {"jais": spec()}
    stack = EndpointStack(hosts, {**emulator_config(emulator), ENDPOINTS_KEY: json.dumps(endpoints)},
                          secret_keys=(TOKEN_KEY, ENDPOINTS_KEY))
    stack.up(endpoints, wait=False)
    leaked = forms(SECRET, PASSWORD, emulator.token)
    emulator.force_state("local", "jais", "failed", f"KeyError: {' '.join(leaked)}")
    with pytest.raises(ProviderError) as failure:
        stack.up(endpoints)  # EndpointsReady sees the failure
    masked = "KeyError: " + " ".join(["***"] * len(leaked))
    assert f"local/jais failed to deploy: {masked}" in failure.value.details
    stack.refresh()
    assert stack.outputs("jais")["message"] == masked
    stored = stack.state.to_json()
    for text in [failure.value.details, stored, *stack.log_lines()]:
        assert [form for form in leaked if form in text] == []
    stack.destroy()


@pytest.mark.parametrize("method", CALLS)
def test_a_server_that_echoes_the_stripped_token_never_shows_it(method):
    """The token pasted with whitespace reaches the server stripped, which an error body then repeats."""
    with stub_server(Answer(401, '{"error": "Invalid token {token}"}')) as stub, \
            ProviderHost(PROJECT, env={"HF_ENDPOINTS_POLL_SECONDS": "0.05"}) as host:
        host.configure({"hf-endpoints:apiUrl": stub.url, TOKEN_KEY: " canary-Token-0042 \n"}, [TOKEN_KEY])
        with pytest.raises(ProviderError) as failure:
            CALLS[method](host, "local")
        output = "\n".join([failure.value.details, *host.log_lines()])
    assert "401: Invalid token <redacted>" in output
    assert "canary" not in output.lower()
