"""What the client retries and how long it waits: a 4xx is answered at once (never retried), and a `Retry-After`
that is no usable number of seconds falls back to the backoff's bounds. Over real HTTP: the emulator for the API's
own answers, a one-route stub for the `Retry-After` values no real server should send. Time is a FakeClock."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from huggingface_hub.errors import HfHubHTTPError

from providers.client import EndpointsClient, Settings
from tests.fake_clock import FakeClock
from tests.stub_server import Answer, stub_server
from tests.test_emulator_api import body

CAP = 60.0  # 6 x the client's longest backoff (10 s)


class CountingClock(FakeClock):
    """A FakeClock whose sleep fails the test instead of spinning forever (a 0 s wait under a deadline)."""

    def __init__(self, limit: int = 200):
        super().__init__()
        self.waits: list[float] = []
        self.limit = limit

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        assert len(self.waits) <= self.limit, f"{len(self.waits)} waits: the client spins"
        super().sleep(seconds)


@pytest.fixture
def stub() -> Iterator[Answer]:
    """Every request answers 429 with the `Retry-After` text a test sets."""
    with stub_server(Answer(429, '{"error":"Too many requests, retry later"}', {"Retry-After": "1"})) as answer:
        yield answer


def client_of(url: str, clock: CountingClock) -> EndpointsClient:
    return EndpointsClient(Settings(api_url=url, token="hf_local"), sleep=clock.sleep, clock=clock)


HOSTILE_RETRY_AFTER = ["nan", "NaN", "inf", "-inf", "-1", "1e308", "0", "Wed, 21 Oct 2015 07:28:00 GMT", ""]


@pytest.mark.parametrize("retry_after", HOSTILE_RETRY_AFTER, ids=[v or "empty" for v in HOSTILE_RETRY_AFTER])
def test_a_hostile_retry_after_waits_within_the_backoffs_bounds(stub, retry_after):
    """`Retry-After: nan` made the wait NaN: `time.sleep` raised `ValueError: Invalid value NaN`."""
    stub.headers["Retry-After"] = retry_after
    clock = CountingClock()
    with pytest.raises(HfHubHTTPError) as failure:
        client_of(stub.url, clock).get("local", "jais")
    assert failure.value.response.status_code == 429
    assert stub.methods == ["GET"] * 8
    assert len(clock.waits) == 7
    assert all(math.isfinite(wait) and 0.1 <= wait <= CAP for wait in clock.waits), clock.waits


@pytest.mark.parametrize(("retry_after", "most"), [("nan", 6), ("-1", 6), ("0", 6), ("1", 4), ("1e308", 2)],
                         ids=["nan", "negative", "zero", "one-second", "huge"])
def test_a_delete_under_a_deadline_never_spins(stub, retry_after, most):
    """With a deadline (delete), `Retry-After: nan` made every wait 0 s: 2,743 DELETEs in 3 s. The backoff doubles
    from 0.1-0.2 s, so 3 s hold at most 6 attempts; `Retry-After: 1` 4; a huge value is cut at the deadline."""
    stub.headers["Retry-After"] = retry_after
    clock = CountingClock()
    with pytest.raises(HfHubHTTPError):
        client_of(stub.url, clock).delete("local", "jais", deadline=3.0)
    assert 2 <= len(stub.methods) <= most, stub.methods
    assert set(stub.methods) == {"DELETE"}


MIN_OVER_MAX = {"compute": {"scaling": {"minReplica": 3, "maxReplica": 1}}}
FOUR_XX = [
    ("400", lambda client: client.update("local", "c4xx", MIN_OVER_MAX), "PUT", "/v2/endpoint/local/c4xx", 400),
    ("401", lambda client: client.list("someone-else"), "GET", "/v2/endpoint/someone-else", 401),
    ("404", lambda client: client.update("local", "missing", {"tags": []}), "PUT", "/v2/endpoint/local/missing", 404),
    ("422", lambda client: client.update("local", "c4xx", {"compute": {"scaling": {"maxReplica": "many"}}}),
     "PUT", "/v2/endpoint/local/c4xx", 422),
]


@pytest.mark.parametrize(("call", "method", "path", "status"), [case[1:] for case in FOUR_XX],
                         ids=[case[0] for case in FOUR_XX])
def test_a_4xx_is_answered_at_once_never_retried(emulator, http, call, method, path, status):
    """The emulator's own 4xx answers: one request each, the error raised as it came (retrying every status >= 400
    was caught only by tests timing out after 300 s)."""
    assert http.post("/v2/endpoint/local", json=body(name="c4xx")).status_code == 202
    emulator.clear_calls()
    clock = CountingClock()
    with pytest.raises(HfHubHTTPError) as failure:
        call(client_of(emulator.api_url, clock))
    assert failure.value.response.status_code == status
    assert [(c["method"], c["path"]) for c in emulator.calls()] == [(method, path)]
    assert clock.waits == []


def test_the_listing_never_follows_a_redirect():
    """diff's listing goes through urllib, which would follow a redirect with the Authorization header to any host
    (and from https to http): refused, so the token never reaches the other host, and said once, naming the setting."""
    from providers.client import EndpointsApiError, list_endpoints

    token = "hf_" + "NeverForwarded" * 2
    with stub_server(Answer(status=200, body='{"items": []}')) as elsewhere:
        target = f"{elsewhere.url}/endpoint/local"
        with stub_server(Answer(status=302, headers={"Location": target})) as api, \
                pytest.raises(EndpointsApiError) as refused:
            list_endpoints(Settings(api_url=api.url, token=token), "local", sleep=lambda _seconds: None)
    assert (api.methods, elsewhere.methods) == (["GET"], [])
    assert str(refused.value) == (f"the API answered 302, a redirect to {target}, which is not followed: it would "
                                  "take the token along; check hf-endpoints:apiUrl")
