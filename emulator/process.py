"""`EmulatorProcess`: run `python -m emulator` as a subprocess and drive its control routes.

Standard library only (urllib), so any process, test or script can use it::

    with EmulatorProcess(["--startup-seconds", "0.3"]) as emu:
        emu.faults(error_rate=0.5)
        ...  # point clients at emu.api_url with emu.token
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

CONTROL_TOKEN_HEADER = "X-Emulator-Control-Token"  # emulator.middleware's; this module stays standard-library only
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PREFIX = "emulator listening on "


def _option(args: list[str], name: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` (the last one wins, as with argparse)."""
    value = None
    for i, a in enumerate(args):
        if a.startswith(f"{name}="):
            value = a.split("=", 1)[1]
        elif a == name and i + 1 < len(args):
            value = args[i + 1]
    return value


class EmulatorProcess:
    """A running emulator. Constructing it starts the process; `stop()` (or leaving the `with`) ends it."""

    def __init__(self, args: Sequence[str] = (), env: Mapping[str, str] | None = None, timeout: float = 20.0):
        self.args = list(args)
        specs = [a.removeprefix("--token=") for i, a in enumerate(self.args)
                 if a.startswith("--token=") or (i and self.args[i - 1] == "--token")]
        self.token = specs[0].split("=", 1)[0] if specs else "hf_local"
        self.control_token = _option(self.args, "--control-token")
        run_env = dict(os.environ if env is None else env)
        run_env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, run_env.get("PYTHONPATH")) if p)
        run_env.setdefault("PYTHONUNBUFFERED", "1")
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env, cwd=_ROOT,
        )
        self._stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc.stdout, self._lines.put, True), daemon=True).start()
        threading.Thread(target=self._pump, args=(self._proc.stderr, self._stderr.append), daemon=True).start()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if not line or not line.startswith(_PREFIX):
            self.stop()
            raise RuntimeError(f"emulator did not start (got {line!r}); stderr:\n{''.join(self._stderr)}")
        self.base_url = line[len(_PREFIX):].strip()
        self.api_url = self.base_url + "/v2"

    @staticmethod
    def _pump(stream: Any, sink: Any, eof_marker: bool = False) -> None:
        for line in stream:
            sink(line)
        if eof_marker:
            sink(None)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    # ------------------------------------------------------------------------------------ HTTP helpers
    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        """Call the emulator; returns the decoded JSON, raises `urllib.error.HTTPError` on an error status."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if self.control_token is not None and path.startswith("/_emulator"):
            req.add_header(CONTROL_TOKEN_HEADER, self.control_token)
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def faults(self, **settings: Any) -> dict:
        return self.request("POST", "/_emulator/faults", settings)

    def configure(self, **settings: Any) -> dict:
        return self.request("POST", "/_emulator/config", settings)

    def calls(self) -> list[dict]:
        return self.request("GET", "/_emulator/calls")["calls"]

    def clear_calls(self) -> None:
        self.request("DELETE", "/_emulator/calls")

    def reset(self) -> None:
        self.request("POST", "/_emulator/reset")

    def edit(self, namespace: str, name: str, body: dict) -> dict:
        return self.request("PATCH", f"/_emulator/endpoints/{namespace}/{name}", body)

    def remove(self, namespace: str, name: str) -> None:
        self.request("DELETE", f"/_emulator/endpoints/{namespace}/{name}")

    def force_state(self, namespace: str, name: str, state: str, message: str | None = None) -> dict:
        body = {"state": state} if message is None else {"state": state, "message": message}
        return self.request("POST", f"/_emulator/endpoints/{namespace}/{name}/state", body)

    def endpoints(self, namespace: str) -> list[dict]:
        return self.request("GET", f"/v2/endpoint/{namespace}", token=self.token)["items"]

    # ------------------------------------------------------------------------------------ lifecycle
    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, kill on timeout; returns the exit status."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        return self._proc.returncode

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
