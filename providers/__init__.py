"""hf-endpoints: Hugging Face Inference Endpoints as Pulumi dynamic resources.

Modules: `spec` (pure: YAML mapping -> validated inputs -> API payloads -> outputs), `catalog` (the hardware
catalog snapshot), `client` (the only HTTP), `readiness` (waiting), `inference_endpoint` and
`endpoints_ready` (the resources and their thin providers), `promote` (dev -> prod promotion CLI).
"""

from providers.endpoints_ready import EndpointsReady, EndpointsReadyProvider
from providers.inference_endpoint import InferenceEndpoint, InferenceEndpointProvider

__all__ = ["EndpointsReady", "EndpointsReadyProvider", "InferenceEndpoint", "InferenceEndpointProvider"]
