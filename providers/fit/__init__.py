"""Will it fit? The memory an endpoint's serving engine needs on each GPU, against the catalog. Pure: no I/O.

Each engine's memory model, its formula and the published figures it was compared with, lives in its module
(`providers/engines/<engine>.py`: `pydoc providers.engines.tgi`, `...vllm`, `...sglang`, `...llamacpp`, `...tei`).
This module holds what they share: the model's facts and shapes (from the Hub's safetensors metadata and
config.json), the `Estimate` every engine returns, and the verdicts built on it: what `check` says about the
chosen instance, and the ranking `python -m providers.fit REPO ...` (`providers/fit/__main__.py`, the only part
that does I/O) prints for the whole catalog.

An estimate is per GPU (GB = 10^9 bytes): the weights, the KV cache for the tokens the engine must at least hold,
the CUDA context and the activations, against the share of the GPU the engine allows itself (TGI all of it, vLLM
`gpu_memory_utilization`, SGLang `mem_fraction_static`). What is left of that share after the fixed part is KV
cache: its **capacity** is how many sequences of full length it holds at once, and the largest context length one
sequence could have (vLLM's "estimated maximum model length" when it does not fit).

**`gpuMemoryGb` is the instance's TOTAL** (contract Q9, settled by the snapshot): every multi-GPU entry is
the per-GPU memory times `numAccelerators` (nvidia-a10g x1 24 / x4 96, nvidia-a100 x1 80 / x2 160 / x8 640,
nvidia-h200 x1 141 / x8 1128), as huggingface_hub's docstring says. Per GPU = gpuMemoryGb / numAccelerators.
Read as 10^9 bytes it is never more than the physical memory (A10G 24.15 GB, A100 80GB 85.9 GB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from providers.catalog import UNUSABLE_STATUSES, Compute
from providers.values import show

GB = 1_000_000_000
CUDA_CONTEXT_BYTES = GB // 2
TIGHT_FRACTION = 0.9  # above this share of what the engine may use, warn

# Bits per stored element of each safetensors dtype.
DTYPE_BITS = {"F64": 64, "F32": 32, "F16": 16, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "I64": 64, "I32": 32,
              "I16": 16, "I8": 8, "U64": 64, "U32": 32, "U16": 16, "U8": 8, "BOOL": 8}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})

# config.json names, first found wins.
LAYERS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
HEADS = ("num_attention_heads", "n_head", "num_heads")
KV_HEADS = ("num_key_value_heads", "n_head_kv", "num_kv_heads", "multi_query_group_num")
HIDDEN = ("hidden_size", "n_embd", "d_model")
INTERMEDIATE = ("intermediate_size", "n_inner", "ffn_hidden_size", "ffn_dim")
VOCAB = ("vocab_size", "padded_vocab_size")
POSITIONS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length")


@dataclass(frozen=True)
class ModelFacts:
    """What the Hub says about one commit of a repository (cached on disk by `providers.model_facts`)."""

    repository: str
    sha: str
    parameters: Mapping[str, int] | None  # safetensors parameter count per dtype; None: no safetensors
    config: Mapping[str, Any] | None  # config.json; None: the repository has none
    files: Mapping[str, int] | None = None  # file name -> size in bytes (GGUF files); None: not asked
    gguf: Mapping[str, Any] | None = None  # the chosen GGUF file's metadata (architecture keys), when read

    def to_json(self) -> dict[str, Any]:
        return {"repository": self.repository, "sha": self.sha, "parameters": self.parameters,
                "config": self.config, "files": self.files, "gguf": self.gguf}

    def parameter_counts(self) -> Mapping[str, int]:
        """The safetensors parameter counts per dtype, which every estimate of the weights starts from."""
        if not self.parameters:
            raise FactsMissing("the repository has no safetensors metadata (parameter counts)")
        return self.parameters

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ModelFacts:
        return cls(repository=data["repository"], sha=data["sha"], parameters=data.get("parameters"),
                   config=data.get("config"), files=data.get("files"), gguf=data.get("gguf"))


@dataclass(frozen=True)
class Architecture:
    """The shapes the estimates need, from config.json (or a GGUF file's metadata)."""

    layers: int
    kv_heads: int
    head_size: int
    hidden_size: int
    intermediate_size: int
    vocab_size: int
    max_positions: int | None
    heads: int = 0

    @property
    def activation_bytes_per_token(self) -> int:
        """A layer's live tensors for one token at 16 bits (attention and MLP inputs and outputs): what a batch of
        prefill tokens needs beyond the weights and the KV cache."""
        return 2 * (6 * self.hidden_size + 3 * self.intermediate_size)

    def kv_bytes_per_token(self, kv_bits: int, num_gpus: int = 1) -> int:
        """K and V of one token over all layers, on each of `num_gpus` GPUs: the KV heads are split over the GPUs
        (at least one whole head on each, so with fewer heads than GPUs each GPU keeps a copy)."""
        heads_per_gpu = max(self.kv_heads // max(num_gpus, 1), 1)
        return 2 * self.layers * heads_per_gpu * self.head_size * kv_bits // 8


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
        vocab_size=_number(config, VOCAB) or 0, max_positions=_number(config, ("max_position_embeddings",)),
        heads=heads)


def context_length(config: Mapping[str, Any] | None) -> int | None:
    """The model's context length from config.json, under any of its usual names (nested text_config too)."""
    if not config:
        return None
    text = config.get("text_config")
    if isinstance(text, Mapping):
        config = {**config, **text}
    return _number(config, POSITIONS)


def weight_bits(parameters: Mapping[str, int], float_bits: int = 16) -> int:
    """Bits of the weights once loaded: floating-point parameters at `float_bits` (the serving or quantized width,
    never wider than stored: 16 casts an F32 checkpoint down, 32 keeps it), integer and F8 ones as stored
    (pre-quantized formats, e.g. the packed I32 of GPTQ/AWQ, are served as they are)."""
    return sum(count * (min(float_bits, DTYPE_BITS[dtype.upper()]) if dtype.upper() in FLOAT_DTYPES
                        else DTYPE_BITS.get(dtype.upper(), 16)) for dtype, count in parameters.items())


@dataclass(frozen=True)
class Estimate:
    """Bytes one engine needs on each GPU (or, on a CPU instance, of RAM), and what the rest holds."""

    engine: str
    num_gpus: int
    weights: int
    kv_cache: int  # for `kv_tokens`
    cuda_context: int
    activations: int
    kv_tokens: int  # tokens the KV cache must hold at least (one full sequence, or the configured budget)
    kv_per_token: int  # bytes per token on each GPU
    usable_fraction: float = 1.0  # the share of the memory the engine allows itself
    sequence_tokens: int | None = None  # one full-length sequence, for capacity; None: no KV cache model
    summary: str = ""  # how it serves, for the ranking's header
    activation_label: str = "prefill"
    memory: str = "GPU"  # "RAM" on a CPU instance
    reports_max_length: bool = False  # a failure names the longest context that would fit (vLLM, SGLang)
    fills_memory: bool = True  # the KV cache takes what is left (vLLM, SGLang, TGI); else it is kv_tokens exactly
    copies: int = 1  # data-parallel copies of the model on the instance, each with its own KV cache

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.cuda_context + self.activations

    @property
    def fixed(self) -> int:
        return self.weights + self.cuda_context + self.activations

    @property
    def needed_gb(self) -> float:
        return self.total / GB

    def breakdown(self) -> str:
        """`weights 138.0 GB + KV cache 1.3 GB for 4096 tokens + CUDA context and prefill 2.2 GB`."""
        kv = f" + KV cache {gb(self.kv_cache)} for {self.kv_tokens} tokens" if self.kv_per_token else ""
        rest = f"CUDA context and {self.activation_label}" if self.cuda_context else self.activation_label
        return f"weights {gb(self.weights)}{kv} + {rest} {gb(self.cuda_context + self.activations)}"

    def budget(self, available_gb: float) -> float:
        """Bytes the engine allows itself out of `available_gb` per GPU."""
        return available_gb * GB * self.usable_fraction

    def max_context_tokens(self, available_gb: float) -> int | None:
        """The longest single sequence the KV cache left after the fixed part can hold (capped at the sequence
        length the engine serves); None without a KV model, 0 when not even the fixed part fits."""
        if not self.kv_per_token or self.sequence_tokens is None:
            return None
        free = self.budget(available_gb) - self.fixed
        return max(0, min(self.sequence_tokens, int(free // self.kv_per_token)))

    def concurrent_sequences(self, available_gb: float) -> int | None:
        """How many sequences of full length the KV cache holds at once; None without a KV model."""
        if not self.kv_per_token or not self.sequence_tokens:
            return None
        if not self.fills_memory:
            return self.kv_tokens // self.sequence_tokens
        free = self.budget(available_gb) - self.fixed
        return max(0, int(free // (self.kv_per_token * self.sequence_tokens))) * self.copies


@dataclass(frozen=True)
class Row:
    """One instance of the catalog for one model: what `python -m providers.fit` prints."""

    compute: Compute
    estimate: Estimate

    @property
    def gpu_memory_gb(self) -> float:
        return memory_gb(self.compute)

    @property
    def fits(self) -> bool:
        return self.estimate.needed_gb <= self.gpu_memory_gb * self.estimate.usable_fraction

    @property
    def max_context_tokens(self) -> int | None:
        return self.estimate.max_context_tokens(self.gpu_memory_gb)

    @property
    def concurrent_sequences(self) -> int | None:
        return self.estimate.concurrent_sequences(self.gpu_memory_gb) if self.fits else 0

    @property
    def price_per_sequence(self) -> float | None:
        """USD per hour per concurrent full-length sequence (with every replica-hour priced once)."""
        seqs = self.concurrent_sequences
        return self.compute.price_per_hour / seqs if seqs else None

    def to_json(self) -> dict[str, Any]:
        return {"instance_type": self.compute.instance_type, "instance_size": self.compute.instance_size,
                "vendor": self.compute.vendor, "region": self.compute.region,
                "gpu_memory_gb": self.gpu_memory_gb, "needed_gb": round(self.estimate.needed_gb, 2),
                "fits": self.fits, "price_per_hour": self.compute.price_per_hour, "engine": self.estimate.engine,
                "max_context_tokens": self.max_context_tokens, "concurrent_sequences": self.concurrent_sequences}


def per_gpu_gb(compute: Compute) -> float:
    """The catalog's gpuMemoryGb is the instance's total: split it over its GPUs."""
    return float(compute.gpu_memory_gb or 0) / max(compute.num_accelerators, 1)


def memory_gb(compute: Compute) -> float:
    """What an estimate is measured against: the memory of each GPU, or on a CPU instance its RAM."""
    return per_gpu_gb(compute) if compute.accelerator == "gpu" else float(compute.memory_gb or 0)


def computes_like(computes: Iterable[Compute], chosen: Compute) -> list[Compute]:
    """Deployable instances of the chosen one's kind (GPU or CPU) in its vendor/region that state their memory."""
    return [c for c in computes if c.accelerator == chosen.accelerator and memory_gb(c) and c.vendor == chosen.vendor
            and c.region == chosen.region and c.status not in UNUSABLE_STATUSES]


def gpu_computes(computes: Iterable[Compute], vendor: str | None = None, region: str | None = None) -> list[Compute]:
    """Deployable GPU instances (not deprecated, not unavailable) that state their GPU memory."""
    return [c for c in computes if c.accelerator == "gpu" and c.gpu_memory_gb and c.status not in UNUSABLE_STATUSES
            and vendor in (None, c.vendor) and region in (None, c.region)]


EstimateOn = Callable[[Compute], Estimate]
"""The engine's estimate of one model with one spec on a given instance (`providers.engines.estimator`)."""


def rank(estimate_on: EstimateOn, computes: Iterable[Compute]) -> list[Row]:
    """Every instance with its estimate: those that fit first, cheapest first, then the rest by price."""
    rows = [Row(c, estimate_on(c)) for c in computes]
    return sorted(rows, key=lambda r: (not r.fits, r.compute.price_per_hour, r.compute.vendor, r.compute.region,
                                       r.compute.instance_type, r.compute.num_accelerators))


def describe(compute: Compute) -> str:
    return f"{compute.instance_type}/{compute.instance_size}"


def _price(compute: Compute) -> str:
    return f"${compute.price_per_hour:.2f}/h"


@dataclass(frozen=True)
class Verdict:
    """What check says about one endpoint: a failure (too big) or a warning (tight), or nothing; and, when it
    fits, the capacity line `check` logs."""

    failure: str | None = None
    warning: str | None = None
    capacity: str | None = None


def verdict(label: str, facts: ModelFacts, estimate_on: EstimateOn, chosen: Compute, catalog: Iterable[Compute],
            hints: Callable[[Compute], list[str]] = lambda _compute: [], tight_advice: str = "") -> Verdict:
    """Too big for `chosen`: a failure naming the cheapest instance of its vendor/region that fits, and what else
    would fit on it (`hints`); within 10% of what the engine may use: a warning (`tight_advice` says what to
    lower). `label` is `endpoints.<name>`."""
    mine = estimate_on(chosen)
    row = Row(chosen, mine)
    available = memory_gb(chosen)
    kind = "GPU memory" if chosen.accelerator == "gpu" else "RAM"
    usable = available * mine.usable_fraction
    several = chosen.num_accelerators > 1 and chosen.accelerator == "gpu"
    per_gpu = f" per GPU ({chosen.num_accelerators} GPUs)" if several else ""
    key = f"{label}.instance_type: {show(describe(chosen))}"
    share = (f", of which {mine.engine} uses {mine.usable_fraction:.0%} ({usable:.1f} GB)"
             if mine.usable_fraction < 1 else "")
    if row.fits:
        capacity = _capacity(row)
        if mine.needed_gb <= usable * TIGHT_FRACTION:
            return Verdict(capacity=capacity)
        of_what = (f"the {available:g} GB of each of its {chosen.num_accelerators} GPUs"
                   if per_gpu else f"its {available:g} GB")
        return Verdict(capacity=capacity, warning=(
            f"{key} is tight: {facts.repository} needs about {mine.needed_gb:.1f} GB of {of_what}{share} "
            f"({mine.needed_gb / usable:.0%}; {mine.breakdown()}); {mine.engine} may run out of memory under load. "
            f"{tight_advice or 'Lower the token budget'}, or pick an instance with more {kind}"))
    fixes = []
    fitting = [r for r in rank(estimate_on, computes_like(catalog, chosen)) if r.fits]
    if fitting:
        best = fitting[0].compute
        size = (f"{best.num_accelerators} x {per_gpu_gb(best):g} GB" if best.accelerator == "gpu"
                else f"{memory_gb(best):g} GB of RAM")
        fixes.append(f"use {describe(best)} ({size}, {_price(best)}), the cheapest in {chosen.vendor}/{chosen.region} "
                     "that fits")
    else:
        fixes.append(f"no instance in {chosen.vendor}/{chosen.region} fits it as configured")
    fixes.extend(hints(chosen))
    longest = row.max_context_tokens
    context = ""
    if longest is not None and mine.sequence_tokens and mine.reports_max_length:
        context = (f"; based on the available memory, the estimated maximum model length is {longest} "
                   f"(of the {mine.sequence_tokens} it serves)" if longest else
                   "; no context length fits (the weights and activations alone take more than it may use)")
    return Verdict(failure=(
        f"{key} has {available:g} GB of {kind}{per_gpu}{share} but {facts.repository} needs about "
        f"{mine.needed_gb:.1f} GB{' per GPU' if per_gpu else ''} ({mine.breakdown()}){context}; "
        f"{'; '.join(fix for fix in fixes if fix)}"))


def _capacity(row: Row) -> str | None:
    seqs = row.concurrent_sequences
    if seqs is None or not row.estimate.sequence_tokens:
        return None
    price = f", ${row.price_per_sequence:.3f}/h per sequence" if row.price_per_sequence else ""
    return (f"{describe(row.compute)} holds {seqs} concurrent sequence(s) of {row.estimate.sequence_tokens} tokens "
            f"in its KV cache ({row.estimate.engine}{price})")
