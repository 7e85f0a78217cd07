"""Malformed input never crashes the emulator: random bodies, paths and headers get an answer below 500
with a body (or a success), in-process through httpx2's ASGI transport."""

import asyncio
import json

import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.app import Emulator
from emulator.store import Config
from tests.test_emulator_api import BODY

APP = Emulator(config=Config(startup_seconds=0.01, update_seconds=0.01, delete_seconds=0.01)).build()
LOOP = asyncio.new_event_loop()

segment = st.one_of(st.sampled_from(["local", "ep", "other", "pause", "resume", "scale-to-zero", "health",
                                     "generate", "v1", "chat", "completions", "info", ""]),
                    st.text("abcXYZ-_.%0123456789~", max_size=8))
prefix = st.sampled_from(["/v2/endpoint/", "/v2/provider/", "/e/", "/api/whoami-v2/", "/v2/", "/", "/e/local/ep/"])
paths = st.builds(lambda p, segs: p + "/".join(segs), prefix, st.lists(segment, max_size=4))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Valid-looking create bodies with one key mutated, so validation beyond the first missing field is reached.
mutated = st.builds(lambda key, value: {**BODY, key: value}, st.sampled_from(sorted(BODY)), json_values)
bodies = st.one_of(st.none(), st.binary(max_size=40), json_values.map(lambda v: json.dumps(v).encode()),
                   mutated.map(lambda v: json.dumps(v).encode()))
headers = st.dictionaries(
    st.sampled_from(["authorization", "content-type", "x-scale-up-timeout", "accept", "x-custom"]),
    st.one_of(st.sampled_from(["Bearer hf_local", "Bearer nope", "Basic abc", "", "application/json", "-1",
                               "0.01", "nan"]), st.text("abc /=;0123456789", max_size=12)),
    max_size=4,
)


async def _send(method, path, content, hdrs):
    transport = httpx2.ASGITransport(app=APP, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://emulator") as client:
        return await client.request(method, path, content=content, headers=hdrs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]), path=paths, content=bodies,
       hdrs=headers)
def test_random_requests_never_500(method, path, content, hdrs):
    r = LOOP.run_until_complete(_send(method, path, content, hdrs))
    assert r.status_code < 500, (r.status_code, r.text)
    assert r.headers["x-request-id"]
    if r.status_code >= 400:
        assert r.content, "an error must carry a body"


@settings(max_examples=150, deadline=None)
@given(patch=json_values)
def test_random_updates_never_500(patch):
    """PUT bodies of any shape against an existing endpoint."""
    hdrs = {"authorization": "Bearer hf_local"}
    LOOP.run_until_complete(_send("POST", "/v2/endpoint/local", json.dumps({**BODY, "name": "fz"}), hdrs))
    r = LOOP.run_until_complete(_send("PUT", "/v2/endpoint/local/fz", json.dumps(patch), hdrs))
    assert r.status_code in (200, 400, 422), (r.status_code, r.text)
    assert r.content
