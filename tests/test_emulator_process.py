"""The emulator as a process: the CLI contract, clean shutdown, persistence, concurrency."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from emulator.process import EmulatorProcess
from tests.conftest import EMULATOR_FAST_ARGS
from tests.test_emulator_api import body

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_cli_prints_address_and_stops_cleanly(sig):
    """One listening line, then the default-token line; SIGTERM/SIGINT exit 0."""
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "--port", "0"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert first.startswith("emulator listening on http://127.0.0.1:")
        assert "hf_local" in second and "local" in second
        base = first.split()[-1]
        assert httpx2.get(f"{base}/v2/provider", timeout=5).status_code == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()
        proc.wait()


def test_bad_arguments_fail_fast():
    with pytest.raises(RuntimeError, match="expected TOKEN=USER"):
        EmulatorProcess(["--token", "no-user"])


def _views(emu):
    """Every endpoint as the API shows it, with the process-specific host:port replaced."""
    return json.loads(json.dumps(emu.endpoints("local")).replace(emu.base_url, "BASE"))


def test_restart_with_state_keeps_every_endpoint(tmp_path):
    """Stop and start again on the same --state file: every endpoint is identical, timestamps included."""
    state = tmp_path / "state.json"
    args = [*EMULATOR_FAST_ARGS, "--state", str(state)]
    with EmulatorProcess(args) as emu:
        api = httpx2.Client(base_url=emu.api_url, headers={"Authorization": "Bearer hf_local"}, timeout=10)
        api.post("/endpoint/local", json=body(name="running", model__secrets={"K": "v"}, tags=["a"]))
        api.post("/endpoint/local", json=body(name="paused"))
        api.post("/endpoint/local", json=body(name="scaled", compute__scaling__minReplica=0))
        api.post("/endpoint/local", json=body(name="failed"))
        time.sleep(0.35)
        api.post("/endpoint/local/paused/pause")
        api.post("/endpoint/local/scaled/scale-to-zero")
        emu.force_state("local", "failed", "failed", "out of memory")
        before = _views(emu)
        assert emu.stop() == 0
    assert json.loads(state.read_text())["version"] == 1
    with EmulatorProcess(args) as emu:
        after = _views(emu)
    assert {e["name"]: e["status"]["state"] for e in after} == {
        "failed": "failed", "paused": "paused", "running": "running", "scaled": "scaledToZero"}
    assert after == before


def test_command_line_settings(tmp_path):
    """Flags set the initial faults and config (what /_emulator/reset restores)."""
    args = ["--error-rate", "0.5", "--rate-limit-rate", "0.25", "--retry-after", "2", "--latency", "0.01",
            "--drop-rate", "0.125", "--fail-start", "bad", "--fail-update", "worse", "--reply", "hi there",
            "--quota", "3", "--startup-seconds", "1", "--update-seconds", "2", "--delete-seconds", "3",
            "--time-scale", "4", "--body-timeout", "5", "--seed", "7"]
    with EmulatorProcess(args) as emu:
        emu.faults(error_rate=0)
        emu.reset()
        assert emu.request("GET", "/_emulator/faults") == {
            "error_rate": 0.5, "error_statuses": [500, 502, 503], "error_after_rate": 0.0, "rate_limit_rate": 0.25,
            "retry_after_seconds": 2.0, "latency_seconds": 0.01, "drop_rate": 0.125, "fail_start_pattern": "bad",
            "fail_update_pattern": "worse"}
        assert emu.request("GET", "/_emulator/config") == {
            "startup_seconds": 1.0, "update_seconds": 2.0, "delete_seconds": 3.0, "time_scale": 4.0,
            "reply": "hi there", "quota": 3, "body_timeout_seconds": 5.0}


def test_sixteen_threads_leave_a_consistent_store(tmp_path):
    """16 threads create, update, list and delete at once; the store and its state file agree afterwards."""
    state = tmp_path / "state.json"
    args = [*EMULATOR_FAST_ARGS, "--state", str(state), "--quota", "1000"]

    def worker(i):
        with httpx2.Client(base_url=emu.api_url, headers={"Authorization": "Bearer hf_local"}, timeout=20) as c:
            statuses = [c.post("/endpoint/local", json=body(name=f"ep-{i}")).status_code]
            statuses.append(c.put(f"/endpoint/local/ep-{i}", json={"tags": [f"t{i}"]}).status_code)
            statuses.append(c.get("/endpoint/local").status_code)
            statuses.append(c.post("/endpoint/local", json=body(name=f"ep-{i}")).status_code)
            if i % 2 == 0:
                statuses.append(c.delete(f"/endpoint/local/ep-{i}").status_code)
            return statuses

    with EmulatorProcess(args) as emu:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(worker, range(16)))
        assert all(r[:4] == [202, 200, 200, 409] for r in results)
        assert all(r[4:] == [200] for r in results[::2])
        assert len(emu.calls()) == sum(len(r) for r in results)
        time.sleep(0.25)
        live = {e["name"]: e["tags"] for e in emu.endpoints("local")}
        assert live == {f"ep-{i}": [f"t{i}"] for i in range(1, 16, 2)}
        saved = json.loads(state.read_text())["endpoints"]
        assert {d["config"]["name"] for d in saved if d["deletedAt"] is None} == set(live)
    with EmulatorProcess(args) as emu:
        assert {e["name"] for e in emu.endpoints("local")} == set(live)
