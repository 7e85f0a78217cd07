"""The platform proxy at each endpoint's `status.url` (`{base}/e/{namespace}/{name}`): auth per endpoint type,
the paused / scaled-to-zero / starting gates and `X-Scale-Up-Timeout` (contract §11), in front of the emulated
container its image runs (`emulator.engines`: TGI by version, vLLM, SGLang, llama.cpp, TEI).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from emulator.engines import server_for
from emulator.engines.base import DEFAULT_REPLY, Served
from emulator.errors import Forbidden, Unauthorized
from emulator.models import SERVING, State
from emulator.store import Config, Store

__all__ = ["DEFAULT_REPLY", "Proxy"]


class Proxy:
    """Handles `/e/{namespace}/{name}/{path}`. Built from what it needs, not from the app: the store (state,
    wake, idle timer), the live config (the reply text), `identify` (Authorization header -> identity dict
    with `user` and `namespaces`, or None) and `model_config` (a repository -> its config.json on the emulator's
    Hub, or None)."""

    def __init__(self, store: Store, config: Config, identify: Callable[[str | None], dict | None],
                 model_config: Callable[[str], dict | None] = lambda _repo: None):
        self.store, self.config, self.identify, self.model_config = store, config, identify, model_config

    # ----------------------------------------------------------------------------------------- proxy
    def _authorize(self, request: Request, namespace: str, ep_type: str) -> None:
        if ep_type == "public":
            return
        identity = self.identify(request.headers.get("authorization"))
        if identity is None:
            raise Unauthorized("Authorization header is correct, but the token seems invalid"
                               if request.headers.get("authorization") else "Authorization header is missing")
        if ep_type == "private" and namespace not in identity["namespaces"]:
            raise Forbidden(f"User '{identity['user']}' has no access to this private endpoint of '{namespace}'")

    async def handle(self, request: Request) -> Response:
        ns, name = request.path_params["namespace"], request.path_params["name"]
        path = request.path_params.get("path", "").strip("/")
        store = self.store
        ep, state = store.lookup(ns, name)
        self._authorize(request, ns, ep.config["type"])
        if state == State.PAUSED:
            return PlainTextResponse("Bad Request: endpoint is paused", status_code=400)
        if state == State.SCALED_TO_ZERO:
            state = store.wake(ns, name)
        if state not in SERVING:
            state = await self._hold(request, ns, name, state)
            if state not in SERVING:
                return JSONResponse({"error": f"Service Unavailable: endpoint is {state}; retry later, or send "
                                              "X-Scale-Up-Timeout: <seconds> to wait for a replica",
                                     "error_type": "unavailable"}, status_code=503)
        ((variant, image),) = ep.config["model"]["image"].items()
        server = server_for(variant, image)
        served = Served(ep, variant, image, self.config.reply or DEFAULT_REPLY,
                        self.model_config(ep.config["model"]["repository"]))
        health = {"", "health", "ping", ep.health_route().strip("/")}
        if request.method == "GET" and path in health:
            body = server.health_body()
            return JSONResponse(body) if body is not None else Response(status_code=200)
        store.touch(ns, name)
        return await server.handle(served, request, path)

    async def _hold(self, request: Request, ns: str, name: str, state: State) -> State:
        """Honour `X-Scale-Up-Timeout: <seconds>`: hold the request until a replica is running."""
        try:
            timeout = float(request.headers.get("x-scale-up-timeout", "0"))
        except ValueError:
            timeout = 0.0
        deadline = time.monotonic() + min(timeout, 600.0)
        while state not in SERVING and state != State.FAILED and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            _, state = self.store.lookup(ns, name)
        return state
