"""End to end: `__main__.py` under Pulumi's mocks with a real stack file's config, every InferenceEndpoint and
EndpointsReady registration handed to the real provider host against the emulator, state kept between runs
like a state file."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from emulator import hub
from emulator.process import EmulatorProcess
from providers import promote
from providers.endpoints_ready import protected_removals
from providers.stack_files import load_stack, to_plain
from tests.conftest import EMULATOR_FAST_ARGS
from tests.endpoint_stack import ENDPOINT_TYPE, PROJECT, endpoint_hosts, tutorial_only
from tests.harness import program
from tests.harness.engine import ProtectedError, State, format_path
from tests.harness.provider_host import UNKNOWN, HostFactory

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "__main__.py"
TOKEN = "hf_e2e_token"
WRITES = ("POST", "PUT", "DELETE")
MODEL = "derek-thomas/jais-13b-chat-hf"
# A commit "tested in dev", as promotion writes it into prod; the one commit the emulator's Hub knows of the model.
TESTED = HUB_SHA = hub.builtin_sha(MODEL)


@pytest.fixture(scope="module")
def emulator_e2e():
    """The emulator with one token for user `local`, member of `my-org` (the dev and prod namespace), and a
    reply that the stack files' smoke tests accept."""
    with EmulatorProcess([*EMULATOR_FAST_ARGS, "--token", f"{TOKEN}=local:my-org", "--reply",
                          "positive"]) as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_e2e):
    emulator_e2e.reset()
    yield emulator_e2e


def promoted(directory: Path) -> Path:
    """Pulumi.dev.yaml pinned to TESTED and promoted into Pulumi.prod.yaml (the committed prod has no revision:
    it deploys only what the promotion wrote), both copied into `directory`."""
    for stack in ("dev", "prod"):
        shutil.copy(REPO / f"Pulumi.{stack}.yaml", directory)
    dev_file = directory / "Pulumi.dev.yaml"
    dev_file.write_text(dev_file.read_text().replace(
        "      repository: derek-thomas/jais-13b-chat-hf\n",
        f"      repository: derek-thomas/jais-13b-chat-hf\n      revision: {TESTED}\n", 1))
    assert promote.main(["dev", "prod", "--dir", str(directory)]) == 0
    return directory


def stack_config(stack: str, emulator: EmulatorProcess, directory: Path = REPO,
                 hub_url: str | None = None) -> dict[str, object]:
    """The stack file's `config:` as the engine passes it, pointed at the emulator (and its Hub routes, where
    check reads the model's facts, unless `hub_url` says otherwise)."""
    config = tutorial_only(to_plain(load_stack(directory / f"Pulumi.{stack}.yaml")["config"]))
    config["hf-endpoints:apiUrl"] = emulator.api_url
    config["hf-endpoints:hubUrl"] = hub_url or emulator.base_url
    config["hf-endpoints:hfToken"] = TOKEN
    return config


class Project:
    """`pulumi up` / `pulumi destroy` on one stack, with a state file kept in memory; each operation gets a
    fresh provider host, as each CLI command does."""

    def __init__(self, stack: str, hosts: HostFactory):
        self.stack, self.hosts, self.state = stack, hosts, State()

    def up(self, config: dict[str, object]) -> program.DeployResult:
        result = program.deploy(MAIN, self.hosts, self.state, config, ["hf-endpoints:hfToken"], stack=self.stack)
        self.state = result.state
        return result

    def destroy(self) -> None:
        program.destroy(self.hosts, self.state)
        self.state = State()


def ops(result: program.DeployResult) -> dict[str, str]:
    return {step.urn.rsplit("::", 1)[1]: step.op for step in result.steps}


def writes(emulator: EmulatorProcess) -> list[tuple[str, str]]:
    return [(c["method"], c["path"]) for c in emulator.calls()
            if c["path"].startswith("/v2/") and c["method"] in WRITES]


def endpoints_section(config: dict[str, object]) -> dict[str, dict]:
    return config["hf-endpoints:endpoints"]  # type: ignore[return-value]


@pytest.mark.parametrize("stack", ["local", "dev", "prod"])
def test_stack_lifecycle(stack, emulator, hosts, tmp_path):
    """Up from nothing, up again (no writes), a config change (update in place), a region change (replace),
    an endpoint removed from the YAML (deleted), destroy (nothing left). prod after its promotion from dev."""
    project = Project(stack, hosts)
    config = stack_config(stack, emulator, promoted(tmp_path) if stack == "prod" else REPO)
    namespace = config["hf-endpoints:namespace"]
    (name,) = endpoints_section(config)

    first = project.up(config)
    assert ops(first) == {name: "create", "endpoints-ready": "create"}
    exports = first.exports[name]
    assert exports["state"] == "running"
    assert exports["url"] == f"{emulator.base_url}/e/{namespace}/{name}"
    assert exports["dashboard_url"] == f"https://endpoints.huggingface.co/{namespace}/endpoints/{name}"
    expected_price = {"local": 1.0, "dev": 1.0, "prod": 2.5}[stack]
    assert exports["price_per_hour"] == expected_price
    minimum = endpoints_section(config)[name]["min_replica"]
    assert first.exports["hourly_cost_at_min_replicas"] == expected_price * minimum

    emulator.clear_calls()
    assert set(ops(project.up(config)).values()) == {"same"}
    assert writes(emulator) == []

    changed = copy.deepcopy(config)
    endpoints_section(changed)[name]["env"]["MAX_INPUT_LENGTH"] = "1800"
    emulator.clear_calls()
    assert ops(project.up(changed)) == {name: "update", "endpoints-ready": "update"}
    assert writes(emulator) == [("PUT", f"/v2/endpoint/{namespace}/{name}")]

    moved = copy.deepcopy(changed)
    endpoints_section(moved)[name]["region"] = "eu-west-1"
    if stack == "prod":  # hf-endpoints:protect: a replacement deletes first, so it is refused until that is lifted
        emulator.clear_calls()
        with pytest.raises(ProtectedError, match=f'unable to replace resource ".*{name}"'):
            project.up(moved)
        assert writes(emulator) == []
        changed["hf-endpoints:protect"] = moved["hf-endpoints:protect"] = False
        assert set(ops(project.up(changed)).values()) == {"same"}
    emulator.clear_calls()
    assert ops(project.up(moved)) == {name: "replace", "endpoints-ready": "update"}
    assert writes(emulator) == [("DELETE", f"/v2/endpoint/{namespace}/{name}"), ("POST", f"/v2/endpoint/{namespace}")]
    (live,) = emulator.endpoints(namespace)
    assert (live["provider"]["region"], live["model"]["env"]["MAX_INPUT_LENGTH"]) == ("eu-west-1", "1800")

    two = copy.deepcopy(moved)
    endpoints_section(two)["extra"] = {**endpoints_section(moved)[name], "smoke_test": None}
    del endpoints_section(two)["extra"]["smoke_test"]
    assert ops(project.up(two))["extra"] == "create"
    assert sorted(e["name"] for e in emulator.endpoints(namespace)) == sorted([name, "extra"])
    assert ops(project.up(moved))["extra"] == "delete"
    assert [e["name"] for e in emulator.endpoints(namespace)] == [name]

    project.destroy()
    assert emulator.endpoints(namespace) == []


def test_prod_refuses_to_deploy_before_the_promotion(emulator, hosts):
    """The committed prod has no revision and sets hf-endpoints:requirePinnedRevision: its preview fails, before
    anything is registered, saying to promote from dev first."""
    with pytest.raises(Exception) as error:
        program.preview(MAIN, hosts, State(), stack_config("prod", emulator), ["hf-endpoints:hfToken"], stack="prod")
    assert type(error.value).__name__ == "RunError"
    assert ("hf-endpoints:endpoints.jais-13b-chat.revision: missing is not a pinned commit (40 lowercase hex "
            "digits), and this stack sets hf-endpoints:requirePinnedRevision; promote a tested commit from dev "
            "first: pin it in Pulumi.dev.yaml, `pulumi up --stack dev`, then `python -m providers.promote dev prod`"
            ) in str(error.value)
    assert error.value.registrations == []  # type: ignore[attr-defined]
    assert emulator.calls() == []


def test_promotion_dev_to_prod_then_prod_up(emulator, hosts, tmp_path):
    """Pin in dev, promote (only the model-defining keys move), prod up; then a new dev change promoted updates
    prod in place."""
    prod = Project("prod", hosts)
    prod.up(stack_config("prod", emulator, promoted(tmp_path)))
    (live,) = emulator.endpoints("my-org")
    assert (live["model"]["revision"], live["compute"]["instanceType"]) == (TESTED, "nvidia-a100")

    dev_file = tmp_path / "Pulumi.dev.yaml"
    dev_file.write_text(dev_file.read_text().replace('MAX_INPUT_LENGTH: "2000"', 'MAX_INPUT_LENGTH: "1900"'))
    assert promote.main(["dev", "prod", "--dir", str(tmp_path), "--check"]) == 1
    assert promote.main(["dev", "prod", "--dir", str(tmp_path)]) == 0

    config = stack_config("prod", emulator, tmp_path)
    (endpoint,) = endpoints_section(config).values()
    assert (endpoint["revision"], endpoint["env"]["MAX_INPUT_LENGTH"]) == (TESTED, "1900")
    assert (endpoint["instance_type"], endpoint["min_replica"], endpoint["max_replica"]) == ("nvidia-a100", 1, 4)
    emulator.clear_calls()
    assert ops(prod.up(config)) == {"jais-13b-chat": "update", "endpoints-ready": "update"}
    assert writes(emulator) == [("PUT", "/v2/endpoint/my-org/jais-13b-chat")]
    (live,) = emulator.endpoints("my-org")
    assert live["model"]["env"]["MAX_INPUT_LENGTH"] == "1900"
    with pytest.raises(ProtectedError, match="cannot be deleted\nbecause it is protected"):
        prod.destroy()  # hf-endpoints:protect: prod's endpoints are not deleted until it is lifted
    assert [e["name"] for e in emulator.endpoints("my-org")] == ["jais-13b-chat"]
    prod.up({**config, "hf-endpoints:protect": False})
    prod.destroy()
    assert emulator.endpoints("my-org") == []


def test_preview_makes_no_api_call_and_changes_nothing(emulator, tmp_path):
    """`pulumi preview` runs only check and diff, with unknown outputs for what would change: no Endpoints API
    call for a new stack, one list call (diff's look at the live endpoints) once deployed, no write. check reads the
    model's facts from the Hub once; the next previews (each in a fresh host process, as each CLI command is) read
    them from the disk cache."""
    with endpoint_hosts(HF_ENDPOINTS_POLL_SECONDS="0.05", HF_ENDPOINTS_CACHE=str(tmp_path)) as hosts:
        _preview_makes_no_api_call_and_changes_nothing(emulator, hosts)


def _preview_makes_no_api_call_and_changes_nothing(emulator, hosts):
    project = Project("local", hosts)
    config = stack_config("local", emulator)
    emulator.clear_calls()
    first = program.preview(MAIN, hosts, project.state, config, ["hf-endpoints:hfToken"], stack="local")
    assert ops(first) == {"jais-13b-chat": "create", "endpoints-ready": "create"}
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [  # the Hub only, no Endpoints API
        ("GET", f"/api/models/{MODEL}"), ("HEAD", f"/{MODEL}/resolve/{HUB_SHA}/config.json"),
        ("GET", f"/{MODEL}/resolve/{HUB_SHA}/config.json")]
    emulator.clear_calls()
    again = program.preview(MAIN, hosts, project.state, config, ["hf-endpoints:hfToken"], stack="local")
    assert again.host is not first.host  # another process (each operation gets a fresh host)
    assert emulator.calls() == []  # another process, the same disk cache: not even the Hub
    project.up(config)

    changed = copy.deepcopy(config)
    endpoints_section(changed)["jais-13b-chat"]["max_replica"] = 2
    emulator.clear_calls()
    second = program.preview(MAIN, hosts, project.state, changed, ["hf-endpoints:hfToken"], stack="local")
    assert ops(second) == {"jais-13b-chat": "update", "endpoints-ready": "update"}
    moved = copy.deepcopy(config)
    endpoints_section(moved)["jais-13b-chat"]["region"] = "eu-west-1"
    third = program.preview(MAIN, hosts, project.state, moved, ["hf-endpoints:hfToken"], stack="local")
    assert ops(third) == {"jais-13b-chat": "replace", "endpoints-ready": "update"}
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [("GET", "/v2/endpoint/local")] * 2
    assert [e["compute"]["scaling"]["maxReplica"] for e in emulator.endpoints("local")] == [1]
    project.destroy()


def test_invalid_stack_file_fails_before_anything_is_created(emulator, hosts):
    config = stack_config("local", emulator)
    endpoints_section(config)["jais-13b-chat"]["min_replica"] = 3
    with pytest.raises(Exception, match=r"endpoints\.jais-13b-chat\.min_replica: 3 is greater than max_replica"):
        Project("local", hosts).up(config)
    assert emulator.endpoints("local") == []


@pytest.mark.parametrize(("change", "secret"), [
    ({"secrets": {"API_KEY": "s3cret-value"}}, {"secrets"}),
    ({"custom_image": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health",
                       "port": 80, "credentials": {"username": "u", "password": "registry-password"}}},
     {"custom_image"}),
    ({}, set()),
], ids=["secrets", "image-with-credentials", "nothing-secret"])
def test_secret_inputs_reach_the_engine_marked_secret(change, secret):
    """`secrets` (and `custom_image` when it carries registry credentials) are Pulumi secrets when the program
    registers them, so state keeps them encrypted and previews show [secret]; nothing else is."""
    config = tutorial_only(to_plain(load_stack(REPO / "Pulumi.local.yaml"))["config"])
    config["hf-endpoints:endpoints"]["jais-13b-chat"].update(change)
    run = program.run_program(MAIN, PROJECT, "local", config, preview=True)
    (endpoint,) = [reg for reg in run.registrations if reg.type == ENDPOINT_TYPE]
    assert {format_path(path) for path in endpoint.secrets} - {"__provider"} == secret


def test_the_program_marks_endpoints_with_its_project_and_stack():
    """`stack` is set where pulumi.get_stack() is right (the program); the provider host only knows "stack"."""
    config = tutorial_only(to_plain(load_stack(REPO / "Pulumi.local.yaml"))["config"])
    run = program.run_program(MAIN, PROJECT, "local", config, preview=True)
    (endpoint,) = [reg for reg in run.registrations if reg.type == ENDPOINT_TYPE]
    assert endpoint.inputs["stack"] == "hf-endpoints/local"


def test_removing_a_protected_endpoints_entry_fails_naming_the_setting(emulator, hosts):
    """With hf-endpoints:protect, removing an entry used to delete a serving endpoint at once. Now the preview fails
    (EndpointsReady's check sees the last `up`'s endpoints), naming the setting and how to lift it; Pulumi's own
    refusal (protect) stands behind it. Lifted the documented way, the removal deletes it."""
    project = Project("local", hosts)
    config = {**stack_config("local", emulator), "hf-endpoints:protect": True}
    project.up(config)
    (name,) = endpoints_section(config)
    lift = ("a protected endpoint is never deleted; to delete it, put its entry back, run `pulumi config set "
            "hf-endpoints:protect false` and `pulumi up`, then remove the entry (or run `pulumi destroy`)")
    still = "hf-endpoints:protect was true at the last `pulumi up`, so it is still protected"
    for protect, setting in ((True, "hf-endpoints:protect is true"), (False, still)):
        emulator.clear_calls()
        with pytest.raises(Exception) as refused:
            project.up({**config, "hf-endpoints:endpoints": {}, "hf-endpoints:protect": protect})
        assert (f"endpoints.{name}: local/{name} is no longer in the stack file, but {setting}: {lift}"
                in str(refused.value))
        assert writes(emulator) == []
    project.up({**config, "hf-endpoints:protect": False})
    emulator.clear_calls()
    project.up({**config, "hf-endpoints:endpoints": {}, "hf-endpoints:protect": False})
    assert writes(emulator) == [("DELETE", f"/v2/endpoint/local/{name}")]


A, B = {"namespace": "local", "name": "a"}, {"namespace": "local", "name": "b"}


@pytest.mark.parametrize(("olds", "news", "removed"), [
    ({"endpoints": [A, B], "protect": True}, {"endpoints": [A], "protect": True}, ["b"]),
    ({"endpoints": [A, B], "protect": True}, {"endpoints": [A]}, ["b"]),
    ({"endpoints": [A, B]}, {"endpoints": [A], "protect": True}, ["b"]),
    ({"endpoints": [A, B]}, {"endpoints": [A]}, []),
    ({"endpoints": [A]}, {"endpoints": [{**A, "namespace": "other"}], "protect": True}, ["a"]),
    ({"endpoints": [A, B], "protect": True}, {"endpoints": UNKNOWN, "protect": True}, []),
    ({"endpoints": [A, B], "protect": True}, {"endpoints": [A, UNKNOWN], "protect": True}, []),
    ({}, {"endpoints": [A], "protect": True}, []),
], ids=["protected", "was-protected", "protected-now", "unprotected", "namespace-moved", "list-unknown",
        "element-unknown", "first-up"])
def test_which_removals_a_protected_stack_refuses(olds, news, removed):
    assert [line.split(":")[0] for line in protected_removals(olds, news)] == [f"endpoints.{name}" for name in removed]
