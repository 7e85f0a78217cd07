"""GPU memory fit in `check`, through the real provider host, with model facts from the emulator's Hub routes:
too big fails naming `instance_type` with the numbers and the cheapest instance that fits, tight warns, facts
that cannot be had warn, an unknown revision fails naming `revision`, and a second check (even in another
process) makes no Hub call."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.hub import builtin_sha
from providers.stack_files import load_stack, to_plain
from tests.endpoint_stack import ENDPOINT_PROVIDER, ENDPOINT_TYPE, PROJECT
from tests.harness.provider_host import UNKNOWN, ProviderHost, urn

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LLAMA = "meta-llama/Llama-3.1-70B-Instruct"  # built into the emulator's Hub: 70,553,706,496 BF16 parameters
JAIS = "derek-thomas/jais-13b-chat-hf"  # built in: 13,020,763,960 F32 parameters, Jais's config.json
TGI_IMAGE = {"url": "ghcr.io/huggingface/text-generation-inference:3.1.1", "health_route": "/health", "port": 80}
TGI_IMAGE_1 = {**TGI_IMAGE, "url": "ghcr.io/huggingface/text-generation-inference:1.3.4"}
URN = urn("local", PROJECT, ENDPOINT_TYPE, "llm")
OFFLINE = "http://127.0.0.1:9"  # nothing listens there


def local_jais() -> dict:
    """The tutorial's endpoint exactly as Pulumi.local.yaml declares it (defaults merged)."""
    config = to_plain(load_stack(REPO / "Pulumi.local.yaml")["config"])
    return {**config["hf-endpoints:defaults"], **config["hf-endpoints:endpoints"]["jais-13b-chat"]}


def spec(repository: str = LLAMA, instance: str = "nvidia-a10g/x1", **changes: object) -> dict:
    instance_type, instance_size = instance.split("/")
    news = {"__provider": ENDPOINT_PROVIDER, "name": "llm", "namespace": "local", "repository": repository,
            "framework": "pytorch", "task": "text-generation", "accelerator": "gpu", "vendor": "aws",
            "region": "us-east-1", "instance_type": instance_type, "instance_size": instance_size,
            "custom_image": TGI_IMAGE, **changes}
    return {key: value for key, value in news.items() if value is not None}


MARKER = spec(accelerator="cpu", instance_type="intel-spr", instance_size="x1", custom_image=None,
              type="protected")
MARKER_WARNING = "endpoints.llm.type: `protected` no longer exists"


class Checker:
    """One provider host configured like a stack pointed at the emulator, with its own model-facts cache."""

    def __init__(self, emulator, cache: Path, hub_url: str | None = None, token: str | None = "emulator"):
        self.emulator, self.cache = emulator, cache
        self.host = ProviderHost(PROJECT, env={"HF_ENDPOINTS_CACHE": str(cache)})
        self.host.start()
        config = {"hf-endpoints:apiUrl": emulator.api_url, "hf-endpoints:hubUrl": hub_url or emulator.base_url}
        if token:
            config["hf-endpoints:hfToken"] = emulator.token
        self.host.configure(config, ["hf-endpoints:hfToken"])

    def check(self, news: dict) -> tuple[list[tuple[str, str]], list[str]]:
        """The failures, and the warning lines the host printed for this check."""
        failures, warnings, _notes = self.check_all(news)
        return failures, warnings

    def check_all(self, news: dict) -> tuple[list[tuple[str, str]], list[str], list[str]]:
        """The failures, the warning lines and the other lines (capacity) the host printed for this check. A second
        check that is known to warn (and reads no Hub: a CPU endpoint) marks the end of the first one's output."""
        before = len(self.host.log_lines())
        _, failures = self.host.check(URN, {}, news)
        self.host.check(URN, {}, MARKER)
        lines = self.host.wait_for_line(MARKER_WARNING, before)[:-1]
        warnings = [line.removeprefix("hf-endpoints: warning: ") for line in lines
                    if line.startswith("hf-endpoints: warning: ")]
        notes = [line.removeprefix("hf-endpoints: ") for line in lines if line.startswith("hf-endpoints: endpoints.")]
        return failures, warnings, notes

    def close(self) -> None:
        self.host.close()


@pytest.fixture
def checker(emulator, tmp_path):
    checker = Checker(emulator, tmp_path / "cache")
    yield checker
    checker.close()


def hub_calls(emulator) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in emulator.calls() if not c["path"].startswith("/v2/")]


LLAMA_A10G = 'endpoints.llm.instance_type: "nvidia-a10g/x1" has 24 GB of GPU memory but ' + LLAMA
CONTEXT = "KV cache 1.3 GB for 4096 tokens + CUDA context and prefill 3.7 GB"
TOO_BIG = (f"{LLAMA_A10G} needs about 146.2 GB (weights 141.1 GB + {CONTEXT}); use nvidia-a100/x2 (2 x 80 GB, "
           "$5.00/h), the cheapest in aws/us-east-1 that fits; no QUANTIZE fits it on nvidia-a10g/x1 (even "
           "bitsandbytes-nf4 needs about 40.4 GB)")


@pytest.mark.parametrize(("news", "failures", "warnings"), [
    (spec(), [("instance_type", TOO_BIG)], []),
    (spec(env={"QUANTIZE": "bitsandbytes-nf4"}),
     [("instance_type", f"{LLAMA_A10G} needs about 40.4 GB (weights 35.3 GB + {CONTEXT}); use nvidia-l40s/x1 "
                        "(1 x 48 GB, $1.80/h), the cheapest in aws/us-east-1 that fits")], []),
    (spec(instance="nvidia-l40s/x1", env={"QUANTIZE": "bitsandbytes-nf4"}), [], []),
    (spec(instance="nvidia-a100/x2"), [],
     [f'endpoints.llm.instance_type: "nvidia-a100/x2" is tight: {LLAMA} needs about 75.0 GB of the 80 GB of each '
      "of its 2 GPUs (94%; weights 70.6 GB + KV cache 0.7 GB for 4096 tokens + CUDA context and prefill 3.7 GB); "
      "TGI may run out of memory under load. Lower MAX_BATCH_TOTAL_TOKENS/MAX_TOTAL_TOKENS, or pick an instance "
      "with more GPU memory"]),
    (spec(instance="nvidia-a100/x1", env={"QUANTIZE": "eetq"}), [],
     [f'endpoints.llm.instance_type: "nvidia-a100/x1" is tight: {LLAMA} needs about 75.6 GB of its 80 GB (95%; '
      f"weights 70.6 GB + {CONTEXT}); TGI may run out of memory under load. Lower "
      "MAX_BATCH_TOTAL_TOKENS/MAX_TOTAL_TOKENS, or pick an instance with more GPU memory"]),
    (spec(custom_image=None), [("instance_type", TOO_BIG)], []),
    ({"__provider": ENDPOINT_PROVIDER, **local_jais(), "name": "llm", "namespace": "local"}, [], []),
    (spec(revision="v9.9"), [("revision", f'endpoints.llm.revision: "v9.9" does not exist in {LLAMA} (the Hub at '
                                          "{hub} says so); use a commit sha, branch or tag of that repository, or "
                                          "remove `revision` for the latest")], []),
    (spec("core42/jais-13b-chat"), [],
     ["endpoints.llm.instance_type: GPU memory fit not checked: the repository has no safetensors metadata "
      "(parameter counts). The preview goes on without it; `python -m providers.fit core42/jais-13b-chat` tells "
      "where it fits"]),
], ids=["70b-bf16-on-a10g", "70b-nf4-on-a10g", "70b-nf4-on-l40s", "70b-bf16-on-2xa100-tight", "70b-int8-on-a100-tight",
        "default-image-text-generation", "jais-local-stack-on-a10g", "unknown-revision", "no-safetensors"])
def test_check_estimates_gpu_memory(checker, emulator, news, failures, warnings):
    emulator.clear_calls()
    found, printed = checker.check(news)
    assert found == [(key, reason.replace("{hub}", emulator.base_url)) for key, reason in failures]
    assert printed == warnings


def test_the_tutorial_model_fits_one_a10g_with_the_numbers(checker, emulator):
    """jais-13b-chat, 8-bit: 13.02 GB of weights + 1.68 GB of KV cache (2048 tokens) + 1.49 GB, of 24 GB."""
    from providers import engines, fit
    from providers.engines import tgi

    facts = fit.ModelFacts(JAIS, builtin_sha(JAIS), {"F32": 13_020_763_960}, emulator.request(
        "GET", f"/{JAIS}/resolve/main/config.json", token=emulator.token))
    needed = tgi.estimate(facts, local_jais()["env"], 1)
    assert (needed.weights, needed.kv_cache, needed.activations, needed.total) == (
        13_020_763_960, 1_677_721_600, 989_851_648, 16_188_337_208)
    inputs = {**local_jais(), "name": "jais-13b-chat", "namespace": "local"}
    assert engines.verdict("endpoints.jais-13b-chat", engines.serving_engine(inputs), engines.serving_spec(inputs),
                           facts) == fit.Verdict(capacity=(
        "nvidia-a10g/x1 holds 5 concurrent sequence(s) of 2048 tokens in its KV cache (TGI, $0.200/h per sequence)"))


def test_facts_are_read_once_then_from_the_disk_cache(checker, emulator, tmp_path):
    """The first check asks the Hub (model info, then config.json); the second asks nothing, nor does a new
    provider host process with the same cache."""
    fits = spec(instance="nvidia-l40s/x1", env={"QUANTIZE": "bitsandbytes-nf4"})
    emulator.clear_calls()
    assert checker.check(fits) == ([], [])
    sha = builtin_sha(LLAMA)
    assert hub_calls(emulator) == [("GET", f"/api/models/{LLAMA}"), ("HEAD", f"/{LLAMA}/resolve/{sha}/config.json"),
                                   ("GET", f"/{LLAMA}/resolve/{sha}/config.json")]
    emulator.clear_calls()
    assert checker.check(fits) == ([], [])
    other = Checker(emulator, checker.cache)
    try:
        failures, _ = other.check(spec())
    finally:
        other.close()
    assert [key for key, _ in failures] == ["instance_type"]  # the estimate still runs, from the cache
    assert emulator.calls() == []


@pytest.mark.parametrize(("hub", "token", "warning"), [
    ("offline", "emulator", f"could not read {LLAMA} on {OFFLINE} (ConnectError: [Errno 111] Connection refused)"),
    ("emulator", None, f"{LLAMA} on {{hub}} is gated and this token has no access (accept its conditions on the "
                       "Hub, or use a token that has)"),
], ids=["offline", "gated"])
def test_facts_that_cannot_be_had_warn_and_the_check_goes_on(emulator, tmp_path, hub, token, warning):
    hub_url = OFFLINE if hub == "offline" else emulator.base_url
    checker = Checker(emulator, tmp_path / "cache", hub_url=hub_url, token=token)
    try:
        failures, warnings = checker.check(spec())
    finally:
        checker.close()
    assert failures == []
    assert warnings == [f"endpoints.llm.instance_type: GPU memory fit not checked: "
                        f"{warning.replace('{hub}', emulator.base_url)}. The preview goes on without it; "
                        f"`python -m providers.fit {LLAMA}` tells where it fits"]
    assert not (tmp_path / "cache").exists()  # nothing cached: the next preview asks again


@pytest.mark.parametrize("unknown", ["instance_type", "repository", "revision", "env"])
def test_preview_unknowns_skip_the_estimate(checker, emulator, unknown):
    emulator.clear_calls()
    assert checker.check(spec(**{unknown: UNKNOWN})) == ([], [])
    assert emulator.calls() == []


def test_an_image_no_engine_publishes_is_not_estimated(checker, emulator):
    """A custom image of unknown make has no memory model and no token limits: nothing to ask the Hub."""
    emulator.clear_calls()
    assert checker.check(spec(custom_image={"url": "registry.example/my-server:1", "port": 8000})) == ([], [])
    assert emulator.calls() == []


LLAMA_8B = "meta-llama/Llama-3.1-8B-Instruct"  # built in: 8,030,261,248 BF16 parameters, 32 heads, 8 KV heads
GGUF = "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"  # built in: a Q4_K_M and a Q8_0 file, headers by range
PROMPT = "Classify the sentiment of this sentence as positive, negative or neutral"  # 11 words


def engine_spec(repository: str, instance: str, engine: dict, **changes: object) -> dict:
    return spec(repository, instance, custom_image=None, engine=engine, **changes)


@pytest.mark.parametrize(("news", "failures", "warnings", "notes"), [
    (engine_spec(LLAMA_8B, "nvidia-l4/x4", {"vllm": {"tensor_parallel_size": 4}}), [], [],
     ["endpoints.llm: nvidia-l4/x4 holds 3 concurrent sequence(s) of 131072 tokens in its KV cache (vLLM, "
      "$1.267/h per sequence)"]),
    (engine_spec(LLAMA_8B, "nvidia-l4/x4", {"vllm": {"tensor_parallel_size": 3}}),
     [("engine", "endpoints.llm.engine.vllm.tensor_parallel_size: 3 does not divide the 32 attention heads of "
                 f"{LLAMA_8B}; use a divisor of 32 up to the instance's GPUs: 1, 2, 4 (with data_parallel_size for "
                 "the other GPUs)")],
     ["endpoints.llm.engine.vllm.tensor_parallel_size: 3 gives 3 GPU(s) (tensor_parallel_size x data_parallel_size "
      "= 3 x 1) but nvidia-l4/x4 has 4: 1 GPU(s) would sit idle and still be billed; set tensor_parallel_size: 4 (or "
      "data_parallel_size: 4, one model copy per GPU), or pick an instance with 3 GPU(s)"], []),
    (engine_spec(LLAMA, "nvidia-a10g/x1", {"vllm": {}}),
     [("instance_type", 'endpoints.llm.instance_type: "nvidia-a10g/x1" has 24 GB of GPU memory, of which vLLM uses '
                        f"92% (22.1 GB) but {LLAMA} needs about 185.2 GB (weights 141.1 GB + KV cache 42.9 GB for "
                        "131072 tokens + CUDA context and activations 1.2 GB); no context length fits (the weights "
                        "and activations alone take more than it may use); use nvidia-a100/x4 (4 x 80 GB, "
                        "$10.00/h), the cheapest in aws/us-east-1 that fits")], [], []),
    (engine_spec(LLAMA_8B, "nvidia-l4/x1", {"vllm": {}}),
     [("instance_type", 'endpoints.llm.instance_type: "nvidia-l4/x1" has 24 GB of GPU memory, of which vLLM uses '
                        f"92% (22.1 GB) but {LLAMA_8B} needs about 34.1 GB (weights 16.1 GB + KV cache 17.2 GB for "
                        "131072 tokens + CUDA context and activations 0.9 GB); based on the available memory, the "
                        "estimated maximum model length is 38996 (of the 131072 it serves); use nvidia-l40s/x1 "
                        "(1 x 48 GB, $1.80/h), the cheapest in aws/us-east-1 that fits; or keep nvidia-l4/x1 with "
                        "args [--max-model-len, 38996]")], [], []),
    (engine_spec(LLAMA_8B, "nvidia-l4/x1", {"vllm": {}}, args=["--max-model-len", "8192"]), [], [],
     ["endpoints.llm: nvidia-l4/x1 holds 4 concurrent sequence(s) of 8192 tokens in its KV cache (vLLM, $0.200/h "
      "per sequence)"]),
    (engine_spec(GGUF, "nvidia-l4/x1", {"llamacpp": {}}),
     [("engine", f"endpoints.llm.engine.llamacpp.model_path: missing {GGUF} has 2 GGUF files and none is chosen; set "
                 "model_path to one of its GGUF files (Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf, "
                 "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf), or variant to a glob of one")], [], []),
    (engine_spec(GGUF, "nvidia-l4/x1", {"llamacpp": {"variant": "*Q5_K_M.gguf"}}),
     [("engine", f'endpoints.llm.engine.llamacpp.variant: "*Q5_K_M.gguf" matches no GGUF file of {GGUF}; set '
                 "model_path to one of its GGUF files (Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf, "
                 "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf), or variant to a glob of one")], [], []),
    (engine_spec(GGUF, "nvidia-l4/x1", {"llamacpp": {"variant": "*Q4_K_M.gguf", "ctx_size": 8192,
                                                     "n_parallel": 2}}), [], [],
     ["endpoints.llm: nvidia-l4/x1 holds 2 concurrent sequence(s) of 4096 tokens in its KV cache (llama.cpp, "
      "$0.400/h per sequence)"]),
    (engine_spec("BAAI/bge-base-en-v1.5", "intel-spr/x1", {"tei": {"max_batch_tokens": 65536}}, accelerator="cpu",
                 task="feature-extraction"),
     [("instance_type", 'endpoints.llm.instance_type: "intel-spr/x1" has 2 GB of RAM but BAAI/bge-base-en-v1.5 needs '
                        "about 2.2 GB (weights 0.4 GB + batch 1.8 GB); use intel-spr/x2 (4 GB of RAM, $0.07/h), the "
                        "cheapest in aws/us-east-1 that fits")], [], []),
    (engine_spec("BAAI/bge-base-en-v1.5", "intel-spr/x2", {"tei": {}}, accelerator="cpu", task="feature-extraction"),
     [], [], []),
    (engine_spec(GGUF, "intel-spr/x4", {"llamacpp": {"variant": "*Q8_0.gguf", "ctx_size": 4096}}, accelerator="cpu"),
     [("instance_type", f'endpoints.llm.instance_type: "intel-spr/x4" has 8 GB of RAM but {GGUF} needs about 9.2 GB '
                        "(weights 8.5 GB + KV cache 0.5 GB for 4096 tokens + compute buffer 0.1 GB); no context "
                        "length fits (the weights and activations alone take more than it may use); use intel-spr/x8 "
                        "(16 GB of RAM, $0.27/h), the cheapest in aws/us-east-1 that fits")], [], []),
], ids=["vllm-tp4-on-4xl4-capacity", "vllm-tp-must-divide-heads", "vllm-70b-on-a10g-no-context-fits",
        "vllm-8b-full-context-on-l4", "vllm-8b-8k-on-l4", "llamacpp-two-gguf-files", "llamacpp-variant-matches-none",
        "llamacpp-q4-on-l4", "tei-on-cpu-over-its-ram", "tei-on-cpu-fits", "llamacpp-q8-on-cpu-over-its-ram"])
def test_engine_rules_on_the_models_facts(checker, emulator, news, failures, warnings, notes):
    """tensor_parallel_size against the heads, llama.cpp's GGUF file, and each engine's memory model with its
    capacity, through the real provider host with facts from the emulator's Hub."""
    assert checker.check_all(news) == (failures, warnings, notes)


@pytest.mark.parametrize(("news", "failure"), [
    ({**spec(custom_image=TGI_IMAGE_1), "env": {"MAX_INPUT_LENGTH": "10", "MAX_TOTAL_TOKENS": "64"},
      "smoke_test": {"prompt": PROMPT}},
     ("smoke_test", "endpoints.llm.smoke_test.prompt: (11 words) has at least 11 tokens (one per word), more than "
                    "the 10 TGI accepts (the endpoint's MAX_INPUT_LENGTH/MAX_TOTAL_TOKENS); the smoke test could "
                    "never pass; shorten the prompt, or raise the engine's input limit")),
    ({**spec(custom_image=TGI_IMAGE_1), "env": {"MAX_INPUT_LENGTH": "20", "MAX_TOTAL_TOKENS": "64"},
      "smoke_test": {"prompt": PROMPT, "max_new_tokens": 60}},
     ("smoke_test", "endpoints.llm.smoke_test.max_new_tokens: 60 plus the prompt's at least 11 tokens is more than "
                    "the 64 TGI allows per request (the endpoint's MAX_INPUT_LENGTH/MAX_TOTAL_TOKENS); the smoke "
                    "test could never pass; lower max_new_tokens to 53 or less")),
    ({**spec(custom_image=TGI_IMAGE_1), "env": {}, "smoke_test": {"prompt": " ".join(["w"] * 1025)}},
     ("smoke_test", "endpoints.llm.smoke_test.prompt: (1025 words) has at least 1025 tokens (one per word), more "
                    "than the 1024 TGI accepts (the endpoint's MAX_INPUT_LENGTH/MAX_TOTAL_TOKENS); the smoke test "
                    "could never pass; shorten the prompt, or raise the engine's input limit")),
    (engine_spec(LLAMA_8B, "nvidia-l4/x1", {"vllm": {}}, args=["--max-model-len", "64"],
                 smoke_test={"prompt": PROMPT, "max_new_tokens": 60}),
     ("smoke_test", "endpoints.llm.smoke_test.max_new_tokens: 60 plus the prompt's at least 11 tokens is more than "
                    "the 64 vLLM allows per request (max_model_len (--max-model-len, else the model's context "
                    "length)); the smoke test could never pass; lower max_new_tokens to 53 or less")),
], ids=["tgi-prompt-over-max-input", "tgi-reply-over-total", "tgi-1x-default-input-limit", "vllm-over-max-model-len"])
def test_a_smoke_test_that_cannot_pass_fails_the_preview(checker, news, failure):
    """Counted from below (a token per word), so a refused smoke test could never have passed."""
    failures, _warnings = checker.check(news)
    assert failures == [failure]


def test_the_capacity_is_said_for_a_new_or_changed_spec_only(checker):
    """On every preview of an unchanged stack the same line per endpoint would bury what changed."""
    news = engine_spec(LLAMA_8B, "nvidia-l4/x1", {"vllm": {}}, args=["--max-model-len", "8192"])
    start = len(checker.host.log_lines())
    inputs, _ = checker.host.check(URN, {}, news)
    checker.host.check(URN, {}, MARKER)
    first = checker.host.wait_for_line(MARKER_WARNING, start)
    assert [line for line in first if "concurrent sequence" in line] != []
    before = len(checker.host.log_lines())
    checker.host.check(URN, inputs, news)
    checker.host.check(URN, {}, MARKER)
    lines = checker.host.wait_for_line(MARKER_WARNING, before)[:-1]
    assert [line for line in lines if "concurrent sequence" in line] == []
