"""The stack's config as the program reads it: each endpoint's inputs, and what the stack costs per hour.

No I/O: `__main__.py` hands in what `pulumi.Config` read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.values import show


def stack_endpoints(namespace: str, endpoints: Any, defaults: Any = None) -> dict[str, dict[str, Any]]:
    """Each endpoint's inputs from the stack config: `hf-endpoints:defaults` merged under every
    `hf-endpoints:endpoints.<name>` mapping (the endpoint's own keys win), plus `name` and `namespace`."""
    if not isinstance(endpoints, Mapping):
        raise ValueError(f"hf-endpoints:endpoints must map endpoint names to settings, got {show(endpoints)}")
    if defaults is not None and not isinstance(defaults, Mapping):
        raise ValueError(f"hf-endpoints:defaults must be a mapping of settings, got {show(defaults)}")
    result = {}
    for name, mapping in endpoints.items():
        if not isinstance(mapping, Mapping):
            raise ValueError(f"hf-endpoints:endpoints.{name} must be a mapping of settings (repository, "
                             f"instance_type, ...), got {show(mapping)}")
        for key in ("name", "namespace"):
            if key in mapping:
                raise ValueError(f"hf-endpoints:endpoints.{name}.{key} is not allowed: the name is the key "
                                 "under hf-endpoints:endpoints and the namespace is hf-endpoints:namespace")
        result[name] = {**(defaults or {}), **mapping, "name": name, "namespace": namespace}
    return result


def hourly_cost_at_min_replicas(outputs: list[Mapping[str, Any]]) -> float:
    """USD per hour with every endpoint at `min_replica` (paused endpoints cost nothing)."""
    return round(sum((o.get("price_per_hour") or 0.0) * int(o.get("min_replica") or 0)
                     for o in outputs if not o.get("paused")), 4)
