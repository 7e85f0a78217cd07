"""The serving containers the emulator runs behind each endpoint's URL, one module per engine (mirroring
`providers/engines/` without sharing its code): `tgi.py`, `vllm.py`, `sglang.py`, `llamacpp.py`, `tei.py`, on the
common generation and OpenAI routes of `base.py`.

Which container answers: the endpoint's `model.image` variant (`tgi`, `vLLM`, `sGLang`, `llamacpp`, `tei`, and the
Neuron variants as their GPU siblings); a `custom` image by the engine whose published image its URL names (TGI's,
vLLM's, ...); anything else, the default `huggingface` image included, as TGI (how the emulator answered every image
before it emulated engines).
"""

from __future__ import annotations

import re

from emulator.engines import llamacpp, sglang, tei, tgi, vllm

SERVERS = {"tgi": tgi.SERVER, "tgiNeuron": tgi.SERVER, "vLLM": vllm.SERVER, "vLLMNeuron": vllm.SERVER,
           "sGLang": sglang.SERVER, "llamacpp": llamacpp.SERVER, "tei": tei.SERVER}
CUSTOM_IMAGES = (
    (re.compile(r"text-generation-inference|(^|/)tgi([:/@-]|$)"), tgi.SERVER),
    (re.compile(r"(^|/)vllm[-/]?[\w-]*(:|@|$)|vllm-openai"), vllm.SERVER),
    (re.compile(r"(^|/)sglang([:/@-]|$)"), sglang.SERVER),
    (re.compile(r"llama\.cpp|llama-cpp|llamacpp"), llamacpp.SERVER),
    (re.compile(r"text-embeddings-inference|(^|/)tei([:/@-]|$)"), tei.SERVER),
)
Server = tgi.TgiServer | vllm.VllmServer | llamacpp.LlamaCppServer | tei.TeiServer


def server_for(variant: str, image: dict) -> Server:
    """The container behind an endpoint with this `model.image` variant and settings."""
    if variant in SERVERS:
        return SERVERS[variant]
    url = str(image.get("url") or "")
    return next((server for pattern, server in CUSTOM_IMAGES if variant == "custom" and pattern.search(url)),
                tgi.SERVER)
