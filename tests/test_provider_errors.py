"""Errors the user sees from `pulumi up`/`destroy`: every provider method fails with one message naming the endpoint
(`namespace/name`) and the server's message, never a bare HfHubHTTPError or httpx traceback, and never a token;
the token is stripped as huggingface_hub strips it; DELETE is retried by time, not by count."""

from __future__ import annotations

import pickle
import re
import time

import dill
import pytest
from huggingface_hub.errors import HfHubHTTPError
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider

from emulator.process import EmulatorProcess
from providers import EndpointsReadyProvider, InferenceEndpointProvider
from providers.client import EndpointsClient, Settings
from tests.conftest import EMULATOR_FAST_ARGS
from tests.endpoint_stack import (
    ENDPOINT_PROVIDER,
    ENDPOINT_TYPE,
    PROJECT,
    READY_PROVIDER,
    READY_TYPE,
    EndpointStack,
    emulator_config,
    endpoint_hosts,
)
from tests.fake_clock import FakeClock
from tests.harness.provider_host import ProviderError, ProviderHost, urn
from tests.test_inference_endpoint import jais, start_host

pytestmark = pytest.mark.slow

CANARY = "hf_canary_token_for_the_error_paths"
NOT_SHOWN = ("HfHubHTTPError", "LocalProtocolError", "RemoteProtocolError", "httpx", "During handling of the above",
             "The above exception was the direct cause")
ENDPOINT = urn("dev", PROJECT, ENDPOINT_TYPE, "jais")
READY = urn("dev", PROJECT, READY_TYPE, "endpoints-ready")


def inputs(namespace: str = "local") -> dict:
    return {"__provider": ENDPOINT_PROVIDER, **jais(), "name": "jais", "namespace": namespace, "adopt": False,
            "paused": False, "framework": "pytorch", "type": "authenticated"}


CALLS = {
    "create": lambda host, ns: host.create(ENDPOINT, inputs(ns)),
    "update": lambda host, ns: host.update(f"{ns}/jais", ENDPOINT, inputs(ns), {**inputs(ns), "max_replica": 2}),
    "read": lambda host, ns: host.read(f"{ns}/jais", ENDPOINT, inputs(ns), inputs(ns)),
    "delete": lambda host, ns: host.delete(f"{ns}/jais", ENDPOINT, inputs(ns)),
    "wait": lambda host, ns: host.create(READY, {"__provider": READY_PROVIDER, "timeout_seconds": 5,
                                                 "endpoints": [{"namespace": ns, "name": "jais"}]}),
}


def final_error(details: str) -> str:
    """The last line of the host's report: the exception the user reads."""
    return details.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def stranger():
    """An emulator that does not know the canary token: every call answers 401."""
    with EmulatorProcess(EMULATOR_FAST_ARGS) as emulator:
        yield emulator


@pytest.mark.parametrize("token", [f"{CANARY}\n", f" {CANARY} ", f"{CANARY}\r\n"], ids=["newline", "spaces", "crlf"])
@pytest.mark.parametrize("method", CALLS)
def test_no_error_path_shows_the_token(stranger, method, token):
    """A token pasted with a trailing newline used to reach httpx, whose 'Illegal header value' error printed it in
    full in the traceback of `pulumi up`. Now it is stripped, and a refused call names the endpoint only."""
    with ProviderHost(PROJECT, env={"HF_ENDPOINTS_POLL_SECONDS": "0.05"}) as host:
        host.configure({"hf-endpoints:apiUrl": stranger.api_url, "hf-endpoints:hfToken": token},
                       ["hf-endpoints:hfToken"])
        with pytest.raises(ProviderError) as failure:
            CALLS[method](host, "local")
        output = "\n".join([failure.value.details, *host.log_lines()])
    assert CANARY not in output
    assert final_error(failure.value.details).startswith("providers.client.EndpointsApiError: local/jais")
    assert "401: A valid user or organization token, sent as a Bearer, is required" in failure.value.details


def test_a_token_from_the_environment_is_stripped_too(stranger):
    with ProviderHost(PROJECT, env={"HF_TOKEN": f"{CANARY}\n"}) as host:
        host.configure({"hf-endpoints:apiUrl": stranger.api_url})
        with pytest.raises(ProviderError) as failure:
            CALLS["read"](host, "local")
        output = "\n".join([failure.value.details, *host.log_lines()])
    assert CANARY not in output
    assert "401" in failure.value.details


def test_a_stripped_token_works():
    with EmulatorProcess([*EMULATOR_FAST_ARGS, "--token", f"{CANARY}=local"]) as emulator, \
            endpoint_hosts(HF_ENDPOINTS_POLL_SECONDS="0.05") as hosts:
        stack = EndpointStack(hosts, emulator_config(emulator, token=f"  {CANARY}\n"))
        stack.up({"jais": jais()}, wait=False)
        stack.destroy()
        assert emulator.endpoints("local") == []


@pytest.mark.parametrize("method", CALLS)
def test_every_method_names_the_endpoint_and_the_servers_message(emulator, method):
    """Another user's namespace answers 403 at once: each method fails with one EndpointsApiError naming
    `namespace/name` and the server's text, and no chained HTTP-library traceback."""
    host = start_host(emulator)
    try:
        with pytest.raises(ProviderError) as failure:
            CALLS[method](host, "someone-else")
    finally:
        host.close()
    details = failure.value.details
    assert re.match(r"providers\.(client|readiness)\.\w+Error: someone-else/jais", final_error(details)), details
    assert "401: User 'local' has no access to namespace 'someone-else'" in details
    for text in NOT_SHOWN:
        assert text not in details


def test_delete_retries_until_its_deadline_not_a_fixed_count(emulator):
    """A DELETE answered 5xx is retried for as long as the deadline allows (minutes), not 8 times (~11-23 s)."""
    clock = FakeClock()
    client = EndpointsClient(Settings(api_url=emulator.api_url, token=emulator.token), sleep=clock.sleep,
                             clock=clock)
    emulator.faults(error_rate=1.0)
    with pytest.raises(HfHubHTTPError):
        client.delete("local", "jais", deadline=clock() + 300)
    deletes = [c for c in emulator.calls() if c["method"] == "DELETE"]
    assert 300 <= clock.now <= 300 + client.max_delay
    assert len(deletes) > 30  # 10 s apart at most: far more than the 8 attempts of a call without a deadline


@pytest.mark.parametrize(("config", "env", "seconds"), [
    ({"hf-endpoints:deleteTimeoutSeconds": "2"}, {}, 2),
    ({}, {"HF_ENDPOINTS_DELETE_TIMEOUT_SECONDS": "1.5"}, 1.5),
], ids=["stack-config", "environment"])
def test_delete_gives_up_at_the_configured_time_naming_the_endpoint(emulator, config, env, seconds):
    with endpoint_hosts(HF_ENDPOINTS_POLL_SECONDS="0.05", **env) as hosts:
        # destroy runs with the config its last `up` recorded in state, as the CLI's does.
        stack = EndpointStack(hosts, {**emulator_config(emulator), **config})
        stack.up({"jais": jais()}, wait=False)
        emulator.faults(error_rate=1.0)
        started = time.monotonic()
        with pytest.raises(ProviderError) as failure:
            stack.destroy()
        elapsed = time.monotonic() - started
        emulator.faults(error_rate=0)
        assert stack.names() == ["jais"]  # destroy failed: the endpoint stays in state, so nothing is hidden
        stack.destroy()
    details = failure.value.details
    assert re.search(rf"EndpointsApiError: local/jais: delete failed \(5\d\d: Injected fault: HTTP 5\d\d\); it may "
                     rf"still exist: run `pulumi destroy` again \(retried for {seconds:g}s: raise "
                     r"hf-endpoints:deleteTimeoutSeconds to wait longer\)$", details.strip()), details
    assert seconds <= elapsed < seconds + 4
    for text in NOT_SHOWN:
        assert text not in details


def test_dropped_connections_on_delete_name_the_endpoint(emulator):
    """A connection dropped on every try used to end as a bare RemoteProtocolError."""
    host = start_host(emulator, HF_ENDPOINTS_DELETE_TIMEOUT_SECONDS="1")
    try:
        emulator.faults(drop_rate=1.0)
        with pytest.raises(ProviderError) as failure:
            CALLS["delete"](host, "local")
        emulator.faults(drop_rate=0)
    finally:
        host.close()
    assert re.search(r"EndpointsApiError: local/jais: delete failed \(no answer from the API: .+\); it may still "
                     r"exist", failure.value.details), failure.value.details
    for text in NOT_SHOWN:
        assert text not in failure.value.details


def configured(provider):
    provider.configure(ConfigureRequest(Config({"hf-endpoints:hfToken": CANARY, "hf-endpoints:apiUrl": "http://x"},
                                               PROJECT)))
    return provider


@pytest.mark.parametrize("provider", [InferenceEndpointProvider, EndpointsReadyProvider])
def test_a_configured_provider_pickles_without_its_token(provider):
    """The provider is pickled into state as `__provider`: one that WAS configured with a token must not carry it
    (base.__getstate__ drops the config; without it the token lands in state)."""
    instance = configured(provider())
    assert instance.settings().token == CANARY  # it was really configured
    for blob in (serialize_provider(instance), dill.dumps(instance, recurse=True), pickle.dumps(instance)):
        assert CANARY.encode() not in (blob if isinstance(blob, bytes) else blob.encode())
        assert CANARY not in str(blob)
    assert dill.loads(dill.dumps(instance)).settings().token is None  # unpickled: configured afresh by the host


def test_no_repr_shows_the_token():
    settings = Settings(api_url="http://x", token=CANARY)
    client = EndpointsClient(settings)
    provider = configured(InferenceEndpointProvider())
    for text in (repr(settings), str(settings), repr(client), str(client), repr(provider), repr(vars(provider))):
        assert CANARY not in text


def test_settings_strip_the_token_like_huggingface_hub():
    assert Settings.resolve({"hf-endpoints:hfToken": f" {CANARY}\r\n"}).token == CANARY
    assert Settings.resolve({"hf-endpoints:hfToken": " \n"}).token is None
