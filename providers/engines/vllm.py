"""vLLM: its typed fields, the multi-GPU and tensor-parallel rules, its GPU memory model and its OpenAI protocols.

**Fields** (`engine: {vllm: ...}`, sent in `model.image.vLLM`): `tensor_parallel_size` and `data_parallel_size`
(`tensorParallelSize`, `dataParallelSize`: huggingface_hub 2.4.0 `_inference_endpoints.py`
`_set_parallelism_in_image`, and contract §3.3); `max_num_seqs`, `max_num_batched_tokens`, `kv_cache_dtype`
(`maxNumSeqs`, `maxNumBatchedTokens`, `kvCacheDtype`: gorgias-oss/terraform-provider-huggingface
`internal/provider/models.go`, whose `vllm` block has exactly these; the contract lists vLLM's other "engine
tuning" fields without names). The container's own flags (`--max-model-len`, `--gpu-memory-utilization`, ...) go in
the endpoint's `args`; the memory model reads those two from there.

**Rules.** On an instance with more than one GPU, `tensor_parallel_size` x `data_parallel_size` must cover its
GPUs: the API rejects vLLM on several accelerators without either ("vLLM and SGLang default to one accelerator ...
the API now rejects such a deployment", huggingface_hub guide); more GPUs than the instance has fail ("TP=2, DP=4
on 4 x A10G | Fails since 2 x 4 = 8 GPUs required", the Inference Endpoints vLLM page), fewer only warn ("TP=3,
DP=1 on 4 x A10G | 1 GPU sits completely idle", and billed). `tensor_parallel_size` must divide the model's
attention heads (vLLM: "Total number of attention heads (N) must be divisible by tensor parallel size (M)",
`vllm/config/model.py`).

**GPU memory, per GPU** (GB = 10^9 bytes), with `tp` = `tensor_parallel_size` (each data-parallel rank holds a
whole copy). vLLM v0.23.0 (the default image) preallocates `gpu_memory_utilization` of every GPU (default 0.92,
`vllm/config/cache.py`) and, after one profiling forward pass at `max_num_batched_tokens`, gives what the weights,
the activation peak, non-torch memory and an estimate of CUDA graphs leave of it to the KV cache
(`vllm/v1/worker/gpu_worker.py` `determine_available_memory`). It refuses to start when one sequence of
`max_model_len` tokens does not fit: "To serve at least one request with the model's max seq len (...), (... GiB KV
cache is needed, which is larger than the available KV cache memory (... GiB). Based on the available memory, the
estimated maximum model length is N. Try increasing `gpu_memory_utilization` ... or decreasing `max_model_len` when
initializing the engine." (`vllm/v1/core/kv_cache_utils.py`). So:

    needed = weights / tp + activations + CUDA context + KV cache of one max_model_len sequence / tp
    fits when needed <= GPU memory x gpu_memory_utilization

* **weights**: the safetensors parameters at 16 bits (vLLM's `dtype: auto` serves F32 checkpoints at 16 bits), at 8
  with `--quantization fp8` and 4 with `--quantization bitsandbytes` in `args`; integer and F8 dtypes as stored
  (GPTQ/AWQ/FP8 checkpoints).
* **KV cache per token** = 2 x layers x max(KV heads / tp, 1) x head size x 2 bytes (1 with an fp8
  `kv_cache_dtype`): vLLM splits the KV heads over the tensor-parallel ranks and replicates them when there are
  fewer heads than ranks.
* **activations** = `max_num_batched_tokens` x 2 bytes x (6 x hidden + 3 x intermediate) + 4 bytes x vocabulary x
  `max_num_seqs` (the logits the sampler's profiling run computes for at most `max_num_seqs` sequences).
  `max_num_batched_tokens` defaults to 2048 and `max_num_seqs` to 256 for the OpenAI server (8192 and 1024 on GPUs
  of 70 GiB or more that are not A100s: `vllm/engine/arg_utils.py` `get_batch_defaults`).
* **CUDA context**: 0.5 GB, as for TGI. CUDA graphs are left out (their size depends on the batch sizes captured;
  vLLM subtracts its estimate of them from the cache), so the capacity errs high by their few hundred MB.
* `max_model_len` = `--max-model-len` from `args`, else the model's context length (`max_position_embeddings`).

**Capacity**: the KV cache left after the fixed part, in sequences of `max_model_len` (vLLM logs it as "Maximum
concurrency for N tokens per request: X.XXx").

**Compared with vLLM's own behaviour**: Llama-3.1-8B-Instruct (8.03B BF16, 32 layers, 8 KV heads of 128) on one L4
(24 GB) at 0.92: 16.06 GB of weights and 131,072 bytes of KV cache per token, so one sequence of its 131,072-token
context needs 17.2 GB of cache and does not fit. vLLM refuses to start in that case, naming the largest model
length it could serve and pointing to its "conserving memory" guide (lower `--max-model-len`); the estimate here
names 38,996 tokens and the same fix. No published vLLM start-up log for this pairing was found to compare that
number with, so it is an estimate (CUDA graphs left out, above). With `--max-model-len 8192` it fits, and the rest
of the share holds 4 such sequences. vLLM 0.34 sizes the cache from the memory actually free after CUDA-graph
capture (`gpu_memory_utilization` unset resolves to 1.0): for such images this model is conservative."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, ClassVar

from providers.engines.base import CHAT, COMPLETIONS, Engine, EngineField, Problem, ServingSpec, SmokeLimits
from providers.fit import (
    CUDA_CONTEXT_BYTES,
    Estimate,
    FactsMissing,
    ModelFacts,
    architecture,
    context_length,
    describe,
    per_gpu_gb,
    weight_bits,
)

GPU_MEMORY_UTILIZATION = 0.92  # vllm 0.23.0 vllm/config/cache.py
DEFAULT_BATCHED_TOKENS, DEFAULT_MAX_SEQS = 2048, 256  # the OpenAI server's defaults on most GPUs
LARGE_GPU_BATCHED_TOKENS, LARGE_GPU_MAX_SEQS = 8192, 1024  # GPUs of 70 GiB or more, A100s excepted
LARGE_GPU_GB = 70 * 1.073741824
# `--quantization` (args) -> bits per floating-point weight once loaded: fp8 quantizes them to 8 bits on the fly,
# bitsandbytes to 4 (vLLM's in-flight bitsandbytes is NF4); pre-quantized checkpoints are counted as stored anyway.
QUANTIZATION_BITS = {"fp8": 8, "fbgemm_fp8": 8, "bitsandbytes": 4}
KV_CACHE_DTYPES = ("auto", "fp8", "fp8_e5m2", "fp8_e4m3")  # the Inference Endpoints vLLM page's choices
_HH = "huggingface_hub 2.4.0 _inference_endpoints.py _set_parallelism_in_image"
_TF = "gorgias-oss/terraform-provider-huggingface internal/provider/models.go (vllm block)"


def parallel_sizes(spec: ServingSpec) -> tuple[int, int]:
    """(tensor_parallel_size, data_parallel_size) as the container will use them (1 when unset)."""
    tp, dp = spec.settings.get("tensor_parallel_size"), spec.settings.get("data_parallel_size")
    return (tp if isinstance(tp, int) else 1), (dp if isinstance(dp, int) else 1)


def multi_gpu_problems(engine: Engine, spec: ServingSpec, data_parallel: bool) -> list[Problem]:
    """tensor_parallel_size (x data_parallel_size) must cover the instance's GPUs exactly (vLLM and SGLang)."""
    gpus = spec.gpus
    if not spec.typed or gpus < 1:
        return []
    tp, dp = parallel_sizes(spec)
    prefix = spec.prefix(engine.name)
    sizes = "tensor_parallel_size" + (" x data_parallel_size" if data_parallel else "")
    fix = (f"set tensor_parallel_size: {gpus}" + (f" (or data_parallel_size: {gpus}, one model copy per GPU)"
                                                  if data_parallel else ""))
    settings = spec.settings
    if gpus > 1 and settings.get("tensor_parallel_size") is None and settings.get("data_parallel_size") is None:
        return [Problem(f"{prefix}.tensor_parallel_size", None,
                        f"is required on {describe(spec.compute)} "  # type: ignore[arg-type]
                        f"({gpus} GPUs): {engine.title} uses one GPU unless told, and the API refuses it", fix)]
    if tp * dp != gpus:
        key = "tensor_parallel_size" if settings.get("tensor_parallel_size") is not None else "data_parallel_size"
        value = settings.get(key)
        where = describe(spec.compute)  # type: ignore[arg-type]
        gives = (f"gives {tp * dp} GPU(s) ({sizes} = {tp} x {dp}) but {where} has {gpus}" if data_parallel
                 else f"asks for {tp} GPU(s) but {where} has {gpus}")
        if tp * dp > gpus:  # the Inference Endpoints vLLM page: "TP=2, DP=4 on 4 x A10G | Fails"
            return [Problem(f"{prefix}.{key}", value, gives,
                            f"{fix}; {engine.title} cannot start on more GPUs than the instance has")]
        # "TP=3, DP=1 on 4 x A10G | 1 GPU sits completely idle": it runs, and bills for GPUs it does not use.
        return [Problem(f"{prefix}.{key}", value, f"{gives}: {gpus - tp * dp} GPU(s) would sit idle and still be "
                        "billed", f"{fix}, or pick an instance with {tp * dp} GPU(s)", warning=True)]
    return []


def heads_problems(engine: Engine, spec: ServingSpec, facts: ModelFacts) -> list[Problem]:
    """tensor_parallel_size must divide the model's attention heads (vLLM's and SGLang's own rule)."""
    tp = spec.settings.get("tensor_parallel_size")
    if not spec.typed or not isinstance(tp, int) or tp <= 1:
        return []
    try:
        arch = architecture(facts.config)
    except FactsMissing:
        return []
    if arch.heads and arch.heads % tp:
        divisors = [n for n in range(1, arch.heads + 1) if arch.heads % n == 0 and n <= max(spec.gpus, 1)]
        return [Problem(f"{spec.prefix(engine.name)}.tensor_parallel_size", tp,
                        f"does not divide the {arch.heads} attention heads of {facts.repository}",
                        f"use a divisor of {arch.heads}"
                        + (f" up to the instance's GPUs: {', '.join(map(str, divisors))}" if divisors else "")
                        + (" (with data_parallel_size for the other GPUs)" if engine.name == "vllm" else ""))]
    return []


def context_from_args(spec: ServingSpec, facts: ModelFacts | None, flag: str) -> int | None:
    """The context length `flag` gives in args (vLLM's `--max-model-len`, SGLang's `--context-length`), else the
    model's."""
    given = spec.count_arg(flag)
    if given is not None:
        return given
    return context_length(facts.config) if facts is not None else None


def max_model_len(spec: ServingSpec, facts: ModelFacts | None) -> int | None:
    """`--max-model-len` from args, else the model's context length."""
    return context_from_args(spec, facts, "--max-model-len")


class TensorParallelEngine(Engine):
    """vLLM and SGLang: the GPU-count and heads rules, and the ranking's assumption that a model is split over all
    of an instance's GPUs."""

    data_parallel: ClassVar[bool] = True

    def check(self, spec: ServingSpec) -> list[Problem]:
        return multi_gpu_problems(self, spec, data_parallel=self.data_parallel)

    def check_facts(self, spec: ServingSpec, facts: ModelFacts) -> list[Problem]:
        return heads_problems(self, spec, facts)

    def on(self, spec: ServingSpec, compute: Any) -> ServingSpec:
        if spec.compute == compute:
            return spec
        settings = {**spec.settings, "tensor_parallel_size": compute.num_accelerators}
        if self.data_parallel:
            settings["data_parallel_size"] = None
        return replace(spec, compute=compute, settings=settings)


class Vllm(TensorParallelEngine):
    name = "vllm"
    variant = "vLLM"
    title = "vLLM"
    default_image = "vllm/vllm-openai:v0.23.0"  # huggingface_hub 2.4.0's own example of a vLLM image
    default_port = 8000
    protocols = (CHAT, COMPLETIONS)
    image_pattern = re.compile(r"(^|/)vllm[-/]?[\w-]*(:|@|$)|vllm-openai")
    tight_advice = "Lower --max-model-len (args) or max_num_seqs"
    fields = (
        EngineField("tensor_parallel_size", "tensorParallelSize", "count", _HH, fix="e.g. 4, the instance's GPUs"),
        EngineField("data_parallel_size", "dataParallelSize", "count", _HH, fix="e.g. 2"),
        EngineField("max_num_seqs", "maxNumSeqs", "count", _TF, fix="e.g. 256"),
        EngineField("max_num_batched_tokens", "maxNumBatchedTokens", "count", _TF, fix="e.g. 8192"),
        EngineField("kv_cache_dtype", "kvCacheDtype", "choice", _TF, choices=KV_CACHE_DTYPES),
    )

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        if num_gpus < 1:
            return None
        parameters = facts.parameter_counts()
        arch = architecture(facts.config)
        tp, dp = parallel_sizes(spec)
        tp = min(tp, num_gpus)
        kv_bits = 8 if str(spec.settings.get("kv_cache_dtype") or "").startswith("fp8") else 16
        large = spec.compute is not None and per_gpu_gb(spec.compute) >= LARGE_GPU_GB and \
            "a100" not in spec.compute.instance_type
        batched = spec.settings.get("max_num_batched_tokens") or (
            LARGE_GPU_BATCHED_TOKENS if large else DEFAULT_BATCHED_TOKENS)
        seqs = spec.settings.get("max_num_seqs") or (LARGE_GPU_MAX_SEQS if large else DEFAULT_MAX_SEQS)
        length = max_model_len(spec, facts) or arch.max_positions or 4096
        kv_per_token = arch.kv_bytes_per_token(kv_bits, tp)
        activations = batched * arch.activation_bytes_per_token + 4 * arch.vocab_size * min(seqs, batched)
        float_bits = QUANTIZATION_BITS.get(spec.arg("--quantization") or "", 16)
        return Estimate(
            engine=self.title, num_gpus=num_gpus,
            weights=math.ceil(weight_bits(parameters, float_bits) / 8 / tp),
            kv_cache=kv_per_token * length, cuda_context=CUDA_CONTEXT_BYTES, activations=activations,
            kv_tokens=length, kv_per_token=kv_per_token, usable_fraction=utilization(spec),
            sequence_tokens=length, activation_label="activations", reports_max_length=True,
            copies=max(1, min(dp, num_gpus // tp)),
            summary=(f"max_model_len {length}, "
                     + (f"--quantization {spec.arg('--quantization')}, " if float_bits < 16 else "")
                     + f"KV cache {'fp8' if kv_bits == 8 else '16-bit'}, "
                     f"gpu_memory_utilization {utilization(spec):g}"))

    def hints(self, facts: ModelFacts, spec: ServingSpec, chosen: Any) -> list[str]:
        estimate = self.estimate(facts, spec, chosen.num_accelerators)
        if estimate is None:
            return []
        longest = estimate.max_context_tokens(per_gpu_gb(chosen))
        return [f"or keep {describe(chosen)} with args [--max-model-len, {longest}]"] \
            if longest and longest >= 1024 else []

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        length = max_model_len(spec, facts)
        if length is None:
            return None
        return SmokeLimits(length - 1, length, "max_model_len (--max-model-len, else the model's context length)")


def utilization(spec: ServingSpec) -> float:
    """`--gpu-memory-utilization` from args, else vLLM's default."""
    return spec.fraction_arg("--gpu-memory-utilization") or GPU_MEMORY_UTILIZATION


ENGINE = Vllm()
