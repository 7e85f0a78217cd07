"""An emulated vLLM OpenAI server (`vllm serve`), also standing in for SGLang's (`sglang.py` names the differences).

Routes (vllm 0.23.0 `entrypoints/openai`): `GET /health` (200, empty), `GET /version` (`{"version": ...}`, the image
tag's), `GET /v1/models` (the served name, `owned_by: vllm`, `max_model_len`), `POST /v1/chat/completions`,
`POST /v1/completions`. `max_model_len` is `--max-model-len` from the endpoint's `args`, else the model's context
length from the emulator's Hub. A request over it is vLLM's 400 in its nested error shape, worded as 0.23.0 words it
(`renderers/params.py`). The served name is the repository id (GUESS: vLLM's default would be the mount path
`/repository`; the Inference Endpoints docs do not say), and any `model` in a request is accepted (GUESS, see
`OpenAiServer.check_model`).
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator import wire
from emulator.engines.base import EngineError, OpenAiServer, Served
from emulator.errors import ApiError, NotFound


def image_version(s: Served, default: str) -> str:
    url = str(s.image.get("url") or "")
    tag = url.rsplit(":", 1)[1] if ":" in url.rsplit("/", 1)[-1] else ""
    match = re.match(r"v?(\d+\.\d+(?:\.\d+)?)", tag)
    return match.group(1) if match else default


class VllmServer(OpenAiServer):
    owned_by = "vllm"
    length_flag = "--max-model-len"
    default_version = "0.23.0"

    def max_total(self, s: Served) -> int:
        given = s.arg(self.length_flag)
        return int(given) if given and given.isdigit() and int(given) > 0 else s.context_length()

    def too_long(self, s: Served, prompt_tokens: int, max_new: int, limit: int) -> ApiError:
        return self.bad_request(s, (
            f"This model's maximum context length is {limit} tokens. However, you requested {max_new} output tokens "
            f"and your prompt contains {prompt_tokens} input tokens, for a total of {prompt_tokens + max_new} tokens. "
            "Please reduce the length of the input prompt or the number of requested output tokens. "
            f"(parameter=input_tokens, value={prompt_tokens})"), "input_tokens")

    async def handle(self, s: Served, request: Request, path: str) -> Response:
        route = (request.method, path)
        if route == ("GET", "version"):
            return JSONResponse({"version": image_version(s, self.default_version)})
        if route == ("GET", "v1/models"):
            return self.models(s)
        if route == ("POST", "v1/chat/completions"):
            return self.chat(s, await wire.json_body(request))
        if route == ("POST", "v1/completions"):
            return self.completions(s, await wire.json_body(request))
        raise EngineError(404, {"detail": "Not Found"}) if request.method == "GET" else NotFound(
            f"No route {request.method} /{path} on this endpoint")


SERVER = VllmServer()
