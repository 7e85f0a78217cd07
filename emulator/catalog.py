"""The hardware catalog served by `GET /v2/provider[/{namespace}]` (contract §9).

Prices are USD per replica-hour, taken from the public pricing page where the contract quotes them and
interpolated elsewhere. `gpuMemoryGb` is the TOTAL across the instance's accelerators (huggingface_hub's
docstring; contract Q9), `null` on CPU hardware. For CPU hardware `numAccelerators` is the vCPU count, as
`instanceSize` `x<n>` counts vCPUs there, and quota is counted in those units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Default per-namespace quota (max accelerators in use per vendor/region/instanceType), by accelerator kind.
DEFAULT_QUOTA = {"cpu": 64, "gpu": 16, "neuron": 16}


@dataclass(frozen=True)
class Hardware:
    vendor: str
    region: str
    accelerator: str
    instance_type: str
    instance_size: str
    num_accelerators: int
    num_cpus: int
    memory_gb: float
    gpu_memory_gb: int | None
    architecture: str
    price_per_hour: float
    status: str = "available"

    @property
    def id(self) -> str:
        return f"{self.vendor}-{self.region}-{self.instance_type}-{self.instance_size}"

    def to_dict(self, max_accelerators: int, used_accelerators: int) -> dict:
        return {
            "id": self.id,
            "accelerator": self.accelerator,
            "numAccelerators": self.num_accelerators,
            "numCpus": self.num_cpus,
            "memoryGb": self.memory_gb,
            "gpuMemoryGb": self.gpu_memory_gb,
            "instanceType": self.instance_type,
            "instanceSize": self.instance_size,
            "architecture": self.architecture,
            "status": self.status,
            "pricePerHour": self.price_per_hour,
            "quota": {"maxAccelerators": max_accelerators, "usedAccelerators": used_accelerators},
        }


# instanceType -> (accelerator, architecture, per-accelerator GPU memory, {size: (count, cpus, mem, price)})
_CPU = {f"x{n}": (n, n, 2.0 * n, round(0.0335 * n, 3)) for n in (1, 2, 4, 8, 16)}
_FAMILIES: dict[str, tuple[str, str, int | None, dict[str, tuple[int, int, float, float]]]] = {
    "intel-spr": ("cpu", "Intel Sapphire Rapids", None, _CPU),
    "intel-icl": ("cpu", "Intel Ice Lake", None, {k: v for k, v in _CPU.items() if k != "x16"}),
    "intel-xeon": ("cpu", "Intel Xeon", None, {k: (c, n, m, round(p * 1.3, 3)) for k, (c, n, m, p) in _CPU.items()}),
    "nvidia-t4": ("gpu", "Nvidia T4", 16, {"x1": (1, 3, 15.0, 0.5), "x4": (4, 47, 186.0, 3.0)}),
    "nvidia-l4": ("gpu", "Nvidia L4", 24, {"x1": (1, 7, 30.0, 0.8), "x4": (4, 47, 186.0, 3.8)}),
    "nvidia-a10g": ("gpu", "Nvidia A10G", 24, {"x1": (1, 6, 26.0, 1.0), "x4": (4, 46, 186.0, 5.0)}),
    "nvidia-l40s": (
        "gpu", "Nvidia L40S", 48,
        {"x1": (1, 7, 62.0, 1.8), "x4": (4, 47, 382.0, 8.3), "x8": (8, 191, 1534.0, 23.5)},
    ),
    "nvidia-a100": (
        "gpu", "Nvidia A100", 80,
        {"x1": (1, 11, 142.0, 2.5), "x2": (2, 22, 284.0, 5.0), "x4": (4, 44, 568.0, 10.0),
         "x8": (8, 88, 1136.0, 20.0)},
    ),
    "nvidia-h100": ("gpu", "Nvidia H100", 80, {"x1": (1, 23, 240.0, 4.5), "x8": (8, 184, 1920.0, 36.0)}),
    "nvidia-h200": (
        "gpu", "Nvidia H200", 141,
        {"x1": (1, 23, 256.0, 5.0), "x2": (2, 46, 512.0, 10.0), "x4": (4, 92, 1024.0, 20.0),
         "x8": (8, 184, 2048.0, 40.0)},
    ),
    "inf2": ("neuron", "AWS Inferentia2", 32, {"x1": (1, 4, 16.0, 0.75), "x12": (12, 192, 768.0, 12.0)}),
}

# vendor -> region -> (label, {instanceType: sizes or None for all}, {(type, size): status override})
_LAYOUT: dict[str, dict[str, tuple[str, dict[str, list[str] | None], dict[tuple[str, str], str]]]] = {
    "aws": {
        "us-east-1": (
            "N. Virginia",
            {t: None for t in ("intel-spr", "intel-icl", "nvidia-t4", "nvidia-l4", "nvidia-a10g", "nvidia-l40s",
                               "nvidia-a100", "nvidia-h100", "nvidia-h200", "inf2")},
            {**{("intel-icl", s): "deprecated" for s in ("x1", "x2", "x4", "x8")},
             ("nvidia-h100", "x1"): "deprecated", ("nvidia-h100", "x8"): "deprecated",
             ("nvidia-h200", "x8"): "low_availability"},
        ),
        "us-east-2": (
            "Ohio",
            {"intel-spr": None, "nvidia-l4": ["x1"], "nvidia-a10g": ["x1", "x4"], "nvidia-a100": ["x1"]},
            {},
        ),
        "us-west-2": (
            "Oregon",
            {"intel-spr": None, "nvidia-t4": ["x1"], "nvidia-l4": ["x1"], "nvidia-a10g": ["x1"],
             "nvidia-a100": ["x1", "x8"], "nvidia-l40s": ["x1", "x8"]},
            {("nvidia-l40s", "x8"): "not_available"},
        ),
        "eu-west-1": (
            "Ireland",
            {"intel-spr": None, "nvidia-t4": ["x1"], "nvidia-l4": ["x1"], "nvidia-a10g": ["x1"],
             "nvidia-a100": ["x1", "x4"]},
            {("nvidia-a100", "x4"): "not_available"},
        ),
    },
    "gcp": {
        "us-east4": (
            "Virginia",
            {"intel-spr": None, "nvidia-t4": ["x1"], "nvidia-l4": ["x1", "x4"], "nvidia-a100": ["x1", "x8"]},
            {("nvidia-a100", "x8"): "reserved"},
        ),
    },
    "azure": {
        "eastus": ("Virginia", {"intel-xeon": None, "nvidia-a100": ["x1", "x2", "x4", "x8"]}, {}),
    },
}

# GCP and Azure list prices run a little above AWS's.
_PRICE_FACTOR = {"aws": 1.0, "gcp": 1.2, "azure": 1.3}


def _build() -> dict[str, dict[str, tuple[str, list[Hardware]]]]:
    tree: dict[str, dict[str, tuple[str, list[Hardware]]]] = {}
    for vendor, regions in _LAYOUT.items():
        tree[vendor] = {}
        for region, (label, types, overrides) in regions.items():
            items = []
            for itype, sizes in types.items():
                accel, arch, gpu_mem, table = _FAMILIES[itype]
                for size, (count, cpus, mem, price) in table.items():
                    if sizes is not None and size not in sizes:
                        continue
                    items.append(Hardware(
                        vendor, region, accel, itype, size, count, cpus, mem,
                        gpu_mem * count if gpu_mem is not None else None, arch,
                        round(price * _PRICE_FACTOR[vendor], 3), overrides.get((itype, size), "available"),
                    ))
            tree[vendor][region] = (label, items)
    return tree


CATALOG = _build()
_BY_KEY = {
    (h.vendor, h.region, h.accelerator, h.instance_type, h.instance_size): h
    for regions in CATALOG.values() for _, items in regions.values() for h in items
}

# Instance names used before the May 2024 rename (contract §12), with the current pair to suggest.
LEGACY_INSTANCES = {
    ("g5.2xlarge", "medium"): ("nvidia-a10g", "x1"),
    ("g4dn.xlarge", "small"): ("nvidia-t4", "x1"),
    ("g4dn.12xlarge", "large"): ("nvidia-t4", "x4"),
    ("g5.12xlarge", "xxlarge"): ("nvidia-a10g", "x4"),
    ("p4de", "xlarge"): ("nvidia-a100", "x1"),
    ("p4de", "2xlarge"): ("nvidia-a100", "x2"),
    ("c6i", "medium"): ("intel-spr", "x4"),
}
LEGACY_TYPES = {t for t, _ in LEGACY_INSTANCES} | {"g5", "g4dn", "p4d", "c6i", "c7i", "r6i"}
LEGACY_SIZES = {"small", "medium", "large", "xlarge", "2xlarge", "xxlarge", "4xlarge", "8xlarge"}


def find(vendor: str, region: str, accelerator: str, instance_type: str, instance_size: str) -> Hardware | None:
    return _BY_KEY.get((vendor, region, accelerator, instance_type, instance_size))


def has_region(vendor: str, region: str) -> bool:
    return region in CATALOG.get(vendor, {})


def quota_for(hw: Hardware, quota: Mapping[str, int]) -> int:
    return int(quota.get(hw.accelerator, DEFAULT_QUOTA[hw.accelerator]))


def provider_tree(
    usage: Mapping[tuple[str, str, str], int] | None = None, quota: Mapping[str, int] | None = None
) -> dict:
    """The `{"vendors": [...]}` tree; `usage` maps (vendor, region, instanceType) to accelerators in use."""
    usage, quota = usage or {}, quota or DEFAULT_QUOTA
    return {"vendors": [
        {"name": vendor, "status": "available", "regions": [
            {"name": region, "label": label, "status": "available", "computes": [
                h.to_dict(quota_for(h, quota), usage.get((h.vendor, h.region, h.instance_type), 0)) for h in items
            ]}
            for region, (label, items) in regions.items()
        ]}
        for vendor, regions in CATALOG.items()
    ]}
