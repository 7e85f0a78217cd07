"""Know before you pay, through the real Pulumi CLI and engine against the emulator (and its Hub routes): a
stack over its budget, and a model too big for its GPU, fail `pulumi preview` before anything is created."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"
LLAMA = "meta-llama/Llama-3.1-70B-Instruct"  # in the emulator's Hub: 70.55B parameters, BF16
KEY = "hf-endpoints:maxHourlyUsd"


def test_a_stack_over_its_budget_fails_the_preview_with_zero_calls(project, emulator):
    """max_replica 3 x $1.00 (one A10G) against a $2.50/h budget: the program stops before registering
    anything, so neither the Endpoints API nor the Hub is called."""
    project.run("config", "set", "--stack", "local", KEY, "2.5")
    project.edit_endpoint(NAME, max_replica=3)
    emulator.clear_calls()
    result = project.preview(check=False)
    assert result.code != 0
    assert (f"{KEY}: this stack can cost $3.00/h with every endpoint at max_replica, over its budget of $2.50/h. "
            f"Costing most: {NAME} $3.00/h (3 x nvidia-a10g/x1 at $1.00). Lower max_replica, choose cheaper "
            f"instances, pause endpoints (paused: true), or raise {KEY}") in result.output
    assert "Traceback" not in result.output
    assert emulator.calls() == []
    project.run("config", "set", "--stack", "local", KEY, "3")
    assert project.preview_steps() == [("create", NAME), ("create", "endpoints-ready")]


def test_a_70b_model_on_one_a10g_fails_the_preview_naming_the_cheapest_that_fits(project, emulator):
    """70B parameters in bf16 need about 143.9 GB of one 24 GB A10G: the preview fails on instance_type with
    the numbers and the cheapest instance that fits; in 4 bits (bitsandbytes-nf4) it needs 38.1 GB, which still
    does not fit an A10G but fits the 48 GB of one L40S, as the arithmetic says. No Endpoints API call."""
    env = project.stack_config()["hf-endpoints:endpoints"][NAME]["env"]
    bf16 = {key: value for key, value in env.items() if key != "QUANTIZE"}
    project.edit_endpoint(NAME, repository=LLAMA, env=bf16)
    emulator.clear_calls()
    result = project.preview(check=False)
    assert result.code != 0
    assert (f'endpoints.{NAME}.instance_type: "nvidia-a10g/x1" has 24 GB of GPU memory but {LLAMA} needs about '
            "143.9 GB (weights 141.1 GB + KV cache 0.7 GB for 2048 tokens + CUDA context and prefill 2.1 GB); use "
            "nvidia-a100/x2 (2 x 80 GB, $5.00/h), the cheapest in aws/us-east-1 that fits; no QUANTIZE fits it on "
            "nvidia-a10g/x1 (even bitsandbytes-nf4 needs about 38.1 GB)") in result.output

    project.edit_endpoint(NAME, env={**bf16, "QUANTIZE": "bitsandbytes-nf4"})
    result = project.preview(check=False)
    assert result.code != 0
    assert (f"{LLAMA} needs about 38.1 GB (weights 35.3 GB + KV cache 0.7 GB for 2048 tokens + CUDA context and "
            "prefill 2.1 GB); use nvidia-l40s/x1 (1 x 48 GB, $1.80/h), the cheapest in aws/us-east-1 that "
            "fits") in result.output

    project.edit_endpoint(NAME, instance_type="nvidia-l40s")
    assert project.preview_steps() == [("create", NAME), ("create", "endpoints-ready")]
    assert [c for c in emulator.calls() if c["path"].startswith("/v2/")] == []
