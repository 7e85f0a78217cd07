"""`GET /v2/endpoint/{ns}/{name}/logs` (contract R11, issue 10): a TGI-like container log of the current replica,
the failure reason when a start or an update fails, `tail`, auth, and never a secret."""

import re

import httpx2
import pytest

from tests.test_emulator_api import NS, body, create, wait_state

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z (?= INFO|ERROR)")
READY = ["INFO text_generation_launcher: Starting Webserver",
         "INFO text_generation_router: router/src/main.rs:317: Warming up model",
         "INFO text_generation_router: router/src/main.rs:354: Setting max batch total tokens to 16000",
         "INFO text_generation_router: router/src/main.rs:355: Connected"]
FAILED = ["ERROR text_generation_launcher: Shard 0 failed to start",
          "INFO text_generation_launcher: Shutting down shards", "Error: ShardCannotStart"]


def log(http, name="ep", **params):
    r = http.get(f"/v2/endpoint/{NS}/{name}/logs", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    return r.text


def messages(text):
    """The lines without their timestamps (tracebacks have none) and with the shard start-up time as N."""
    return [re.sub(r"ready in [\d.]+s", "ready in Ns", TS.sub("", line).strip()) for line in text.splitlines()]


ENV = {"MAX_INPUT_LENGTH": "2000", "MAX_TOTAL_TOKENS": "2048", "QUANTIZE": "bitsandbytes", "MODEL_ID": "/repository"}


def test_running_log_reads_like_tgi(http):
    create(http, body(model__env=ENV, model__revision="abc123"))
    text = log(http)
    assert text == ""  # pending: no replica yet
    wait_state(http, "ep", "running")
    text = log(http)
    assert all(TS.match(line) for line in text.splitlines())
    assert messages(text) == [
        'INFO text_generation_launcher: Args { model_id: "/repository", revision: Some("abc123"), num_shard: Some(1), '
        "quantize: Some(Bitsandbytes), max_input_tokens: Some(2000), max_total_tokens: Some(2048), "
        'hostname: "0.0.0.0", port: 80 }',
        "INFO download: text_generation_launcher: Starting check and download process for org/model",
        "INFO download: text_generation_launcher: Successfully downloaded weights for org/model",
        "INFO shard-manager: text_generation_launcher: Starting shard rank=0",
        "INFO shard-manager: text_generation_launcher: Shard ready in Ns rank=0",
        *READY,
    ]


def test_failed_start_shows_the_reason(http, emulator):
    """--fail-start: the log ends with TGI's out-of-memory error, one shard per GPU of the instance."""
    emulator.faults(fail_start_pattern="jais")
    create(http, body(model__repository="derek-thomas/jais-13b-chat-hf", compute__instanceType="nvidia-a10g",
                      compute__instanceSize="x4"))
    wait_state(http, "ep", "failed")
    lines = messages(log(http))
    assert [m for m in lines if "Starting shard" in m] == [
        f"INFO shard-manager: text_generation_launcher: Starting shard rank={r}" for r in range(4)]
    assert lines[-len(FAILED):] == FAILED
    [oom] = [m for m in lines if "OutOfMemoryError" in m]
    assert oom.startswith("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB. GPU 0 has a "
                          "total capacity of 22.08 GiB")
    assert "ERROR text_generation_launcher: Error when initializing model" in lines


def test_failed_update_shows_the_reason(http, emulator):
    emulator.faults(fail_update_pattern="v2$")
    create(http)
    wait_state(http, "ep", "running")
    http.put(f"/v2/endpoint/{NS}/ep", json={"model": {"repository": "org/model-v2"}})
    wait_state(http, "ep", "updateFailed")
    lines = messages(log(http))
    assert lines[1] == "INFO download: text_generation_launcher: Starting check and download process for org/model-v2"
    assert lines[-len(FAILED):] == FAILED


def test_cpu_failure_is_a_killed_shard(http, emulator):
    emulator.faults(fail_start_pattern="model")
    create(http, body(compute__accelerator="cpu", compute__instanceType="intel-spr", compute__instanceSize="x2"))
    wait_state(http, "ep", "failed")
    lines = messages(log(http))
    assert lines[-4:] == ["ERROR shard-manager: text_generation_launcher: Shard process was signaled to shutdown "
                          "with signal 9 rank=0", *FAILED]


@pytest.mark.parametrize(
    ("tail", "count"), [("2", 2), ("0", 0), ("1000", 9)], ids=["two", "zero", "more-than-there-are"])
def test_tail(http, emulator, tail, count):
    create(http)
    emulator.force_state(NS, "ep", "running")
    full = log(http).splitlines()
    assert len(full) == 9
    assert log(http, tail=tail).splitlines() == (full[-count:] if count else [])


def test_tail_must_be_a_number(http):
    create(http)
    r = http.get(f"/v2/endpoint/{NS}/ep/logs", params={"tail": "ten"})
    assert (r.status_code, r.text) == (400, "Failed to deserialize query string: tail: invalid digit found in string")


def test_secrets_never_appear(http, emulator):
    """Secret values are not written, and are masked where a value the log shows happens to be one."""
    secrets = {"API_KEY": "sk-live-123456", "SAME_AS_REPO": "org/model"}
    create(http, body(model__secrets=secrets, model__env={"MODEL_ID": "/repository"}))
    emulator.force_state(NS, "ep", "running")
    text = log(http)
    assert "sk-live-123456" not in text and "org/model" not in text
    assert "Starting check and download process for ***" in text


@pytest.mark.parametrize(
    ("name", "token", "ns", "status"),
    [("ep", None, NS, 401), ("ep", "hf_wrong", NS, 401), ("ep", "hf_local", "someone-else", 401),
     ("missing", "hf_local", NS, 404)],
    ids=["no-token", "unknown-token", "other-namespace", "missing-endpoint"],
)
def test_logs_auth_and_404(http, emulator, name, token, ns, status):
    create(http)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx2.get(f"{emulator.base_url}/v2/endpoint/{ns}/{name}/logs", headers=headers)
    assert r.status_code == status


def test_paused_has_no_replica(http, emulator):
    create(http)
    emulator.force_state(NS, "ep", "running")
    assert http.post(f"/v2/endpoint/{NS}/ep/pause").status_code == 200
    assert log(http) == ""
