"""An emulated llama.cpp server (`llama-server`, as upstream llama.cpp at 0c1e57098, bundled in llama-cpp-python
0.3.36, serves it).

Routes: `GET /health` (`{"status": "ok"}`), `GET /props`, `GET /v1/models` (its `models` and `data` lists, `owned_by:
llamacpp`), `POST /completion` (native: `prompt`, `n_predict` -> `content`, `tokens_predicted`, `stop_type`, ...),
`POST /completions`, `/v1/completions`, `/v1/chat/completions`. The context: `ctxSize` of the image (else the model's
context length) shared by `nParallel` slots (each gets ctxSize / nParallel; unset: one unified cache, the whole
context each). A prompt that does not fit its slot is llama.cpp's 400 `exceed_context_size_error`; a reply that would
run past the slot stops there (`stop_type: limit`), as llama.cpp does without context shift.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator import wire
from emulator.engines.base import EngineError, Generation, OpenAiServer, Served, words
from emulator.errors import ApiError, NotFound, ShapeError


class LlamaCppServer(OpenAiServer):
    owned_by = "llamacpp"

    @staticmethod
    def slot_context(s: Served) -> int:
        ctx = s.image.get("ctxSize") or s.context_length()
        slots = s.image.get("nParallel")
        return int(ctx) // int(slots) if slots else int(ctx)

    def max_total(self, s: Served) -> int:
        return self.slot_context(s)

    def health_body(self) -> dict | None:
        return {"status": "ok"}

    def too_long(self, s: Served, prompt_tokens: int, max_new: int, limit: int) -> ApiError:
        return EngineError(400, {"error": {
            "code": 400, "message": f"request ({prompt_tokens} tokens) exceeds the available context size ({limit} "
                                    "tokens), try increasing it",
            "type": "exceed_context_size_error", "n_prompt_tokens": prompt_tokens, "n_ctx": limit}})

    def generation(self, s: Served, prompt_tokens: int, max_new: int | None, stop: list[str]) -> Generation:
        limit = self.slot_context(s)
        if prompt_tokens >= limit:
            raise self.too_long(s, prompt_tokens, max_new or 0, limit)
        room = limit - prompt_tokens
        return Generation(s.reply, prompt_tokens, room if max_new is None or max_new < 0 else min(max_new, room),
                          stop)

    def models(self, s: Served) -> Response:
        entry = {"id": s.repository, "object": "model", "created": int(s.endpoint.created_at), "owned_by": "llamacpp",
                 "meta": {"n_ctx": self.slot_context(s), "n_ctx_train": s.context_length()}}
        return JSONResponse({"models": [{"name": s.repository, "model": s.repository}], "object": "list",
                             "data": [entry]})

    def props(self, s: Served) -> dict:
        return {"default_generation_settings": {"n_ctx": self.slot_context(s), "params": {}},
                "total_slots": int(s.image.get("nParallel") or 4), "model_alias": s.repository,
                "model_path": s.image.get("modelPath") or "/repository/model.gguf", "modalities": {"vision": False},
                "chat_template": "", "build_info": "emulated"}

    def completion(self, s: Served, body: object) -> Response:
        body = wire.obj(body, "", "struct CompletionRequest")
        if "prompt" not in body:
            raise ShapeError("", "missing field `prompt`")
        prompt = wire.string(body["prompt"], "prompt")
        n_predict = body.get("n_predict", -1)
        n_predict = -1 if n_predict is None else int(n_predict) if isinstance(n_predict, int) else -1
        gen = self.generation(s, words(prompt), None if n_predict < 0 else n_predict, self._stop(body))
        return JSONResponse({
            "index": 0, "content": gen.text, "tokens": [], "id_slot": 0, "stop": True, "model": s.repository,
            "tokens_predicted": len(gen.tokens), "tokens_evaluated": gen.prompt_tokens, "generation_settings": {},
            "prompt": prompt, "has_new_line": False, "truncated": False,
            "stop_type": "limit" if gen.finish_reason == "length" else "word" if gen.finish_reason == "stop_sequence"
            else "eos", "stopping_word": "", "tokens_cached": 0,
            "timings": {"prompt_n": gen.prompt_tokens, "predicted_n": len(gen.tokens), "predicted_ms": 1.0,
                        "at": time.time()}})

    async def handle(self, s: Served, request: Request, path: str) -> Response:
        route = (request.method, path)
        if route == ("GET", "props"):
            return JSONResponse(self.props(s))
        if route in (("GET", "v1/models"), ("GET", "models")):
            return self.models(s)
        if route == ("POST", "completion"):
            return self.completion(s, await wire.json_body(request))
        if route in (("POST", "completions"), ("POST", "v1/completions")):
            return self.completions(s, await wire.json_body(request))
        if route in (("POST", "v1/chat/completions"), ("POST", "chat/completions")):
            return self.chat(s, await wire.json_body(request))
        raise NotFound(f"No route {request.method} /{path} on this endpoint")


SERVER = LlamaCppServer()
