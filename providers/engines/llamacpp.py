"""llama.cpp (its `llama-server`): typed fields, the GGUF file it serves, its memory model on GPUs and on CPUs, and
its OpenAI protocols.

**Fields** (`engine: {llamacpp: ...}`, sent in `model.image.llamacpp`): `ctx_size`, `model_path`, `n_parallel`,
`n_gpu_layers`, `threads_http`, `mode`, `pooling`, `variant` (`ctxSize`, `modelPath`, `nParallel`, `nGpuLayers`,
`threadsHttp`, `mode`, `pooling`, `variant`: contract §3.3 from [GO25] `client/models.go` and [3P-CI];
gorgias-oss/terraform-provider-huggingface's `llamacpp` block has ctx_size, model_path, n_parallel, threads_http).
`mode` is `embeddings` or `reranking` (omitted: text generation); `variant` is a glob of the GGUF file(s) to pull;
`model_path` the file to serve.

**Rules**: llama.cpp serves one GGUF file. The repository's files (the Hub's listing, through huggingface_hub) must
hold one that `model_path` names, or that `variant` matches, or, with neither, exactly one (multimodal projector
files `mmproj*` aside; a split file's parts `-0000N-of-0000M.gguf` count as one). A smoke test needs text
generation: not with `mode` set.

**Memory**, per GPU (on a CPU instance, of RAM):

    needed = GGUF file size x offloaded share + KV cache + CUDA context (GPU) + compute buffer
    KV cache = ctx_size x 2 x layers x KV heads x head size x 2 bytes   (f16 K and V, llama.cpp's default)

`ctx_size` is the server's whole context, which `--parallel` (`n_parallel`) slots share: with an explicit
`--parallel N` each slot gets ctx_size / N; unset, llama-server runs 4 slots on one unified cache, each free to use
all of it (llama.cpp `src/llama-context.cpp`, `tools/server/server.cpp`, as bundled in llama-cpp-python 0.3.36). The
Inference Endpoints llama.cpp page reserves `LLAMA_ARG_CTX_SIZE` and `LLAMA_ARG_N_PARALLEL` and sizes memory as "4
requests with 1024 tokens maximum per request requires memory capacity for 4096 tokens in total": GUESS that the API
passes ctxSize and nParallel as those, so ctxSize is the total and the KV cache holds ctx_size tokens. The shapes
come from the file's own header (`general.architecture`, `<arch>.block_count`, ...: read with a range request,
`providers.gguf`), else config.json. `n_gpu_layers` below the layer count offloads that share of the
file (the rest stays in RAM). The compute buffer is taken as 2 bytes x vocabulary x 512 (llama.cpp's default
micro-batch) + 0.1 GB. Default `ctx_size`: 4096 (llama-server's default is the model's training context, which for
recent models is far more than a small instance holds; GUESS for what the API sends when unset: this project always
sends one).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from providers.engines.base import CHAT, COMPLETIONS, Engine, EngineField, Problem, ServingSpec, SmokeLimits
from providers.fit import CUDA_CONTEXT_BYTES, GB, Estimate, FactsMissing, ModelFacts, architecture

DEFAULT_CTX_SIZE = 4096
SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$")
_GO25 = "contract §3.3 ([GO25] client/models.go; [3P-CI])"
_TF = "gorgias-oss/terraform-provider-huggingface models.go llamacpp block; contract §3.3"


def gguf_files(facts: ModelFacts) -> dict[str, int]:
    """The repository's GGUF model files (name -> size, split parts summed under their first part), projectors
    aside."""
    found: dict[str, int] = {}
    for name, size in (facts.files or {}).items():
        if not name.lower().endswith(".gguf") or "mmproj" in name.rsplit("/", 1)[-1].lower():
            continue
        part = SPLIT_PART.search(name)
        key = SPLIT_PART.sub("-00001-of-" + part.group(2) + ".gguf", name) if part else name
        found[key] = found.get(key, 0) + int(size)
    return found


def chosen_file(settings: Any, facts: ModelFacts) -> tuple[str | None, str | None]:
    """(the GGUF file llama.cpp will serve, or None with why)."""
    files = gguf_files(facts)
    model_path, variant = settings.get("model_path"), settings.get("variant")
    if model_path:
        name = str(model_path).removeprefix("/repository/").lstrip("/")
        match = [f for f in files if f == name or f.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]]
        return (match[0], None) if match else (None, f"names no GGUF file of {facts.repository}")
    if variant:
        match = sorted(f for f in files if fnmatch.fnmatch(f.rsplit("/", 1)[-1], str(variant))
                       or fnmatch.fnmatch(f, str(variant)))
        if not match:
            return None, f"matches no GGUF file of {facts.repository}"
        return match[0], None
    if len(files) == 1:
        return next(iter(files)), None
    if not files:
        return None, f"{facts.repository} has no GGUF file for llama.cpp to serve"
    return None, f"{facts.repository} has {len(files)} GGUF files and none is chosen"


class LlamaCpp(Engine):
    name = "llamacpp"
    variant = "llamacpp"
    title = "llama.cpp"
    default_image = "ghcr.io/ggml-org/llama.cpp:server-cuda"
    default_port = 8080
    protocols = (CHAT, COMPLETIONS)
    image_pattern = re.compile(r"llama\.cpp|llama-cpp|llamacpp")
    tight_advice = "Lower ctx_size"
    needs_files = True
    fits_on_cpu = True
    fields = (
        EngineField("ctx_size", "ctxSize", "count", _TF, fix="e.g. 4096 (the context all slots share)"),
        EngineField("model_path", "modelPath", "text", _TF, fix="the GGUF file, e.g. /repository/model-Q4_K_M.gguf"),
        EngineField("n_parallel", "nParallel", "count", _TF, fix="e.g. 1"),
        EngineField("n_gpu_layers", "nGpuLayers", "count", _GO25, low=0, fix="e.g. 99 (all layers on the GPU)"),
        EngineField("threads_http", "threadsHttp", "count", _TF, fix="e.g. 2"),
        EngineField("mode", "mode", "choice", _GO25, choices=("embeddings", "reranking")),
        EngineField("pooling", "pooling", "choice", _GO25, choices=("none", "mean", "cls", "last", "rank")),
        EngineField("variant", "variant", "text", _GO25, fix="a glob of the GGUF file, e.g. *Q4_K_M.gguf"),
    )

    def default_url(self, compute: Any, accelerator: str | None) -> str:
        """The CUDA build on GPUs, the CPU build elsewhere (llama.cpp's published `server` images)."""
        return self.default_image if accelerator == "gpu" else "ghcr.io/ggml-org/llama.cpp:server"

    def check(self, spec: ServingSpec) -> list[Problem]:
        if spec.typed and spec.settings.get("mode") and spec.smoke_test:
            return [Problem(f"{spec.prefix(self.name)}.mode", spec.settings["mode"],
                            "serves no text generation, so the smoke test cannot run",
                            "remove smoke_test, or mode for text generation")]
        return []

    def check_facts(self, spec: ServingSpec, facts: ModelFacts) -> list[Problem]:
        if not spec.typed or facts.files is None:
            return []
        _file, why = chosen_file(spec.settings, facts)
        if why is None:
            return []
        key = "model_path" if spec.settings.get("model_path") else "variant" if spec.settings.get("variant") else None
        names = ", ".join(sorted(gguf_files(facts))[:6]) or "none"
        path = f"{spec.prefix(self.name)}.{key or 'model_path'}"
        return [Problem(path, spec.settings.get(key) if key else None, why,
                        f"set model_path to one of its GGUF files ({names}), or variant to a glob of one")]

    def metadata_file(self, spec: ServingSpec, facts: ModelFacts) -> str | None:
        """The file whose header holds the shapes (the chosen GGUF, its first part when split)."""
        return chosen_file(spec.settings, facts)[0]

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        name, why = chosen_file(spec.settings, facts)
        if name is None:
            raise FactsMissing(why or "no GGUF file")
        size = gguf_files(facts)[name]
        arch = architecture(facts.config) if not facts.gguf else architecture(facts.gguf)
        ctx = spec.settings.get("ctx_size") or DEFAULT_CTX_SIZE
        on_gpu = num_gpus >= 1
        layers = spec.settings.get("n_gpu_layers")
        share = 1.0 if not on_gpu or layers is None else min(layers, arch.layers) / arch.layers
        kv_per_token = arch.kv_bytes_per_token(16)
        buffer = 2 * arch.vocab_size * 512 + GB // 10
        return Estimate(
            engine=self.title, num_gpus=max(num_gpus, 1), weights=int(size * share), kv_cache=kv_per_token * ctx,
            cuda_context=CUDA_CONTEXT_BYTES if on_gpu else 0, activations=buffer, kv_tokens=ctx,
            kv_per_token=kv_per_token, sequence_tokens=ctx // (spec.settings.get("n_parallel") or 1),
            activation_label="compute buffer", memory="GPU" if on_gpu else "RAM", reports_max_length=True,
            fills_memory=False,
            summary=f"{name.rsplit('/', 1)[-1]}, ctx_size {ctx}, n_parallel {spec.settings.get('n_parallel') or 1}")

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        if not spec.typed:
            return None
        ctx = spec.settings.get("ctx_size") or DEFAULT_CTX_SIZE
        slots = spec.settings.get("n_parallel")
        slot = ctx // slots if slots else ctx  # unset: llama-server's auto slots share one unified cache
        return SmokeLimits(slot - 1, slot, "ctx_size / n_parallel, one slot's context" if slots else "ctx_size")


ENGINE = LlamaCpp()
