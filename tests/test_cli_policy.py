"""The organization policy pack (policy/) through the real CLI: `pulumi preview --policy-pack policy`."""

from __future__ import annotations

import json
import shutil

import pytest

from emulator.hub import builtin_sha
from tests.pulumi_cli import REPO, PulumiProject

pytestmark = pytest.mark.cli
NAME = "jais-13b-chat"
COMMIT = builtin_sha("derek-thomas/jais-13b-chat-hf")  # the commit the emulator's Hub knows
PINNED = ("endpoints.jais-13b-chat.revision: stack `prod` matches `prod*`, so the revision must be a pinned 40-hex "
          "commit, got null; test it in dev, then `python -m providers.promote dev prod`")
PUBLIC = ("endpoints.jais-13b-chat.type: `public` endpoints answer anyone without a token; use `authenticated` (or "
          "allow it with allowPublic in the policy config)")
TAG = "endpoints.jais-13b-chat.tags: missing the required tag `team` (write `team` or `team:<value>` under tags)"
CEILING = ("the stack's most expensive hour (every endpoint at max_replica) is $10, over the ceiling of $5 "
           "(maxHourlyUsd in the policy config); most costly: jais-13b-chat $10/h. Lower max_replica, choose "
           "cheaper hardware, or pause an endpoint")
DESCRIPTIONS = {"Stacks matching stackPattern pin revision to a commit.", "No public endpoint unless allowPublic.",
                "Every endpoint carries the required tags.",
                "The stack's most expensive hour stays under maxHourlyUsd."}
GOOD = {"revision": COMMIT, "tags": ["team:ml"]}  # prod as shipped: a100 x1 ($2.5/h), max_replica 4


@pytest.mark.parametrize(("stack", "changes", "config", "violations"), [
    ("prod", GOOD, {"required-tags": {"tags": ["team"]}}, []),
    ("prod", {**GOOD, "revision": None}, {}, [PINNED]),
    ("dev", {"revision": None}, {}, []),
    ("prod", {**GOOD, "revision": None}, {"pinned-revision": {"stackPattern": "staging*"}}, []),
    ("prod", {**GOOD, "type": "public"}, {}, [PUBLIC]),
    ("prod", {**GOOD, "type": "public"}, {"no-public-endpoints": {"allowPublic": True}}, []),
    ("prod", {**GOOD, "tags": ["other"]}, {"required-tags": {"tags": ["team"]}}, [TAG]),
    ("prod", GOOD, {"hourly-ceiling": {"maxHourlyUsd": 5}}, [CEILING]),
    ("prod", {**GOOD, "paused": True}, {"hourly-ceiling": {"maxHourlyUsd": 5}}, []),
], ids=["compliant", "unpinned-prod", "unpinned-dev", "pattern-configured", "public", "public-allowed",
        "missing-tag", "over-ceiling", "paused-costs-nothing"])
def test_policy_pack(stack, changes, config, violations, tmp_path, pulumi_bin, emulator):
    """Each rule reports exactly its violation, configured by --policy-pack-config; nothing reaches the API."""
    project = PulumiProject(tmp_path / "project", pulumi_bin, emulator, stack=stack)
    shutil.copytree(REPO / "policy", project.root / "policy")
    project.point_at_emulator()
    stack_file = project.stack_config()
    stack_file.pop("hf-endpoints:requirePinnedRevision", None)  # the pack judges alone (prod's own guard is off)
    project.write_stack(stack_file)
    project.edit_endpoint(NAME, **changes)
    (project.root / "policy-config.json").write_text(json.dumps(config))
    project.init()
    emulator.clear_calls()
    result = project.run("preview", "--stack", stack, "--policy-pack", "policy", "--policy-pack-config",
                         "policy-config.json", check=False)
    reported = [line.strip() for line in result.output.splitlines()
                if line.startswith("          ") and line.strip() not in DESCRIPTIONS]
    assert reported == violations, result.output
    assert result.code == (1 if violations else 0), result.output
    assert [c for c in emulator.calls() if c["path"].startswith("/v2/")] == []
