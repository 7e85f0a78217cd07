"""SGLang: its one typed field, the multi-GPU and tensor-parallel rules it shares with vLLM, its GPU memory model and
its OpenAI protocols.

**Fields** (`engine: {sglang: ...}`, sent in `model.image.sGLang`): `tensor_parallel_size` (`tensorParallelSize`:
huggingface_hub 2.4.0 `_inference_endpoints.py`, whose `_TENSOR_PARALLEL_IMAGE_KEYS` include `sGLang` and whose
`_DATA_PARALLEL_IMAGE_KEYS` do not). Other server flags go in the endpoint's `args` (`--mem-fraction-static`,
`--context-length`, ...); the memory model reads those two from there.

**Rules**: as vLLM's (`providers.engines.vllm`): on several GPUs, `tensor_parallel_size` must equal their number,
and it must divide the model's attention heads.

**GPU memory, per GPU**: SGLang reserves `mem_fraction_static` of each GPU for the weights and the KV cache pool
(what the weights leave of that share becomes `max_total_num_tokens`, `model_runner.py` `profile_max_num_token`);
the rest is for activations and CUDA graphs. When the pool cannot hold one request it stops with "Not enough memory.
Please try to increase --mem-fraction-static." So:

    needed = weights / tp + CUDA context + KV cache of one context_length sequence / tp
    fits when needed <= GPU memory x mem_fraction_static

with the weights and the KV cache per token as for vLLM. `mem_fraction_static` defaults by tensor-parallel size:
0.88 at tp 1, 0.87 at 2, 0.85 at 4, 0.81 at 8 (`python/sglang/srt/server_args.py`, the table of the releases
before the memory-based sizing; newer releases reserve by GPU memory, to similar shares). `context_length` is
`--context-length` from args, else the model's.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from providers.engines.base import CHAT, COMPLETIONS, Engine, EngineField, Problem, ServingSpec, SmokeLimits
from providers.engines.vllm import heads_problems, multi_gpu_problems, parallel_sizes
from providers.fit import CUDA_CONTEXT_BYTES, Estimate, FactsMissing, ModelFacts, architecture, context_length, \
    weight_bits

MEM_FRACTION_BY_TP = ((8, 0.81), (4, 0.85), (2, 0.87), (1, 0.88))


def mem_fraction_static(spec: ServingSpec, tp: int) -> float:
    given = spec.arg("--mem-fraction-static")
    try:
        value = float(given) if given else 0.0
    except ValueError:
        value = 0.0
    if 0 < value <= 1:
        return value
    return next(fraction for size, fraction in MEM_FRACTION_BY_TP if tp >= size)


class Sglang(Engine):
    name = "sglang"
    variant = "sGLang"
    title = "SGLang"
    default_image = "lmsysorg/sglang:v0.5.5"
    default_port = 30000
    protocols = (CHAT, COMPLETIONS)
    image_pattern = re.compile(r"(^|/)sglang([:/@-]|$)")
    tight_advice = "Lower --context-length (args)"
    fields = (
        EngineField("tensor_parallel_size", "tensorParallelSize", "count",
                    "huggingface_hub 2.4.0 _inference_endpoints.py _TENSOR_PARALLEL_IMAGE_KEYS",
                    fix="e.g. 4, the instance's GPUs"),
    )

    def check(self, spec: ServingSpec) -> list[Problem]:
        return multi_gpu_problems(self, spec, data_parallel=False)

    def check_facts(self, spec: ServingSpec, facts: ModelFacts) -> list[Problem]:
        return heads_problems(self, spec, facts)

    def on(self, spec: ServingSpec, compute: Any) -> ServingSpec:
        if spec.compute == compute:
            return spec
        return replace(spec, compute=compute,
                       settings={**spec.settings, "tensor_parallel_size": compute.num_accelerators})

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        if num_gpus < 1:
            return None
        if not facts.parameters:
            raise FactsMissing("the repository has no safetensors metadata (parameter counts)")
        arch = architecture(facts.config)
        tp = min(parallel_sizes(spec)[0], num_gpus)
        length = self.context_length(spec, facts) or arch.max_positions or 4096
        kv_per_token = arch.kv_bytes_per_token(16, tp)
        fraction = mem_fraction_static(spec, tp)
        return Estimate(
            engine=self.title, num_gpus=num_gpus, weights=math.ceil(weight_bits(facts.parameters) / 8 / tp),
            kv_cache=kv_per_token * length, cuda_context=CUDA_CONTEXT_BYTES, activations=0, kv_tokens=length,
            kv_per_token=kv_per_token, usable_fraction=fraction, sequence_tokens=length,
            activation_label="activations", reports_max_length=True,
            summary=f"tensor_parallel_size {tp}, context_length {length}, mem_fraction_static {fraction:g}")

    @staticmethod
    def context_length(spec: ServingSpec, facts: ModelFacts | None) -> int | None:
        given = spec.arg("--context-length")
        if given and given.isdigit() and int(given) > 0:
            return int(given)
        return context_length(facts.config) if facts is not None else None

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        length = self.context_length(spec, facts)
        if length is None:
            return None
        return SmokeLimits(length - 1, length, "context_length (--context-length, else the model's)")


ENGINE = Sglang()
