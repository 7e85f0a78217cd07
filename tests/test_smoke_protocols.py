"""The smoke test in each engine's protocol (a scripted client, a fake clock): which call each protocol makes, the
embedding's dimension, and a 4xx from the smoke call failing at once with the server's message (a 503 is retried
until the deadline)."""

from __future__ import annotations

import httpx2
import pytest
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.utils import hf_raise_for_status

from providers.readiness import EndpointNotReadyError, Target
from tests.test_readiness import ScriptedClient, run


def http_error(status: int, body: dict) -> HfHubHTTPError:
    """The error huggingface_hub raises for such an answer (what the real client method would raise)."""
    response = httpx2.Response(status, json=body, request=httpx2.Request("POST", "http://x/ns/x"))
    with pytest.raises(HfHubHTTPError) as raised:
        hf_raise_for_status(response)
    return raised.value


class ProtocolClient(ScriptedClient):
    """The scripted client, speaking every protocol; `failure` is raised by the smoke call instead."""

    def __init__(self, vector: list[float] | None = None, failure: Exception | None = None, **kwargs):
        super().__init__({"ns": [{"x": "running"}]}, **kwargs)
        self.vector, self.failure = vector, failure

    def _answer(self, call: str, url: str, reply):
        self.calls.append((call, url))
        if self.failure is not None:
            raise self.failure
        return reply

    def generate(self, url, prompt, max_new_tokens, *, authenticated):
        return self._answer("generate", url, self.reply)

    def chat(self, url, prompt, max_new_tokens, *, authenticated):
        return self._answer("chat", url, self.reply)

    def completions(self, url, prompt, max_new_tokens, *, authenticated):
        return self._answer("completions", url, self.reply)

    def embed(self, url, text, *, authenticated):
        return self._answer("embed", url, [self.vector or [0.6, 0.8]])


def smoke(protocol: str | None = None, **extra) -> Target:
    test = {"prompt": "hi", "expect": "positive", **({"protocol": protocol} if protocol else {}), **extra}
    return Target("ns", "x", smoke_test=test)


@pytest.mark.parametrize(("protocol", "call"), [
    (None, "generate"), ("generate", "generate"), ("chat", "chat"), ("completions", "completions")],
    ids=["default-generate", "generate", "chat", "completions"])
def test_each_text_protocol_makes_its_call(protocol, call):
    client = ProtocolClient()
    _, lines, _ = run(client, [smoke(protocol)])
    assert [c for c in client.calls if c[0] not in ("list", "health")] == [(call, "http://x/x")]
    assert lines[-1] == "ns/x: ready (health 200 and smoke test matched) after 0.0s"


@pytest.mark.parametrize(("vector", "dimension", "message"), [
    ([0.1] * 768, 768, None),
    ([0.1] * 384, 768, "ns/x smoke test failed: /embed answered a vector of 384 numbers, but None embeds in 768 "
                       "(endpoints.x.smoke_test.dimension)"),
    ([0.1] * 384, None, None),
    (["a"], None, "ns/x smoke test failed: /embed did not answer one vector of numbers (endpoints.x.smoke_test)"),
], ids=["dimension-matches", "dimension-differs", "dimension-unknown", "not-numbers"])
def test_embed_checks_the_vectors_dimension(vector, dimension, message):
    target = Target("ns", "x", smoke_test={"prompt": "hi", "protocol": "embed",
                                           **({"dimension": dimension} if dimension else {})})
    client = ProtocolClient(vector=vector)
    if message is None:
        _, lines, _ = run(client, [target])
        checked = f"of dimension {dimension}" if dimension else "(dimension not known: not checked)"
        assert lines[-1] == f"ns/x: ready (health 200 and /embed answered a vector {checked}) after 0.0s"
    else:
        with pytest.raises(EndpointNotReadyError) as failed:
            run(client, [target])
        assert str(failed.value) == message


@pytest.mark.parametrize(("status", "body", "message"), [
    (422, {"error": "Input validation error: `inputs` must have less than 8 tokens. Given: 9",
           "error_type": "validation"},
     "ns/x smoke test failed: POST /v1/chat/completions answered 422: Input validation error: `inputs` must have "
     "less than 8 tokens. Given: 9 (endpoints.x.smoke_test)"),
    (404, {"error": "No route POST /v1/chat/completions on this endpoint"},
     "ns/x smoke test failed: POST /v1/chat/completions answered 404: No route POST /v1/chat/completions on this "
     "endpoint (endpoints.x.smoke_test)"),
    (400, {"error": {"message": "This model's maximum context length is 64 tokens.", "type": "BadRequestError",
                     "param": "input_tokens", "code": 400}},
     "ns/x smoke test failed: POST /v1/chat/completions answered 400: This model's maximum context length is 64 "
     "tokens. (endpoints.x.smoke_test)"),
    (400, {"object": "error", "message": "The input (9 tokens) is longer than the model's context length (8 "
           "tokens).", "type": "BadRequestError", "param": None, "code": 400},
     "ns/x smoke test failed: POST /v1/chat/completions answered 400: The input (9 tokens) is longer than the "
     "model's context length (8 tokens). (endpoints.x.smoke_test)"),
], ids=["tgi-422-validation", "404-no-such-route", "vllm-nested-400", "sglang-flat-400"])
def test_a_4xx_from_the_smoke_test_fails_at_once(status, body, message):
    """Before: every tick got the same 4xx until readyTimeoutSeconds, then only `timed out ... (running)`."""
    client = ProtocolClient(failure=http_error(status, body))
    with pytest.raises(EndpointNotReadyError) as failed:
        run(client, [smoke("chat")], timeout=1800)
    assert str(failed.value) == message
    assert [c[0] for c in client.calls].count("chat") == 1


def test_a_503_from_the_smoke_test_is_retried_until_the_deadline():
    client = ProtocolClient(failure=http_error(503, {"error": "warming up"}))
    with pytest.raises(EndpointNotReadyError) as failed:
        run(client, [smoke("chat")], timeout=5)
    assert str(failed.value).startswith("timed out after 5s waiting for ns/x (running)")
    assert [c[0] for c in client.calls].count("chat") == 6
