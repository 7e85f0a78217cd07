"""The inference surface at each endpoint's `status.url` (`{base}/e/{namespace}/{name}`): the platform
proxy (auth per endpoint type, paused/scaled-to-zero/starting gates, `X-Scale-Up-Timeout`) in front of an
emulated TGI container (`/health`, `/info`, `POST /`, `/generate`, `/generate_stream`, `/v1/chat/completions`,
`/v1/models`).

An emulator has no model: tokens are whitespace-separated words, and the generated text is the words of the
reply text (`DEFAULT_REPLY`, or `--reply` / `/_emulator/config` `reply`) in order, whatever the prompt:
`max_new_tokens` truncates it (finish reason `length`), a `stop` sequence cuts it right after the sequence
(`stop_sequence`), otherwise it ends after the last word (`eos_token`).
"""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from emulator import wire
from emulator.errors import ApiError, Forbidden, NotFound, ShapeError, Unauthorized
from emulator.models import SERVING, Endpoint, State
from emulator.store import Config, Store

DEFAULT_REPLY = "Hello from the hf-endpoints emulator. This reply is deterministic and ignores the prompt."
TGI_VERSION = "3.3.6"


class TgiError(ApiError):
    """TGI's error body: `{"error": ..., "error_type": ...}`."""

    def __init__(self, message: str, error_type: str = "validation", status: int = 422):
        super().__init__(message, status)
        self.error_type = error_type

    def body(self) -> tuple[bytes, str]:
        return json.dumps({"error": self.message, "error_type": self.error_type}).encode(), "application/json"


def _env_int(env: dict, keys: tuple[str, ...], default: int) -> int:
    for k in keys:
        try:
            return int(env[k])
        except (KeyError, TypeError, ValueError):
            continue
    return default


def _token(word: str, i: int) -> dict:
    return {"id": zlib.crc32(word.encode()) % 32000, "text": word if i == 0 else f" {word}",
            "logprob": -0.125, "special": False}


def _content_text(content: Any, path: str) -> str:
    """TGI's `MessageContent`: a string, or a list of `{"type": "text", "text": str}` and
    `{"type": "image_url", "image_url": {"url": str}}` parts (an untagged enum: any other shape is serde's
    422 naming the enum). Returns the text the prompt counts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    mismatch = ShapeError(path, "data did not match any variant of untagged enum MessageContent")
    if not isinstance(content, list):
        raise mismatch
    texts = []
    for part in content:
        if not isinstance(part, dict):
            raise mismatch
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif not (part.get("type") == "image_url" and isinstance(part.get("image_url"), dict)
                  and isinstance(part["image_url"].get("url"), str)):
            raise mismatch
    return " ".join(texts)


class Generation:
    """A deterministic generation: the reply's words, bounded by max_new_tokens and stop sequences."""

    def __init__(self, reply: str, prompt_tokens: int, max_new: int, stop: list[str]):
        self.prompt_tokens = prompt_tokens
        self.tokens: list[dict] = []
        text, self.finish_reason = "", "eos_token"
        words = reply.split()
        for i, w in enumerate(words[:max_new]):
            tok = _token(w, i)
            self.tokens.append(tok)
            text += tok["text"]
            if any(s and s in text for s in stop):
                self.finish_reason = "stop_sequence"
                break
        else:
            if len(words) > max_new:
                self.finish_reason = "length"
        self.text = text

    def details(self, seed: int | None = None) -> dict:
        return {"finish_reason": self.finish_reason, "generated_tokens": len(self.tokens), "seed": seed,
                "prefill": [], "tokens": self.tokens}

    @property
    def openai_finish(self) -> str:
        return "length" if self.finish_reason == "length" else "stop"


class Tgi:
    """Handles `/e/{namespace}/{name}/{path}`. Built from what it needs, not from the app: the store (state,
    wake, idle timer), the live config (the reply text) and `identify` (Authorization header -> identity dict
    with `user` and `namespaces`, or None)."""

    def __init__(self, store: Store, config: Config, identify: Callable[[str | None], dict | None]):
        self.store, self.config, self.identify = store, config, identify

    # ----------------------------------------------------------------------------------------- proxy
    def _authorize(self, request: Request, namespace: str, ep_type: str) -> None:
        if ep_type == "public":
            return
        identity = self.identify(request.headers.get("authorization"))
        if identity is None:
            raise Unauthorized("Authorization header is correct, but the token seems invalid"
                               if request.headers.get("authorization") else "Authorization header is missing")
        if ep_type == "private" and namespace not in identity["namespaces"]:
            raise Forbidden(f"User '{identity['user']}' has no access to this private endpoint of '{namespace}'")

    async def handle(self, request: Request) -> Response:
        ns, name = request.path_params["namespace"], request.path_params["name"]
        path = request.path_params.get("path", "").strip("/")
        store = self.store
        ep, state = store.lookup(ns, name)
        self._authorize(request, ns, ep.config["type"])
        if state == State.PAUSED:
            return PlainTextResponse("Bad Request: endpoint is paused", status_code=400)
        if state == State.SCALED_TO_ZERO:
            state = store.wake(ns, name)
        if state not in SERVING:
            state = await self._hold(request, ns, name, state)
            if state not in SERVING:
                return JSONResponse({"error": f"Service Unavailable: endpoint is {state}; retry later, or send "
                                              "X-Scale-Up-Timeout: <seconds> to wait for a replica",
                                     "error_type": "unavailable"}, status_code=503)
        health = {"", "health", "ping", ep.health_route().strip("/")}
        if request.method == "GET" and path in health:
            return Response(status_code=200)
        store.touch(ns, name)
        route = (request.method, path)
        if route == ("GET", "info"):
            return JSONResponse(self.info(ep))
        if route == ("GET", "v1/models"):
            return JSONResponse({"object": "list", "data": [
                {"id": self._model_id(ep), "object": "model", "created": int(ep.created_at), "owned_by": ns}]})
        if request.method == "POST" and path in ("", "generate", "generate_stream"):
            return self.generate(ep, await wire.json_body(request), path)
        if route == ("POST", "v1/chat/completions"):
            return self.chat(ep, await wire.json_body(request))
        raise NotFound(f"No route {request.method} /{path} on this endpoint")

    async def _hold(self, request: Request, ns: str, name: str, state: State) -> State:
        """Honour `X-Scale-Up-Timeout: <seconds>`: hold the request until a replica is running."""
        try:
            timeout = float(request.headers.get("x-scale-up-timeout", "0"))
        except ValueError:
            timeout = 0.0
        deadline = time.monotonic() + min(timeout, 600.0)
        while state not in SERVING and state != State.FAILED and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            _, state = self.store.lookup(ns, name)
        return state

    # ----------------------------------------------------------------------------------------- TGI
    @staticmethod
    def _model_id(ep: Endpoint) -> str:
        return ep.config["model"]["env"].get("MODEL_ID") or ep.config["model"]["repository"]

    def _limits(self, ep: Endpoint) -> tuple[int, int]:
        env = ep.config["model"]["env"]
        return (_env_int(env, ("MAX_INPUT_LENGTH", "MAX_INPUT_TOKENS"), 1024),
                _env_int(env, ("MAX_TOTAL_TOKENS",), 2048))

    def info(self, ep: Endpoint) -> dict:
        max_input, max_total = self._limits(ep)
        return {"model_id": self._model_id(ep), "model_sha": ep.config["model"].get("revision"),
                "model_pipeline_tag": ep.config["model"].get("task") or "text-generation",
                "max_concurrent_requests": 128, "max_best_of": 2, "max_stop_sequences": 4,
                "max_input_tokens": max_input, "max_total_tokens": max_total, "validation_workers": 2,
                "max_client_batch_size": 4, "router": "text-generation-router", "version": TGI_VERSION,
                "sha": None, "docker_label": None}

    def _generation(self, ep: Endpoint, prompt_tokens: int, max_new: int | None, stop: list[str]) -> Generation:
        max_input, max_total = self._limits(ep)
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
        return Generation(self.config.reply or DEFAULT_REPLY, prompt_tokens, max_new, stop)

    def generate(self, ep: Endpoint, body: Any, path: str) -> Response:
        body = wire.obj(body, "", "struct GenerateRequest")
        if "inputs" not in body:
            raise ShapeError("", "missing field `inputs`")
        inputs = wire.string(body["inputs"], "inputs")
        params = wire.obj(body.get("parameters") or {}, "parameters")
        max_new = params.get("max_new_tokens")
        max_new = None if max_new is None else wire.uint(max_new, "parameters.max_new_tokens")
        stop = wire.str_list(params.get("stop") or [], "parameters.stop")
        stream = path == "generate_stream" or (path == "" and wire.boolean(body.get("stream", False), "stream"))
        gen = self._generation(ep, len(inputs.split()), max_new, stop)
        seed = params.get("seed") if isinstance(params.get("seed"), int) else None
        if stream:
            return StreamingResponse(self._tgi_events(gen, inputs, seed), media_type="text/event-stream")
        text = (inputs + gen.text) if params.get("return_full_text") is True else gen.text
        details = gen.details(seed) if params.get("details") is True else None
        result = {"generated_text": text, "details": details}
        headers = {"x-compute-type": ep.config["compute"]["instanceType"], "x-compute-time": "0.001",
                   "x-prompt-tokens": str(gen.prompt_tokens), "x-generated-tokens": str(len(gen.tokens))}
        return JSONResponse([result] if path == "" else result, headers=headers)

    @staticmethod
    def _tgi_events(gen: Generation, inputs: str, seed: int | None) -> Iterator[str]:
        for i, tok in enumerate(gen.tokens):
            last = i == len(gen.tokens) - 1
            event = {"index": i, "token": tok, "top_tokens": None,
                     "generated_text": gen.text if last else None,
                     "details": {"finish_reason": gen.finish_reason, "generated_tokens": len(gen.tokens),
                                 "input_length": gen.prompt_tokens, "seed": seed} if last else None}
            yield f"data:{json.dumps(event)}\n\n"

    def chat(self, ep: Endpoint, body: Any) -> Response:
        body = wire.obj(body, "", "struct ChatRequest")
        if "messages" not in body:
            raise ShapeError("", "missing field `messages`")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise ShapeError("messages", f"invalid type: {type(messages).__name__}, expected a sequence")
        words = 0
        for i, m in enumerate(messages):
            m = wire.obj(m, f"messages[{i}]", "struct Message")
            words += len(_content_text(m.get("content"), f"messages[{i}].content").split())
        max_new = None if body.get("max_tokens") is None else wire.uint(body["max_tokens"], "max_tokens")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else wire.str_list(stop, "stop")
        gen = self._generation(ep, words, max_new, stop)
        model, created = self._model_id(ep), int(time.time())
        base = {"id": "", "created": created, "model": model, "system_fingerprint": f"{TGI_VERSION}-native"}
        if wire.boolean(body.get("stream", False), "stream"):
            return StreamingResponse(self._chat_events(gen, base), media_type="text/event-stream")
        return JSONResponse({**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": gen.text}, "logprobs": None,
             "finish_reason": gen.openai_finish}],
            "usage": {"prompt_tokens": words, "completion_tokens": len(gen.tokens),
                      "total_tokens": words + len(gen.tokens)}})

    @staticmethod
    def _chat_events(gen: Generation, base: dict) -> Iterator[str]:
        for i, tok in enumerate(gen.tokens):
            last = i == len(gen.tokens) - 1
            chunk = {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": tok["text"]}, "logprobs": None,
                 "finish_reason": gen.openai_finish if last else None}]}
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"
