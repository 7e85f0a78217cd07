"""The containers behind each endpoint's URL, one per engine and version, over HTTP: TGI's routes by image tag, vLLM's
and SGLang's OpenAI servers, llama.cpp's server, TEI; their limits and error shapes; which container a custom image
gets; the Hub's GGUF repository read by range. And the API keeps what each variant declares (vLLM's tuning fields)."""

from __future__ import annotations

import pytest

from emulator.engines.base import DEFAULT_REPLY
from tests.test_emulator_api import NS, body, create

LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"  # in the emulator's Hub: 131072 positions
BGE = "BAAI/bge-base-en-v1.5"  # hidden size 768, 512 positions
GGUF_REPO = "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"
CHAT = {"messages": [{"role": "user", "content": "one two three"}], "max_tokens": 2}


def tgi(tag: str) -> dict:
    return {"custom": {"url": f"ghcr.io/huggingface/text-generation-inference:{tag}", "port": 80,
                       "healthRoute": "/health"}}


VLLM = {"vLLM": {"url": "vllm/vllm-openai:v0.23.0", "port": 8000, "healthRoute": "/health"}}
SGLANG = {"sGLang": {"url": "lmsysorg/sglang:v0.5.23", "port": 30000, "healthRoute": "/health"}}
LLAMACPP = {"llamacpp": {"url": "ghcr.io/ggml-org/llama.cpp:server-cuda", "port": 8080, "healthRoute": "/health",
                         "ctxSize": 32, "nParallel": 2}}
TEI = {"tei": {"url": "ghcr.io/huggingface/text-embeddings-inference:86-1.9", "port": 80, "healthRoute": "/health"}}


def running(http, emulator, image: dict, repository: str = LLAMA_8B, **changes) -> str:
    assert create(http, body(model__image=image, model__repository=repository, **changes)).status_code == 202
    return emulator.force_state(NS, "ep", "running")["status"]["url"]


@pytest.mark.parametrize(("tag", "version", "served"), [
    ("1.3.4", "1.3.4", {"generate": 200, "chat": 404, "completions": 404, "models": 404}),
    ("1.4.0", "1.4.0", {"generate": 200, "chat": 200, "completions": 404, "models": 404}),
    ("1.4.4", "1.4.4", {"generate": 200, "chat": 200, "completions": 200, "models": 404}),
    ("2.0.0", "2.0.0", {"generate": 200, "chat": 200, "completions": 200, "models": 200}),
    ("3.3.7", "3.3.7", {"generate": 200, "chat": 200, "completions": 200, "models": 200}),
    ("latest", "3.3.6", {"generate": 200, "chat": 200, "completions": 200, "models": 200}),
], ids=["1.3.4", "1.4.0-messages-api", "1.4.4-completions", "2.0.0", "3.3.7", "untagged-as-3.3.6"])
def test_tgi_routes_follow_the_image_tags_version(http, emulator, tag, version, served):
    url = running(http, emulator, tgi(tag))
    assert http.get(f"{url}/info").json()["version"] == version
    codes = {"generate": http.post(url, json={"inputs": "a", "parameters": {"max_new_tokens": 1}}).status_code,
             "chat": http.post(f"{url}/v1/chat/completions", json=CHAT).status_code,
             "completions": http.post(f"{url}/v1/completions", json={"prompt": "a", "max_tokens": 1}).status_code,
             "models": http.get(f"{url}/v1/models").status_code}
    assert codes == served


@pytest.mark.parametrize(("tag", "usage_chunk", "alias"), [
    ("2.2.0", False, False), ("2.3.0", True, False), ("3.0.2", True, True)],
    ids=["before-include-usage", "include-usage-2.3.0", "max-completion-tokens-3.0.2"])
def test_tgi_messages_api_options_by_version(http, emulator, tag, usage_chunk, alias):
    url = running(http, emulator, tgi(tag))
    stream = http.post(f"{url}/v1/chat/completions", json={**CHAT, "stream": True,
                                                          "stream_options": {"include_usage": True}})
    events = [line for line in stream.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert ('"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}' in
            events[-2]) is usage_chunk
    reply = http.post(f"{url}/v1/chat/completions", json={"messages": CHAT["messages"], "max_completion_tokens": 1})
    assert (reply.json()["usage"]["completion_tokens"] == 1) is alias
    with_logprobs = http.post(f"{url}/v1/chat/completions", json={**CHAT, "logprobs": True}).json()
    assert with_logprobs["choices"][0]["logprobs"] == {"content": [
        {"token": "Hello", "logprob": -0.125, "top_logprobs": []}, {"token": " from", "logprob": -0.125,
                                                                     "top_logprobs": []}]}


def test_vllm_openai_server(http, emulator):
    """vLLM's routes and shapes, `--max-model-len` from the endpoint's args, its nested 400 when over it."""
    url = running(http, emulator, VLLM, model__args=["--max-model-len", "64"])
    assert (http.get(f"{url}/health").status_code, http.get(f"{url}/health").content) == (200, b"")
    assert http.get(f"{url}/version").json() == {"version": "0.23.0"}
    (model,) = http.get(f"{url}/v1/models").json()["data"]
    assert {k: model[k] for k in ("id", "object", "owned_by", "max_model_len")} == {
        "id": LLAMA_8B, "object": "model", "owned_by": "vllm", "max_model_len": 64}
    chat = http.post(f"{url}/v1/chat/completions", json={**CHAT, "model": LLAMA_8B}).json()
    assert (chat["object"], chat["model"], chat["choices"][0]["message"], chat["choices"][0]["finish_reason"],
            chat["usage"]) == ("chat.completion", LLAMA_8B, {"role": "assistant", "content": "Hello from"}, "length",
                               {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})
    done = http.post(f"{url}/v1/completions", json={"prompt": "a b", "max_tokens": 3}).json()
    assert (done["object"], done["choices"][0]["text"]) == ("text_completion", "Hello from the")
    too_long = http.post(f"{url}/v1/completions", json={"prompt": "x " * 60, "max_tokens": 10})
    assert (too_long.status_code, too_long.json()) == (400, {"error": {
        "message": "This model's maximum context length is 64 tokens. However, you requested 10 output tokens and "
                   "your prompt contains 60 input tokens, for a total of 70 tokens. Please reduce the length of the "
                   "input prompt or the number of requested output tokens. (parameter=input_tokens, value=60)",
        "type": "BadRequestError", "param": "input_tokens", "code": 400}})


def test_vllm_context_defaults_to_the_models(http, emulator):
    url = running(http, emulator, VLLM)
    assert http.get(f"{url}/v1/models").json()["data"][0]["max_model_len"] == 131072


def test_sglang_server(http, emulator):
    url = running(http, emulator, SGLANG, model__args=["--context-length", "16"])
    assert http.get(f"{url}/v1/models").json()["data"][0]["owned_by"] == "sglang"
    assert http.post(f"{url}/v1/chat/completions", json=CHAT).status_code == 200
    too_long = http.post(f"{url}/v1/chat/completions", json={"messages": CHAT["messages"], "max_tokens": 20})
    assert (too_long.status_code, too_long.json()) == (400, {
        "object": "error", "message": "Requested token count exceeds the model's maximum context length of 16 tokens. "
        "You requested a total of 23 tokens: 3 tokens from the input messages and 20 tokens for the completion. "
        "Please reduce the number of tokens in the input messages or the completion to fit within the limit.",
        "type": "BadRequestError", "param": None, "code": 400})


def test_llamacpp_server(http, emulator):
    """ctxSize 32 over nParallel 2: 16 tokens a slot; a prompt that does not fit is llama.cpp's 400."""
    url = running(http, emulator, LLAMACPP, repository=GGUF_REPO)
    assert http.get(f"{url}/health").json() == {"status": "ok"}
    assert http.get(f"{url}/props").json()["default_generation_settings"]["n_ctx"] == 16
    native = http.post(f"{url}/completion", json={"prompt": "a b c", "n_predict": 3}).json()
    assert {k: native[k] for k in ("content", "tokens_predicted", "tokens_evaluated", "stop", "stop_type")} == {
        "content": "Hello from the", "tokens_predicted": 3, "tokens_evaluated": 3, "stop": True, "stop_type": "limit"}
    assert http.post(f"{url}/v1/chat/completions", json=CHAT).json()["choices"][0]["message"]["content"] == \
        "Hello from"
    too_long = http.post(f"{url}/completion", json={"prompt": "a " * 20})
    assert (too_long.status_code, too_long.json()) == (400, {"error": {
        "code": 400, "message": "request (20 tokens) exceeds the available context size (16 tokens), try increasing "
                                "it", "type": "exceed_context_size_error", "n_prompt_tokens": 20, "n_ctx": 16}})


def test_tei_embeds_in_the_models_dimension(http, emulator):
    url = running(http, emulator, TEI, repository=BGE, model__task="feature-extraction")
    info = http.get(f"{url}/info").json()
    assert (info["model_id"], info["max_input_length"], info["max_batch_tokens"], info["max_concurrent_requests"],
            info["model_type"]) == (BGE, 512, 16384, 512, {"embedding": {"pooling": "cls"}})
    (one,) = http.post(f"{url}/embed", json={"inputs": "hello world"}).json()
    assert len(one) == 768 and abs(sum(v * v for v in one) - 1) < 1e-3
    assert http.post(url, json={"inputs": "hello world"}).json() == [one]  # POST / embeds too
    assert http.post(f"{url}/embed", json={"inputs": ["a", "b"]}).json()[1] != one
    openai = http.post(f"{url}/v1/embeddings", json={"input": "hello world", "model": BGE}).json()
    assert (openai["object"], openai["data"][0]["embedding"], openai["usage"]) == (
        "list", one, {"prompt_tokens": 2, "total_tokens": 2})
    refused = http.post(f"{url}/embed", json={"inputs": "x " * 600, "truncate": False})
    assert (refused.status_code, refused.json()) == (422, {"error": "`inputs` must have less than 512 tokens. "
                                                                    "Given: 600", "error_type": "Validation"})
    assert http.post(f"{url}/embed", json={"inputs": "x " * 600}).status_code == 200  # truncated by default


@pytest.mark.parametrize(("url", "container"), [
    ("vllm/vllm-openai:v0.23.0", "vllm"), ("lmsysorg/sglang:v0.5.23", "sglang"),
    ("ghcr.io/ggml-org/llama.cpp:server", "llamacpp"), ("ghcr.io/huggingface/text-embeddings-inference:1.9", "tei"),
    ("registry.example/my-server:1", "tgi"),
], ids=["vllm", "sglang", "llamacpp", "tei", "unknown-answers-as-tgi"])
def test_a_custom_image_runs_the_engine_its_url_names(http, emulator, url, container):
    served = running(http, emulator, {"custom": {"url": url, "port": 80}})
    answers = {"vllm": http.get(f"{served}/version").status_code == 200 and "owned_by" in http.get(
        f"{served}/v1/models").text and "vllm" in http.get(f"{served}/v1/models").text,
               "sglang": "sglang" in http.get(f"{served}/v1/models").text,
               "llamacpp": http.get(f"{served}/health").text == '{"status":"ok"}',
               "tei": http.post(f"{served}/embed", json={"inputs": "a"}).status_code == 200,
               "tgi": http.get(f"{served}/info").json().get("router") == "text-generation-router"}
    assert [name for name, yes in answers.items() if yes] == [container]


def test_vllm_keeps_its_tuning_fields_and_drops_what_it_does_not_declare(http):
    image = {"vLLM": {**VLLM["vLLM"], "tensorParallelSize": 1, "maxNumSeqs": 8, "maxNumBatchedTokens": 4096,
                      "kvCacheDtype": "fp8", "maxInputLength": 10}}
    assert create(http, body(model__image=image)).status_code == 202
    assert http.get(f"/v2/endpoint/{NS}/ep").json()["model"]["image"] == {"vLLM": {
        **VLLM["vLLM"], "tensorParallelSize": 1, "maxNumSeqs": 8, "maxNumBatchedTokens": 4096, "kvCacheDtype": "fp8"}}


@pytest.mark.parametrize(("instance", "image", "status"), [
    ("x4", VLLM, 400), ("x4", {"vLLM": {**VLLM["vLLM"], "tensorParallelSize": 4}}, 202),
    ("x4", {"vLLM": {**VLLM["vLLM"], "dataParallelSize": 4}}, 202), ("x4", SGLANG, 400), ("x1", VLLM, 202),
], ids=["vllm-x4-no-sizes", "vllm-x4-tp4", "vllm-x4-dp4", "sglang-x4-no-size", "vllm-x1"])
def test_the_api_refuses_vllm_and_sglang_on_several_gpus_without_sizes(http, instance, image, status):
    made = create(http, body(model__image=image, compute__instanceType="nvidia-l4", compute__instanceSize=instance))
    assert made.status_code == status
    if status == 400:
        variant = next(iter(image))
        assert made.json() == {"error": f"{variant} on 4 accelerators needs tensorParallelSize or dataParallelSize"}


def test_gguf_files_are_listed_and_their_header_read_by_range(http):
    """What model_facts reads for llama.cpp: the files' sizes, then the first bytes of one."""
    info = http.get(f"/api/models/{GGUF_REPO}", params={"blobs": "true"}).json()
    assert {s["rfilename"]: s["size"] for s in info["siblings"]} == {
        "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": 4_868_345_881, "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf": 8_532_152_576}
    path = f"/{GGUF_REPO}/resolve/main/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"
    head = http.get(path, headers={"Range": "bytes=0-63"})
    assert (head.status_code, head.headers["content-range"], head.content[:4]) == (
        206, "bytes 0-63/4868345881", b"GGUF")
    assert http.get(path).status_code == 416  # no weights here
    assert http.get(f"/{GGUF_REPO}/resolve/main/config.json").headers["x-error-code"] == "EntryNotFound"


def test_the_reply_is_the_configured_text(http, emulator):
    url = running(http, emulator, VLLM)
    text = http.post(f"{url}/v1/completions", json={"prompt": "x", "max_tokens": 50}).json()["choices"][0]["text"]
    assert text == DEFAULT_REPLY
