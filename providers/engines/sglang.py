"""SGLang: its one typed field, the multi-GPU and tensor-parallel rules it shares with vLLM, its GPU memory model and
its OpenAI protocols.

**Fields** (`engine: {sglang: ...}`, sent in `model.image.sGLang`): `tensor_parallel_size` (`tensorParallelSize`:
huggingface_hub 2.4.0 `_inference_endpoints.py`, whose `_TENSOR_PARALLEL_IMAGE_KEYS` include `sGLang` and whose
`_DATA_PARALLEL_IMAGE_KEYS` do not). Other server flags go in the endpoint's `args` (`--mem-fraction-static`,
`--context-length`, ...); the memory model reads those two from there.

**Rules**: as vLLM's (`providers.engines.vllm`): on several GPUs, `tensor_parallel_size` must equal their number,
and it must divide the model's attention heads.

**GPU memory, per GPU**: SGLang reserves `mem_fraction_static` of each GPU for "(model weights + KV cache pool) /
GPU memory capacity" (its docstring); what the weights leave of that share is the KV pool
(`mem_cache/kv_cache_configurator.py`), the rest is for activations and CUDA graphs. When the pool cannot hold a
token it stops with "Not enough memory. Please try to increase --mem-fraction-static." So:

    needed = weights / tp + CUDA context + KV cache of one context_length sequence / tp
    fits when needed <= GPU memory x mem_fraction_static

with the weights and the KV cache per token as for vLLM. Unset, `mem_fraction_static` is sized from the GPU's
memory (sglang 0.5.23 `arg_groups/memory_hook.py` `handle_gpu_memory_settings`): reserved MiB = 512 +
1.5 x max(chunked_prefill_size, 2048) + tp / 8 x 1024 + 2 x the decode CUDA-graph batch, at least 10 GiB on GPUs
of more than 60 GiB, and the fraction is (GPU - reserved) / GPU; `chunked_prefill_size` and the graph batch come
from its table by GPU memory (2048 and 8 under 20 GiB, 4096 and 48 (160 at tp >= 4) under 35 GiB, 4096 and 32 (160)
under 60 GiB, 8192 and 256 (512) under 160 GiB, 16384 and 512 above): one L4 (24 GB, 22.35 GiB) gets 0.70, one
A100 80GB 0.82, one H200 0.90. `--mem-fraction-static` and `--context-length` in the endpoint's
`args` are read; `context_length` is otherwise the model's.
"""

from __future__ import annotations

import math
import re

from providers.engines.base import CHAT, COMPLETIONS, EngineField, ServingSpec, SmokeLimits
from providers.engines.vllm import TensorParallelEngine, context_from_args, parallel_sizes
from providers.fit import (
    CUDA_CONTEXT_BYTES,
    Estimate,
    ModelFacts,
    architecture,
    per_gpu_gb,
    weight_bits,
)

MIB = 1 << 20
# GPU memory under (GiB) -> (chunked_prefill_size, decode CUDA-graph batch at tp < 4, at tp >= 4).
BY_GPU_MEMORY = ((20, 2048, 8, 8), (35, 4096, 48, 160), (60, 4096, 32, 160), (90, 8192, 256, 512),
                 (160, 8192, 256, 512), (float("inf"), 16384, 512, 512))


def mem_fraction_static(spec: ServingSpec, tp: int, gpu_gb: float) -> float:
    """`--mem-fraction-static` from args, else SGLang's own sizing for a GPU of `gpu_gb` GB."""
    given = spec.fraction_arg("--mem-fraction-static")
    if given is not None:
        return given
    gpu_mib = gpu_gb * 1e9 / MIB
    _, chunked, graph_small, graph_large = next(row for row in BY_GPU_MEMORY if gpu_mib / 1024 < row[0])
    reserved = 512 + 1.5 * max(chunked, 2048) + tp / 8 * 1024 + 2 * (graph_large if tp >= 4 else graph_small)
    if gpu_mib / 1024 > 60:
        reserved = max(reserved, 10 * 1024)
    return round((gpu_mib - reserved) / gpu_mib, 3)


class Sglang(TensorParallelEngine):
    name = "sglang"
    data_parallel = False  # huggingface_hub sends dataParallelSize for vLLM only
    variant = "sGLang"
    title = "SGLang"
    default_image = "lmsysorg/sglang:v0.5.23"  # the release whose memory sizing is modelled here
    default_port = 30000
    protocols = (CHAT, COMPLETIONS)
    image_pattern = re.compile(r"(^|/)sglang([:/@-]|$)")
    tight_advice = "Lower --context-length (args)"
    fields = (
        EngineField("tensor_parallel_size", "tensorParallelSize", "count",
                    "huggingface_hub 2.4.0 _inference_endpoints.py _TENSOR_PARALLEL_IMAGE_KEYS",
                    fix="e.g. 4, the instance's GPUs"),
    )

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        if num_gpus < 1:
            return None
        parameters = facts.parameter_counts()
        arch = architecture(facts.config)
        tp = min(parallel_sizes(spec)[0], num_gpus)
        length = self.context_length(spec, facts) or arch.max_positions or 4096
        kv_per_token = arch.kv_bytes_per_token(16, tp)
        fraction = mem_fraction_static(spec, tp, per_gpu_gb(spec.compute) if spec.compute else 24.0)
        return Estimate(
            engine=self.title, num_gpus=num_gpus, weights=math.ceil(weight_bits(parameters) / 8 / tp),
            kv_cache=kv_per_token * length, cuda_context=CUDA_CONTEXT_BYTES, activations=0, kv_tokens=length,
            kv_per_token=kv_per_token, usable_fraction=fraction, sequence_tokens=length,
            activation_label="activations", reports_max_length=True,
            summary=f"context_length {length}, mem_fraction_static from the GPU's memory")

    @staticmethod
    def context_length(spec: ServingSpec, facts: ModelFacts | None) -> int | None:
        """`--context-length` from args, else the model's context length."""
        return context_from_args(spec, facts, "--context-length")

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        length = self.context_length(spec, facts)
        if length is None:
            return None
        return SmokeLimits(length - 1, length, "context_length (--context-length, else the model's)")


ENGINE = Sglang()
