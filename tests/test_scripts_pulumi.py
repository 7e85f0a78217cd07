"""`scripts/pulumi`: where the pinned CLI comes from, in order, and the one message when nothing works.

Each case runs the script with a scratch cache and a PATH of our choosing; the installer URL points at a closed
port, so no case reaches a network. Stand-in `pulumi` and `go` commands record how they were called.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "pulumi"
VERSION = next(line.split()[1] for line in (REPO / "scripts" / "pulumi-cli" / "go.mod").read_text().splitlines()
               if line.strip().startswith("github.com/pulumi/pulumi/pkg/v3 "))
CLOSED = "http://127.0.0.1:9"
# What the script runs, and nothing else: in particular no `go` and no `pulumi`, wherever this machine has them.
TOOLS = ("bash", "sh", "env", "dirname", "awk", "readlink", "curl", "mkdir", "flock", "mktemp", "cp", "date",
         "install", "rm", "mv", "sha256sum", "cut", "cat", "ln", "touch", "python3", "sed", "grep", "head", "tr")


@pytest.fixture
def system_path(tmp_path) -> str:
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in TOOLS:
        found = shutil.which(name)
        if found:
            (tools / name).symlink_to(found)
    return str(tools)


def fake_command(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def run(tmp_path: Path, *args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": path, "HOME": str(tmp_path / "home"), "HF_ENDPOINTS_CACHE": str(tmp_path / "cache"),
           "HF_ENDPOINTS_PULUMI_INSTALLER": CLOSED}
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_version_is_pinned_in_one_place():
    """go.mod pins pkg/v3 and sdk/v3 at the same release, and the script reads that release."""
    gomod = (REPO / "scripts" / "pulumi-cli" / "go.mod").read_text()
    assert f"github.com/pulumi/pulumi/sdk/v3 {VERSION}" in gomod
    assert VERSION.startswith("v3.")


def test_a_pinned_pulumi_on_path_is_used(tmp_path, system_path):
    fake = fake_command(tmp_path / "bin", "pulumi", f'[ "$1" = version ] && echo {VERSION} || echo "ran: $*"')
    done = run(tmp_path, "--install-only", path=f"{fake.parent}:{system_path}")
    assert (done.returncode, done.stdout.strip()) == (0, str(fake))
    done = run(tmp_path, "stack", "ls", path=f"{fake.parent}:{system_path}")
    assert done.stdout.strip() == "ran: stack ls"


def test_a_pulumi_of_another_version_is_not_used(tmp_path, system_path):
    """Another version on PATH is passed over; with no installer and no go, the one message says what was
    tried and what to install, and the exit status is 127."""
    fake_command(tmp_path / "bin", "pulumi", 'echo v3.100.0')
    done = run(tmp_path, "--install-only", path=f"{tmp_path / 'bin'}:{system_path}")
    assert done.returncode == 127
    assert done.stderr == (
        f"scripts/pulumi: could not get the Pulumi CLI {VERSION}. Tried: a pulumi {VERSION} on PATH or in "
        f"~/.pulumi/bin (none); the official installer ({CLOSED} unreachable or failed); a build from Go modules "
        f"(no go command). Install Go 1.26+ with access to a Go module proxy, or the Pulumi CLI {VERSION}, then run "
        "this again.\n")


def test_a_failed_build_is_reported(tmp_path, system_path):
    calls = tmp_path / "go-calls"
    fake_command(tmp_path / "bin", "go", f'echo "$*" >> {calls}; echo "go: cannot reach the module proxy" >&2; exit 1')
    done = run(tmp_path, "--install-only", path=f"{tmp_path / 'bin'}:{system_path}")
    assert done.returncode == 127
    assert "go: cannot reach the module proxy" in done.stderr
    assert "(the build failed, see above)" in done.stderr
    assert calls.read_text().startswith("build -trimpath -tags osusergo,grpcnotrace -ldflags -X "
                                        f"github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={VERSION}")
    assert not (tmp_path / "cache" / f"pulumi-{VERSION}" / "cli").exists()  # nothing half-built is kept


def test_a_built_cli_is_found_in_the_cache_with_this_checkouts_language_host(tmp_path, system_path):
    """A CLI in the cache's cli/ runs from a bin-<hash>/ that holds this checkout's language host beside it."""
    cli = tmp_path / "cache" / f"pulumi-{VERSION}" / "cli"
    fake_command(cli, "pulumi", f'[ "$1" = version ] && echo {VERSION} || echo "ran from $(dirname "$0")"')
    for name in ("pulumi-resource-pulumi-python", "pulumi-language-python-exec"):
        fake_command(cli, name, "exit 0")
    done = run(tmp_path, "--install-only", path=system_path)
    assert done.returncode == 0, done.stderr
    bin_dir = Path(done.stdout.strip()).parent
    assert bin_dir.parent == cli.parent and bin_dir.name.startswith("bin-")
    for name in ("pulumi-language-python", "language_host.py"):
        assert (bin_dir / name).read_text() == (REPO / "scripts" / "pulumi-cli" / name).read_text()
    assert os.stat(bin_dir / "pulumi").st_ino == os.stat(cli / "pulumi").st_ino  # a link, not a copy
    again = run(tmp_path, "--install-only", path=system_path)
    assert (again.stdout, again.stderr) == (done.stdout, "")  # nothing built or copied the second time


def test_commands_run_with_no_update_check_and_no_plugin_download(tmp_path, system_path):
    fake = fake_command(tmp_path / "bin", "pulumi", f'[ "$1" = version ] && echo {VERSION} && exit 0\n'
                        'echo "$PULUMI_SKIP_UPDATE_CHECK $PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"')
    done = run(tmp_path, "stack", path=f"{fake.parent}:{system_path}")
    assert done.stdout.strip() == "true true"
