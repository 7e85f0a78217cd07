"""`providers.host_exit`: the provider host's quick exit keeps what a normal exit gives the engine (the status Python
would have used, everything written to stdout and stderr) and is installed only inside the provider host. How much
time it saves is measured by bench/cli_bench.py, not asserted here."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from providers import host_exit
from providers.inference_endpoint import InferenceEndpointProvider
from tests.pulumi_cli import REPO

PROGRAMS = [
    ("clean", "import sys; sys.stdout.write('said'); sys.stderr.write('told')", 0),
    ("uncaught", "import sys; sys.stdout.write('said'); sys.stderr.write('told'); raise RuntimeError('boom')", 1),
    ("sys-exit-code", "import sys; sys.stdout.write('said'); sys.stderr.write('told'); sys.exit(3)", 3),
    ("sys-exit-message", "import sys; sys.stdout.write('said'); sys.stderr.write('told'); sys.exit('gone')", 1),
]


@pytest.mark.parametrize(("case", "body", "status"), PROGRAMS, ids=[case[0] for case in PROGRAMS])
def test_the_quick_exit_keeps_the_status_and_the_output(case, body, status):
    done = subprocess.run([sys.executable, "-c", f"from providers import host_exit; host_exit.install(); {body}"],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (status, "said")
    assert done.stderr.startswith("told")
    assert ("RuntimeError: boom" in done.stderr) is (case == "uncaught")


@pytest.mark.parametrize("installed", [True, False], ids=["quick", "python's-own"])
def test_the_quick_exit_skips_what_python_does_after_the_last_thread(installed):
    """What costs the host 0.1 s (finalizing gRPC and every module) runs after the atexit handlers registered
    before the quick exit's, which run after it: with it installed, they never run."""
    program = ("import atexit, sys; from providers import host_exit; "
               "atexit.register(lambda: sys.stdout.write('finalized')); "
               f"{'host_exit.install(); ' if installed else ''}sys.stdout.write('ran')")
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "ran" if installed else "ranfinalized")


def test_outside_the_provider_host_nothing_is_installed():
    """A test run or a tool that configures a provider keeps Python's own exit."""
    InferenceEndpointProvider().configure(ConfigureRequest(Config({}, "hf-endpoints")))
    assert host_exit._STATE["installed"] is False
