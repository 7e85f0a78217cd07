"""Will it fit? The GPU memory a TGI endpoint needs per GPU, against the catalog. Pure: no I/O.

`check` uses it at preview with facts that `providers.model_facts` read from the Hub (and cached), and
`python -m providers.fit REPO ...` (`providers/fit/__main__.py`, the only part that does I/O) ranks the whole
catalog with it.

The estimate, per GPU of an instance with N GPUs (`x1`, `x2`, `x4`, `x8`; GB = 10^9 bytes):

    needed = weights / N + KV cache / N + CUDA context + prefill activations

* **weights** = Σ over the safetensors dtypes of (parameter count * bits per parameter / 8), with the
  parameter counts per dtype of the Hub's safetensors metadata (`model_info(...).safetensors.parameters`).
  Floating-point weights are loaded at 16 bits (TGI serves in float16/bfloat16 and casts F32 down:
  `--dtype` takes only those two), at 8 bits with `QUANTIZE=bitsandbytes`, `eetq` or `fp8`, and at 4 bits
  with `bitsandbytes-nf4`/`bitsandbytes-fp4`. Integer dtypes (the packed I32 of GPTQ/AWQ/Marlin/EXL2
  repositories) and F8 count as stored: `gptq`, `awq` and the other pre-quantized formats take the
  repository as it is. Not counted: the ~3% of block statistics bitsandbytes' 4-bit formats keep, and the
  embeddings TGI leaves unquantized; the 10% warning margin covers both.
* **KV cache** = tokens * 2 (K and V) * layers * KV heads * head size * KV bytes, exactly TGI's block
  arithmetic (`server/text_generation_server/models/flash_causal_lm.py`, `warmup`:
  `cache_block_size = BLOCK_SIZE * num_kv_heads * head_size`,
  `total_cache_size = num_layers * cache_block_size * 2 * dtype_size`). KV bytes are 2 (the serving
  dtype, whatever QUANTIZE does to the weights), 1 with `KV_CACHE_DTYPE=fp8*`. Tokens are
  `MAX_BATCH_TOTAL_TOKENS` when set, else one request of `MAX_TOTAL_TOKENS` (TGI refuses to start without
  room for one). Layers, heads and sizes come from `config.json` under any of its usual names
  (`num_hidden_layers`/`n_layer`, `num_key_value_heads`/`n_head_kv`/`num_attention_heads`/`n_head`,
  `hidden_size`/`n_embd`, `head_dim` when present, else hidden size / heads; `multi_query` means one KV
  head). TGI shards the KV heads over the GPUs (at least one whole head per GPU).
* **CUDA context**: a flat 0.5 GB per GPU (the CUDA context, cuBLAS and NCCL workspaces; 0.3-0.6 GB is
  what `nvidia-smi` shows for an idle PyTorch process).
* **prefill activations** = `MAX_BATCH_PREFILL_TOKENS` * (2 bytes * (6 * hidden + 3 * intermediate) +
  4 bytes * vocabulary): a layer's live hidden-sized tensors (residual, norm, Q/K/V, attention output) and
  MLP tensors at 16 bits, plus the logits and their log-softmax over the whole prompt, which TGI's warmup
  asks for (`prefill_logprobs: true` in the router's warmup batch). Not divided by N: TGI gathers the
  logits on every shard. Unset token limits take the TGI launcher's defaults
  (`launcher/src/main.rs`): `MAX_TOTAL_TOKENS` = min(`max_position_embeddings`, 4096),
  `MAX_INPUT_TOKENS` = that - 1, `MAX_BATCH_PREFILL_TOKENS` = input + 50.

**Compared with what TGI reports** (TGI fills the GPU with KV blocks at warmup and logs the token budget it
chose, "Setting max batch total tokens to N"; the estimate at that N should land just under the GPU):
* Llama-7B (6.74B parameters, fp16) on one A10 (24 GB; 24.15 GB physical), TGI 0.9.1 with
  `--max-batch-total-tokens 17664 --max-batch-prefill-tokens 2048` (TGI's maintainer, vllm-project/vllm#381):
  13.48 GB weights + 9.26 GB KV + 0.5 + 0.50 GB = 23.74 GB. Fits, inside the 10% margin: right.
* Llama-2-7b on one A10G, no quantization, prefill 4096: TGI chose 16224 tokens "and takes up all of the
  22Gb" (huggingface/text-generation-inference#653): 13.48 + 8.51 + 0.5 + 1.00 = 23.48 GB. Same verdict.
* Llama-2-70b on 4 x A100 80GB: TGI chose 406560 tokens (huggingface/text-generation-inference#832): per
  GPU 34.49 + 33.31 + 0.5 + 1.63 = 69.93 GB of 80. Fits with 10 GB to spare, which TGI 1.0 left unused.
* Llama-3.1-70B on 2 x A100 80GB: TGI chose 30816 tokens with 10049 prefill tokens
  (huggingface/text-generation-inference#2744): per GPU 70.55 + 5.05 + 0.5 + 7.87 = 83.97 GB, over the
  catalog's 80 GB (85.9 GB physical). The estimate calls it too big; the issue reports CUDA out-of-memory
  under load with exactly that budget.
So the estimate agrees with TGI within about a gigabyte on a full single GPU, and errs on the safe side
(never calls fitting what TGI could not start).

**`gpuMemoryGb` is the instance's TOTAL** (contract Q9, settled by the snapshot): every multi-GPU entry is
the per-GPU memory times `numAccelerators` (nvidia-a10g x1 24 / x4 96, nvidia-a100 x1 80 / x2 160 / x8 640,
nvidia-h200 x1 141 / x8 1128), as huggingface_hub's docstring says. Per GPU = gpuMemoryGb / numAccelerators.
Read as 10^9 bytes it is never more than the physical memory (A10G 24.15 GB, A100 80GB 85.9 GB).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from providers.catalog import UNUSABLE_STATUSES, Compute
from providers.values import show

GB = 1_000_000_000
CUDA_CONTEXT_BYTES = GB // 2
TIGHT_FRACTION = 0.9  # above this share of a GPU's memory, warn
TGI_MAX_DEFAULT = 4096  # launcher/src/main.rs `max_default`
TGI_IMAGE = re.compile(r"text-generation-inference|(^|/)tgi([:/@-]|$)")

# Bits per stored element of each safetensors dtype.
DTYPE_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "I64": 64, "I32": 32,
              "I16": 16, "I8": 8, "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
# QUANTIZE -> bits per floating-point weight once TGI loaded it; absent: as stored (pre-quantized formats).
QUANTIZE_BITS = {"bitsandbytes": 8, "eetq": 8, "fp8": 8, "bitsandbytes-nf4": 4, "bitsandbytes-fp4": 4}
# What to suggest on an instance that is too small, widest first (both run on every NVIDIA GPU).
QUANTIZE_SUGGESTIONS = (("bitsandbytes", 8), ("bitsandbytes-nf4", 4))

# config.json names, first found wins.
LAYERS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
HEADS = ("num_attention_heads", "n_head", "num_heads")
KV_HEADS = ("num_key_value_heads", "n_head_kv", "num_kv_heads", "multi_query_group_num")
HIDDEN = ("hidden_size", "n_embd", "d_model")
INTERMEDIATE = ("intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim")
VOCAB = ("vocab_size", "padded_vocab_size")


@dataclass(frozen=True)
class ModelFacts:
    """What the Hub says about one commit of a repository (cached on disk by `providers.model_facts`)."""

    repository: str
    sha: str
    parameters: Mapping[str, int] | None  # safetensors parameter count per dtype; None: no safetensors
    config: Mapping[str, Any] | None  # config.json; None: the repository has none

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.repository, "sha": self.sha, "parameters": self.parameters,
                "config": self.config}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelFacts:
        return cls(repository=data["repository"], sha=data["sha"], parameters=data.get("parameters"),
                   config=data.get("config"))


@dataclass(frozen=True)
class Architecture:
    """The shapes the estimate needs, from config.json."""

    layers: int
    kv_heads: int
    head_size: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    max_positions: int | None


@dataclass(frozen=True)
class Serving:
    """How TGI will run it, from the endpoint's env (defaults as the TGI launcher's)."""

    quantize: str | None
    kv_tokens: int
    prefill_tokens: int
    kv_bits: int = 16


@dataclass(frozen=True)
class Estimate:
    """Bytes needed on each GPU of an instance with `num_gpus` GPUs."""

    num_gpus: int
    weights: int
    kv_cache: int
    cuda_context: int
    activations: int
    serving: Serving

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.cuda_context + self.activations

    @property
    def needed_gb(self) -> float:
        return self.total / GB

    def breakdown(self) -> str:
        """`weights 138.0 GB + KV cache 1.3 GB for 4096 tokens + CUDA context and prefill 2.2 GB`."""
        return (f"weights {gb(self.weights)} + KV cache {gb(self.kv_cache)} for {self.serving.kv_tokens} tokens + "
                f"CUDA context and prefill {gb(self.cuda_context + self.activations)}")


@dataclass(frozen=True)
class Row:
    """One instance of the catalog for one model: what `python -m providers.fit` prints."""

    compute: Compute
    estimate: Estimate

    @property
    def gpu_memory_gb(self) -> float:
        return per_gpu_gb(self.compute)

    @property
    def fits(self) -> bool:
        return self.estimate.needed_gb <= self.gpu_memory_gb

    def to_json(self) -> dict[str, Any]:
        return {"instance_type": self.compute.instance_type, "instance_size": self.compute.instance_size,
                "vendor": self.compute.vendor, "region": self.compute.region,
                "gpu_memory_gb": self.gpu_memory_gb, "needed_gb": round(self.estimate.needed_gb, 2),
                "fits": self.fits, "price_per_hour": self.compute.price_per_hour}


class FactsMissing(ValueError):
    """The facts cannot give an estimate (no safetensors metadata, no usable config.json)."""


def gb(size: float) -> str:
    return f"{size / GB:.1f} GB"


def _number(config: Mapping[str, Any], names: Iterable[str]) -> int | None:
    for name in names:
        value = config.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


def architecture(config: Mapping[str, Any] | None) -> Architecture:
    """The shapes from config.json, under whichever names it uses (a nested `text_config` counts too)."""
    if not config:
        raise FactsMissing("the repository has no config.json")
    text = config.get("text_config")
    if isinstance(text, Mapping) and _number(config, LAYERS) is None:
        config = {**config, **text}
    layers, heads, hidden = _number(config, LAYERS), _number(config, HEADS), _number(config, HIDDEN)
    missing = [names[0] for names, value in ((LAYERS, layers), (HEADS, heads), (HIDDEN, hidden)) if value is None]
    if missing or layers is None or heads is None or hidden is None:
        raise FactsMissing(f"config.json has no {' nor '.join(missing)} (nor their other names)")
    kv_heads = _number(config, KV_HEADS) or (1 if config.get("multi_query") else heads)
    return Architecture(
        layers=layers, kv_heads=kv_heads, head_size=_number(config, ("head_dim",)) or hidden // heads,
        hidden_size=hidden, intermediate_size=_number(config, INTERMEDIATE) or 4 * hidden,
        vocab_size=_number(config, VOCAB) or 0, max_positions=_number(config, ("max_position_embeddings",)))


def _env_int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name)
        if value is not None and str(value).isdigit() and int(value) > 0:
            return int(value)
    return None


def serving(env: Mapping[str, str], arch: Architecture) -> Serving:
    """The token budget and quantization TGI will use, with the launcher's defaults for unset limits."""
    positions = arch.max_positions if arch.max_positions and arch.max_positions <= TGI_MAX_DEFAULT \
        else TGI_MAX_DEFAULT
    max_total = _env_int(env, "MAX_TOTAL_TOKENS") or positions
    max_input = _env_int(env, "MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH") or positions - 1
    prefill = _env_int(env, "MAX_BATCH_PREFILL_TOKENS") or max_input + 50
    kv_bits = 8 if str(env.get("KV_CACHE_DTYPE", "")).startswith("fp8") else 16
    kv_tokens = _env_int(env, "MAX_BATCH_TOTAL_TOKENS") or max_total
    return Serving(quantize=env.get("QUANTIZE") or None, kv_tokens=kv_tokens, prefill_tokens=prefill,
                   kv_bits=kv_bits)


def weight_bits(dtype: str, quantize: str | None) -> int:
    """Bits per parameter once loaded: floats at 16 bits or QUANTIZE's width, the rest as stored."""
    stored = DTYPE_BITS.get(dtype.upper(), 16)
    if dtype.upper() not in FLOAT_DTYPES:
        return stored
    return min(QUANTIZE_BITS.get(quantize or "", 16), 16)


def estimate(facts: ModelFacts, env: Mapping[str, str], num_gpus: int, quantize: str | None = None) -> Estimate:
    """Bytes per GPU for `facts` served by TGI with `env` on `num_gpus` GPUs (`quantize` overrides QUANTIZE)."""
    if not facts.parameters:
        raise FactsMissing("the repository has no safetensors metadata (parameter counts)")
    arch = architecture(facts.config)
    plan = serving(env, arch)
    if quantize is not None:
        plan = Serving(quantize, plan.kv_tokens, plan.prefill_tokens, plan.kv_bits)
    weight_bits_total = sum(count * weight_bits(dtype, plan.quantize) for dtype, count in facts.parameters.items())
    kv_heads_per_gpu_x_gpus = max(arch.kv_heads, num_gpus)  # at least one whole head on every GPU
    kv_total = plan.kv_tokens * 2 * arch.layers * kv_heads_per_gpu_x_gpus * arch.head_size * plan.kv_bits // 8
    per_token = 2 * (6 * arch.hidden_size + 3 * arch.intermediate_size) + 4 * arch.vocab_size
    return Estimate(num_gpus=num_gpus, weights=math.ceil(weight_bits_total / 8 / num_gpus),
                    kv_cache=math.ceil(kv_total / num_gpus), cuda_context=CUDA_CONTEXT_BYTES,
                    activations=plan.prefill_tokens * per_token, serving=plan)


def per_gpu_gb(compute: Compute) -> float:
    """The catalog's gpuMemoryGb is the instance's total: split it over its GPUs."""
    return float(compute.gpu_memory_gb or 0) / max(compute.num_accelerators, 1)


def gpu_computes(computes: Iterable[Compute], vendor: str | None = None, region: str | None = None) -> list[Compute]:
    """Deployable GPU instances (not deprecated, not unavailable) that state their GPU memory."""
    return [c for c in computes if c.accelerator == "gpu" and c.gpu_memory_gb and c.status not in UNUSABLE_STATUSES
            and vendor in (None, c.vendor) and region in (None, c.region)]


def rank(facts: ModelFacts, env: Mapping[str, str], computes: Iterable[Compute]) -> list[Row]:
    """Every instance with its estimate: those that fit first, cheapest first, then the rest by price."""
    rows = [Row(c, estimate(facts, env, c.num_accelerators)) for c in computes]
    return sorted(rows, key=lambda r: (not r.fits, r.compute.price_per_hour, r.compute.vendor, r.compute.region,
                                       r.compute.instance_type, r.compute.num_accelerators))


def serves_with_tgi(inputs: Mapping[str, Any]) -> bool:
    """A GPU endpoint running TGI: a TGI custom image, or the default image for text-generation."""
    if inputs.get("accelerator") != "gpu":
        return False
    image = inputs.get("custom_image")
    if isinstance(image, Mapping):
        return bool(TGI_IMAGE.search(str(image.get("url", ""))))
    return inputs.get("task") == "text-generation"


def describe(compute: Compute) -> str:
    return f"{compute.instance_type}/{compute.instance_size}"


def _price(compute: Compute) -> str:
    return f"${compute.price_per_hour:.2f}/h"


@dataclass(frozen=True)
class Verdict:
    """What check says about one endpoint: a failure (too big) or a warning (tight), or nothing."""

    failure: str | None = None
    warning: str | None = None


def verdict(label: str, facts: ModelFacts, env: Mapping[str, str], chosen: Compute,
            catalog: Iterable[Compute]) -> Verdict:
    """Too big for `chosen`: a failure naming the cheapest instance of its vendor/region that fits, and the
    QUANTIZE that would fit on it; within 10% of its memory: a warning. `label` is `endpoints.<name>`."""
    mine = estimate(facts, env, chosen.num_accelerators)
    available = per_gpu_gb(chosen)
    per_gpu = f" per GPU ({chosen.num_accelerators} GPUs)" if chosen.num_accelerators > 1 else ""
    key = f"{label}.instance_type: {show(describe(chosen))}"
    if mine.needed_gb <= available * TIGHT_FRACTION:
        return Verdict()
    if mine.needed_gb <= available:
        of_what = (f"the {available:g} GB of each of its {chosen.num_accelerators} GPUs"
                   if chosen.num_accelerators > 1 else f"its {available:g} GB")
        return Verdict(warning=(
            f"{key} is tight: {facts.repository} needs about {mine.needed_gb:.1f} GB of {of_what} "
            f"({mine.needed_gb / available:.0%}; {mine.breakdown()}); TGI may run out of memory under load. Lower "
            "MAX_BATCH_TOTAL_TOKENS/MAX_TOTAL_TOKENS, or pick an instance with more GPU memory"))
    fixes = []
    fitting = [row for row in rank(facts, env, gpu_computes(catalog, chosen.vendor, chosen.region)) if row.fits]
    if fitting:
        best = fitting[0].compute
        fixes.append(f"use {describe(best)} ({best.num_accelerators} x {per_gpu_gb(best):g} GB, {_price(best)}), "
                     f"the cheapest in {chosen.vendor}/{chosen.region} that fits")
    else:
        fixes.append(f"no instance in {chosen.vendor}/{chosen.region} fits it as configured")
    fixes.append(quantize_hint(facts, env, chosen))
    return Verdict(failure=(
        f"{key} has {available:g} GB of GPU memory{per_gpu} but {facts.repository} needs about "
        f"{mine.needed_gb:.1f} GB{' per GPU' if per_gpu else ''} ({mine.breakdown()}); "
        f"{'; '.join(fix for fix in fixes if fix)}"))


def quantize_hint(facts: ModelFacts, env: Mapping[str, str], chosen: Compute) -> str | None:
    """The widest QUANTIZE narrower than the current one that fits on `chosen`, as a fix to suggest; or
    why none does."""
    if env.get("QUANTIZE") and env["QUANTIZE"] not in QUANTIZE_BITS:
        return None  # pre-quantized (gptq, awq, ...): served as stored
    current = QUANTIZE_BITS.get(env.get("QUANTIZE") or "", 16)
    narrowest = None
    for quantize, bits in QUANTIZE_SUGGESTIONS:
        if bits >= current:
            continue
        needed = estimate(facts, env, chosen.num_accelerators, quantize=quantize).needed_gb
        if needed <= per_gpu_gb(chosen):
            return f"or keep {describe(chosen)} with env QUANTIZE={quantize} (needs about {needed:.1f} GB)"
        narrowest = (quantize, needed)
    if narrowest is None:
        return None
    return f"no QUANTIZE fits it on {describe(chosen)} (even {narrowest[0]} needs about {narrowest[1]:.1f} GB)"
