"""`python -m providers.fit REPO [--revision SHA] [--env KEY=VALUE]... [--vendor V] [--region R] [--json]`

Where does this model fit, and what does it cost? Every deployable GPU instance of the catalog snapshot with
its GPU memory, the memory the model needs on each GPU (`providers.fit`), whether it fits, and its price per
hour: those that fit first, cheapest first, then the rest. The facts come from the Hub like `check` reads them
(`--hub-url`, else env `HF_ENDPOINTS_HUB_URL`, else `HF_ENDPOINT`, else the public Hub; token `HF_TOKEN`),
through the same on-disk cache.

Exit status: 0 when some instance fits, 1 when none does, 2 when the facts cannot be had.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from providers import catalog, fit, model_facts
from providers.model_facts import FactsUnavailable, HubSettings, UnknownRevision


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--env {pair!r} is not KEY=VALUE, e.g. --env QUANTIZE=bitsandbytes")
        env[key] = value
    return env


def table(facts: fit.ModelFacts, rows: Sequence[fit.Row]) -> str:
    """The human-readable ranking, a header line saying what was assumed."""
    plan = rows[0].estimate.serving if rows else None
    total = sum((facts.parameters or {}).values())
    dtypes = "/".join(sorted(facts.parameters or {}))
    header = f"{facts.repository} at {facts.sha[:12]}: {total / 1e9:.2f}B parameters ({dtypes})"
    if plan is not None:
        header += (f", QUANTIZE={plan.quantize or 'none'}, KV cache for {plan.kv_tokens} tokens, "
                   f"prefill {plan.prefill_tokens} tokens")
    lines = [header, "", f"{'instance':<20} {'vendor':<6} {'region':<10} {'GPU GB':>7} {'needed GB':>10} "
             f"{'fits':<4} {'$/hour':>7}"]
    for row in rows:
        c = row.compute
        instance = f"{c.instance_type} {c.instance_size}"
        lines.append(f"{instance:<20} {c.vendor:<6} {c.region:<10} {row.gpu_memory_gb:>7g} "
                     f"{row.estimate.needed_gb:>10.1f} {'yes' if row.fits else 'no':<4} {c.price_per_hour:>7.2f}")
    lines += ["", "GB per GPU (10^9 bytes); deprecated and unavailable hardware left out. The formula: "
              "`pydoc providers.fit`."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m providers.fit", description=__doc__.split("\n\n")[1])
    parser.add_argument("repository", help="the model's Hub id, e.g. derek-thomas/jais-13b-chat-hf")
    parser.add_argument("--revision", help="a commit sha, branch or tag (default: the default branch)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="the endpoint's env as in the stack file (QUANTIZE, MAX_TOTAL_TOKENS, ...)")
    parser.add_argument("--vendor", help="only this vendor (aws, azure, gcp)")
    parser.add_argument("--region", help="only this region (e.g. us-east-1)")
    parser.add_argument("--hub-url", help="the Hub to read the model from (default: HF_ENDPOINTS_HUB_URL, "
                        "HF_ENDPOINT, else https://huggingface.co)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    args = parser.parse_args(argv)
    try:
        env = parse_env(args.env)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    hub = HubSettings.resolve()
    if args.hub_url:
        hub = HubSettings(url=args.hub_url.rstrip("/"), token=hub.token)
    try:
        facts = model_facts.load(hub, args.repository, args.revision)
        rows = fit.rank(facts, env, fit.gpu_computes(catalog.load_catalog(), args.vendor, args.region))
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
        print(table(facts, rows))
    return 0 if any(row.fits for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
