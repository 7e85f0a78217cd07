"""Promote the model of each endpoint from one stack file to another (usually dev -> prod).

Usage::

    python -m providers.promote dev prod [--check] [--allow-unpinned] [--dir DIR]

For every endpoint present in both ``Pulumi.<source>.yaml`` and ``Pulumi.<target>.yaml``, the model-defining keys
(``MODEL_KEYS``: the model, its engine and how it is served) are made equal in the target to their value in the
source. A source value counts whether it is set on the endpoint or through ``hf-endpoints:defaults``. In the
target, a differing value is written into the endpoint's own mapping (a key it does not have yet goes right after
the model key before it, so the first promotion into prod, which ships without a revision, writes ``revision``
under ``repository``); a model key the source does not set is removed from the target's endpoint mapping.
Everything else in the target (hardware, scaling, type, secrets, other keys, comments, key order, quoting) is kept.
Nested mappings (``env``, ``custom_image``, ``engine``, ``smoke_test``) are updated key by key, so unchanged lines
and their comments stay as they are.

Endpoint files: a stack may define endpoints in the files its ``hf-endpoints:endpointFiles`` names
(``providers.endpoint_files``). They are read and written the same way: a target key is changed where the target
has it (its endpoint file, or the stack file), a new one goes where the endpoint is defined. A file that both stacks
name is refused for the endpoints it holds (writing prod's model there would change dev too), exit 2.

Decisions:

* A source ``revision`` that is not a pinned 40-hex commit sha (unset = latest, a branch or tag name) is
  refused unless ``--allow-unpinned``: promote tested commits, not moving targets.
* Endpoints present in only one of the two stacks are reported as warnings on stderr and left alone: the
  tool never creates or deletes endpoints (prod needs its own hardware and scaling for a new one; a
  prod-only endpoint may be deliberate). They do not affect the exit status, also with ``--check``, so a CI
  check fails only when an endpoint that exists in both stacks runs a different model in the target.
* A model key the target sets through its own ``hf-endpoints:defaults`` but the source does not set cannot
  be removed for one endpoint alone: this is an error (exit 2), fix the target's defaults by hand.

Output: one line per changed leaf, ``<endpoint>.<key>[.<subkey>]: <old> -> <new>``, values as JSON,
``(unset)`` for an absent value, sorted by endpoint, then ``MODEL_KEYS`` order, then subkey.

Exit status: 0 done / up to date; 1 with ``--check`` when the target is behind the source; 2 on an error
(missing or malformed file, missing key, refused unpinned revision), in which case nothing is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark
from ruamel.yaml.tokens import CommentToken

from providers.stack_files import (
    DEFAULTS_KEY,
    ENDPOINTS_KEY,
    PINNED_REVISION_RE,
    StackEndpoints,
    StackFileError,
    dump_text,
    effective_endpoint,
    load_endpoints,
    same_value,
    to_plain,
    write_atomically,
)

MODEL_KEYS: tuple[str, ...] = (
    "repository",
    "revision",
    "framework",
    "task",
    "custom_image",
    "engine",
    "command",
    "args",
    "env",
    "smoke_test",
)
"""The keys that define which model an endpoint serves and how (the serving engine and its settings, the
container's command and args included); everything else belongs to each stack."""

EXIT_OK = 0
EXIT_BEHIND = 1
EXIT_ERROR = 2


class _Unset:
    """Marker for an absent value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True)
class Change:
    """One model key of one endpoint to set (``new`` is a value) or remove (``new`` is ``UNSET``)."""

    endpoint: str
    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Plan:
    """What a promotion would do: changes, one-sided endpoints, and problems that block it."""

    changes: list[Change]
    source_only: list[str]
    target_only: list[str]
    unpinned: list[str]
    """Endpoints refused because their source revision is not a pinned commit (see ``errors``)."""
    errors: list[str]
    """One-line messages; any error blocks the promotion."""


# ---------------------------------------------------------------------------------------------------------
# Pure planning


def plan_promotion(source: StackEndpoints, target: StackEndpoints, *, allow_unpinned: bool = False) -> Plan:
    """Compare two stacks' endpoints (stack files and endpoint files) and list what promoting source -> target
    changes."""
    source_path, target_path = source.path, target.path
    src_defaults, tgt_defaults = source.defaults, target.defaults

    changes: list[Change] = []
    errors: list[str] = []
    unpinned: list[str] = []
    common = sorted(name for name in source.parts if name in target.parts)
    for name in common:
        shared = [path for path, _ in target.parts[name] if path in source.files]
        if shared:
            errors.append(
                f"{shared[0].name}: {name} is defined there for {_stack_name(source_path)} and "
                f"{_stack_name(target_path)} alike, so promoting into it would change {_stack_name(source_path)} too; "
                f"give {_stack_name(target_path)} its own endpoint files (hf-endpoints:endpointFiles)")
            continue
        src = effective_endpoint(src_defaults, source.own(name))
        own = target.own(name)
        tgt = effective_endpoint(tgt_defaults, own)
        revision = src.get("revision", UNSET)
        if not allow_unpinned and not (isinstance(revision, str) and PINNED_REVISION_RE.fullmatch(revision)):
            got = "unset, i.e. the latest commit" if revision is UNSET else json.dumps(to_plain(revision))
            unpinned.append(name)
            errors.append(
                f"{source_path.name}: {ENDPOINTS_KEY}.{name}.revision is not a pinned commit ({got}); "
                f"pin the revision in {_stack_name(source_path)} to the 40-hex commit sha you tested, "
                "or pass --allow-unpinned"
            )
        for key in MODEL_KEYS:
            old = tgt.get(key, UNSET)
            if key in src:
                new = src[key]
                if old is UNSET or not same_value(old, new):
                    changes.append(Change(name, key, _plain_or_unset(old), to_plain(new)))
            elif old is not UNSET:
                if key not in own:
                    errors.append(
                        f"{target_path.name}: {DEFAULTS_KEY}.{key} applies to endpoint {name!r} but "
                        f"{source_path.name} does not set {key!r}; remove it from the defaults of "
                        f"{target_path.name} (or set it in {source_path.name})"
                    )
                    continue
                changes.append(Change(name, key, to_plain(old), UNSET))
    return Plan(
        changes=changes,
        source_only=sorted(name for name in source.parts if name not in target.parts),
        target_only=sorted(name for name in target.parts if name not in source.parts),
        unpinned=unpinned,
        errors=errors,
    )


def describe(change: Change) -> list[str]:
    """Readable lines for one change, one per changed leaf of nested mappings."""
    return [
        f"{path}: {_render(old)} -> {_render(new)}"
        for path, old, new in _leaf_diff(f"{change.endpoint}.{change.key}", change.old, change.new)
    ]


def describe_all(changes: Iterable[Change]) -> list[str]:
    """Lines for all changes, in plan order (endpoint, then ``MODEL_KEYS`` order)."""
    return [line for change in changes for line in describe(change)]


def _leaf_diff(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) or isinstance(new, dict):
        old_map = old if isinstance(old, dict) else None
        new_map = new if isinstance(new, dict) else None
        # A mapping against a scalar or list: show it whole.
        if (old_map is None and old is not UNSET) or (new_map is None and new is not UNSET):
            return [(path, old, new)]
        old_map = old_map or {}
        new_map = new_map or {}
        out: list[tuple[str, Any, Any]] = []
        for sub in sorted(set(old_map) | set(new_map)):
            a, b = old_map.get(sub, UNSET), new_map.get(sub, UNSET)
            if a is UNSET or b is UNSET or not same_value(a, b):
                out.extend(_leaf_diff(f"{path}.{sub}", a, b))
        return out
    return [(path, old, new)]


def _render(value: Any) -> str:
    return "(unset)" if value is UNSET else json.dumps(value, ensure_ascii=False)


def _plain_or_unset(value: Any) -> Any:
    return UNSET if value is UNSET else to_plain(value)


def _stack_name(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith(".yaml"):
        return name[len("Pulumi.") : -len(".yaml")]
    return name


# ---------------------------------------------------------------------------------------------------------
# Applying a plan to a round-trip document (keeps comments and key order)


def apply_changes(target: StackEndpoints, changes: Iterable[Change], source: StackEndpoints) -> list[Path]:
    """Write the changes into the target's endpoint mappings, in place, each where the target has that key (a new key
    where the endpoint is defined: its endpoint file, or the stack file); returns the files changed, in order.

    New values are taken from the source's documents so that their scalar styles (quoting, block scalars)
    carry over; comments of the source are not copied.
    """
    changed: list[Path] = []
    for change in changes:
        path, endpoint = target.holder(change.endpoint, change.key)
        if change.new is UNSET:
            _delete(endpoint, change.key)
        else:
            styled = effective_endpoint(source.defaults, source.own(change.endpoint))[change.key]
            if change.key in endpoint:
                _assign(endpoint, change.key, styled)
            else:
                _insert(endpoint, change.key, styled)
        if path not in changed:
            changed.append(path)
    return changed


def _insert(mapping: CommentedMap, key: str, value: Any) -> None:
    """Add a model key the target does not have yet right after the nearest model key before it (`revision` under
    `repository`); the comment lines that followed that key move below the new one, since they introduce what
    comes next. Without such a key the new one is appended to the endpoint."""
    earlier = [k for k in MODEL_KEYS[: MODEL_KEYS.index(key)] if k in mapping]
    if not earlier:
        _assign(mapping, key, value)
        return
    anchor = earlier[-1]
    anchor_value = mapping[anchor]
    if isinstance(anchor_value, CommentedMap | CommentedSeq) and len(anchor_value):
        trailing = _take_trailing(anchor_value)
    else:
        trailing = _take_trailing_of(mapping, anchor)
    mapping.insert(list(mapping).index(anchor) + 1, key, _fresh(value))
    _give_after(mapping, key, trailing)


def _assign(mapping: CommentedMap, key: Any, value: Any) -> None:
    """Set ``mapping[key]`` to ``value``, updating nested mappings key by key."""
    current = mapping.get(key, UNSET)
    if isinstance(current, CommentedMap) and isinstance(value, Mapping):
        for sub in [k for k in current if k not in value]:
            _delete(current, sub)
        for sub, sub_value in value.items():
            if sub in current and same_value(current[sub], sub_value):
                continue
            _assign(current, sub, sub_value)
        return
    if current is UNSET:
        trailing = _take_trailing(mapping)
        mapping[key] = _fresh(value)
        _give_trailing(mapping, trailing)
    elif isinstance(current, CommentedMap | CommentedSeq):
        trailing = _take_trailing(current) if len(current) else ""
        mapping[key] = _fresh(value)
        _give_after(mapping, key, trailing)
    else:
        mapping[key] = _fresh(value)


def _delete(mapping: CommentedMap, key: Any) -> None:
    """Delete ``mapping[key]``, keeping comment lines that followed it (they introduce what comes next)."""
    keys = list(mapping)
    index = keys.index(key)
    value = mapping[key]
    if isinstance(value, CommentedMap | CommentedSeq) and len(value):
        trailing = _take_trailing(value)
    else:
        trailing = _take_trailing_of(mapping, key)
    del mapping[key]
    mapping.ca.items.pop(key, None)
    if trailing and index > 0:
        _give_after(mapping, keys[index - 1], trailing)


def _fresh(value: Any) -> Any:
    """A comment-free copy of a round-trip value (scalar objects, which carry the quoting style, are kept)."""
    if isinstance(value, Mapping):
        fresh = CommentedMap()
        for k, v in value.items():
            fresh[k] = _fresh(v)
        return fresh
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_fresh(v) for v in value)
        if isinstance(value, CommentedSeq) and value.fa.flow_style():
            seq.fa.set_flow_style()
        return seq
    return value


def _last_leaf(node: CommentedMap | CommentedSeq) -> tuple[CommentedMap | CommentedSeq, Any] | None:
    """The (container, key) of the last scalar-ish item under ``node``: where trailing comments are stored."""
    if not len(node):
        return None
    key = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
    child = node[key]
    if _is_block(child):
        deeper = _last_leaf(child)
        if deeper is not None:
            return deeper
    return node, key


def _is_block(node: Any) -> bool:
    """A non-empty block-style collection: comments after it belong to its last item. A flow-style one (`args:
    [a, b]`) is one line, whose comments belong to its key (inside the brackets they would split it)."""
    return isinstance(node, CommentedMap | CommentedSeq) and bool(len(node)) and not node.fa.flow_style()


def _slot(container: CommentedMap | CommentedSeq) -> int:
    return 2 if isinstance(container, CommentedMap) else 0


def _take_trailing(node: CommentedMap | CommentedSeq) -> str:
    """Detach the comment lines after the last item under ``node``; its end-of-line comment stays."""
    leaf = _last_leaf(node)
    return "" if leaf is None else _take_trailing_of(*leaf)


def _take_trailing_of(container: CommentedMap | CommentedSeq, key: Any) -> str:
    entry = container.ca.items.get(key)
    slot = _slot(container)
    token = entry[slot] if entry else None
    if token is None or "\n" not in token.value:
        return ""
    head, rest = token.value.split("\n", 1)
    if not rest:
        return ""
    if head.strip():
        token.value = head + "\n"
    else:
        entry[slot] = None
    return rest


def _give_trailing(node: CommentedMap | CommentedSeq, trailing: str) -> None:
    """Attach comment lines after the last item under ``node``."""
    leaf = _last_leaf(node)
    if trailing and leaf is not None:
        _give_after(*leaf, trailing)


def _give_after(container: CommentedMap | CommentedSeq, key: Any, trailing: str) -> None:
    """Attach comment lines after the item ``container[key]`` (after its last leaf if it is a collection)."""
    if not trailing:
        return
    child = container[key]
    if _is_block(child):
        _give_trailing(child, trailing)
        return
    slot = _slot(container)
    entry = container.ca.items.setdefault(key, [None, None, None, None])
    token = entry[slot]
    if token is None:
        entry[slot] = CommentToken("\n" + trailing, CommentMark(0), None)
    else:
        token.value = (token.value if token.value.endswith("\n") else token.value + "\n") + trailing


# ---------------------------------------------------------------------------------------------------------
# CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m providers.promote",
        description="Copy the model-defining keys of each endpoint from one stack file into another.",
    )
    parser.add_argument("source", help="source stack name, e.g. dev (reads Pulumi.dev.yaml)")
    parser.add_argument("target", help="target stack name, e.g. prod (rewrites Pulumi.prod.yaml)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="print what would change and exit 1 if the target is behind the source; write nothing",
    )
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="promote a revision that is not a pinned 40-hex commit sha (or no revision at all)",
    )
    parser.add_argument("--dir", type=Path, default=Path("."), help="directory of the stack files (default: .)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the promotion CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        source = load_endpoints(args.dir, args.source)
        target = load_endpoints(args.dir, args.target)
        plan = plan_promotion(source, target, allow_unpinned=args.allow_unpinned)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    source_path, target_path = source.path, target.path

    for name in plan.source_only:
        print(
            f"warning: endpoint {name!r} is in {source_path.name} but not in {target_path.name}: "
            f"not promoted (add it to {target_path.name} with its hardware and scaling first)",
            file=sys.stderr,
        )
    for name in plan.target_only:
        print(
            f"warning: endpoint {name!r} is in {target_path.name} but not in {source_path.name}: left as is",
            file=sys.stderr,
        )

    lines = describe_all(plan.changes)
    for line in lines:
        print(line)

    if plan.errors:
        for message in plan.errors:
            print(f"error: {message}", file=sys.stderr)
        if not args.check:
            print(f"error: nothing written to {target_path.name}", file=sys.stderr)
        return EXIT_ERROR

    if args.check:
        if plan.changes:
            endpoints = len({c.endpoint for c in plan.changes})
            print(
                f"{target_path.name} is behind {source_path.name}: {len(lines)} difference(s) in "
                f"{endpoints} endpoint(s); run: python -m providers.promote {args.source} {args.target}"
            )
            return EXIT_BEHIND
        print(f"{target_path.name} is up to date with {source_path.name}")
        return EXIT_OK

    if not plan.changes:
        print(f"{target_path.name} is up to date with {source_path.name}; nothing written")
        return EXIT_OK
    written = apply_changes(target, plan.changes, source)
    for path in written:
        try:
            write_atomically(path, dump_text(target.doc if path == target_path else target.files[path]))
        except OSError as exc:
            print(f"error: {path.name}: cannot write: {exc.strerror}", file=sys.stderr)
            return EXIT_ERROR
    endpoints = len({c.endpoint for c in plan.changes})
    summary = f"{len(lines)} change(s) in {endpoints} endpoint(s)"
    files = [path.relative_to(args.dir).as_posix() for path in written if path != target_path]
    print(f"Promoted {source_path.name} -> {target_path.name}: {summary}" + (f" (in {', '.join(files)})" if files
                                                                               else ""))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
