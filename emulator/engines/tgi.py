"""An emulated TGI container (text-generation-inference), by the version its image tag names.

Routes ([TGI] `router/src/server.rs`): `/health` (also `/`, `/ping`), `/info`, `POST /`, `/generate`,
`/generate_stream` in every version; the Messages API `/v1/chat/completions` from 1.4.0 (#1427), `/v1/completions`
from 1.4.4 (#1527), `/v1/models` from 2.0.0 (GUESS: the contract lists it for 3.3.6, no source dates it); in chat,
`stream_options.include_usage` from 2.3.0 (#2533, the usage chunk) and `max_completion_tokens` as an alias of
`max_tokens` from 3.0.2 (#2845). `/info` reports the tag's version; an image whose tag names none (the default image,
`latest`, another engine's custom image) answers as TGI 3.3.6, as every image did before engines were emulated.
Limits: `MAX_INPUT_LENGTH`/`MAX_INPUT_TOKENS` (default 1024) and `MAX_TOTAL_TOKENS` (default 2048) from `model.env`,
or the `tgi` image's `maxInputLength`/`maxTotalTokens`; over them a 422 `validation` error, as TGI words it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator import wire
from emulator.engines.base import Generation, OpenAiServer, Served, words
from emulator.errors import ApiError, NotFound, ShapeError

LEGACY_VERSION = (3, 3, 6)
CHAT, COMPLETIONS, MODELS = (1, 4, 0), (1, 4, 4), (2, 0, 0)
INCLUDE_USAGE, MAX_COMPLETION_TOKENS = (2, 3, 0), (3, 0, 2)


class TgiError(ApiError):
    """TGI's error body: `{"error": ..., "error_type": ...}`."""

    def __init__(self, message: str, error_type: str = "validation", status: int = 422):
        super().__init__(message, status)
        self.error_type = error_type

    def body(self) -> tuple[bytes, str]:
        return json.dumps({"error": self.message, "error_type": self.error_type}).encode(), "application/json"


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def version(s: Served) -> tuple[int, int, int]:
    url = str(s.image.get("url") or "")
    tag = url.rsplit(":", 1)[1] if ":" in url.rsplit("/", 1)[-1] else ""
    named = "text-generation-inference" in url or "tgi" in url
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", tag) if named else None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)) if match else LEGACY_VERSION


def version_text(s: Served) -> str:
    return ".".join(map(str, version(s)))


class TgiServer(OpenAiServer):
    owned_by = "huggingface"

    def limits(self, s: Served) -> tuple[int, int]:
        env = s.env
        max_input = (_int(env.get("MAX_INPUT_LENGTH")) or _int(env.get("MAX_INPUT_TOKENS"))
                     or _int(s.image.get("maxInputLength")) or 1024)
        return max_input, _int(env.get("MAX_TOTAL_TOKENS")) or _int(s.image.get("maxTotalTokens")) or 2048

    @staticmethod
    def model_id(s: Served) -> str:
        return s.env.get("MODEL_ID") or s.repository

    def served_name(self, s: Served) -> str:
        return self.model_id(s)

    def max_total(self, s: Served) -> int:
        return self.limits(s)[1]

    def fingerprint(self, s: Served) -> str | None:
        return f"{version_text(s)}-native"

    def response_id(self, prefix: str, seed: str) -> str:
        return ""  # TGI's Messages API answers with an empty id

    def info(self, s: Served) -> dict:
        max_input, max_total = self.limits(s)
        return {"model_id": self.model_id(s), "model_sha": s.endpoint.config["model"].get("revision"),
                "model_pipeline_tag": s.endpoint.config["model"].get("task") or "text-generation",
                "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4,
                "max_input_tokens": max_input, "max_total_tokens": max_total, "validation_workers": 2,
                "max_client_batch_size": 4, "router": "text-generation-router", "version": version_text(s),
                "sha": None, "docker_label": None}

    def generation(self, s: Served, prompt_tokens: int, max_new: int | None, stop: list[str]) -> Generation:
        max_input, max_total = self.limits(s)
        if prompt_tokens > max_input:
            raise TgiError(f"Input validation error: `inputs` must have less than {max_input} tokens. "
                           f"Given: {prompt_tokens}")
        if max_new is None:
            max_new = max(max_total - prompt_tokens, 1)
        if max_new == 0:
            raise TgiError("Input validation error: `max_new_tokens` must be strictly positive")
        if prompt_tokens + max_new > max_total:
            raise TgiError(f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {max_total}. "
                           f"Given: {prompt_tokens} `inputs` tokens and {max_new} `max_new_tokens`")
        if len(stop) > 4:
            raise TgiError(f"Input validation error: `stop` supports up to 4 stop sequences. Given: {len(stop)}")
        return Generation(s.reply, prompt_tokens, max_new, stop)

    async def handle(self, s: Served, request: Request, path: str) -> Response:
        route, at = (request.method, path), version(s)
        if route == ("GET", "info"):
            return JSONResponse(self.info(s))
        if route == ("GET", "v1/models") and at >= MODELS:
            return self.models(s)
        if request.method == "POST" and path in ("", "generate", "generate_stream"):
            return self.generate(s, await wire.json_body(request), path)
        if route == ("POST", "v1/chat/completions") and at >= CHAT:
            body = await wire.json_body(request)
            if isinstance(body, dict):
                if at < MAX_COMPLETION_TOKENS:
                    body.pop("max_completion_tokens", None)
                if at < INCLUDE_USAGE:
                    body.pop("stream_options", None)
            return self.chat(s, body)
        if route == ("POST", "v1/completions") and at >= COMPLETIONS:
            return self.completions(s, await wire.json_body(request))
        raise NotFound(f"No route {request.method} /{path} on this endpoint")

    def generate(self, s: Served, body: Any, path: str) -> Response:
        body = wire.obj(body, "", "struct GenerateRequest")
        if "inputs" not in body:
            raise ShapeError("", "missing field `inputs`")
        inputs = wire.string(body["inputs"], "inputs")
        params = wire.obj(body.get("parameters") or {}, "parameters")
        max_new = params.get("max_new_tokens")
        max_new = None if max_new is None else wire.uint(max_new, "parameters.max_new_tokens")
        stop = wire.str_list(params.get("stop") or [], "parameters.stop")
        stream = path == "generate_stream" or (path == "" and wire.boolean(body.get("stream", False), "stream"))
        gen = self.generation(s, words(inputs), max_new, stop)
        seed = params.get("seed") if isinstance(params.get("seed"), int) else None
        if stream:
            return StreamingResponse(self._tgi_events(gen, seed), media_type="text/event-stream")
        text = (inputs + gen.text) if params.get("return_full_text") is True else gen.text
        details = gen.details(seed) if params.get("details") is True else None
        result = {"generated_text": text, "details": details}
        headers = {"x-compute-type": s.endpoint.config["compute"]["instanceType"], "x-compute-time": "0.001",
                   "x-prompt-tokens": str(gen.prompt_tokens), "x-generated-tokens": str(len(gen.tokens))}
        return JSONResponse([result] if path == "" else result, headers=headers)

    @staticmethod
    def _tgi_events(gen: Generation, seed: int | None) -> Iterator[str]:
        for i, tok in enumerate(gen.tokens):
            last = i == len(gen.tokens) - 1
            event = {"index": i, "token": tok, "top_tokens": None,
                     "generated_text": gen.text if last else None,
                     "details": {"finish_reason": gen.finish_reason, "generated_tokens": len(gen.tokens),
                                 "input_length": gen.prompt_tokens, "seed": seed} if last else None}
            yield f"data:{json.dumps(event)}\n\n"


SERVER = TgiServer()
