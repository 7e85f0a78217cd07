"""hf-endpoints organization rules, as a Pulumi policy pack (`pulumi preview --policy-pack policy`).

Each rule reads the inputs of the stack's `InferenceEndpoint` resources (at preview, a new resource's state is
its checked inputs) and is configured per organization with `--policy-pack-config FILE` (see
`policy/config.example.json`; every key has a default):

* `pinned-revision`: in stacks whose name matches `stackPattern` (fnmatch, default `prod*`), every endpoint
  pins `revision` to a 40-hex commit (promote from dev: `python -m providers.promote dev prod`);
* `no-public-endpoints`: `type: public` (anyone can call it, unauthenticated) only when `allowPublic` is true;
* `hourly-ceiling`: the sum of max_replica x price per replica-hour over endpoints not paused stays at or under
  `maxHourlyUsd` (prices from the provider's hardware catalog snapshot, as `price_per_hour` shows them);
* `required-tags`: every endpoint carries each tag of `tags`, as `name` or `name:value` / `name=value`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

ENDPOINT_TYPE = "pulumi-python:dynamic/hf:InferenceEndpoint"
COMMIT = re.compile(r"[0-9a-f]{40}")
CATALOG = Path(__file__).resolve().parent.parent / "providers" / "hardware_catalog.json"


def _stack(urn: str) -> str:
    return urn.split(":")[2]  # urn:pulumi:<stack>::<project>::<type>::<name>


def _prices() -> dict[tuple[str, str, str, str, str], float]:
    prices = {}
    for vendor in json.loads(CATALOG.read_text())["vendors"]:
        for region in vendor["regions"]:
            for compute in region["computes"]:
                key = (vendor["name"], region["name"], compute["accelerator"], compute["instanceType"],
                       compute["instanceSize"])
                prices[key] = float(compute["pricePerHour"])
    return prices


def pinned_revision(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != ENDPOINT_TYPE:
        return
    pattern = args.get_config().get("stackPattern", "prod*")
    stack = _stack(args.urn)
    revision = args.props.get("revision")
    if fnmatch.fnmatch(stack, pattern) and not (isinstance(revision, str) and COMMIT.fullmatch(revision)):
        report_violation(
            f"endpoints.{args.name}.revision: stack `{stack}` matches `{pattern}`, so the revision must be a pinned "
            f"40-hex commit, got {json.dumps(revision)}; test it in dev, then `python -m providers.promote dev "
            f"{stack}`")


def no_public_endpoints(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != ENDPOINT_TYPE or args.props.get("type") != "public":
        return
    if not args.get_config().get("allowPublic", False):
        report_violation(f"endpoints.{args.name}.type: `public` endpoints answer anyone without a token; use "
                         "`authenticated` (or allow it with allowPublic in the policy config)")


def required_tags(args: ResourceValidationArgs, report_violation) -> None:
    if args.resource_type != ENDPOINT_TYPE:
        return
    tags = [tag for tag in args.props.get("tags") or [] if isinstance(tag, str)]
    for required in args.get_config().get("tags", []):
        if not any(tag == required or re.match(rf"{re.escape(required)}[:=]", tag) for tag in tags):
            report_violation(f"endpoints.{args.name}.tags: missing the required tag `{required}` "
                             f"(write `{required}` or `{required}:<value>` under tags)")


def hourly_ceiling(args: StackValidationArgs, report_violation) -> None:
    ceiling = args.get_config().get("maxHourlyUsd")
    if ceiling is None:
        return
    prices, costs = _prices(), []
    for resource in args.resources:
        props = resource.props
        if resource.resource_type != ENDPOINT_TYPE or props.get("paused"):
            continue
        key = tuple(props.get(k) for k in ("vendor", "region", "accelerator", "instance_type", "instance_size"))
        price = props.get("price_per_hour") or prices.get(key, 0.0)  # type: ignore[arg-type]
        costs.append((float(price) * int(props.get("max_replica") or 1), resource.name))
    total = round(sum(cost for cost, _ in costs), 4)
    if total > ceiling:
        top = ", ".join(f"{name} ${cost:g}/h" for cost, name in sorted(costs, reverse=True)[:3])
        report_violation(f"the stack's most expensive hour (every endpoint at max_replica) is ${total:g}, over "
                         f"the ceiling of ${ceiling:g} (maxHourlyUsd in the policy config); most costly: {top}. "
                         "Lower max_replica, choose cheaper hardware, or pause an endpoint")


PolicyPack(
    name="hf-endpoints-rules",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="pinned-revision", description="Stacks matching stackPattern pin revision to a commit.",
            validate=pinned_revision,
            config_schema=PolicyConfigSchema(properties={"stackPattern": {"type": "string", "default": "prod*"}}),
        ),
        ResourceValidationPolicy(
            name="no-public-endpoints", description="No public endpoint unless allowPublic.",
            validate=no_public_endpoints,
            config_schema=PolicyConfigSchema(properties={"allowPublic": {"type": "boolean", "default": False}}),
        ),
        ResourceValidationPolicy(
            name="required-tags", description="Every endpoint carries the required tags.",
            validate=required_tags,
            config_schema=PolicyConfigSchema(
                properties={"tags": {"type": "array", "items": {"type": "string"}, "default": []}}),
        ),
        StackValidationPolicy(
            name="hourly-ceiling", description="The stack's most expensive hour stays under maxHourlyUsd.",
            validate=hourly_ceiling,
            config_schema=PolicyConfigSchema(properties={"maxHourlyUsd": {"type": "number", "minimum": 0}}),
        ),
    ],
)
