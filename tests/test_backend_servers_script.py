"""`scripts/backend-servers`: on a machine with neither server it installs PostgreSQL with apt-get and builds
versitygw with go, once; `--find` installs nothing; what it cannot get it names, with how to get it.

Each case runs the script with a scratch cache and package folder and a PATH of our choosing, where stand-in
`apt-get`, `go` and `id` commands record how they were called (and `apt-get` and `go` put what they would install
where the real ones do). No case installs or builds anything for real.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "backend-servers"
VERSION = next(line.split("=", 1)[1] for line in SCRIPT.read_text().splitlines()
               if line.startswith("VERSITYGW_VERSION="))
# What the script runs, and nothing else: no real apt-get, go, initdb or sudo, wherever this machine has them.
TOOLS = ("bash", "env", "dirname", "readlink", "ls", "sort", "date", "mkdir", "flock", "mktemp", "rm", "mv", "cat",
         "chmod", "touch")


@pytest.fixture
def machine(tmp_path) -> dict[str, Path]:
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in TOOLS:
        (tools / name).symlink_to(shutil.which(name))
    return {"tools": tools, "fakes": tmp_path / "fakes", "calls": tmp_path / "calls", "lib": tmp_path / "postgresql",
            "cache": tmp_path / "cache"}


def fake(machine: dict[str, Path], name: str, body: str) -> None:
    machine["fakes"].mkdir(exist_ok=True)
    path = machine["fakes"] / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{machine["calls"]}"\n{body}\n')
    path.chmod(0o755)


def as_root(machine: dict[str, Path], uid: int = 0) -> None:
    fake(machine, "id", f'[ "$1" = -u ] && echo {uid}')


def with_apt_get(machine: dict[str, Path]) -> None:
    """An apt-get whose `install` puts PostgreSQL 15's binaries where Debian's package does."""
    bin_dir = machine["lib"] / "15" / "bin"
    fake(machine, "apt-get", f'[ "$1" = install ] && mkdir -p "{bin_dir}" && touch "{bin_dir}/initdb" '
                             f'"{bin_dir}/postgres" && chmod +x "{bin_dir}/initdb" "{bin_dir}/postgres"; exit 0')


def with_go(machine: dict[str, Path]) -> None:
    fake(machine, "go", 'mkdir -p "$GOBIN" && touch "$GOBIN/versitygw" && chmod +x "$GOBIN/versitygw"')


def run(machine: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{machine['fakes']}:{machine['tools']}", "HOME": str(machine["cache"].parent),
           "HF_ENDPOINTS_CACHE": str(machine["cache"]), "HF_ENDPOINTS_POSTGRES_LIB": str(machine["lib"])}
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def calls(machine: dict[str, Path]) -> list[str]:
    path = machine["calls"]
    return [line for line in path.read_text().splitlines() if not line.startswith("id ")] if path.exists() else []


def test_a_new_machine_gets_both_servers_once(machine):
    """As root: apt-get installs postgresql, go builds versitygw into the cache; the next run installs nothing."""
    as_root(machine)
    with_apt_get(machine)
    with_go(machine)
    done = run(machine)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"postgres-bin={machine['lib'] / '15' / 'bin'}",
                                        f"versitygw={machine['cache'] / f'versitygw-{VERSION}' / 'versitygw'}"]
    assert calls(machine) == ["apt-get update -q", "apt-get install -y -q postgresql",
                              f"go install -trimpath github.com/versity/versitygw/cmd/versitygw@{VERSION}"]
    machine["calls"].unlink()
    again = run(machine)
    assert (again.stdout, calls(machine)) == (done.stdout, [])


def test_find_installs_nothing_and_says_how_to_get_each(machine):
    as_root(machine)
    with_apt_get(machine)
    with_go(machine)
    done = run(machine, "--find")
    assert (done.returncode, done.stdout, calls(machine)) == (0, "", [])
    assert done.stderr.splitlines() == [
        "scripts/backend-servers: no PostgreSQL server (initdb, postgres): run ./scripts/backend-servers (apt-get "
        "install postgresql)",
        f"scripts/backend-servers: no versitygw {VERSION} in {machine['cache'] / f'versitygw-{VERSION}'}: run "
        "./scripts/backend-servers (builds it with Go)"]


def test_without_root_or_go_it_names_what_to_install(machine):
    """Not root and no sudo: no apt-get call; no go: no build. One line each says what to install."""
    as_root(machine, uid=1000)
    with_apt_get(machine)
    done = run(machine)
    assert (done.returncode, done.stdout, calls(machine)) == (0, "", [])
    assert done.stderr.splitlines() == [
        "scripts/backend-servers: no PostgreSQL server (initdb, postgres): install Debian's postgresql package "
        "(apt-get install postgresql)",
        "scripts/backend-servers: no versitygw: it is built with Go (1.25+) from the Go module proxy; install Go, "
        "then run this again"]
