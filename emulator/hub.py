"""The Hugging Face Hub routes that `huggingface_hub` 2.4.0 uses to read a model's facts, served at the emulator's
base URL (so `HF_ENDPOINT` / `hubUrl` = that URL):

* `GET /api/models/{repo_id}` and `GET /api/models/{repo_id}/revision/{revision}` (`HfApi.model_info`,
  `HfApi.repo_info`), with `expand=...` (only those properties, plus `_id` and `id`) and `blobs=true`
  (`files_metadata`: sibling sizes, blob ids and LFS data);
* `HEAD|GET /{repo_id}/resolve/{revision}/{filename}` (`hf_hub_download` and its metadata request), for
  `config.json`: `X-Repo-Commit`, `ETag` (the git blob id, quoted), `Content-Length`; any other file is
  `EntryNotFound` (the emulator has no weights).

Errors carry the headers `hf_raise_for_status` maps to typed exceptions: `X-Error-Code: RepoNotFound` (401
anonymous, 404 with a token: `RepositoryNotFoundError`), `RevisionNotFound` (404: `RevisionNotFoundError`),
`EntryNotFound` (404: `RemoteEntryNotFoundError`), `GatedRepo` (401 anonymous, 403 with a token:
`GatedRepoError`), and `X-Error-Message`. An unknown token is a 401 "Invalid credentials in Authorization
header", as the Hub answers. Revisions: `main` or the repository's sha; anything else is RevisionNotFound.

Like the Hub, `model_info` of a gated repository answers (its metadata is public) and `config` there is the
Hub's summary (`architectures`, `model_type`, `quantization_config`); the full `config.json` is a download,
which a gated repository refuses to users without access.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
SHA = re.compile(r"[0-9a-f]{40}")
DTYPE = re.compile(r"[A-Z][A-Z0-9_]*")
DTYPE_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2, "U16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
SHARD_BYTES = 5_000_000_000  # transformers' default max_shard_size
EXPANDABLE = frozenset({
    "author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt", "disabled", "downloads",
    "downloadsAllTime", "evalResults", "gated", "gguf", "inference", "inferenceProviderMapping", "lastModified",
    "library_name", "likes", "mask_token", "model-index", "pipeline_tag", "private", "resourceGroup",
    "safetensors", "sha", "siblings", "spaces", "tags", "transformersInfo", "trendingScore", "usedStorage",
    "widgetData"})  # huggingface_hub's ExpandModelProperty_T


@dataclass(frozen=True)
class HubModel:
    """One repository: its commit, safetensors metadata (None: no safetensors weights), config.json, and
    gating (`gated` False, "auto" or "manual"; `granted` the users with access, None meaning every known user)."""

    repo_id: str
    sha: str
    config: dict | None  # None: the repository has no config.json (a GGUF repository)
    safetensors: dict | None
    gated: bool | str = False
    granted: frozenset[str] | None = field(default=None)
    gguf: dict[str, int] | None = None  # GGUF file name -> size; their headers carry `gguf_metadata`
    gguf_metadata: dict | None = None

    def config_bytes(self) -> bytes:
        return (json.dumps(self.config, indent=2) + "\n").encode()

    def files(self) -> list[dict]:
        """The repository's files as `siblings` with `blobs=true` shows them. Weight files are named and sized
        as `save_pretrained` would write them (sizes from the parameter counts; ids derived, not real)."""
        out = []
        if self.config is not None:
            content = self.config_bytes()
            out.append({"rfilename": "config.json", "size": len(content), "blobId": git_blob_id(content)})
        for name, size in (self.gguf or {}).items():
            digest = hashlib.sha256(f"{self.repo_id}@{self.sha}/{name}".encode()).hexdigest()
            out.append({"rfilename": name, "size": size, "blobId": digest[:40],
                        "lfs": {"size": size, "sha256": digest, "pointerSize": 135}})
        if self.safetensors:
            size = sum(n * DTYPE_BYTES.get(d, 2) for d, n in self.safetensors["parameters"].items())
            count = max(1, math.ceil(size / SHARD_BYTES))
            names = (["model.safetensors"] if count == 1 else
                     [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)])
            for i, name in enumerate(names):
                part = size // count + (1 if i < size % count else 0)
                digest = hashlib.sha256(f"{self.repo_id}@{self.sha}/{name}".encode()).hexdigest()
                out.append({"rfilename": name, "size": part, "blobId": digest[:40],
                            "lfs": {"size": part, "sha256": digest, "pointerSize": 135}})
            if count > 1:
                index = json.dumps({"metadata": {"total_size": size}}).encode()
                out.append({"rfilename": "model.safetensors.index.json", "size": len(index),
                            "blobId": git_blob_id(index)})
        return out

    def pipeline_tag(self) -> str:
        return "feature-extraction" if (self.config or {}).get("model_type") == "bert" else "text-generation"

    def serving_config(self) -> dict | None:
        """What a container reads of the model: config.json, or a GGUF file's architecture keys under its names."""
        if self.config is not None:
            return dict(self.config)
        meta = self.gguf_metadata or {}
        arch = meta.get("general.architecture")
        if not arch:
            return None
        return {"max_position_embeddings": meta.get(f"{arch}.context_length"),
                "hidden_size": meta.get(f"{arch}.embedding_length")}

    def gguf_header(self) -> bytes:
        """The first bytes of every GGUF file of the repository: its metadata keys (no tensors, no vocabulary)."""
        return gguf_header(self.gguf_metadata or {})

    def info(self, expand: list[str], blobs: bool) -> dict:
        """The `GET /api/models/...` body: every property, or `_id`, `id` and the expanded ones."""
        summary = {k: self.config[k] for k in ("architectures", "model_type", "quantization_config")
                   if k in (self.config or {})}
        files = self.files()
        props: dict[str, Any] = {
            "author": self.repo_id.split("/")[0] if "/" in self.repo_id else None,
            "sha": self.sha, "private": False, "disabled": False, "gated": self.gated,
            "library_name": "gguf" if self.gguf else "transformers",
            "pipeline_tag": self.pipeline_tag(),
            "tags": ["gguf"] if self.gguf else ["transformers", "safetensors" if self.safetensors else "pytorch",
                                                 self.pipeline_tag()],
            "downloads": 0, "likes": 0, "config": summary, "spaces": [],
            "siblings": files if blobs else [{"rfilename": f["rfilename"]} for f in files],
            "usedStorage": sum(f["size"] for f in files),
        }
        if self.safetensors:
            props["safetensors"] = self.safetensors
        head = {"_id": hashlib.sha1(self.repo_id.encode()).hexdigest()[:24], "id": self.repo_id}
        if expand:
            return {**head, **{k: props[k] for k in expand if k in props}}
        return {**head, "modelId": self.repo_id, **props}


def gguf_header(metadata: dict) -> bytes:
    """A GGUF v3 header (ggml `docs/gguf.md`): magic, version, 0 tensors, the metadata keys (strings as type 8,
    whole numbers as uint32, type 4)."""
    def text(value: str) -> bytes:
        data = value.encode()
        return struct.pack("<Q", len(data)) + data

    out = b"GGUF" + struct.pack("<IQQ", 3, 0, len(metadata))
    for key, value in metadata.items():
        out += text(key) + (struct.pack("<I", 8) + text(value) if isinstance(value, str)
                            else struct.pack("<II", 4, int(value)))
    return out


def git_blob_id(content: bytes) -> str:
    """The git object id of a file: what the Hub sends as the ETag of a file kept in git (not LFS)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def builtin_sha(repo_id: str) -> str:
    """The emulator's own commit id for a built-in repository. NOT the repository's real commit (none is known
    here): derived from the id so that it is stable and cannot be mistaken for a value read from the Hub."""
    return hashlib.sha1(f"hf-endpoints emulator commit of {repo_id}".encode()).hexdigest()


# ------------------------------------------------------------------------------------------- built-in facts
# Sources (the Hub itself is not reachable from here, so each figure says where it comes from):
# * derek-thomas/jais-13b-chat-hf (the stack files' model; the tutorial says it is core42/jais-13b-chat with
#   the weights merged into safetensors). config.json: the Jais paper (arXiv 2308.16149: 40 layers, 40 heads,
#   d_model 5120, vocabulary 84,992, 2048-token context, SwiGLU, ALiBi) and Jais's modeling code (GPT-2 style
#   biased linears, SwiGLU with `n_inner` = 8/3 x 5120 -> 13653, ALiBi slopes as a 40-value parameter, no position
#   embedding, tied lm_head). The parameter count is COMPUTED from that architecture (13,020,763,960), not read
#   from the Hub's safetensors metadata, which the searchable corpora do not hold; the model card rounds it to
#   13B. dtype F32: the original config.json says torch_dtype float32 and the tutorial's author sizes the
#   weights at ~52 GB at full precision (13B x 4 bytes).
# * core42/jais-13b-chat: the same config; it ships PyTorch .bin weights only (the reason the tutorial made the
#   -hf copy), so it has no safetensors metadata: the "facts cannot be had" path.
# * meta-llama/Llama-3.1-70B-Instruct and meta-llama/Llama-3.1-8B-Instruct: config.json as published (80/32
#   layers, 64/32 heads, 8 KV heads, hidden 8192/4096, intermediate 28672/14336, vocabulary 128256, 131072
#   positions, bfloat16); BF16 parameter counts 70,553,706,496 and 8,030,261,248 (the Hub's "70.6B"/"8.03B"),
#   which the architecture reproduces exactly. Gated ("manual") as on the Hub; every emulated user has access.
# * openai-community/gpt2 (alias gpt2): config.json as published (12 layers, 12 heads, n_embd 768, vocabulary
#   50257, 1024 positions); F32 137,022,720 parameters in model.safetensors (124,439,808 weights plus the 12
#   stored 1024x1024 attention-mask buffers; the Hub shows "137M").

# Only the keys the sources above support (the real file has more, e.g. muP scales, that no estimate needs).
_JAIS_CONFIG = {
    "activation_function": "swiglu", "architectures": ["JAISLMHeadModel"], "model_type": "jais", "n_embd": 5120,
    "n_head": 40, "n_inner": 13653, "n_layer": 40, "n_positions": 2048, "position_embedding_type": "alibi",
    "torch_dtype": "float32", "vocab_size": 84992,
}


def _llama(layers: int, heads: int, hidden: int, intermediate: int) -> dict:
    return {"architectures": ["LlamaForCausalLM"], "attention_bias": False, "bos_token_id": 128000,
            "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu", "hidden_size": hidden,
            "intermediate_size": intermediate, "max_position_embeddings": 131072, "model_type": "llama",
            "num_attention_heads": heads, "num_hidden_layers": layers, "num_key_value_heads": 8,
            "rms_norm_eps": 1e-05, "rope_theta": 500000.0, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16", "vocab_size": 128256}


_BGE_CONFIG = {"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 768, "intermediate_size": 3072,
               "num_attention_heads": 12, "num_hidden_layers": 12, "max_position_embeddings": 512,
               "vocab_size": 30522, "type_vocab_size": 2, "torch_dtype": "float32"}
# GGUF: the metadata keys llama.cpp writes for Llama 3.1 8B, and the two files' sizes computed from the 8,030,261,248
# parameters at llama.cpp's bits per weight (Q4_K_M 4.85, Q8_0 8.5), not read from the Hub.
_LLAMA_8B_GGUF = {"general.architecture": "llama", "general.name": "Meta Llama 3.1 8B Instruct",
                  "llama.block_count": 32, "llama.context_length": 131072, "llama.embedding_length": 4096,
                  "llama.feed_forward_length": 14336, "llama.attention.head_count": 32,
                  "llama.attention.head_count_kv": 8, "llama.vocab_size": 128256}
_LLAMA_8B_GGUF_FILES = {"Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf": 8_030_261_248 * 485 // 800,
                        "Meta-Llama-3.1-8B-Instruct-Q8_0.gguf": 8_030_261_248 * 85 // 80}

_GPT2_CONFIG = {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
                "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024, "vocab_size": 50257}


def _builtin(repo_id: str, config: dict, params: dict[str, int] | None, gated: bool | str = False) -> HubModel:
    st = {"parameters": params, "total": sum(params.values())} if params else None
    return HubModel(repo_id, builtin_sha(repo_id), config, st, gated)


BUILTIN: dict[str, HubModel] = {m.repo_id: m for m in (
    _builtin("derek-thomas/jais-13b-chat-hf", _JAIS_CONFIG, {"F32": 13_020_763_960}),
    _builtin("core42/jais-13b-chat", _JAIS_CONFIG, None),
    _builtin("meta-llama/Llama-3.1-70B-Instruct", _llama(80, 64, 8192, 28672), {"BF16": 70_553_706_496}, "manual"),
    _builtin("meta-llama/Llama-3.1-8B-Instruct", _llama(32, 32, 4096, 14336), {"BF16": 8_030_261_248}, "manual"),
    _builtin("openai-community/gpt2", _GPT2_CONFIG, {"F32": 137_022_720}),
    _builtin("BAAI/bge-base-en-v1.5", _BGE_CONFIG, {"F32": 109_482_240}),
    HubModel("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", builtin_sha("bartowski/Meta-Llama-3.1-8B-Instruct-GGUF"),
             None, None, gguf=_LLAMA_8B_GGUF_FILES, gguf_metadata=_LLAMA_8B_GGUF),
    _builtin("gpt2", _GPT2_CONFIG, {"F32": 137_022_720}),
)}


# ------------------------------------------------------------------------------------------ --hub-models FILE

class HubModelsError(Exception):
    """The `--hub-models` file is unusable; the message says where and why, in one line."""


def _check_model(repo_id: str, d: Any) -> HubModel:
    where = f"{repo_id!r}"
    if not REPO_ID.fullmatch(repo_id):
        raise HubModelsError(f"{where} is not a repository id (owner/name)")
    if not isinstance(d, dict):
        raise HubModelsError(f"{where} must map to an object with sha, safetensors and config")
    unknown = sorted(set(d) - {"sha", "safetensors", "config", "gated", "granted"})
    if unknown:
        raise HubModelsError(f"{where} has unknown keys {unknown} (known: sha, safetensors, config, gated, granted)")
    for key in ("sha", "safetensors", "config"):
        if key not in d:
            raise HubModelsError(f"{where} is missing {key!r}")
    if not isinstance(d["sha"], str) or not SHA.fullmatch(d["sha"]):
        raise HubModelsError(f"{where}.sha must be a 40-hex lowercase commit id, got {d['sha']!r}")
    if not isinstance(d["config"], dict):
        raise HubModelsError(f"{where}.config must be the config.json object")
    st = d["safetensors"]
    if st is not None:
        if not isinstance(st, dict) or set(st) != {"parameters", "total"} or not isinstance(st["parameters"], dict):
            raise HubModelsError(f'{where}.safetensors must be {{"parameters": {{"<DTYPE>": <count>}}, "total": '
                                 "<n>} (or null: no safetensors weights)")
        for dtype, n in st["parameters"].items():
            if not DTYPE.fullmatch(dtype):
                raise HubModelsError(f"{where}.safetensors.parameters: {dtype!r} is not a dtype such as BF16")
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise HubModelsError(f"{where}.safetensors.parameters.{dtype} must be a positive integer")
        total = st["total"]
        if isinstance(total, bool) or not isinstance(total, int) or total != sum(st["parameters"].values()):
            raise HubModelsError(f"{where}.safetensors.total is {total!r} but the parameters add up to "
                                 f"{sum(st['parameters'].values())}")
    gated = d.get("gated", False)
    if gated is True:
        gated = "manual"
    if gated not in (False, "auto", "manual"):
        raise HubModelsError(f'{where}.gated must be false, true, "auto" or "manual"')
    granted = d.get("granted", [])
    if not isinstance(granted, list) or not all(isinstance(u, str) for u in granted):
        raise HubModelsError(f"{where}.granted must be a list of user names")
    return HubModel(repo_id, d["sha"], d["config"], st, gated, frozenset(granted) if gated else None)


def load_models(path: str) -> dict[str, HubModel]:
    """Read and check a `--hub-models` file: `{"<repo id>": {"sha", "safetensors", "config", "gated"?,
    "granted"?}}`. A gated repository (`"gated": true`) grants access to the users in `granted` only."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        raise HubModelsError(f"cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise HubModelsError(f"not JSON ({e})") from None
    if not isinstance(data, dict):
        raise HubModelsError("expected a JSON object mapping repository ids to models")
    return {repo_id: _check_model(repo_id, d) for repo_id, d in data.items()}


# ------------------------------------------------------------------------------------------------- routes

RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def _error(status: int, code: str | None, message: str, head: bool = False) -> Response:
    """The Hub's error answer. The message goes into a header too, escaped (`\\x00`): it may carry what the request
    said (`Invalid rev id: ma\\x00in`), and a NUL in a header value made the server drop the connection."""
    headers = {"X-Error-Message": message.encode("unicode_escape").decode("ascii")}
    if code:
        headers["X-Error-Code"] = code
    if head:
        return Response(status_code=status, headers=headers)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class Hub:
    """The Hub route handlers. `models` maps repository ids to facts; `identify` maps an Authorization header to
    the identity dict (`user`, ...) or None."""

    def __init__(self, models: dict[str, HubModel], identify: Callable[[str | None], dict | None]):
        self.models, self.identify = models, identify

    def _access(self, request: Request, repo_id: str, head: bool,
                files: bool) -> tuple[HubModel | None, Response | None]:
        """The model if the caller may read it, else the Hub's error answer."""
        auth = request.headers.get("authorization")
        identity = self.identify(auth)
        if auth and identity is None:
            return None, _error(401, None, "Invalid credentials in Authorization header", head)
        model = self.models.get(repo_id)
        if model is None:
            return None, _error(404 if identity else 401, "RepoNotFound", "Repository not found", head)
        allowed = identity is not None and (model.granted is None or identity["user"] in model.granted)
        if files and model.gated and not allowed:
            if identity is None:
                return None, _error(401, "GatedRepo", f"Access to model {repo_id} is restricted. You must have "
                                                      "access to it and be authenticated to access it.", head)
            return None, _error(403, "GatedRepo", f"Access to model {repo_id} is restricted and you are not in "
                                                  "the authorized list.", head)
        return model, None

    @staticmethod
    def _revision_error(model: HubModel, revision: str, head: bool) -> Response | None:
        if revision in ("main", model.sha):
            return None
        return _error(404, "RevisionNotFound", f"Invalid rev id: {revision}", head)

    async def model_info(self, request: Request) -> Response:
        """`GET /api/models/{repo_id}[/revision/{revision}]`."""
        rest = request.path_params["rest"]
        repo_id, sep, revision = rest.partition("/revision/")
        model, error = self._access(request, repo_id, False, files=False)
        if error is not None:
            return error
        assert model is not None
        if sep and (error := self._revision_error(model, unquote(revision), False)):
            return error
        expand = request.query_params.getlist("expand") + request.query_params.getlist("expand[]")
        unknown = [e for e in expand if e not in EXPANDABLE]
        if unknown:
            return _error(400, None, f'"expand" must be one of {sorted(EXPANDABLE)}, got {unknown}')
        blobs = request.query_params.get("blobs", "").lower() in ("1", "true")
        return JSONResponse(model.info(expand, blobs))

    @staticmethod
    def _gguf_range(request: Request, model: HubModel, filename: str, head: bool) -> Response:
        """A GGUF file: its header for a range request (`Range: bytes=A-B`, 206), as the Hub's CDN serves one; the
        emulator has no weights, so a whole download is refused (416)."""
        size = (model.gguf or {})[filename]
        headers = {"X-Repo-Commit": model.sha, "ETag": f'"{hashlib.sha256(filename.encode()).hexdigest()}"',
                   "Accept-Ranges": "bytes"}
        if head:
            return Response(status_code=200, headers={**headers, "Content-Length": str(size)})
        match = RANGE.fullmatch(request.headers.get("range", ""))
        if match is None:
            return _error(416, None, "the emulator serves GGUF files by range only (their header)")
        start, end = int(match.group(1)), min(int(match.group(2)), size - 1)
        header = model.gguf_header()
        chunk = (header + b"\0" * max(0, end + 1 - len(header)))[start:end + 1]
        return Response(chunk, status_code=206, media_type="application/octet-stream",
                        headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}"})

    async def resolve(self, request: Request) -> Response:
        """`HEAD|GET /{repo_id}/resolve/{revision}/{filename}`."""
        head = request.method == "HEAD"
        p = request.path_params
        repo_id, revision, filename = p["repo"], unquote(p["revision"]), p["filename"]
        model, error = self._access(request, repo_id, head, files=True)
        if error is not None:
            return error
        assert model is not None
        if (error := self._revision_error(model, revision, head)) is not None:
            return error
        if filename in (model.gguf or {}):
            return self._gguf_range(request, model, filename, head)
        if filename != "config.json" or model.config is None:
            response = _error(404, "EntryNotFound", "Entry not found", head)
            response.headers["X-Repo-Commit"] = model.sha
            return response
        content = model.config_bytes()
        headers = {"X-Repo-Commit": model.sha, "ETag": f'"{git_blob_id(content)}"',
                   "Content-Length": str(len(content)), "Accept-Ranges": "bytes"}
        return Response(b"" if head else content, media_type="application/json", headers=headers)
