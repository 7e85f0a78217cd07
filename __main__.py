"""hf-endpoints: one InferenceEndpoint per entry of `hf-endpoints:endpoints`, one EndpointsReady over all.

A stack over its budget (`hf-endpoints:maxHourlyUsd`) or with a malformed endpoints section stops here,
before anything is registered: no resource, no API call.
"""

import pulumi

from providers import EndpointsReady, InferenceEndpoint
from providers.fields import endpoint_id
from providers.stack_config import (
    check_budget,
    hourly_cost_at_max_replicas,
    hourly_cost_at_min_replicas,
    stack_endpoints,
)

config = pulumi.Config("hf-endpoints")
namespace = config.require("namespace")
try:
    specs = stack_endpoints(namespace, config.require_object("endpoints"), config.get_object("defaults"))
    check_budget(config.get("maxHourlyUsd"), specs)
except ValueError as error:
    raise pulumi.RunError(str(error)) from None  # the message alone, without a traceback

endpoints = {name: InferenceEndpoint(name, inputs) for name, inputs in specs.items()}
ready = EndpointsReady("endpoints-ready", list(endpoints.values()),
                       timeout_seconds=config.get_int("readyTimeoutSeconds"))

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
