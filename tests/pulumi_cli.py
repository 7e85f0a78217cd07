"""The real Pulumi CLI over a scratch copy of the project, with its own file backend, against the emulator.

`install()` gets the pinned CLI through `scripts/pulumi --install-only` (which builds it from Go modules
once, if needed). `PulumiProject` copies what a user's checkout holds (the program, `providers/`, the stack
files) into a temporary directory, points a stack at the emulator and runs `pulumi` commands there exactly
as a user types them; every command's output is kept, so tests can assert on what the user sees.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECT_FILES = ("Pulumi.yaml", "__main__.py", "requirements.txt", "providers", "Pulumi.dev.yaml",
                 "Pulumi.prod.yaml", "Pulumi.local.yaml")
PASSPHRASE = "hf-endpoints-test-passphrase"
CLI_MISSING = "the Pulumi CLI is not available: run ./scripts/pulumi --install-only (it needs Go or network)"


# The user's cache settings as the test run found them: the pinned CLI lives in that cache, while the tests'
# own processes get a scratch HF_ENDPOINTS_CACHE for model facts (tests/conftest.py).
CLI_CACHE_ENV = {key: os.environ.get(key) for key in ("HF_ENDPOINTS_CACHE", "XDG_CACHE_HOME")}


@functools.cache
def install() -> Path | None:
    """The pinned CLI's directory (pulumi and its plugins), or None when it cannot be had here."""
    env = {key: value for key, value in os.environ.items() if key not in CLI_CACHE_ENV}
    env.update({key: value for key, value in CLI_CACHE_ENV.items() if value is not None})
    done = subprocess.run([REPO / "scripts" / "pulumi", "--install-only"], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None
    return Path(done.stdout.strip().splitlines()[-1]).parent


@dataclass(frozen=True)
class Result:
    """One finished command: its exit code and what it printed."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


class CommandFailed(AssertionError):
    def __init__(self, result: Result):
        super().__init__(f"pulumi {' '.join(result.args)} exited {result.code}:\n{result.output[-6000:]}")
        self.result = result


def cli_env(root: Path, bin_dir: Path, backend_url: str | None = None) -> dict[str, str]:
    """The environment of the CLI for a scratch project at `root`: its own Pulumi home, its own file backend
    (`root/.state`) unless `backend_url` names a shared one, the passphrase, and nothing fetched from the network."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", str(root)),
        "PULUMI_HOME": str(root / ".pulumi-home"),
        "PULUMI_BACKEND_URL": backend_url or f"file://{root / '.state'}",
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
    }


class PulumiProject:
    """A scratch copy of the project with its own Pulumi home and backend; `run` is `pulumi <args>`. Two copies
    given one `backend_url` (and the `backend_env` that reaches it, e.g. S3 keys) are two checkouts of a team
    sharing a stack's state."""

    def __init__(self, root: Path, bin_dir: Path, emulator: Any, stack: str = "local", backend_url: str | None = None,
                 backend_env: dict[str, str] | None = None):
        self.root, self.bin_dir, self.emulator, self.stack = root, bin_dir, emulator, stack
        self.backend_url, self.backend_env = backend_url, backend_env or {}
        root.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(source, root / name)
        (root / "venv").symlink_to(REPO / "venv")  # Pulumi.yaml's virtualenv: the checkout's, ready-made
        self.backend = root / ".state"
        self.backend.mkdir()
        self.env = {
            **cli_env(root, bin_dir, backend_url),
            **self.backend_env,
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "HF_ENDPOINTS_POLL_SECONDS": "0.1",
            "HF_TOKEN": emulator.token,
            "HF_ENDPOINTS_CACHE": str(root / ".cache"),  # model facts: each project starts with none cached
        }

    def teammate(self, root: Path) -> PulumiProject:
        """Another checkout of the project on this one's stack and backend, with its stack file as committed
        (encryption salt included), as a teammate's after `git pull`."""
        other = PulumiProject(root, self.bin_dir, self.emulator, self.stack, self.backend_url, self.backend_env)
        name = f"Pulumi.{self.stack}.yaml"
        shutil.copy2(self.root / name, other.root / name)
        return other

    # --- stack files -----------------------------------------------------------------------------------

    def stack_config(self, stack: str | None = None) -> dict[str, Any]:
        path = self.root / f"Pulumi.{stack or self.stack}.yaml"
        return (yaml.safe_load(path.read_text()) or {}).get("config", {}) if path.exists() else {}

    def write_stack(self, config: dict[str, Any], stack: str | None = None) -> None:
        """Write `Pulumi.<stack>.yaml` (keeping Pulumi's encryption salt and secure values)."""
        path = self.root / f"Pulumi.{stack or self.stack}.yaml"
        current = yaml.safe_load(path.read_text()) if path.exists() else {}
        document = {key: value for key, value in (current or {}).items() if key != "config"}
        document["config"] = config
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def edit_endpoint(self, name: str, stack: str | None = None, **changes: Any) -> None:
        """Set (or, with None, remove) keys of `hf-endpoints:endpoints.<name>` in the stack file."""
        config = self.stack_config(stack)
        endpoint = config["hf-endpoints:endpoints"][name]
        for key, value in changes.items():
            if value is None:
                endpoint.pop(key, None)
            else:
                endpoint[key] = value
        self.write_stack(config, stack)

    def only_endpoints(self, *names: str, stack: str | None = None) -> None:
        """Keep only these endpoints of the stack file (the lifecycle tests follow the tutorial's one endpoint)."""
        config = self.stack_config(stack)
        config["hf-endpoints:endpoints"] = {name: spec for name, spec in config["hf-endpoints:endpoints"].items()
                                            if name in names}
        self.write_stack(config, stack)

    def point_at_emulator(self, stack: str | None = None) -> None:
        config = self.stack_config(stack)
        config["hf-endpoints:apiUrl"] = self.emulator.api_url
        config["hf-endpoints:hubUrl"] = self.emulator.base_url  # check reads model facts from its Hub routes
        config["hf-endpoints:namespace"] = "local"
        config["hf-endpoints:readyTimeoutSeconds"] = 120
        self.write_stack(config, stack)

    # --- commands --------------------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
            timeout: float = 240) -> Result:
        done = subprocess.run([str(self.bin_dir / "pulumi"), *args, "--color", "never"], cwd=self.root,
                              env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        result = Result(tuple(args), done.returncode, done.stdout, done.stderr)
        if check and result.code != 0:
            raise CommandFailed(result)
        return result

    def python_module(self, module: str, *args: str, check: bool = True, timeout: float = 120) -> Result:
        """`venv/bin/python -m <module> <args>` in the checkout, with the CLI's environment (as a user runs our
        commands beside `pulumi`)."""
        done = subprocess.run([str(self.root / "venv" / "bin" / "python"), "-m", module, *args], cwd=self.root,
                              env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        result = Result((module, *args), done.returncode, done.stdout, done.stderr)
        if check and result.code != 0:
            raise CommandFailed(result)
        return result

    def unlock(self, *args: str, check: bool = True) -> Result:
        return self.python_module("providers.unlock", "--stack", self.stack, *args, check=check)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        """A command in the background, in its own process group (so a test can kill it and its plugins)."""
        return subprocess.Popen([str(self.bin_dir / "pulumi"), *args, "--color", "never"], cwd=self.root,
                                env={**self.env, **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
                                start_new_session=True)

    @staticmethod
    def kill(process: subprocess.Popen[str]) -> str:
        """SIGKILL the command (and its process group); returns what it printed. The plugins it started run in
        groups of their own: see `leftovers`."""
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate(timeout=30)
        return output

    def leftovers(self) -> dict[int, str]:
        """pid -> command line of every live process started for this project (its path in the command line, or
        its working directory inside it): what a killed CLI left running."""
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                cwd = os.readlink(entry / "cwd")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z" and command and (str(self.root) in command or cwd.startswith(str(self.root))):
                found[int(entry.name)] = command
        return found

    def kill_leftovers(self) -> dict[int, str]:
        """SIGKILL what `leftovers` finds (tests must leave nothing running); returns what it killed."""
        found = self.leftovers()
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return found

    def init(self, stack: str | None = None) -> Result:
        return self.run("stack", "init", stack or self.stack)

    def preview(self, *args: str, check: bool = True) -> Result:
        return self.run("preview", "--stack", self.stack, "--diff", *args, check=check)

    def preview_steps(self, *args: str) -> list[tuple[str, str]]:
        """`pulumi preview --json` as (op, resource name) pairs, the stack itself left out."""
        steps = self.run("preview", "--stack", self.stack, "--json", *args).json().get("steps", [])
        return [(step["op"], step["urn"].rsplit("::", 1)[1]) for step in steps
                if not step["urn"].split("::")[2].startswith("pulumi:pulumi:Stack")]

    def up(self, *args: str, check: bool = True) -> Result:
        return self.run("up", "--stack", self.stack, "--yes", "--skip-preview", *args, check=check)

    def refresh(self, *args: str, check: bool = True) -> Result:
        return self.run("refresh", "--stack", self.stack, "--yes", *args, check=check)

    def destroy(self, *args: str, check: bool = True) -> Result:
        return self.run("destroy", "--stack", self.stack, "--yes", *args, check=check)

    def outputs(self) -> dict[str, Any]:
        return self.run("stack", "output", "--stack", self.stack, "--json", "--show-secrets").json()

    def export(self) -> dict[str, Any]:
        return self.run("stack", "export", "--stack", self.stack).json()

    def resources(self, type_suffix: str = "InferenceEndpoint") -> list[dict[str, Any]]:
        """The stack's resources of one type, from `pulumi stack export`."""
        deployment = self.export()["deployment"]
        return [r for r in deployment.get("resources", []) if r["type"].endswith(type_suffix)]
