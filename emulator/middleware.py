"""What happens around every request before a route runs: a request id on every answer, the call log, the
management API's auth, and fault injection. A pure ASGI middleware, because dropping a connection unanswered
needs the server's own `send`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.errors import ApiError, Forbidden, RequestTimeout, Unauthorized
from emulator.store import Faults

NAMESPACED = re.compile(r"^/v2/(?:endpoint|provider)/([^/]+)")


class CallLog:
    """Every request but the control routes', newest last: `{"time", "method", "path", "query", "status",
    "request_id"}` (status 0: connection dropped; time in epoch seconds). A ring of the last `limit` entries
    (10000 by default), so a long run cannot grow it without bound. Thread-safe: uvicorn answers on its loop
    while tests read the log through the control API."""

    LIMIT = 10000

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._calls: deque[dict] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, entry: dict) -> None:
        with self._lock:
            self._calls.append(entry)

    def entries(self) -> list[dict]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


def is_loopback(host: str | None) -> bool:
    """Whether a peer or bind address is loopback (127.0.0.0/8, ::1, an IPv4-mapped loopback, `localhost`)."""
    if host == "localhost":
        return True
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return addr.is_loopback or bool(mapped and mapped.is_loopback)


CONTROL_TOKEN_HEADER = "X-Emulator-Control-Token"


class _Drop(Exception):
    """Abort the connection without a response."""


class EmulatorMiddleware:
    """Request ids, the call log, control-route access, management-API auth and fault injection. `identify` maps
    an Authorization header to the identity dict (`user`, `orgs`, `namespaces`) or None; it is stored in
    `scope["state"]` for the handlers. `faults` and `rng` are read per request, so changes through the control
    API apply at once. `version` reads the store's change counter (see `error_after_rate`). `body_timeout` reads
    how long a request body may take to arrive in full (`Config.body_timeout_seconds`). `control_token`: when set,
    every control request must carry it; when not, only loopback clients reach the control routes."""

    def __init__(self, app: ASGIApp, faults: Faults, rng: random.Random,
                 identify: Callable[[str | None], dict | None], calls: CallLog, version: Callable[[], int],
                 body_timeout: Callable[[], float] = lambda: 10.0, control_token: str | None = None):
        self.app, self.faults, self.rng, self.identify, self.calls = app, faults, rng, identify, calls
        self.version, self.body_timeout, self.control_token = version, body_timeout, control_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope["method"]
        receive = self._bounded(receive)
        control = path.startswith("/_emulator")
        request_id = uuid.uuid4().hex
        status = {"code": 0, "started": False}
        started = time.time()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            if control:
                refusal = self._control_refusal(scope)
                if refusal is not None:
                    await _respond(send_wrapper, refusal)
                    return
                await self.app(scope, receive, send_wrapper)
            else:
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
                self.calls.add({"time": started, "method": method, "path": path,
                                "query": scope.get("query_string", b"").decode("latin-1"), "status": status["code"],
                                "request_id": request_id})

    def _bounded(self, receive: Receive) -> Receive:
        """`receive` that gives up on a request body not in full within the body timeout: a body shorter than its
        Content-Length used to hang the request forever. Once the body is complete, `receive` is passed through
        (Starlette may wait on it for a disconnect)."""
        complete = False

        async def bounded() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            timeout = self.body_timeout()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise RequestTimeout(f"The request body did not arrive in full within {timeout:g}s") from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        return bounded

    def _control_refusal(self, scope: Scope) -> ApiError | None:
        if self.control_token is not None:
            given = _header(scope, CONTROL_TOKEN_HEADER.lower().encode()) or ""
            if not hmac.compare_digest(given.encode(), self.control_token.encode()):
                return Unauthorized(f"The /_emulator control routes need the control token: send "
                                    f"{CONTROL_TOKEN_HEADER}")
            return None
        client = scope.get("client")
        if not is_loopback(client[0] if client else None):
            return Forbidden("The /_emulator control routes are served to loopback clients only")
        return None

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, path: str, method: str) -> None:
        faults, rng = self.faults, self.rng
        managed = path.startswith("/v2/")
        after = False
        if managed:
            if faults.latency_seconds > 0:
                await asyncio.sleep(faults.latency_seconds)
            # One draw per call, cut into bands: each rate is the share of calls it gets (their sum is <= 1).
            u = rng.random()
            edges = [faults.drop_rate, faults.rate_limit_rate, faults.error_rate, faults.error_after_rate]
            for i in range(1, 4):
                edges[i] += edges[i - 1]
            if u < edges[0]:
                raise _Drop
            if u < edges[1]:
                retry = faults.retry_after_seconds
                retry_text = str(int(retry)) if float(retry).is_integer() else str(retry)
                await _respond(send, ApiError("Too many requests, retry later", 429, {"Retry-After": retry_text}))
                return
            if u < edges[2]:
                code = rng.choice(faults.error_statuses or [500])
                await _respond(send, ApiError(f"Injected fault: HTTP {code}", code))
                return
            after = u < edges[3] and method != "GET"
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
                # 401, not 403: huggingface_hub's namespace="*" listing skips an org that answers 401.
                await _respond(send, Unauthorized(
                    f"User '{identity['user']}' has no access to namespace '{match.group(1)}'"))
                return
        if after:
            await self._error_after(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _error_after(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The call runs; if it answered a 2xx that changed the store, the answer is lost and the client sees a
        502. Any other answer (a 4xx, or a 2xx that changed nothing) is sent as it was."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        before = self.version()
        await self.app(scope, receive, hold)
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), 0)
        if 200 <= status < 300 and self.version() != before:
            await _respond(send, ApiError("Injected fault after the change was applied: HTTP 502", 502))
            return
        for message in held:
            await send(message)


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
