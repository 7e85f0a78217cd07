"""The default image (`model.image.huggingface`, the managed Hugging Face Inference Toolkit), used when an endpoint
declares neither `engine` nor `custom_image`. It takes no settings.

For `task: text-generation` on a GPU, Inference Endpoints serves the model with TGI behind it, so TGI's memory model
and env rules apply (as before engines could be declared); the smoke test speaks `generate` (POST `/` with
`{"inputs", "parameters"}`, which the toolkit and TGI both answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.engines.base import GENERATE, Engine, Problem, ServingSpec, SmokeLimits
from providers.engines.tgi import ENGINE as TGI
from providers.fit import Estimate, ModelFacts


class HuggingFace(Engine):
    name = "huggingface"
    variant = "huggingface"
    title = "the default image"
    default_image = None
    default_port = 80
    protocols = (GENERATE,)

    def api_block(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        return {"huggingface": {}}

    @staticmethod
    def _generates(spec: ServingSpec) -> bool:
        return spec.task == "text-generation"

    def check(self, spec: ServingSpec) -> list[Problem]:
        return TGI.check(spec) if self._generates(spec) else []

    def estimate(self, facts: ModelFacts, spec: ServingSpec, num_gpus: int) -> Estimate | None:
        return TGI.estimate(facts, spec, num_gpus) if self._generates(spec) else None

    def hints(self, facts: ModelFacts, spec: ServingSpec, chosen: Any) -> list[str]:
        return TGI.hints(facts, spec, chosen) if self._generates(spec) else []

    def smoke_limits(self, spec: ServingSpec, facts: ModelFacts | None) -> SmokeLimits | None:
        return TGI.smoke_limits(spec, facts) if self._generates(spec) else None

    tight_advice = TGI.tight_advice


ENGINE = HuggingFace()
