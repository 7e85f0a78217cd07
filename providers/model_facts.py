"""A model's facts from the Hugging Face Hub (safetensors parameter counts and config.json), cached on disk.

Besides `providers.client`, the only module that talks HTTP. It goes through huggingface_hub
(`HfApi.model_info` with the safetensors metadata, `hf_hub_download` of `config.json`), so errors are the
Hub's typed ones. Which Hub: env `HF_ENDPOINTS_HUB_URL`, else stack config `hf-endpoints:hubUrl`, else env
`HF_ENDPOINT`, else the public Hub; with the stack's token (`hf-endpoints:hfToken`, else `HF_TOKEN`).

The cache (`${HF_ENDPOINTS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/hf-endpoints}/model-facts/<hub>/<repo>/`):
* `<sha>.json`: the facts of one commit. A commit never changes, so they are kept for good.
* `refs/<revision>.json`: which commit an unpinned revision (none, a branch or a tag) pointed at, and when
  it was asked. It is trusted for a day (`HF_ENDPOINTS_FACTS_TTL_SECONDS`, default 86400; 0 asks every
  time), so a stack that follows `main` asks the Hub at most once a day while previews make no call at
  all. The fit of a model rarely moves between two commits of a day; pin `revision` to be exact.
Nothing is cached when the Hub could not be asked (offline, gated, an unknown revision), so the next
preview asks again.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from providers import gguf
from providers.fit import ModelFacts

PUBLIC_HUB = "https://huggingface.co"
TTL_SECONDS = 86400.0
SHA = re.compile(r"^[0-9a-f]{40}$")
TIMEOUT_SECONDS = 10.0


class UnknownRevision(Exception):
    """The Hub says the revision does not exist in the repository."""


class FactsUnavailable(Exception):
    """The facts could not be had (offline, gated, not found); the message says why, for a warning."""


@dataclass(frozen=True)
class HubSettings:
    """Where the Hub is and the token to show it, resolved per call (never stored on a provider)."""

    url: str
    token: str | None = None

    @classmethod
    def resolve(cls, config: Mapping[str, Any] | None = None) -> HubSettings:
        config = config or {}
        url = (os.environ.get("HF_ENDPOINTS_HUB_URL") or config.get("hf-endpoints:hubUrl")
               or os.environ.get("HF_ENDPOINT") or PUBLIC_HUB)
        token = config.get("hf-endpoints:hfToken") or os.environ.get("HF_TOKEN") or None
        return cls(url=str(url).rstrip("/"), token=token)

    def __repr__(self) -> str:  # never print the token
        return f"HubSettings(url={self.url!r}, token={'<set>' if self.token else None})"


def cache_root() -> Path:
    root = os.environ.get("HF_ENDPOINTS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hf-endpoints")
    return Path(root) / "model-facts"


def _repo_dir(hub_url: str, repository: str) -> Path:
    parts = urlsplit(hub_url)
    hub = re.sub(r"[^A-Za-z0-9.-]+", "_", f"{parts.netloc}{parts.path}") or "hub"
    return cache_root() / hub / Path(*[quote(part, safe="") for part in repository.split("/")])


_READ: dict[Path, tuple[tuple[int, int], dict[str, Any] | None]] = {}
"""path -> ((mtime_ns, size), what it held): the provider host checks hundreds of endpoints of one model, and parsing
the same file for each was a third of check's time. A file rewritten since is read again."""


def _read(path: Path) -> dict[str, Any] | None:
    try:
        stat = path.stat()
        version = (stat.st_mtime_ns, stat.st_size)
        known = _READ.get(path)
        if known is not None and known[0] == version:
            return known[1]
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    found = data if isinstance(data, dict) else None
    _READ[path] = (version, found)
    return found


def _write(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically, so that the provider host's parallel checks never read half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(data, handle)
        os.replace(handle.name, path)
    except OSError:
        pass  # a read-only cache only costs the next preview a call


def _ttl() -> float:
    try:
        return float(os.environ.get("HF_ENDPOINTS_FACTS_TTL_SECONDS", TTL_SECONDS))
    except ValueError:
        return TTL_SECONDS


def cached(hub: HubSettings, repository: str, revision: str | None,
           clock: Callable[[], float] = time.time) -> ModelFacts | None:
    """The cached facts for this revision, or None when the Hub must be asked."""
    directory = _repo_dir(hub.url, repository)
    sha = revision if revision and SHA.match(revision) else None
    if sha is None:
        ref = _read(directory / "refs" / f"{quote(revision or 'HEAD', safe='')}.json")
        if not ref or not isinstance(ref.get("sha"), str) or clock() - float(ref.get("at", 0)) > _ttl():
            return None
        sha = ref["sha"]
    facts = _read(directory / f"{sha}.json")
    return ModelFacts.from_json(facts) if facts and facts.get("sha") == sha else None


def load(hub: HubSettings, repository: str, revision: str | None,
         clock: Callable[[], float] = time.time, *, files: bool = False) -> ModelFacts:
    """The facts of `repository` at `revision` (None: the default branch), from the cache or the Hub; with
    `files`, also the sizes of its GGUF files (one more question, asked once per commit).

    Raises UnknownRevision when the Hub says the revision does not exist, FactsUnavailable when the facts
    cannot be had (the caller warns and goes on)."""
    with _lock_for((hub.url, repository, revision)):  # the host checks 4 endpoints at once: ask the Hub once
        found = cached(hub, repository, revision, clock)
        if found is not None and (found.files is not None or not files):
            return found
        facts = found or _ask_hub(hub, repository, revision)
        if files and facts.files is None:
            facts = replace(facts, files=_ask_files(hub, repository, facts.sha))
        directory = _repo_dir(hub.url, repository)
        _write(directory / f"{facts.sha}.json", facts.to_json())
        if found is None and not (revision and SHA.match(revision)):
            _write(directory / "refs" / f"{quote(revision or 'HEAD', safe='')}.json",
                   {"sha": facts.sha, "at": clock()})
        return facts


HEADER_BYTES = (1 << 20, 1 << 22, 1 << 24)  # a GGUF header's keys come before its tensors; the vocabulary is MBs


def with_gguf_header(hub: HubSettings, facts: ModelFacts, filename: str) -> ModelFacts:
    """`facts` with the architecture keys of one GGUF file's header (range requests of its first bytes, growing
    until the keys are in), cached with the commit's facts."""
    if facts.gguf and facts.gguf.get("file") == filename:
        return facts
    from huggingface_hub import hf_hub_url  # here, as in _ask_hub: a preview with facts on disk never loads it
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    url = hf_hub_url(facts.repository, filename, revision=facts.sha, endpoint=hub.url)
    where = f"{facts.repository}/{filename} on {hub.url}"
    for size in HEADER_BYTES:
        try:
            headers = {**build_hf_headers(token=hub.token, library_name="hf-endpoints"),
                       "Range": f"bytes=0-{size - 1}"}
            response = get_session().get(url, headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=True)
            hf_raise_for_status(response)
            meta = gguf.parse_metadata(response.content, gguf.ARCHITECTURE_KEYS)
        except gguf.Truncated:
            if len(response.content) < size:  # the whole file was shorter: nothing more to read
                break
            continue
        except gguf.NotGguf as why:
            raise FactsUnavailable(f"{where} is not a GGUF file ({why})") from None
        except Exception as error:
            raise FactsUnavailable(f"could not read {where} ({type(error).__name__}: {str(error)[:200]})") from None
        config = gguf.config_from_metadata(meta)
        if config:
            found = replace(facts, gguf={"file": filename, **config})
            _write(_repo_dir(hub.url, facts.repository) / f"{facts.sha}.json", found.to_json())
            return found
        break
    raise FactsUnavailable(f"the header of {where} does not state the model's shapes")


def _ask_files(hub: HubSettings, repository: str, sha: str) -> dict[str, int]:
    """The sizes of the repository's GGUF files at `sha` (`model_info(files_metadata=True)`)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi(endpoint=hub.url, token=hub.token, library_name="hf-endpoints").model_info(
            repository, revision=sha, files_metadata=True, timeout=TIMEOUT_SECONDS)
    except Exception as error:
        raise FactsUnavailable(f"could not list the files of {repository} on {hub.url} "
                               f"({type(error).__name__}: {str(error)[:200]})") from None
    return {s.rfilename: int(s.size or 0) for s in info.siblings or [] if s.rfilename.lower().endswith(".gguf")}


_LOCKS: dict[tuple[str, str, str | None], threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def _lock_for(key: tuple[str, str, str | None]) -> threading.Lock:
    with _LOCKS_LOCK:
        return _LOCKS.setdefault(key, threading.Lock())


def _ask_hub(hub: HubSettings, repository: str, revision: str | None) -> ModelFacts:
    """Two questions: model_info (commit and safetensors metadata), then config.json at that commit."""
    # Imported here: loading huggingface_hub's HfApi costs the provider host ~0.2 s, and a preview whose facts are on
    # disk never asks the Hub.
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )
    from huggingface_hub.utils import disable_progress_bars

    where = f"{repository} on {hub.url}"
    try:
        info = HfApi(endpoint=hub.url, token=hub.token, library_name="hf-endpoints").model_info(
            repository, revision=revision, expand=["sha", "safetensors"], timeout=TIMEOUT_SECONDS)
        if not info.sha:
            raise FactsUnavailable(f"the Hub did not say which commit {where} is at")
        parameters = dict(info.safetensors.parameters) if info.safetensors else None
        disable_progress_bars()  # the provider host's stderr is the user's terminal
        config: dict[str, Any] | None
        with tempfile.TemporaryDirectory() as download_dir:
            try:
                path = hf_hub_download(repository, "config.json", revision=info.sha, endpoint=hub.url,
                                       token=hub.token, cache_dir=download_dir, etag_timeout=TIMEOUT_SECONDS,
                                       library_name="hf-endpoints")
                config = json.loads(Path(path).read_text())
            except EntryNotFoundError:
                config = None
    except RevisionNotFoundError:
        raise UnknownRevision(f"{revision!r} is not a revision of {where}") from None
    except GatedRepoError:
        raise FactsUnavailable(f"{where} is gated and this token has no access (accept its conditions on the "
                               "Hub, or use a token that has)") from None
    except RepositoryNotFoundError:
        raise FactsUnavailable(f"{where} was not found, or is private and this token cannot see it") from None
    except OfflineModeIsEnabled:
        raise FactsUnavailable("HF_HUB_OFFLINE is set, so the Hub was not asked") from None
    except FactsUnavailable:
        raise
    except Exception as error:  # offline, a proxy, a broken answer: never fail a preview for that
        raise FactsUnavailable(f"could not read {where} ({type(error).__name__}: {str(error)[:200]})") from None
    return ModelFacts(repository=repository, sha=info.sha, parameters=parameters,
                      config=config if isinstance(config, dict) else None)
