"""Malformed input never crashes the emulator: random bodies, paths and headers get an answer below 500
with a body (or a success), through the real HTTP server (uvicorn in a subprocess, as clients see it).

Reproducible: hypothesis runs derandomized everywhere (examples derived from each test alone, so a developer's
machine runs the examples CI runs), keeps no example database and prints the blob that reproduces a failure.
"""

import json

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.process import EmulatorProcess
from tests.test_emulator_api import BODY

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow])

segment = st.one_of(st.sampled_from(["local", "ep", "other", "pause", "resume", "scale-to-zero", "health",
                                     "generate", "v1", "chat", "completions", "info", "logs", "sse", "replica",
                                     "resolve", "main", "config.json", "revision", ""]),
                    st.text("abcXYZ-_.%0123456789~", max_size=8))
prefix = st.sampled_from(["/v2/endpoint/", "/v2/provider/", "/e/", "/api/whoami-v2/", "/v2/", "/", "/e/local/ep/",
                          "/v2/endpoint/local/ep/", "/api/models/", "/gpt2/resolve/"])


def request_path(start: str, segments: list[str]) -> str:
    """A path an HTTP client sends: empty segments may double a slash inside it, but it never starts with `//`,
    which a client reads as a host (httpx refuses `////local` before sending anything)."""
    return "/" + (start + "/".join(segments)).lstrip("/")


paths = st.builds(request_path, prefix, st.lists(segment, max_size=4))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
# Valid-looking create bodies with one key mutated, so validation beyond the first missing field is reached.
mutated = st.builds(lambda key, value: {**BODY, key: value}, st.sampled_from(sorted(BODY)), json_values)
deep = st.integers(100, 1500).map(lambda n: ("[" * n + "]" * n).encode())
bodies = st.one_of(st.none(), st.binary(max_size=40), json_values.map(lambda v: json.dumps(v).encode()),
                   mutated.map(lambda v: json.dumps(v).encode()), deep)
headers = st.dictionaries(
    st.sampled_from(["authorization", "content-type", "x-scale-up-timeout", "accept", "x-custom"]),
    st.one_of(st.sampled_from(["Bearer hf_local", "Bearer nope", "Basic abc", "", "application/json", "-1",
                               "0.01", "nan", "inf", "1e999"]),
              st.text("abc /=;0123456789", max_size=12).map(str.strip)),  # HTTP trims values: so do clients
    max_size=4,
)


@pytest.fixture(scope="module")
def client():
    """A dedicated emulator (so nothing leaks into other tests) with instant timings."""
    fast = ["--startup-seconds", "0.01", "--update-seconds", "0.01", "--delete-seconds", "0.01"]
    with EmulatorProcess(fast) as emu, httpx2.Client(base_url=emu.base_url, timeout=20) as c:
        yield c


@pytest.mark.parametrize(("start", "segments"), [
    ("/", ["", "", "", "local"]), ("/", ["", ""]), ("/", [""]), ("/v2/", ["", "local"]), ("/e/", ["", ""]),
], ids=["four-slashes", "three-slashes", "two-slashes", "inner-double-slash", "trailing-double-slash"])
def test_every_generated_path_is_one_a_client_sends(start, segments):
    """`////local` came out of the generator and failed the fuzz test at random outside CI, in the client."""
    request = httpx2.Client(base_url="http://127.0.0.1:9").build_request("GET", request_path(start, segments))
    assert request.url.host == "127.0.0.1"


@settings(FUZZ, max_examples=300)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]), path=paths, content=bodies,
       hdrs=headers)
def test_random_requests_never_500(client, method, path, content, hdrs):
    r = client.request(method, path, content=content, headers=hdrs)
    assert r.status_code < 500, (r.status_code, r.text)
    assert r.headers["x-request-id"]
    if r.status_code >= 400 and method != "HEAD":
        assert r.content, "an error must carry a body"


@settings(FUZZ, max_examples=150)
@given(patch=json_values)
def test_random_updates_never_500(client, patch):
    """PUT bodies of any shape against an existing endpoint."""
    hdrs = {"authorization": "Bearer hf_local"}
    client.post("/v2/endpoint/local", content=json.dumps({**BODY, "name": "fz"}), headers=hdrs)
    r = client.put("/v2/endpoint/local/fz", content=json.dumps(patch), headers=hdrs)
    assert r.status_code in (200, 400, 422), (r.status_code, r.text)
    assert r.content
