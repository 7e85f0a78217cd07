"""`python -m emulator`: serve the emulator on HOST:PORT (port 0 picks a free port).

Prints exactly one line `emulator listening on http://HOST:PORT` when ready (then, without `--token`, a line
naming the default token). SIGTERM and SIGINT stop it cleanly with exit status 0.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import socket
import sys

import uvicorn

from emulator import hub
from emulator.app import Emulator
from emulator.control import rates_error
from emulator.middleware import is_loopback
from emulator.store import Config, Faults, StateFileError


def _token(spec: str) -> tuple[str, str, list[str]]:
    token, sep, who = spec.partition("=")
    user, _, orgs = who.partition(":")
    if not sep or not token or not user:
        raise argparse.ArgumentTypeError(f"expected TOKEN=USER[:ORG,ORG...], got {spec!r}")
    return token, user, [o for o in orgs.split(",") if o]


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:  # NaN fails this too
        raise argparse.ArgumentTypeError(f"a rate must be between 0 and 1, got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not negative, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulator", description="Local Inference Endpoints API emulator")
    p.add_argument("--host", default="127.0.0.1",
                   help="bind address; a non-loopback one needs --control-token")
    p.add_argument("--control-token", default=None, metavar="TOKEN",
                   help="require this token (header X-Emulator-Control-Token) on the /_emulator control routes; "
                        "without it they are served to loopback clients only")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--token", type=_token, action="append", default=[], metavar="TOKEN=USER[:ORG,ORG...]",
                   help="repeatable; without it, token hf_local for user local exists")
    p.add_argument("--startup-seconds", type=_seconds, default=4.0, help="pending -> running (half each)")
    p.add_argument("--update-seconds", type=_seconds, default=2.0, help="updating -> running")
    p.add_argument("--delete-seconds", type=_seconds, default=1.0, help="how long a deleted name stays visible")
    p.add_argument("--time-scale", type=_seconds, default=60.0, metavar="SECONDS_PER_IDLE_MINUTE",
                   help="real seconds per minute of scaleToZeroTimeout")
    p.add_argument("--reply", default=None, help="the text every generation returns")
    p.add_argument("--body-timeout", type=_seconds, default=10.0,
                   help="seconds a request body may take to arrive in full (then 408)")
    p.add_argument("--state", default=None, metavar="FILE", help="persist endpoints to this JSON file")
    p.add_argument("--fail-start", default=None, metavar="PATTERN", help="regex on repository: start -> failed")
    p.add_argument("--fail-update", default=None, metavar="PATTERN",
                   help="regex on repository: update -> updateFailed")
    p.add_argument("--error-rate", type=_rate, default=0.0, help="share of /v2 calls answered 500/502/503")
    p.add_argument("--rate-limit-rate", type=_rate, default=0.0, help="share of /v2 calls answered 429")
    p.add_argument("--error-after-rate", type=_rate, default=0.0,
                   help="share of /v2 writes whose change lands but whose 2xx answer is replaced by a 502 (a "
                        "write that changes nothing, or fails, gets its real answer)")
    p.add_argument("--retry-after", type=_seconds, default=1.0, help="Retry-After seconds of a 429")
    p.add_argument("--latency", type=_seconds, default=0.0, help="seconds added to every /v2 call")
    p.add_argument("--drop-rate", type=_rate, default=0.0, help="share of /v2 connections dropped unanswered. "
                   "One draw per call picks at most one fault, so the four rates add up to 1 at most")
    p.add_argument("--quota", type=int, default=None, help="GPU accelerators per namespace/region/type")
    p.add_argument("--hub-models", default=None, metavar="FILE",
                   help='more Hub repositories to serve: {"<repo id>": {"sha": "<40 hex>", "safetensors": '
                        '{"parameters": {"<DTYPE>": <count>}, "total": <n>}, "config": {...}, "gated": false}}')
    p.add_argument("--seed", type=int, default=None, help="seed of the fault-injection random generator")
    args = p.parse_args(argv)
    error = rates_error({"drop_rate": args.drop_rate, "rate_limit_rate": args.rate_limit_rate,
                         "error_rate": args.error_rate, "error_after_rate": args.error_after_rate})
    if error:
        p.error(error)
    return args


def build(args: argparse.Namespace) -> Emulator:
    config = Config(args.startup_seconds, args.update_seconds, args.delete_seconds, args.time_scale,
                    args.reply, args.quota, args.body_timeout)
    faults = Faults(error_rate=args.error_rate, rate_limit_rate=args.rate_limit_rate,
                    error_after_rate=args.error_after_rate,
                    retry_after_seconds=args.retry_after, latency_seconds=args.latency, drop_rate=args.drop_rate,
                    fail_start_pattern=args.fail_start, fail_update_pattern=args.fail_update)
    tokens = {t: (user, orgs) for t, user, orgs in args.token} or None
    models = hub.load_models(args.hub_models) if args.hub_models else None
    return Emulator(tokens, config, faults, args.state, args.seed, args.control_token, models)


def refusal(args: argparse.Namespace) -> str | None:
    """Why the emulator must not start with these arguments, in one line (checked before binding)."""
    if not is_loopback(args.host) and args.control_token is None:
        return (f"--host {args.host} is not a loopback address: the /_emulator control routes would be open to "
                "the network; pass --control-token TOKEN (or bind to 127.0.0.1)")
    return None


async def serve(args: argparse.Namespace, emu: Emulator) -> None:
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it, Nagle holds a response body until the client's delayed ACK
    # of the headers (40 ms per answer).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)
    host, port = sock.getsockname()[:2]
    url_host = f"[{host}]" if family == socket.AF_INET6 else host
    emu.store.base_url = f"http://{url_host}:{port}"
    config = uvicorn.Config(emu.build(), http="h11", lifespan="off", log_level="warning", access_log=False,
                            proxy_headers=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not task.done():
        await asyncio.sleep(0.01)
    if server.started:
        print(f"emulator listening on {emu.store.base_url}", flush=True)
        if not args.token:
            print("token hf_local for user local exists (pass it as 'Authorization: Bearer hf_local')", flush=True)
    await task


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = refusal(args)
    if reason is None:
        try:
            emu = build(args)
        except StateFileError as e:
            reason = f"cannot use --state {args.state}: {e}"
        except hub.HubModelsError as e:
            reason = f"cannot use --hub-models {args.hub_models}: {e}"
    if reason is not None:
        print(f"emulator: {reason}", file=sys.stderr, flush=True)
        return 2

    def stop(signum: int, frame: object) -> None:
        # uvicorn handles the signal while serving, then re-raises it once shut down: exit cleanly.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    asyncio.run(serve(args, emu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
