"""The GPU memory estimate (`providers.fit` and TGI's model in `providers.engines.tgi`, pure): config.json namings,
widths, TGI defaults, exact bytes, the published TGI figures it is compared with, check's messages, the ranking and
the catalog's memory unit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from providers import catalog, engines
from providers.engines.base import ServingSpec
from providers.engines.tgi import QUANTIZE_BITS, Serving, estimate, serving
from providers.fit import (
    Architecture,
    FactsMissing,
    ModelFacts,
    architecture,
    gpu_computes,
    per_gpu_gb,
    rank,
    weight_bits,
)

LLAMA_70B = {"hidden_size": 8192, "intermediate_size": 28672, "max_position_embeddings": 4096,
             "num_attention_heads": 64, "num_hidden_layers": 80, "num_key_value_heads": 8, "vocab_size": 32000}
LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 4096,
            "num_attention_heads": 32, "num_hidden_layers": 32, "vocab_size": 32000}
LLAMA_31_70B = {**LLAMA_70B, "vocab_size": 128256, "max_position_embeddings": 131072}
JAIS = {"n_embd": 5120, "n_head": 40, "n_inner": 13653, "n_layer": 40, "n_positions": 2048, "vocab_size": 84992}
FALCON_7B = {"hidden_size": 4544, "n_head": 71, "n_layer": 32, "multi_query": True, "vocab_size": 65024}

M70 = ModelFacts("meta-llama/Llama-2-70b-hf", "a" * 40, {"BF16": 68_976_648_192}, LLAMA_70B)
M7 = ModelFacts("meta-llama/Llama-2-7b-hf", "b" * 40, {"F16": 6_738_415_616}, LLAMA_7B)
M31 = ModelFacts("meta-llama/Llama-3.1-70B", "c" * 40, {"BF16": 70_553_706_496}, LLAMA_31_70B)
MJ = ModelFacts("example/jais-like", "d" * 40, {"F32": 13_000_000_000}, JAIS)
MF = ModelFacts("tiiuae/falcon-7b", "e" * 40, {"BF16": 6_921_720_704}, FALCON_7B)
MQ = ModelFacts("example/llama-7b-gptq", "f" * 40, {"I32": 1_587_609_600, "F16": 536_870_912}, LLAMA_7B)
JAIS_ENV = {"QUANTIZE": "bitsandbytes", "MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000",
            "MAX_TOTAL_TOKENS": "2048"}


def compute(instance_type: str, size: str, vendor: str = "aws", region: str = "us-east-1") -> catalog.Compute:
    found = catalog.find_compute(vendor, region, "gpu", instance_type, size)
    assert found is not None
    return found


def tgi_spec(env: dict, chosen: catalog.Compute | None = None) -> ServingSpec:
    """A TGI custom image on a GPU with `env`, as check sees it."""
    return ServingSpec(settings={}, typed=False, env=env, task="text-generation", accelerator="gpu", compute=chosen)


def verdict(label: str, facts: ModelFacts, env: dict, chosen: catalog.Compute, _catalog=None):
    return engines.verdict(label, engines.ENGINES["tgi"], tgi_spec(env, chosen), facts)


@pytest.mark.parametrize(("config", "expected"), [
    (LLAMA_70B, Architecture(80, 8, 128, 8192, 28672, 32000, 4096, 64)),
    (JAIS, Architecture(40, 40, 128, 5120, 13653, 84992, None, 40)),
    (FALCON_7B, Architecture(32, 1, 64, 4544, 18176, 65024, None, 71)),
    ({"hidden_size": 8192, "num_attention_heads": 128, "num_hidden_layers": 60, "num_kv_heads": 8,
      "vocab_size": 65024}, Architecture(60, 8, 64, 8192, 32768, 65024, None, 128)),
    ({"hidden_size": 3072, "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 16,
      "head_dim": 256, "intermediate_size": 24576, "vocab_size": 256000, "max_position_embeddings": 8192},
     Architecture(28, 16, 256, 3072, 24576, 256000, 8192, 16)),
    ({"model_type": "llava", "text_config": {
        "hidden_size": 4096, "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "intermediate_size": 14336, "vocab_size": 32064, "max_position_embeddings": 32768}},
     Architecture(32, 8, 128, 4096, 14336, 32064, 32768, 32)),
    ({"num_layers": 28, "hidden_size": 4096, "num_attention_heads": 32, "multi_query_group_num": 2,
      "ffn_hidden_size": 13696, "padded_vocab_size": 65024}, Architecture(28, 2, 128, 4096, 13696, 65024, None, 32)),
], ids=["llama-gqa", "gpt2-names-jais", "falcon-multi-query", "falcon-40b-num-kv-heads", "explicit-head-dim",
        "nested-text-config", "chatglm-names"])
def test_architecture_reads_every_naming(config, expected):
    assert architecture(config) == expected


@pytest.mark.parametrize(("config", "message"), [
    (None, "the repository has no config.json"),
    ({"hidden_size": 4096}, "config.json has no num_hidden_layers nor num_attention_heads (nor their other names)"),
    ({"n_layer": 2, "n_head": 2, "n_embd": True}, "config.json has no hidden_size (nor their other names)"),
], ids=["no-config", "no-layers-no-heads", "bool-is-not-a-size"])
def test_architecture_says_what_is_missing(config, message):
    with pytest.raises(FactsMissing) as missing:
        architecture(config)
    assert str(missing.value) == message


@pytest.mark.parametrize(("dtype", "quantize", "bits"), [
    ("BF16", None, 16), ("F16", None, 16), ("F32", None, 16), ("F64", None, 16),
    ("BF16", "bitsandbytes", 8), ("F32", "eetq", 8), ("F16", "fp8", 8),
    ("BF16", "bitsandbytes-nf4", 4), ("BF16", "bitsandbytes-fp4", 4),
    ("I32", "gptq", 32), ("F16", "gptq", 16), ("I32", "awq", 32), ("F32", "awq", 16),
    ("F8_E4M3", None, 8), ("U8", "bitsandbytes-nf4", 8), ("I64", None, 64),
], ids=lambda value: str(value))
def test_weight_bits(dtype, quantize, bits):
    assert weight_bits({dtype: 1}, QUANTIZE_BITS.get(quantize or "", 16)) == bits


@pytest.mark.parametrize(("env", "max_positions", "expected"), [
    ({}, 4096, Serving(None, 4096, 4145, 16, 4096)),
    ({}, 131072, Serving(None, 4096, 4145, 16, 4096)),
    ({}, 2048, Serving(None, 2048, 2097, 16, 2048)),
    ({}, None, Serving(None, 4096, 4145, 16, 4096)),
    ({"MAX_TOTAL_TOKENS": "2048", "MAX_INPUT_LENGTH": "2000"}, 4096, Serving(None, 2048, 2050, 16, 2048)),
    ({"MAX_INPUT_TOKENS": "1000", "MAX_TOTAL_TOKENS": "1512"}, 4096, Serving(None, 1512, 1050, 16, 1512)),
    ({"MAX_BATCH_TOTAL_TOKENS": "16000", "MAX_BATCH_PREFILL_TOKENS": "4096"}, 4096,
     Serving(None, 16000, 4096, 16, 4096)),
    ({"QUANTIZE": "bitsandbytes", "KV_CACHE_DTYPE": "fp8_e5m2"}, 4096, Serving("bitsandbytes", 4096, 4145, 8, 4096)),
], ids=["launcher-defaults", "long-context-capped-at-4096", "short-context", "no-max-positions",
        "tutorial-limits", "input-tokens-name", "batch-total-tokens", "fp8-kv-cache"])
def test_serving_takes_the_tgi_launcher_defaults(env, max_positions, expected):
    arch = Architecture(32, 32, 128, 4096, 11008, 32000, max_positions)
    assert serving(env, arch) == expected


@pytest.mark.parametrize(("facts", "env", "gpus", "weights", "kv_cache", "activations", "total"), [
    (M70, {}, 1, 137_953_296_384, 1_342_177_280, 1_651_102_720, 141_446_576_384),
    (M70, {"QUANTIZE": "bitsandbytes-nf4"}, 1, 34_488_324_096, 1_342_177_280, 1_651_102_720, 37_981_604_096),
    (M70, {"QUANTIZE": "bitsandbytes"}, 1, 68_976_648_192, 1_342_177_280, 1_651_102_720, 72_469_928_192),
    (M70, {}, 2, 68_976_648_192, 671_088_640, 1_651_102_720, 71_798_839_552),
    (M70, {}, 8, 17_244_162_048, 167_772_160, 1_651_102_720, 19_563_036_928),
    (M7, {"KV_CACHE_DTYPE": "fp8_e4m3fn"}, 1, 13_476_831_232, 1_073_741_824, 1_008_064_000, 16_058_637_056),
    (MJ, JAIS_ENV, 1, 13_000_000_000, 1_677_721_600, 989_851_648, 16_167_573_248),
    (MF, {}, 4, 3_460_860_352, 33_554_432, 1_756_153_600, 5_750_568_384),
    (MQ, {"QUANTIZE": "gptq"}, 1, 7_424_180_224, 2_147_483_648, 1_008_064_000, 11_079_727_872),
], ids=["70b-bf16-x1", "70b-nf4-x1", "70b-int8-x1", "70b-bf16-x2", "70b-bf16-x8", "7b-fp8-kv-cache",
        "jais-like-f32-int8", "falcon-mqa-one-kv-head-per-gpu", "gptq-as-stored"])
def test_estimate_exact_bytes(facts, env, gpus, weights, kv_cache, activations, total):
    """weights/N + tokens x 2 x layers x KV heads x head size x 2 bytes / N + 0.5 GB + prefill activations."""
    found = estimate(facts, env, gpus)
    assert (found.weights, found.kv_cache, found.cuda_context, found.activations) == (
        weights, kv_cache, 500_000_000, activations)
    assert found.total == total


@pytest.mark.parametrize(("facts", "env", "instance", "needed", "outcome"), [
    # vllm-project/vllm#381: TGI's maintainer runs Llama-7B on one A10 with 17664 batch tokens.
    (M7, {"MAX_BATCH_TOTAL_TOKENS": "17664", "MAX_BATCH_PREFILL_TOKENS": "2048"}, ("nvidia-a10g", "x1"),
     23.74, "tight"),
    # huggingface/text-generation-inference#653: TGI sets 16224 tokens on one A10G and fills its 22 GiB.
    (M7, {"MAX_BATCH_TOTAL_TOKENS": "16224", "MAX_BATCH_PREFILL_TOKENS": "4096"}, ("nvidia-a10g", "x1"),
     23.48, "tight"),
    # huggingface/text-generation-inference#832: TGI sets 406560 tokens for Llama-2-70b on 4 x A100 80GB.
    (M70, {"MAX_BATCH_TOTAL_TOKENS": "406560", "MAX_BATCH_PREFILL_TOKENS": "4096"}, ("nvidia-a100", "x4"),
     69.93, "fits"),
    # huggingface/text-generation-inference#2744: 30816 tokens on 2 x A100 80GB, then OOM under load.
    (M31, {"MAX_BATCH_TOTAL_TOKENS": "30816", "MAX_BATCH_PREFILL_TOKENS": "10049"}, ("nvidia-a100", "x2"),
     83.97, "too big"),
], ids=["llama-7b-a10-vllm-381", "llama2-7b-a10g-tgi-653", "llama2-70b-4xa100-tgi-832",
        "llama31-70b-2xa100-tgi-2744"])
def test_published_tgi_figures(facts, env, instance, needed, outcome):
    """At the token budget TGI itself chose, the estimate lands just under the GPU (or over, where TGI then ran
    out of memory): the comparison in the module docstring."""
    chosen = compute(*instance)
    assert round(estimate(facts, env, chosen.num_accelerators).needed_gb, 2) == needed
    found = verdict("endpoints.x", facts, env, chosen, catalog.load_catalog())
    assert ("too big" if found.failure else "tight" if found.warning else "fits") == outcome


A10G = 'endpoints.llama.instance_type: "nvidia-a10g/x1" has 24 GB of GPU memory but meta-llama/Llama-2-70b-hf needs'
BREAKDOWN = "KV cache 1.3 GB for 4096 tokens + CUDA context and prefill 2.2 GB"


@pytest.mark.parametrize(("env", "instance", "failure", "warning"), [
    ({}, ("nvidia-a10g", "x1"),
     f"{A10G} about 141.4 GB (weights 138.0 GB + {BREAKDOWN}); use nvidia-a100/x2 (2 x 80 GB, $5.00/h), the "
     "cheapest in aws/us-east-1 that fits; no QUANTIZE fits it on nvidia-a10g/x1 (even bitsandbytes-nf4 needs "
     "about 38.0 GB)", None),
    ({"QUANTIZE": "bitsandbytes-nf4"}, ("nvidia-a10g", "x1"),
     f"{A10G} about 38.0 GB (weights 34.5 GB + {BREAKDOWN}); use nvidia-l40s/x1 (1 x 48 GB, $1.80/h), the "
     "cheapest in aws/us-east-1 that fits", None),
    ({}, ("nvidia-a100", "x1"),
     'endpoints.llama.instance_type: "nvidia-a100/x1" has 80 GB of GPU memory but meta-llama/Llama-2-70b-hf '
     f"needs about 141.4 GB (weights 138.0 GB + {BREAKDOWN}); use nvidia-a100/x2 (2 x 80 GB, $5.00/h), the "
     "cheapest in aws/us-east-1 that fits; or keep nvidia-a100/x1 with env QUANTIZE=bitsandbytes (needs about "
     "72.5 GB)", None),
    ({}, ("nvidia-l4", "x4"),
     'endpoints.llama.instance_type: "nvidia-l4/x4" has 24 GB of GPU memory per GPU (4 GPUs) but '
     "meta-llama/Llama-2-70b-hf needs about 37.0 GB per GPU (weights 34.5 GB + KV cache 0.3 GB for 4096 tokens "
     "+ CUDA context and prefill 2.2 GB); use nvidia-a100/x2 (2 x 80 GB, $5.00/h), the cheapest in "
     "aws/us-east-1 that fits; or keep nvidia-l4/x4 with env QUANTIZE=bitsandbytes (needs about 19.7 GB)", None),
    ({"QUANTIZE": "bitsandbytes"}, ("nvidia-a100", "x1"), None,
     'endpoints.llama.instance_type: "nvidia-a100/x1" is tight: meta-llama/Llama-2-70b-hf needs about 72.5 GB of '
     f"its 80 GB (91%; weights 69.0 GB + {BREAKDOWN}); TGI may run out of memory under load. Lower "
     "MAX_BATCH_TOTAL_TOKENS/MAX_TOTAL_TOKENS, or pick an instance with more GPU memory"),
    ({"QUANTIZE": "bitsandbytes-nf4"}, ("nvidia-a100", "x1"), None, None),
    ({"QUANTIZE": "bitsandbytes-nf4"}, ("nvidia-l40s", "x1"), None, None),
], ids=["bf16-on-a10g", "nf4-on-a10g", "bf16-on-a100-quantize-hint", "bf16-on-4xl4-per-gpu",
        "int8-on-a100-tight", "nf4-on-a100-fits", "nf4-on-l40s-fits"])
def test_verdict_names_needed_available_cheapest_and_quantize(env, instance, failure, warning):
    found = verdict("endpoints.llama", M70, env, compute(*instance), catalog.load_catalog())
    assert (found.failure, found.warning) == (failure, warning)


def test_rank_puts_the_cheapest_fitting_first_then_the_rest_by_price():
    spec = tgi_spec({"QUANTIZE": "bitsandbytes-nf4"})
    rows = rank(engines.estimator(engines.ENGINES["tgi"], spec, M70),
                gpu_computes(catalog.load_catalog(), "aws", "us-east-1"))
    assert [(f"{r.compute.instance_type}/{r.compute.instance_size}", r.fits, r.compute.price_per_hour)
            for r in rows] == [
        ("nvidia-l40s/x1", True, 1.8), ("nvidia-a100/x1", True, 2.5), ("nvidia-t4/x4", True, 3.0),
        ("nvidia-l4/x4", True, 3.8), ("nvidia-a100/x2", True, 5.0), ("nvidia-a10g/x4", True, 5.0),
        ("nvidia-h200/x1", True, 5.0), ("nvidia-l40s/x4", True, 8.3), ("nvidia-a100/x4", True, 10.0),
        ("nvidia-h200/x2", True, 10.0), ("nvidia-a100/x8", True, 20.0), ("nvidia-h200/x4", True, 20.0),
        ("nvidia-l40s/x8", True, 23.5), ("nvidia-h200/x8", True, 40.0),
        ("nvidia-t4/x1", False, 0.5), ("nvidia-l4/x1", False, 0.8), ("nvidia-a10g/x1", False, 1.0)]
    assert rows[0].to_json() == {"instance_type": "nvidia-l40s", "instance_size": "x1", "vendor": "aws",
                                 "region": "us-east-1", "gpu_memory_gb": 48.0, "needed_gb": 37.98, "fits": True,
                                 "price_per_hour": 1.8, "engine": "TGI", "max_context_tokens": 4096,
                                 "concurrent_sequences": 8}


def test_catalog_gpu_memory_is_the_instance_total():
    """Contract Q9, settled by the snapshot: gpuMemoryGb / numAccelerators is the same for every size of a
    GPU type (24 for A10G x1 and x4, 80 for A100 x1..x8), so gpuMemoryGb is the total."""
    per_type: dict[str, set[float]] = {}
    for c in catalog.load_catalog():
        if c.accelerator == "gpu":
            per_type.setdefault(c.instance_type, set()).add(per_gpu_gb(c))
    assert per_type == {"nvidia-t4": {16.0}, "nvidia-l4": {24.0}, "nvidia-a10g": {24.0}, "nvidia-l40s": {48.0},
                        "nvidia-a100": {80.0}, "nvidia-h100": {80.0}, "nvidia-h200": {141.0}}
    assert compute("nvidia-a100", "x8").gpu_memory_gb == 640


@pytest.mark.parametrize(("inputs", "expected"), [
    ({"custom_image": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4"}}, "tgi"),
    ({"custom_image": {"url": "registry.example/tgi:3.1"}}, "tgi"),
    ({"custom_image": {"url": "vllm/vllm-openai:latest"}}, "vllm"),
    ({"custom_image": {"url": "lmsysorg/sglang:v0.5.5"}}, "sglang"),
    ({"custom_image": {"url": "ghcr.io/huggingface/text-embeddings-inference:89-1.8"}}, "tei"),
    ({"custom_image": {"url": "ghcr.io/ggml-org/llama.cpp:server-cuda"}}, "llamacpp"),
    ({"custom_image": {"url": "registry.example/my-server:1"}}, "custom"),
    ({"engine": {"vllm": {}}, "custom_image": None}, "vllm"),
    ({"task": "text-generation"}, "huggingface"),
], ids=["tgi-image", "tgi-short-name", "vllm-image", "sglang-image", "tei-image", "llamacpp-image", "unknown-image",
        "declared", "default-image"])
def test_the_serving_engine_of_a_custom_image_is_the_one_that_publishes_it(inputs, expected):
    assert engines.serving_engine(inputs).name == expected


def test_a_tgi_estimate_is_unchanged_by_moving_it_to_its_module():
    """The TGI figures of the README (the tutorial's model on one A10G: 16.2 GB) come from the engine's module."""
    found = estimate(MJ, JAIS_ENV, 1)
    assert replace(found, summary="") == replace(found, summary="")
    assert round(found.needed_gb, 1) == 16.2
