"""`providers.program_tuning` through the real CLI: the SDK's per-resource debug lines are no longer sent to the engine
(and are again with HF_ENDPOINTS_SDK_DEBUG=1), and an endpoint's state records the frame that declared it, not the
frames that called it; plus the names it patches, which must exist in the pinned SDK or the tuning would go quiet."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from providers import EndpointsReady, InferenceEndpoint, program_tuning
from providers.stack_files import load_stack, to_plain
from tests.endpoint_stack import PROJECT, tutorial_only
from tests.harness import program

REPO = Path(__file__).resolve().parents[1]

ENDPOINT_DEBUG_LINE = "registering resource: ty=pulumi-python:dynamic/hf:InferenceEndpoint, name=jais-13b-chat"


def test_what_it_patches_is_what_the_pinned_sdk_calls():
    """register_resource looks both names up at call time, in the modules the tuning patches."""
    from pulumi.runtime import resource

    source = inspect.getsource(resource.register_resource)
    assert "stack_trace = _get_stack_trace()" in source
    assert "log.debug(" in source
    assert resource.log.__name__ == "pulumi.log"


@pytest.fixture
def tuned():
    """This process tuned as the program tunes its own, then put back for the next test."""
    program_tuning.apply()
    yield
    program_tuning.undo()


def test_undo_puts_back_what_apply_changed():
    """The tests run `__main__.py` in their own process (tests/harness/program.py), which undoes the tuning after
    each program: every other test finds the SDK and the collector as Python left them."""
    import gc

    import pulumi.log
    from pulumi import _types
    from pulumi.runtime import resource

    def sdk():
        return pulumi.log.debug, resource._get_stack_trace, _types.resource_types, gc.get_threshold()

    before = sdk()
    program_tuning.apply()
    assert [now is then for now, then in zip(sdk()[:3], before[:3], strict=True)] == [False, False, False]
    assert sdk()[3] == program_tuning.COLLECTOR_THRESHOLDS
    program_tuning.undo()
    assert sdk() == before
    assert gc.get_freeze_count() == 0


def test_a_program_run_in_the_tests_process_leaves_the_sdk_as_it_was():
    """The harness runs `__main__.py` (which tunes its process) in pytest's own: it puts the SDK back afterwards."""
    import pulumi.log

    before = pulumi.log.debug
    config = tutorial_only(to_plain(load_stack(REPO / "Pulumi.local.yaml")["config"]))
    run = program.run_program(REPO / "__main__.py", PROJECT, "local", config, preview=True)
    assert [r.name for r in run.registrations] == ["jais-13b-chat", "endpoints-ready"]
    assert pulumi.log.debug is before


class _Resource:
    def __init__(self):
        self.kept, self.whole = program_tuning.declaring_frame(), program_tuning.SDK["stack_trace"]()


class _CustomResource(_Resource):
    def __init__(self):
        super().__init__()


class _Concrete(_CustomResource):
    def __init__(self):
        super().__init__()


def test_the_frame_kept_is_the_sdks_first_the_one_that_declared_the_resource(tuned):
    declared_on = inspect.currentframe().f_lineno + 1
    traces = _Concrete()
    assert [(frame.pc.uri, frame.pc.line) for frame in traces.kept.frames] == [(Path(__file__).as_uri(), declared_on)]
    assert list(traces.kept.frames) == list(traces.whole.frames)[:1]
    assert len(traces.whole.frames) > 1


def test_a_resource_classs_type_hints_are_computed_once(tuned):
    from pulumi import _types

    for cls in (InferenceEndpoint, EndpointsReady):
        first = _types.resource_types(cls)
        assert first == program_tuning.SDK["resource_types"](cls)
        assert _types.resource_types(cls) is first
    assert "updated_at" in _types.resource_types(InferenceEndpoint)


@pytest.mark.cli
@pytest.mark.parametrize(("env", "sent"), [({}, False), ({program_tuning.SDK_DEBUG_ENV: "1"}, True)],
                         ids=["dropped", "sent-when-asked"])
def test_the_sdks_debug_lines(project, env, sent):
    result = project.run("preview", "--stack", "local", "--debug", env=env)
    assert (ENDPOINT_DEBUG_LINE in result.output) is sent, result.output


@pytest.mark.cli
def test_state_records_the_declaring_frame_only(deployed):
    resources = deployed.export()["deployment"]["resources"]
    for kind in ("InferenceEndpoint", "EndpointsReady"):
        recorded = next(r for r in resources if r["type"] == f"pulumi-python:dynamic/hf:{kind}")
        assert recorded["sourcePosition"].startswith("project:///providers/")
        assert recorded["stackTrace"] == [{"sourcePosition": recorded["sourcePosition"]}]
