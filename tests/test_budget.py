"""The stack's budget (`hf-endpoints:maxHourlyUsd`): priced from the spec and the catalog snapshot, checked in
the program before anything is registered, so an over-budget preview makes no call at all."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from providers.budget import check_budget, costs_at_max_replicas, hourly_cost_at_max_replicas, parse_budget
from providers.stack_config import stack_endpoints
from providers.stack_files import load_stack, to_plain
from tests.endpoint_stack import PROJECT, tutorial_only
from tests.harness import program
from tests.harness.engine import Registration

REPO = Path(__file__).resolve().parents[1]
GPU = {"repository": "a/b", "accelerator": "gpu", "vendor": "aws", "region": "us-east-1"}
SPECS = stack_endpoints("ns", {
    "big": {**GPU, "instance_type": "nvidia-a100", "instance_size": "x2", "max_replica": 4},
    "tutorial-names": {**GPU, "instance_type": "g5.2xlarge", "instance_size": "medium", "max_replica": 3},
    "paused": {**GPU, "instance_type": "nvidia-h200", "instance_size": "x8", "max_replica": 2, "paused": True},
    "cpu-default-max": {**GPU, "accelerator": "cpu", "instance_type": "intel-spr", "instance_size": "x4"},
    "unknown-hardware": {**GPU, "instance_type": "nvidia-b300", "instance_size": "x1"},
    "l4": {**GPU, "instance_type": "nvidia-l4", "instance_size": "x1", "max_replica": 2},
})
KEY = "hf-endpoints:maxHourlyUsd"


def test_costs_at_max_replicas_dearest_first():
    """max_replica x catalog price; paused and unknown hardware cost nothing; tutorial names are mapped and
    an unset max_replica is the default 1, as check reads the spec."""
    assert [(c.name, c.max_replica, c.instance, c.price_per_hour, c.hourly) for c in costs_at_max_replicas(SPECS)] \
        == [("big", 4, "nvidia-a100/x2", 5.0, 20.0), ("tutorial-names", 3, "nvidia-a10g/x1", 1.0, 3.0),
            ("l4", 2, "nvidia-l4/x1", 0.8, 1.6), ("cpu-default-max", 1, "intel-spr/x4", 0.134, 0.134)]


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", None), (" ", None), ("25", 25.0), (25, 25.0), ("2.5", 2.5), ("0", 0.0),
], ids=["unset", "empty-default", "blank", "text", "int", "fraction", "zero"])
def test_parse_budget(value, expected):
    assert parse_budget(value) == expected


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf", [25]], ids=["word", "negative", "nan", "inf", "list"])
def test_a_budget_that_is_not_an_amount_fails_naming_the_key(value):
    with pytest.raises(ValueError) as failure:
        parse_budget(value)
    assert str(failure.value).startswith(f"{KEY}: ")
    assert str(failure.value).endswith("is not an amount of USD per hour; set it to a number such as 25 "
                                       f"(`pulumi config set {KEY} 25`), or remove it for no budget")


@pytest.mark.parametrize(("budget", "message"), [
    ("20", f"{KEY}: this stack can cost $24.73/h with every endpoint at max_replica, over its budget of $20.00/h. "
     "Costing most: big $20.00/h (4 x nvidia-a100/x2 at $5.00), tutorial-names $3.00/h (3 x nvidia-a10g/x1 at "
     "$1.00), l4 $1.60/h (2 x nvidia-l4/x1 at $0.80) and 1 more. Lower max_replica, choose cheaper instances, "
     f"pause endpoints (paused: true), or raise {KEY}"),
    ("24.734", None),
    ("100", None),
    ("", None),
], ids=["over", "exactly-the-total", "under", "no-budget"])
def test_check_budget(budget, message):
    if message is None:
        check_budget(budget, SPECS)
        return
    with pytest.raises(ValueError) as failure:
        check_budget(budget, SPECS)
    assert str(failure.value) == message


def test_hourly_cost_at_max_replicas_of_the_outputs():
    outputs = [{"price_per_hour": 2.5, "max_replica": 4.0, "paused": False},
               {"price_per_hour": 1.0, "max_replica": 2, "paused": True},
               {"price_per_hour": 0.8, "max_replica": 3}]
    assert hourly_cost_at_max_replicas(outputs) == 12.4


def local_config(**extra: object) -> dict[str, object]:
    config = tutorial_only(to_plain(load_stack(REPO / "Pulumi.local.yaml")["config"]))
    return {**config, **extra}


def test_the_program_stops_over_budget_before_registering_anything():
    """`__main__.py` under Pulumi's mocks: a RunError (the message alone, no traceback) and no registration."""
    registered: list[str] = []

    def handler(registration: Registration) -> tuple[str, dict, set]:
        registered.append(registration.name)
        return "", dict(registration.inputs), set(registration.secrets)

    config = local_config(**{KEY: "0.5"})
    config["hf-endpoints:endpoints"]["jais-13b-chat"]["max_replica"] = 2
    with pytest.raises(pulumi.RunError) as failure:
        program._execute(REPO / "__main__.py", PROJECT, "local", program.full_config(PROJECT, config), [], True,
                         handler)
    assert str(failure.value) == (
        f"the stack config has 1 problem(s):\n{KEY}: this stack can cost $2.00/h with every endpoint at "
        "max_replica, over its budget of $0.50/h. "
        "Costing most: jais-13b-chat $2.00/h (2 x nvidia-a10g/x1 at $1.00). Lower max_replica, choose cheaper "
        f"instances, pause endpoints (paused: true), or raise {KEY}")
    assert registered == []


def test_the_program_within_budget_registers_everything():
    run = program.run_program(REPO / "__main__.py", PROJECT, "local", local_config(**{KEY: "1"}), preview=True)
    assert [r.name for r in run.registrations] == ["jais-13b-chat", "endpoints-ready"]
