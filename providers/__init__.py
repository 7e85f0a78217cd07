"""hf-endpoints: Hugging Face Inference Endpoints as Pulumi dynamic resources.

Pure modules (no I/O): `fields` (the field table), `validation` (check), `spec` (diff), `payloads` (the API's
JSON both ways), `stack_config` (the stack's endpoints and cost), `values`; `catalog` (the hardware catalog
snapshot). Then `client` (the only HTTP), `base` (what both providers share), `readiness` (waiting),
`inference_endpoint` and `endpoints_ready` (the resources and their thin providers), `promote` and
`stack_files` (dev -> prod promotion CLI).
"""

from providers.endpoints_ready import EndpointsReady, EndpointsReadyProvider
from providers.inference_endpoint import InferenceEndpoint, InferenceEndpointProvider

__all__ = ["EndpointsReady", "EndpointsReadyProvider", "InferenceEndpoint", "InferenceEndpointProvider"]
