"""Issue 9, the emulator items: hostile bodies, names, state files, control routes, fidelity, fault injection.

Each test here failed before its fix. In-process tests use httpx2's ASGI transport where the peer address
matters (a non-loopback client); everything else goes over HTTP to the session's emulator process.
"""

import asyncio
import json
import math
import socket
import subprocess
import sys
import time

import httpx2
import pytest

from emulator.app import Emulator
from emulator.middleware import CallLog
from emulator.process import EmulatorProcess
from tests.conftest import EMULATOR_FAST_ARGS
from tests.test_emulator_api import BODY, DESER, NS, body, create
from tests.test_emulator_process import ROOT

PARSE = "Failed to parse the request body as JSON: "


def raw_create(threshold_text: str) -> bytes:
    """BODY with `compute.scaling.threshold` written verbatim (json.dumps cannot write 1e999)."""
    text = json.dumps(body(compute__scaling__threshold=12345))
    return text.replace("12345", threshold_text).encode()


# ------------------------------------------------------------------------------- 1. non-finite numbers

def _col(raw: bytes, token: str) -> int:
    """serde's column of the error: the last character of the number (1-based)."""
    return raw.decode().index(token) + len(token)


@pytest.mark.parametrize(
    ("raw", "token"),
    [
        (raw_create("1e999"), "1e999"),
        (raw_create("-1e400"), "-1e400"),
        (raw_create("1" + "0" * 400), "1" + "0" * 400),
        (json.dumps(body(compute__scaling__measure={"hardwareUsage": 7.5})).replace("7.5", "1e999").encode(),
         "1e999"),
    ],
    ids=["threshold-1e999", "threshold-minus-1e400", "threshold-400-digit-integer", "measure-1e999"],
)
def test_create_rejects_non_finite_numbers(http, raw, token):
    """A number that does not fit an f64 is serde's plain-text 400, and nothing is stored."""
    r = http.post(f"/v2/endpoint/{NS}", content=raw)
    assert (r.status_code, r.text) == (400, f"{PARSE}number out of range at line 1 column {_col(raw, token)}")
    r = http.get(f"/v2/endpoint/{NS}")
    assert (r.status_code, r.json()) == (200, {"items": []})


@pytest.mark.parametrize(
    "raw",
    [b'{"compute": {"scaling": {"threshold": 1e999}}}', b'{"compute": {"scaling": {"measure": {"hardwareUsage": '
     b'-1e999}}}}', b'{"tags": [1e999]}', b'{"compute": {"scaling": {"threshold": Infinity}}}'],
    ids=["threshold", "measure", "in-a-list", "infinity-constant"],
)
def test_update_rejects_non_finite_numbers(http, raw):
    assert create(http).status_code == 202
    r = http.put(f"/v2/endpoint/{NS}/ep", content=raw)
    assert r.status_code == 400 and r.text.startswith(PARSE)
    assert http.get(f"/v2/endpoint/{NS}").status_code == 200
    assert "threshold" not in http.get(f"/v2/endpoint/{NS}/ep").json()["compute"]["scaling"]


@pytest.mark.parametrize(
    ("route", "raw"),
    [("/_emulator/faults", b'{"latency_seconds": 1e999}'), ("/_emulator/config", b'{"startup_seconds": 1e400}')],
    ids=["faults", "config"],
)
def test_control_routes_reject_non_finite_numbers(emulator, route, raw):
    r = httpx2.post(emulator.base_url + route, content=raw)
    assert (r.status_code, r.text) == (400, f"{PARSE}number out of range at line 1 column {len(raw) - 1}")


def test_tgi_rejects_non_finite_numbers(http, emulator):
    create(http)
    url = emulator.force_state(NS, "ep", "running")["status"]["url"]
    raw = b'{"inputs": "x", "parameters": {"temperature": 1e999}}'
    r = http.post(f"{url}/generate", content=raw)
    assert (r.status_code, r.text) == (400, f"{PARSE}number out of range at line 1 column 51")


def test_state_file_with_non_finite_numbers_does_not_poison_the_namespace(tmp_path):
    """A state file of an older version holding Infinity/NaN: the values are cleared (with a warning on stderr),
    and the namespace lists, reads and updates normally."""
    state = tmp_path / "state.json"
    args = [*EMULATOR_FAST_ARGS, "--state", str(state)]
    with EmulatorProcess(args) as emu:
        emu.request("POST", "/v2/endpoint/local", body(name="ep", compute__scaling__threshold=1.5,
                                                       compute__scaling__measure={"pendingRequests": 2.5}),
                    token=emu.token)
    # Python's json writes Infinity and NaN, as an older emulator did; edit the values, not the text (a text
    # replace of "1.5" would also hit timestamps).
    document = json.loads(state.read_text())

    def poison(node):
        if isinstance(node, dict):
            return {key: poison(value) for key, value in node.items()}
        if isinstance(node, list):
            return [poison(value) for value in node]
        return {1.5: math.inf, 2.5: math.nan}.get(node, node) if isinstance(node, float) else node

    state.write_text(json.dumps(poison(document)))
    assert "Infinity" in state.read_text() and "NaN" in state.read_text()
    with EmulatorProcess(args) as emu:
        [ep] = emu.endpoints("local")
        assert ep["compute"]["scaling"]["threshold"] is None
        assert ep["compute"]["scaling"]["measure"] == {"pendingRequests": None}
        updated = emu.request("PUT", "/v2/endpoint/local/ep", {"tags": ["ok"]}, token=emu.token)
        assert updated["tags"] == ["ok"]
        time.sleep(0.1)
        assert ("emulator: --state: endpoint local/ep held a non-finite number at compute.scaling.threshold; "
                "cleared to null") in emu.stderr
        assert "compute.scaling.measure.pendingRequests; cleared to null" in emu.stderr


# ---------------------------------------------------------------------------------------- 2. names

@pytest.mark.parametrize("name", ["abc\n", "a" * 32 + "\n", "\nabc", "ab c"],
                         ids=["trailing-newline", "32-chars-and-newline", "leading-newline", "space"])
def test_names_must_match_in_full(http, name):
    r = create(http, body(name=name))
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"Invalid endpoint name {name!r}: ")
    assert http.get(f"/v2/endpoint/{NS}").json() == {"items": []}


# ----------------------------------------------------------------------------------- 3. --state FILE

def run_emulator(*args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Start `python -m emulator` expecting it to refuse (a process that starts is killed after `timeout`)."""
    return subprocess.run([sys.executable, "-m", "emulator", "--port", "0", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=timeout)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p / "missing" / "state.json", "directory {dir} does not exist"),
        (lambda p: (p / "afile").write_text("x") and p / "afile" / "state.json", "{dir} is not a directory"),
        (lambda p: (p / "adir").mkdir() or p / "adir", "{path} is a directory"),
        (lambda p: (p / "s.json").write_text("{not json") and p / "s.json",
         "not a JSON state file (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
        (lambda p: (p / "s.json").write_text('{"version": 1, "endpoints": [{"x": 1}]}') and p / "s.json",
         "endpoint #0 of the state file is not an endpoint record (missing 'namespace')"),
        (lambda p: (p / "s.json").write_text("[]") and p / "s.json",
         'not a state file of this emulator (expected {{"version": 1, "endpoints": [...]}})'),
    ],
    ids=["missing-directory", "parent-is-a-file", "path-is-a-directory", "corrupt-json", "bad-record",
         "wrong-shape"],
)
def test_unusable_state_file_refuses_to_start(tmp_path, make, reason):
    """One clear line on stderr, exit status 2, no traceback."""
    path = make(tmp_path)
    done = run_emulator("--state", str(path))
    expected = reason.format(dir=path.parent, path=path)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"emulator: cannot use --state {path}: {expected}\n")


def test_leftover_temp_files_are_removed_at_start(tmp_path):
    """A write killed between the temp file and the rename leaves `.state.json.*.tmp`: removed at start. Files
    that are not this state file's temp files are left alone."""
    state = tmp_path / "state.json"
    leftovers = [tmp_path / ".state.json.k1l2m3.tmp", tmp_path / ".state.json.zz.tmp"]
    others = [tmp_path / ".other.json.abc.tmp", tmp_path / "state.json.tmp", tmp_path / "notes.txt"]
    for f in leftovers + others:
        f.write_text("{")
    with EmulatorProcess(["--state", str(state)]) as emu:
        assert emu.endpoints("local") == []
    assert [f.exists() for f in leftovers] == [False, False]
    assert [f.exists() for f in others] == [True, True, True]


# --------------------------------------------------------------------------------- 4. deep nesting

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _limit_col(raw: str) -> int:
    """The column of the 129th nested opening bracket, where serde_json stops (these bodies have no brackets
    inside strings)."""
    depth = 0
    for i, ch in enumerate(raw):
        depth += ch in "[{"
        depth -= ch in "]}"
        if depth == 129:
            return i + 1
    raise AssertionError("not nested deep enough")


@pytest.mark.parametrize(
    ("method", "path", "raw"),
    [
        ("POST", f"/v2/endpoint/{NS}", _nested(600)),
        ("PUT", f"/v2/endpoint/{NS}/ep", '{"experimentalFeatures": ' + '{"a": ' * 500 + "1" + "}" * 501),
        ("PUT", f"/v2/endpoint/{NS}/ep", _nested(1000)),
        ("POST", f"/v2/endpoint/{NS}", '{"name": "ep", "tags": ' + _nested(200) + "}"),
    ],
    ids=["create-600", "update-500-in-experimental-features", "update-1000", "create-200-in-tags"],
)
def test_deep_nesting_is_a_400(http, method, path, raw):
    """serde_json's recursion limit (128): past it, a plain-text 400, never a 500."""
    assert create(http).status_code == 202
    r = http.request(method, path, content=raw.encode())
    assert (r.status_code, r.text) == (400, f"{PARSE}recursion limit exceeded at line 1 column {_limit_col(raw)}")


def test_nesting_within_the_limit_is_accepted(http):
    assert create(http).status_code == 202
    nested = json.loads("{" + '"a": {' * 100 + "}" * 100 + "}")
    r = http.put(f"/v2/endpoint/{NS}/ep", json={"experimentalFeatures": nested})
    assert r.status_code == 200 and r.json()["experimentalFeatures"] == nested


TGI_3 = {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:3.3.6", "port": 80,
                   "healthRoute": "/health"}}  # a TGI with the Messages API (from 1.4.0)


def test_tgi_deep_nesting_is_a_400(http, emulator):
    create(http, body(model__image=TGI_3))
    url = emulator.force_state(NS, "ep", "running")["status"]["url"]
    raw = '{"messages": ' + _nested(700) + "}"
    r = http.post(f"{url}/v1/chat/completions", content=raw.encode())
    assert (r.status_code, r.text) == (400, f"{PARSE}recursion limit exceeded at line 1 column {_limit_col(raw)}")


# ----------------------------------------------------------------------------- 5. chat content parts

CHAT_DESER = (DESER + "messages[0].content: data did not match any variant of untagged enum MessageContent")


@pytest.mark.parametrize(
    "content",
    [[{"type": "text", "text": 5}], [{"type": "text", "text": None}], [{"type": "text", "text": ["a"]}],
     ["plain string part"], [{"type": "text"}], [{"type": "audio", "text": "x"}], 7],
    ids=["text-int", "text-null", "text-list", "part-not-an-object", "text-missing", "unknown-type",
         "content-int"],
)
def test_chat_content_part_of_the_wrong_shape_is_422(http, emulator, content):
    create(http, body(model__image=TGI_3))
    url = emulator.force_state(NS, "ep", "running")["status"]["url"]
    r = http.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": content}]})
    assert (r.status_code, r.text) == (422, CHAT_DESER)


def test_chat_content_parts_count_their_text(http, emulator):
    create(http, body(model__image=TGI_3))
    url = emulator.force_state(NS, "ep", "running")["status"]["url"]
    content = [{"type": "text", "text": "one two"}, {"type": "image_url", "image_url": {"url": "http://x/i.png"}}]
    r = http.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": content}],
                                                      "max_tokens": 1})
    assert r.status_code == 200 and r.json()["usage"]["prompt_tokens"] == 2


# ------------------------------------------------------------------------------ 6. being deleted

@pytest.mark.parametrize(
    ("method", "suffix", "payload", "action"),
    [("POST", "/pause", None, "pause"), ("POST", "/resume", None, "resume"),
     ("POST", "/scale-to-zero", None, "scale to zero"), ("PUT", "", {"tags": ["x"]}, "update")],
    ids=["pause", "resume", "scale-to-zero", "put"],
)
def test_an_endpoint_being_deleted_refuses_changes(http, emulator, method, suffix, payload, action):
    """Decision 15: 400 naming the deletion; the endpoint stays as it was until it is gone."""
    emulator.configure(delete_seconds=30)
    create(http, body(compute__scaling__minReplica=0))
    before = emulator.force_state(NS, "ep", "paused" if action == "resume" else "running")
    assert http.delete(f"/v2/endpoint/{NS}/ep").status_code == 200
    r = http.request(method, f"/v2/endpoint/{NS}/ep{suffix}", json=payload)
    assert (r.status_code, r.json()) == (400, {"error": f"Cannot {action} endpoint local/ep: it is being deleted"})
    after = http.get(f"/v2/endpoint/{NS}/ep").json()
    assert (after["status"]["state"], after["tags"]) == (before["status"]["state"], before["tags"])
    assert http.delete(f"/v2/endpoint/{NS}/ep").status_code == 200  # a second delete is still fine


# ---------------------------------------------------------------------------------- 7. control routes

def _asgi(app, client_host: str, method: str, path: str, **kw) -> httpx2.Response:
    async def go():
        transport = httpx2.ASGITransport(app=app, client=(client_host, 40000))
        async with httpx2.AsyncClient(transport=transport, base_url="http://emulator") as c:
            return await c.request(method, path, **kw)
    return asyncio.run(go())


@pytest.mark.parametrize(
    ("client", "token", "header", "status", "error"),
    [
        ("127.0.0.1", None, None, 200, None),
        ("::1", None, None, 200, None),
        ("127.8.9.10", None, None, 200, None),
        ("192.0.2.7", None, None, 403, "The /_emulator control routes are served to loopback clients only"),
        ("192.0.2.7", "s3cret-control", "s3cret-control", 200, None),
        ("192.0.2.7", "s3cret-control", None, 401,
         "The /_emulator control routes need the control token: send X-Emulator-Control-Token"),
        ("127.0.0.1", "s3cret-control", "wrong", 401,
         "The /_emulator control routes need the control token: send X-Emulator-Control-Token"),
    ],
    ids=["loopback-v4", "loopback-v6", "loopback-net", "remote-refused", "remote-with-token",
         "remote-without-token", "loopback-wrong-token"],
)
def test_control_routes_access(client, token, header, status, error):
    app = Emulator(control_token=token).build()
    headers = {"X-Emulator-Control-Token": header} if header else {}
    r = _asgi(app, client, "GET", "/_emulator/faults", headers=headers)
    assert r.status_code == status
    if error:
        assert r.json() == {"error": error}
    # the management API does not care where the client is
    assert _asgi(app, client, "GET", "/v2/provider").status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.2", "::"], ids=["any-v4", "interface", "any-v6"])
def test_non_loopback_bind_needs_a_control_token(host):
    done = run_emulator("--host", host)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"emulator: --host {host} is not a loopback address: the /_emulator control routes would be open "
               "to the network; pass --control-token TOKEN (or bind to 127.0.0.1)\n")


def test_non_loopback_bind_with_a_control_token():
    """Bound to all interfaces with a token: EmulatorProcess sends it, a bare request is refused."""
    with EmulatorProcess(["--host", "0.0.0.0", "--control-token", "tok-123"]) as emu:
        assert emu.base_url.startswith("http://0.0.0.0:")
        assert emu.request("GET", "/_emulator/config")["startup_seconds"] == 4.0
        r = httpx2.get(emu.base_url + "/_emulator/config")
        assert r.status_code == 401


# ----------------------------------------------------------------------------------- 8. fidelity

@pytest.mark.parametrize(
    ("image", "stored"),
    [
        ({"custom": {"url": "u", "health_route": "/ready", "port": 80}}, {"custom": {"url": "u", "port": 80}}),
        ({"custom": {"url": "u", "env": {"A": "1"}, "healthRoute": "/h"}},
         {"custom": {"url": "u", "healthRoute": "/h"}}),
        ({"tgi": {"url": "u", "quantize": "awq", "maxInputLength": 10, "tensorParallelSize": 2}},
         {"tgi": {"url": "u", "quantize": "awq", "maxInputLength": 10}}),
        ({"vLLM": {"url": "u", "tensorParallelSize": 1, "quantize": "awq"}},
         {"vLLM": {"url": "u", "tensorParallelSize": 1}}),
        ({"huggingface": {"url": "ignored"}}, {"huggingface": {}}),
    ],
    ids=["snake-health-route", "custom-env", "tgi-unknown", "vllm-unknown", "huggingface-empty"],
)
def test_undeclared_image_fields_are_dropped(http, image, stored):
    """The API ignores what a variant does not declare: not stored, not echoed, not the health route."""
    r = create(http, body(model__image=image))
    assert r.status_code == 202, r.text
    assert r.json()["model"]["image"] == stored
    assert http.get(f"/v2/endpoint/{NS}/ep").json()["model"]["image"] == stored
    assert r.json()["healthRoute"] == (stored.get("custom") or {}).get("healthRoute", "/health")


def test_undeclared_image_fields_are_dropped_on_update(http):
    create(http)
    r = http.put(f"/v2/endpoint/{NS}/ep", json={"model": {"image": {"custom": {"url": "v", "health_route": "/x"}}}})
    assert r.json()["model"]["image"] == {"custom": {"url": "v"}}


@pytest.mark.parametrize("path", [f"/v2/endpoint/{NS}", f"/v2/endpoint/{NS}/ep", f"/v2/provider/{NS}"],
                         ids=["list", "get", "hardware"])
def test_other_namespace_is_401(http, path):
    """huggingface_hub's namespace="*" listing skips an org that answers 401 (403 would abort it)."""
    r = http.get(path.replace(f"/{NS}", "/someone-else"))
    assert (r.status_code, r.json()) == (401, {"error": "User 'local' has no access to namespace 'someone-else'"})


@pytest.mark.parametrize(
    ("method", "suffix", "status"),
    [("GET", "/logs/sse", 404), ("GET", "/replica", 404), ("GET", "/sse", 404), ("GET", "/metrics", 404),
     ("POST", "/metrics/request-count", 404), ("GET", "/pause", 405), ("POST", "/nope", 404)],
    ids=["logs-sse", "replica", "sse", "metrics-get", "metrics-post", "pause-get", "unknown-action"],
)
def test_unimplemented_routes_are_404(http, method, suffix, status):
    create(http)
    r = http.request(method, f"/v2/endpoint/{NS}/ep{suffix}")
    assert r.status_code == status
    if status == 404:
        assert r.json() == {"error": f"No route {method} /v2/endpoint/{NS}/ep{suffix}"}


@pytest.mark.parametrize(
    ("port", "status", "text"),
    [(70000, 422, DESER + "model.image.custom.port: invalid value: integer `70000`, expected u16"),
     (-1, 422, DESER + "model.image.custom.port: invalid value: integer `-1`, expected u16"),
     (0, 400, '{"error":"model.image.custom.port must be between 1 and 65535"}'),
     (65535, 202, None), (1, 202, None)],
    ids=["70000", "negative", "zero", "65535", "1"],
)
def test_port_range(http, port, status, text):
    r = create(http, body(model__image={"custom": {"url": "u", "port": port}}))
    assert r.status_code == status
    if text is not None:
        assert r.text == text


def test_scale_to_zero_route_needs_min_replica_0(http, emulator):
    create(http)
    emulator.force_state(NS, "ep", "running")
    r = http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")
    assert (r.status_code, r.json()) == (400, {"error": "Cannot scale endpoint local/ep to zero: "
                                                        "compute.scaling.minReplica is 1; set it to 0 first"})
    assert http.get(f"/v2/endpoint/{NS}/ep").json()["status"]["state"] == "running"


# ---------------------------------------------------------------------------------- 9. fault injection

def test_fault_rates_are_shares_not_products(http, emulator):
    """rate_limit 0.5 + error 0.5: every call is one of the two (before: a quarter got through)."""
    emulator.faults(rate_limit_rate=0.5, error_rate=0.5, retry_after_seconds=0)
    statuses = [http.get(f"/v2/endpoint/{NS}").status_code for _ in range(200)]
    assert not [s for s in statuses if s < 400]
    limited = statuses.count(429)
    assert 70 <= limited <= 130, limited


def test_fault_rates_may_not_add_up_to_more_than_1(emulator):
    r = httpx2.post(f"{emulator.base_url}/_emulator/faults", json={"error_rate": 0.5, "drop_rate": 0.4,
                                                                    "rate_limit_rate": 0.3})
    assert (r.status_code, r.json()) == (400, {"error": "the fault rates add up to 1.2 (drop_rate 0.4 + "
                                                        "rate_limit_rate 0.3 + error_rate 0.5 + error_after_rate 0.0)"
                                                        "; their sum must be at most 1"})
    done = run_emulator("--error-rate", "0.7", "--drop-rate", "0.7")
    assert done.returncode == 2 and "the fault rates add up to 1.4" in done.stderr


@pytest.mark.parametrize(
    ("prepare", "method", "suffix", "payload", "status"),
    [
        (None, "POST", "", body(name="Bad_Name"), 400),
        (None, "POST", "", {"name": 1}, 422),
        ("paused", "POST", "/ep/pause", None, 200),
        ("running", "POST", "/ep/scale-to-zero", None, 400),
        (None, "DELETE", "/nope", None, 404),
        (None, "POST", "", BODY, 502),
        ("running", "PUT", "/ep", {"tags": ["t"]}, 502),
        ("running", "POST", "/ep/pause", None, 502),
    ],
    ids=["invalid-400", "shape-422", "pause-paused-no-change", "refused-400", "missing-404", "create-lands",
         "update-lands", "pause-lands"],
)
def test_error_after_only_hides_a_change(http, emulator, prepare, method, suffix, payload, status):
    """error_after_rate 1: a 502 only when a 2xx changed something; otherwise the real answer."""
    if prepare:
        create(http, body(compute__scaling__minReplica=1))
        emulator.force_state(NS, "ep", prepare)
    emulator.faults(error_after_rate=1.0)
    r = http.request(method, f"/v2/endpoint/{NS}{suffix}", json=payload)
    assert r.status_code == status, r.text
    if status == 502:
        assert r.json() == {"error": "Injected fault after the change was applied: HTTP 502"}


def test_call_log_records_time_request_id_and_query(http, emulator):
    emulator.clear_calls()
    start = time.time()
    r = http.get(f"/v2/endpoint/{NS}", params={"tags": "a b", "x": "1"})
    [entry] = emulator.calls()
    assert set(entry) == {"time", "method", "path", "query", "status", "request_id"}
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == (
        "GET", f"/v2/endpoint/{NS}", "tags=a+b&x=1", 200)
    assert entry["request_id"] == r.headers["x-request-id"]
    assert start - 0.01 <= entry["time"] <= time.time()
    assert emulator.request("GET", "/_emulator/calls")["limit"] == 10000


def test_call_log_is_a_bounded_ring():
    log = CallLog(limit=3)
    for i in range(5):
        log.add({"method": "GET", "path": f"/{i}"})
    assert [e["path"] for e in log.entries()] == ["/2", "/3", "/4"]
    assert CallLog().limit == 10000


# ------------------------------------------------------------------- issue 16: headers and short bodies

@pytest.mark.parametrize(("method", "path", "message"), [
    ("GET", "/api/models/gpt2/revision/ma%00in", "Invalid rev id: ma\\x00in"),
    ("GET", "/gpt2/resolve/ma%00in/config.json", "Invalid rev id: ma\\x00in"),
    ("HEAD", "/gpt2/resolve/ma%00in/config.json", "Invalid rev id: ma\\x00in"),
    ("GET", "/api/models/gpt2/revision/ma%1b%5b2Jin", "Invalid rev id: ma\\x1b[2Jin"),
], ids=["model-info-nul", "resolve-nul", "resolve-head-nul", "escape"])
def test_a_control_character_in_a_revision_is_a_404_with_an_escaped_header(http, method, path, message):
    """The NUL landed in the X-Error-Message header, and the server dropped the connection instead of answering."""
    r = http.request(method, path)
    assert (r.status_code, r.headers["x-error-code"], r.headers["x-error-message"]) == (
        404, "RevisionNotFound", message)


def _socket(emulator):
    host, port = emulator.base_url.rsplit("//", 1)[1].split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _short_body(path: str, method: str = "POST") -> bytes:
    """A request whose body stops 95 bytes short of its Content-Length."""
    return (f"{method} {path} HTTP/1.1\r\nHost: emulator\r\nAuthorization: Bearer hf_local\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":').encode()


def _wait_for_call(emulator, path: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        calls = [c for c in emulator.calls() if c["path"] == path]
        if calls:
            return calls[-1]
        time.sleep(0.02)
    pytest.fail(f"no call of {path} was logged")


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v2/endpoint/local"), ("PUT", "/v2/endpoint/local/ep"), ("POST", "/_emulator/faults"),
], ids=["create", "update", "control-route"])
def test_a_body_shorter_than_its_content_length_is_a_408_in_bounded_time(emulator, method, path):
    """It hung forever (no read timeout). Now: 408 once `body_timeout_seconds` passed, then the connection closes
    (the rest of the body may still come), and no traceback in the emulator's log."""
    emulator.configure(body_timeout_seconds=0.3)
    logged = len(emulator.stderr)
    with _socket(emulator) as sock:
        sock.sendall(_short_body(path, method))
        answer = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            answer += chunk
    head, _, body_text = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"\r\nconnection: close\r\n" in head.lower()
    assert json.loads(body_text) == {"error": "The request body did not arrive in full within 0.3s"}
    assert "Traceback" not in emulator.stderr[logged:]


def test_a_client_gone_in_the_middle_of_its_body_leaves_no_traceback(emulator):
    logged = len(emulator.stderr)
    with _socket(emulator) as sock:
        sock.sendall(_short_body("/v2/endpoint/local"))
    assert _wait_for_call(emulator, "/v2/endpoint/local")["status"] == 400
    assert "Traceback" not in emulator.stderr[logged:]
