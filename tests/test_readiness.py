"""The readiness loop with a scripted client and a fake clock: polling cost, progress lines, verdicts."""

from __future__ import annotations

import pytest

from providers.readiness import EndpointNotReadyError, Target, smoke_test_passes, wait_until_ready
from tests.fake_clock import FakeClock


class ScriptedClient:
    """Each namespace's list answers follow a script of {name: state} per tick (the last one repeats)."""

    def __init__(self, script: dict[str, list[dict[str, str]]], health: int | list[int] = 200,
                 reply: str = "positive", log: str | Exception = ""):
        """`health`: the health route's status, or one per probe (the last one repeats)."""
        self.script, self.reply, self.log = script, reply, log
        self.health_codes = health if isinstance(health, list) else [health]
        self.calls: list[tuple[str, str]] = []
        self.ticks: dict[str, int] = {}

    def list(self, namespace: str) -> list[dict]:
        self.calls.append(("list", namespace))
        tick = self.ticks.get(namespace, 0)
        self.ticks[namespace] = tick + 1
        states = self.script[namespace][min(tick, len(self.script[namespace]) - 1)]
        return [{"name": name, "healthRoute": "/health",
                 "status": {"state": state, "url": f"http://x/{name}", "message": f"{state} message",
                            "readyReplica": 1 if state == "running" else 0, "targetReplica": 1}}
                for name, state in states.items()]

    def health(self, url: str, route: str, *, authenticated: bool) -> int:
        probes = sum(1 for call in self.calls if call[0] == "health")
        self.calls.append(("health", url))
        return self.health_codes[min(probes, len(self.health_codes) - 1)]

    def generate(self, url: str, prompt: str, max_new_tokens: int, *, authenticated: bool) -> str:
        self.calls.append(("generate", url))
        return self.reply

    def logs(self, namespace: str, name: str, *, tail: int) -> str:
        self.calls.append(("logs", f"{namespace}/{name}?tail={tail}"))
        if isinstance(self.log, Exception):
            raise self.log
        return self.log


def run(client, targets, timeout=100.0, secrets=()):
    clock, lines = FakeClock(), []
    finals = wait_until_ready(client, targets, timeout=timeout, poll_seconds=1.0, log=lines.append, clock=clock,
                              sleep=clock.sleep, secrets=secrets)
    return finals, lines, clock


def test_one_list_per_namespace_per_tick_however_many_endpoints_wait():
    starting = {f"e{i}": "initializing" for i in range(8)}
    client = ScriptedClient({"a": [starting, starting, {k: "running" for k in starting}],
                             "b": [{"f": "pending"}, {"f": "running"}]})
    targets = [Target("a", name) for name in starting] + [Target("b", "f")]
    finals, _, clock = run(client, targets)
    assert sorted(finals) == sorted([f"a/{name}" for name in starting] + ["b/f"])
    lists = [c for c in client.calls if c[0] == "list"]
    assert lists == [("list", "a"), ("list", "b"), ("list", "a"), ("list", "b"), ("list", "a")]
    assert [c[0] for c in client.calls].count("health") == 9
    assert clock.now == 2.0


def test_progress_lines_on_state_change_and_every_30_seconds():
    client = ScriptedClient({"ns": [{"x": "pending"}] * 3 + [{"x": "initializing"}] * 70 + [{"x": "running"}]})
    _, lines, _ = run(client, [Target("ns", "x")])
    assert lines == [
        "ns/x: pending: pending message (replicas 0/1, 0s elapsed)",
        "ns/x: initializing: initializing message (replicas 0/1, 3s elapsed)",
        "ns/x: initializing: initializing message (replicas 0/1, 33s elapsed)",
        "ns/x: initializing: initializing message (replicas 0/1, 63s elapsed)",
        "ns/x: running (replicas 1/1, 73s elapsed)",
        "ns/x: ready (health route answered 200) after 73.0s",
    ]


@pytest.mark.parametrize(("state", "target", "message"), [
    ("failed", Target("ns", "x"), "ns/x failed to deploy: failed message"),
    ("updateFailed", Target("ns", "x"), "ns/x failed to update: updateFailed message"),
    ("running", Target("ns", "x", smoke_test={"prompt": "hi", "expect": "^negative$"}),
     "ns/x smoke test failed: the reply 'positive' does not match expect '^negative$' (endpoints.x.smoke_test)"),
    ("initializing", Target("ns", "x"),
     "timed out after 5s waiting for ns/x (initializing). The endpoints stay deployed;"),
], ids=["failed", "update-failed", "smoke-mismatch", "timeout"])
def test_fails_fast_naming_the_endpoint(state, target, message):
    with pytest.raises(EndpointNotReadyError) as failure:
        run(ScriptedClient({"ns": [{"x": state}]}), [target], timeout=5)
    assert str(failure.value).startswith(message)


def test_missing_endpoint_fails_with_the_way_out():
    with pytest.raises(EndpointNotReadyError, match=r"ns/x does not exist any more .* `pulumi refresh`"):
        run(ScriptedClient({"ns": [{}]}), [Target("ns", "x")])


@pytest.mark.parametrize(("state", "target"), [
    ("scaledToZero", Target("ns", "x", min_replica=0, smoke_test={"prompt": "hi"})),
    ("paused", Target("ns", "x", paused=True)),
], ids=["scaled-to-zero", "paused"])
def test_ready_without_probing(state, target):
    """A scaled-to-zero endpoint is not probed (a request would wake it and bill); paused is ready when asked."""
    client = ScriptedClient({"ns": [{"x": state}]})
    finals, _, _ = run(client, [target])
    assert finals["ns/x"]["status"]["state"] == state
    assert client.calls == [("list", "ns")]


def test_unhealthy_running_endpoint_is_polled_again():
    client = ScriptedClient({"ns": [{"x": "running"}]}, health=503)
    with pytest.raises(EndpointNotReadyError, match="timed out"):
        run(client, [Target("ns", "x")], timeout=3)
    assert [c[0] for c in client.calls].count("health") == 4


@pytest.mark.parametrize(("code", "shown"), [
    (404, "404"), (401, "401"), (204, "204"), (301, "301"), (499, "499"), (503, "503"), (0, "no connection"),
], ids=["404", "401", "204", "301", "499", "503", "no-connection"])
def test_only_a_200_from_the_health_route_is_healthy(code, shown):
    """A running endpoint whose health route answers anything but 200 is probed again on the next tick (accepting
    every status below 500 passed the whole suite before)."""
    client = ScriptedClient({"ns": [{"x": "running"}]}, health=[code, 200])
    finals, lines, clock = run(client, [Target("ns", "x")])
    assert finals["ns/x"]["status"]["state"] == "running"
    assert lines == [
        "ns/x: running (replicas 1/1, 0s elapsed)",
        f"ns/x: running, health route /health answered {shown}",
        "ns/x: ready (health route answered 200) after 1.0s",
    ]
    assert [c[0] for c in client.calls] == ["list", "health", "list", "health"]
    assert clock.now == 1.0


@pytest.mark.timeout(20, method="thread")  # `re` took 18.8 s for 30 characters (41: hours), holding the GIL
@pytest.mark.parametrize(("expect", "reply"), [
    ("^(a+)+$", "a" * 40 + "!"), ("(a|aa)+$", "a" * 40 + "!"), ("^(a|a?)+$", "a" * 40 + "!"),
    ("(x+x+)+y", "x" * 40),
], ids=["nested-plus", "alternation", "optional-alternation", "double-plus"])
def test_a_pattern_that_backtracks_cannot_outlive_the_deadline(expect, reply):
    """The match runs in linear time (RE2): the reply does not match and the smoke test fails at once."""
    target = Target("ns", "x", smoke_test={"prompt": "hi", "expect": expect})
    with pytest.raises(EndpointNotReadyError, match="smoke test failed: the reply") as failure:
        run(ScriptedClient({"ns": [{"x": "running"}]}, reply=reply), [target], timeout=10)
    assert f"does not match expect {expect!r} (endpoints.x.smoke_test)" in str(failure.value)


@pytest.mark.parametrize(("expect", "reply", "passes"), [
    ("(?i)positive|negative|neutral", "The sentiment is Positive.", True),
    ("(?i)positive|negative|neutral", "I cannot tell.", False),
    ("^negative$", "negative", True),
    ("^negative$", "not negative", False),
    ("\\S", "  x ", True),
    ("\\S", " \n\t", False),
    ("(?i)إيجابي", "الجملة إيجابية", True),
    ("\\pL+", "مرحبا", True),
], ids=["any-of-three", "none-of-three", "anchored", "anchored-mismatch", "non-space", "only-spaces", "arabic",
        "letters-in-any-script"])
def test_the_smoke_test_matches_like_re_search(expect, reply, passes):
    assert smoke_test_passes(expect, reply) is passes


TGI_LOG = "\n".join([
    *(f"2024-01-01T00:00:{i:02d}Z INFO text_generation_launcher: step {i}" for i in range(25)),
    '2024-01-01T00:00:30Z INFO text_generation_launcher: Args { api_key: "s3cr3t-value", token: hf_abcdefghijkl }',
    "",
    "2024-01-01T00:00:31Z ERROR text_generation_launcher: torch.cuda.OutOfMemoryError: CUDA out of memory",
])


@pytest.mark.parametrize(("state", "log", "expected"), [
    ("failed", TGI_LOG, "ns/x failed to deploy: failed message\n"
     "Last 20 lines of its container log (secrets masked):\n"
     + "".join(f"  | 2024-01-01T00:00:{i:02d}Z INFO text_generation_launcher: step {i}\n" for i in range(7, 25))
     + '  | 2024-01-01T00:00:30Z INFO text_generation_launcher: Args { api_key: "***", token: *** }\n'
     "  | 2024-01-01T00:00:31Z ERROR text_generation_launcher: torch.cuda.OutOfMemoryError: CUDA out of memory"),
    ("updateFailed", "only line with regpass\n", "ns/x failed to update: updateFailed message\n"
     "Last 1 lines of its container log (secrets masked):\n  | only line with ***"),
    ("failed", "", "ns/x failed to deploy: failed message\nIts container log is empty."),
    ("failed", RuntimeError("404: endpoint logs not found for s3cr3t-value"),
     "ns/x failed to deploy: failed message\n(Its container log could not be read: RuntimeError: 404: endpoint "
     "logs not found for ***; see it in the dashboard.)"),
], ids=["failed-start-tail-20-masked", "update-failed", "empty-log", "logs-route-fails"])
def test_a_failure_carries_the_tail_of_the_container_log_with_secrets_masked(state, log, expected):
    client = ScriptedClient({"ns": [{"x": state}]}, log=log)
    with pytest.raises(EndpointNotReadyError) as failure:
        run(client, [Target("ns", "x")], secrets=["s3cr3t-value", "regpass"])
    assert str(failure.value) == expected
    assert client.calls[-1] == ("logs", "ns/x?tail=20")
