"""The Starlette application: the management API under `/v2`, `/api/whoami-v2`, the inference surface under
`/e/...` and the control routes under `/_emulator`. Route handlers only parse, call the store and serialize;
`EmulatorMiddleware` adds request ids, the call log, auth for the management API and fault injection.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import random
import re
import threading
import uuid
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import catalog
from emulator.errors import ApiError, BadRequest, Forbidden, JsonSyntaxError, Unauthorized
from emulator.store import Config, Faults, Store
from emulator.tgi import Tgi

NAMESPACED = re.compile(r"^/v2/(?:endpoint|provider)/([^/]+)")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"expected value ({name} is not JSON)")


def parse_json(raw: bytes) -> Any:
    """Parse a request body like serde_json, raising the service's plain-text 400."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise JsonSyntaxError(f"invalid unicode code point at byte {e.start}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        reason = "EOF while parsing a value" if not text.strip() else e.msg.replace("Expecting", "expected")
        raise JsonSyntaxError(f"{reason} at line {e.lineno} column {e.colno}") from None
    except (ValueError, RecursionError) as e:
        raise JsonSyntaxError(str(e)) from None


class Emulator:
    """Everything one emulator process holds: tokens, settings, the store and the call log."""

    def __init__(self, tokens: dict[str, tuple[str, list[str]]] | None = None, config: Config | None = None,
                 faults: Faults | None = None, state_file: str | None = None, seed: int | None = None):
        self.tokens = tokens or {"hf_local": ("local", [])}
        self.initial_config = copy.deepcopy(config or Config())
        self.initial_faults = copy.deepcopy(faults or Faults())
        self.config = copy.deepcopy(self.initial_config)
        self.faults = copy.deepcopy(self.initial_faults)
        self.store = Store(self.config, self.faults, state_file)
        self.seed = seed
        self.rng = random.Random(seed)
        self.calls: list[dict] = []
        self._calls_lock = threading.Lock()

    def identity(self, authorization: str | None) -> dict | None:
        """The token's identity: `{"token", "user", "orgs", "namespaces"}`, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            return None
        user, orgs = self.tokens[token.strip()]
        return {"token": token.strip(), "user": user, "orgs": orgs, "namespaces": {user, *orgs}}

    def log_call(self, method: str, path: str, status: int) -> None:
        with self._calls_lock:
            self.calls.append({"method": method, "path": path, "status": status})

    def reset(self) -> None:
        """Clear endpoints, faults and calls; restore the command-line config."""
        for live, initial in ((self.config, self.initial_config), (self.faults, self.initial_faults)):
            for f in dataclasses.fields(initial):
                setattr(live, f.name, copy.deepcopy(getattr(initial, f.name)))
        self.rng = random.Random(self.seed)
        self.store.reset()
        with self._calls_lock:
            self.calls.clear()

    @staticmethod
    async def json_body(request: Request) -> Any:
        return parse_json(await request.body())

    # ------------------------------------------------------------------------------------- the app
    def build(self) -> ASGIApp:
        tgi = Tgi(self)
        routes = [
            Route("/v2/endpoint/{namespace}", self.list_endpoints, methods=["GET"]),
            Route("/v2/endpoint/{namespace}", self.create_endpoint, methods=["POST"]),
            Route("/v2/endpoint/{namespace}/{name}", self.get_endpoint, methods=["GET"]),
            Route("/v2/endpoint/{namespace}/{name}", self.update_endpoint, methods=["PUT"]),
            Route("/v2/endpoint/{namespace}/{name}", self.delete_endpoint, methods=["DELETE"]),
            Route("/v2/endpoint/{namespace}/{name}/{action:str}", self.action, methods=["POST"]),
            Route("/v2/provider", self.providers, methods=["GET"]),
            Route("/v2/provider/{namespace}", self.providers, methods=["GET"]),
            Route("/api/whoami-v2", self.whoami, methods=["GET"]),
            Route("/e/{namespace}/{name}", tgi.handle, methods=["GET", "POST"]),
            Route("/e/{namespace}/{name}/{path:path}", tgi.handle, methods=["GET", "POST"]),
            Route("/_emulator/faults", self.control_faults, methods=["GET", "POST"]),
            Route("/_emulator/config", self.control_config, methods=["GET", "POST"]),
            Route("/_emulator/calls", self.control_calls, methods=["GET", "DELETE"]),
            Route("/_emulator/reset", self.control_reset, methods=["POST"]),
            Route("/_emulator/endpoints/{namespace}/{name}", self.control_endpoint, methods=["PATCH", "DELETE"]),
            Route("/_emulator/endpoints/{namespace}/{name}/state", self.control_state, methods=["POST"]),
        ]
        app = Starlette(routes=routes, exception_handlers={
            ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error})
        return EmulatorMiddleware(app, self)

    # ------------------------------------------------------------------------------ management API
    async def list_endpoints(self, request: Request) -> Response:
        return JSONResponse({"items": self.store.list(request.path_params["namespace"])})

    async def create_endpoint(self, request: Request) -> Response:
        body = await self.json_body(request)
        ep = self.store.create(request.path_params["namespace"], body, _account(request))
        return JSONResponse(ep, status_code=202)

    async def get_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.store.get(request.path_params["namespace"], request.path_params["name"]))

    async def update_endpoint(self, request: Request) -> Response:
        body = await self.json_body(request)
        p = request.path_params
        return JSONResponse(self.store.update(p["namespace"], p["name"], body, _account(request)))

    async def delete_endpoint(self, request: Request) -> Response:
        self.store.delete(request.path_params["namespace"], request.path_params["name"])
        return JSONResponse({})

    async def action(self, request: Request) -> Response:
        p = request.path_params
        op = {"pause": self.store.pause, "resume": self.store.resume,
              "scale-to-zero": self.store.scale_to_zero}.get(p["action"])
        if op is None:
            raise HTTPException(404, f"No route POST {request.url.path}")
        return JSONResponse(op(p["namespace"], p["name"]))

    async def providers(self, request: Request) -> Response:
        """With a namespace: usedAccelerators is that namespace's usage; without: 0 (no identity)."""
        ns = request.path_params.get("namespace")
        usage = self.store.usage(ns) if ns else {}
        return JSONResponse(catalog.provider_tree(usage, self.config.quotas()))

    async def whoami(self, request: Request) -> Response:
        ident = request.state.identity
        return JSONResponse({
            "type": "user", "id": uuid.uuid5(uuid.NAMESPACE_DNS, ident["user"]).hex[:24], "name": ident["user"],
            "fullname": ident["user"], "email": None, "emailVerified": False, "isPro": False,
            "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "admin"} for o in ident["orgs"]],
            "auth": {"type": "access_token", "accessToken": {"displayName": "emulator", "role": "write"}},
        })

    # ------------------------------------------------------------------------------ control routes
    async def control_faults(self, request: Request) -> Response:
        if request.method == "POST":
            _apply(self.faults, await self.json_body(request))
        return JSONResponse(self.faults.to_dict())

    async def control_config(self, request: Request) -> Response:
        if request.method == "POST":
            _apply(self.config, await self.json_body(request))
        return JSONResponse(dataclasses.asdict(self.config))

    async def control_calls(self, request: Request) -> Response:
        if request.method == "DELETE":
            with self._calls_lock:
                self.calls.clear()
        with self._calls_lock:
            return JSONResponse({"calls": list(self.calls)})

    async def control_reset(self, request: Request) -> Response:
        self.reset()
        return JSONResponse({})

    async def control_endpoint(self, request: Request) -> Response:
        p = request.path_params
        if request.method == "DELETE":
            self.store.remove(p["namespace"], p["name"])
            return JSONResponse({})
        return JSONResponse(self.store.edit(p["namespace"], p["name"], await self.json_body(request)))

    async def control_state(self, request: Request) -> Response:
        body = await self.json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("state"), str):
            raise BadRequest('body must be {"state": "<state>", "message": "<optional>"}')
        message = body.get("message")
        p = request.path_params
        return JSONResponse(self.store.force_state(p["namespace"], p["name"], body["state"],
                                                   message if isinstance(message, str) else None))


def _account(request: Request) -> dict:
    user = request.state.identity["user"]
    return {"id": uuid.uuid5(uuid.NAMESPACE_DNS, user).hex[:24], "name": user}


_NUMBERS = {"startup_seconds", "update_seconds", "delete_seconds", "time_scale", "retry_after_seconds",
            "latency_seconds"}
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


def _apply(target: Any, body: Any) -> None:
    """Merge a settings body into a Config/Faults dataclass, checking every value first."""
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
    for key, value in body.items():
        setattr(target, key, value)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    body, content_type = exc.body()
    return Response(body, status_code=exc.status, media_type=content_type, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    """An emulator bug: a loud JSON 500 (the traceback goes to stderr)."""
    return JSONResponse({"error": f"emulator internal error: {type(exc).__name__}: {exc}"}, status_code=500)


class _Drop(Exception):
    """Abort the connection without a response."""


class EmulatorMiddleware:
    """Request ids, the call log, management-API auth and fault injection, as one pure ASGI middleware."""

    def __init__(self, app: ASGIApp, emu: Emulator):
        self.app, self.emu = app, emu

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        control = path.startswith("/_emulator")
        request_id = uuid.uuid4().hex
        status = {"code": 0, "started": False}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self._dispatch(scope, receive, send_wrapper, path, method)
        except _Drop:
            status["code"] = 0
            await _abort(send)
        except Exception as exc:  # an emulator bug: answer 500 loudly rather than hang the client
            if status["started"]:
                raise
            await _respond(send_wrapper, ApiError(f"emulator internal error: {type(exc).__name__}: {exc}"))
        finally:
            if not control:
                self.emu.log_call(method, path, status["code"])

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str, method: str) -> None:
        faults, rng = self.emu.faults, self.emu.rng
        managed = path.startswith("/v2/")
        if managed:
            if faults.latency_seconds > 0:
                await asyncio.sleep(faults.latency_seconds)
            if rng.random() < faults.drop_rate:
                raise _Drop
            if rng.random() < faults.rate_limit_rate:
                retry = faults.retry_after_seconds
                retry_text = str(int(retry)) if float(retry).is_integer() else str(retry)
                await _respond(send, ApiError("Too many requests, retry later", 429, {"Retry-After": retry_text}))
                return
            if rng.random() < faults.error_rate:
                code = rng.choice(faults.error_statuses or [500])
                await _respond(send, ApiError(f"Injected fault: HTTP {code}", code))
                return
        identity = self.emu.identity(_header(scope, b"authorization"))
        scope.setdefault("state", {})["identity"] = identity
        match = NAMESPACED.match(path)
        if match or path == "/api/whoami-v2":
            if identity is None:
                msg = ("A valid user or organization token, sent as a Bearer, is required"
                       if path != "/api/whoami-v2" else "Invalid credentials in Authorization header")
                await _respond(send, Unauthorized(msg))
                return
            if match and match.group(1) not in identity["namespaces"]:
                await _respond(send, Forbidden(
                    f"User '{identity['user']}' has no access to namespace '{match.group(1)}'"))
                return
        if managed and method != "GET" and rng.random() < faults.error_after_rate:
            # The store changes, but the answer is lost: the client sees a 502.
            async def swallow(message: Message) -> None:
                return None
            await self.app(scope, receive, swallow)
            await _respond(send, ApiError("Injected fault after the change was applied: HTTP 502", 502))
            return
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k.lower() == name:
            return v.decode("latin-1")
    return None


async def _respond(send: Send, error: ApiError) -> None:
    body, content_type = error.body()
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _abort(send: Send) -> None:
    """Close the connection without answering. Under uvicorn, `send` is bound to the request cycle, which
    holds the transport; anywhere else (in-process transports) raise, which the client sees as an error."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionAbortedError("emulator dropped the connection (injected fault)")
    transport.abort()
    cycle.disconnected = True
    await asyncio.sleep(0)
