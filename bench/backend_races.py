"""Races on a shared state backend through the real Pulumi CLI: prints numbers, asserts nothing.

Run: `venv/bin/python -m bench.backend_races [--trials N]` (servers from `./scripts/backend-servers`). For each
backend (PostgreSQL, versitygw's S3, a shared file folder), two checkouts of the project on one stack start a
command at the same moment, N times each:

* `up` against `up` (a fresh stack each trial): who won, whether both lost, the loser's exit time, and whether
  anything was duplicated (more than one endpoint or create);
* `up` against `destroy` of a deployed stack: who won, and whether an endpoint was left outside the state or the
  state kept one the API no longer has.

tests/test_cli_backends.py holds the deterministic cases (one run holds the lock, the other arrives); this shows
what the lock does when the two really start together.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from emulator.process import EmulatorProcess
from tests.backend_servers import PostgresServer, S3Server, find_servers
from tests.conftest import EMULATOR_FAST_ARGS
from tests.pulumi_cli import PulumiProject, install

LOCKED = "the stack is currently locked by"
NAME = "jais-13b-chat"


def checkouts(root: Path, bin_dir: Path, emulator: EmulatorProcess, url: str, env: dict[str, str]):
    a = PulumiProject(root / "a", bin_dir, emulator, backend_url=url, backend_env=env)
    a.point_at_emulator()
    a.edit_endpoint(NAME, paused=True)
    a.init()
    return a, a.teammate(root / "b")


def together(first: tuple[PulumiProject, tuple[str, ...]], second: tuple[PulumiProject, tuple[str, ...]]):
    """Start both commands at once; (exit code, seconds, output) of each."""
    started = time.monotonic()
    runs = [project.start(*args, "--stack", "local", "--yes", "--skip-preview") for project, args in (first, second)]
    results = []
    for run in runs:
        output, _ = run.communicate(timeout=300)
        results.append((run.returncode, time.monotonic() - started, output))
    return results


def outcome(results) -> str:
    codes = tuple("won" if code == 0 else "lost" if LOCKED in output else f"failed {code}"
                  for code, _, output in results)
    return {("won", "lost"): "first won", ("lost", "won"): "second won"}.get(codes, " / ".join(codes))


def race_ups(root: Path, bin_dir: Path, emulator: EmulatorProcess, url_for, env, trials: int) -> None:
    outcomes, loser_seconds, duplicated = Counter(), [], 0
    for trial in range(trials):
        emulator.reset()
        emulator.configure(reply="positive", time_scale=60)
        a, b = checkouts(root / f"ups-{trial}", bin_dir, emulator, url_for(), env)
        results = together((a, ("up",)), (b, ("up",)))
        outcomes[outcome(results)] += 1
        loser_seconds += [seconds for code, seconds, output in results if code != 0 and LOCKED in output]
        creates = sum(c["method"] == "POST" and c["path"] == "/v2/endpoint/local" for c in emulator.calls())
        duplicated += len(emulator.endpoints("local")) > 1 or creates > 1
        a.kill_leftovers()
        b.kill_leftovers()
    slowest = f", the loser exited at most {max(loser_seconds):.2f} s after both started" if loser_seconds else ""
    print(f"  up vs up, {trials} trials: {dict(outcomes)}{slowest}; duplicated in {duplicated}")


def race_up_destroy(root: Path, bin_dir: Path, emulator: EmulatorProcess, url_for, env, trials: int) -> None:
    outcomes, inconsistent = Counter(), 0
    for trial in range(trials):
        emulator.reset()
        emulator.configure(reply="positive", time_scale=60)
        a, b = checkouts(root / f"destroy-{trial}", bin_dir, emulator, url_for(), env)
        a.up()
        results = together((a, ("up",)), (b, ("destroy",)))
        outcomes[outcome(results)] += 1
        in_state = {r["id"] for r in b.resources()}
        in_api = {f"local/{e['name']}" for e in emulator.endpoints("local")}
        inconsistent += in_state != in_api
        a.kill_leftovers()
        b.kill_leftovers()
    print(f"  up vs destroy, {trials} trials: {dict(outcomes)}; state and API differ in {inconsistent}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    bin_dir = install()
    servers = find_servers()
    if bin_dir is None or {"postgres-bin", "versitygw"} - set(servers):
        raise SystemExit("needs the Pulumi CLI and both servers: run ./scripts/pulumi --install-only and "
                         "./scripts/backend-servers")
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        root = Path(scratch)
        emulator = stack.enter_context(EmulatorProcess(EMULATOR_FAST_ARGS))
        postgres = stack.enter_context(PostgresServer(servers["postgres-bin"]))
        s3 = stack.enter_context(S3Server(servers["versitygw"]))

        def bucket() -> str:
            name = f"race-{uuid.uuid4().hex[:10]}"
            s3.create_bucket(name)
            return s3.url(name)

        def folder() -> str:
            path = root / "files" / uuid.uuid4().hex
            path.mkdir(parents=True)
            return f"file://{path}"

        backends = {
            "postgres": (lambda: postgres.url(f"race_{uuid.uuid4().hex[:10]}"), {}),
            "s3 (versitygw)": (bucket, s3.env),
            "shared file folder": (folder, {}),
        }
        version = subprocess.run([str(bin_dir / "pulumi"), "version"], capture_output=True, text=True).stdout.strip()
        print(f"Pulumi CLI {version}; both commands started together, {args.trials} trials each")
        for name, (url_for, env) in backends.items():
            print(f"{name}:")
            for race in (race_ups, race_up_destroy):
                started = time.monotonic()
                race(root / name.split()[0], bin_dir, emulator, url_for, env, args.trials)
                print(f"    ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
