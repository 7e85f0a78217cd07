"""An emulated SGLang server: vLLM's OpenAI routes (`vllm.py`) with SGLang's names, limits and errors.

`GET /health` answers 200; `GET /v1/models` names the repository (`owned_by: sglang`); the context length is
`--context-length` from the endpoint's `args`, else the model's. Over it, SGLang's 400 (sglang 0.5.23
`managers/tokenizer_manager.py`): "Requested token count exceeds the model's maximum context length of N tokens. You
requested a total of T tokens: P tokens from the input messages and M tokens for the completion. Please reduce the
number of tokens in the input messages or the completion to fit within the limit.", in the OpenAI error shape
`{"object": "error", "message", "type": "BadRequestError", "param": null, "code": 400}` (GUESS: the shape of
SGLang's `ErrorResponse`; no source here quotes a whole body).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator.engines.base import EngineError, Served
from emulator.engines.vllm import VllmServer, image_version
from emulator.errors import ApiError


class SglangServer(VllmServer):
    owned_by = "sglang"
    length_flag = "--context-length"
    default_version = "0.5.23"

    def bad_request(self, s: Served, message: str, param: str | None = None) -> ApiError:
        return EngineError(400, {"object": "error", "message": message, "type": "BadRequestError", "param": None,
                                 "code": 400})

    def too_long(self, s: Served, prompt_tokens: int, max_new: int, limit: int) -> ApiError:
        return self.bad_request(s, (
            f"Requested token count exceeds the model's maximum context length of {limit} tokens. You requested a "
            f"total of {prompt_tokens + max_new} tokens: {prompt_tokens} tokens from the input messages and {max_new} "
            "tokens for the completion. Please reduce the number of tokens in the input messages or the completion "
            "to fit within the limit."))

    async def handle(self, s: Served, request: Request, path: str) -> Response:
        if (request.method, path) == ("GET", "get_server_info"):
            return JSONResponse({"version": image_version(s, self.default_version),
                                 "context_length": self.max_total(s)})
        return await super().handle(s, request, path)


SERVER = SglangServer()
