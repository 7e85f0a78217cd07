"""The unmodified huggingface_hub client against the emulator: the tutorial flow and error surfaces."""

import time

import pytest
from huggingface_hub import HfApi, constants
from huggingface_hub.errors import BadRequestError, HfHubHTTPError

NS = "local"
TGI_IMAGE = {"url": "ghcr.io/huggingface/text-generation-inference:1.3.4", "health_route": "/health", "port": 80}
TGI_ENV = {"MAX_BATCH_PREFILL_TOKENS": "2048", "MAX_INPUT_LENGTH": "1024", "MAX_TOTAL_TOKENS": "1512",
           "MODEL_ID": "/repository"}
HARDWARE = {"accelerator": "gpu", "instance_size": "x1", "instance_type": "nvidia-a10g", "region": "us-east-1",
            "vendor": "aws"}


@pytest.fixture
def api(emulator, monkeypatch):
    monkeypatch.setattr(constants, "INFERENCE_ENDPOINTS_ENDPOINT", emulator.api_url)
    return HfApi(endpoint=emulator.base_url, token=emulator.token)


def _create(api, emulator, name="jais-demo", **kw):
    args = {"repository": "core42/jais-13b-chat", "framework": "pytorch", "custom_image": TGI_IMAGE,
            "env": TGI_ENV, "min_replica": 0, **HARDWARE, **kw}
    return api.create_inference_endpoint(name, namespace=NS, token=emulator.token, **args)


def test_tutorial_flow(api, emulator):
    """create -> wait -> generate -> pause -> resume -> scale_to_zero -> update -> delete, as the tutorial."""
    endpoint = _create(api, emulator)
    assert endpoint.status == "pending"
    assert endpoint.url is None
    # the tutorial's snake_case health_route is not a field of the custom image: the API drops it
    assert endpoint.raw["model"]["image"] == {"custom": {"url": TGI_IMAGE["url"], "port": 80}}
    assert endpoint.raw["model"]["env"] == TGI_ENV

    endpoint.wait(timeout=10, refresh_every=0.05)
    assert endpoint.status == "running"
    assert endpoint.url == f"{emulator.base_url}/e/{NS}/jais-demo"

    text = endpoint.client.text_generation("What is the capital of France?", max_new_tokens=4)
    assert text == "Hello from the hf-endpoints"

    endpoint.pause()
    assert (endpoint.status, endpoint.url) == ("paused", None)
    endpoint.resume()
    assert endpoint.status == "pending"
    endpoint.wait(timeout=10, refresh_every=0.05)

    endpoint.scale_to_zero()
    assert endpoint.status == "scaledToZero"
    assert endpoint.url is not None

    endpoint.update(instance_type="nvidia-l4", instance_size="x1", repository="core42/jais-13b")
    assert endpoint.status == "scaledToZero"  # the new config applies when a replica next starts
    endpoint.resume()  # wakes it
    endpoint.wait(timeout=10, refresh_every=0.05)
    assert endpoint.raw["compute"]["id"] == "aws-us-east-1-nvidia-l4-x1"
    assert endpoint.repository == "core42/jais-13b"
    assert endpoint.raw["model"]["env"] == TGI_ENV  # an update without env keeps it

    endpoint.delete()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            api.get_inference_endpoint("jais-demo", namespace=NS, token=emulator.token)
        except HfHubHTTPError as e:
            assert e.response.status_code == 404
            break
        time.sleep(0.05)
    else:
        pytest.fail("the deleted endpoint never disappeared")


def test_list_and_hardware_parse(api, emulator):
    """list_inference_endpoints and list_inference_endpoints_hardware parse the emulator's answers."""
    _create(api, emulator, name="one")
    _create(api, emulator, name="two", min_replica=1)
    names = [e.name for e in api.list_inference_endpoints(namespace=NS, token=emulator.token)]
    assert names == ["one", "two"]
    hardware = api.list_inference_endpoints_hardware(namespace=NS, token=emulator.token)
    a10g = next(h for h in hardware if h.id == "aws-us-east-1-nvidia-a10g-x1")
    assert (a10g.vendor, a10g.region, a10g.accelerator, a10g.price_per_hour) == ("aws", "us-east-1", "gpu", 1.0)
    assert (a10g.max_accelerators, a10g.used_accelerators) == (16, 2)
    assert {h.instance_type for h in hardware} >= {
        "intel-spr", "nvidia-t4", "nvidia-l4", "nvidia-a10g", "nvidia-l40s", "nvidia-a100", "nvidia-h200"}


def test_namespace_from_whoami(api, emulator):
    """Without namespace=, huggingface_hub resolves it with /api/whoami-v2 served by the emulator."""
    endpoint = api.create_inference_endpoint(
        "who", repository="gpt2", framework="pytorch", accelerator="cpu", instance_size="x2",
        instance_type="intel-spr", region="us-east-1", vendor="aws", token=emulator.token)
    assert endpoint.namespace == "local"


def test_resume_running_is_ok(api, emulator):
    """resume() on a running endpoint: the 400 'already running' that huggingface_hub tolerates."""
    endpoint = _create(api, emulator, name="up")
    endpoint.wait(timeout=10, refresh_every=0.05)
    assert api.resume_inference_endpoint("up", namespace=NS, token=emulator.token).status == "running"
    with pytest.raises(BadRequestError, match="already running"):
        api.resume_inference_endpoint("up", namespace=NS, token=emulator.token, running_ok=False)


def test_wait_raises_on_failed(api, emulator):
    """A start that fails surfaces as InferenceEndpointError from wait()."""
    from huggingface_hub import InferenceEndpointError

    emulator.faults(fail_start_pattern="broken")
    endpoint = _create(api, emulator, name="doomed", repository="org/broken-model")
    with pytest.raises(InferenceEndpointError, match="failed to deploy"):
        endpoint.wait(timeout=10, refresh_every=0.05)
    assert "fail-start pattern 'broken'" in endpoint.raw["status"]["message"]


@pytest.mark.parametrize(
    ("call", "status", "exc", "message"),
    [
        (lambda api, tok: _create(api, type("E", (), {"token": tok}), name="Bad_Name"), 400, BadRequestError,
         "Invalid endpoint name 'Bad_Name'"),
        (lambda api, tok: api.get_inference_endpoint("x", namespace=NS, token="hf_wrong"), 401, HfHubHTTPError,
         "A valid user or organization token, sent as a Bearer, is required"),
        (lambda api, tok: api.list_inference_endpoints(namespace="someone-else", token=tok), 401,
         HfHubHTTPError, "User 'local' has no access to namespace 'someone-else'"),
        (lambda api, tok: api.get_inference_endpoint("missing", namespace=NS, token=tok), 404, HfHubHTTPError,
         "Endpoint 'missing' not found in namespace 'local'"),
        (lambda api, tok: [_create(api, type("E", (), {"token": tok}), name="dup") for _ in range(2)], 409,
         HfHubHTTPError, "An endpoint with the same name already exists"),
        (lambda api, tok: _create(api, type("E", (), {"token": tok}), name="x", custom_image={"tgi": {}}), 422,
         HfHubHTTPError, "Failed to deserialize the JSON body into the target type: model.image.tgi: "
         "missing field `url`"),
    ],
    ids=["400-bad-name", "401-unknown-token", "401-other-namespace", "404-missing", "409-duplicate",
         "422-shape"],
)
def test_errors_surface_through_huggingface_hub(api, emulator, call, status, exc, message):
    """Each error status reaches the caller as the contract's exception, with the server's message."""
    with pytest.raises(exc) as info:
        call(api, emulator.token)
    assert type(info.value) is exc
    assert info.value.response.status_code == status
    assert message in info.value.server_message
    assert info.value.request_id
