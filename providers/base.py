"""What both dynamic providers share: config from `configure()`, kept out of the pickle, and log lines.

The provider object is pickled (by reference: a class in an importable module) into every resource's
state as `__provider`. It must hold no client, token or URL: `configure()` keeps the stack config in
memory only, `__getstate__` leaves it out of any pickle, and each call resolves `Settings` afresh.
"""

from __future__ import annotations

import sys
from typing import Any

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from providers.client import EndpointsClient, Settings
from providers.model_facts import HubSettings

CONFIG_KEYS = ("apiUrl", "hfToken", "pollSeconds", "readyTimeoutSeconds")
# hubUrl: the Hub check reads model facts from; endpoints/defaults: the secret values to mask in failure logs.
CONFIG_KEYS += ("hubUrl", "endpoints", "defaults")


def log_line(message: str) -> None:
    """Provider log lines go to stdout, which `pulumi up` shows as diagnostics. Never log tokens."""
    sys.stdout.write(f"hf-endpoints: {message}\n")  # one write: the host's 4 workers must not interleave
    sys.stdout.flush()


class ConfiguredProvider(ResourceProvider):
    serialize_as_secret_always = False  # it captures nothing secret; tests assert the pickle has no token

    def configure(self, req: ConfigureRequest) -> None:
        self._config = {f"hf-endpoints:{key}": req.config.get(f"hf-endpoints:{key}") for key in CONFIG_KEYS}
        self._config = {key: value for key, value in self._config.items() if value is not None}

    def __getstate__(self) -> dict[str, Any]:
        return {}  # never pickle configuration: it holds the token

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._config = {}

    def settings(self) -> Settings:
        return Settings.resolve(getattr(self, "_config", {}))

    def client(self) -> EndpointsClient:
        return EndpointsClient(self.settings())

    def hub(self) -> HubSettings:
        return HubSettings.resolve(getattr(self, "_config", {}))
