"""A toy dynamic provider keeping records in a JSON file: it exists to prove the harness, nothing else.

The file path comes from config ``dbPath`` or the ``TOY_DB`` env var, read in ``configure()`` into a module
global: never onto the provider instance, which is pickled into state. The file also keeps a log of every
mutating call, so tests can assert "no writes" and call order.

Control inputs (never diffed) script a create or a diff: ``sleep`` (seconds), ``announce`` (log
``["started", name]`` first), ``after`` (``"<op> <name>"``: wait until the log holds that entry), ``fail`` (log
``["failed", name]`` and raise), ``dbr`` (the provider's delete-before-replace answer, default true),
``engine_diff`` (``diff`` returns ``changes=None``: the engine compares the inputs itself).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

DB_ENV = "TOY_DB"
FIELDS = ("name", "value", "members")
ALLOWED = {*FIELDS, "sleep", "fail", "announce", "after", "dbr", "engine_diff"}
_runtime: dict[str, str] = {}  # per host process; filled by configure()
_lock = threading.Lock()  # the host serves 4 calls at once


def load(path: str | Path) -> dict[str, Any]:
    """The whole store: ``{"records": {id: record}, "log": [[op, id], ...]}``."""
    p = Path(path)
    return json.loads(p.read_text()) if p.exists() else {"records": {}, "log": []}


def _mutate(op: str, rid: str, record: dict[str, Any] | None) -> None:
    path = Path(_runtime["db"])
    with _lock:
        db = load(path)
        if record is None:
            db["records"].pop(rid, None)
        else:
            db["records"][rid] = record
        db["log"].append([op, rid])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(db, indent=1))
        tmp.replace(path)


def _log(op: str, name: str) -> None:
    path = Path(_runtime["db"])
    with _lock:
        db = load(path)
        db["log"].append([op, name])
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(db, indent=1))
        tmp.replace(path)


def _await(entry: str, timeout: float = 30.0) -> None:
    """Block until the log holds ``[op, name]`` (another create's progress): a handshake, not a delay."""
    wanted = entry.split(" ", 1)
    deadline = time.monotonic() + timeout
    while wanted not in load(_runtime["db"])["log"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"toy: {entry!r} never happened")
        time.sleep(0.01)


class ToyProvider(ResourceProvider):
    def configure(self, req: ConfigureRequest) -> None:
        path = req.config.get("dbPath") or os.environ.get(DB_ENV)
        if not path:
            raise ValueError(f"toy provider needs config dbPath or ${DB_ENV}")
        _runtime["db"] = path

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(k, f"unknown property {k!r}") for k in news if k not in ALLOWED | {"__provider"}]
        name = news.get("name")
        if not isinstance(name, Unknown) and not (isinstance(name, str) and name):
            failures.append(CheckFailure("name", "name must be a non-empty string"))
        return CheckResult({k: v for k, v in news.items() if k in ALLOWED}, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if news.get("engine_diff"):
            return DiffResult(changes=None, replaces=[], delete_before_replace=bool(news.get("dbr", True)))
        changed = [k for k in FIELDS if olds.get(k) != news.get(k)]
        replaces = ["name"] if "name" in changed else []
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(news.get("dbr", True)))

    def create(self, props: dict[str, Any]) -> CreateResult:
        if props.get("announce"):
            _log("started", props["name"])
        if props.get("after"):
            _await(props["after"])
        if props.get("fail"):
            _log("failed", props["name"])
            raise RuntimeError(str(props["fail"]))
        time.sleep(float(props.get("sleep") or 0))
        rid = uuid.uuid4().hex[:8]
        outs = {**{k: props[k] for k in FIELDS if k in props}, "record_id": rid, "revision": 1}
        _mutate("create", rid, outs)
        # One write per line: print() writes text and newline separately, so 4 busy workers interleave lines.
        sys.stdout.write(f"toy: created {props['name']} as {rid}\n")
        return CreateResult(rid, outs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        outs = {
            **{k: news[k] for k in FIELDS if k in news},
            "record_id": id_,
            "revision": int(olds["revision"]) + 1,
        }
        _mutate("update", id_, outs)
        return UpdateResult(outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        record = load(_runtime["db"])["records"].get(id_)
        if record is None:
            return ReadResult("", {})
        return ReadResult(id_, record, inputs={k: record[k] for k in FIELDS if k in record})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        _mutate("delete", id_, None)


class Toy(Resource, module="toy", name="Record"):
    """``pulumi-python:dynamic/toy:Record``; ``record_id``/``revision`` are output-only."""

    name: pulumi.Output[str]
    value: pulumi.Output[Any]
    members: pulumi.Output[list[str]]
    record_id: pulumi.Output[str]
    revision: pulumi.Output[int]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None, **props: Any) -> None:
        super().__init__(ToyProvider(), resource_name, dict.fromkeys((*FIELDS, "record_id", "revision")) | props, opts)
