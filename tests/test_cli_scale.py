"""Stacks past what Pulumi can pass a program as config, through the real CLI: endpoints in endpoint files
(`hf-endpoints:endpointFiles`) deploy and never enter the config; a config near or over the 128 KiB of
`PULUMI_CONFIG` warns, or fails naming the limit, its size and the way out. The mechanism at small size: 500
endpoints are measured by `bench/cli_bench.py`, not here (minutes)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.test_cli_engine import provider_config

pytestmark = pytest.mark.cli
NAMES = ("files-a", "files-b", "files-c")
ADVICE = ("move endpoints from hf-endpoints:endpoints into files that hf-endpoints:endpointFiles names (README, "
          '"Hundreds of endpoints"); secrets stay in the stack file')


def test_endpoints_in_files_deploy_and_stay_out_of_the_config(project, emulator):
    """The stack file names the files; the endpoints' settings stay out of the config the engine passes and records
    (its own size stays that of a stack of none), while an endpoint's secret stays encrypted in the stack file."""
    config = project.stack_config()
    jais = {**config.pop("hf-endpoints:defaults"), **config.pop("hf-endpoints:endpoints")["jais-13b-chat"]}
    config["hf-endpoints:endpointFiles"] = ["endpoints/*.yaml"]
    project.write_stack(config)
    (project.root / "endpoints").mkdir()
    # files-c has no smoke test: the program sends each endpoint's readiness view as a mapping of its Outputs, an unset
    # one as null, and `preview --expect-no-changes` below holds only if check drops it as the last `up` did.
    specs = {name: jais for name in NAMES} | {"files-c": {k: v for k, v in jais.items() if k != "smoke_test"}}
    (project.root / "endpoints" / "local.yaml").write_text(yaml.safe_dump(specs))
    project.run("config", "set", "--stack", "local", "--secret", "--path",
                "hf-endpoints:endpoints.files-a.secrets.API_KEY", "s3cr3t-of-the-file-test")
    assert sorted(project.preview_steps()) == sorted([("create", name) for name in (*NAMES, "endpoints-ready")])
    project.up()
    assert sorted(e["name"] for e in emulator.endpoints("local")) == list(NAMES)
    recorded = provider_config(project)
    assert "hf-endpoints:endpointFiles" in recorded
    assert "files-b" not in str(recorded) and "derek-thomas" not in str(recorded)
    assert project.outputs()["files-c"]["state"] == "running"
    emulator.clear_calls()
    project.preview("--expect-no-changes")
    assert [(c["method"], c["path"]) for c in emulator.calls() if c["path"].startswith("/v2/")] == [
        ("GET", "/v2/endpoint/local")]
    project.destroy()


@pytest.mark.parametrize(("kib", "fails"), [(100, False), (140, True)], ids=["near-the-limit", "over-the-limit"])
def test_a_config_near_or_over_the_limit_says_so(project, kib, fails):
    """A setting of another namespace pads the config (the program ignores it, Pulumi passes it all): near the limit
    the preview warns and goes on; over it the program cannot start, and the language host names the limit, the
    config's size and what to do, where Pulumi's own says `Argument list too long`."""
    config = project.stack_config()
    config["padding:filler"] = "x" * (kib * 1024)
    project.write_stack(config)
    result = project.preview(check=False)
    if fails:
        assert result.code != 0
        assert re.search(
            r"the program cannot start: the stack config is 14\d KiB as JSON, and Pulumi passes it in one environment "
            r"variable \(PULUMI_CONFIG\), which Linux limits to 128 KiB \(MAX_ARG_STRLEN\)\. "
            + re.escape(ADVICE.replace("move", "Move", 1)), result.output), result.output
    else:
        assert result.code == 0, result.output
        assert re.search(r"this stack's config is 10\d KiB as Pulumi passes it to the program \(PULUMI_CONFIG\), and "
                         r"Linux allows one environment variable 128 KiB: " + re.escape(ADVICE), result.output), \
            result.output
