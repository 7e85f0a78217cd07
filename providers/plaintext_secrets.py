"""Secret values the stack file holds in clear: found, so the preview can say so and how to fix it. Pure: no I/O.

Why: Pulumi encrypts only what `pulumi config set --secret` wrote. A token, a `secrets:` value or a registry password
typed into `Pulumi.<stack>.yaml` sits there in plain text, while the preview shows it as `[secret]` (the program wraps
it), hiding that. Pulumi tells the program which top-level keys hold an encrypted value (the config's secret keys):
a key that holds none has every value in clear. It does not say which values of a structured key are encrypted, so a
clear value beside an encrypted one under the same key is not found. Env values are never secret (state, previews and
the dashboard show them): one that looks like a secret (`HF_TOKEN`, `API_KEY`, a token-shaped value) belongs in
`secrets`, wherever it was written.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from providers import engines
from providers.values import TOKEN_SHAPED, is_secret_key, show_key

PREFIX = "hf-endpoints:"
IN_CLEAR = ("is in the stack file in plain text (the preview shows it as [secret], yet only `--secret` config is "
            "encrypted)")


def _set_secret(path: str, value: str = "<value>") -> str:
    return f"`pulumi config set --secret --path '{PREFIX}{path}' {value}`"


def _encrypted_values(where: str, spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(config path, placeholder) of each value of one endpoint (or the defaults) that must be encrypted."""
    secrets = spec.get("secrets")
    for name in secrets if isinstance(secrets, Mapping) else ():
        yield f"{where}.secrets.{show_key(name)}", "<value>"
    for path in engines.REGISTRY_CREDENTIALS:
        credentials: Any = spec
        for part in path:
            credentials = credentials.get(part) if isinstance(credentials, Mapping) else None
        if isinstance(credentials, Mapping) and credentials.get("password"):
            yield f"{where}.{'.'.join(path)}.password", "<password>"


def _secret_looking_env(where: str, spec: Mapping[str, Any], label: str | None = None) -> Iterator[str]:
    """One line per env value that looks like a secret. `where`: the endpoint's config path (`endpoints.<name>`), for
    the fix; `label`: how the line names the place (default the config path; an endpoint file's `<file>: <name>`)."""
    env = spec.get("env")
    for name, value in env.items() if isinstance(env, Mapping) else ():
        if is_secret_key(name) or (isinstance(value, str) and TOKEN_SHAPED.search(value)):
            yield (f"{label or PREFIX + where}.env.{show_key(name)} looks like a secret, but env values are stored "
                   f"and shown in plain text (state, preview, the dashboard); move it to secrets: "
                   f"{_set_secret(f'{where}.secrets.{show_key(name)}')}, and remove it from env")


def file_warnings(endpoints: Mapping[str, Any], sources: Mapping[str, str]) -> list[str]:
    """The env values that look like secrets in endpoint files (`hf-endpoints:endpointFiles`), each line naming its
    file: a file holds no secret value (`endpoint_files` refuses those), but an env value is one in disguise."""
    return [line for name, spec in endpoints.items() if isinstance(spec, Mapping)
            for line in _secret_looking_env(f"endpoints.{show_key(name)}", spec, f"{sources[name]}: {show_key(name)}")]


def warnings(settings: Mapping[str, Any], endpoints: Any, defaults: Any,
             secret_keys: Collection[str]) -> list[str]:
    """One line per secret value in clear: `settings` are the stack's `hf-endpoints:` settings as text (prefix
    removed), `endpoints`/`defaults` the decoded mappings, `secret_keys` the full keys Pulumi keeps encrypted."""
    found = []
    if settings.get("hfToken") not in (None, "") and f"{PREFIX}hfToken" not in secret_keys:
        found.append(f"{PREFIX}hfToken {IN_CLEAR}; store it encrypted: `pulumi config set --secret {PREFIX}hfToken "
                     "<token>`, or export HF_TOKEN instead")
    specs = [("defaults", "defaults", defaults)]
    if isinstance(endpoints, Mapping):
        specs += [("endpoints", f"endpoints.{show_key(name)}", spec) for name, spec in endpoints.items()]
    for key, where, spec in specs:
        if not isinstance(spec, Mapping):
            continue
        if f"{PREFIX}{key}" not in secret_keys:
            found += [f"{PREFIX}{path} {IN_CLEAR}; store it encrypted: {_set_secret(path, value)}"
                      for path, value in _encrypted_values(where, spec)]
        found += _secret_looking_env(where, spec)
    return found
