"""`python -m providers.fit`: where a model fits and what it costs, cheapest fitting first, read from the
emulator's Hub like check reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulator.hub import builtin_sha

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
JAIS = "derek-thomas/jais-13b-chat-hf"
LLAMA = "meta-llama/Llama-3.1-70B-Instruct"
TUTORIAL_ENV = ["--env", "QUANTIZE=bitsandbytes", "--env", "MAX_BATCH_PREFILL_TOKENS=2048", "--env",
                "MAX_INPUT_LENGTH=2000", "--env", "MAX_TOTAL_TOKENS=2048"]
KEYS = ["instance_type", "instance_size", "vendor", "region", "gpu_memory_gb", "needed_gb", "fits", "price_per_hour",
        "engine", "max_context_tokens", "concurrent_sequences"]
"""The keys of `--json`: the first eight as before engines existed, then the engine and its capacity."""


def fit(emulator, tmp_path, *args: str, hub_flag: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_ENDPOINTS_CACHE": str(tmp_path / "cache"), "HF_TOKEN": emulator.token,
           "HF_ENDPOINT": emulator.base_url}
    hub = ["--hub-url", emulator.base_url] if hub_flag else []
    return subprocess.run([sys.executable, "-m", "providers.fit", *args, *hub], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_json_ranks_the_catalog_cheapest_fitting_first(emulator, tmp_path):
    """The tutorial's model with its 8-bit quantization in aws/us-east-1: exactly these keys, fitting instances
    by price, then the one that does not fit (a T4 has 16 GB; it needs 16.19)."""
    done = fit(emulator, tmp_path, JAIS, *TUTORIAL_ENV, "--vendor", "aws", "--region", "us-east-1", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert all(list(row) == KEYS for row in rows)
    assert all(isinstance(row["fits"], bool) for row in rows)
    assert [(f"{r['instance_type']}/{r['instance_size']}", r["gpu_memory_gb"], r["needed_gb"], r["fits"],
             r["price_per_hour"]) for r in rows] == [
        ("nvidia-l4/x1", 24.0, 16.19, True, 0.8), ("nvidia-a10g/x1", 24.0, 16.19, True, 1.0),
        ("nvidia-l40s/x1", 48.0, 16.19, True, 1.8), ("nvidia-a100/x1", 80.0, 16.19, True, 2.5),
        ("nvidia-t4/x4", 16.0, 5.16, True, 3.0), ("nvidia-l4/x4", 24.0, 5.16, True, 3.8),
        ("nvidia-a100/x2", 80.0, 8.84, True, 5.0), ("nvidia-a10g/x4", 24.0, 5.16, True, 5.0),
        ("nvidia-h200/x1", 141.0, 16.19, True, 5.0), ("nvidia-l40s/x4", 48.0, 5.16, True, 8.3),
        ("nvidia-a100/x4", 80.0, 5.16, True, 10.0), ("nvidia-h200/x2", 141.0, 8.84, True, 10.0),
        ("nvidia-a100/x8", 80.0, 3.33, True, 20.0), ("nvidia-h200/x4", 141.0, 5.16, True, 20.0),
        ("nvidia-l40s/x8", 48.0, 3.33, True, 23.5), ("nvidia-h200/x8", 141.0, 3.33, True, 40.0),
        ("nvidia-t4/x1", 16.0, 16.19, False, 0.5)]
    assert {(r["vendor"], r["region"]) for r in rows} == {("aws", "us-east-1")}


def test_the_whole_catalog_fitting_first_each_part_by_price(emulator, tmp_path):
    done = fit(emulator, tmp_path, LLAMA, "--json", hub_flag=False)  # the Hub from HF_ENDPOINT
    rows = json.loads(done.stdout)
    fits = [row["fits"] for row in rows]
    assert fits == sorted(fits, reverse=True) and True in fits and False in fits
    for part in (True, False):
        prices = [row["price_per_hour"] for row in rows if row["fits"] is part]
        assert prices == sorted(prices)
    assert rows[0] == {"instance_type": "nvidia-a100", "instance_size": "x2", "vendor": "aws",
                       "region": "us-east-1", "gpu_memory_gb": 80.0, "needed_gb": 74.97, "fits": True,
                       "price_per_hour": 5.0, "engine": "TGI", "max_context_tokens": 4096, "concurrent_sequences": 8}
    assert not any(row["instance_type"] == "nvidia-h100" for row in rows)  # deprecated: left out


def test_table(emulator, tmp_path):
    done = fit(emulator, tmp_path, JAIS, *TUTORIAL_ENV, "--region", "us-east-2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{JAIS} at {builtin_sha(JAIS)[:12]}: 13.02B parameters (F32), TGI: QUANTIZE=bitsandbytes, KV cache for "
        "2048 tokens, prefill 2048 tokens",
        "",
        "instance             vendor region      GPU GB  needed GB fits  $/hour  max ctx  seqs  $/h/seq",
        "nvidia-l4 x1         aws    us-east-2       24       16.2 yes     0.80     2048     5    0.160",
        "nvidia-a10g x1       aws    us-east-2       24       16.2 yes     1.00     2048     5    0.200",
        "nvidia-a100 x1       aws    us-east-2       80       16.2 yes     2.50     2048    39    0.064",
        "nvidia-a10g x4       aws    us-east-2       24        5.2 yes     5.00     2048    45    0.111",
        "",
        "GB per GPU (10^9 bytes); deprecated and unavailable hardware left out. max ctx: the longest context one "
        "sequence could have; seqs: full-length sequences the KV cache holds at once. The formula: `pydoc "
        "providers.engines.tgi`."]


@pytest.mark.parametrize(("args", "code", "stderr"), [
    ([LLAMA, "--region", "us-east-2"], 1, ""),
    ([LLAMA, "--revision", "v9.9"], 2, f"providers.fit: 'v9.9' is not a revision of {LLAMA} on {{hub}}\n"),
    (["core42/jais-13b-chat"], 2, "providers.fit: core42/jais-13b-chat cannot be estimated: the repository has no "
                                  "safetensors metadata (parameter counts)\n"),
    ([JAIS, "--env", "QUANTIZE"], 2, "python -m providers.fit: error: --env 'QUANTIZE' is not KEY=VALUE, e.g. --env "
                                     "QUANTIZE=bitsandbytes\n"),
], ids=["fits-nowhere", "unknown-revision", "no-safetensors", "bad-env"])
def test_exit_status(emulator, tmp_path, args, code, stderr):
    done = fit(emulator, tmp_path, *args)
    assert done.returncode == code
    assert done.stderr.endswith(stderr.replace("{hub}", emulator.base_url))
