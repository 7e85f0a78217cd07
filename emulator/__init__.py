"""A local emulator of the Hugging Face Inference Endpoints API (v2), faithful enough for the unmodified
`huggingface_hub` client. Contract: `shared/reference/hf-inference-endpoints-api.md`.

Run it with `python -m emulator [--port 0] ...` (see `emulator/__main__.py`), or from Python with
`emulator.process.EmulatorProcess`. Layout (moto style), each module importing only those before it:
`errors.py` typed API errors with the real wire shapes; `wire.py` JSON bodies and the serde-style shape
checkers both surfaces share; `catalog.py` the hardware catalog; `models.py` the endpoint record, its `State`
enum, its wire shape and request parsing; `store.py` the thread-safe store, its valid-state tables per action
and the time-based state machine; `tgi.py` the inference surface at `status.url`, built from the store, the
config and an identity check; `middleware.py` request ids, the call log, management-API auth and fault
injection; `control.py` the `/_emulator/*` control routes; `app.py` the route table, the management handlers
and `Emulator`, which wires them together; `process.py` runs it as a subprocess.

Control routes (never subject to injected faults, never in the call log): `GET|POST /_emulator/faults`,
`GET|POST /_emulator/config`, `GET|DELETE /_emulator/calls`, `POST /_emulator/reset`,
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
6. Validation: names must match `^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$` (400); `maxReplica >= 1` and
   `minReplica <= maxReplica` (400); a non-null `scaleToZeroTimeout` needs `minReplica == 0` and must be
   15..2880 minutes (400); `minReplica 0` with a null timeout is accepted and kept null (only the
   scale-to-zero route or idle with a timeout scales it down); legacy instance names (`g5.2xlarge`,
   `medium`, ...) are a 400 that suggests the current pair; deprecated and `not_available` hardware is a
   400; an empty `model.args` on create is a 400; a null `model.task` is the plain-text 400 of
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
   which the name is still taken (409), then 404.
9. `status.url` (`{base}/e/{ns}/{name}`) is null while pending, initializing (except after a wake), paused
   (huggingface_hub's guide shows `url=None`) and failed; it is kept while updating, updateFailed and
   scaledToZero. readyReplica/targetReplica: pending and
   initializing 0/T, running, updating, updateFailed T/T, failed 0/T, paused and scaledToZero 0/0, where
   T = max(minReplica, 1). `status.updatedAt` is the instant of the last transition.
10. Idle = no inference request at the url (health checks do not count). Any request to a scaledToZero url
    wakes it; without `X-Scale-Up-Timeout` it answers 503, with it the request is held until running.
    Paused: 400 text "Bad Request: endpoint is paused". Auth at the url: `public` none; `authenticated` any
    known token; `private` a token whose user or orgs include the namespace (401 / 403).
11. Inference text: tokens are whitespace-separated words; the reply is `tgi.DEFAULT_REPLY` (or `--reply`)
    whatever the prompt; `MAX_INPUT_LENGTH`/`MAX_INPUT_TOKENS` (default 1024) and `MAX_TOTAL_TOKENS`
    (default 2048) from `model.env` bound prompts as TGI does (422 `validation`).
12. Faults: injected before the store is touched (a 5xx on create created nothing); `error_after_rate`
    applies the change to the store and then answers 502, on non-GET `/v2` calls only. The 429 carries
    `Retry-After: <retry_after_seconds>` and may be fractional (real servers send integers). A dropped
    connection is closed without any response and is logged with status 0. Fail patterns are Python
    regular expressions searched in `model.repository`.
13. `--state FILE` stores the full records, secrets included, written atomically after every mutation.
14. `GET /v2/endpoint/{ns}` takes no query parameters (no tags filter, no pagination) and lists in name order.
"""
