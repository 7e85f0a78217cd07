"""The locks a self-managed ("DIY") Pulumi backend holds for a stack, read from where the CLI writes them.

How the pinned CLI (v3.274.0, `pkg/backend/diy/lock.go`, `backend.go`, `postgres/bucket.go`) stores them:

* Every run that changes a stack (up, destroy, refresh, import, stack rename/rm) writes one object
  `.pulumi/locks/organization/<project>/<stack>/<uuid>.json` = `{"pid", "username", "hostname", "timestamp"}`
  (its own pid, user and host; the time it started), lists the folder, and gives up if another lock is there.
  The lock is never refreshed and never expires; `pulumi cancel` deletes every lock of the stack. No command
  shows the locks except the refusal of a run that finds them (`created by user@host (pid N) at TIME`).
* The URL's path is a key prefix for every scheme but `file://`: `s3://bucket/team` keeps the locks under
  `team/.pulumi/locks/...`, and `postgres://host/state` under `state/.pulumi/locks/...`.
* `file://DIR`: files under DIR (`~` is the home directory), each with a `.attrs` file beside it.
* `s3://BUCKET[/PREFIX]?endpoint=...&region=...&use_path_style=true`: objects, with AWS credentials from the
  environment or `profile=`.
* `postgres://[user[:password]@]host[:port]/DATABASE?sslmode=...&table=TABLE` (libpq's `PG*` variables fill in
  what the URL leaves out): rows of TABLE (default `pulumi_state`), `key` and `data` = `{"data": base64}`.

Only project-scoped stacks are read (the layout of every backend created by Pulumi 3.61 or later).
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMES = ("file", "s3", "postgres")
_TABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
_TRUE = ("1", "t", "true", "yes")


class LockReadError(Exception):
    """The locks could not be read; the message says why and what to do, and holds no credential."""


@dataclass(frozen=True)
class Lock:
    """One lock: where the backend keeps it, and the run that wrote it."""

    key: str
    pid: int
    username: str
    hostname: str
    timestamp: datetime

    @property
    def owner(self) -> str:
        return f"{self.username}@{self.hostname} (pid {self.pid})"


def lock_folder(project: str, stack: str) -> str:
    """The key prefix of a stack's locks inside the backend (before the URL's own prefix)."""
    return f".pulumi/locks/organization/{project}/{stack}/"


def redact(text: str, url: str | None = None) -> str:
    """`text` with the user and password of any URL in it, and `url`'s password wherever it appears, masked."""
    masked = re.sub(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1****:****@", text)
    try:
        password = urllib.parse.urlsplit(url).password if url else None
    except ValueError:  # not a URL: the pattern above is all there is
        password = None
    return masked.replace(password, "****") if password else masked


def parse_lock(key: str, content: bytes) -> Lock:
    try:
        data = json.loads(content)
        return Lock(key=key, pid=int(data["pid"]), username=str(data["username"]), hostname=str(data["hostname"]),
                    timestamp=datetime.fromisoformat(str(data["timestamp"])))
    except (ValueError, KeyError, TypeError) as error:
        raise LockReadError(f"the lock {key} is not a Pulumi lock ({error}); look at it by hand") from error


# --- where each scheme keeps them --------------------------------------------------------------------------

def file_root(url: str) -> Path:
    """The folder of a `file://` backend, resolved as the CLI resolves it (`~`, relative paths, no query)."""
    path = url.removeprefix("file://").split("?", 1)[0]
    return Path(path).expanduser().resolve()


def _read_file(url: str, folder: str) -> dict[str, bytes]:
    directory = file_root(url) / folder
    if not directory.is_dir():
        return {}
    return {f"{folder}{path.name}": path.read_bytes() for path in sorted(directory.glob("*.json"))}


def key_prefix(url: str) -> str:
    """The URL's path as the CLI's key prefix (`s3://bucket/team` -> `team/`, `postgres://h/state` -> `state/`)."""
    path = urllib.parse.urlsplit(url).path.strip("/")
    return f"{path}/" if path else ""


def s3_settings(url: str) -> dict[str, Any]:
    """What boto3 needs from an `s3://` backend URL, with the CLI's translations of the older parameters
    (`disableSSL`, an endpoint without a scheme, `s3ForcePathStyle`)."""
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    endpoint = query.get("endpoint")
    if endpoint and "://" not in endpoint:
        insecure = query.get("disableSSL", query.get("disable_https", "")).lower() in _TRUE
        endpoint = f"{'http' if insecure else 'https'}://{endpoint}"
    path_style = (query.get("use_path_style", "") or query.get("s3ForcePathStyle", "")).lower() in _TRUE
    return {"bucket": parts.netloc, "endpoint_url": endpoint, "region_name": query.get("region"),
            "profile_name": query.get("profile"), "addressing_style": "path" if path_style else None}


def _read_s3(url: str, folder: str) -> dict[str, bytes]:
    try:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError as error:
        raise LockReadError("reading an s3:// backend needs boto3: venv/bin/pip install -r requirements.txt") \
            from error
    settings = s3_settings(url)
    prefix = key_prefix(url) + folder
    try:
        session = boto3.Session(profile_name=settings["profile_name"])
        client = session.client("s3", endpoint_url=settings["endpoint_url"], region_name=settings["region_name"],
                                config=Config(s3={"addressing_style": settings["addressing_style"] or "auto"}))
        found = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=settings["bucket"], Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".json"):
                    body = client.get_object(Bucket=settings["bucket"], Key=item["Key"])["Body"].read()
                    found[item["Key"]] = body
        return found
    except (BotoCoreError, ClientError) as error:
        raise LockReadError(f"could not read the locks from the bucket {settings['bucket']!r}: {error}; check "
                            "the AWS credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the URL's endpoint") from error


def postgres_settings(url: str) -> tuple[str, str]:
    """(libpq connection URL, table) of a `postgres://` backend URL: the CLI's `table` parameter taken out."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    table = dict(query).get("table") or "pulumi_state"
    if not _TABLE_RE.fullmatch(table):
        raise LockReadError(f"table={table!r} in the backend URL is not a table name")
    rest = urllib.parse.urlencode([(key, value) for key, value in query if key != "table"])
    # Built by hand: urlunsplit drops the `//` of `postgres://` (the PG* variables' form), which libpq needs.
    return f"{parts.scheme}://{parts.netloc}{parts.path}{'?' + rest if rest else ''}", table


def _read_postgres(url: str, folder: str) -> dict[str, bytes]:
    try:
        import psycopg
    except ImportError as error:
        raise LockReadError("reading a postgres:// backend needs psycopg: venv/bin/pip install -r "
                            "requirements.txt") from error
    conninfo, table = postgres_settings(url)
    prefix = key_prefix(url) + folder
    try:
        with psycopg.connect(conninfo, connect_timeout=15) as connection:
            rows = connection.execute(f"SELECT key, data FROM {table} WHERE starts_with(key, %s) ORDER BY key",
                                      (prefix,)).fetchall()
    except psycopg.errors.UndefinedTable:
        return {}  # the CLI creates the table on first use: no table, no lock
    except psycopg.Error as error:
        raise LockReadError(f"could not read the locks from PostgreSQL: {redact(str(error).strip(), url)}; check "
                            "the URL (or PGHOST, PGUSER, PGPASSWORD) and that the server is up") from error
    found = {}
    for key, data in rows:
        if key.endswith(".json"):
            blob = json.loads(data) if isinstance(data, str) else data
            found[key] = base64.b64decode(blob["data"])
    return found


_READERS: dict[str, Callable[[str, str], dict[str, bytes]]] = {
    "file": _read_file, "s3": _read_s3, "postgres": _read_postgres}


def read_locks(url: str, project: str, stack: str) -> list[Lock]:
    """Every lock the backend at `url` holds for the stack, oldest first."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme in ("https", "http"):
        raise LockReadError(f"the stack's backend is Pulumi Cloud ({redact(url)}), which shows and cancels a stack's "
                            "running update itself (its console, or `pulumi cancel`): this command is for "
                            "self-managed backends")
    if scheme not in _READERS:
        raise LockReadError(f"the stack's backend is {redact(url).split('?')[0]}; this command reads the locks of "
                            f"{', '.join(s + '://' for s in SCHEMES)} backends only")
    try:
        urllib.parse.urlsplit(url)
    except ValueError as error:
        raise LockReadError(f"the backend URL {redact(url)} is not one the CLI reads ({error})") from error
    found = _READERS[scheme](url, lock_folder(project, stack))
    return sorted((parse_lock(key, content) for key, content in found.items()), key=lambda lock: lock.timestamp)
