"""Provider benchmark: prints numbers, asserts nothing. Run: `venv/bin/python -m bench.provider_bench`.

Everything goes through the real provider host (`python -m pulumi.dynamic` over gRPC, as the engine drives
it) against the emulator, with the provider's default poll interval (1 s) and an emulated start-up time:

* preview path: HTTP calls made by check for 16 new endpoints (target: 0 to the Endpoints API; check reads the
  model's facts from the emulator's Hub once, then from its disk cache: 0 on the next preview), and by check + diff
  of the 16 once deployed (target: one list call, diff's look at the live endpoints: providers.drift);
* readiness: delay between the emulator's `running` transition (its `status.updatedAt`) and EndpointsReady
  returning, over several endpoints (target: median < 1 s, max < 2 s), and polling cost (target: one list
  request per namespace per tick, no per-endpoint GETs);
* 16 endpoints vs 1: wall time of `up` (create + ready), and the ratio (target: <= 1.5);
* no-op `up`: write calls (target: 0).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime

from emulator.process import EmulatorProcess
from tests.endpoint_stack import (
    ENDPOINT_PROVIDER,
    ENDPOINT_TYPE,
    PROJECT,
    EndpointStack,
    emulator_config,
    endpoint_hosts,
)
from tests.harness.provider_host import ProviderHost, urn

KINDS = ("nvidia-a10g", "nvidia-l4", "nvidia-t4", "nvidia-l40s")


def endpoint(index: int) -> dict:
    return {"repository": "derek-thomas/jais-13b-chat-hf", "accelerator": "gpu", "vendor": "aws",
            "region": "us-east-1", "instance_type": KINDS[index % len(KINDS)], "instance_size": "x1",
            "min_replica": 1, "max_replica": 1,
            "custom_image": {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4"},
            # 4-bit: jais needs ~11.4 GB per GPU, so check lets it onto every kind (a T4 has 16 GB).
            "env": {"MAX_INPUT_LENGTH": 2000, "MAX_BATCH_PREFILL_TOKENS": 2048, "QUANTIZE": "bitsandbytes-nf4"},
            "smoke_test": {"prompt": "Say hello", "expect": "(?i)hello", "max_new_tokens": 5}}


def endpoints(count: int, prefix: str) -> dict[str, dict]:
    return {f"{prefix}-{i}": endpoint(i) for i in range(count)}


def parse_z(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def api_calls(emulator: EmulatorProcess, methods: tuple[str, ...] | None = None) -> list[dict]:
    return [c for c in emulator.calls() if c["path"].startswith("/v2/")
            and (methods is None or c["method"] in methods)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--startup-seconds", type=float, default=3.0)
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--poll-seconds", type=float, default=1.0)
    args = parser.parse_args()

    with EmulatorProcess(["--startup-seconds", str(args.startup_seconds), "--update-seconds", "1",
                          "--delete-seconds", "0.2", "--quota", "1000"]) as emulator, \
            tempfile.TemporaryDirectory() as cache, \
            ProviderHost(PROJECT, env={"HF_ENDPOINTS_POLL_SECONDS": str(args.poll_seconds),
                                       "HF_ENDPOINTS_CACHE": cache}) as host, \
            endpoint_hosts(HF_ENDPOINTS_POLL_SECONDS=str(args.poll_seconds), HF_ENDPOINTS_CACHE=cache) as hosts:
        host.configure({"hf-endpoints:apiUrl": emulator.api_url, "hf-endpoints:hubUrl": emulator.base_url,
                        "hf-endpoints:hfToken": emulator.token}, ["hf-endpoints:hfToken"])
        print(f"emulator start-up {args.startup_seconds:.1f} s, provider poll interval {args.poll_seconds:.1f} s")

        # Preview path of a new stack: check only (nothing to diff), twice (the second with the facts cached on disk).
        for preview in ("first", "second"):
            emulator.clear_calls()
            for name, mapping in endpoints(args.count, "preview").items():
                resource = urn("dev", PROJECT, ENDPOINT_TYPE, name)
                host.check(resource, {}, {"__provider": ENDPOINT_PROVIDER, **mapping, "name": name,
                                          "namespace": "local"})
            print(f"{preview} preview path ({args.count} new endpoints, check): {len(api_calls(emulator))} "
                  f"Endpoints API calls, {len(emulator.calls()) - len(api_calls(emulator))} Hub calls")

        # One endpoint, then N, each a fresh stack.
        single = EndpointStack(hosts, emulator_config(emulator))
        started = time.monotonic()
        single.up(endpoints(1, "one"))
        one_seconds = time.monotonic() - started
        single.destroy()

        many = EndpointStack(hosts, emulator_config(emulator))
        emulator.clear_calls()
        started = time.monotonic()
        many.up(endpoints(args.count, "many"))
        returned_at = time.time()
        many_seconds = time.monotonic() - started
        lists = [c for c in api_calls(emulator, ("GET",)) if c["path"] == "/v2/endpoint/local"]
        gets = [c for c in api_calls(emulator, ("GET",)) if c["path"].startswith("/v2/endpoint/local/")]
        running_at = [parse_z(e["status"]["updatedAt"]) for e in emulator.endpoints("local")]
        print(f"up, 1 endpoint: {one_seconds:.2f} s; {args.count} endpoints: {many_seconds:.2f} s; "
              f"ratio {many_seconds / one_seconds:.2f}")
        print(f"polling while {args.count} endpoints started: {len(lists)} list requests in "
              f"{many_seconds:.1f} s (one per tick for 1 namespace), {len(gets)} per-endpoint GETs")

        # Readiness notice delay: the last endpoint's transition to running vs EndpointsReady returning.
        delays = []
        for trial in range(5):
            stack = EndpointStack(hosts, emulator_config(emulator))
            stack.up(endpoints(1, f"delay{trial}"))
            returned = time.time()
            (live,) = [e for e in emulator.endpoints("local") if e["name"] == f"delay{trial}-0"]
            delays.append(returned - parse_z(live["status"]["updatedAt"]))
            stack.destroy()
        delays.append(returned_at - max(running_at))
        print(f"readiness noticed after the emulator reported running: median {statistics.median(delays):.2f} s, "
              f"max {max(delays):.2f} s over {len(delays)} waits")

        emulator.clear_calls()
        many.preview(endpoints(args.count, "many"))
        print(f"preview path ({args.count} deployed endpoints, check + diff): {len(api_calls(emulator))} Endpoints "
              f"API calls, {len(emulator.calls()) - len(api_calls(emulator))} Hub calls")
        emulator.clear_calls()
        started = time.monotonic()
        many.up(endpoints(args.count, "many"))
        print(f"no-op up ({args.count} endpoints): {len(api_calls(emulator, ('POST', 'PUT', 'DELETE')))} write "
              f"calls, {len(emulator.calls())} calls in all, {time.monotonic() - started:.2f} s")
        many.destroy()


if __name__ == "__main__":
    main()
