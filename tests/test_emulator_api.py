"""The management API over HTTP: validation, PUT merge rules, the state machine, quota, control routes."""

import copy
import time
from datetime import datetime

import httpx2
import pytest

NS = "local"
BODY = {
    "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-a10g",
                "scaling": {"maxReplica": 1, "minReplica": 1, "scaleToZeroTimeout": None}},
    "model": {"framework": "pytorch", "repository": "org/model", "revision": None,
              "image": {"custom": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "port": 80,
                                   "healthRoute": "/health"}}},
    "name": "ep", "provider": {"region": "us-east-1", "vendor": "aws"}, "type": "authenticated",
}
DESER = "Failed to deserialize the JSON body into the target type: "


def body(**changes):
    """BODY with dotted-path changes; a value of ... deletes the key."""
    out = copy.deepcopy(BODY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = out
        for p in parents:
            node = node[p]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return out


def create(http, payload=None, ns=NS):
    return http.post(f"/v2/endpoint/{ns}", json=BODY if payload is None else payload)


def wait_state(http, name, state, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = http.get(f"/v2/endpoint/{NS}/{name}").json()
        if got["status"]["state"] == state:
            return got
        time.sleep(0.02)
    pytest.fail(f"{name} never reached {state}")


def ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ------------------------------------------------------------------------------------------------ create

@pytest.mark.parametrize(
    ("payload", "status", "text"),
    [
        (body(name=...), 422, DESER + "missing field `name`"),
        (body(compute__scaling__minReplica=...), 422, DESER + "compute.scaling: missing field `minReplica`"),
        (body(compute__scaling__minReplica="1"), 422,
         DESER + 'compute.scaling.minReplica: invalid type: string "1", expected u32'),
        (body(compute__scaling__maxReplica=-1), 422,
         DESER + "compute.scaling.maxReplica: invalid value: integer `-1`, expected u32"),
        (body(type="secret"), 422,
         DESER + "type: unknown variant `secret`, expected one of `public`, `authenticated`, `private`, "
         "`protected`"),
        (body(model__image={"custom": {"url": "u"}, "tgi": {"url": "u"}}), 422,
         DESER + "model.image: invalid type: map, expected map with a single key"),
        (body(model__image={"tgi": {"port": 80}}), 422, DESER + "model.image.tgi: missing field `url`"),
        (body(model__task=None), 400,
         "Failed to parse the request body as JSON: model.task: invalid type: null, expected a string"),
        ([1, 2], 422, DESER + "invalid type: sequence, expected struct Endpoint"),
    ],
    ids=["no-name", "no-minReplica", "string-replica", "negative-replica", "unknown-type", "two-images",
         "image-without-url", "null-task", "not-an-object"],
)
def test_create_shape_errors(http, payload, status, text):
    """Shape errors are plain-text 422s (and the null task the 400 of huggingface_hub#2510)."""
    r = create(http, payload)
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("raw", "text"),
    [(b"", "EOF while parsing a value at line 1 column 1"), (b'{"a": }', "expected value at line 1 column 7"),
     (b'{"name": NaN}', "expected value (NaN is not JSON)"), (b"\xff", "invalid unicode code point at byte 0")],
    ids=["empty", "truncated", "nan", "not-utf8"],
)
def test_create_bad_json(http, raw, text):
    """A body that is not JSON is a plain-text 400."""
    r = http.post(f"/v2/endpoint/{NS}", content=raw)
    assert (r.status_code, r.text) == (400, f"Failed to parse the request body as JSON: {text}")


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (body(name="My_Endpoint"), "Invalid endpoint name 'My_Endpoint': it must only contain lowercase "
         "alphanumeric characters or '-', start and end with an alphanumeric character, and be at most 32 "
         "characters long"),
        (body(name="a" * 33), None),
        (body(name="-ep"), None),
        (body(provider={"vendor": "oracle", "region": "x"}), "Unknown vendor 'oracle' (known: aws, gcp, azure)"),
        (body(provider={"vendor": "aws", "region": "mars-1"}), "Region 'mars-1' is not available for vendor 'aws'"),
        (body(compute__instanceType="g5.2xlarge", compute__instanceSize="medium"),
         "Instance 'g5.2xlarge' / 'medium' uses the legacy naming retired in May 2024: use instanceType "
         "'nvidia-a10g' and instanceSize 'x1'"),
        (body(compute__instanceSize="x8"), "Instance type 'nvidia-a10g' of size 'x8' with accelerator 'gpu' is "
         "not available in aws/us-east-1; see GET /v2/provider/{namespace} for the available hardware"),
        (body(compute__accelerator="cpu"), "Instance type 'nvidia-a10g' of size 'x1' with accelerator 'cpu' is "
         "not available in aws/us-east-1; see GET /v2/provider/{namespace} for the available hardware"),
        (body(compute__accelerator="cpu", compute__instanceType="intel-icl"),
         "Instance aws-us-east-1-intel-icl-x1 is deprecated and cannot be deployed"),
        (body(provider={"vendor": "aws", "region": "us-west-2"}, compute__instanceType="nvidia-l40s",
              compute__instanceSize="x8"), "Instance aws-us-west-2-nvidia-l40s-x8 is not_available and cannot be "
         "deployed"),
        (body(compute__scaling__scaleToZeroTimeout=15),
         "compute.scaling.scaleToZeroTimeout can only be set when minReplica is 0"),
        (body(compute__scaling__minReplica=0, compute__scaling__scaleToZeroTimeout=5),
         "compute.scaling.scaleToZeroTimeout must be between 15 and 2880 minutes (got 5)"),
        (body(compute__scaling__minReplica=2), "compute.scaling.minReplica (2) must be less than or equal to "
         "maxReplica (1)"),
        (body(compute__scaling__maxReplica=0, compute__scaling__minReplica=0),
         "compute.scaling.maxReplica must be at least 1"),
        (body(model__args=[]), "model.args must not be empty; omit it when the container takes no arguments"),
        (body(route={"path": "p"}), "route.path must start with '/'"),
    ],
    ids=["uppercase-name", "long-name", "leading-dash", "vendor", "region", "legacy-instance", "size-missing",
         "accelerator-mismatch", "deprecated", "not-available", "stz-needs-min-0", "stz-range", "min-gt-max",
         "max-zero", "empty-args", "route-path"],
)
def test_create_validation_errors(http, payload, error):
    """Values the service refuses are JSON 400s naming the problem."""
    r = create(http, payload)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    if error is not None:
        assert r.json() == {"error": error}
    assert http.get(f"/v2/endpoint/{NS}").json() == {"items": []}


def test_create_response_shape(http, emulator):
    """202 with every key huggingface_hub needs, protected stored as private, secrets and credentials redacted."""
    payload = body(type="protected", model__secrets={"TOKEN": "s3cret"}, model__env={"A": "1"},
                   model__image={"custom": {"url": "u", "credentials": {"username": "me", "password": "pw"}}},
                   tags=["t"])
    r = create(http, payload)
    assert r.status_code == 202
    assert r.headers["x-request-id"]
    ep = r.json()
    created = ep["status"].pop("createdAt")
    assert created.endswith("Z") and ep["status"].pop("updatedAt") == created
    assert ep == {
        "name": "ep", "type": "private", "accountId": None, "provider": {"vendor": "aws", "region": "us-east-1"},
        "compute": {"id": "aws-us-east-1-nvidia-a10g-x1", "accelerator": "gpu", "instanceType": "nvidia-a10g",
                    "instanceSize": "x1", "scaling": {"minReplica": 1, "maxReplica": 1, "scaleToZeroTimeout": None}},
        "model": {"repository": "org/model", "framework": "pytorch", "revision": None, "task": None,
                  "image": {"custom": {"url": "u", "credentials": {"username": "", "password": None}}},
                  "env": {"A": "1"}, "secrets": {"TOKEN": None}},
        "healthRoute": "/health", "tags": ["t"], "cacheHttpResponses": False,
        "status": {"createdBy": {"id": ep["status"]["createdBy"]["id"], "name": "local"},
                   "updatedBy": {"id": ep["status"]["createdBy"]["id"], "name": "local"},
                   "state": "pending", "message": "Endpoint waiting to be scheduled", "readyReplica": 0,
                   "targetReplica": 1, "url": None, "private": None},
    }


def test_duplicate_name_conflicts_until_deleted(http):
    """409 on a taken name, also while the old endpoint is still being deleted; free again afterwards."""
    assert create(http).status_code == 202
    r = create(http)
    assert (r.status_code, r.json()) == (409, {"error": "An endpoint with the same name already exists"})
    assert http.delete(f"/v2/endpoint/{NS}/ep").json() == {}
    assert http.get(f"/v2/endpoint/{NS}/ep").status_code == 200  # deletion is asynchronous
    assert create(http).status_code == 409
    time.sleep(0.25)
    r = http.get(f"/v2/endpoint/{NS}/ep")
    assert (r.status_code, r.json()) == (404, {"error": "Endpoint 'ep' not found in namespace 'local'"})
    assert create(http).status_code == 202


# ------------------------------------------------------------------------------------------------ update

BASE = body(model__env={"A": "1", "B": "2"}, model__secrets={"S": "x"}, model__command=["serve"],
            model__revision="abc", tags=["a", "b"],
            model__image={"custom": {"url": "u", "healthRoute": "/ready",
                                     "credentials": {"username": "me", "password": "pw"}}})


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ({"tags": ["c"]}, {"tags": ["c"], "env": {"A": "1", "B": "2"}}),
        ({"tags": []}, {"tags": []}),
        ({"model": {"revision": None}}, {"revision": None, "command": ["serve"]}),
        ({"model": {"env": {"C": "3"}}}, {"env": {"C": "3"}}),
        ({"model": {"env": None}}, {"env": {}}),
        ({"model": {"secrets": {"S": None, "T": "y"}}}, {"secrets": {"S": None, "T": None}}),
        ({"model": {"command": []}}, {"command": []}),
        ({"model": {"image": {"custom": {"url": "v"}}}},
         {"image": {"custom": {"url": "v"}}, "healthRoute": "/health"}),
        ({"model": {"image": {"custom": {"url": "v", "credentials": {"username": "", "password": None}}}}},
         {"image": {"custom": {"url": "v", "credentials": {"username": "", "password": None}}}}),
        ({"compute": {"scaling": {"maxReplica": 3}}}, {"scaling": {"minReplica": 1, "maxReplica": 3,
                                                                   "scaleToZeroTimeout": None}}),
        ({"compute": {"instanceType": "nvidia-l4"}}, {"id": "aws-us-east-1-nvidia-l4-x1"}),
    ],
    ids=["absent-keeps", "empty-list-clears", "null-clears", "env-replaced-whole", "env-null-clears",
         "secret-null-keeps", "command-cleared", "image-replaced-whole", "redacted-credentials-kept",
         "scaling-merged", "instance-changed"],
)
def test_update_merge_rules(http, patch, expected):
    """PUT: absent keeps, null clears, image/env/secrets/lists replaced whole, objects merged."""
    assert create(http, BASE).status_code == 202
    r = http.put(f"/v2/endpoint/{NS}/ep", json=patch)
    assert r.status_code == 200, r.text
    ep = r.json()
    flat = {**ep, **ep["model"], **ep["compute"]}
    assert {k: flat[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        ({"name": "other"}, "name cannot be changed (it is 'ep'); create a new endpoint"),
        ({"provider": {"region": "eu-west-1"}}, "provider.region cannot be changed (it is 'us-east-1'); create a "
         "new endpoint"),
        ({"type": "public"}, "type cannot be changed (it is 'authenticated'); create a new endpoint"),
        ({"compute": {"accelerator": "cpu", "instanceType": "intel-spr", "instanceSize": "x2"}},
         "compute.accelerator cannot be changed from 'gpu' to 'cpu'; create a new endpoint"),
        ({"model": {"image": {"vLLM": {"url": "v"}}}}, "The inference engine cannot be changed "
         "(model.image.custom -> model.image.vLLM); create a new endpoint"),
        ({"compute": {"scaling": {"scaleToZeroTimeout": 30}}},
         "compute.scaling.scaleToZeroTimeout can only be set when minReplica is 0"),
        ({"model": {"secrets": {"NEW": None}}}, "model.secrets.NEW has no value: send the secret's value"),
    ],
    ids=["name", "region", "type", "accelerator", "engine", "stz-after-merge", "null-new-secret"],
)
def test_update_errors(http, patch, error):
    """Immutable fields and invalid merged configs are 400s; the stored endpoint is unchanged."""
    before = create(http, BASE).json()
    r = http.put(f"/v2/endpoint/{NS}/ep", json=patch)
    assert (r.status_code, r.json()) == (400, {"error": error})
    after = http.get(f"/v2/endpoint/{NS}/ep").json()
    assert after["model"] == before["model"] and after["compute"] == before["compute"]


def test_update_null_required_field_is_422(http):
    assert create(http).status_code == 202
    r = http.put(f"/v2/endpoint/{NS}/ep", json={"model": {"repository": None}})
    assert (r.status_code, r.text) == (422, DESER + "model.repository: invalid type: null, expected a value")


# ----------------------------------------------------------------------------------------- state machine

def test_start_timeline(http):
    """pending -> initializing (half of startup) -> running; updatedAt is the exact transition instant."""
    created = create(http).json()
    t0 = ts(created["status"]["createdAt"])
    ep = wait_state(http, "ep", "initializing")
    assert ep["status"]["url"] is None and ts(ep["status"]["updatedAt"]) == pytest.approx(t0 + 0.15, abs=0.002)
    ep = wait_state(http, "ep", "running")
    assert ts(ep["status"]["updatedAt"]) == pytest.approx(t0 + 0.3, abs=0.002)
    assert (ep["status"]["readyReplica"], ep["status"]["targetReplica"]) == (1, 1)
    assert ep["status"]["message"] == "Endpoint is ready"


def test_update_pause_resume_scale_to_zero(http):
    """Action responses and their states, with coherent replica counts."""
    create(http, body(compute__scaling__minReplica=0, compute__scaling__maxReplica=2))
    wait_state(http, "ep", "running")

    def status(r):
        assert r.status_code == 200, r.text
        s = r.json()["status"]
        return s["state"], s["readyReplica"], s["targetReplica"], s["url"] is not None

    assert status(http.put(f"/v2/endpoint/{NS}/ep", json={"model": {"revision": "r2"}})) == ("updating", 1, 1, True)
    assert status(http.get(f"/v2/endpoint/{NS}/ep")) == ("updating", 1, 1, True)
    wait_state(http, "ep", "running")
    assert status(http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")) == ("scaledToZero", 0, 0, True)
    assert status(http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")) == ("scaledToZero", 0, 0, True)
    assert status(http.post(f"/v2/endpoint/{NS}/ep/pause")) == ("paused", 0, 0, False)
    assert status(http.post(f"/v2/endpoint/{NS}/ep/pause")) == ("paused", 0, 0, False)
    assert status(http.put(f"/v2/endpoint/{NS}/ep", json={"tags": ["x"]})) == ("paused", 0, 0, False)
    r = http.post(f"/v2/endpoint/{NS}/ep/scale-to-zero")
    assert (r.status_code, r.json()["error"]) == (400, "Cannot scale to zero endpoint local/ep in state paused "
                                                       "(valid states: running, scaledToZero)")
    assert status(http.post(f"/v2/endpoint/{NS}/ep/resume")) == ("pending", 0, 1, False)
    wait_state(http, "ep", "running")
    r = http.post(f"/v2/endpoint/{NS}/ep/resume")
    assert (r.status_code, r.json()) == (400, {"error": "Endpoint local/ep is already running"})


def test_failed_and_update_failed(http, emulator):
    """Fail patterns end a start in failed and an update in updateFailed; failed refuses update and resume."""
    emulator.faults(fail_start_pattern="^org/bad", fail_update_pattern="v2$")
    create(http, body(model__repository="org/bad-model"))
    ep = wait_state(http, "ep", "failed")
    assert ep["status"]["message"] == ("Endpoint failed to deploy: repository 'org/bad-model' matches the "
                                       "emulator's fail-start pattern '^org/bad'")
    r = http.put(f"/v2/endpoint/{NS}/ep", json={"tags": []})
    assert r.status_code == 400 and r.json()["error"].startswith("Cannot update endpoint local/ep in state failed")
    assert http.post(f"/v2/endpoint/{NS}/ep/resume").status_code == 400

    create(http, body(name="ep2"))
    wait_state(http, "ep2", "running")
    http.put(f"/v2/endpoint/{NS}/ep2", json={"model": {"repository": "org/model-v2"}})
    ep = wait_state(http, "ep2", "updateFailed")
    assert "fail-update pattern 'v2$'" in ep["status"]["message"]
    assert http.put(f"/v2/endpoint/{NS}/ep2", json={"model": {"repository": "org/model"}}).status_code == 200
    wait_state(http, "ep2", "running")


def test_idle_scale_to_zero(http, emulator):
    """minReplica 0 + scaleToZeroTimeout 15 min at 0.05 s/min: scaledToZero 0.75 s after the last request."""
    create(http, body(compute__scaling__minReplica=0, compute__scaling__scaleToZeroTimeout=15))
    running = wait_state(http, "ep", "running")
    t_running = ts(running["status"]["updatedAt"])
    time.sleep(0.4)
    url = running["status"]["url"]
    r = http.post(f"{url}/generate", json={"inputs": "hi"})  # activity resets the idle timer
    assert r.status_code == 200
    t_request = time.time()
    ep = wait_state(http, "ep", "scaledToZero", timeout=3)
    went = ts(ep["status"]["updatedAt"])
    assert went > t_running + 0.75
    assert went == pytest.approx(t_request + 0.75, abs=0.05)


# ------------------------------------------------------------------------------------------------ quota

def test_quota(http, emulator):
    """Accelerators in use (numAccelerators x maxReplica, paused excluded) may not exceed the quota."""
    emulator.configure(quota=4)
    a100 = {"compute__instanceType": "nvidia-a100", "compute__instanceSize": "x2"}
    assert create(http, body(name="a", compute__scaling__maxReplica=1, **a100)).status_code == 202
    r = create(http, body(name="b", compute__scaling__maxReplica=2, **a100))
    assert (r.status_code, r.json()) == (400, {"error": "Accelerator quota exceeded for nvidia-a100 in "
                                                        "aws/us-east-1: namespace 'local' uses 2 of 4 and this "
                                                        "endpoint needs 4 (2 x maxReplica 2)"})
    assert http.post(f"/v2/endpoint/{NS}/a/pause").status_code == 200
    assert create(http, body(name="b", compute__scaling__maxReplica=2, **a100)).status_code == 202
    assert http.post(f"/v2/endpoint/{NS}/a/resume").status_code == 400
    tree = http.get(f"/v2/provider/{NS}").json()
    [compute] = [c for v in tree["vendors"] for reg in v["regions"] for c in reg["computes"]
                 if c["id"] == "aws-us-east-1-nvidia-a100-x2"]
    assert compute["quota"] == {"maxAccelerators": 4, "usedAccelerators": 4}
    assert compute["gpuMemoryGb"] == 160 and compute["pricePerHour"] == 5.0


def test_public_catalog_needs_no_token(emulator):
    r = httpx2.get(f"{emulator.api_url}/provider")
    assert r.status_code == 200
    assert [v["name"] for v in r.json()["vendors"]] == ["aws", "gcp", "azure"]


# ----------------------------------------------------------------------------------- control routes

def test_calls_log(http, emulator):
    emulator.clear_calls()
    create(http)
    http.get(f"/v2/endpoint/{NS}/nope")
    emulator.faults()  # control routes are not logged
    assert [(c["method"], c["path"], c["status"]) for c in emulator.calls()] == [
        ("POST", "/v2/endpoint/local", 202),
        ("GET", "/v2/endpoint/local/nope", 404),
    ]
    emulator.clear_calls()
    assert emulator.calls() == []


def test_injected_errors_happen_before_the_store(http, emulator):
    """error_rate 1 answers every /v2 call with a configured 5xx; nothing is created; control routes unaffected."""
    emulator.faults(error_rate=1.0, error_statuses=[503])
    r = create(http)
    assert (r.status_code, r.json()) == (503, {"error": "Injected fault: HTTP 503"})
    assert emulator.faults(error_rate=0.0)["error_rate"] == 0.0
    assert emulator.endpoints(NS) == []


def test_error_after_change(http, emulator):
    """error_after_rate: the change lands, the client sees a 502."""
    emulator.faults(error_after_rate=1.0)
    assert create(http).status_code == 502
    emulator.faults(error_after_rate=0.0)
    assert [e["name"] for e in emulator.endpoints(NS)] == ["ep"]


def test_rate_limit_and_latency(http, emulator):
    emulator.faults(rate_limit_rate=1.0, retry_after_seconds=0.05, latency_seconds=0.1)
    start = time.monotonic()
    r = http.get(f"/v2/endpoint/{NS}")
    assert time.monotonic() - start >= 0.1
    assert (r.status_code, r.headers["retry-after"]) == (429, "0.05")
    assert r.json() == {"error": "Too many requests, retry later"}


def test_dropped_connection(http, emulator):
    """A drop closes the connection without a response; the log shows status 0."""
    emulator.faults(drop_rate=1.0)
    emulator.clear_calls()
    with pytest.raises(httpx2.TransportError):
        http.get(f"/v2/endpoint/{NS}")
    assert [(c["method"], c["path"], c["status"]) for c in emulator.calls()] == [("GET", "/v2/endpoint/local", 0)]


@pytest.mark.parametrize(
    ("route", "payload", "error"),
    [("faults", {"error_rate": 2}, "invalid value for error_rate: 2"),
     ("faults", {"nope": 1}, "unknown settings ['nope']; known: ['drop_rate', 'error_after_rate', 'error_rate', "
      "'error_statuses', 'fail_start_pattern', 'fail_update_pattern', 'latency_seconds', 'rate_limit_rate', "
      "'retry_after_seconds']"),
     ("faults", {"fail_start_pattern": "("}, "invalid regular expression for fail_start_pattern: missing ), "
      "unterminated subpattern at position 0"),
     ("config", {"startup_seconds": -1}, "invalid value for startup_seconds: -1")],
    ids=["rate-above-1", "unknown-key", "bad-regex", "negative-duration"],
)
def test_control_validation(emulator, route, payload, error):
    r = httpx2.post(f"{emulator.base_url}/_emulator/{route}", json=payload)
    assert (r.status_code, r.json()) == (400, {"error": error})


def test_config_and_reset(emulator):
    assert emulator.configure(startup_seconds=1.5, reply="ok")["startup_seconds"] == 1.5
    emulator.reset()
    assert emulator.request("GET", "/_emulator/config") == {
        "startup_seconds": 0.3, "update_seconds": 0.2, "delete_seconds": 0.2, "time_scale": 0.05, "reply": None,
        "quota": None, "body_timeout_seconds": 10.0}


def test_out_of_band_edits(http, emulator):
    """Web-UI edits: PATCH behaves like a PUT, DELETE removes at once, state forces a state now."""
    create(http)
    wait_state(http, "ep", "running")
    edited = emulator.edit(NS, "ep", {"model": {"env": {"X": "1"}}})
    assert (edited["status"]["state"], edited["model"]["env"]) == ("updating", {"X": "1"})
    assert edited["status"]["updatedBy"]["name"] == "web-ui"
    wait_state(http, "ep", "running")
    forced = emulator.force_state(NS, "ep", "failed", "OOM killed")
    assert (forced["status"]["state"], forced["status"]["message"]) == ("failed", "OOM killed")
    emulator.remove(NS, "ep")
    assert http.get(f"/v2/endpoint/{NS}/ep").status_code == 404
