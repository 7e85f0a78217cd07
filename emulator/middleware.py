"""What happens around every request before a route runs: a request id on every answer, the call log, the
management API's auth, and fault injection. A pure ASGI middleware, because dropping a connection unanswered
needs the server's own `send`.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import ApiError, Forbidden, Unauthorized
from emulator.store import Faults

NAMESPACED = re.compile(r"^/v2/(?:endpoint|provider)/([^/]+)")


class CallLog:
    """Every request but the control routes', as `{"method", "path", "status"}` (0: connection dropped).
    Thread-safe: uvicorn answers on its loop while tests read the log through the control API."""

    def __init__(self) -> None:
        self._calls: list[dict] = []
        self._lock = threading.Lock()

    def add(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._calls.append({"method": method, "path": path, "status": status})

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


class _Drop(Exception):
    """Abort the connection without a response."""


class EmulatorMiddleware:
    """Request ids, the call log, management-API auth and fault injection. `identify` maps an Authorization
    header to the identity dict (`user`, `orgs`, `namespaces`) or None; it is stored in `scope["state"]` for
    the handlers. `faults` and `rng` are read per request, so changes through the control API apply at once."""

    def __init__(self, app: ASGIApp, faults: Faults, rng: random.Random,
                 identify: Callable[[str | None], dict | None], calls: CallLog):
        self.app, self.faults, self.rng, self.identify, self.calls = app, faults, rng, identify, calls

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
                self.calls.add(method, path, status["code"])

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str, method: str) -> None:
        faults, rng = self.faults, self.rng
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
        identity = self.identify(_header(scope, b"authorization"))
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
