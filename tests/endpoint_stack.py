"""A stack of InferenceEndpoints and one EndpointsReady, deployed as `pulumi up` deploys `__main__.py`.

The registrations come from the program's own classes: `providers.InferenceEndpoint` and
`providers.EndpointsReady` are instantiated (as `__main__.py` does, from `stack_endpoints`) under Pulumi's
mocks (`tests.harness.program`), so their resource options (`delete_before_replace`,
`additional_secret_outputs`), their secret inputs and the dependencies the SDK derives reach the engine model.
Each operation takes a fresh provider host configured like the CLI does it (`up` with the stack config, `destroy`
and `refresh` with the config recorded in state), and the state is kept between operations like a state file,
including after a failure (what completed is kept).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi.dynamic.dynamic import serialize_provider

from providers import EndpointsReady, EndpointsReadyProvider, InferenceEndpoint, InferenceEndpointProvider
from providers.stack_config import stack_endpoints
from tests.harness import program
from tests.harness.engine import State, Step
from tests.harness.provider_host import HostFactory, ProviderHost

PROJECT = "hf-endpoints"
ENDPOINT_TYPE = "pulumi-python:dynamic/hf:InferenceEndpoint"
READY_TYPE = "pulumi-python:dynamic/hf:EndpointsReady"
TOKEN_KEY = "hf-endpoints:hfToken"
ENDPOINT_PROVIDER = serialize_provider(InferenceEndpointProvider())
READY_PROVIDER = serialize_provider(EndpointsReadyProvider())


def endpoint_hosts(**env: str) -> HostFactory:
    """Provider hosts for this project, one per operation, with `providers` imported (a context manager)."""
    return HostFactory(PROJECT, env=env, preload=("providers",))


def emulator_config(emulator: Any, token: str | None = None) -> dict[str, object]:
    """The stack config of a stack pointed at the emulator: its Endpoints API, and its Hub routes (where check
    reads model facts); the token is a secret config value."""
    return {"hf-endpoints:apiUrl": emulator.api_url, "hf-endpoints:hubUrl": emulator.base_url,
            TOKEN_KEY: token or emulator.token}


def endpoints_program(namespace: str, endpoints: Mapping[str, Mapping[str, Any]], wait: bool = True,
                      timeout_seconds: float | None = None) -> Callable[[], None]:
    """What `__main__.py` declares for these endpoints: one InferenceEndpoint each, then (with `wait`) one
    EndpointsReady over all of them."""
    def declare() -> None:
        specs = stack_endpoints(namespace, dict(endpoints))
        resources = [InferenceEndpoint(name, inputs) for name, inputs in specs.items()]
        if wait and resources:
            EndpointsReady("endpoints-ready", resources, timeout_seconds=timeout_seconds)
    return declare


class EndpointStack:
    """One stack's state, and `up`/`preview`/`refresh`/`destroy` of it, each through a fresh provider host.

    `config` is the stack config (`project:key` -> value) the next `up` runs with; tests may change it.
    """

    def __init__(self, hosts: HostFactory, config: Mapping[str, object], *,
                 secret_keys: tuple[str, ...] = (TOKEN_KEY,), namespace: str = "local", stack: str = "dev"):
        self.hosts, self.config, self.secret_keys = hosts, dict(config), secret_keys
        self.namespace, self.stack = namespace, stack
        self.state = State()
        self.last: program.DeployResult | None = None
        self.used: list[ProviderHost] = []  # the host of each operation, in order

    def _host(self) -> ProviderHost:
        host = self.hosts()
        self.used.append(host)
        return host

    def up(self, endpoints: Mapping[str, Mapping[str, Any]], *, wait: bool = True,
           timeout_seconds: float | None = None, preview: bool = False) -> list[Step]:
        """Declare every endpoint, then EndpointsReady over their outputs; on failure the state keeps what
        completed (as the engine saves it) and the error propagates."""
        declare = endpoints_program(self.namespace, endpoints, wait, timeout_seconds)
        operation = program.preview if preview else program.deploy
        try:
            self.last = operation(declare, self._host, self.state, self.config, self.secret_keys, stack=self.stack)
        except Exception as error:
            if not preview and getattr(error, "state", None) is not None:
                self.state = error.state  # type: ignore[attr-defined]
            raise
        if not preview:
            self.state = self.last.state
        return self.last.steps

    def preview(self, endpoints: Mapping[str, Mapping[str, Any]], **options: Any) -> list[Step]:
        return self.up(endpoints, preview=True, **options)

    def refresh(self) -> list[Step]:
        if not self.state.resources:
            return []
        self.state, steps = program.refresh(self._host, self.state)
        return steps

    def destroy(self) -> list[Step]:
        """Delete everything; on failure the state keeps what is left."""
        if not self.state.resources and not self.state.pending_deletes:
            return []
        try:
            steps = program.destroy(self._host, self.state)
        except Exception as error:
            if getattr(error, "state", None) is not None:
                self.state = error.state  # type: ignore[attr-defined]
            raise
        self.state = State()
        return steps

    def outputs(self, name: str) -> dict[str, Any]:
        return self.state.by_name(name)["outputs"]

    def secrets(self, name: str) -> dict[str, set[str]]:
        """The secret property paths of one resource in state: `{"inputs": {...}, "outputs": {...}}`."""
        return self.state.secrets(name)

    def names(self) -> list[str]:
        return [urn.rsplit("::", 1)[1] for urn, entry in self.state.resources.items()
                if entry["type"] == ENDPOINT_TYPE]

    def log_lines(self) -> list[str]:
        """What the provider hosts of this stack's operations printed: the diagnostics `pulumi` shows."""
        return [line for host in self.used for line in host.log_lines()]


def ops(steps: list[Step]) -> dict[str, str]:
    """Steps as {resource name: op}, for exact assertions."""
    return {step.urn.rsplit("::", 1)[1]: step.op for step in steps}


TUTORIAL_ENDPOINT = "jais-13b-chat"


def tutorial_only(config: dict[str, Any]) -> dict[str, Any]:
    """A stack's config with the tutorial's endpoint alone (Pulumi.local.yaml also deploys a vLLM and a TEI
    endpoint; the tests that follow one endpoint through its life take the tutorial's)."""
    endpoints = config["hf-endpoints:endpoints"]
    return {**config, "hf-endpoints:endpoints": {TUTORIAL_ENDPOINT: endpoints[TUTORIAL_ENDPOINT]}}
