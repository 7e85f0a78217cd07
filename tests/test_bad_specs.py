"""The review's bad-input table, as a test: 99 endpoint cases (and the second review's 24, issue 16) through the
program's stack-config step and `check` in the real provider host (see `tests.bad_specs`), and 12 stack-level cases
through the program itself (`__main__.py` under mocks, preview against the real host). For every case: no crash, no
secret value in any message or log line, no raw control character in a message, no wrong acceptance, the key named,
and no API call."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from providers.stack_files import load_stack, to_plain
from tests import shared_files
from tests.bad_specs import CORRECTIONS, SECOND_REVIEW, TABLE_PATH, change_of, load_table, run_case
from tests.endpoint_stack import tutorial_only
from tests.harness import program
from tests.harness.engine import State
from tests.test_inference_endpoint import start_host

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
MAIN = REPO / "__main__.py"
TABLE = load_table()


def endpoint_cases() -> list[Any]:
    """The review's cases, then the second review's (issue 16)."""
    return [pytest.param(change_of(case), case["key"], id=case["id"]) for case in [*TABLE["cases"], *SECOND_REVIEW]]


@pytest.fixture(scope="module")
def host(emulator_process):
    host = start_host(emulator_process)
    yield host
    host.close()


def test_the_corrected_case_is_valid_as_the_review_wrote_it(host, emulator):
    """Why the correction: the review's own change is accepted, rightly."""
    (case,) = [c for c in TABLE["cases"] if c["id"] == "stz-with-min-1"]
    assert run_case(host, case["change"]).messages == []


def test_the_table_is_the_reviews():
    """tests/data holds a copy (the tests run without ../shared); it must stay the review's table."""
    shared = shared_files.require_shared("reference/bad-specs-review.json")
    assert json.loads(shared.read_text()) == json.loads(TABLE_PATH.read_text())
    assert (len(TABLE["cases"]), len(TABLE["program_level"])) == (99, 12)
    assert set(CORRECTIONS) <= {case["id"] for case in TABLE["cases"]}


@pytest.mark.parametrize(("change", "key"), endpoint_cases())
def test_bad_endpoint_spec_is_refused_naming_its_key(host, emulator, change, key):
    before = len(host.log_lines())
    outcome = run_case(host, change)
    assert outcome.crashed == ""
    assert outcome.rejected, "accepted"
    assert outcome.names(key), outcome.messages
    assert outcome.leaks(host.log_lines()[before:]) == []
    assert not outcome.raw_control_characters(), outcome.messages
    assert emulator.calls() == []


def local_config(emulator) -> dict[str, Any]:
    config = tutorial_only(to_plain(load_stack(REPO / "Pulumi.local.yaml"))["config"])
    config["hf-endpoints:apiUrl"] = emulator.api_url
    config["hf-endpoints:hfToken"] = emulator.token
    return config


def edit(**changes: Any) -> Callable[[dict[str, Any]], None]:
    """Set (or, with None, remove) top-level config keys."""
    def apply(config: dict[str, Any]) -> None:
        for key, value in changes.items():
            config.pop(key, None) if value is None else config.__setitem__(key, value)
    return apply


def edit_endpoint(change: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def apply(config: dict[str, Any]) -> None:
        change(config["hf-endpoints:endpoints"])
    return apply


def typo_endpoints(config: dict[str, Any]) -> None:
    config["hf-endpoints:endpoint"] = config.pop("hf-endpoints:endpoints")


def alias_in_integer_slot(endpoints: dict[str, Any]) -> None:
    """`max_replica: *defaults`: the CLI expands a YAML alias, so a whole mapping arrives where an integer goes."""
    endpoints["jais-13b-chat"]["max_replica"] = {"framework": "pytorch", "vendor": "aws"}


E = "endpoints.jais-13b-chat"
PROGRAM_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no hf-endpoints:namespace", edit(**{"hf-endpoints:namespace": None}),
     "hf-endpoints:namespace: missing; set your Hugging Face user or organization: `pulumi config set "
     "hf-endpoints:namespace <name>`"),
    ("hf-endpoints:namespace empty", edit(**{"hf-endpoints:namespace": ""}),
     'hf-endpoints:namespace: "" is empty; set your Hugging Face user or organization'),
    ("hf-endpoints:endpoint (typo of endpoints)", typo_endpoints,
     "hf-endpoints:endpoint is not a setting of hf-endpoints; did you mean `hf-endpoints:endpoints`?"),
    ("hf-endpoints:endpoints is a list", edit(**{"hf-endpoints:endpoints": ["jais-13b-chat"]}),
     'hf-endpoints:endpoints: ["jais-13b-chat"] is not a mapping; map each endpoint name to its settings'),
    ("an endpoint's value is a string", edit(**{"hf-endpoints:endpoints": {"jais-13b-chat": "nvidia-a10g"}}),
     f'hf-endpoints:{E}: "nvidia-a10g" is not a mapping; give the endpoint its settings'),
    ("name: inside an endpoint mapping", edit_endpoint(lambda e: e["jais-13b-chat"].update(name="jais")),
     f'hf-endpoints:{E}.name: "jais" is not allowed; the name is the key under hf-endpoints:endpoints'),
    ("a typo in hf-endpoints:defaults (min_replicas): must name hf-endpoints:defaults.min_replicas",
     lambda c: c["hf-endpoints:defaults"].update(min_replicas=1),
     "hf-endpoints:defaults.min_replicas: 1 is not an endpoint key; did you mean `min_replica`?"),
    ("hf-endpoints:defaults not a mapping", edit(**{"hf-endpoints:defaults": "aws"}),
     'hf-endpoints:defaults: "aws" is not a mapping; write endpoint settings shared by every endpoint'),
    ("readyTimeoutSeconds 'abc'", edit(**{"hf-endpoints:readyTimeoutSeconds": "abc"}),
     'hf-endpoints:readyTimeoutSeconds: "abc" is not a whole number of seconds; e.g. `pulumi config set '
     "hf-endpoints:readyTimeoutSeconds 1800`"),
    ("readyTimeoutSeconds 0", edit(**{"hf-endpoints:readyTimeoutSeconds": 0}),
     "hf-endpoints:readyTimeoutSeconds: 0 is not a positive number of seconds;"),
    ("endpoint key in uppercase (Jais)",
     edit_endpoint(lambda e: e.__setitem__("Jais", e.pop("jais-13b-chat"))),
     'hf-endpoints:endpoints.Jais: "Jais" is not a valid endpoint name; use at most 32 lowercase letters'),
    ("a YAML alias of a mapping placed in an integer slot", edit_endpoint(alias_in_integer_slot),
     f'{E}.max_replica: {{"framework": "pytorch", "vendor": "aws"}} is not a whole number; set max_replica to 1 '
     "or more"),
]


def test_program_level_table_is_the_reviews():
    assert [description for description, _, _ in PROGRAM_CASES] == TABLE["program_level"]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in PROGRAM_CASES],
                         ids=[case[0] for case in PROGRAM_CASES])
def test_bad_stack_config_fails_the_preview_naming_the_key(hosts, emulator, change, message):
    """`pulumi preview` of the local stack with one stack-level mistake: a clear error naming the config key (from
    the program, before anything is registered, or from `check`), never a traceback of ours, no API call."""
    config = local_config(emulator)
    change(config)
    with pytest.raises(Exception) as error:
        program.preview(MAIN, hosts, State(), copy.deepcopy(config), ["hf-endpoints:hfToken"], stack="local")
    assert message in str(error.value)
    if "endpoints." not in message or message.startswith("hf-endpoints:"):
        assert type(error.value).__name__ == "RunError"
        assert error.value.registrations == []  # type: ignore[attr-defined]
    assert emulator.calls() == []


@pytest.mark.parametrize(("where", "value"), [("secrets", {"API_KEY": None}), ("env", {"X": None})])
def test_null_env_or_secret_value_fails_before_anything_is_registered(hosts, emulator, where, value):
    """`secrets: {API_KEY: }` used to deploy without the secret: the provider host drops nulls before check."""
    config = local_config(emulator)
    config["hf-endpoints:endpoints"]["jais-13b-chat"][where] = value
    name = next(iter(value))
    with pytest.raises(Exception, match=rf"hf-endpoints:{E}\.{where}\.{name}: null has no value") as error:
        program.preview(MAIN, hosts, State(), config, ["hf-endpoints:hfToken"], stack="local")
    assert type(error.value).__name__ == "RunError"
    assert error.value.registrations == []  # type: ignore[attr-defined]
