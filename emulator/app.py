"""The Starlette application: the route table of the management API under `/v2`, `/api/whoami-v2`, the
inference surface under `/e/...` (`proxy.py`, with the containers of `engines/`) and the control routes under
`/_emulator` (`control.py`), wrapped in `middleware.EmulatorMiddleware`. `Emulator` holds one process's state and
wires the pieces together. Management handlers only parse, call the store and serialize.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from emulator import catalog, hub
from emulator.control import Control
from emulator.errors import ApiError, NotFound, QueryError
from emulator.hub import HubModel
from emulator.middleware import CallLog, EmulatorMiddleware
from emulator.proxy import Proxy
from emulator.store import Config, Faults, Store
from emulator.wire import json_body


class Emulator:
    """Everything one emulator process holds: tokens, settings, the store and the call log."""

    def __init__(self, tokens: dict[str, tuple[str, list[str]]] | None = None, config: Config | None = None,
                 faults: Faults | None = None, state_file: str | None = None, seed: int | None = None,
                 control_token: str | None = None, hub_models: dict[str, HubModel] | None = None):
        self.tokens = tokens or {"hf_local": ("local", [])}
        self.initial_config = copy.deepcopy(config or Config())
        self.initial_faults = copy.deepcopy(faults or Faults())
        self.config = copy.deepcopy(self.initial_config)
        self.faults = copy.deepcopy(self.initial_faults)
        self.store = Store(self.config, self.faults, state_file)
        self.seed = seed
        self.rng = random.Random(seed)
        self.calls = CallLog()
        self.control_token = control_token
        self.hub_models = {**hub.BUILTIN, **(hub_models or {})}

    def identity(self, authorization: str | None) -> dict | None:
        """The token's identity: `{"token", "user", "orgs", "namespaces"}`, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in self.tokens:
            return None
        user, orgs = self.tokens[token.strip()]
        return {"token": token.strip(), "user": user, "orgs": orgs, "namespaces": {user, *orgs}}

    def reset(self) -> None:
        """Clear endpoints, faults and calls; restore the command-line config. Mutates in place: the store,
        the middleware, the control routes and the TGI stub hold these very objects."""
        for live, initial in ((self.config, self.initial_config), (self.faults, self.initial_faults)):
            for f in dataclasses.fields(initial):
                setattr(live, f.name, copy.deepcopy(getattr(initial, f.name)))
        self.rng.seed(self.seed)
        self.store.reset()
        self.calls.clear()

    def build(self) -> ASGIApp:
        """The ASGI app: the route table inside the middleware."""
        proxy = Proxy(self.store, self.config, self.identity, self._model_config)
        control = Control(self.store, self.config, self.faults, self.calls, self.reset)
        hub_routes = hub.Hub(self.hub_models, self.identity)
        routes = [
            Route("/v2/endpoint/{namespace}", self.list_endpoints, methods=["GET"]),
            Route("/v2/endpoint/{namespace}", self.create_endpoint, methods=["POST"]),
            Route("/v2/endpoint/{namespace}/{name}", self.get_endpoint, methods=["GET"]),
            Route("/v2/endpoint/{namespace}/{name}", self.update_endpoint, methods=["PUT"]),
            Route("/v2/endpoint/{namespace}/{name}", self.delete_endpoint, methods=["DELETE"]),
            Route("/v2/endpoint/{namespace}/{name}/logs", self.endpoint_logs, methods=["GET"]),
            Route("/v2/endpoint/{namespace}/{name}/{action:str}", self.action, methods=["POST"]),
            Route("/v2/endpoint/{namespace}/{name}/{rest:path}", self.no_route, methods=_ALL_METHODS),
            Route("/v2/provider", self.providers, methods=["GET"]),
            Route("/v2/provider/{namespace}", self.providers, methods=["GET"]),
            Route("/api/whoami-v2", self.whoami, methods=["GET"]),
            Route("/e/{namespace}/{name}", proxy.handle, methods=["GET", "POST"]),
            Route("/e/{namespace}/{name}/{path:path}", proxy.handle, methods=["GET", "POST"]),
            Route("/_emulator/faults", control.faults, methods=["GET", "POST"]),
            Route("/_emulator/config", control.config, methods=["GET", "POST"]),
            Route("/_emulator/calls", control.calls, methods=["GET", "DELETE"]),
            Route("/_emulator/reset", control.reset, methods=["POST"]),
            Route("/_emulator/endpoints/{namespace}/{name}", control.endpoint, methods=["PATCH", "DELETE"]),
            Route("/_emulator/endpoints/{namespace}/{name}/state", control.state, methods=["POST"]),
            Route("/api/models/{rest:path}", hub_routes.model_info, methods=["GET"]),
            Route("/{repo:path}/resolve/{revision}/{filename:path}", hub_routes.resolve, methods=["GET", "HEAD"]),
        ]
        app = Starlette(routes=routes, exception_handlers={
            ApiError: _api_error, HTTPException: _http_error, Exception: _internal_error})
        return EmulatorMiddleware(app, self.faults, self.rng, self.identity, self.calls, lambda: self.store.version,
                                  lambda: self.config.body_timeout_seconds, self.control_token)

    def _model_config(self, repository: str) -> dict | None:
        """The config.json the emulator's Hub holds for a repository (the containers size their limits by it)."""
        model = self.hub_models.get(repository)
        return model.serving_config() if model is not None else None

    # ------------------------------------------------------------------------------ management API
    async def list_endpoints(self, request: Request) -> Response:
        return JSONResponse({"items": self.store.list(request.path_params["namespace"])})

    async def create_endpoint(self, request: Request) -> Response:
        body = await json_body(request)
        ep = self.store.create(request.path_params["namespace"], body, _account(request))
        return JSONResponse(ep, status_code=202)

    async def get_endpoint(self, request: Request) -> Response:
        return JSONResponse(self.store.get(request.path_params["namespace"], request.path_params["name"]))

    async def update_endpoint(self, request: Request) -> Response:
        body = await json_body(request)
        p = request.path_params
        return JSONResponse(self.store.update(p["namespace"], p["name"], body, _account(request)))

    async def delete_endpoint(self, request: Request) -> Response:
        self.store.delete(request.path_params["namespace"], request.path_params["name"])
        return JSONResponse({})

    async def action(self, request: Request) -> Response:
        p = request.path_params
        op = dict(zip(_ACTIONS, (self.store.pause, self.store.resume, self.store.scale_to_zero),
                      strict=True)).get(p["action"])
        if op is None:
            raise NotFound(f"No route POST {request.url.path}")
        return JSONResponse(op(p["namespace"], p["name"]))

    async def no_route(self, request: Request) -> Response:
        """Routes the API has but the emulator does not serve (R12-R16: metrics, replicas, SSE) answer 404, not
        405; only a known action under another method is a 405."""
        if request.path_params["rest"] in _ACTIONS:
            raise ApiError(f"Method {request.method} not allowed on {request.url.path}", 405, {"Allow": "POST"})
        raise NotFound(f"No route {request.method} {request.url.path}")

    async def endpoint_logs(self, request: Request) -> Response:
        """R11: the current replica's log as text/plain; `tail=N` keeps the last N lines."""
        tail = request.query_params.get("tail")
        if tail is not None and not tail.isdigit():
            raise QueryError("tail: invalid digit found in string")
        p = request.path_params
        lines = self.store.logs(p["namespace"], p["name"])
        if tail is not None:
            lines = lines[len(lines) - min(int(tail), len(lines)):]
        return PlainTextResponse("".join(f"{line}\n" for line in lines))

    async def providers(self, request: Request) -> Response:
        """With a namespace: usedAccelerators is that namespace's usage; without: 0 (no identity)."""
        ns = request.path_params.get("namespace")
        usage = self.store.usage(ns) if ns else {}
        return JSONResponse(catalog.provider_tree(usage, self.config.quotas()))

    async def whoami(self, request: Request) -> Response:
        account = _account(request)
        return JSONResponse({
            "type": "user", "id": account["id"], "name": account["name"], "fullname": account["name"],
            "email": None, "emailVerified": False, "isPro": False,
            "orgs": [{"type": "org", "name": o, "fullname": o, "roleInOrg": "admin"}
                     for o in request.state.identity["orgs"]],
            "auth": {"type": "access_token", "accessToken": {"displayName": "emulator", "role": "write"}},
        })


_ACTIONS = ("pause", "resume", "scale-to-zero")
_ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def _account(request: Request) -> dict:
    """The caller as `createdBy`/`updatedBy` show it: a stable 24-hex id derived from the user name."""
    user = request.state.identity["user"]
    return {"id": uuid.uuid5(uuid.NAMESPACE_DNS, user).hex[:24], "name": user}


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
