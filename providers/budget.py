"""What a stack costs per hour, and its budget (`hf-endpoints:maxHourlyUsd`), from the spec and the catalog.

No I/O: prices come from the shipped catalog snapshot, so the budget is checked before anything exists (the
program calls `check_budget` through `stack_config.read`, before registering anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers import catalog, validation
from providers.values import show

BUDGET_KEY = "hf-endpoints:maxHourlyUsd"


def hourly_cost_at_min_replicas(outputs: list[Mapping[str, Any]]) -> float:
    """USD per hour with every endpoint at `min_replica` (paused endpoints cost nothing)."""
    return round(sum((o.get("price_per_hour") or 0.0) * int(o.get("min_replica") or 0)
                     for o in outputs if not o.get("paused")), 4)


def hourly_cost_at_max_replicas(outputs: list[Mapping[str, Any]]) -> float:
    """USD per hour with every endpoint at `max_replica`: the stack's most expensive hour (paused cost nothing)."""
    return round(sum((o.get("price_per_hour") or 0.0) * int(o.get("max_replica") or 0)
                     for o in outputs if not o.get("paused")), 4)


@dataclass(frozen=True)
class EndpointCost:
    """One endpoint's most expensive hour, from the spec and the catalog snapshot (before anything exists)."""

    name: str
    max_replica: int
    instance: str
    price_per_hour: float

    @property
    def hourly(self) -> float:
        return self.max_replica * self.price_per_hour


def costs_at_max_replicas(specs: Mapping[str, Mapping[str, Any]]) -> list[EndpointCost]:
    """Each endpoint that is not paused, priced at max_replica from the shipped catalog, dearest first. The
    spec is read as `check` reads it (defaults, legacy instance names); hardware the catalog does not know
    costs nothing here, because `check` rejects it anyway."""
    costs = []
    for name, spec in specs.items():
        inputs = validation.validate(spec, validation.COST_STEPS).inputs
        if inputs.get("paused") is True:
            continue
        compute = catalog.compute_of(inputs)
        if compute is None or not isinstance(inputs.get("max_replica"), int):
            continue
        costs.append(EndpointCost(name, inputs["max_replica"], f"{compute.instance_type}/{compute.instance_size}",
                                  compute.price_per_hour))
    return sorted(costs, key=lambda cost: (-cost.hourly, cost.name))


def parse_budget(value: Any) -> float | None:
    """`hf-endpoints:maxHourlyUsd` as a number of USD per hour; unset or empty: no budget."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        budget = float(value)
    except (TypeError, ValueError):
        budget = -1.0
    if not budget >= 0 or budget == float("inf"):
        raise ValueError(f"{BUDGET_KEY}: {show(value)} is not an amount of USD per hour; set it to a number such "
                         f"as 25 (`pulumi config set {BUDGET_KEY} 25`), or remove it for no budget")
    return budget


def check_budget(value: Any, specs: Mapping[str, Mapping[str, Any]]) -> None:
    """Fail (ValueError) when Σ max_replica x price over the endpoints that are not paused exceeds the budget,
    naming the key, the total and the endpoints that cost most."""
    budget = parse_budget(value)
    if budget is None:
        return
    costs = costs_at_max_replicas(specs)
    total = sum(cost.hourly for cost in costs)
    if total <= budget + 1e-9:
        return
    dearest = ", ".join(f"{c.name} ${c.hourly:.2f}/h ({c.max_replica} x {c.instance} at ${c.price_per_hour:.2f})"
                        for c in costs[:3])
    more = f" and {len(costs) - 3} more" if len(costs) > 3 else ""
    raise ValueError(
        f"{BUDGET_KEY}: this stack can cost ${total:.2f}/h with every endpoint at max_replica, over its budget of "
        f"${budget:.2f}/h. Costing most: {dearest}{more}. Lower max_replica, choose cheaper instances, pause "
        f"endpoints (paused: true), or raise {BUDGET_KEY}")
