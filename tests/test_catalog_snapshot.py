"""The provider's catalog snapshot is the emulated service's catalog, so local checks and the API agree."""

from __future__ import annotations

import json

from providers import catalog


def test_snapshot_equals_the_emulators_catalog(emulator):
    assert json.loads(catalog.SNAPSHOT_PATH.read_text()) == catalog.snapshot_from_api(emulator.api_url)


def test_snapshot_covers_the_stack_files_hardware():
    assert catalog.find_compute("aws", "us-east-1", "gpu", "nvidia-a10g", "x1").price_per_hour == 1.0
    assert catalog.find_compute("aws", "us-east-1", "gpu", "nvidia-a100", "x1").price_per_hour == 2.5
    assert catalog.find_compute("aws", "eu-west-1", "gpu", "nvidia-a10g", "x1") is not None
