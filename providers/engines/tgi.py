"""TGI (text-generation-inference): its typed fields, the env rules its launcher and router enforce, its GPU memory
model and its smoke protocols by version. In maintenance mode since 2025-12-11: Inference Endpoints recommends vLLM
or SGLang for new deployments (hf-endpoints-documentation `docs/source/engines/tgi.md`).

**Env rules.** Sources, in huggingface/text-generation-inference: 1.x reads `MAX_INPUT_LENGTH` with defaults 1024 /
`MAX_TOTAL_TOKENS` 2048 / `MAX_BATCH_PREFILL_TOKENS` 4096 (docs/source/basic_tutorials/launcher.md of the 1.x docs;
router/src/main.rs of 1.x validates input < total, prefill >= input, and with `MAX_BATCH_TOTAL_TOKENS` prefill <= it
and total <= it). 2.0 renamed it `MAX_INPUT_TOKENS` and keeps `MAX_INPUT_LENGTH` as "Legacy version of
`Args::max_input_tokens`"; the launcher refuses both ("Both `max_input_tokens` ... and `max_input_length` ... are
set") and derives the defaults from the model's `max_position_embeddings` (launcher/src/main.rs, commit 009c4e0b;
PR #1727 "Improve the defaults for the launcher"), so for 2.x/3.x only values that are set are compared. An image
whose version is not known (a `latest` or `sha-...` tag, the default image) gets the version-independent rules.
The typed fields of `engine: {tgi: ...}` are the same settings (contract §3.3): they are checked together with
`env`, and a typed field and its env variable set to different values is an error.

**GPU memory, per GPU of an instance with N GPUs** (GB = 10^9 bytes):

    needed = weights / N + KV cache / N + CUDA context + prefill activations

* **weights** = Σ over the safetensors dtypes of (parameter count * bits per parameter / 8), with the parameter
  counts per dtype of the Hub's safetensors metadata. Floating-point weights are loaded at 16 bits (TGI serves in
  float16/bfloat16 and casts F32 down: `--dtype` takes only those two), at 8 bits with `QUANTIZE=bitsandbytes`,
  `eetq` or `fp8`, and at 4 bits with `bitsandbytes-nf4`/`bitsandbytes-fp4`. Integer dtypes (the packed I32 of
  GPTQ/AWQ/Marlin/EXL2 repositories) and F8 count as stored. Not counted: the ~3% of block statistics
  bitsandbytes' 4-bit formats keep, and the embeddings TGI leaves unquantized; the 10% warning margin covers both.
* **KV cache** = tokens * 2 (K and V) * layers * KV heads * head size * KV bytes, exactly TGI's block arithmetic
  (`server/text_generation_server/models/flash_causal_lm.py`, `warmup`). KV bytes are 2, 1 with
  `KV_CACHE_DTYPE=fp8*`. Tokens are `MAX_BATCH_TOTAL_TOKENS` when set, else one request of `MAX_TOTAL_TOKENS` (TGI
  refuses to start without room for one). TGI shards the KV heads over the GPUs (at least one whole head each).
* **CUDA context**: a flat 0.5 GB per GPU (CUDA context, cuBLAS and NCCL workspaces; 0.3-0.6 GB is what
  `nvidia-smi` shows for an idle PyTorch process).
* **prefill activations** = `MAX_BATCH_PREFILL_TOKENS` * (2 bytes * (6 * hidden + 3 * intermediate) +
  4 bytes * vocabulary): a layer's live tensors at 16 bits plus the logits and their log-softmax over the whole
  prompt, which TGI's warmup asks for (`prefill_logprobs: true`). Not divided by N: TGI gathers the logits on every
  shard. Unset token limits take the TGI launcher's defaults (`launcher/src/main.rs`): `MAX_TOTAL_TOKENS` =
  min(`max_position_embeddings`, 4096), `MAX_INPUT_TOKENS` = that - 1, `MAX_BATCH_PREFILL_TOKENS` = input + 50.

**Compared with what TGI reports** (TGI fills the GPU with KV blocks at warmup and logs "Setting max batch total
tokens to N"; the estimate at that N should land just under the GPU):
* Llama-7B (6.74B, fp16) on one A10 (24 GB), TGI 0.9.1 with `--max-batch-total-tokens 17664
  --max-batch-prefill-tokens 2048` (vllm-project/vllm#381): 13.48 + 9.26 + 0.5 + 0.50 = 23.74 GB. Fits, tight.
* Llama-2-7b on one A10G, prefill 4096: TGI chose 16224 tokens "and takes up all of the 22Gb"
  (huggingface/text-generation-inference#653): 13.48 + 8.51 + 0.5 + 1.00 = 23.48 GB. Same verdict.
* Llama-2-70b on 4 x A100 80GB: TGI chose 406560 tokens (huggingface/text-generation-inference#832): per GPU
  34.49 + 33.31 + 0.5 + 1.63 = 69.93 GB of 80.
* Llama-3.1-70B on 2 x A100 80GB: TGI chose 30816 tokens with 10049 prefill tokens
  (huggingface/text-generation-inference#2744): per GPU 70.55 + 5.05 + 0.5 + 7.87 = 83.97 GB, over 80 GB; the issue
  reports CUDA out-of-memory under load with exactly that budget.
So the estimate agrees with TGI within about a gigabyte on a full single GPU, and errs on the safe side. Capacity
(sequences of `MAX_TOTAL_TOKENS` the rest of the GPU holds) leaves out TGI's own 10% wiggle room.

**Smoke protocols by version**: `generate` (POST `/`) always; `chat` (`/v1/chat/completions`, the Messages API)
from 1.4.0; `completions` (`/v1/completions`) from 1.4.4. Default image: the last release, 3.3.7.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from providers.engines.base import CHAT, COMPLETIONS, GENERATE, Engine, EngineField, Problem, ServingSpec, SmokeLimits
from providers.fit import (
    CUDA_CONTEXT_BYTES,
    Architecture,
    Estimate,
    FactsMissing,
    ModelFacts,
    architecture,
    describe,
    per_gpu_gb,
    weight_bits,
)
from providers.image_reference import ImageReference
from providers.values import is_unknown

# TGI's --quantize values (text-generation-inference 3.x launcher).
QUANTIZE = (
    "awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4",
    "bitsandbytes-fp4", "fp8",
)
# The typed field's values: the API's enum for `model.image.tgi.quantize` (contract §3.3, [GO25]); other TGI
# quantizations go through `env: {QUANTIZE: ...}`.
API_QUANTIZE = ("awq", "bitsandbytes", "eetq", "gptq")
TOKEN_LIMITS = ("MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS", "MAX_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS",
                "MAX_BATCH_TOTAL_TOKENS")
V1_DEFAULTS = {"MAX_INPUT_LENGTH": 1024, "MAX_TOTAL_TOKENS": 2048, "MAX_BATCH_PREFILL_TOKENS": 4096}
V1_DEFAULT_NOTE = "TGI 1.x's default when it is unset"
TGI_MAX_DEFAULT = 4096  # launcher/src/main.rs `max_default`
# QUANTIZE -> bits per floating-point weight once TGI loaded it; absent: as stored (pre-quantized formats).
QUANTIZE_BITS = {"bitsandbytes": 8, "eetq": 8, "fp8": 8, "bitsandbytes-nf4": 4, "bitsandbytes-fp4": 4}
# What to suggest on an instance that is too small, widest first (both run on every NVIDIA GPU).
QUANTIZE_SUGGESTIONS = (("bitsandbytes", 8), ("bitsandbytes-nf4", 4))
IMAGE_NAME = re.compile(r"text-generation-inference|(^|/)tgi([:/@-]|$)")
# The Messages API (huggingface/text-generation-inference#1427, 0eabc835) first shipped in v1.4.0,
# /v1/completions (#1527, 3dd7da21) in v1.4.4.
CHAT_FROM, COMPLETIONS_FROM = (1, 4, 0), (1, 4, 4)
_GO25 = "contract §3.3 ([GO25] client/models.go; gorgias-oss/terraform-provider-huggingface models.go)"


@dataclass(frozen=True)
class Serving:
    """How TGI will run it, from the endpoint's env (defaults as the TGI launcher's)."""

    quantize: str | None
    kv_tokens: int
    prefill_tokens: int
    kv_bits: int = 16
    max_total: int = 0


class Tgi(Engine):
    name = "tgi"
    variant = "tgi"
    title = "TGI"
    default_image = "ghcr.io/huggingface/text-generation-inference:3.3.7"  # its last release (2025-12-18)
    default_port = 80
    image_pattern = IMAGE_NAME
    tight_advice = "Lower MAX_BATCH_TOTAL_TOKENS/MAX_TOTAL_TOKENS"
    protocols = (GENERATE, CHAT, COMPLETIONS)
    fields = (
        EngineField("max_input_length", "maxInputLength", "count", _GO25, env="MAX_INPUT_LENGTH", fix="e.g. 2000"),
        EngineField("max_total_tokens", "maxTotalTokens", "count", _GO25, env="MAX_TOTAL_TOKENS", fix="e.g. 2048"),
        EngineField("max_batch_prefill_tokens", "maxBatchPrefillTokens", "count", _GO25,
                    env="MAX_BATCH_PREFILL_TOKENS", fix="e.g. 2048"),
        EngineField("max_batch_total_tokens", "maxBatchTotalTokens", "count", _GO25, env="MAX_BATCH_TOTAL_TOKENS",
                    fix="e.g. 16000"),
        EngineField("quantize", "quantize", "choice", _GO25, choices=API_QUANTIZE, env="QUANTIZE",
                    fix=f"use one of {', '.join(API_QUANTIZE)} (others, e.g. bitsandbytes-nf4, through env QUANTIZE)"),
        EngineField("disable_custom_kernels", "disableCustomKernels", "flag",
                    "contract §3.3 ([HH-T] a real catalog response carries disableCustomKernels: false)",
                    env="DISABLE_CUSTOM_KERNELS"),
    )

    def check(self, spec: ServingSpec) -> list[Problem]:
        env, origin, problems = merged_env(self, spec)
        version = tgi_version(spec.image)
        typed_names = {name: path.rsplit(".", 1)[-1] for name, path in origin.items()}

        def named(text: str) -> str:  # a typed field's rule speaks of the field, not of its env variable
            for name, key in typed_names.items():
                text = re.sub(rf"\b{name}\b", key, text)
            return text

        for p in env_problems(env, spec.image, f"{spec.prefix(self.name)}.url" if spec.typed else "custom_image"):
            path = origin.get(p.name, f"env.{p.name}")
            value = spec.settings.get(path.rsplit(".", 1)[-1]) if path.startswith("engine.") else env[p.name]
            problems.append(Problem(path, value, named(p.problem), named(p.fix)))
        smoke = spec.smoke_test or {}
        protocol = smoke.get("protocol")
        if isinstance(protocol, str) and protocol not in self.smoke_protocols(spec) and version is not None:
            since = {CHAT: "1.4.0", COMPLETIONS: "1.4.4"}.get(protocol)
            problems.append(Problem("smoke_test.protocol", protocol,
                                    f"is not served by TGI {'.'.join(map(str, version))}"
                                    + (f" (it has /v1/{'chat/completions' if protocol == CHAT else 'completions'} "
                                       f"from {since})" if since else ""),
                                    f"use `protocol: {GENERATE}`, or an image of TGI {since} or later"
                                    if since else f"use one of {', '.join(self.smoke_protocols(spec))}"))
        return problems

    def smoke_protocols(self, spec: ServingSpec) -> tuple[str, ...]:
        version = tgi_version(spec.image)
        if version is None:
            return self.protocols
        return tuple(p for p, since in ((GENERATE, (0, 0)), (CHAT, CHAT_FROM), (COMPLETIONS, COMPLETIONS_FROM))
                     if version >= since)

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        env, _origin, _problems = merged_env(self, spec)
        version = tgi_version(spec.image)
        max_input = _env_int(env, "MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH")
        max_total = _env_int(env, "MAX_TOTAL_TOKENS")
        source = "the endpoint's MAX_INPUT_LENGTH/MAX_TOTAL_TOKENS"
        if version is not None and version[0] == 1:
            max_input = max_input or V1_DEFAULTS["MAX_INPUT_LENGTH"]
            max_total = max_total or V1_DEFAULTS["MAX_TOTAL_TOKENS"]
        elif facts is not None and (max_input is None or max_total is None):
            try:
                positions = architecture(facts.config).max_positions
            except FactsMissing:
                positions = None
            default_total = min(positions or TGI_MAX_DEFAULT, TGI_MAX_DEFAULT)
            max_total = max_total or default_total
            max_input = max_input or max_total - 1
            source += " (TGI's defaults from the model where unset)"
        if max_input is None and max_total is None:
            return None
        return SmokeLimits(max_input, max_total, source)

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        if num_gpus < 1:
            return None
        env, _origin, _problems = merged_env(self, spec)
        return estimate(facts, env, num_gpus)

    def hints(self, facts: ModelFacts, spec: ServingSpec, chosen: Any) -> list[str]:
        env, _origin, _problems = merged_env(self, spec)
        hint = quantize_hint(facts, env, chosen)
        return [hint] if hint else []


ENGINE = Tgi()


def tgi_version(image: ImageReference | None) -> tuple[int, ...] | None:
    """The TGI version an image's tag names (`1.3.4` -> (1, 3, 4), `2.4.0-rocm` -> (2, 4, 0)), or None when its tag
    names none (`latest`, `sha-...`) or the image is not TGI's."""
    if image is None or not image.tag or not IMAGE_NAME.search(image.name.rsplit("/", 1)[-1] or image.name):
        return None
    match = re.match(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.-]|$)", image.tag)
    return tuple(int(part or 0) for part in match.groups()) if match else None


def merged_env(engine: Engine, spec: ServingSpec) -> tuple[dict[str, Any], dict[str, str], list[Problem]]:
    """The env TGI will read: the endpoint's env with the typed fields in it; where each name came from
    (`engine.tgi.<field>` for typed ones); and a problem per typed field whose env variable says otherwise."""
    env: dict[str, Any] = dict(spec.env)
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    if not spec.typed:
        return env, origin, problems
    for f in engine.fields:
        value = spec.settings.get(f.key)
        if value is None or is_unknown(value) or f.env is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        names = ("MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH") if f.env == "MAX_INPUT_LENGTH" else (f.env,)
        name = next((n for n in names if n in env), f.env)
        path = f"{spec.prefix(engine.name)}.{f.key}"
        if name in env and not is_unknown(env[name]) and str(env[name]).lower() != text.lower():
            problems.append(Problem(path, value, f"differs from env {name} ({env[name]})",
                                    f"set it in one place: remove env {name} or `{f.key}`"))
            continue
        env[name] = text
        origin[name] = path
    return env, origin, problems


@dataclass(frozen=True)
class EnvProblem:
    """One env variable TGI would refuse: `env.<name>: <value> <problem>; <fix>`."""

    name: str
    problem: str
    fix: str


def env_problems(env: Mapping[str, Any], image: ImageReference | None,
                 image_key: str = "custom_image") -> list[EnvProblem]:
    """TGI launcher and router rules for `env` (canonical: values are strings), for the TGI version `image`'s tag
    names; at most one problem per variable, in the order a reader fixes them."""
    if any(is_unknown(env.get(name)) for name in (*TOKEN_LIMITS, "QUANTIZE")):
        return []
    found: dict[str, EnvProblem] = {}

    def fail(name: str, problem: str, fix: str) -> None:
        found.setdefault(name, EnvProblem(name, problem, fix))

    numbers: dict[str, int] = {}
    for name in TOKEN_LIMITS:
        if name in env:
            if re.fullmatch(r"[0-9]+", str(env[name])) and int(env[name]) > 0:
                numbers[name] = int(env[name])
            else:
                fail(name, "is not a positive whole number", "e.g. 2048")
    version = tgi_version(image)
    major = version[0] if version else None
    if major == 1:
        if "MAX_INPUT_TOKENS" in env:
            fail("MAX_INPUT_TOKENS", f"is not read by TGI 1.x ({image_key} tag {image.tag})",  # type: ignore
                 "use MAX_INPUT_LENGTH (TGI 2.0 renamed it MAX_INPUT_TOKENS)")
        input_name = "MAX_INPUT_LENGTH"
    else:
        if "MAX_INPUT_TOKENS" in env and "MAX_INPUT_LENGTH" in env:
            fail("MAX_INPUT_LENGTH", "is set together with MAX_INPUT_TOKENS, and TGI 2.0 and later refuse both "
                 "(MAX_INPUT_LENGTH is the legacy name)", "remove MAX_INPUT_LENGTH" if major else
                 "remove one (TGI 1.x reads MAX_INPUT_LENGTH, 2.0 and later MAX_INPUT_TOKENS)")
        input_name = "MAX_INPUT_TOKENS" if "MAX_INPUT_TOKENS" in env else "MAX_INPUT_LENGTH"
    defaults = V1_DEFAULTS if major == 1 else {}

    def limit(name: str) -> tuple[int | None, str]:
        """The value TGI will use, and ", <why>" when it is TGI's default rather than the user's."""
        if name in env:
            return numbers.get(name), ""
        return (defaults[name], f", {V1_DEFAULT_NOTE}") if name in defaults else (None, "")

    max_input, input_note = limit(input_name)
    total, total_note = limit("MAX_TOTAL_TOKENS")
    prefill, prefill_note = limit("MAX_BATCH_PREFILL_TOKENS")
    batch_total = numbers.get("MAX_BATCH_TOTAL_TOKENS")
    if max_input is not None and total is not None and max_input >= total:
        if not input_note:
            fail(input_name, f"must be less than MAX_TOTAL_TOKENS ({total}{total_note})",
                 f"lower {input_name} or " + ("set MAX_TOTAL_TOKENS above it" if total_note else
                                              "raise MAX_TOTAL_TOKENS"))
        elif not total_note:
            fail("MAX_TOTAL_TOKENS", f"must be greater than {input_name} ({max_input}{input_note})",
                 f"raise MAX_TOTAL_TOKENS or set {input_name} below it")
    if max_input is not None and prefill is not None and prefill < max_input:
        if not prefill_note:
            fail("MAX_BATCH_PREFILL_TOKENS", f"must be at least {input_name} ({max_input}{input_note})",
                 f"raise MAX_BATCH_PREFILL_TOKENS to {max_input} or more")
        elif not input_note:
            fail(input_name, f"is above MAX_BATCH_PREFILL_TOKENS ({prefill}{prefill_note})",
                 f"set MAX_BATCH_PREFILL_TOKENS to {max_input} or more")
    if batch_total is not None and total is not None and batch_total < total:
        fail("MAX_BATCH_TOTAL_TOKENS", f"must be at least MAX_TOTAL_TOKENS ({total}{total_note})",
             "raise MAX_BATCH_TOTAL_TOKENS or lower MAX_TOTAL_TOKENS")
    if batch_total is not None and prefill is not None and prefill > batch_total:
        if not prefill_note:
            fail("MAX_BATCH_PREFILL_TOKENS", f"must be at most MAX_BATCH_TOTAL_TOKENS ({batch_total})",
                 "lower MAX_BATCH_PREFILL_TOKENS or raise MAX_BATCH_TOTAL_TOKENS")
        else:
            fail("MAX_BATCH_TOTAL_TOKENS", f"must be at least MAX_BATCH_PREFILL_TOKENS ({prefill}{prefill_note})",
                 "raise MAX_BATCH_TOTAL_TOKENS or set MAX_BATCH_PREFILL_TOKENS below it")
    if "QUANTIZE" in env and env["QUANTIZE"] not in QUANTIZE:
        fail("QUANTIZE", "is not a TGI quantization", f"use one of {', '.join(QUANTIZE)}")
    return list(found.values())


# --- the GPU memory model --------------------------------------------------------------------------------------

def _env_int(env: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = env.get(name)
        if value is not None and str(value).isdigit() and int(value) > 0:
            return int(value)
    return None


def serving(env: Mapping[str, Any], arch: Architecture) -> Serving:
    """The token budget and quantization TGI will use, with the launcher's defaults for unset limits."""
    positions = arch.max_positions if arch.max_positions and arch.max_positions <= TGI_MAX_DEFAULT \
        else TGI_MAX_DEFAULT
    max_total = _env_int(env, "MAX_TOTAL_TOKENS") or positions
    max_input = _env_int(env, "MAX_INPUT_TOKENS", "MAX_INPUT_LENGTH") or positions - 1
    prefill = _env_int(env, "MAX_BATCH_PREFILL_TOKENS") or max_input + 50
    kv_bits = 8 if str(env.get("KV_CACHE_DTYPE", "")).startswith("fp8") else 16
    kv_tokens = _env_int(env, "MAX_BATCH_TOTAL_TOKENS") or max_total
    return Serving(quantize=env.get("QUANTIZE") or None, kv_tokens=kv_tokens, prefill_tokens=prefill,
                   kv_bits=kv_bits, max_total=max_total)


def estimate(facts: ModelFacts, env: Mapping[str, Any], num_gpus: int, quantize: str | None = None) -> Estimate:
    """Bytes per GPU for `facts` served by TGI with `env` on `num_gpus` GPUs (`quantize` overrides QUANTIZE)."""
    parameters = facts.parameter_counts()
    arch = architecture(facts.config)
    plan = serving(env, arch)
    if quantize is not None:
        plan = replace(plan, quantize=quantize)
    bits = weight_bits(parameters, QUANTIZE_BITS.get(plan.quantize or "", 16))
    kv_heads_per_gpu_x_gpus = max(arch.kv_heads, num_gpus)  # at least one whole head on every GPU
    kv_per_token_all = 2 * arch.layers * kv_heads_per_gpu_x_gpus * arch.head_size * plan.kv_bits // 8
    per_token = arch.activation_bytes_per_token + 4 * arch.vocab_size
    return Estimate(
        engine="TGI", num_gpus=num_gpus, weights=math.ceil(bits / 8 / num_gpus),
        kv_cache=math.ceil(plan.kv_tokens * kv_per_token_all / num_gpus), cuda_context=CUDA_CONTEXT_BYTES,
        activations=plan.prefill_tokens * per_token, kv_tokens=plan.kv_tokens,
        kv_per_token=math.ceil(kv_per_token_all / num_gpus), sequence_tokens=plan.max_total,
        summary=(f"QUANTIZE={plan.quantize or 'none'}, KV cache for {plan.kv_tokens} tokens, "
                 f"prefill {plan.prefill_tokens} tokens"))


def quantize_hint(facts: ModelFacts, env: Mapping[str, Any], chosen: Any) -> str | None:
    """The widest QUANTIZE narrower than the current one that fits on `chosen`, as a fix to suggest; or why none
    does."""
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
