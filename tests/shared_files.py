"""Where `../shared` is: CI puts it beside the checkout. Found from several starting points, so that a symlinked
checkout, a git worktree or another working directory still find it; missing under CI is a failure, not a skip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).absolute().parent.parent
OVERRIDE = "HF_ENDPOINTS_SHARED"


def _git_common_checkout() -> Path | None:
    """The main checkout of a git worktree (its `.git` directory's parent), or None outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "--path-format=absolute", "--git-common-dir"], cwd=REPO,
                             check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(out).parent if out else None


def candidates() -> list[Path]:
    """Every place `../shared` may be, most specific first."""
    places = [Path(os.environ[OVERRIDE])] if os.environ.get(OVERRIDE) else []
    checkouts = [REPO, REPO.resolve(), Path.cwd(), Path.cwd().resolve()]
    common = _git_common_checkout()
    if common is not None:
        checkouts.append(common)
    places += [checkout.parent / "shared" for checkout in checkouts]
    return list(dict.fromkeys(places))


def shared_dir() -> Path | None:
    return next((place for place in candidates() if place.is_dir()), None)


def require_shared(relative: str) -> Path:
    """`../shared/<relative>`; skips when it is absent on a developer machine, fails under CI (`CI` set)."""
    directory = shared_dir()
    if directory is not None and (directory / relative).exists():
        return directory / relative
    message = (f"{relative} not found under ../shared (looked in {', '.join(map(str, candidates()))}); CI puts "
               f"../shared beside the checkout, or set {OVERRIDE}")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
