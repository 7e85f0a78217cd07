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
  resource's source position (`sourcePosition` in state is unchanged); dropped: the frames that call it. It is found
  by walking up the frames, as the SDK does, without rendering all of them first (1 ms a resource).
* **Type hints, once per class.** To read a resource's outputs the SDK evaluates its class's annotations again for
  every resource (`pulumi._types.resource_types`, 1 ms each); a class's annotations do not change, so once per class.

`apply()` runs once, first thing in `__main__.py`; `undo()` puts everything back (the tests run the program in
their own process). What it patches is looked up by name in the pinned SDK (requirements.txt);
`tests/test_program_tuning.py` fails if a new SDK moves it, instead of the tuning going quiet.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from typing import Any

SDK_DEBUG_ENV = "HF_ENDPOINTS_SDK_DEBUG"
COLLECTOR_THRESHOLDS = (50_000, 20, 100)

_APPLIED: dict[str, Any] = {}
SDK: dict[str, Any] = {}
"""The SDK's own functions, as `apply()` found them before it replaced them (for comparison in tests)."""


def apply(environ: Any = os.environ) -> None:
    """Tune this process (once): the collector, the SDK's debug lines (unless `HF_ENDPOINTS_SDK_DEBUG=1`), and the
    call stack each resource records."""
    if _APPLIED.get("done"):
        return
    _APPLIED["done"] = True
    _APPLIED["collector_thresholds"] = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    if environ.get(SDK_DEBUG_ENV) != "1":
        _drop_sdk_debug_lines()
    _record_the_declaring_frame_only()
    _type_hints_once_per_class()


def undo() -> None:
    """Put back what `apply()` changed, for a process that goes on after the program: the tests run `__main__.py`
    under Pulumi's mocks in their own process, and each test must find the SDK and the collector as it was."""
    if not _APPLIED.pop("done", False):
        return
    import pulumi.log
    from pulumi import _types
    from pulumi.runtime import resource

    pulumi.log.debug = SDK.get("debug", pulumi.log.debug)
    resource._get_stack_trace = SDK["stack_trace"]
    _types.resource_types = SDK["resource_types"]
    gc.set_threshold(*_APPLIED.pop("collector_thresholds"))
    gc.unfreeze()


def _drop_sdk_debug_lines() -> None:
    import pulumi.log

    SDK["debug"] = pulumi.log.debug

    def debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
        """Dropped (see `providers.program_tuning`): the SDK's own debug lines, shown only under `--debug`."""

    pulumi.log.debug = debug


def declaring_frame() -> Any:
    """The SDK's stack trace (`pulumi.runtime.resource._get_stack_trace`) cut to its first frame: the caller of the
    third `__init__` up from here (Resource, CustomResource, then the concrete class), as the SDK counts them; an
    empty trace where the SDK gives one (no such frame)."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    frame, inits = sys._getframe(1), 0
    while frame is not None:
        if frame.f_code.co_name == "__init__":
            inits += 1
            if inits == 3:
                break
        frame = frame.f_back
    caller = frame.f_back if frame is not None else None
    if caller is None:
        return source_pb2.StackTrace()
    summary = traceback.FrameSummary(caller.f_code.co_filename, caller.f_lineno, caller.f_code.co_name,
                                     lookup_line=False)
    return source_pb2.StackTrace(frames=[source_pb2.StackFrame(pc=resource._get_source_position_for_frame(summary))])


def _record_the_declaring_frame_only() -> None:
    from pulumi.runtime import resource

    SDK["stack_trace"] = resource._get_stack_trace
    resource._get_stack_trace = declaring_frame


def _type_hints_once_per_class() -> None:
    from pulumi import _types

    every_time = SDK["resource_types"] = _types.resource_types
    known: dict[type, dict[str, type]] = {}

    def resource_types(resource_cls: type) -> dict[str, type]:
        """`pulumi._types.resource_types`, computed once per class (the SDK only reads what it returns)."""
        found = known.get(resource_cls)
        if found is None:
            found = known[resource_cls] = every_time(resource_cls)
        return found

    _types.resource_types = resource_types
