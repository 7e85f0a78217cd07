"""Test harness: the real dynamic-provider host over gRPC, a model of the engine, and programs under mocks."""

from tests.harness.engine import (
    Canceled,
    CheckFailed,
    Deployment,
    Engine,
    Options,
    ProtectedError,
    Registration,
    State,
    Step,
)
from tests.harness.program import DeployResult, ProgramRun, deploy, destroy, preview, refresh, run_program
from tests.harness.provider_host import (
    UNKNOWN,
    DiffOutcome,
    HarnessError,
    HostCall,
    HostFactory,
    ProviderError,
    ProviderHost,
    urn,
)

__all__ = [
    "UNKNOWN",
    "Canceled",
    "CheckFailed",
    "DeployResult",
    "Deployment",
    "DiffOutcome",
    "Engine",
    "HarnessError",
    "HostCall",
    "HostFactory",
    "Options",
    "ProgramRun",
    "ProtectedError",
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
