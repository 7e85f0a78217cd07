"""Proves the harness (real provider host over gRPC + mini engine + program under mocks) with the toy provider."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from tests.harness import (
    UNKNOWN,
    Canceled,
    CheckFailed,
    Engine,
    HostFactory,
    ProtectedError,
    ProviderError,
    ProviderHost,
    Registration,
    State,
    deploy,
    destroy,
    preview,
    refresh,
    run_program,
)
from tests.harness.engine import SECRET_MARK
from tests.harness.toy import ToyProvider, load

PROJECT = "toyproj"
PROGRAM = Path(__file__).parent / "harness" / "toy" / "program.py"
TYPE = "pulumi-python:dynamic/toy:Record"
BASE = {"a": {"name": "A", "value": 1}, "b": {"name": "B", "value": "x"}}

pytestmark = pytest.mark.slow


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "toy.json"


@pytest.fixture(scope="module")
def hosts() -> Iterator[HostFactory]:
    """A fresh host per operation, as the CLI starts one per command (the toy's file comes from config)."""
    with HostFactory(PROJECT) as factory:
        yield factory


@pytest.fixture
def host(hosts: HostFactory) -> ProviderHost:
    """One host, for tests that drive the engine model directly."""
    return hosts()


def config(db: Path, records: dict[str, Any]) -> dict[str, object]:
    return {"records": records, "dbPath": str(db)}


def ops_by_name(steps: list[Any]) -> dict[str, str]:
    return {s.urn.rsplit("::", 1)[1]: s.op for s in steps}


def assert_state_matches_store(state: State, db: Path) -> None:
    """Every resource in state exists in the backend with the outputs the state recorded, and nothing else."""
    records = load(db)["records"]
    assert {r["id"] for r in state.resources.values()} == set(records)
    for entry in state.resources.values():
        outs = {k: v for k, v in entry["outputs"].items() if k != "__provider"}
        assert outs == records[entry["id"]]


@pytest.mark.parametrize(
    ("before", "after", "expected_ops", "expected_writes"),
    [
        pytest.param(
            None,
            BASE,
            {"a": "create", "b": "create", "summary": "create"},
            ["create", "create", "create"],
            id="create-from-nothing",
        ),
        pytest.param(BASE, BASE, {"a": "same", "b": "same", "summary": "same"}, [], id="no-op"),
        pytest.param(
            BASE,
            {**BASE, "a": {"name": "A", "value": 2}},
            {"a": "update", "b": "same", "summary": "update"},
            ["update", "update"],
            id="update-in-place",
        ),
        pytest.param(
            BASE,
            {**BASE, "b": {"name": "B2", "value": "x"}},
            {"a": "same", "b": "replace", "summary": "update"},
            ["delete", "create", "update"],
            id="replace-delete-before-create",
        ),
        pytest.param(
            BASE,
            {"a": BASE["a"]},
            {"a": "same", "b": "delete", "summary": "update"},
            ["update", "delete"],
            id="removal-deletes",
        ),
    ],
)
def test_deploy_scenarios(
    hosts: HostFactory,
    db: Path,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    expected_ops: dict[str, str],
    expected_writes: list[str],
) -> None:
    state = State() if before is None else deploy(PROGRAM, hosts, State(), config(db, before)).state
    log_before = load(db)["log"]
    result = deploy(PROGRAM, hosts, state, config(db, after))

    writes = load(db)["log"][len(log_before) :]
    assert ops_by_name(result.steps) == expected_ops
    assert Counter(op for op, _ in writes) == Counter(expected_writes)
    assert_state_matches_store(result.state, db)
    assert list(result.state.resources)[-1].endswith("::summary")  # registration order: dependents last
    summary = result.state.by_name("summary")
    assert summary["outputs"]["members"] == [result.exports["ids"][k] for k in after]
    assert set(summary["dependencies"]) == {f"urn:pulumi:dev::{PROJECT}::{TYPE}::{k}" for k in after}
    if "replace" in expected_ops.values():
        (step,) = [s for s in result.steps if s.op == "replace"]
        assert step.delete_before_replace
        assert [op for op, _ in writes][:2] == ["delete", "create"]


def test_numbers_come_back_as_floats_and_secrets_are_flagged(hosts: HostFactory, db: Path) -> None:
    result = deploy(PROGRAM, hosts, State(), {**config(db, BASE), "token": "s3cret"}, secret_keys=["token"])
    assert result.state.by_name("a")["outputs"]["value"] == 1.0
    assert isinstance(result.state.by_name("a")["outputs"]["revision"], float)
    assert result.exports["token"] == "s3cret"
    assert result.exports_secret == {"token"}
    assert f"toy: created A as {result.exports['ids']['a']}" in result.host.log_lines()  # stdout = diagnostics


def test_destroy_empties(hosts: HostFactory, db: Path) -> None:
    state = deploy(PROGRAM, hosts, State(), config(db, BASE)).state
    steps = destroy(hosts, state)
    assert [s.op for s in steps] == ["delete"] * 3
    assert steps[0].urn.endswith("::summary")  # dependents first
    assert load(db)["records"] == {}


@pytest.mark.parametrize(
    ("before", "after", "expected_ops"),
    [
        pytest.param(None, BASE, {"a": "create", "b": "create", "summary": "create"}, id="from-nothing"),
        pytest.param(
            BASE,
            {"a": {"name": "A2", "value": 1}},
            {"a": "replace", "b": "delete", "summary": "update"},
            id="replace-and-remove",
        ),
    ],
)
def test_preview_makes_no_writes(
    hosts: HostFactory,
    db: Path,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    expected_ops: dict[str, str],
) -> None:
    state = State() if before is None else deploy(PROGRAM, hosts, State(), config(db, before)).state
    snapshot = db.read_bytes() if db.exists() else None

    result = preview(PROGRAM, hosts, state, config(db, after))

    assert ops_by_name(result.steps) == expected_ops
    assert (db.read_bytes() if db.exists() else None) == snapshot
    assert result.state == state
    assert result.exports["ids"]["a"] == UNKNOWN  # new ids are not known in a preview


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param({"a": {"name": "A", "colour": "red"}}, ("colour", "unknown property 'colour'"), id="bad-key"),
        pytest.param({"a": {"name": ""}}, ("name", "name must be a non-empty string"), id="empty-name"),
    ],
)
def test_check_failure_surfaces_property_and_reason(
    hosts: HostFactory, db: Path, records: dict[str, Any], expected: tuple[str, str]
) -> None:
    with pytest.raises(CheckFailed) as err:
        deploy(PROGRAM, hosts, State(), config(db, records))
    assert err.value.failures == [expected]
    assert err.value.urn.endswith("::a")
    assert expected[0] in str(err.value)
    assert not db.exists()


def test_refresh_after_out_of_band_delete_drops_it(hosts: HostFactory, db: Path) -> None:
    state = deploy(PROGRAM, hosts, State(), config(db, BASE)).state
    store = load(db)
    del store["records"][state.by_name("b")["id"]]
    db.write_text(json.dumps(store))

    new_state, steps = refresh(hosts, state)

    assert ops_by_name(steps) == {"a": "same", "b": "delete", "summary": "same"}
    assert [u.rsplit("::", 1)[1] for u in new_state.resources] == ["a", "summary"]
    assert_state_matches_store(new_state, db)


def test_provider_error_surfaces_message_and_partial_state(hosts: HostFactory, db: Path) -> None:
    """The first failure cancels the deployment: a create in flight finishes and is saved, the dependent
    `summary` never starts. B's create is running when A fails (they hand over through the toy's log)."""
    records = {"a": {"name": "A", "after": "started B", "fail": "boom: quota exceeded"},
               "b": {"name": "B", "announce": True, "after": "failed A"}}
    with pytest.raises(ProviderError) as err:
        deploy(PROGRAM, hosts, State(), config(db, records))
    assert err.value.method == "Create"
    assert "RuntimeError: boom: quota exceeded" in err.value.details  # the host sends the traceback
    assert [u.rsplit("::", 1)[1] for u in err.value.state.resources] == ["b"]  # what a real engine would save
    assert_state_matches_store(err.value.state, db)
    assert [op for op, _ in load(db)["log"]] == ["started", "failed", "create"]


def test_in_flight_steps_finish_and_nothing_is_deleted_after_a_failure(host: ProviderHost, db: Path) -> None:
    """step_executor.go cancelDueToError: after A fails, B (in flight) finishes and is saved, and the deletes
    of what left the program never run (deployment_executor.go: they come after the registrations)."""
    host.configure({f"{PROJECT}:dbPath": str(db)})
    provider = serialize_provider(ToyProvider())
    engine = Engine(host, "dev", PROJECT)
    old = Registration(TYPE, "old", {"__provider": provider, "name": "OLD"})
    state, _ = engine.apply([old], State())
    a = Registration(TYPE, "a", {"__provider": provider, "name": "A", "after": "started B", "fail": "boom"})
    b = Registration(TYPE, "b", {"__provider": provider, "name": "B", "announce": True, "after": "failed A"})
    with pytest.raises(ProviderError) as err:
        engine.apply([a, b], state)
    assert sorted(u.rsplit("::", 1)[1] for u in err.value.state.resources) == ["b", "old"]
    assert [op for op, _ in load(db)["log"]] == ["create", "started", "failed", "create"]


def test_a_registration_after_the_first_failure_is_not_processed(host: ProviderHost, db: Path) -> None:
    """deployment_executor.go: once a step failed the engine stops handling registrations: a later one gets
    no Check and no Create."""
    host.configure({f"{PROJECT}:dbPath": str(db)})
    provider = serialize_provider(ToyProvider())
    run = Engine(host, "dev", PROJECT).begin(State())
    with pytest.raises(ProviderError):
        run.register(Registration(TYPE, "a", {"__provider": provider, "name": "A", "fail": "boom"}))
    host.clear_calls()
    with pytest.raises(Canceled, match="boom"):
        run.register(Registration(TYPE, "late", {"__provider": provider, "name": "LATE"}))
    assert host.calls() == []
    assert [op for op, _ in load(db)["log"]] == ["failed"]


def test_independent_creates_run_in_parallel_batches_of_four(host: ProviderHost, db: Path) -> None:
    host.configure({f"{PROJECT}:dbPath": str(db)})
    provider = serialize_provider(ToyProvider())
    regs = [Registration(TYPE, f"r{i}", {"__provider": provider, "name": f"R{i}", "sleep": 0.5}) for i in range(8)]
    engine = Engine(host, "dev", PROJECT)

    started = time.monotonic()
    state, steps = engine.apply(regs, State())
    elapsed = time.monotonic() - started

    assert [s.op for s in steps] == ["create"] * 8
    assert list(state.resources) == [engine.urn(r) for r in regs]  # registration order, not completion order
    assert 0.9 < elapsed < 2.5, elapsed  # 8 x 0.5 s through 4 host workers ≈ 1 s; serial would be 4 s


def test_apply_runs_dependents_after_dependencies_and_deletes_dependents_first(host: ProviderHost, db: Path) -> None:
    host.configure({f"{PROJECT}:dbPath": str(db)})
    provider = serialize_provider(ToyProvider())
    engine = Engine(host, "dev", PROJECT)
    parent = Registration(TYPE, "parent", {"__provider": provider, "name": "P", "sleep": 0.3})
    child = Registration(TYPE, "child", {"__provider": provider, "name": "C"}, [engine.urn(parent)])

    state, _ = engine.apply([child, parent], State())  # listed out of order on purpose
    assert list(state.resources) == [engine.urn(parent), engine.urn(child)]
    assert [op for op, _ in load(db)["log"]] == ["create", "create"]
    assert load(db)["log"][0][1] == state.resources[engine.urn(parent)]["id"]

    _, steps = engine.apply([], state)
    assert [(s.op, s.urn) for s in steps] == [("delete", engine.urn(child)), ("delete", engine.urn(parent))]


def test_run_program_captures_registrations_without_a_host(db: Path) -> None:
    """Canned mode: outputs = inputs, so output-only values (ids) stay None; no provider code runs."""
    run = run_program(PROGRAM, PROJECT, "dev", {**config(db, BASE), "token": "t"}, secret_keys=["token"])
    assert [(r.type, r.name) for r in run.registrations][-1] == (TYPE, "summary")
    assert sorted(r.name for r in run.registrations) == ["a", "b", "summary"]
    a = next(r for r in run.registrations if r.name == "a")
    assert a.inputs["name"] == "A"
    assert isinstance(a.inputs["__provider"], str)  # unwrapped from the secret the SDK sends
    assert run.exports["token"] == "t"
    assert run.exports_secret == {"token"}
    assert not db.exists()


PROTECTED = {"name": "A", "value": 1, "opts": {"protect": True}}


OPTION_CASES = [  # (before, after (None: removed), ops, toy writes, error); tests/test_cli_engine.py runs them too
    pytest.param({"name": "A"}, {"name": "A2"}, {"a": "replace", "summary": "update"},
                 ["delete", "create", "update"], None, id="provider-says-delete-first"),
    pytest.param({"name": "A"}, {"name": "A2", "opts": {"delete_before_replace": False}},
                 {"a": "replace", "summary": "update"}, ["create", "update", "delete"], None,
                 id="delete_before_replace=False-overrides-the-provider"),
    pytest.param({"name": "A", "dbr": False},
                 {"name": "A2", "dbr": False, "opts": {"delete_before_replace": True}},
                 {"a": "replace", "summary": "update"}, ["delete", "create", "update"], None,
                 id="delete_before_replace=True-overrides-the-provider"),
    pytest.param({"name": "A", "value": 1}, {"name": "A", "value": 2, "opts": {"ignore_changes": ["value"]}},
                 {"a": "same", "summary": "same"}, [], None, id="ignore_changes-keeps-the-old-value"),
    pytest.param({"name": "A", "value": 1}, {"name": "A", "value": 2, "opts": {"replace_on_changes": ["value"]}},
                 {"a": "update", "summary": "update"}, ["update", "update"], None,
                 id="replace_on_changes-needs-the-engine-to-know-what-changed"),
    pytest.param({"name": "A", "value": 1, "engine_diff": True},
                 {"name": "A", "value": 2, "engine_diff": True, "opts": {"replace_on_changes": ["value"]}},
                 {"a": "replace", "summary": "update"}, ["delete", "create", "update"], None,
                 id="replace_on_changes-with-an-engine-diff"),
    pytest.param(PROTECTED, {**PROTECTED, "name": "A2"}, {}, [], "unable to replace resource",
                 id="protect-refuses-a-replacement"),
    pytest.param(PROTECTED, None, {"summary": "update", "a": "delete"}, ["update"], "cannot be deleted",
                 id="protect-refuses-a-delete"),
    pytest.param({"name": "A", "opts": {"retain_on_delete": True}}, None, {"summary": "update", "a": "delete"},
                 ["update"], None, id="retain_on_delete-never-calls-delete"),
]


@pytest.mark.parametrize(("before", "after", "expected_ops", "expected_writes", "error"), OPTION_CASES)
def test_resource_options_decide_as_the_engine_does(
    hosts: HostFactory, db: Path, before: dict[str, Any], after: dict[str, Any] | None,
    expected_ops: dict[str, str], expected_writes: list[str], error: str | None,
) -> None:
    """step_generator.go: the program's options over the provider's answers (see tests/harness/engine.py)."""
    state = deploy(PROGRAM, hosts, State(), config(db, {"a": before})).state
    log_before = load(db)["log"]
    records = {} if after is None else {"a": after}
    if error is None:
        result = deploy(PROGRAM, hosts, state, config(db, records))
        steps, new_state = result.steps, result.state
    else:
        with pytest.raises(ProtectedError, match=error) as failure:
            deploy(PROGRAM, hosts, state, config(db, records))
        steps, new_state = failure.value.steps, failure.value.state
        assert "a" in {u.rsplit("::", 1)[1] for u in new_state.resources}  # still in state
    writes = [op for op, _ in load(db)["log"][len(log_before):]]
    assert (ops_by_name(steps), writes) == (expected_ops, expected_writes)
    if after is None and error is None:
        assert len(load(db)["records"]) == 2  # retained: A is still there, and the summary


def test_secret_inputs_and_additional_secret_outputs_are_secret_in_state(hosts: HostFactory, db: Path) -> None:
    """provider_plugin.go annotateSecrets and step_executor.go: a secret input is secret in the checked inputs
    and in the outputs of the same key; additionalSecretOutputs marks more outputs; the stored state holds
    neither value in clear."""
    records = {"a": {"name": "A", "value": "s3cret-value", "secret": ["value"],
                     "opts": {"additional_secret_outputs": ["record_id"]}}}
    result = deploy(PROGRAM, hosts, State(), config(db, records))
    # The toy keeps the SDK's default serialize_as_secret_always: its pickled provider is a secret too.
    assert result.state.secrets("a") == {"inputs": {"__provider", "value"},
                                         "outputs": {"__provider", "value", "record_id"}}
    # Secrets flow through the program: the summary's members are A's (secret) record_id.
    assert result.state.secrets("summary") == {"inputs": {"__provider", "members", "value"},
                                               "outputs": {"__provider", "members", "value"}}
    stored = json.loads(result.state.to_json())["resources"]  # (the toy's config itself is not secret)
    a = stored[next(u for u in stored if u.endswith("::a"))]
    assert (a["inputs"]["value"], a["outputs"]["record_id"]) == (SECRET_MARK, SECRET_MARK)
    assert "s3cret-value" not in json.dumps(stored)
    again = deploy(PROGRAM, hosts, result.state, config(db, records))
    assert ops_by_name(again.steps) == {"a": "same", "summary": "same"}
    assert again.state.secrets("a") == result.state.secrets("a")


def test_a_failed_create_after_the_delete_leaves_a_pending_replacement(hosts: HostFactory, db: Path) -> None:
    """step.go DeleteStep.Apply: the delete of a delete-before-replace done, the create failed: the old
    resource stays in state as pending replacement. The next up replaces it without deleting it again;
    a removal drops it without calling the provider."""
    state = deploy(PROGRAM, hosts, State(), config(db, {"a": {"name": "A"}})).state
    with pytest.raises(ProviderError) as failure:
        deploy(PROGRAM, hosts, state, config(db, {"a": {"name": "A2", "fail": "quota"}}))
    pending = failure.value.state
    assert pending.by_name("a")["pending_replacement"] is True
    log = [op for op, _ in load(db)["log"]]
    again = deploy(PROGRAM, hosts, pending, config(db, {"a": {"name": "A2"}}))
    assert ops_by_name(again.steps) == {"a": "replace", "summary": "update"}
    assert [op for op, _ in load(db)["log"]][len(log):] == ["create", "update"]  # no second delete
    assert not again.state.by_name("a")["pending_replacement"]

    removed = deploy(PROGRAM, hosts, pending, config(db, {}))
    assert "a" not in ops_by_name(removed.steps)  # an internal step: not shown
    assert [u.rsplit("::", 1)[1] for u in removed.state.resources] == ["summary"]
    assert destroy(hosts, pending) and load(db)["log"][-1][0] == "delete"  # only the summary's delete
