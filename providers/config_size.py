"""How close the stack config is to what Pulumi can hand a Python program, and what to do before it fails.

Why: the language host passes the whole stack config to the program in one environment variable, `PULUMI_CONFIG`, and
Linux limits one variable to 128 KiB (`MAX_ARG_STRLEN`). Past it the program never starts: the language host fails
with `argument list too long` (Pulumi's own host: `fork/exec .../python: argument list too long`, older ones
`[Errno 7]`, pulumi/pulumi#8680; this project's stand-in host, scripts/pulumi-cli/language_host.py, names the limit
and the fix instead), so nothing of ours can say why. While the program still runs, it warns from 3/4 of the limit
on, naming the size and the way out: endpoint files (`hf-endpoints:endpointFiles`, `providers.endpoint_files`), which
the config names but does not carry.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

LIMIT_BYTES = 128 * 1024
"""Linux's MAX_ARG_STRLEN (32 pages of 4 KiB): the longest one `NAME=value` environment entry may be."""
WARN_BYTES = LIMIT_BYTES * 3 // 4
ADVICE = ("move endpoints from hf-endpoints:endpoints into files that hf-endpoints:endpointFiles names (README, "
          "\"Hundreds of endpoints\"); secrets stay in the stack file")


def message(size: int) -> str:
    """What a config of `size` bytes means for this stack."""
    return (f"this stack's config is {size / 1024:.0f} KiB as Pulumi passes it to the program (PULUMI_CONFIG), and "
            f"Linux allows one environment variable {LIMIT_BYTES // 1024} KiB: {ADVICE}")


def warn_when_near_the_limit(environ: Mapping[str, str] = os.environ,
                              warn: Callable[[str], None] | None = None) -> bool:
    """A warning in the preview once the config passes 3/4 of the limit (`pulumi.log.warn`: it never fails); whether
    it warned."""
    size = len(environ.get("PULUMI_CONFIG", "").encode()) + len("PULUMI_CONFIG=")
    if size < WARN_BYTES:
        return False
    if warn is None:
        import pulumi

        warn = pulumi.log.warn
    warn(message(size))
    return True
