"""The hardware catalog snapshot shipped with the provider, so `check` validates hardware with no network.

`hardware_catalog.json` is a snapshot of `GET /v2/provider` (quota stripped: quota is live, per namespace).
Refresh it with `python -m providers.catalog http://HOST/v2 > providers/hardware_catalog.json`; a test
keeps it identical to the emulator's catalog, so the two never drift apart.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SNAPSHOT_PATH = Path(__file__).with_name("hardware_catalog.json")
UNUSABLE_STATUSES = frozenset({"not_available", "deprecated"})
PLACEMENT_KEYS = ("vendor", "region", "accelerator", "instance_type", "instance_size")


@dataclass(frozen=True)
class Compute:
    """One deployable hardware option: vendor/region/accelerator/instance type/size and its price."""

    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str
    num_accelerators: int
    price_per_hour: float
    status: str
    gpu_memory_gb: float | None
    memory_gb: float | None = None  # the instance's RAM


@functools.cache
def load_catalog() -> tuple[Compute, ...]:
    """Every compute of the snapshot, in catalog order."""
    tree = json.loads(SNAPSHOT_PATH.read_text())
    return tuple(computes_from_tree(tree))


def computes_from_tree(tree: dict) -> list[Compute]:
    """Flatten a `{"vendors": [...]}` tree (the wire shape of `GET /v2/provider`)."""
    return [
        Compute(
            vendor=vendor["name"],
            region=region["name"],
            accelerator=compute["accelerator"],
            instance_type=compute["instanceType"],
            instance_size=compute["instanceSize"],
            num_accelerators=int(compute["numAccelerators"]),
            price_per_hour=float(compute["pricePerHour"]),
            status=compute["status"],
            gpu_memory_gb=compute.get("gpuMemoryGb"),
            memory_gb=compute.get("memoryGb"),
        )
        for vendor in tree["vendors"]
        for region in vendor["regions"]
        for compute in region["computes"]
    ]


def find_compute(
    vendor: str, region: str, accelerator: str, instance_type: str, instance_size: str
) -> Compute | None:
    for compute in load_catalog():
        if (compute.vendor, compute.region, compute.accelerator, compute.instance_type,
                compute.instance_size) == (vendor, region, accelerator, instance_type, instance_size):
            return compute
    return None


def compute_of(inputs: Mapping[str, Any]) -> Compute | None:
    """The catalog entry an endpoint's inputs place it on (`PLACEMENT_KEYS`); None while a part is missing, not a
    string, or (a preview's unknown sentinel) not known yet."""
    placement = [inputs.get(key) for key in PLACEMENT_KEYS]
    if not all(isinstance(part, str) for part in placement):
        return None
    return find_compute(*placement)


def vendors() -> list[str]:
    return sorted({c.vendor for c in load_catalog()})


def regions(vendor: str) -> list[str]:
    return sorted({c.region for c in load_catalog() if c.vendor == vendor})


def offers(vendor: str, region: str, accelerator: str) -> list[str]:
    """`type/size` pairs deployable in a region for an accelerator kind, for error messages."""
    return [
        f"{c.instance_type}/{c.instance_size}"
        for c in load_catalog()
        if (c.vendor, c.region, c.accelerator) == (vendor, region, accelerator)
        and c.status not in UNUSABLE_STATUSES
    ]


def snapshot_from_api(api_url: str) -> dict:
    """Fetch `GET {api_url}/provider` and strip the live quota, giving the snapshot's content."""
    import urllib.request  # only this refresh of the snapshot talks HTTP

    with urllib.request.urlopen(f"{api_url.rstrip('/')}/provider", timeout=30) as response:
        tree = json.load(response)
    for vendor in tree["vendors"]:
        for region in vendor["regions"]:
            for compute in region["computes"]:
                compute.pop("quota", None)
    return tree


if __name__ == "__main__":
    json.dump(snapshot_from_api(sys.argv[1]), sys.stdout, indent=1)
    sys.stdout.write("\n")
