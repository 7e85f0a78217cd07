"""The container log of an endpoint's current replica (`GET /v2/endpoint/{ns}/{name}/logs`, contract R11), written
like TGI's launcher and router write it, from the endpoint's timeline:

* starting (initializing, updating): the launcher's `Args`, the weight download, one shard per GPU;
* running (and scaled to zero afterwards): shards ready, webserver, warm-up, `Connected`;
* failed / updateFailed: the reason TGI would print, a CUDA out-of-memory error on GPU hardware (a killed
  shard on CPU hardware), then `Shard 0 failed to start` and `Error: ShardCannotStart`;
* pending and paused: no replica, an empty log.

The log names the repository, revision and the TGI limits from `model.env`, never an env or secret value
otherwise; any secret value that would appear anyway is masked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from emulator import catalog
from emulator.models import Endpoint, State, Step

_STARTING = (State.INITIALIZING, State.UPDATING)
_FAILED = (State.FAILED, State.UPDATE_FAILED)
_LIMITS = (("MAX_INPUT_LENGTH", "max_input_tokens"), ("MAX_INPUT_TOKENS", "max_input_tokens"),
           ("MAX_TOTAL_TOKENS", "max_total_tokens"), ("MAX_BATCH_PREFILL_TOKENS", "max_batch_prefill_tokens"),
           ("MAX_BATCH_TOTAL_TOKENS", "max_batch_total_tokens"))


def _ts(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _line(at: float, level: str, target: str, message: str) -> str:
    return f"{_ts(at)} {level:>5} {target}: {message}"


def _args(ep: Endpoint, shards: int) -> str:
    model, env = ep.config["model"], ep.config["model"]["env"]
    revision = f'Some("{model["revision"]}")' if model.get("revision") else "None"
    quantize = f'Some({env["QUANTIZE"].title().replace("-", "")})' if env.get("QUANTIZE") else "None"
    fields = [f'model_id: "{env.get("MODEL_ID") or model["repository"]}"', f"revision: {revision}",
              f"num_shard: Some({shards})", f"quantize: {quantize}"]
    for key, name in _LIMITS:
        if str(env.get(key, "")).isdigit():
            fields.append(f"{name}: Some({int(env[key])})")
    fields.append('hostname: "0.0.0.0"')
    fields.append("port: 80")
    return "Args { " + ", ".join(fields) + " }"


def _start(ep: Endpoint, at: float, shards: int) -> list[str]:
    repo = ep.config["model"]["repository"]
    lines = [_line(at, "INFO", "text_generation_launcher", _args(ep, shards)),
             _line(at, "INFO", "download: text_generation_launcher", "Starting check and download process for "
                   f"{repo}"),
             _line(at + 0.001, "INFO", "download: text_generation_launcher", "Successfully downloaded weights for "
                   f"{repo}")]
    for rank in range(shards):
        lines.append(_line(at + 0.002, "INFO", "shard-manager: text_generation_launcher",
                           f"Starting shard rank={rank}"))
    return lines


def _ready(at: float, start: float, shards: int) -> list[str]:
    lines = [_line(at, "INFO", "shard-manager: text_generation_launcher", f"Shard ready in {at - start:.1f}s "
                   f"rank={rank}") for rank in range(shards)]
    return [*lines,
            _line(at, "INFO", "text_generation_launcher", "Starting Webserver"),
            _line(at, "INFO", "text_generation_router", "router/src/main.rs:317: Warming up model"),
            _line(at, "INFO", "text_generation_router", "router/src/main.rs:354: Setting max batch total tokens to "
                  "16000"),
            _line(at, "INFO", "text_generation_router", "router/src/main.rs:355: Connected")]


def _failure(at: float, hw: catalog.Hardware | None) -> list[str]:
    if hw is not None and hw.gpu_memory_gb:
        per_gpu = hw.gpu_memory_gb / hw.num_accelerators
        capacity = per_gpu * 0.92  # what CUDA reports of a card's nominal memory
        reason = (f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB. GPU 0 has a total "
                  f"capacity of {capacity:.2f} GiB of which 312.06 MiB is free. Process 1 has {capacity - 0.3:.2f} "
                  "GiB memory in use. Of the allocated memory "
                  f"{capacity - 1.1:.2f} GiB is allocated by PyTorch, and 402.18 MiB is reserved by PyTorch but "
                  "unallocated.")
        shard_error = [_line(at, "ERROR", "text_generation_launcher", "Error when initializing model"),
                       "Traceback (most recent call last):",
                       '  File "/opt/conda/bin/text-generation-server", line 8, in <module>',
                       "    sys.exit(app())",
                       reason]
    else:
        shard_error = [_line(at, "ERROR", "shard-manager: text_generation_launcher",
                             "Shard process was signaled to shutdown with signal 9 rank=0")]
    return [*shard_error,
            _line(at, "ERROR", "text_generation_launcher", "Shard 0 failed to start"),
            _line(at, "INFO", "text_generation_launcher", "Shutting down shards"),
            "Error: ShardCannotStart"]


def container_log(ep: Endpoint, now: float, seconds_per_minute: float) -> list[str]:
    """The current replica's log lines at `now`, secrets masked."""
    steps: list[Step] = [s for s in ep.timeline if s.at <= now] or ep.timeline[:1]
    current = ep.step_at(now, seconds_per_minute)
    if current.state in (State.PENDING, State.PAUSED) or not steps:
        return []
    hw = catalog.find(ep.config["provider"]["vendor"], ep.config["provider"]["region"],
                      ep.config["compute"]["accelerator"], ep.config["compute"]["instanceType"],
                      ep.config["compute"]["instanceSize"])
    shards = hw.num_accelerators if hw is not None and hw.accelerator == "gpu" else 1
    start = next((s.at for s in steps if s.state in _STARTING), steps[0].at)
    lines = _start(ep, start, shards)
    last = steps[-1]
    if last.state in (State.RUNNING, State.SCALED_TO_ZERO):
        lines += _ready(last.at, start, shards)
    elif last.state in _FAILED:
        lines += _failure(last.at, hw)
    secrets = [v for v in (ep.config["model"].get("secrets") or {}).values() if v]
    for value in secrets:
        lines = [line.replace(value, "***") for line in lines]
    return lines
