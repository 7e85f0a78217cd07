"""Shared fixtures. huggingface_hub reads some settings at import: set them before anything imports it."""

import os

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
    os.environ.pop(_var, None)

import atexit  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

from emulator.process import EmulatorProcess  # noqa: E402
from tests import pulumi_cli  # noqa: E402  (it keeps the user's cache settings for the pinned CLI)

# Model facts that check reads from a Hub are cached on disk: the test run's processes use a scratch cache,
# never the user's (a test that counts Hub calls gives its own).
os.environ["HF_ENDPOINTS_CACHE"] = tempfile.mkdtemp(prefix="hf-endpoints-test-cache-")
atexit.register(shutil.rmtree, os.environ["HF_ENDPOINTS_CACHE"], True)

# A fixed seed: the fault-injection tests see the same fault sequence on every run (`reset()` re-seeds it).
EMULATOR_FAST_ARGS = [
    "--startup-seconds", "0.3", "--update-seconds", "0.2", "--delete-seconds", "0.2", "--time-scale", "0.05",
    "--seed", "20260901",
]


@pytest.fixture(scope="session")
def emulator_process():
    """One emulator process for the whole run, with fast timings."""
    with EmulatorProcess(EMULATOR_FAST_ARGS) as emu:
        # Provider hosts started by tests read model facts from its Hub routes unless their config says
        # otherwise (hf-endpoints:hubUrl), never from the public Hub. This process read HF_ENDPOINT at import.
        previous = os.environ.get("HF_ENDPOINT")
        os.environ["HF_ENDPOINT"] = emu.base_url
        yield emu
        if previous is None:
            os.environ.pop("HF_ENDPOINT", None)
        else:
            os.environ["HF_ENDPOINT"] = previous


@pytest.fixture
def http(emulator):
    """An HTTP client of the session's (reset) emulator, with its token."""
    import httpx2

    with httpx2.Client(base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.token}"},
                       timeout=10) as client:
        yield client


@pytest.fixture
def emulator(emulator_process):
    """The session's emulator, reset: no endpoints, faults, calls, and the command-line config."""
    emulator_process.reset()
    yield emulator_process


@pytest.fixture(scope="session")
def pulumi_bin():
    """The directory of the pinned Pulumi CLI. Under CI a missing CLI fails the tests that need it."""
    bin_dir = pulumi_cli.install()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail(pulumi_cli.CLI_MISSING)
        pytest.skip(pulumi_cli.CLI_MISSING)
    return bin_dir


@pytest.fixture
def project(tmp_path, pulumi_bin, emulator):
    """The `local` stack in a scratch copy of the project for the real CLI, pointed at a reset emulator whose replies
    pass the smoke test and whose idle clock runs in real minutes (a running endpoint stays running for the whole
    test). Whatever a killed CLI left running is ended afterwards."""
    emulator.configure(reply="positive", time_scale=60)
    project = pulumi_cli.PulumiProject(tmp_path / "project", pulumi_bin, emulator)
    project.point_at_emulator()
    project.only_endpoints("jais-13b-chat")  # the tutorial's endpoint; the quickstart test deploys the other two
    project.init()
    yield project
    project.kill_leftovers()


@pytest.fixture
def deployed(project, emulator):
    """`project` after a successful `pulumi up`, with the emulator's call log cleared."""
    project.up()
    emulator.clear_calls()
    return project


@pytest.fixture(scope="module")
def hosts():
    """A fresh dynamic-provider host per operation, as the engine starts them (tests.endpoint_stack); the factory
    serves the whole module."""
    from tests.endpoint_stack import endpoint_hosts  # imported here: it pulls the whole harness in

    with endpoint_hosts(HF_ENDPOINTS_POLL_SECONDS="0.05") as factory:
        yield factory


def _state_server(name: str, start):
    """A real state server for the shared-backend tests, started for the session and stopped after it. Missing,
    it skips the tests that need it with one line saying how to get it; under CI it fails them."""
    from tests.backend_servers import INSTALL_HINT, find_servers

    found = find_servers().get(name)
    if found is None:
        message = f"no {name} for the shared-backend tests: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with start(found) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of Debian's package on a free loopback port, in a scratch directory."""
    from tests.backend_servers import PostgresServer

    yield from _state_server("postgres-bin", PostgresServer)


@pytest.fixture(scope="session")
def s3_server():
    """versitygw serving a scratch folder over S3 on a free loopback port."""
    from tests.backend_servers import S3Server

    yield from _state_server("versitygw", S3Server)
