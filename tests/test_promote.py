"""Promotion of the model keys from one stack file to another (``python -m providers.promote``)."""

from __future__ import annotations

import contextlib
import difflib
import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from providers.promote import MODEL_KEYS, main
from providers.stack_files import DEFAULTS_KEY, ENDPOINTS_KEY, effective_endpoint, load_stack, to_plain

REPO = Path(__file__).resolve().parent.parent
PROD_SHA = "fedcba9876543210fedcba9876543210fedcba98"  # what a first promotion wrote into prod (`promoted`)
TESTED_SHA = "0123456789abcdef0123456789abcdef01234567"
EP = "jais-13b-chat"
REVISION_ANCHOR = "      # No `revision`: dev follows"


def pin(text: str, sha: str = TESTED_SHA) -> str:
    """Pin dev's revision (the documented first step before promoting)."""
    assert REVISION_ANCHOR in text
    return text.replace(REVISION_ANCHOR, f"      revision: {sha}\n{REVISION_ANCHOR}", 1)


def sub(old: str, new: str) -> Callable[[str], str]:
    """An edit replacing exactly one occurrence of ``old``."""

    def edit(text: str) -> str:
        assert text.count(old) == 1, old
        return text.replace(old, new)

    return edit


def chain(*edits: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        for e in edits:
            text = e(text)
        return text

    return edit


@pytest.fixture
def stacks(tmp_path: Path) -> Path:
    """Temp copies of the committed dev and prod stack files (prod has no revision yet)."""
    for name in ("Pulumi.dev.yaml", "Pulumi.prod.yaml"):
        (tmp_path / name).write_text((REPO / name).read_text())
    return tmp_path


@pytest.fixture
def promoted(stacks: Path) -> Path:
    """The copies after a first promotion of PROD_SHA: prod runs PROD_SHA; dev is back as committed."""
    dev = stacks / "Pulumi.dev.yaml"
    committed = dev.read_text()
    dev.write_text(pin(committed, PROD_SHA))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["dev", "prod", "--dir", str(stacks)]) == 0
    dev.write_text(committed)
    return stacks


def edit_file(path: Path, edit: Callable[[str], str]) -> None:
    path.write_text(edit(path.read_text()))


def run(capsys: pytest.CaptureFixture[str], directory: Path, *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["dev", "prod", "--dir", str(directory), *args])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def model(directory: Path, stack: str, name: str = EP) -> dict[str, Any]:
    doc = to_plain(load_stack(directory / f"Pulumi.{stack}.yaml"))
    config = doc["config"]
    endpoint = effective_endpoint(config.get(DEFAULTS_KEY, {}), config[ENDPOINTS_KEY][name])
    return {key: endpoint[key] for key in MODEL_KEYS if key in endpoint}


def non_model(directory: Path, stack: str, name: str = EP) -> dict[str, Any]:
    config = to_plain(load_stack(directory / f"Pulumi.{stack}.yaml"))["config"]
    endpoint = effective_endpoint(config.get(DEFAULTS_KEY, {}), config[ENDPOINTS_KEY][name])
    rest = {key: value for key, value in endpoint.items() if key not in MODEL_KEYS}
    return {"endpoint": rest, "other": {k: v for k, v in config.items() if k != ENDPOINTS_KEY}}


IMAGE_134 = "ghcr.io/huggingface/text-generation-inference:1.3.4"
IMAGE_311 = "ghcr.io/huggingface/text-generation-inference:3.1.1"

# (id, edit of the pinned dev file, expected --check lines = promoted changes)
CASES = [
    ("same-commit-up-to-date", lambda t: pin(t, PROD_SHA), []),
    ("new-commit", pin, [f'{EP}.revision: "{PROD_SHA}" -> "{TESTED_SHA}"']),
    (
        "env-value",
        chain(lambda t: pin(t, PROD_SHA), sub('MAX_INPUT_LENGTH: "2000"', 'MAX_INPUT_LENGTH: "1800"')),
        [f'{EP}.env.MAX_INPUT_LENGTH: "2000" -> "1800"'],
    ),
    (
        "env-added-and-removed",
        chain(
            lambda t: pin(t, PROD_SHA),
            sub("        QUANTIZE: bitsandbytes\n", ""),
            sub("        MODEL_ID: /repository\n", '        MODEL_ID: /repository\n        NUM_SHARD: "1"\n'),
        ),
        [f'{EP}.env.NUM_SHARD: (unset) -> "1"', f'{EP}.env.QUANTIZE: "bitsandbytes" -> (unset)'],
    ),
    (
        "image-and-commit",
        chain(pin, sub(IMAGE_134, IMAGE_311)),
        [
            f'{EP}.revision: "{PROD_SHA}" -> "{TESTED_SHA}"',
            f'{EP}.custom_image.url: "{IMAGE_134}" -> "{IMAGE_311}"',
        ],
    ),
    (
        "task-through-dev-defaults",
        chain(lambda t: pin(t, PROD_SHA), sub("    task: text-generation\n", "    task: text2text-generation\n")),
        [f'{EP}.task: "text-generation" -> "text2text-generation"'],
    ),
    (
        "smoke-test",
        chain(
            lambda t: pin(t, PROD_SHA),
            sub('expect: "(?i)positive|negative|neutral"', 'expect: "(?i)positive"'),
            sub("max_new_tokens: 20", "max_new_tokens: 5"),
        ),
        [
            f'{EP}.smoke_test.expect: "(?i)positive|negative|neutral" -> "(?i)positive"',
            f"{EP}.smoke_test.max_new_tokens: 20 -> 5",
        ],
    ),
    (
        "hardware-scaling-type-not-copied",
        chain(
            lambda t: pin(t, PROD_SHA),
            sub("instance_type: nvidia-a10g", "instance_type: nvidia-l4"),
            sub("max_replica: 1", "max_replica: 2"),
            sub("region: us-east-1", "region: eu-west-1"),
            sub("type: authenticated", "type: public"),
        ),
        [],
    ),
]


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    removed, added = [], []
    for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm=""):
        if line.startswith(("---", "+++", "@@")):
            continue
        (removed if line.startswith("-") else added).append(line[1:])
    return removed, added


@pytest.mark.parametrize(("edit", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_promotion(
    promoted: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[str], str], expected: list[str]
) -> None:
    """--check lists exactly the model differences; promoting copies them and nothing else, keeping layout."""
    edit_file(promoted / "Pulumi.dev.yaml", edit)
    prod = promoted / "Pulumi.prod.yaml"
    before = prod.read_text()
    before_rest = non_model(promoted, "prod")

    code, out, err = run(capsys, promoted, "--check")
    assert err == []
    if expected:
        assert code == 1
        assert out[:-1] == expected
        assert out[-1].startswith("Pulumi.prod.yaml is behind Pulumi.dev.yaml: ")
    else:
        assert (code, out) == (0, ["Pulumi.prod.yaml is up to date with Pulumi.dev.yaml"])
    assert prod.read_text() == before  # --check writes nothing

    code, out, err = run(capsys, promoted)
    assert (code, err) == (0, [])
    assert out[:-1] == expected
    after = prod.read_text()
    assert model(promoted, "prod") == model(promoted, "dev")
    assert non_model(promoted, "prod") == before_rest

    # Outside the changed values the file is the same, line for line: comments, order, quoting.
    removed, added = _changed_lines(before, after)
    leaves = {line.split(": ", 1)[0].rsplit(".", 1)[-1] for line in expected}
    for line in removed + added:
        assert line.strip().split(":", 1)[0] in leaves, line
    assert len(removed) <= len(expected) and len(added) <= len(expected)
    if not expected:
        assert after == before


@pytest.mark.parametrize(("edit", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_promotion_is_idempotent(
    promoted: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[str], str], expected: list[str]
) -> None:
    """A second promotion finds nothing to do and leaves the file's bytes unchanged."""
    edit_file(promoted / "Pulumi.dev.yaml", edit)
    assert run(capsys, promoted)[0] == 0
    first = (promoted / "Pulumi.prod.yaml").read_bytes()
    code, out, err = run(capsys, promoted)
    assert (code, out, err) == (0, ["Pulumi.prod.yaml is up to date with Pulumi.dev.yaml; nothing written"], [])
    assert (promoted / "Pulumi.prod.yaml").read_bytes() == first
    assert run(capsys, promoted, "--check")[0] == 0


def _refusal(got: str) -> str:
    return (
        f"error: Pulumi.dev.yaml: hf-endpoints:endpoints.{EP}.revision is not a pinned commit ({got}); "
        "pin the revision in dev to the 40-hex commit sha you tested, or pass --allow-unpinned"
    )


UNPINNED = [
    ("unset", lambda t: t, "unset, i.e. the latest commit"),
    ("branch", lambda t: pin(t, "main"), '"main"'),
    ("short-sha", lambda t: pin(t, "abc1234"), '"abc1234"'),
    ("uppercase-sha", lambda t: pin(t, TESTED_SHA.upper()), f'"{TESTED_SHA.upper()}"'),
]


@pytest.mark.parametrize(("edit", "got"), [u[1:] for u in UNPINNED], ids=[u[0] for u in UNPINNED])
@pytest.mark.parametrize("check", [False, True], ids=["promote", "check"])
def test_unpinned_revision_is_refused(
    stacks: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[str], str], got: str, check: bool
) -> None:
    """A revision that is not a 40-hex commit is refused (exit 2, nothing written) without --allow-unpinned."""
    edit_file(stacks / "Pulumi.dev.yaml", edit)
    before = (stacks / "Pulumi.prod.yaml").read_bytes()
    code, _out, err = run(capsys, stacks, *(["--check"] if check else []))
    assert code == 2
    assert err[0] == _refusal(got)
    assert err[1:] == ([] if check else ["error: nothing written to Pulumi.prod.yaml"])
    assert (stacks / "Pulumi.prod.yaml").read_bytes() == before


def test_allow_unpinned_promotes_latest(promoted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --allow-unpinned an unset dev revision removes prod's pin (prod then follows the latest commit)."""
    code, out, err = run(capsys, promoted, "--allow-unpinned")
    assert (code, err) == (0, [])
    assert out == [
        f'{EP}.revision: "{PROD_SHA}" -> (unset)',
        "Promoted Pulumi.dev.yaml -> Pulumi.prod.yaml: 1 change(s) in 1 endpoint(s)",
    ]
    text = (promoted / "Pulumi.prod.yaml").read_text()
    assert "revision:" not in text
    # The comment introducing the hardware survives the deletion of the line before it.
    assert "      # One A100 (80 GB) instead of dev's A10G" in text
    assert model(promoted, "prod") == model(promoted, "dev")


SECOND = """
    # A second, CPU endpoint.
    small-ep:
      repository: openai-community/gpt2
      revision: {sha}
      accelerator: cpu
      instance_type: intel-spr
      instance_size: x2
      min_replica: 1
      max_replica: 1
"""


def test_new_key_lands_inside_its_endpoint(promoted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A key written into an endpoint goes next to the model key before it, inside its endpoint: never below the
    comment that introduces the next endpoint, and comments stay above the keys they introduce."""
    edit_file(promoted / "Pulumi.dev.yaml", lambda t: pin(t) + SECOND.format(sha=TESTED_SHA))
    edit_file(promoted / "Pulumi.prod.yaml", lambda t: t + SECOND.format(sha=PROD_SHA))
    edit_file(promoted / "Pulumi.dev.yaml", sub("    task: text-generation\n", "    task: text2text-generation\n"))
    code, out, _err = run(capsys, promoted)
    assert code == 0
    assert out[:-1] == [
        f'{EP}.revision: "{PROD_SHA}" -> "{TESTED_SHA}"',
        f'{EP}.task: "text-generation" -> "text2text-generation"',
        f'small-ep.revision: "{PROD_SHA}" -> "{TESTED_SHA}"',
        'small-ep.task: "text-generation" -> "text2text-generation"',
    ]
    lines = (promoted / "Pulumi.prod.yaml").read_text().splitlines()
    first = lines.index("      repository: derek-thomas/jais-13b-chat-hf")
    assert lines[first + 1 : first + 3] == [f"      revision: {TESTED_SHA}", "      task: text2text-generation"]
    assert lines[lines.index("      accelerator: gpu") - 1].startswith("      # One A100 (80 GB)")
    start = lines.index("    # A second, CPU endpoint.")
    assert lines[start - 1 : start + 5] == [
        "", "    # A second, CPU endpoint.", "    small-ep:", "      repository: openai-community/gpt2",
        f"      revision: {TESTED_SHA}", "      task: text2text-generation"]
    for name in (EP, "small-ep"):
        assert model(promoted, "prod", name) == model(promoted, "dev", name)


def test_first_promotion_into_prod_writes_its_revision(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The committed prod has no revision: the first promotion writes the tested commit under `repository`, below
    the comment saying so, and leaves every other line as it was."""
    edit_file(stacks / "Pulumi.dev.yaml", pin)
    before = (stacks / "Pulumi.prod.yaml").read_text()
    code, out, err = run(capsys, stacks, "--check")
    assert (code, out[0], err) == (1, f'{EP}.revision: (unset) -> "{TESTED_SHA}"', [])
    assert run(capsys, stacks)[0] == 0
    after = (stacks / "Pulumi.prod.yaml").read_text()
    assert _changed_lines(before, after) == ([], [f"      revision: {TESTED_SHA}"])
    lines = after.splitlines()
    first = lines.index("      repository: derek-thomas/jais-13b-chat-hf")
    assert lines[first + 1] == f"      revision: {TESTED_SHA}"
    assert "`revision` is written by `python -m providers.promote dev prod`" in lines[first + 2]
    assert model(stacks, "prod") == model(stacks, "dev")


def test_target_defaults_key_missing_in_source_is_an_error(stacks: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model key prod sets through its defaults but dev does not set cannot be removed per endpoint."""
    edit_file(stacks / "Pulumi.dev.yaml", chain(pin, sub("    task: text-generation\n", "")))
    code, _out, err = run(capsys, stacks)
    assert code == 2
    assert err[0] == (
        "error: Pulumi.prod.yaml: hf-endpoints:defaults.task applies to endpoint 'jais-13b-chat' but "
        "Pulumi.dev.yaml does not set 'task'; remove it from the defaults of Pulumi.prod.yaml "
        "(or set it in Pulumi.dev.yaml)"
    )


ONLY_DEV = "    dev-only:\n      repository: openai-community/gpt2\n"
ONLY_PROD = "    prod-only:\n      repository: openai-community/gpt2\n"


@pytest.mark.parametrize("check", [False, True], ids=["promote", "check"])
def test_one_sided_endpoints_are_reported_not_promoted(
    promoted: Path, capsys: pytest.CaptureFixture[str], check: bool
) -> None:
    """Endpoints in one stack only are warnings; they are neither created nor deleted nor counted as behind."""
    edit_file(promoted / "Pulumi.dev.yaml", lambda t: pin(t, PROD_SHA) + ONLY_DEV)
    edit_file(promoted / "Pulumi.prod.yaml", lambda t: t + ONLY_PROD)
    before = (promoted / "Pulumi.prod.yaml").read_bytes()
    code, out, err = run(capsys, promoted, *(["--check"] if check else []))
    assert code == 0
    assert err == [
        "warning: endpoint 'dev-only' is in Pulumi.dev.yaml but not in Pulumi.prod.yaml: not promoted "
        "(add it to Pulumi.prod.yaml with its hardware and scaling first)",
        "warning: endpoint 'prod-only' is in Pulumi.prod.yaml but not in Pulumi.dev.yaml: left as is",
    ]
    assert len(out) == 1 and "up to date" in out[0]
    assert (promoted / "Pulumi.prod.yaml").read_bytes() == before


ERRORS = [
    (
        "missing-target",
        lambda d: (d / "Pulumi.prod.yaml").unlink(),
        "error: Pulumi.prod.yaml: file not found",
    ),
    (
        "malformed-source",
        lambda d: (d / "Pulumi.dev.yaml").write_text("config:\n  hf-endpoints:namespace: [unclosed\n"),
        "error: Pulumi.dev.yaml: malformed YAML at line 3: expected ',' or ']', but got '<stream end>'",
    ),
    (
        "no-endpoints-key",
        lambda d: (d / "Pulumi.prod.yaml").write_text("config:\n  hf-endpoints:namespace: my-org\n"),
        "error: Pulumi.prod.yaml: config.hf-endpoints:endpoints is missing",
    ),
    (
        "no-config",
        lambda d: (d / "Pulumi.prod.yaml").write_text("encryptionsalt: abc\n"),
        "error: Pulumi.prod.yaml: 'config' is missing or is not a mapping",
    ),
    (
        "endpoint-not-a-mapping",
        lambda d: (d / "Pulumi.prod.yaml").write_text("config:\n  hf-endpoints:endpoints:\n    jais-13b-chat: yes\n"),
        "error: Pulumi.prod.yaml: config.hf-endpoints:endpoints.jais-13b-chat must be a mapping",
    ),
]


@pytest.mark.parametrize(("breakage", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_file_errors(
    stacks: Path, capsys: pytest.CaptureFixture[str], breakage: Callable[[Path], None], message: str
) -> None:
    """A missing or malformed file is one clear line naming the file and the key, exit 2."""
    edit_file(stacks / "Pulumi.dev.yaml", pin)
    breakage(stacks)
    code, out, err = run(capsys, stacks)
    assert (code, out, err) == (2, [], [message])


def test_cli_subprocess(stacks: Path) -> None:
    """`python -m providers.promote` runs as a module: --check, then promote, then --check again."""
    edit_file(stacks / "Pulumi.dev.yaml", pin)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "providers.promote", "dev", "prod", "--dir", str(stacks), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    check = cli("--check")
    assert check.returncode == 1, check.stderr
    assert check.stdout.splitlines()[0] == f'{EP}.revision: (unset) -> "{TESTED_SHA}"'  # the committed prod
    assert cli().returncode == 0
    again = cli("--check")
    assert (again.returncode, again.stdout) == (0, "Pulumi.prod.yaml is up to date with Pulumi.dev.yaml\n")


CUSTOM_IMAGE_BLOCK = """      custom_image:
        url: ghcr.io/huggingface/text-generation-inference:1.3.4
        health_route: /health
        port: 80
"""
VLLM_BLOCK = """      engine:
        vllm:
          max_num_seqs: 16
      args: ["--max-model-len", "2048", "--quantization", "fp8"]
"""


def test_promotion_moves_the_engine_and_its_args(promoted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A switch from the custom TGI image to vLLM in dev reaches prod whole: the image removed, `engine` and the
    container's `args` written (a flow-style list stays one line), nothing else touched."""
    edit_file(promoted / "Pulumi.dev.yaml", chain(lambda t: pin(t, PROD_SHA), sub(CUSTOM_IMAGE_BLOCK, VLLM_BLOCK)))
    before_rest = non_model(promoted, "prod")
    code, out, err = run(capsys, promoted)
    assert (code, err) == (0, [])
    assert out[:-1] == [
        f'{EP}.custom_image.health_route: "/health" -> (unset)', f"{EP}.custom_image.port: 80 -> (unset)",
        f'{EP}.custom_image.url: "{IMAGE_134}" -> (unset)', f"{EP}.engine.vllm.max_num_seqs: (unset) -> 16",
        f'{EP}.args: (unset) -> ["--max-model-len", "2048", "--quantization", "fp8"]']
    assert model(promoted, "prod") == model(promoted, "dev")
    assert non_model(promoted, "prod") == before_rest
    prod = (promoted / "Pulumi.prod.yaml").read_text()
    assert '      args: ["--max-model-len", "2048", "--quantization", "fp8"]\n' in prod
    assert "custom_image:" not in prod
    assert run(capsys, promoted, "--check")[0] == 0


ENDPOINT_FILE = """\
# The model of each endpoint, for {stack}.
{name}:
  repository: derek-thomas/jais-13b-chat-hf
{revision}  # Hardware and scaling stay {stack}'s own.
  instance_type: {instance}
  env:
    MAX_INPUT_LENGTH: "{length}"  # a comment that stays
"""


def files_project(root: Path, prod_pattern: str = "endpoints/prod/*.yaml") -> Path:
    """dev and prod with their endpoints in endpoint files (dev pinned and ahead); prod's stack file adds a secret."""
    for stack, pattern, revision, instance, length in (
        ("dev", "endpoints/dev/*.yaml", f"  revision: {TESTED_SHA}\n", "nvidia-a10g", "1800"),
        ("prod", prod_pattern, "", "nvidia-a100", "2000"),
    ):
        folder = root / Path(pattern).parent
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / "models.yaml").exists():
            (folder / "models.yaml").write_text(ENDPOINT_FILE.format(stack=stack, name=EP, revision=revision,
                                                                     instance=instance, length=length))
        extra = f"  {ENDPOINTS_KEY}:\n    {EP}:\n      secrets:\n        API_KEY:\n          secure: v1:abc\n" \
            if stack == "prod" else ""
        (root / f"Pulumi.{stack}.yaml").write_text(
            f"config:\n  hf-endpoints:namespace: org\n  hf-endpoints:endpointFiles:\n    - {pattern}\n{extra}")
    return root


def test_promotion_writes_into_the_targets_endpoint_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Endpoints in endpoint files promote as in stack files: the model keys land in prod's file (a first revision
    under repository), with its comments; prod's stack file (its secrets) is left as it was."""
    root = files_project(tmp_path)
    stack_file = (root / "Pulumi.prod.yaml").read_text()
    code, out, err = run(capsys, root)
    assert (code, err) == (0, [])
    assert out == [f'{EP}.revision: (unset) -> "{TESTED_SHA}"', f'{EP}.env.MAX_INPUT_LENGTH: "2000" -> "1800"',
                   "Promoted Pulumi.dev.yaml -> Pulumi.prod.yaml: 2 change(s) in 1 endpoint(s) (in "
                   "endpoints/prod/models.yaml)"]
    assert (root / "endpoints/prod/models.yaml").read_text() == ENDPOINT_FILE.format(
        stack="prod", name=EP, revision=f"  revision: {TESTED_SHA}\n", instance="nvidia-a100", length="1800")
    assert (root / "Pulumi.prod.yaml").read_text() == stack_file
    assert run(capsys, root, "--check")[:2] == (0, ["Pulumi.prod.yaml is up to date with Pulumi.dev.yaml"])


def test_an_endpoint_file_both_stacks_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Writing prod's model into a file dev reads too would change dev: refused, exit 2, nothing written."""
    root = files_project(tmp_path, prod_pattern="endpoints/dev/*.yaml")
    before = (root / "endpoints/dev/models.yaml").read_text()
    code, out, err = run(capsys, root)
    assert (code, out) == (2, [])
    assert err == [f"error: models.yaml: {EP} is defined there for dev and prod alike, so promoting into it would "
                   "change dev too; give prod its own endpoint files (hf-endpoints:endpointFiles)",
                   "error: nothing written to Pulumi.prod.yaml"]
    assert (root / "endpoints/dev/models.yaml").read_text() == before


@pytest.mark.parametrize("outside", ["../outside/*.yaml", "{tmp}/outside/*.yaml"], ids=["dot-dot", "absolute"])
def test_endpoint_files_outside_the_project_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        outside: str) -> None:
    """The program refuses a pattern that leaves the project directory, so promotion must not write there either:
    exit 2, the key and the fix named, the file outside left as it was."""
    pattern = outside.format(tmp=tmp_path)
    root = files_project(tmp_path / "project", prod_pattern=pattern)
    before = (tmp_path / "outside" / "models.yaml").read_text()
    code, out, err = run(capsys, root)
    assert (code, out) == (2, [])
    assert err == [f"error: Pulumi.prod.yaml: config.hf-endpoints:endpointFiles: {pattern!r} is not relative to the "
                   "project directory; write a list of paths or glob patterns relative to the project directory, "
                   "e.g. [endpoints/*.yaml]"]
    assert (tmp_path / "outside" / "models.yaml").read_text() == before


@pytest.mark.parametrize(("written", "shown"), [("2024-01-01", '"2024-01-01"'), ("{a: 1}", '{"a": 1}'), ("[]", "[]")],
                         ids=["a-date", "a-mapping", "empty"])
def test_endpoint_files_that_name_no_pattern_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         written: str, shown: str) -> None:
    """What the YAML reads as no list of patterns (a date, a mapping, an empty list) is named with the fix, exit 2."""
    root = files_project(tmp_path)
    (root / "Pulumi.prod.yaml").write_text(f"config:\n  hf-endpoints:namespace: org\n"
                                           f"  hf-endpoints:endpointFiles: {written}\n")
    assert run(capsys, root) == (2, [], [
        f"error: Pulumi.prod.yaml: config.hf-endpoints:endpointFiles: {shown} is not a list of file patterns; write a "
        "list of paths or glob patterns relative to the project directory, e.g. [endpoints/*.yaml]"])
