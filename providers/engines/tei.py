"""TEI (text-embeddings-inference): its typed fields, the image built for each GPU generation, the task rule, its
memory model and its `/embed` smoke protocol.

**Fields** (`engine: {tei: ...}`, sent in `model.image.tei`): `max_batch_tokens`, `max_concurrent_requests`,
`pooling` (`maxBatchTokens`, `maxConcurrentRequests`, `pooling`: contract §3.3 from [GO25] `client/models.go`; the
same three in gorgias-oss/terraform-provider-huggingface's `tei` block). TEI's own defaults: 16384 batch tokens, 512
concurrent requests (`router/src/main.rs`).

**Default image**: TEI ships one image per GPU generation (its README at v1.9.3: `turing-` for T4, `86-` for
A10/A10G, `89-` for L4/L40S, no prefix for A100 (compute capability 8.0), `hopper-` for H100/H200, `cpu-` for CPUs;
`cuda-` picks at start-up); the image built for another generation does not start. With no `url`, the image for
the endpoint's instance is chosen (`GENERATIONS`); a `url` whose prefix names another generation fails the preview.

**Rules**: TEI serves embedding, similarity, reranking and classification models, never a generation task.

**Memory**, per GPU (or of RAM on a CPU instance):

    needed = weights + CUDA context + batch overhead
    batch overhead = max_batch_tokens x 2 bytes x (6 x hidden + 3 x intermediate)

the weights at 16 bits on a GPU (TEI's default dtype there is float16) and 32 bits on a CPU; the batch overhead is
one layer's live activations for a full batch of `max_batch_tokens` tokens (TEI pads nothing and uses flash
attention on GPUs, so there is no quadratic term), the figure stated here as the batch's cost; no KV cache. For
BAAI/bge-base-en-v1.5 (109M parameters, hidden 768, intermediate 3072) at 16384 batch tokens: 0.22 + 0.5 + 0.45 =
1.2 GB, which is why TEI runs such models on the smallest GPU or a few CPUs.

**Smoke test**: `embed` (POST `/embed` with `{"inputs": prompt}`): the reply must be one vector whose length is the
model's dimension (`smoke_test.dimension`, else the hidden size from config.json); `expect` does not apply. No prompt
is too long: TEI truncates inputs by default (`--auto-truncate` is on at v1.9.3).
"""

from __future__ import annotations

import math
import re
from typing import Any

from providers.engines.base import EMBED, Engine, EngineField, Problem, ServingSpec
from providers.fit import (
    CUDA_CONTEXT_BYTES,
    Estimate,
    ModelFacts,
    architecture,
    describe,
    weight_bits,
)

TEI_VERSION = "1.9"  # v1.9.3 (2026-07-24) is the latest release
IMAGE = "ghcr.io/huggingface/text-embeddings-inference"
# instance type -> the tag prefix of the image built for its GPU generation (TEI README "Docker Images").
GENERATIONS = {"nvidia-t4": "turing-", "nvidia-a10g": "86-", "nvidia-l4": "89-", "nvidia-l40s": "89-",
               "nvidia-a100": "", "nvidia-h100": "hopper-", "nvidia-h200": "hopper-"}
GENERATION_NAMES = {"turing-": "Turing (T4)", "86-": "Ampere 8.6 (A10G)", "89-": "Ada (L4, L40S)",
                    "": "Ampere 8.0 (A100)", "hopper-": "Hopper (H100, H200)", "cpu-": "CPUs"}
DEFAULT_BATCH_TOKENS = 16384
GENERATION_TASKS = frozenset({"text-generation", "text2text-generation", "conversational", "summarization",
                              "translation", "image-text-to-text"})
TEI_TASKS = ("feature-extraction", "sentence-similarity", "sentence-embeddings", "text-classification",
             "sentence-ranking")
_GO25 = "contract §3.3 ([GO25] client/models.go; gorgias-oss/terraform-provider-huggingface models.go tei block)"


def build_of(tag: str) -> str | None:
    """The generation prefix a TEI tag names (`89-1.9` -> `89-`, `1.9` -> `` the A100 build), or None when it names
    none this project knows (`cuda-1.9` picks at start-up, Blackwell and ARM builds)."""
    for prefix in sorted((p for p in GENERATION_NAMES if p), key=len, reverse=True):
        if tag.startswith(prefix) and not tag.startswith("cpu-arm64-"):
            return prefix
    return "" if re.match(r"\d+\.\d+", tag) and not re.match(r"\d+-", tag) else None


def image_for(compute: Any, accelerator: str | None) -> str:
    """The TEI image for an instance: the CPU build, the one built for its GPU generation, or, for a GPU not known
    (yet), the `cuda-` build, which picks the binary for the GPU it finds at start-up."""
    if accelerator != "gpu":
        return f"{IMAGE}:cpu-{TEI_VERSION}"
    if compute is None or compute.instance_type not in GENERATIONS:
        return f"{IMAGE}:cuda-{TEI_VERSION}"
    return f"{IMAGE}:{GENERATIONS[compute.instance_type]}{TEI_VERSION}"


class Tei(Engine):
    name = "tei"
    variant = "tei"
    title = "TEI"
    default_image = f"{IMAGE}:{TEI_VERSION}"  # replaced by the build for the endpoint's instance (`default_url`)
    default_port = 80
    protocols = (EMBED,)
    fits_on_cpu = True  # small encoders serve well on CPUs, from RAM
    image_pattern = re.compile(r"text-embeddings-inference|(^|/)tei([:/@-]|$)")
    fields = (
        EngineField("max_batch_tokens", "maxBatchTokens", "count", _GO25, fix="e.g. 16384"),
        EngineField("max_concurrent_requests", "maxConcurrentRequests", "count", _GO25, fix="e.g. 512"),
        # GUESS: the API passes `pooling` to TEI's --pooling, so TEI's own values (`backends/core/src/lib.rs`
        # `enum Pool`); the contract's list (mean|cls|last|rank) is a third-party client's.
        EngineField("pooling", "pooling", "choice", _GO25, choices=("cls", "mean", "splade", "last-token")),
    )

    def default_url(self, compute: Any, accelerator: str | None) -> str:
        return image_for(compute, accelerator)

    def check(self, spec: ServingSpec) -> list[Problem]:
        problems = []
        if spec.task in GENERATION_TASKS:
            problems.append(Problem("task", spec.task, "is a generation task, which TEI does not serve",
                                    f"use vLLM or SGLang for it, or set task to one of {', '.join(TEI_TASKS)}"))
        image = spec.image
        if image is not None and image.tag and spec.compute is not None and "text-embeddings-inference" in image.name:
            built_for = build_of(image.tag)
            wanted = GENERATIONS.get(spec.compute.instance_type, "") if spec.accelerator == "gpu" else "cpu-"
            known = spec.accelerator != "gpu" or spec.compute.instance_type in GENERATIONS
            if built_for is not None and built_for != wanted and known:
                where = describe(spec.compute)
                path = f"{spec.prefix(self.name)}.url" if spec.typed else "custom_image.url"
                suggestion = f"{image.name}:{wanted}{image.tag[len(built_for):]}"
                problems.append(Problem(path, spec.settings.get("url"),
                                        f"is the TEI build for {GENERATION_NAMES[built_for]}, which does not start on "
                                        f"{where}", f"use {suggestion}" + (" (or remove `url` for the right build)"
                                                                           if spec.typed else "")))
        return problems

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        parameters = facts.parameter_counts()
        arch = architecture(facts.config)
        on_gpu = num_gpus >= 1
        batch = spec.settings.get("max_batch_tokens") or DEFAULT_BATCH_TOKENS
        overhead = batch * arch.activation_bytes_per_token
        return Estimate(
            engine=self.title, num_gpus=max(num_gpus, 1),
            weights=math.ceil(weight_bits(parameters, 16 if on_gpu else 32) / 8),
            kv_cache=0, cuda_context=CUDA_CONTEXT_BYTES if on_gpu else 0, activations=overhead, kv_tokens=0,
            kv_per_token=0, activation_label="batch", memory="GPU" if on_gpu else "RAM",
            summary=f"max_batch_tokens {batch}, {'float16' if on_gpu else 'float32'} weights")


ENGINE = Tei()
