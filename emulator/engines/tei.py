"""An emulated TEI container (text-embeddings-inference, as v1.9.3 `router/src/http/server.rs` serves it).

Routes: `GET /health` (200, empty), `GET /info`, `POST /embed` (`inputs`: a string or a list of strings; one unit
vector per input, `[[...]]`, of the model's dimension: its hidden size from the emulator's Hub), `POST /` (the same,
for an embedding model), `POST /v1/embeddings` (OpenAI's shape). Inputs longer than the model's `max_input_length`
(its context length) are truncated unless `truncate: false`, then a 422. Errors: `{"error", "error_type"}` with
TEI's capitalised types (`Validation`, `Empty`). `max_batch_tokens` 16384, `max_concurrent_requests` 512 and
`max_client_batch_size` 32 unless the image sets the first two.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from emulator import wire
from emulator.engines.base import EngineError, Served, vector, words
from emulator.errors import NotFound, ShapeError

MAX_CLIENT_BATCH = 32


def _error(status: int, message: str, error_type: str) -> EngineError:
    return EngineError(status, {"error": message, "error_type": error_type})


class TeiServer:
    def health_body(self) -> dict | None:
        return None

    @staticmethod
    def info(s: Served) -> dict:
        return {"model_id": s.repository, "model_sha": s.endpoint.config["model"].get("revision"),
                "model_dtype": "float16", "served_model_name": s.repository,
                "model_type": {"embedding": {"pooling": s.image.get("pooling") or "cls"}},
                "max_concurrent_requests": int(s.image.get("maxConcurrentRequests") or 512),
                "max_input_length": s.context_length(),
                "max_batch_tokens": int(s.image.get("maxBatchTokens") or 16384),
                "max_batch_requests": None, "max_client_batch_size": MAX_CLIENT_BATCH, "auto_truncate": True,
                "tokenization_workers": 1, "version": "1.9.3", "sha": None, "docker_label": None}

    @staticmethod
    def _inputs(value: object, path: str) -> list[str]:
        inputs = [value] if isinstance(value, str) else value
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise ShapeError(path, "data did not match any variant of untagged enum Input")
        if not inputs:
            raise _error(400, "Batch is empty", "Empty")
        if len(inputs) > MAX_CLIENT_BATCH:
            raise _error(422, f"batch size {len(inputs)} > maximum allowed batch size {MAX_CLIENT_BATCH}",
                         "Validation")
        return inputs

    def _vectors(self, s: Served, inputs: list[str], truncate: bool) -> list[list[float]]:
        limit = s.context_length()
        for text in inputs:
            if not truncate and words(text) > limit:
                raise _error(422, f"`inputs` must have less than {limit} tokens. Given: {words(text)}", "Validation")
        return [vector(" ".join(text.split()[:limit]), s.dimension()) for text in inputs]

    def embed(self, s: Served, body: object) -> Response:
        body = wire.obj(body, "", "struct EmbedRequest")
        if "inputs" not in body:
            raise ShapeError("", "missing field `inputs`")
        truncate = body.get("truncate")
        return JSONResponse(self._vectors(s, self._inputs(body["inputs"], "inputs"),
                                          True if truncate is None else wire.boolean(truncate, "truncate")))

    def openai(self, s: Served, body: object) -> Response:
        body = wire.obj(body, "", "struct OpenAICompatRequest")
        if "input" not in body:
            raise ShapeError("", "missing field `input`")
        inputs = self._inputs(body["input"], "input")
        vectors = self._vectors(s, inputs, True)
        tokens = sum(words(text) for text in inputs)
        return JSONResponse({"object": "list", "data": [
            {"object": "embedding", "embedding": v, "index": i} for i, v in enumerate(vectors)],
            "model": s.repository, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def handle(self, s: Served, request: Request, path: str) -> Response:
        route = (request.method, path)
        if route == ("GET", "info"):
            return JSONResponse(self.info(s))
        if route in (("POST", "embed"), ("POST", "")):
            return self.embed(s, await wire.json_body(request))
        if route in (("POST", "v1/embeddings"), ("POST", "embeddings")):
            return self.openai(s, await wire.json_body(request))
        raise NotFound(f"No route {request.method} /{path} on this endpoint")


SERVER = TeiServer()
