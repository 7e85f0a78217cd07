"""A custom container (`custom_image`, or `engine: {custom: ...}`, the same thing): any image, with registry
credentials. Sent as `model.image.custom` (contract §3.3).

When its image is one a known engine publishes (TGI's, vLLM's, ...), that engine's env rules, memory model and smoke
protocols apply to it (`providers.engines.serving_engine`); its typed fields do not exist here (set the
container's flags in `args`). An image nobody recognises gets no memory model, and the smoke test speaks
`generate` unless `smoke_test.protocol` says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.engines.base import CHAT, COMPLETIONS, EMBED, GENERATE, Engine


class Custom(Engine):
    name = "custom"
    variant = "custom"
    title = "custom container"
    default_image = None  # `url` is required
    default_port = 80
    protocols = (GENERATE, CHAT, COMPLETIONS, EMBED)

    def api_block(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The container block, with the registry credentials when given."""
        block = super().api_block(settings)
        if settings.get("credentials"):
            block[self.variant]["credentials"] = dict(settings["credentials"])
        return block


ENGINE = Custom()
