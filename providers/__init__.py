"""hf-endpoints: Hugging Face Inference Endpoints as Pulumi dynamic resources.

Pure modules (no I/O): `fields` (the field table), `validation` (check), `spec` (diff), `payloads` (the API's
JSON both ways), `stack_config` (the stack config as a whole), `budget` (cost per hour, the budget),
`engines` (one module per serving engine behind one registry: fields, rules, memory model, smoke protocols),
`image_reference`, `gguf`, `values`, `fit` (what every engine's estimate shares: capacity, verdicts, ranking),
`failure_logs` (a failed endpoint's log tail, masked), `secret_text` (the stack's secret values, text masked with
them), `plaintext_secrets` (secrets the stack file holds in clear), `reply_pattern` (the smoke test's `expect`, RE2);
`catalog` (the hardware catalog snapshot).
Then `client` (the only HTTP to the Endpoints API), `model_facts` (the only HTTP to the Hub, cached on disk),
`endpoint_files` (endpoints in files the config names) and `file_patterns` (which files those may be),
`preflight` (what check learns from the model's facts), `base` (what both providers share), `readiness` (waiting),
`inference_endpoint` and `endpoints_ready` (the resources and their thin providers), `promote` and
`stack_files` (dev -> prod promotion CLI); `python -m providers.fit` (where a model fits, what it costs);
`state_locks` (a stack's locks in its backend), `lock_owner` (is a lock's run alive here) and
`python -m providers.unlock` (unlock a stack whose run is over).
"""

from providers.endpoints_ready import EndpointsReady, EndpointsReadyProvider
from providers.inference_endpoint import InferenceEndpoint, InferenceEndpointProvider

__all__ = ["EndpointsReady", "EndpointsReadyProvider", "InferenceEndpoint", "InferenceEndpointProvider"]
