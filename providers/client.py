"""The only module that talks HTTP: the Inference Endpoints management API and the endpoints' own URLs.

It goes through huggingface_hub's shared HTTP session, headers and `hf_raise_for_status`, so errors are the
same typed `HfHubHTTPError`s a hand-written script would see. The base URL is
`huggingface_hub.constants.INFERENCE_ENDPOINTS_ENDPOINT` unless settings point elsewhere (the emulator).

Retries: 429 (honouring `Retry-After`), 5xx and dropped connections are retried with exponential backoff and
jitter for idempotent calls (GET, PUT, DELETE, pause, resume, scale-to-zero): 8 attempts, or, when the caller gives
a deadline (delete: minutes, `hf-endpoints:deleteTimeoutSeconds`), until that deadline. A POST create is retried
only after a GET shows it did not land; if the endpoint is there and matches what was sent, the create landed.

Imports: huggingface_hub and httpx2 load on the first call, not with this module (see the note below the imports);
diff's listing (`list_endpoints`) does not load them at all.

Token hygiene: the token is stripped as huggingface_hub strips it (a trailing newline made httpx raise "Illegal
header value b'Bearer hf_...\\n'", token included); no repr shows it. Every answer's text (JSON strings, the log)
comes back with the stack's secret values masked (`secret_text`), so what the server repeats of them (a failed
endpoint's message) reaches no output, state, log line or error.
"""

from __future__ import annotations

import functools
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from providers.secret_text import clean_token, mask, masked

if TYPE_CHECKING:
    import httpx2

# huggingface_hub and its HTTP stack (httpx2) are imported where a call is made, not here: loading them costs a
# process ~0.1 s, and the program and a preview whose diffs need no answer (a new stack) make no call at all.

LIBRARY = "hf-endpoints"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TOKEN_MISSING = (
    "no Hugging Face token: run `pulumi config set --secret hf-endpoints:hfToken <token>` "
    "or export HF_TOKEN (a token with the 'Manage Inference Endpoints' permission)"
)


class EndpointError(Exception):
    """A failure explained for the user: it names the endpoint and what to do."""


class EndpointsApiError(EndpointError):
    """An API call that failed for good, with the endpoint and the server's message."""


class ConflictError(EndpointsApiError):
    """Create answered 409: an endpoint with that name exists."""


@dataclass(frozen=True)
class Settings:
    """Where the API is and how to authenticate, resolved per call from stack config and env.

    Config `hf-endpoints:apiUrl` (env `HF_ENDPOINTS_API_URL` overrides it), token from the secret config
    `hf-endpoints:hfToken`, else `HF_TOKEN`. Never stored on the provider: it is pickled into state.
    """

    api_url: str
    token: str | None = field(default=None, repr=False)
    poll_seconds: float = 1.0
    ready_timeout_seconds: float = 1800.0
    delete_timeout_seconds: float = 300.0
    """How long a delete retries and waits until the name is gone: config `hf-endpoints:deleteTimeoutSeconds`, env
    `HF_ENDPOINTS_DELETE_TIMEOUT_SECONDS` (the env wins, as for the API URL)."""

    @classmethod
    def resolve(cls, config: Mapping[str, str] | None) -> Settings:
        config = config or {}
        api_url = os.environ.get("HF_ENDPOINTS_API_URL") or config.get("hf-endpoints:apiUrl")
        if not api_url:
            from huggingface_hub import constants

            api_url = constants.INFERENCE_ENDPOINTS_ENDPOINT
        token = clean_token(config.get("hf-endpoints:hfToken")) or clean_token(os.environ.get("HF_TOKEN"))
        return cls(
            api_url=api_url.strip().rstrip("/"), token=token,
            poll_seconds=_seconds("HF_ENDPOINTS_POLL_SECONDS", config, "pollSeconds", 1.0),
            ready_timeout_seconds=_seconds(None, config, "readyTimeoutSeconds", 1800.0),
            delete_timeout_seconds=_seconds("HF_ENDPOINTS_DELETE_TIMEOUT_SECONDS", config, "deleteTimeoutSeconds",
                                            300.0))

    def __repr__(self) -> str:  # never print the token
        return f"Settings(api_url={self.api_url!r}, token={'<set>' if self.token else None})"


def _seconds(env: str | None, config: Mapping[str, str], key: str, default: float) -> float:
    text = (os.environ.get(env) if env else None) or config.get(f"hf-endpoints:{key}")
    if text is None or text == "":
        return default
    try:
        seconds = float(text)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        where = f"{env} or hf-endpoints:{key}" if env else f"hf-endpoints:{key}"
        raise EndpointsApiError(f"{where}: {text!r} is not a positive number of seconds; e.g. {default:g}")
    return seconds


def list_endpoints(settings: Settings, namespace: str, *, attempts: int = 3, timeout: float = 10.0,
                   sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:
    """`GET /v2/endpoint/{namespace}` through the standard library (urllib), for diff's look at the live endpoints.

    Why not `EndpointsClient.list`: huggingface_hub's HTTP session (httpx2) costs the provider host ~0.1 s to load and
    set up, on the path of every preview; urllib is loaded already (by pulumi). Same headers that matter
    (`Authorization: Bearer`, a user agent), 429/5xx and dropped connections retried `attempts` times with a short
    backoff. Every failure is one EndpointsApiError: `<status>: <server message>`, or `no answer from the API: ...`.

    The answer is returned as sent, unmasked (see `EndpointsClient.get`): diff compares it with the spec in memory,
    and masks what it shows. A redirect is refused, not followed: urllib would send the Authorization header along,
    to any host and from https to http (httpx, under the rest of this client, drops it when the origin changes).
    """
    import json
    import urllib.error
    import urllib.request

    if not settings.token:
        raise EndpointsApiError(TOKEN_MISSING)
    request = urllib.request.Request(f"{settings.api_url}/endpoint/{namespace}", headers={
        "Authorization": f"Bearer {clean_token(settings.token)}", "User-Agent": LIBRARY, "Accept": "application/json"})
    opener = _opener_refusing_redirects()
    for attempt in range(1, attempts + 1):
        try:
            with opener.open(request, timeout=timeout) as response:
                return json.load(response)["items"]
        except urllib.error.HTTPError as error:
            if 300 <= error.code < 400:
                where = error.headers.get("Location", "") if error.headers else ""
                raise EndpointsApiError(mask(f"the API answered {error.code}, a redirect to {where or 'elsewhere'}, "
                                             "which is not followed: it would take the token along; check "
                                             "hf-endpoints:apiUrl", [settings.token])) from None
            if error.code not in RETRY_STATUSES or attempt == attempts:
                raise EndpointsApiError(mask(f"{error.code}: {_urllib_message(error)}", [settings.token])) from None
        except (OSError, ValueError) as error:  # URLError, a timeout, a reset, a broken answer
            if attempt == attempts:
                reason = getattr(error, "reason", None) or error
                raise EndpointsApiError(f"no answer from the API: {reason}") from None
        sleep(random.uniform(0.1, 0.2) * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


@functools.cache
def _opener_refusing_redirects() -> Any:
    """A urllib opener that follows no redirect (it is raised as the HTTPError it is); one per process, shared by
    the threads of the host as urllib's own default opener is."""
    import urllib.request

    class RefusingRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(RefusingRedirects())


def _urllib_message(error: Any) -> str:
    """The server's message of an urllib HTTPError, as huggingface_hub's `server_message` finds it."""
    import json

    header = error.headers.get("X-Error-Message") if error.headers else None
    text = error.read().decode(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    found = body.get("error") or body.get("message") if isinstance(body, dict) else None
    return str(header or found or text[:300]).strip()


class EndpointsClient:
    """One method per route. Built per provider call from `Settings`; holds the token (and `secrets`, the stack's
    secret values to mask in every answer) only in memory."""

    def __init__(self, settings: Settings, *, attempts: int = 8, base_delay: float = 0.2,
                 max_delay: float = 10.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, secrets: Iterable[str | None] = ()):
        if not settings.token:
            raise EndpointsApiError(TOKEN_MISSING)
        self.api_url = settings.api_url
        self._token = clean_token(settings.token)
        self._secrets = [*secrets, self._token]
        self.attempts, self.base_delay, self.max_delay, self.sleep = attempts, base_delay, max_delay, sleep
        self.clock = clock

    def __repr__(self) -> str:
        return f"EndpointsClient({self.api_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError("EndpointsClient holds a token and must never be pickled")

    # --- transport -------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        from huggingface_hub.utils import build_hf_headers

        return build_hf_headers(token=self._token, library_name=LIBRARY)

    def _json(self, response: httpx2.Response, unmasked: bool = False) -> Any:
        """An answer's JSON, every string in it masked (`unmasked`: as sent, see `get`)."""
        answer = response.json() if response.content else {}
        return answer if unmasked else self.masked(answer)

    def masked(self, answer: Any) -> Any:
        """`answer` (JSON) with every string masked: before any of it goes into outputs, a log line or an error."""
        return masked(answer, self._secrets)

    def _send(self, method: str, url: str, *, json: Any = None, retry: bool = True, timeout: float = 60.0,
              deadline: float | None = None) -> httpx2.Response:
        """Send once per attempt; retry transient failures when `retry` (until `deadline` when given, else
        `attempts` times); return the final response, or raise the last transport error."""
        import httpx2
        from huggingface_hub.utils import get_session

        headers = self._headers()
        attempt = 0
        while True:
            attempt += 1
            again = retry and (attempt < self.attempts if deadline is None else self.clock() < deadline)
            try:
                response = get_session().request(method, url, headers=headers, json=json, timeout=timeout)
            except httpx2.TransportError:
                if not again:
                    raise
                self._pause(self._backoff(attempt), deadline)
                continue
            if response.status_code in RETRY_STATUSES and again:
                self._pause(self._backoff(attempt, response.headers.get("retry-after")), deadline)
                continue
            return response

    def _pause(self, seconds: float, deadline: float | None) -> None:
        """Sleep before the next attempt, never past the deadline."""
        if deadline is not None:
            seconds = max(0.0, min(seconds, deadline - self.clock()))
        self.sleep(seconds)

    def _backoff(self, attempt: int, retry_after: str | None = None) -> float:
        """The wait before attempt `attempt + 1`: exponential backoff with jitter, or the server's `Retry-After`
        seconds kept between the backoff's floor and 6 x its longest wait (a `0` must not make a deadline-bound delete
        spin). A `Retry-After` that is no finite, non-negative number (`nan`, `inf`, `-1`, an HTTP date) is ignored:
        `nan` once made the wait NaN (a ValueError from sleep) or, under a deadline, 0 s."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        asked = _seconds_of(retry_after)
        if asked is not None:
            return min(max(asked, ceiling / 2), self.max_delay * 6)
        return random.uniform(ceiling / 2, ceiling)  # jitter, so parallel callers spread out

    def _call(self, method: str, path: str, *, json: Any = None, ok_statuses: tuple[int, ...] = (),
              deadline: float | None = None, unmasked: bool = False) -> Any:
        from huggingface_hub.utils import hf_raise_for_status

        response = self._send(method, f"{self.api_url}{path}", json=json, deadline=deadline)
        if response.status_code in ok_statuses:
            return None
        hf_raise_for_status(response)
        return self._json(response, unmasked)

    # --- management API --------------------------------------------------------------------------------

    def list(self, namespace: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/endpoint/{namespace}")["items"]

    def get(self, namespace: str, name: str, *, deadline: float | None = None,
            unmasked: bool = False) -> dict[str, Any] | None:
        """The endpoint, or None when it does not exist (404). `unmasked`: the answer as the API sent it, to compare
        with the spec in this process (the values that mirror inputs, such as env, as the user wrote them: masking
        garbles them, and a garbled value is a change that is not there); never for outputs, log lines or errors
        (`masked` first)."""
        return self._call("GET", f"/endpoint/{namespace}/{name}", ok_statuses=(404,), deadline=deadline,
                          unmasked=unmasked)

    def create(self, namespace: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST, retried only once a GET shows the previous attempt did not land."""
        import httpx2
        from huggingface_hub.utils import hf_raise_for_status

        url, name = f"{self.api_url}/endpoint/{namespace}", payload["name"]
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._send("POST", url, json=payload, retry=False)
            except httpx2.TransportError:
                response = None
            if response is not None and response.status_code == 409:
                raise ConflictError(_server_message(response))
            if response is not None and response.status_code not in RETRY_STATUSES:
                hf_raise_for_status(response)
                return self._json(response)
            landed = self.get(namespace, name)
            if landed is not None:
                if _matches(landed, payload):
                    return landed  # our POST landed although its answer was lost
                raise ConflictError(f"An endpoint named {namespace}/{name} appeared while creating it")
            if attempt == self.attempts:
                if response is None:
                    raise EndpointsApiError(f"could not reach {url} to create {namespace}/{name}")
                hf_raise_for_status(response)
            retry_after = response.headers.get("retry-after") if response is not None else None
            self.sleep(self._backoff(attempt, retry_after))
        raise AssertionError("unreachable")

    def update(self, namespace: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._call("PUT", f"/endpoint/{namespace}/{name}", json=payload)

    def delete(self, namespace: str, name: str, *, deadline: float | None = None) -> None:
        """DELETE; a 404 means it is already gone."""
        self._call("DELETE", f"/endpoint/{namespace}/{name}", ok_statuses=(404,), deadline=deadline)

    def pause(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call("POST", f"/endpoint/{namespace}/{name}/pause")

    def resume(self, namespace: str, name: str) -> dict[str, Any]:
        """Resume. A 400 from an endpoint that is no longer paused (already running, or already starting
        because an earlier attempt landed although its answer was lost) is success, as huggingface_hub's
        `running_ok`."""
        from huggingface_hub import InferenceEndpointStatus
        from huggingface_hub.utils import hf_raise_for_status

        response = self._send("POST", f"{self.api_url}/endpoint/{namespace}/{name}/resume")
        if response.status_code == 400:
            current = self.get(namespace, name)
            if current is not None and current["status"]["state"] not in (InferenceEndpointStatus.PAUSED,
                                                                          InferenceEndpointStatus.FAILED):
                return current
        hf_raise_for_status(response)
        return self._json(response)

    def logs(self, namespace: str, name: str, *, tail: int) -> str:
        """The last `tail` lines of the endpoint's container log (text/plain). One try: it only explains a
        failure that is reported anyway."""
        from huggingface_hub.utils import hf_raise_for_status

        response = self._send("GET", f"{self.api_url}/endpoint/{namespace}/{name}/logs?tail={int(tail)}",
                              retry=False, timeout=30.0)
        hf_raise_for_status(response)
        return mask(response.text, self._secrets)

    # --- the endpoint's own URL ------------------------------------------------------------------------

    def health(self, url: str, route: str, *, authenticated: bool) -> int:
        """The status code of the health route (one try: the readiness loop polls again)."""
        import httpx2
        from huggingface_hub.utils import get_session

        try:
            response = get_session().get(f"{url.rstrip('/')}/{route.lstrip('/')}", timeout=10,
                                         headers=self._headers() if authenticated else None)
        except httpx2.TransportError:
            return 0
        return response.status_code

    def generate(self, url: str, prompt: str, max_new_tokens: int, *, authenticated: bool) -> str:
        """One text-generation call as huggingface_hub's InferenceClient makes it; returns the text."""
        body = {"inputs": prompt, "parameters": {"max_new_tokens": max_new_tokens}}
        data = self._inference("POST", url, body, authenticated)
        return str((data[0] if isinstance(data, list) and data else data or {}).get("generated_text", ""))

    def served_model(self, url: str, *, authenticated: bool) -> str:
        """The model id an OpenAI-compatible server answers to (`GET /v1/models`): vLLM refuses any other."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            data = self._inference("GET", f"{url.rstrip('/')}/v1/models", None, authenticated)
        except HfHubHTTPError as error:
            if error.response is not None and error.response.status_code == 404:
                return "default"  # a server without /v1/models (TGI before 2.0) takes any name
            raise
        models = data.get("data") if isinstance(data, Mapping) else None
        return str(models[0]["id"]) if models and isinstance(models[0], Mapping) and models[0].get("id") else "default"

    def chat(self, url: str, prompt: str, max_new_tokens: int, *, authenticated: bool) -> str:
        """One OpenAI Chat Completions call (`/v1/chat/completions`), the prompt as the user's message."""
        body = {"model": self.served_model(url, authenticated=authenticated), "max_tokens": max_new_tokens,
                "messages": [{"role": "user", "content": prompt}], "stream": False}
        data = self._inference("POST", f"{url.rstrip('/')}/v1/chat/completions", body, authenticated)
        return str(((data.get("choices") or [{}])[0].get("message") or {}).get("content") or "")

    def completions(self, url: str, prompt: str, max_new_tokens: int, *, authenticated: bool) -> str:
        """One OpenAI Completions call (`/v1/completions`), the prompt as plain text."""
        body = {"model": self.served_model(url, authenticated=authenticated), "prompt": prompt,
                "max_tokens": max_new_tokens, "stream": False}
        data = self._inference("POST", f"{url.rstrip('/')}/v1/completions", body, authenticated)
        return str((data.get("choices") or [{}])[0].get("text") or "")

    def embed(self, url: str, text: str, *, authenticated: bool) -> Any:
        """One TEI `/embed` call; returns the answer as sent (a list holding one vector)."""
        return self._inference("POST", f"{url.rstrip('/')}/embed", {"inputs": text}, authenticated)

    def _inference(self, method: str, url: str, body: Any, authenticated: bool) -> Any:
        """A call to the endpoint's own URL (one try: the readiness loop polls again); the answer masked."""
        from huggingface_hub.utils import get_session, hf_raise_for_status

        response = get_session().request(method, url, json=body, timeout=120,
                                         headers=self._headers() if authenticated else None)
        hf_raise_for_status(response)
        return self._json(response)


def _seconds_of(retry_after: str | None) -> float | None:
    """`Retry-After` as a finite, non-negative number of seconds, else None."""
    try:
        seconds = float(retry_after or "")
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _server_message(response: httpx2.Response) -> str:
    try:
        return str(response.json().get("error") or response.text)
    except ValueError:
        return response.text


def _matches(raw: Mapping[str, Any], payload: Mapping[str, Any]) -> bool:
    """Whether a live endpoint is the one `payload` asked for (same model, hardware and placement)."""
    compute, model = raw.get("compute") or {}, raw.get("model") or {}
    return (
        model.get("repository") == payload["model"]["repository"]
        and model.get("revision") == payload["model"].get("revision")
        and compute.get("instanceType") == payload["compute"]["instanceType"]
        and compute.get("instanceSize") == payload["compute"]["instanceSize"]
        and (raw.get("provider") or {}) == payload["provider"]
    )


def _openai_message(response: httpx2.Response) -> str | None:
    """The message of an OpenAI-style error body: vLLM's and llama.cpp's `{"error": {"message"}}`, SGLang's
    `{"object": "error", "message"}`; None for any other body (the API's and TGI's `{"error": "..."}`)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str):
        return error["message"]
    if body.get("object") == "error" and isinstance(body.get("message"), str):
        return body["message"]
    return None


def describe_error(error: Exception) -> str:
    """What went wrong, for a message: the status and server text of an HTTP error (never the request's
    headers), 'no answer from the API' for a transport error, else the error's own text."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, HfHubHTTPError) and error.response is not None:
        text = _openai_message(error.response) or error.server_message or error.response.text
        return f"{error.response.status_code}: {text}".strip()
    if isinstance(error, httpx2.TransportError):
        return f"no answer from the API: {error or type(error).__name__}"
    if isinstance(error, EndpointError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def is_transient(error: Exception) -> bool:
    """A failure the client retries (and that a later run may get past): a dropped connection, 429 or 5xx."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(error, httpx2.TransportError):
        return True
    return isinstance(error, HfHubHTTPError) and error.response is not None and (
        error.response.status_code in RETRY_STATUSES)
