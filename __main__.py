"""hf-endpoints: one InferenceEndpoint per entry of `hf-endpoints:endpoints` (and of the endpoint files that
`hf-endpoints:endpointFiles` names), one EndpointsReady over all.

A stack whose config is malformed or over its budget (`hf-endpoints:maxHourlyUsd`) stops here, before anything
is registered: no resource, no API call. With `hf-endpoints:protect` every endpoint is protected from deletion.
"""

from pathlib import Path

import pulumi
from pulumi.runtime import config as runtime_config

from providers import (
    EndpointsReady,
    InferenceEndpoint,
    config_size,
    endpoint_files,
    payloads,
    program_tuning,
    validation,
)
from providers.budget import hourly_cost_at_max_replicas, hourly_cost_at_min_replicas
from providers.fields import endpoint_id
from providers.stack_config import StackConfigError, read

# Hundreds of endpoints cost what Pulumi must, not more: the collector, the SDK's debug lines and the call stack each
# resource records in state (providers.program_tuning says what and why, with the measurements).
program_tuning.apply()

# Every key of the stack's config, so that a mistyped `hf-endpoints:` setting is reported too (pulumi.Config can
# only look up keys it is asked for). The engine passes config in PULUMI_CONFIG or sets it explicitly.
raw_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
secret_keys = {key for key in raw_config if runtime_config.is_config_secret(key)}
config_size.warn_when_near_the_limit()
try:
    # Endpoints may also live in files beside the stack file (`hf-endpoints:endpointFiles`): the way past the 128 KiB
    # Pulumi can pass a program as config. The program's directory is the project's.
    stack = read(raw_config, {*runtime_config.get_config_secret_keys_env(), *secret_keys},
                 endpoint_files.load(raw_config.get(endpoint_files.KEY), Path.cwd()))
except StackConfigError as error:
    # A RunError is shown without a traceback; nothing has been registered yet, so nothing changes.
    raise pulumi.RunError(f"the stack config has {len(error.problems)} problem(s):\n{error}") from None
for warning in stack.warnings:
    pulumi.log.warn(warning)
namespace = stack.namespace

# hf-endpoints:protect (prod): Pulumi refuses to delete or replace a protected endpoint, whether by `pulumi destroy` or
# by removing its entry; EndpointsReady names the setting when an entry is removed.
endpoints = {name: InferenceEndpoint(name, inputs, pulumi.ResourceOptions(protect=stack.protect))
             for name, inputs in stack.endpoints.items()}
ready = EndpointsReady("endpoints-ready", list(endpoints.values()), timeout_seconds=stack.ready_timeout_seconds,
                       protect=stack.protect)

# The outputs. Prices and dashboard links come from the spec as `check` reads it, here and now (the provider computes
# the same from the same function), so only url and state wait for EndpointsReady: one Output for all endpoints,
# not four per endpoint (hundreds of Outputs are most of what a big stack's program costs).
known = {name: validation.validate(inputs, validation.COST_STEPS).inputs for name, inputs in stack.endpoints.items()}
for inputs in known.values():
    inputs["price_per_hour"] = payloads.price_per_hour(inputs)
live = pulumi.Output.all(ready.urls, ready.states)
for name in endpoints:
    pulumi.export(name, live.apply(lambda both, name=name: {  # EndpointsReady keys its states and urls by endpoint_id
        "url": (both[0] or {}).get(endpoint_id(namespace, name)),
        "state": (both[1] or {}).get(endpoint_id(namespace, name)),
        "dashboard_url": payloads.DASHBOARD_URL.format(namespace=namespace, name=name),
        "price_per_hour": known[name]["price_per_hour"],
    }))
pulumi.export("hourly_cost_at_min_replicas", hourly_cost_at_min_replicas(list(known.values())))
pulumi.export("hourly_cost_at_max_replicas", hourly_cost_at_max_replicas(list(known.values())))
