"""Benchmark through the real Pulumi CLI and engine: prints numbers, asserts nothing.

Run: `venv/bin/python -m bench.cli_bench` (the CLI comes from `scripts/pulumi --install-only`). Each stack is a
scratch copy of the project with its own file backend, as in tests/test_cli_*.py, against the emulator with an
emulated start-up time and the provider's default 1 s poll interval:

* `pulumi up` of 16 endpoints vs 1 endpoint: wall time and ratio (target <= 1.5x, as through the provider host);
* a no-op `pulumi up` of the 16: seconds and API calls (target: 0 writes);
* `pulumi preview` of 16 new endpoints: seconds and API calls (target: 0).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.provider_bench import api_calls, endpoint
from emulator.process import EmulatorProcess
from tests.pulumi_cli import PulumiProject, install


def stack(root: Path, bin_dir: Path, emulator: EmulatorProcess, count: int, prefix: str) -> PulumiProject:
    project = PulumiProject(root, bin_dir, emulator)
    project.point_at_emulator()
    config = project.stack_config()
    config.pop("hf-endpoints:defaults", None)
    config["hf-endpoints:endpoints"] = {f"{prefix}-{i}": endpoint(i) for i in range(count)}
    project.write_stack(config)
    project.env.pop("HF_ENDPOINTS_POLL_SECONDS")  # the default interval, as users run it
    project.init()
    return project


def timed(action) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup-seconds", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=16)
    args = parser.parse_args()
    bin_dir = install()
    if bin_dir is None:
        raise SystemExit("no Pulumi CLI: run ./scripts/pulumi --install-only")
    with tempfile.TemporaryDirectory() as scratch, \
            EmulatorProcess(["--startup-seconds", str(args.startup_seconds), "--update-seconds", "1",
                             "--delete-seconds", "0.2", "--quota", "1000", "--reply", "hello"]) as emulator:
        root = Path(scratch)
        print(f"Pulumi CLI {bin_dir}; emulator start-up {args.startup_seconds:.1f} s, poll interval 1 s")
        one = stack(root / "one", bin_dir, emulator, 1, "one")
        many = stack(root / "many", bin_dir, emulator, args.count, "many")

        emulator.clear_calls()
        seconds = timed(lambda: many.run("preview", "--stack", "local"))
        print(f"pulumi preview, {args.count} new endpoints: {seconds:.2f} s, "
              f"{len(api_calls(emulator))} Endpoints API calls")

        one_seconds = timed(lambda: one.up())
        many_seconds = timed(lambda: many.up())
        print(f"pulumi up, 1 endpoint: {one_seconds:.2f} s; {args.count} endpoints: {many_seconds:.2f} s; "
              f"ratio {many_seconds / one_seconds:.2f}")

        emulator.clear_calls()
        seconds = timed(lambda: many.up())
        print(f"no-op pulumi up, {args.count} endpoints: {seconds:.2f} s, "
              f"{len(api_calls(emulator, ('POST', 'PUT', 'DELETE')))} write calls, "
              f"{len(api_calls(emulator))} Endpoints API calls in all")

        emulator.clear_calls()
        seconds = timed(lambda: many.run("preview", "--stack", "local", "--expect-no-changes"))
        print(f"pulumi preview, {args.count} unchanged endpoints: {seconds:.2f} s, "
              f"{len(api_calls(emulator))} Endpoints API calls")
        one.destroy()
        many.destroy()


if __name__ == "__main__":
    main()
