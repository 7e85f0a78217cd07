"""The Hub routes (issue 10) through the unmodified huggingface_hub client: model facts with safetensors
metadata, config.json downloads into a temporary cache, revisions, gated and missing repositories as typed
exceptions, and the `--hub-models FILE` contract."""

import json
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import (
    BadRequestError,
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from emulator import hub
from emulator.process import EmulatorProcess
from tests.test_emulator_hardening import run_emulator

SHA = "0123456789abcdef0123456789abcdef01234567"
TINY_CONFIG = {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 64,
               "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100,
               "quantization_config": {"quant_method": "awq", "bits": 4}}
FILE_MODELS = {
    "acme/tiny-awq": {"sha": SHA, "safetensors": {"parameters": {"I32": 1000, "F16": 500}, "total": 1500},
                      "config": TINY_CONFIG},
    "acme/gated": {"sha": SHA, "safetensors": {"parameters": {"BF16": 10}, "total": 10}, "config": TINY_CONFIG,
                   "gated": True, "granted": ["alice"]},
}


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    path = tmp_path_factory.mktemp("hub") / "models.json"
    path.write_text(json.dumps(FILE_MODELS))
    with EmulatorProcess(["--hub-models", str(path), "--token", "hf_alice=alice", "--token", "hf_bob=bob"]) as e:
        yield e


def api(emu, token="hf_alice"):
    return HfApi(endpoint=emu.base_url, token=token)


def download(emu, repo, tmp_path, token="hf_alice", revision=None, filename="config.json"):
    return hf_hub_download(repo, filename, revision=revision, endpoint=emu.base_url, token=token,
                           cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("repo", "parameters"),
    [
        ("derek-thomas/jais-13b-chat-hf", {"F32": 13_020_763_960}),
        ("meta-llama/Llama-3.1-70B-Instruct", {"BF16": 70_553_706_496}),
        ("meta-llama/Llama-3.1-8B-Instruct", {"BF16": 8_030_261_248}),
        ("openai-community/gpt2", {"F32": 137_022_720}),
        ("gpt2", {"F32": 137_022_720}),
        ("acme/tiny-awq", {"I32": 1000, "F16": 500}),
    ],
    ids=["jais-13b-chat-hf", "llama-70b", "llama-8b", "gpt2", "gpt2-alias", "file-model"],
)
def test_model_info_with_safetensors(emu, repo, parameters):
    """model_info(expand=[safetensors, config, sha]) as the fit estimate reads it."""
    info = api(emu).model_info(repo, expand=["safetensors", "config", "sha"])
    assert info.id == repo
    assert (info.safetensors.parameters, info.safetensors.total) == (parameters, sum(parameters.values()))
    facts = hub.BUILTIN.get(repo)
    assert info.sha == (facts.sha if facts else SHA)
    expected = {k: v for k, v in (facts.config if facts else TINY_CONFIG).items()
                if k in ("architectures", "model_type", "quantization_config")}
    assert info.config == expected  # the Hub's summary; the full config.json is a download
    assert info.siblings is None  # not expanded


def test_model_info_without_safetensors(emu):
    """core42/jais-13b-chat ships .bin weights only: no safetensors metadata (the "warn and go on" path)."""
    info = api(emu).model_info("core42/jais-13b-chat", expand=["safetensors", "config", "sha"])
    assert info.safetensors is None and info.config["model_type"] == "jais"


def test_files_metadata_and_repo_info(emu):
    """files_metadata lists config.json and the weight shards (5 GB each, as save_pretrained writes them)."""
    info = api(emu).repo_info("meta-llama/Llama-3.1-70B-Instruct", files_metadata=True)
    names = [s.rfilename for s in info.siblings]
    assert names[0] == "config.json" and names[-1] == "model.safetensors.index.json"
    shards = [s for s in info.siblings if s.rfilename.endswith(".safetensors")]
    assert len(shards) == 29 and shards[0].rfilename == "model-00001-of-00029.safetensors"
    assert sum(s.size for s in shards) == 70_553_706_496 * 2
    assert all(s.lfs and s.lfs.size == s.size for s in shards)
    assert info.gated == "manual" and info.safetensors.total == 70_553_706_496


@pytest.mark.parametrize(
    ("repo", "keys"),
    [("derek-thomas/jais-13b-chat-hf", {"n_layer": 40, "n_head": 40, "n_embd": 5120, "vocab_size": 84992,
                                        "n_positions": 2048}),
     ("meta-llama/Llama-3.1-70B-Instruct", {"num_hidden_layers": 80, "num_attention_heads": 64,
                                            "num_key_value_heads": 8, "hidden_size": 8192, "vocab_size": 128256,
                                            "max_position_embeddings": 131072, "torch_dtype": "bfloat16"}),
     ("openai-community/gpt2", {"n_layer": 12, "n_head": 12, "n_embd": 768, "vocab_size": 50257,
                                "n_positions": 1024}),
     ("acme/tiny-awq", TINY_CONFIG)],
    ids=["jais", "llama-70b", "gpt2", "file-model"],
)
@pytest.mark.parametrize("revision", [None, "main", "sha"], ids=["default", "main", "sha"])
def test_download_config_json(emu, tmp_path, repo, keys, revision):
    """hf_hub_download (its HEAD for metadata, then the GET) into a temporary cache, at main or the commit."""
    sha = hub.BUILTIN[repo].sha if repo in hub.BUILTIN else SHA
    path = download(emu, repo, tmp_path, revision=sha if revision == "sha" else revision)
    config = json.loads(Path(path).read_text())
    assert {k: config[k] for k in keys} == keys
    assert f"/snapshots/{sha}/config.json" in path


def test_resolve_headers(emu):
    """What get_hf_file_metadata reads: X-Repo-Commit, a quoted ETag, the size; HEAD has no body."""
    url = f"{emu.base_url}/openai-community/gpt2/resolve/main/config.json"
    head = httpx2.head(url)
    get = httpx2.get(url)
    sha = hub.BUILTIN["openai-community/gpt2"].sha
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["x-repo-commit"] == get.headers["x-repo-commit"] == sha
    assert head.headers["etag"] == get.headers["etag"] == f'"{hub.git_blob_id(get.content)}"'
    assert head.headers["content-length"] == str(len(get.content))


BAD_SHA = "f" * 40


@pytest.mark.parametrize(
    ("call", "exc", "status", "message"),
    [
        (lambda e, p: api(e).model_info("derek-thomas/jais-13b-chat-hf", revision=BAD_SHA),
         RevisionNotFoundError, 404, f"Invalid rev id: {BAD_SHA}"),
        (lambda e, p: download(e, "derek-thomas/jais-13b-chat-hf", p, revision=BAD_SHA),
         RevisionNotFoundError, 404, f"Invalid rev id: {BAD_SHA}"),
        (lambda e, p: download(e, "derek-thomas/jais-13b-chat-hf", p, revision="dev"),
         RevisionNotFoundError, 404, "Invalid rev id: dev"),
        (lambda e, p: api(e).model_info("nobody/nothing"), RepositoryNotFoundError, 404, "Repository not found"),
        (lambda e, p: api(e, token=False).model_info("nobody/nothing"), RepositoryNotFoundError, 401,
         "Repository not found"),
        (lambda e, p: download(e, "nobody/nothing", p), RepositoryNotFoundError, 404, "Repository not found"),
        (lambda e, p: download(e, "acme/gated", p, token="hf_bob"), GatedRepoError, 403,
         "Access to model acme/gated is restricted and you are not in the authorized list."),
        (lambda e, p: download(e, "acme/gated", p, token=False), GatedRepoError, 401,
         "Access to model acme/gated is restricted. You must have access to it and be authenticated to access it."),
        (lambda e, p: download(e, "meta-llama/Llama-3.1-8B-Instruct", p, token=False), GatedRepoError, 401,
         "Access to model meta-llama/Llama-3.1-8B-Instruct is restricted. You must have access to it and be "
         "authenticated to access it."),
        (lambda e, p: download(e, "gpt2", p, filename="model.safetensors"), RemoteEntryNotFoundError, 404,
         "Entry not found"),
        (lambda e, p: api(e, token="hf_unknown").model_info("gpt2"), HfHubHTTPError, 401,
         "Invalid credentials in Authorization header"),
        (lambda e, p: api(e).model_info("gpt2", expand=["nope"]), BadRequestError, 400, None),
    ],
    ids=["model-info-revision", "download-revision", "branch-revision", "missing-repo", "missing-repo-anonymous",
         "download-missing-repo", "gated-not-granted", "gated-anonymous", "meta-llama-anonymous", "no-such-file",
         "unknown-token", "unknown-expand"],
)
def test_errors_are_typed(emu, tmp_path, call, exc, status, message):
    with pytest.raises(exc) as info:
        call(emu, tmp_path)
    assert type(info.value) is exc
    assert info.value.response.status_code == status
    if message is not None:
        assert info.value.server_message == message


@pytest.mark.parametrize("token", ["hf_alice", "hf_bob"], ids=["alice", "bob"])
def test_gated_access(emu, tmp_path, token):
    """model_info of a gated repository answers anyone (public metadata); its files need access: the file's
    `granted` users, and for the built-in meta-llama repositories every known user."""
    assert api(emu, token=False).model_info("acme/gated").gated == "manual"
    path = download(emu, "meta-llama/Llama-3.1-8B-Instruct", tmp_path, token=token)
    assert json.loads(Path(path).read_text())["num_hidden_layers"] == 32
    if token == "hf_alice":
        assert json.loads(Path(download(emu, "acme/gated", tmp_path, token=token)).read_text()) == TINY_CONFIG


def test_hub_calls_are_logged(emu, tmp_path):
    """Each Hub call is in the call log, so a test can assert that a cached preview made none."""
    emu.clear_calls()
    download(emu, "gpt2", tmp_path)
    assert [(c["method"], c["path"]) for c in emu.calls()] == [
        ("HEAD", "/gpt2/resolve/main/config.json"), ("GET", "/gpt2/resolve/main/config.json")]


GOOD = {"sha": SHA, "safetensors": {"parameters": {"BF16": 2}, "total": 2}, "config": {}}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{nope", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
        ("[]", "expected a JSON object mapping repository ids to models"),
        ({"a b": GOOD}, "'a b' is not a repository id (owner/name)"),
        ({"o/m": {**GOOD, "sha": "abc"}}, "'o/m'.sha must be a 40-hex lowercase commit id, got 'abc'"),
        ({"o/m": {k: v for k, v in GOOD.items() if k != "config"}}, "'o/m' is missing 'config'"),
        ({"o/m": {**GOOD, "safetensors": {"parameters": {"BF16": 2}, "total": 3}}},
         "'o/m'.safetensors.total is 3 but the parameters add up to 2"),
        ({"o/m": {**GOOD, "safetensors": {"parameters": {"bf16": 2}, "total": 2}}},
         "'o/m'.safetensors.parameters: 'bf16' is not a dtype such as BF16"),
        ({"o/m": {**GOOD, "safetensors": {"parameters": {"BF16": 0}, "total": 0}}},
         "'o/m'.safetensors.parameters.BF16 must be a positive integer"),
        ({"o/m": {**GOOD, "safetensors": [1]}},
         '\'o/m\'.safetensors must be {"parameters": {"<DTYPE>": <count>}, "total": <n>} (or null: no '
         "safetensors weights)"),
        ({"o/m": {**GOOD, "extra": 1}},
         "'o/m' has unknown keys ['extra'] (known: sha, safetensors, config, gated, granted)"),
        ({"o/m": {**GOOD, "gated": "yes"}}, "'o/m'.gated must be false, true, \"auto\" or \"manual\""),
    ],
    ids=["not-json", "not-an-object", "bad-repo-id", "bad-sha", "no-config", "total-mismatch", "bad-dtype",
         "zero-count", "safetensors-shape", "unknown-key", "bad-gated"],
)
def test_hub_models_file_is_checked_at_start(tmp_path, content, reason):
    path = tmp_path / "models.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    done = run_emulator("--hub-models", str(path))
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"emulator: cannot use --hub-models {path}: {reason}\n")
