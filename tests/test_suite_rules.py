"""Rules the suite keeps so that a failure reproduces: property-based tests are derandomized (the emulator's fuzz test
too: it failed at random outside CI), and the emulator's fault injection runs from a fixed seed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import EMULATOR_FAST_ARGS

TESTS = Path(__file__).resolve().parent


def _derandomized(decorator: str, text: str) -> bool:
    """`@settings(..., derandomize=True)`, or `@NAME` or `@settings(NAME, ...)` where `NAME = settings(...,
    derandomize=True ...)`."""
    if decorator.startswith("@settings(") and "derandomize=True" in decorator:
        return True
    inherited = re.match(r"@settings\((\w+)[,)]", decorator)
    name = inherited.group(1) if inherited else decorator[1:].strip()
    return re.search(rf"^{re.escape(name)} = settings\([^)]*derandomize=True", text, re.M) is not None


def test_hypothesis_tests_are_derandomized():
    """Each `@given` sits right under a derandomizing settings decorator."""
    offenders = []
    for path in sorted(TESTS.glob("test_*.py")):
        lines = path.read_text().splitlines()
        for index, line in enumerate(lines):
            if line.startswith("@given(") and not _derandomized(lines[index - 1], "\n".join(lines)):
                offenders.append(f"{path.name}:{index + 1}")
    assert offenders == []


def test_the_emulator_injects_faults_from_a_fixed_seed():
    """`reset()` re-seeds the emulator's generator, so each test sees the same fault sequence for the same calls."""
    assert "--seed" in EMULATOR_FAST_ARGS
