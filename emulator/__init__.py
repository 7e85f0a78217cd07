"""A local emulator of the Hugging Face Inference Endpoints API (v2), faithful enough for the unmodified
`huggingface_hub` client. Contract: `shared/reference/hf-inference-endpoints-api.md`.

Run it with `python -m emulator [--port 0] ...` (see `emulator/__main__.py`), or from Python with
`emulator.process.EmulatorProcess`. Layout (moto style), each module importing only those before it:
`errors.py` typed API errors with the real wire shapes; `wire.py` JSON bodies and the serde-style shape
checkers both surfaces share; `catalog.py` the hardware catalog; `schema.py` request bodies, their shape and
the values the service accepts; `models.py` the endpoint record, its `State` enum and its wire shape; `logs.py`
the TGI-like container log of an endpoint; `store.py` the thread-safe store, its valid-state tables per action
and the time-based state machine; `hub.py` the Hugging Face Hub routes for model facts (model info,
config.json downloads, GGUF headers); `engines/` the serving containers (TGI by version, vLLM, SGLang, llama.cpp,
TEI; one module each, on `engines/base.py`); `proxy.py` the platform proxy at `status.url` in front of them, built
from the store, the config, an identity check and the Hub's model configs; `middleware.py` request ids, the call
log, control-route access, management-API auth and fault injection; `control.py` the `/_emulator/*` control
routes; `app.py` the route table, the management handlers and `Emulator`, which wires them together;
`process.py` runs it as a subprocess.

Control routes (never subject to injected faults, never in the call log; served to loopback clients only, or,
with `--control-token TOKEN`, to any client sending `X-Emulator-Control-Token: TOKEN`):
`GET|POST /_emulator/faults`, `GET|POST /_emulator/config`, `GET|DELETE /_emulator/calls`, `POST /_emulator/reset`,
`PATCH|DELETE /_emulator/endpoints/{ns}/{name}`, `POST /_emulator/endpoints/{ns}/{name}/state`.

Decisions (where the contract says GUESS or leaves a question open):

1. Secrets are redacted on read as `{"KEY": null}` (keys kept, values null). In a PUT, `model.env` and
   `model.secrets` replace the stored map whole; a `null` secret value keeps the stored value of that key
   (so echoing a read back is harmless), a `null` for a key with no stored value is a 400.
2. Registry credentials read back as `{"username": "", "password": null}`; sending exactly that back in a PUT
   keeps the stored credentials.
3. PUT merge: absent keys keep, explicit `null` clears (422 for a field that cannot be null), objects merge
   key by key except `model.image`, `model.env`, `model.secrets`, `route`, `privateService`,
   `experimentalFeatures` and `scaling.measure`, which are replaced whole; lists are replaced (`[]` clears).
   The merged config is validated again in full (a PUT setting minReplica 1 while a scaleToZeroTimeout is
   stored is a 400).
4. Immutable through PUT (400 naming the field): `name`, `type`, `provider.vendor`, `provider.region`,
   `privateService`, `compute.accelerator` (cpu<->gpu) and the image variant (the engine).
5. A create with `type: "protected"` is stored as `private`; an unknown `type` is a 422.
6. Validation: names must match `[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?` in full (400; `abc\n` is refused);
   `maxReplica >= 1` and `minReplica <= maxReplica` (400); a non-null `scaleToZeroTimeout` needs `minReplica
   == 0` and must be 15..2880 minutes (400); `minReplica 0` with a null timeout is accepted and kept null
   (only the scale-to-zero route or idle with a timeout scales it down); legacy instance names (`g5.2xlarge`,
   `medium`, ...) are a 400 that suggests the current pair; deprecated and `not_available` hardware is a 400;
   an empty `model.args` on create is a 400; a null `model.task` is the plain-text 400 of
   huggingface_hub#2510. No Content-Type is required (no 415).
7. Quota: per namespace and (vendor, region, instanceType), accelerators in use = numAccelerators x
   maxReplica over endpoints that are neither paused nor being deleted. Defaults: 16 GPUs, 16 neuron cores,
   64 vCPUs (CPU instances count vCPUs); `--quota N` sets the GPU and neuron quota. Going over is a 400
   `{"error": "Accelerator quota exceeded ..."}`, checked on create, update (unless paused) and resume.
   `GET /v2/provider` (no namespace, no auth) shows the quotas with usedAccelerators 0.
8. State machine (timings settable): create and resume-from-paused go pending -> initializing (after half
   of startup_seconds) -> running (after startup_seconds). PUT on running/updating/updateFailed goes
   updating -> running after update_seconds; on pending/initializing it restarts the start sequence; on
   paused it stores the config and stays paused; on scaledToZero it stays scaledToZero if minReplica is
   still 0. Update on `failed` is a 400. Pause works from every state except `failed` and is idempotent on
   paused. Resume: paused -> pending..., scaledToZero -> initializing -> running, running -> 400 "...already
   running", other states -> 400. Scale-to-zero: running or scaledToZero (idempotent), else 400.
   Delete works in every state; the endpoint (in its last state) stays visible for delete_seconds, during
   which the name is still taken (409), then 404. Scale-to-zero also needs minReplica 0 (400 otherwise, like a
   scaleToZeroTimeout with minReplica >= 1).
9. `status.url` (`{base}/e/{ns}/{name}`) is null while pending, initializing (except after a wake), paused
   (huggingface_hub's guide shows `url=None`) and failed; it is kept while updating, updateFailed and
   scaledToZero. readyReplica/targetReplica: pending and
   initializing 0/T, running, updating, updateFailed T/T, failed 0/T, paused and scaledToZero 0/0, where
   T = max(minReplica, 1). `status.updatedAt` is the instant of the last transition.
10. Idle = no inference request at the url (health checks do not count). Any request to a scaledToZero url
    wakes it; without `X-Scale-Up-Timeout` it answers 503, with it the request is held until running.
    Paused: 400 text "Bad Request: endpoint is paused". Auth at the url: `public` none; `authenticated` any
    known token; `private` a token whose user or orgs include the namespace (401 / 403).
11. Inference text: tokens are whitespace-separated words; the reply is `engines.base.DEFAULT_REPLY` (or
    `--reply`) whatever the prompt. Which container answers and its limits: `emulator/engines/` (the image variant,
    or a custom image by the engine its URL names; anything else as TGI 3.3.6). TGI: `MAX_INPUT_LENGTH`/
    `MAX_INPUT_TOKENS` (default 1024) and `MAX_TOTAL_TOKENS` (default 2048) bound prompts (422 `validation`), and its
    routes follow the image tag's version; vLLM and SGLang: `--max-model-len`/`--context-length` in `model.args`,
    else the model's context length from the emulator's Hub (4096 for a repository it does not know); llama.cpp:
    `ctxSize` / `nParallel`; TEI: vectors of the model's hidden size (768 when unknown). GUESS: every container
    answers to any `model` name (huggingface_hub sends "dummy", @huggingface/inference the URL).
12. Faults: injected before the store is touched (a 5xx on create created nothing). One random draw per `/v2`
    call picks at most one fault, in bands of drop, 429, 5xx and error-after, so each rate is exactly the
    share of calls it gets and the four rates may add up to 1 at most (400 / refusal to start otherwise).
    `error_after_rate` (non-GET calls only) runs the call and replaces its answer with a 502 only when it was
    a 2xx that changed the store; a call that failed or changed nothing (pause on paused) gets its real
    answer, so a test can tell what happened. The 429 carries
    `Retry-After: <retry_after_seconds>` and may be fractional (real servers send integers). A dropped
    connection is closed without any response and is logged with status 0. Fail patterns are Python
    regular expressions searched in `model.repository`.
13. `--state FILE` stores the full records, secrets included, written atomically after every mutation
    (temp file `.FILE.<random>.tmp` beside it, then a rename). At start-up the folder must exist and be
    writable and the file, when present, must be a state file of this emulator: otherwise the emulator prints
    one line `emulator: cannot use --state FILE: <why>` and exits 2. Leftover `.FILE.*.tmp` files of a killed
    write are removed at start. Non-finite numbers in a state file (written by an older version) are cleared
    to null with a warning line on stderr, so they cannot poison a namespace.
14. `GET /v2/endpoint/{ns}` takes no query parameters (no tags filter, no pagination) and lists in name order.
15. An endpoint in its delete lag refuses pause, resume, scale-to-zero and PUT with a 400 `{"error": "Cannot
    <action> endpoint ns/name: it is being deleted"}` (the same family as the state refusals; no evidence of
    the real code), and stays as it was; another DELETE is still a 200.
16. Bodies are read like serde_json: nesting deeper than 128 arrays/objects is the plain-text 400
    `Failed to parse the request body as JSON: recursion limit exceeded at line L column C`, and a number that
    does not fit an f64 (`1e999`, a 400-digit integer) is `... number out of range at line L column C`;
    `NaN`/`Infinity` are not JSON. No non-finite number is ever stored or answered (also on the TGI surface
    and the control routes).
17. Image variants keep only the fields they declare (`schema.IMAGE_FIELDS`, from contract §3.3); the rest
    (the tutorial's snake_case `health_route`, `custom.env`, a tgi `tensorParallelSize`) is dropped silently:
    not stored, not echoed, not used as the health route. vLLM keeps, besides the contract's tensorParallelSize and
    dataParallelSize, the tuning fields gorgias-oss/terraform-provider-huggingface sends (maxNumSeqs,
    maxNumBatchedTokens, kvCacheDtype); its other "engine tuning" fields are dropped (GUESS).
    `port` is a u16 (422 above 65535 or below 0) and 0 is a 400 (1..65535).
18. A namespace the token's user does not belong to answers 401 (not 403) on `/v2/endpoint/{ns}...` and
    `/v2/provider/{ns}`: huggingface_hub's `namespace="*"` listing skips orgs that answer 401 (contract §5.3).
19. Routes the API has but the emulator does not serve (`.../logs/sse`, `.../replica`, `.../sse`, metrics)
    answer 404 `{"error": "No route <METHOD> <path>"}`; only GET on pause/resume/scale-to-zero is a 405.
20. Control routes: loopback clients only, unless `--control-token` is given, in which case every control
    request must carry `X-Emulator-Control-Token` (401 otherwise); binding `--host` to a non-loopback address
    without a control token is refused at start (exit 2).
21. The call log is a ring of the last 10000 calls (`middleware.CallLog.LIMIT`), each `{"time" (epoch
    seconds), "method", "path", "query", "status", "request_id"}` (request_id = the `x-request-id` header).
22. `GET /v2/endpoint/{ns}/{name}/logs` (R11) answers text/plain: the current replica's TGI-like log (Args,
    download, one shard per GPU, warm-up, `Connected`), and on failed/updateFailed the reason (CUDA out of
    memory on GPUs, a killed shard on CPUs, then `Error: ShardCannotStart`). Empty while pending or paused.
    `tail=N` keeps the last N lines (a non-integer is axum's plain-text 400); `from`/`to`/`replica` are
    ignored. Auth as the other endpoint routes; answered during the delete lag. Secret values never appear
    (the log shows no env or secret value but MODEL_ID, QUANTIZE and the MAX_* limits, and any secret value
    that would appear anyway is masked as `***`).
23. Hub routes (`hub.py`): model info and config.json downloads at the emulator's base URL for the built-in
    repositories (their facts and sources in `hub.py`) and those of `--hub-models FILE` (checked at start-up,
    exit 2 with one line). Built-in commit ids are the emulator's own (derived from the repository id, not
    the real commits, which are not known here). Revisions: `main` or the commit; any other value is
    RevisionNotFound (no other branches, tags or short shas). Anonymous reads are allowed as on the Hub; an
    unknown token is a 401. A gated repository answers model info to anyone and refuses its files (401
    anonymous, 403 with a token, `X-Error-Code: GatedRepo`) unless the user is granted (built-in meta-llama:
    every known user; file models: `granted`). Only `config.json` can be downloaded (no weights).
24. Wire safety: a request body that has not arrived in full within `body_timeout_seconds` (10 s, `--body-timeout`)
    is a 408 `{"error": ...}` with `Connection: close` (a body shorter than its Content-Length hung forever); a
    client that disconnects mid-body gets a typed 400 no one reads (no traceback in the log). Text from the request
    that an answer repeats in a header (the Hub's `X-Error-Message`) is escaped (`\\x00`): a NUL there made the
    server drop the connection.
"""
