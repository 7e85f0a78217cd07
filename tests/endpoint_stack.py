"""InferenceEndpoint + EndpointsReady driven through the real provider host, as `pulumi up` drives them.

A thin product-level layer over `tests.harness`: it builds the registrations the program would make (one
InferenceEndpoint per endpoint, then one EndpointsReady over all of their outputs), runs them through the
engine model (independent creates in parallel, like the engine), and keeps the state between runs like a
state file, including after a failure (what completed is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from providers import EndpointsReadyProvider, InferenceEndpointProvider
from providers.endpoints_ready import readiness_view
from tests.harness.engine import Engine, Registration, State, Step
from tests.harness.provider_host import HarnessError, ProviderHost

PROJECT = "hf-endpoints"
ENDPOINT_TYPE = "pulumi-python:dynamic/hf:InferenceEndpoint"
READY_TYPE = "pulumi-python:dynamic/hf:EndpointsReady"
ENDPOINT_PROVIDER = serialize_provider(InferenceEndpointProvider())
READY_PROVIDER = serialize_provider(EndpointsReadyProvider())


class EndpointStack:
    """One stack's state, and `up`/`preview`/`refresh`/`destroy` over a ProviderHost."""

    def __init__(self, host: ProviderHost, namespace: str = "local", stack: str = "dev"):
        self.host, self.namespace = host, namespace
        self.engine = Engine(host, stack, PROJECT)
        self.owner = f"{PROJECT}/{stack}"  # what InferenceEndpoint sets as `stack` in the program
        self.state = State()

    def up(self, endpoints: Mapping[str, Mapping[str, Any]], *, wait: bool = True,
           timeout_seconds: float | None = None, preview: bool = False) -> list[Step]:
        """Register every endpoint (in parallel), then EndpointsReady over their outputs."""
        run = self.engine.begin(self.state, preview=preview)
        registrations = [
            Registration(ENDPOINT_TYPE, name, {"__provider": ENDPOINT_PROVIDER, "stack": self.owner, **mapping,
                                               "name": name, "namespace": self.namespace})
            for name, mapping in endpoints.items()
        ]
        try:
            with ThreadPoolExecutor(max_workers=16) as pool:
                entries = list(pool.map(run.register, registrations))
            if wait and entries:
                ready_inputs: dict[str, Any] = {
                    "__provider": READY_PROVIDER,
                    "endpoints": [readiness_view(entry["outputs"]) for entry in entries],
                }
                if timeout_seconds is not None:
                    ready_inputs["timeout_seconds"] = timeout_seconds
                run.register(Registration(READY_TYPE, "endpoints-ready", ready_inputs,
                                          [self.engine.urn(r) for r in registrations]))
            state, steps = run.finish()
        except HarnessError as error:
            if not preview:
                failed = run.fail(error)
                self.state = failed.state
            raise
        if not preview:
            self.state = state
        return steps

    def refresh(self) -> list[Step]:
        self.state, steps = self.engine.refresh(self.state)
        return steps

    def destroy(self) -> list[Step]:
        """Like `pulumi destroy`: on failure the state keeps what was not deleted (never emptied to hide it)."""
        try:
            steps = self.engine.destroy(self.state)
        except HarnessError as error:
            if error.state is not None:
                self.state = error.state
            raise
        self.state = State()
        return steps

    def outputs(self, name: str) -> dict[str, Any]:
        return self.state.by_name(name)["outputs"]

    def names(self) -> list[str]:
        return [urn.rsplit("::", 1)[1] for urn, entry in self.state.resources.items()
                if entry["type"] == ENDPOINT_TYPE]


def ops(steps: list[Step]) -> dict[str, str]:
    """Steps as {resource name: op}, for exact assertions."""
    return {step.urn.rsplit("::", 1)[1]: step.op for step in steps}
