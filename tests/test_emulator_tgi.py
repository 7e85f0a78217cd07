"""The inference surface at status.url: proxy gates, TGI routes, auth per endpoint type."""

import json
import time

import httpx2
import pytest

from emulator.process import EmulatorProcess
from tests.conftest import EMULATOR_FAST_ARGS
from tests.test_emulator_api import NS, body, create, wait_state

REPLY = "Hello from the hf-endpoints emulator. This reply is deterministic and ignores the prompt."


@pytest.fixture
def url(http, emulator):
    """A running TGI endpoint with MAX_INPUT_LENGTH 8 and MAX_TOTAL_TOKENS 20 (forced running: no wait)."""
    env = {"MAX_INPUT_LENGTH": "8", "MAX_TOTAL_TOKENS": "20", "MODEL_ID": "/repository"}
    image = {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.6", "port": 80,
                        "healthRoute": "/health"}}
    create(http, body(model__env=env, model__image=image, compute__scaling__minReplica=0))
    return emulator.force_state(NS, "ep", "running")["status"]["url"]


def test_health_and_info(http, url):
    assert http.get(f"{url}/health").status_code == 200
    assert http.get(f"{url}/info").json() == {
        "model_id": "/repository", "model_sha": None, "model_pipeline_tag": "text-generation",
        "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4, "max_input_tokens": 8,
        "max_total_tokens": 20, "validation_workers": 2, "max_client_batch_size": 4,
        "router": "text-generation-router", "version": "3.3.6", "sha": None, "docker_label": None}


@pytest.mark.parametrize(
    ("route", "parameters", "expected"),
    [
        ("/", {"max_new_tokens": 3}, [{"generated_text": "Hello from the", "details": None}]),
        ("/generate", {"max_new_tokens": 3}, {"generated_text": "Hello from the", "details": None}),
        ("/generate", {"max_new_tokens": 12, "stop": ["emulator."]},
         {"generated_text": "Hello from the hf-endpoints emulator.", "details": None}),
        ("/generate", {"max_new_tokens": 14, "return_full_text": True},
         {"generated_text": "a b" + REPLY, "details": None}),
    ],
    ids=["compat-list", "generate", "stop-sequence", "full-text"],
)
def test_generate(http, url, route, parameters, expected):
    r = http.post(f"{url}{route}", json={"inputs": "a b", "parameters": parameters})
    assert r.status_code == 200
    assert r.json() == expected


@pytest.mark.parametrize(
    ("parameters", "finish", "count"),
    [({"max_new_tokens": 2}, "length", 2), ({"max_new_tokens": 12, "stop": ["from"]}, "stop_sequence", 2),
     ({"max_new_tokens": 14}, "eos_token", 13)],
    ids=["length", "stop", "eos"],
)
def test_generate_details(http, url, parameters, finish, count):
    r = http.post(f"{url}/generate", json={"inputs": "x", "parameters": {**parameters, "details": True}})
    details = r.json()["details"]
    assert (details["finish_reason"], details["generated_tokens"], len(details["tokens"])) == (finish, count, count)
    assert r.headers["x-generated-tokens"] == str(count)


@pytest.mark.parametrize(
    ("payload", "status", "error"),
    [
        ({"inputs": "w " * 9}, 422, {"error": "Input validation error: `inputs` must have less than 8 tokens. "
                                              "Given: 9", "error_type": "validation"}),
        ({"inputs": "w", "parameters": {"max_new_tokens": 20}}, 422,
         {"error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 20. Given: 1 `inputs` "
                   "tokens and 20 `max_new_tokens`", "error_type": "validation"}),
        ({"inputs": "w", "parameters": {"max_new_tokens": 0}}, 422,
         {"error": "Input validation error: `max_new_tokens` must be strictly positive", "error_type": "validation"}),
    ],
    ids=["input-too-long", "total-too-long", "zero-new-tokens"],
)
def test_generate_validation(http, url, payload, status, error):
    r = http.post(f"{url}/generate", json=payload)
    assert (r.status_code, r.json()) == (status, error)


def test_generate_missing_inputs_is_plain_422(http, url):
    r = http.post(f"{url}/generate", json={"parameters": {}})
    assert (r.status_code, r.text) == (422, "Failed to deserialize the JSON body into the target type: missing "
                                            "field `inputs`")


def test_generate_stream(http, url):
    r = http.post(f"{url}/generate_stream", json={"inputs": "x", "parameters": {"max_new_tokens": 3}})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in r.text.split("\n\n") if line]
    assert [e["token"]["text"] for e in events] == ["Hello", " from", " the"]
    assert [e["generated_text"] for e in events] == [None, None, "Hello from the"]
    assert events[-1]["details"] == {"finish_reason": "length", "generated_tokens": 3, "input_length": 1,
                                     "seed": None}


def test_chat_completions(http, url):
    messages = [{"role": "user", "content": "say hi"}]
    r = http.post(f"{url}/v1/chat/completions", json={"model": "tgi", "messages": messages, "max_tokens": 2})
    out = r.json()
    assert out["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello from"},
                               "logprobs": None, "finish_reason": "length"}]
    assert out["usage"] == {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    assert out["object"] == "chat.completion" and out["model"] == "/repository"

    r = http.post(f"{url}/v1/chat/completions", json={"messages": messages, "max_tokens": 2, "stream": True})
    lines = [line for line in r.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[len("data: "):]) for line in lines[:-1]]
    assert "".join(c["choices"][0]["delta"]["content"] for c in chunks) == "Hello from"
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "length"]


def test_reply_is_configurable(http, url, emulator):
    emulator.configure(reply="Paris is the capital.")
    r = http.post(url, json={"inputs": "capital of France?"})
    assert r.json() == [{"generated_text": "Paris is the capital.", "details": None}]


def test_huggingface_hub_inference_client(http, url, emulator):
    """InferenceClient (what endpoint.client returns) streams and chats against the url."""
    from huggingface_hub import InferenceClient

    client = InferenceClient(model=url, token=emulator.token)
    assert "".join(client.text_generation("x", max_new_tokens=3, stream=True)) == "Hello from the"
    chat = client.chat_completion([{"role": "user", "content": "hi"}], max_tokens=2)
    assert chat.choices[0].message.content == "Hello from"


def test_gates_while_starting_paused_and_scaled_to_zero(http, emulator):
    """503 while starting; 400 text while paused; a request wakes a scaled-to-zero endpoint."""
    create(http, body(compute__scaling__minReplica=0))
    url = f"{emulator.base_url}/e/{NS}/ep"
    r = http.get(f"{url}/health")
    assert r.status_code == 503 and "endpoint is pending" in r.json()["error"]
    wait_state(http, "ep", "running")
    http.post(f"/v2/endpoint/{NS}/ep/pause")
    r = http.post(url, json={"inputs": "x"})
    assert (r.status_code, r.text) == (400, "Bad Request: endpoint is paused")
    http.post(f"/v2/endpoint/{NS}/ep/resume")
    wait_state(http, "ep", "running")
    http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")
    assert http.post(url, json={"inputs": "x"}).status_code == 503
    assert http.get(f"/v2/endpoint/{NS}/ep").json()["status"]["state"] == "initializing"
    wait_state(http, "ep", "running")


def test_scale_up_timeout_holds_the_request(http, emulator):
    create(http, body(compute__scaling__minReplica=0))
    wait_state(http, "ep", "running")
    http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")
    start = time.monotonic()
    r = http.post(f"{emulator.base_url}/e/{NS}/ep", json={"inputs": "x", "parameters": {"max_new_tokens": 1}},
                  headers={"X-Scale-Up-Timeout": "5"})
    assert (r.status_code, r.json()) == (200, [{"generated_text": "Hello", "details": None}])
    assert 0.25 <= time.monotonic() - start < 2


# --------------------------------------------------------------------------------------------- auth

@pytest.fixture(scope="module")
def multi():
    """An emulator with three users: alice (orgs acme, labs), bob, carol."""
    tokens = ["--token", "hf_alice=alice:acme,labs", "--token", "hf_bob=bob", "--token", "hf_carol=carol:"]
    with EmulatorProcess([*EMULATOR_FAST_ARGS, *tokens]) as emu:
        yield emu


def call(emu, method, path, token=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.request(method, emu.base_url + path, headers=headers, timeout=10, **kw)


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [("/v2/endpoint/alice", None, 401), ("/v2/endpoint/alice", "hf_nope", 401), ("/v2/endpoint/alice", "hf_alice",
     200), ("/v2/endpoint/acme", "hf_alice", 200), ("/v2/endpoint/acme", "hf_bob", 401),
     ("/v2/provider/labs", "hf_alice", 200), ("/v2/provider/labs", "hf_bob", 401), ("/v2/provider", None, 200)],
    ids=["no-token", "unknown-token", "own-user", "own-org", "other-org", "catalog-own-org",
         "catalog-other-org", "public-catalog"],
)
def test_management_auth(multi, path, token, status):
    r = call(multi, "GET", path, token)
    assert r.status_code == status
    if status == 401 and token in (None, "hf_nope"):
        assert r.json() == {"error": "A valid user or organization token, sent as a Bearer, is required"}
    elif status == 401:  # a known user outside the namespace: 401, which huggingface_hub's "*" listing skips
        assert r.json()["error"].startswith("User 'bob' has no access to namespace")


def test_whoami(multi):
    me = call(multi, "GET", "/api/whoami-v2", "hf_alice").json()
    assert (me["type"], me["name"], [o["name"] for o in me["orgs"]]) == ("user", "alice", ["acme", "labs"])
    assert multi.token == "hf_alice"
    assert call(multi, "GET", "/api/whoami-v2").status_code == 401


@pytest.mark.parametrize(
    ("ep_type", "token", "status"),
    [("public", None, 200), ("authenticated", None, 401), ("authenticated", "hf_bob", 200),
     ("private", None, 401), ("private", "hf_bob", 403), ("private", "hf_alice", 200)],
    ids=["public-anonymous", "authenticated-anonymous", "authenticated-other-user", "private-anonymous",
         "private-outsider", "private-org-member"],
)
def test_inference_auth(multi, ep_type, token, status):
    """Endpoint auth by type: public none, authenticated any token, private the namespace's users."""
    multi.reset()
    name = f"{ep_type}-ep"
    assert call(multi, "POST", "/v2/endpoint/acme", "hf_alice", json=body(name=name, type=ep_type)).status_code == 202
    multi.force_state("acme", name, "running")
    assert call(multi, "GET", f"/e/acme/{name}/health", token).status_code == status
