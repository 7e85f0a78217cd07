"""What every emulated serving container shares: the deterministic generation, token counting, embedding vectors,
and the OpenAI-compatible routes (`/v1/models`, `/v1/chat/completions`, `/v1/completions`) that TGI (from 1.4),
vLLM, SGLang and llama.cpp serve, each with its own limits, error shapes and names.

An emulator has no model: tokens are whitespace-separated words, and the generated text is the words of the reply
text (`DEFAULT_REPLY`, or `--reply` / `/_emulator/config` `reply`) in order, whatever the prompt: `max_new_tokens`
truncates it (finish reason `length`), a `stop` sequence cuts it right after the sequence (`stop_sequence`),
otherwise it ends after the last word (`eos_token`). Embeddings are unit vectors derived from the text's hash.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, Response, StreamingResponse

from emulator import wire
from emulator.errors import ApiError, ShapeError
from emulator.models import Endpoint

DEFAULT_REPLY = "Hello from the hf-endpoints emulator. This reply is deterministic and ignores the prompt."
DEFAULT_CONTEXT = 4096  # a model the emulator's Hub does not know
DEFAULT_DIMENSION = 768


class EngineError(ApiError):
    """An answer of the container itself, in its engine's own JSON shape."""

    def __init__(self, status: int, payload: dict):
        super().__init__(json.dumps(payload), status)
        self.payload = payload

    def body(self) -> tuple[bytes, str]:
        return json.dumps(self.payload).encode(), "application/json"


@dataclass(frozen=True)
class Served:
    """What a container knows of its endpoint: the stored record (a copy), its image variant and settings, the
    reply text, and the config.json of its repository when the emulator's Hub has it."""

    endpoint: Endpoint
    variant: str
    image: dict
    reply: str
    model_config: dict | None

    @property
    def env(self) -> dict:
        return self.endpoint.config["model"]["env"]

    @property
    def repository(self) -> str:
        return self.endpoint.config["model"]["repository"]

    @property
    def args(self) -> list[str]:
        return list(self.endpoint.config["model"].get("args") or [])

    def arg(self, flag: str) -> str | None:
        args = self.args
        for index, item in enumerate(args):
            if item == flag and index + 1 < len(args):
                return args[index + 1]
            if item.startswith(f"{flag}="):
                return item.split("=", 1)[1]
        return None

    def context_length(self) -> int:
        """The model's context length from its config.json (DEFAULT_CONTEXT when unknown)."""
        config = self.model_config or {}
        text = config.get("text_config") if isinstance(config.get("text_config"), dict) else {}
        for key in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            value = {**config, **text}.get(key)
            if isinstance(value, int) and value > 0:
                return value
        return DEFAULT_CONTEXT

    def dimension(self) -> int:
        """The embedding dimension: the model's hidden size (DEFAULT_DIMENSION when unknown)."""
        config = self.model_config or {}
        for key in ("hidden_size", "n_embd", "d_model"):
            if isinstance(config.get(key), int) and config[key] > 0:
                return config[key]
        return DEFAULT_DIMENSION


def words(text: str) -> int:
    return len(text.split())


def token(word: str, i: int) -> dict:
    return {"id": zlib.crc32(word.encode()) % 32000, "text": word if i == 0 else f" {word}",
            "logprob": -0.125, "special": False}


class Generation:
    """A deterministic generation: the reply's words, bounded by max_new_tokens and stop sequences."""

    def __init__(self, reply: str, prompt_tokens: int, max_new: int, stop: list[str]):
        self.prompt_tokens = prompt_tokens
        self.tokens: list[dict] = []
        text, self.finish_reason = "", "eos_token"
        all_words = reply.split()
        for i, w in enumerate(all_words[:max_new]):
            tok = token(w, i)
            self.tokens.append(tok)
            text += tok["text"]
            if any(s and s in text for s in stop):
                self.finish_reason = "stop_sequence"
                break
        else:
            if len(all_words) > max_new:
                self.finish_reason = "length"
        self.text = text

    def details(self, seed: int | None = None) -> dict:
        return {"finish_reason": self.finish_reason, "generated_tokens": len(self.tokens), "seed": seed,
                "prefill": [], "tokens": self.tokens}

    @property
    def openai_finish(self) -> str:
        return "length" if self.finish_reason == "length" else "stop"


def content_text(content: Any, path: str) -> str:
    """An OpenAI message's `content`: a string, or a list of `{"type": "text", "text": str}` and
    `{"type": "image_url", "image_url": {"url": str}}` parts (any other shape is serde's 422 naming TGI's untagged
    enum). Returns the text the prompt counts."""
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


def vector(text: str, dimension: int) -> list[float]:
    """A unit vector of `dimension` numbers, the same for the same text (as TEI normalizes by default)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimension:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((n / 2**31) - 1.0 for n in struct.unpack("<8I", digest))
        counter += 1
    values = values[:dimension]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


class OpenAiServer:
    """The OpenAI-compatible routes, for a container whose limits, error shape and names a subclass gives."""

    owned_by = "emulator"

    def health_body(self) -> dict | None:
        """The health route's JSON body (None: an empty 200)."""
        return None

    # --- what a subclass says ------------------------------------------------------------------------------
    def served_name(self, s: Served) -> str:
        return s.repository

    def max_total(self, s: Served) -> int:
        return s.context_length()

    def fingerprint(self, s: Served) -> str | None:
        return None

    def response_id(self, prefix: str, seed: str) -> str:
        return f"{prefix}-{zlib.crc32(seed.encode()):08x}"

    def too_long(self, s: Served, prompt_tokens: int, max_new: int, limit: int) -> ApiError:
        raise NotImplementedError

    def bad_request(self, s: Served, message: str, param: str | None = None) -> ApiError:
        return EngineError(400, {"error": {"message": message, "type": "BadRequestError", "param": param,
                                           "code": 400}})

    def check_model(self, s: Served, model: Any) -> None:
        """GUESS: the emulated containers answer to any `model` (huggingface_hub's InferenceClient sends "dummy",
        @huggingface/inference the endpoint URL); the provider's own smoke test sends the name /v1/models gives."""

    # --- routes --------------------------------------------------------------------------------------------
    def models(self, s: Served) -> Response:
        return JSONResponse({"object": "list", "data": [
            {"id": self.served_name(s), "object": "model", "created": int(s.endpoint.created_at),
             "owned_by": self.owned_by, "max_model_len": self.max_total(s)}]})

    def generation(self, s: Served, prompt_tokens: int, max_new: int | None, stop: list[str]) -> Generation:
        limit = self.max_total(s)
        if max_new is None:
            max_new = max(limit - prompt_tokens, 1)
        if prompt_tokens + max_new > limit:
            raise self.too_long(s, prompt_tokens, max_new, limit)
        return Generation(s.reply, prompt_tokens, max_new, stop)

    @staticmethod
    def _max_new(body: dict) -> int | None:
        value = body.get("max_completion_tokens", body.get("max_tokens"))
        return None if value is None else wire.uint(value, "max_tokens")

    @staticmethod
    def _stop(body: dict) -> list[str]:
        stop = body.get("stop") or []
        return [stop] if isinstance(stop, str) else wire.str_list(stop, "stop")

    def chat(self, s: Served, body: Any) -> Response:
        body = wire.obj(body, "", "struct ChatRequest")
        if "messages" not in body:
            raise ShapeError("", "missing field `messages`")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise ShapeError("messages", f"invalid type: {type(messages).__name__}, expected a sequence")
        self.check_model(s, body.get("model"))
        prompt = 0
        for i, m in enumerate(messages):
            m = wire.obj(m, f"messages[{i}]", "struct Message")
            prompt += words(content_text(m.get("content"), f"messages[{i}].content"))
        gen = self.generation(s, prompt, self._max_new(body), self._stop(body))
        base = {"id": self.response_id("chatcmpl", repr(body)), "created": int(time.time()),
                "model": self.served_name(s), "system_fingerprint": self.fingerprint(s)}
        logprobs = body.get("logprobs") is True
        usage = {"prompt_tokens": prompt, "completion_tokens": len(gen.tokens),
                 "total_tokens": prompt + len(gen.tokens)}
        if wire.boolean(body.get("stream", False), "stream"):
            options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
            return StreamingResponse(self._chat_events(gen, base, usage if options.get("include_usage") else None,
                                                       logprobs), media_type="text/event-stream")
        return JSONResponse({**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": gen.text},
             "logprobs": self._logprobs(gen.tokens) if logprobs else None, "finish_reason": gen.openai_finish}],
            "usage": usage})

    @staticmethod
    def _logprobs(tokens: list[dict]) -> dict:
        return {"content": [{"token": t["text"], "logprob": t["logprob"], "top_logprobs": []} for t in tokens]}

    def _chat_events(self, gen: Generation, base: dict, usage: dict | None, logprobs: bool) -> Iterator[str]:
        for i, tok in enumerate(gen.tokens):
            last = i == len(gen.tokens) - 1
            chunk = {**base, "object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": tok["text"]},
                 "logprobs": self._logprobs([tok]) if logprobs else None,
                 "finish_reason": gen.openai_finish if last else None}], "usage": None}
            yield f"data: {json.dumps(chunk)}\n\n"
        if usage is not None:  # `stream_options.include_usage`: one more chunk, no choices, the usage
            yield f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    def completions(self, s: Served, body: Any) -> Response:
        body = wire.obj(body, "", "struct CompletionRequest")
        if "prompt" not in body:
            raise ShapeError("", "missing field `prompt`")
        prompt = body["prompt"]
        prompt = prompt[0] if isinstance(prompt, list) and len(prompt) == 1 else prompt
        prompt = wire.string(prompt, "prompt")
        self.check_model(s, body.get("model"))
        gen = self.generation(s, words(prompt), self._max_new(body), self._stop(body))
        base = {"id": self.response_id("cmpl", prompt), "created": int(time.time()),
                "model": self.served_name(s), "system_fingerprint": self.fingerprint(s)}
        usage = {"prompt_tokens": gen.prompt_tokens, "completion_tokens": len(gen.tokens),
                 "total_tokens": gen.prompt_tokens + len(gen.tokens)}
        if wire.boolean(body.get("stream", False), "stream"):
            return StreamingResponse(self._completion_events(gen, base), media_type="text/event-stream")
        return JSONResponse({**base, "object": "text_completion", "choices": [
            {"index": 0, "text": gen.text, "logprobs": None, "finish_reason": gen.openai_finish}], "usage": usage})

    @staticmethod
    def _completion_events(gen: Generation, base: dict) -> Iterator[str]:
        for i, tok in enumerate(gen.tokens):
            last = i == len(gen.tokens) - 1
            chunk = {**base, "object": "text_completion", "choices": [
                {"index": 0, "text": tok["text"], "logprobs": None,
                 "finish_reason": gen.openai_finish if last else None}]}
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"
