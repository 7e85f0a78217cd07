"""The `/_emulator/*` control API, for tests and scripts (moto keeps its own in `moto_api`): settings and
faults, the call log, reset, and out-of-band edits as the web UI would make them. Never subject to injected
faults and never in the call log (the middleware skips these paths). `emulator.process.EmulatorProcess`
is its client.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.errors import BadRequest
from emulator.middleware import CallLog
from emulator.store import Config, Faults, Store
from emulator.wire import json_body


class Control:
    """The control route handlers. `reset` restores the whole emulator (endpoints, settings, faults, calls)."""

    def __init__(self, store: Store, config: Config, faults: Faults, calls: CallLog, reset: Callable[[], None]):
        self._store, self._config, self._faults, self._calls, self._reset = store, config, faults, calls, reset

    async def faults(self, request: Request) -> Response:
        """`GET|POST /_emulator/faults`: read, or merge settings into, the fault injection."""
        if request.method == "POST":
            _apply(self._faults, await json_body(request))
        return JSONResponse(self._faults.to_dict())

    async def config(self, request: Request) -> Response:
        """`GET|POST /_emulator/config`: read, or merge settings into, the timings and the reply text."""
        if request.method == "POST":
            _apply(self._config, await json_body(request))
        return JSONResponse(dataclasses.asdict(self._config))

    async def calls(self, request: Request) -> Response:
        """`GET|DELETE /_emulator/calls`: the call log (cleared first on DELETE)."""
        if request.method == "DELETE":
            self._calls.clear()
        return JSONResponse({"calls": self._calls.entries(), "limit": self._calls.limit})

    async def reset(self, request: Request) -> Response:
        self._reset()
        return JSONResponse({})

    async def endpoint(self, request: Request) -> Response:
        """`PATCH` edits like a PUT by the web UI; `DELETE` removes at once (no delete_seconds)."""
        p = request.path_params
        if request.method == "DELETE":
            self._store.remove(p["namespace"], p["name"])
            return JSONResponse({})
        return JSONResponse(self._store.edit(p["namespace"], p["name"], await json_body(request)))

    async def state(self, request: Request) -> Response:
        """`POST .../state` with `{"state", "message"?}`: force a state now."""
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            raise BadRequest('body must be {"state": "<state>", "message": "<optional>"}')
        message = body.get("message")
        p = request.path_params
        return JSONResponse(self._store.force_state(p["namespace"], p["name"], body["state"],
                                                    message if isinstance(message, str) else None))


_NUMBERS = {"startup_seconds", "update_seconds", "delete_seconds", "time_scale", "retry_after_seconds",
            "latency_seconds", "body_timeout_seconds"}
_RATES = {"error_rate", "error_after_rate", "rate_limit_rate", "drop_rate"}
_OPTIONAL_STRINGS = {"reply", "fail_start_pattern", "fail_update_pattern"}


def _valid_setting(key: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if key in _NUMBERS:
        return number and value >= 0
    if key in _RATES:
        return number and 0 <= value <= 1
    if key in _OPTIONAL_STRINGS:
        return value is None or isinstance(value, str)
    if key == "quota":
        return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)
    if key == "error_statuses":
        return isinstance(value, list) and bool(value) and all(
            isinstance(x, int) and not isinstance(x, bool) and 400 <= x <= 599 for x in value)
    return False


def rates_error(faults: Faults | dict) -> str | None:
    """The fault rates are shares of one draw per call, so they may add up to 1 at most."""
    get = faults.get if isinstance(faults, dict) else lambda k: getattr(faults, k)
    names = ("drop_rate", "rate_limit_rate", "error_rate", "error_after_rate")
    total = sum(get(n) for n in names)
    if total <= 1 + 1e-9:
        return None
    parts = " + ".join(f"{n} {get(n)}" for n in names)
    return f"the fault rates add up to {round(total, 6)} ({parts}); their sum must be at most 1"


def _apply(target: Config | Faults, body: Any) -> None:
    """Merge a settings body into a Config/Faults dataclass, checking every value first (all or nothing)."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    known = {f.name for f in dataclasses.fields(target)}
    unknown = sorted(set(body) - known)
    if unknown:
        raise BadRequest(f"unknown settings {unknown}; known: {sorted(known)}")
    for key, value in body.items():
        if not _valid_setting(key, value):
            raise BadRequest(f"invalid value for {key}: {value!r}")
        if key.endswith("_pattern") and value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise BadRequest(f"invalid regular expression for {key}: {e}") from None
    if isinstance(target, Faults):
        error = rates_error({**dataclasses.asdict(target), **body})
        if error:
            raise BadRequest(error)
    for key, value in body.items():
        setattr(target, key, value)
