"""Test harness: the real dynamic-provider host over gRPC, a minimal engine, and programs under mocks."""

from tests.harness.engine import CheckFailed, Deployment, Engine, Registration, State, Step
from tests.harness.program import DeployResult, ProgramRun, deploy, destroy, preview, refresh, run_program
from tests.harness.provider_host import (
    UNKNOWN,
    DiffOutcome,
    HarnessError,
    ProviderError,
    ProviderHost,
    urn,
)

__all__ = [
    "UNKNOWN",
    "CheckFailed",
    "DeployResult",
    "Deployment",
    "DiffOutcome",
    "Engine",
    "HarnessError",
    "ProgramRun",
    "ProviderError",
    "ProviderHost",
    "Registration",
    "State",
    "Step",
    "deploy",
    "destroy",
    "preview",
    "refresh",
    "run_program",
    "urn",
]
