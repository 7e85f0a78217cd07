"""`python -m providers.fit REPO [--engine E] [--revision SHA] [--env KEY=VALUE]... [--set FIELD=VALUE]...
[--arg ARG]... [--vendor V] [--region R] [--json]`

Where does this model fit, and what does it cost? Every deployable GPU instance of the catalog snapshot with
its GPU memory, the memory the model needs on each GPU under the chosen engine (`--engine`: tgi, the default,
vllm, sglang, tei, llamacpp; each engine's model is in its module, `providers/engines/`), whether it fits, its
price per hour and, where the engine keeps a KV cache, its capacity: the longest context one sequence could have
and how many full-length sequences the cache holds at once, with the price per hour per such sequence. Those that
fit come first, cheapest first, then the rest. `--set` gives the engine's typed fields as in `engine: {<engine>:
...}` (`--set max_num_seqs=64`), `--arg` the container's args (`--arg=--max-model-len --arg=8192`), `--env` its env.
The facts come from the Hub like `check` reads them (`--hub-url`, else env `HF_ENDPOINTS_HUB_URL`, else
`HF_ENDPOINT`, else the public Hub; token `HF_TOKEN`), through the same on-disk cache.

Exit status: 0 when some instance fits, 1 when none does, 2 when the facts cannot be had.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from providers import catalog, engines, fit, preflight
from providers.engines.base import ServingSpec
from providers.model_facts import FactsUnavailable, HubSettings, UnknownRevision

FIT_ENGINES = tuple(e.name for e in engines.TYPED)
EMBEDDING_TASK = "feature-extraction"


def parse_pairs(pairs: Sequence[str], option: str, example: str) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{option} {pair!r} is not KEY=VALUE, e.g. {option} {example}")
        found[key] = value
    return found


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    return parse_pairs(pairs, "--env", "QUANTIZE=bitsandbytes")


def _typed(value: str) -> object:
    if value.isdigit():
        return int(value)
    return {"true": True, "false": False}.get(value.lower(), value)


def table(facts: fit.ModelFacts, rows: Sequence[fit.Row], engine: str = engines.FIT_DEFAULT.name) -> str:
    """The human-readable ranking, a header line saying what was assumed."""
    plan = rows[0].estimate if rows else None
    total = sum((facts.parameters or {}).values())
    dtypes = "/".join(sorted(facts.parameters or {}))
    header = f"{facts.repository} at {facts.sha[:12]}: "
    header += f"{total / 1e9:.2f}B parameters ({dtypes})" if total else "GGUF weights"
    with_capacity = any(row.concurrent_sequences is not None for row in rows)
    if plan is not None:
        header += f", {plan.engine}: {plan.summary}"
    columns = (f"{'instance':<20} {'vendor':<6} {'region':<10} {'GPU GB':>7} {'needed GB':>10} {'fits':<4} "
               f"{'$/hour':>7}")
    if with_capacity:
        columns += f" {'max ctx':>8} {'seqs':>5} {'$/h/seq':>8}"
    lines = [header, "", columns]
    for row in rows:
        c = row.compute
        instance = f"{c.instance_type} {c.instance_size}"
        line = (f"{instance:<20} {c.vendor:<6} {c.region:<10} {row.gpu_memory_gb:>7g} "
                f"{row.estimate.needed_gb:>10.1f} {'yes' if row.fits else 'no':<4} {c.price_per_hour:>7.2f}")
        if with_capacity:
            per_seq = f"{row.price_per_sequence:.3f}" if row.price_per_sequence else "-"
            line += f" {row.max_context_tokens or 0:>8} {row.concurrent_sequences or 0:>5} {per_seq:>8}"
        lines.append(line)
    lines += ["", "GB per GPU (10^9 bytes); deprecated and unavailable hardware left out."
              + (" max ctx: the longest context one sequence could have; seqs: full-length sequences the KV cache "
                 "holds at once." if with_capacity else "")
              + f" The formula: `pydoc providers.engines.{engine}`."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.fit", description=__doc__.split("\n\n")[1])
    parser.add_argument("repository", help="the model's Hub id, e.g. derek-thomas/jais-13b-chat-hf")
    parser.add_argument("--engine", choices=FIT_ENGINES, default=engines.FIT_DEFAULT.name,
                        help=f"the serving engine (default: {engines.FIT_DEFAULT.name})")
    parser.add_argument("--revision", help="a commit sha, branch or tag (default: the default branch)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="the endpoint's env as in the stack file (QUANTIZE, MAX_TOTAL_TOKENS, ...)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="settings",
                        help="a typed field of the engine, e.g. max_num_seqs=64, ctx_size=8192")
    parser.add_argument("--arg", action="append", default=[], metavar="ARG", dest="args",
                        help="one of the container's args, e.g. --arg=--max-model-len --arg=8192")
    parser.add_argument("--vendor", help="only this vendor (aws, azure, gcp)")
    parser.add_argument("--region", help="only this region (e.g. us-east-1)")
    parser.add_argument("--hub-url", help="the Hub to read the model from (default: HF_ENDPOINTS_HUB_URL, "
                        "HF_ENDPOINT, else https://huggingface.co)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    args = parser.parse_args(argv)
    try:
        env = parse_env(args.env)
        settings = {key: _typed(value) for key, value in
                    parse_pairs(args.settings, "--set", "max_num_seqs=64").items()}
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    engine = engines.ENGINES[args.engine]
    unknown = [key for key in settings if engine.field_named(key) is None]
    if unknown:
        parser.error(f"--set {unknown[0]}: not a field of {engine.name} (its fields: "
                     f"{', '.join(f.key for f in engine.fields)})")
    hub = HubSettings.resolve()
    if args.hub_url:
        hub = HubSettings(url=args.hub_url.rstrip("/"), token=hub.token)
    task = EMBEDDING_TASK if engine.protocols == ("embed",) else "text-generation"
    spec = ServingSpec(settings=settings, typed=True, env=env, task=task,
                       accelerator="gpu", compute=None, args=tuple(args.args))
    try:
        facts = preflight.load_facts(engine, spec, hub, args.repository, args.revision)
        rows = fit.rank(engines.estimator(engine, spec, facts),
                        fit.gpu_computes(catalog.load_catalog(), args.vendor, args.region))
    except (UnknownRevision, FactsUnavailable) as error:
        print(f"providers.fit: {error}", file=sys.stderr)
        return 2
    except fit.FactsMissing as error:
        print(f"providers.fit: {args.repository} cannot be estimated: {error}", file=sys.stderr)
        return 2
    if args.json:
        json.dump([row.to_json() for row in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(table(facts, rows, engine.name))
    return 0 if any(row.fits for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
