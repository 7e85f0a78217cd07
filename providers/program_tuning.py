"""What the program changes in its own process, so that a stack of hundreds of endpoints costs what Pulumi must.

Each change was measured on a no-op `pulumi up` and an `up` of 100 new endpoints through the real CLI
(`bench/cli_bench.py`; README, "Benchmark"), and each leaves what the user sees, and the state's meaning, unchanged:

* **Python's collector.** A program of hundreds of resources makes hundreds of thousands of Pulumi Outputs and asyncio
  tasks, and the default thresholds then spent half its CPU time in collections (500 endpoints: 2.9 s of CPU, 1.5 s
  with these). The imports are frozen out of the collector and collections are 70 times rarer; the process lives
  for one command.
* **The SDK's debug lines.** Pulumi's Python SDK sends each `pulumi.log.debug` line to the engine as a blocking gRPC
  call, four per resource ("registering resource ...", "resource registration successful ..."), which the CLI shows
  only under `pulumi up --debug`: about 0.8 ms of the program's event loop each, 0.3 s for 100 endpoints. They are
  dropped unless `HF_ENDPOINTS_SDK_DEBUG=1` (set it to see them again with `--debug`).
* **The recorded call stack.** For every resource the SDK records the Python call stack that declared it, and the
  engine keeps it in state: eleven frames, 1.2 KB of an endpoint's 4.1 KB, all of them the same for every endpoint
  (the program's loop over the YAML, then Pulumi's runner). The engine writes the whole state twice per created
  resource, so at 100 endpoints those frames were a third of every write. Kept: the first frame, which is the
  resource's source position (`sourcePosition` in state is unchanged); dropped: the frames that call it.

`apply()` runs once, first thing in `__main__.py`. What it patches is looked up by name in the pinned SDK
(requirements.txt); `tests/test_program_tuning.py` fails if a new SDK moves it, instead of the tuning going quiet.
"""

from __future__ import annotations

import gc
import os
from typing import Any

SDK_DEBUG_ENV = "HF_ENDPOINTS_SDK_DEBUG"
COLLECTOR_THRESHOLDS = (50_000, 20, 100)

_APPLIED: dict[str, bool] = {}


def apply(environ: Any = os.environ) -> None:
    """Tune this process (once): the collector, the SDK's debug lines (unless `HF_ENDPOINTS_SDK_DEBUG=1`), and the
    call stack each resource records."""
    if _APPLIED.get("done"):
        return
    _APPLIED["done"] = True
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    if environ.get(SDK_DEBUG_ENV) != "1":
        _drop_sdk_debug_lines()
    _record_the_declaring_frame_only()


def _drop_sdk_debug_lines() -> None:
    import pulumi.log

    def debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
        """Dropped (see `providers.program_tuning`): the SDK's own debug lines, shown only under `--debug`."""

    pulumi.log.debug = debug


def _record_the_declaring_frame_only() -> None:
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    whole_stack = resource._get_stack_trace

    def declaring_frame() -> Any:
        """The SDK's stack trace cut to its first frame, the one that declared the resource (its source position)."""
        return source_pb2.StackTrace(frames=list(whole_stack().frames)[:1])

    declaring_frame.whole_stack = whole_stack  # type: ignore[attr-defined]
    resource._get_stack_trace = declaring_frame
