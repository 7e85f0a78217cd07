"""What both dynamic providers share: config from `configure()`, kept out of the pickle, log lines, and errors.

The provider object is pickled (by reference: a class in an importable module) into every resource's
state as `__provider`. It must hold no client, token or URL: `configure()` keeps the stack config in
memory only, `__getstate__` leaves it out of any pickle, and each call resolves `Settings` afresh.

Every failure of a provider method leaves it through `reported`: one EndpointError that names the endpoint
(`namespace/name`) and says what the server said, raised `from None` so the host prints no chained HfHubHTTPError or
httpx traceback (whose text can carry request details), with every secret value of the stack masked in the text
(`secret_text`: the token, endpoint secrets, registry passwords, in every form).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pulumi.dynamic import ConfigureRequest, ResourceProvider

from providers import host_exit
from providers.client import EndpointError, EndpointsApiError, EndpointsClient, Settings, describe_error
from providers.model_facts import HubSettings
from providers.secret_text import endpoint_secrets, mask, secret_values
from providers.values import REDACTED, is_secret_key

# hubUrl: the Hub check reads model facts from; endpoints/defaults: the secret values to mask in failure logs.
CONFIG_KEYS = ("apiUrl", "hfToken", "pollSeconds", "readyTimeoutSeconds", "deleteTimeoutSeconds", "hubUrl",
               "endpoints", "defaults")


def log_line(message: str) -> None:
    """Provider log lines go to stdout, which `pulumi up` shows as diagnostics. Never log tokens."""
    sys.stdout.write(f"hf-endpoints: {message}\n")  # one write: the host's 4 workers must not interleave
    sys.stdout.flush()


class StackSettings(dict):
    """The stack config a provider keeps in memory; its repr never shows a secret-looking value."""

    def __repr__(self) -> str:
        return repr({key: REDACTED if is_secret_key(key.split(":")[-1]) else value for key, value in self.items()})


def _in_provider_host() -> bool:
    """Whether this process is Pulumi's dynamic-provider host (`python -m pulumi.dynamic`), not a test or tool."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "pulumi.dynamic.__main__"


class ConfiguredProvider(ResourceProvider):
    serialize_as_secret_always = False  # it captures nothing secret; tests assert the pickle has no token

    def configure(self, req: ConfigureRequest) -> None:
        config = {f"hf-endpoints:{key}": req.config.get(f"hf-endpoints:{key}") for key in CONFIG_KEYS}
        self._config = StackSettings({key: value for key, value in config.items() if value is not None})
        # The provider host reports a failed call as `traceback.format_exc()`. Every failure of ours is one
        # EndpointError naming the endpoint and the server's message (`reported`), so the frames of the host and
        # of this package only hide it: show the message alone, unless HF_ENDPOINTS_TRACEBACKS asks for them.
        if _in_provider_host():
            if not os.environ.get("HF_ENDPOINTS_TRACEBACKS"):
                sys.tracebacklimit = 0
            host_exit.install()  # the host exits at once when the engine ends it, not 0.1 s later

    def __getstate__(self) -> dict[str, Any]:
        return {}  # never pickle configuration: it holds the token

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._config = StackSettings()

    def settings(self) -> Settings:
        return Settings.resolve(getattr(self, "_config", {}))

    def secret_values(self, *specs: Any) -> list[str]:
        """Every secret value this call could meet: the stack's (config as the engine sent it, and the token from the
        environment too) and those of the endpoints in `specs` (inputs or outputs: one removed from the stack file
        is deleted with the secrets its state recorded)."""
        config = getattr(self, "_config", {})
        found = secret_values(config, config.get("hf-endpoints:hfToken"), os.environ.get("HF_TOKEN"))
        return [*found, *(value for spec in specs for value in endpoint_secrets(spec))]

    def client(self, *specs: Any) -> EndpointsClient:
        """A client whose every answer has `secret_values(*specs)` masked."""
        return EndpointsClient(self.settings(), secrets=self.secret_values(*specs))

    def hub(self) -> HubSettings:
        return HubSettings.resolve(getattr(self, "_config", {}))

    @contextmanager
    def reported(self, endpoint_ids: str | Sequence[str], action: str, *specs: Any) -> Iterator[None]:
        """Run one provider method: any failure becomes one EndpointError naming the endpoint(s) and the server's
        message; a message already naming them is kept as written. No chained traceback, no secret value of the
        stack or of `specs`."""
        names = [endpoint_ids] if isinstance(endpoint_ids, str) else list(endpoint_ids)
        secrets = self.secret_values(*specs)
        try:
            yield
        except EndpointError as error:
            message = mask(str(error), secrets, REDACTED)
            if not any(name in message for name in names):
                message = f"{', '.join(names)}: {message}"
            raise type(error)(message) from None
        except Exception as error:
            raise EndpointsApiError(f"{', '.join(names)}: {action} failed: "
                                    f"{mask(describe_error(error), secrets, REDACTED)}") from None
