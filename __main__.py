"""hf-endpoints: one InferenceEndpoint per entry of `hf-endpoints:endpoints`, one EndpointsReady over all.

A stack whose config is malformed or over its budget (`hf-endpoints:maxHourlyUsd`) stops here, before anything
is registered: no resource, no API call. With `hf-endpoints:protect` every endpoint is protected from deletion.
"""

import pulumi
from pulumi.runtime import config as runtime_config

from providers import EndpointsReady, InferenceEndpoint
from providers.budget import hourly_cost_at_max_replicas, hourly_cost_at_min_replicas
from providers.fields import endpoint_id
from providers.stack_config import StackConfigError, read

# Every key of the stack's config, so that a mistyped `hf-endpoints:` setting is reported too (pulumi.Config can
# only look up keys it is asked for). The engine passes config in PULUMI_CONFIG or sets it explicitly.
raw_config = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
secret_keys = {key for key in raw_config if runtime_config.is_config_secret(key)}
try:
    stack = read(raw_config, {*runtime_config.get_config_secret_keys_env(), *secret_keys})
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

for name, endpoint in endpoints.items():
    pulumi.export(name, {  # EndpointsReady keys its states and urls by endpoint_id
        "url": ready.urls.apply(lambda urls, name=name: (urls or {}).get(endpoint_id(namespace, name))),
        "state": ready.states.apply(lambda states, name=name: (states or {}).get(endpoint_id(namespace, name))),
        "dashboard_url": endpoint.dashboard_url,
        "price_per_hour": endpoint.price_per_hour,
    })
pulumi.export("hourly_cost_at_min_replicas", pulumi.Output.all(*[
    pulumi.Output.all(price_per_hour=e.price_per_hour, min_replica=e.min_replica, paused=e.paused)
    for e in endpoints.values()
]).apply(hourly_cost_at_min_replicas))
pulumi.export("hourly_cost_at_max_replicas", pulumi.Output.all(*[
    pulumi.Output.all(price_per_hour=e.price_per_hour, max_replica=e.max_replica, paused=e.paused)
    for e in endpoints.values()
]).apply(hourly_cost_at_max_replicas))
