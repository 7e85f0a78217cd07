"""Unmodified clients against the emulated engines, over HTTP: huggingface_hub's InferenceClient
(`text_generation`, `chat_completion`, `feature_extraction`), the `openai` package with strict response validation,
and `@huggingface/inference` on Node (`textGeneration` through `/v1/completions`, `chatCompletion` through
`/v1/chat/completions`). Node's package is installed once into the project's cache; under `CI` a missing Node or
npm fails the test, elsewhere it skips saying how to get them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pulumi_cli import CLI_CACHE_ENV
from tests.test_emulator_engines import BGE, LLAMA_8B, TEI, VLLM, running, tgi

NODE_CLIENT = "@huggingface/inference@4.13.30"
SCRIPT = Path(__file__).with_name("clients") / "huggingface_inference.mjs"


def test_huggingface_hub_inference_client(http, emulator):
    from huggingface_hub import InferenceClient

    tgi_url = running(http, emulator, tgi("3.3.7"))
    client = InferenceClient(model=tgi_url, token=emulator.token)
    assert client.text_generation("one two", max_new_tokens=3) == "Hello from the"
    emulator.reset()
    vllm_url = running(http, emulator, VLLM)
    chat = InferenceClient(model=vllm_url, token=emulator.token).chat_completion(
        [{"role": "user", "content": "one two"}], max_tokens=2)  # sends model "dummy": accepted
    assert (chat.choices[0].message.content, chat.usage.prompt_tokens) == ("Hello from", 2)
    emulator.reset()
    tei_url = running(http, emulator, TEI, repository=BGE, model__task="feature-extraction")
    vectors = InferenceClient(model=tei_url, token=emulator.token).feature_extraction("hello world")
    assert vectors.shape == (1, 768)


def test_openai_package_with_strict_validation(http, emulator):
    import openai

    url = running(http, emulator, VLLM)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=emulator.token, _strict_response_validation=True,
                           max_retries=0)
    (model,) = client.models.list().data
    assert model.id == LLAMA_8B
    chat = client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "one two"}],
                                          max_tokens=2)
    assert (chat.choices[0].message.content, chat.choices[0].finish_reason) == ("Hello from", "length")
    done = client.completions.create(model=model.id, prompt="one two", max_tokens=3)
    assert (done.choices[0].text, done.usage.total_tokens) == ("Hello from the", 5)
    chunks = list(client.chat.completions.create(model=model.id, messages=[{"role": "user", "content": "x"}],
                                                 max_tokens=2, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello from"
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model=model.id, prompt="x " * 10, max_tokens=131070)
    assert "maximum context length is 131072 tokens" in str(refused.value)


@pytest.fixture(scope="session")
def node_client() -> Path:
    """The directory holding @huggingface/inference (installed once, into the user's hf-endpoints cache)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        message = "node and npm are needed for the @huggingface/inference test: install Node.js 20 or later"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    root = Path(CLI_CACHE_ENV.get("HF_ENDPOINTS_CACHE") or os.path.join(
        CLI_CACHE_ENV.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hf-endpoints"))
    where = root / "node-clients" / NODE_CLIENT.replace("/", "+")
    if not (where / "node_modules" / "@huggingface" / "inference" / "package.json").exists():
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(where), NODE_CLIENT],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm install {NODE_CLIENT} failed: {done.stderr[-2000:]}")
    return where


@pytest.mark.parametrize("image", [VLLM, tgi("3.3.7")], ids=["vllm", "tgi-3.3.7"])
def test_huggingface_inference_on_node(http, emulator, node_client, image):
    url = running(http, emulator, image)
    env = {**os.environ, "HF_TOKEN": emulator.token, "NODE_PATH": str(node_client / "node_modules")}
    script = node_client / SCRIPT.name
    shutil.copy(SCRIPT, script)  # ESM resolves packages from the script's own directory
    done = subprocess.run(["node", str(script), url], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"generated_text": "Hello from the", "chat": "Hello from"}
