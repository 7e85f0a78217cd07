"""Shared fixtures. huggingface_hub reads some settings at import: set them before anything imports it."""

import os

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
    os.environ.pop(_var, None)

import pytest  # noqa: E402

from emulator.process import EmulatorProcess  # noqa: E402
from tests import pulumi_cli  # noqa: E402

# A fixed seed: the fault-injection tests see the same fault sequence on every run (`reset()` re-seeds it).
EMULATOR_FAST_ARGS = [
    "--startup-seconds", "0.3", "--update-seconds", "0.2", "--delete-seconds", "0.2", "--time-scale", "0.05",
    "--seed", "20260901",
]


@pytest.fixture(scope="session")
def emulator_process():
    """One emulator process for the whole run, with fast timings."""
    with EmulatorProcess(EMULATOR_FAST_ARGS) as emu:
        yield emu


@pytest.fixture
def emulator(emulator_process):
    """The session's emulator, reset: no endpoints, faults, calls, and the command-line config."""
    emulator_process.reset()
    yield emulator_process


@pytest.fixture(scope="session")
def pulumi_bin():
    """The directory of the pinned Pulumi CLI. Under CI a missing CLI fails the tests that need it."""
    bin_dir = pulumi_cli.install()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail(pulumi_cli.CLI_MISSING)
        pytest.skip(pulumi_cli.CLI_MISSING)
    return bin_dir
