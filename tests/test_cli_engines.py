"""Serving engines through the real Pulumi CLI and engine, against the emulator: a vLLM endpoint on four L4s from
preview (fit and capacity) to up (ready, OpenAI smoke test) to an in-place change (one PUT) to a change of engine
(DELETE before POST) to destroy; the previews that refuse (no tensor_parallel_size on four GPUs, a 70B model on one
A10G); and a stack deployed by the code before engines existed previews with no change under the current code."""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

from tests.pulumi_cli import REPO

pytestmark = pytest.mark.cli
NS = "local"
NAME = "llama-vllm"
LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"
BEFORE_ENGINES = "ce61df79cf7d88a0786919d819e6ac01658e8b09"  # the last commit before `engine:` existed
WRITES = ("POST", "PUT", "DELETE")


def writes(emulator) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in emulator.calls() if c["path"].startswith("/v2/")
            and c["method"] in WRITES]


def vllm_endpoint(**engine: object) -> dict:
    return {"repository": LLAMA_8B, "framework": "pytorch", "task": "text-generation", "accelerator": "gpu",
            "vendor": "aws", "region": "us-east-1", "type": "authenticated", "instance_type": "nvidia-l4",
            "instance_size": "x4", "min_replica": 1, "max_replica": 1, "engine": {"vllm": dict(engine)},
            "smoke_test": {"prompt": "Say one word: positive, negative or neutral.", "expect": "(?i)positive",
                           "max_new_tokens": 5}}


def only(project, endpoint: dict) -> None:
    config = project.stack_config()
    config.pop("hf-endpoints:defaults", None)
    config["hf-endpoints:endpoints"] = {NAME: endpoint}
    project.write_stack(config)


def test_a_vllm_endpoint_from_preview_to_destroy(project, emulator):
    only(project, vllm_endpoint(tensor_parallel_size=4))
    emulator.clear_calls()
    preview = project.preview()
    assert (f"hf-endpoints: endpoints.{NAME}: nvidia-l4/x4 holds 3 concurrent sequence(s) of 131072 tokens in its "
            "KV cache (vLLM, $1.267/h per sequence)") in preview.output
    assert writes(emulator) == [] and not [c for c in emulator.calls() if c["path"].startswith("/v2/")]

    up = project.up()
    assert f"hf-endpoints: local/{NAME}: ready (health 200 and smoke test matched)" in up.output
    (live,) = emulator.endpoints(NS)
    assert live["model"]["image"] == {"vLLM": {"url": "vllm/vllm-openai:v0.23.0", "port": 8000,
                                               "healthRoute": "/health", "tensorParallelSize": 4}}
    assert any(c["method"] == "POST" and c["path"] == f"/e/{NS}/{NAME}/v1/chat/completions"
               for c in emulator.calls())  # the smoke test spoke OpenAI chat
    unchanged = project.preview("--expect-no-changes")
    assert "concurrent sequence" not in unchanged.output  # said when the spec is new or changed, not every preview

    only(project, vllm_endpoint(tensor_parallel_size=4, max_num_seqs=32))
    assert project.preview_steps() == [("update", NAME), ("update", "endpoints-ready")]
    emulator.clear_calls()
    project.up()
    assert writes(emulator) == [("PUT", f"/v2/endpoint/{NS}/{NAME}")]
    (live,) = emulator.endpoints(NS)
    assert live["model"]["image"]["vLLM"] == {"url": "vllm/vllm-openai:v0.23.0", "port": 8000,
                                              "healthRoute": "/health", "tensorParallelSize": 4, "maxNumSeqs": 32}

    tgi = {**vllm_endpoint(), "engine": {"tgi": {}}}
    only(project, tgi)
    assert project.preview_steps() == [("replace", NAME), ("update", "endpoints-ready")]
    emulator.clear_calls()
    project.up()
    assert writes(emulator) == [("DELETE", f"/v2/endpoint/{NS}/{NAME}"), ("POST", f"/v2/endpoint/{NS}")]
    (live,) = emulator.endpoints(NS)
    assert live["model"]["image"] == {"tgi": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.7",
                                              "port": 80, "healthRoute": "/health"}}

    project.destroy()
    assert emulator.endpoints(NS) == []


@pytest.mark.parametrize(("endpoint", "message"), [
    (vllm_endpoint(),
     f"endpoints.{NAME}.engine.vllm.tensor_parallel_size: missing is required on nvidia-l4/x4 (4 GPUs): vLLM uses "
     "one GPU unless told, and the API refuses it; set tensor_parallel_size: 4 (or data_parallel_size: 4, one "
     "model copy per GPU)"),
    ({**vllm_endpoint(), "repository": "meta-llama/Llama-3.1-70B-Instruct", "instance_type": "nvidia-a10g",
      "instance_size": "x1"},
     f'endpoints.{NAME}.instance_type: "nvidia-a10g/x1" has 24 GB of GPU memory, of which vLLM uses 92% (22.1 GB) '
     "but meta-llama/Llama-3.1-70B-Instruct needs about 185.2 GB (weights 141.1 GB + KV cache 42.9 GB for 131072 "
     "tokens + CUDA context and activations 1.2 GB); no context length fits (the weights and activations alone take "
     "more than it may use); use nvidia-a100/x4 (4 x 80 GB, $10.00/h), the cheapest in aws/us-east-1 that fits"),
], ids=["four-gpus-without-tensor-parallel-size", "70b-on-one-a10g"])
def test_previews_that_refuse_before_anything_is_created(project, emulator, endpoint, message):
    only(project, endpoint)
    emulator.clear_calls()
    refused = project.preview(check=False)
    assert refused.code != 0
    assert message in refused.output
    assert [c for c in emulator.calls() if c["path"].startswith("/v2/")] == []


def test_a_stack_deployed_before_engines_previews_with_no_change(project, emulator):
    """`pulumi up` with the program, providers and project file of the last commit before engines, then the current
    ones: the tutorial's custom TGI image is the same endpoint, so `preview --expect-no-changes` passes and `up`
    writes nothing."""
    archive = subprocess.run(["git", "archive", BEFORE_ENGINES, "providers", "__main__.py", "Pulumi.yaml"],
                             cwd=REPO, capture_output=True, check=True).stdout
    current = {path: path.read_bytes() for path in [project.root / "__main__.py", project.root / "Pulumi.yaml",
                                                     *(project.root / "providers").rglob("*.py")]}
    for path in (project.root / "providers").rglob("*.py"):
        path.unlink()
    with tarfile.open(fileobj=io.BytesIO(archive)) as old:
        old.extractall(project.root, filter="data")
    project.up()
    for path in (project.root / "providers").rglob("*.py"):
        path.unlink()
    for path, content in current.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    emulator.clear_calls()
    project.preview("--expect-no-changes")
    assert "3 unchanged" in project.up().output
    assert writes(emulator) == []
