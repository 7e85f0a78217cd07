"""A one-answer HTTP server on loopback, for what no real server (and so not the emulator) should send: a `Retry-After`
of `nan`, an error body that repeats the caller's token. Every request gets the same status, headers and body; the
body may hold `{token}`, replaced by the bearer token the request carried (as the client sent it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: str = "{}"
    headers: dict[str, str] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    """The method of every request received, in order."""
    url: str = ""
    """The server's `/v2` base URL, once started."""


@contextmanager
def stub_server(answer: Answer) -> Iterator[Answer]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            answer.methods.append(self.command)
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            body = answer.body.replace("{token}", token).encode()
            self.send_response(answer.status)
            for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answer.url = f"http://127.0.0.1:{server.server_address[1]}/v2"
    try:
        yield answer
    finally:
        server.shutdown()
        server.server_close()
