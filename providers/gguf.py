"""The metadata at the head of a GGUF file (llama.cpp's model format), read from its first bytes. Pure: no I/O.

Why: a GGUF repository usually has no config.json, yet llama.cpp's KV cache depends on the layers, KV heads and head
size, which the file's header states (`<arch>.block_count`, `<arch>.attention.head_count_kv`, ...). `model_facts`
fetches the first bytes with an HTTP range request; this parses them. Format (ggml `docs/gguf.md`, version 2 and 3):
magic `GGUF`, uint32 version, uint64 tensor count, uint64 key/value count, then each key as a uint64-length string,
a uint32 value type and the value. Arrays (the tokenizer's vocabulary, often megabytes) are skipped, not kept.
"""

from __future__ import annotations

import struct
from typing import Any

MAGIC = b"GGUF"
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class Truncated(ValueError):
    """The bytes end before the keys asked for were read: fetch more."""


class NotGguf(ValueError):
    """The bytes are not a GGUF file."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise Truncated(f"needs more than {len(self.data)} bytes")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.take(self.unpack("<Q")).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            inner, count = self.unpack("<I"), self.unpack("<Q")
            for _ in range(count):
                self.value(inner)
            return None  # arrays are skipped
        raise NotGguf(f"unknown value type {kind}")


def parse_metadata(data: bytes, wanted: frozenset[str] | None = None) -> dict[str, Any]:
    """The scalar and string keys of the header (arrays skipped). With `wanted` (`{arch}` standing for the
    architecture), the bytes may end, or the tokenizer's keys begin, once those keys were read: what was read is
    enough. Raises Truncated when the bytes end first."""
    reader = _Reader(data)
    if reader.take(4) != MAGIC:
        raise NotGguf("no GGUF magic")
    version = reader.unpack("<I")
    if version not in (2, 3):
        raise NotGguf(f"GGUF version {version} is not supported")
    reader.unpack("<Q")  # tensor count
    count = reader.unpack("<Q")
    found: dict[str, Any] = {}

    def enough() -> bool:
        arch = found.get("general.architecture")
        return wanted is not None and arch is not None and all(k.replace("{arch}", str(arch)) in found
                                                               for k in wanted)

    for _ in range(count):
        try:
            key = reader.string()
            if key.startswith("tokenizer.") and enough():
                break  # the vocabulary follows: megabytes the shapes do not need
            found[key] = reader.value(reader.unpack("<I"))
        except Truncated:
            if enough():
                break
            raise
    return {k: v for k, v in found.items() if v is not None}


ARCHITECTURE_KEYS = frozenset({"{arch}.block_count", "{arch}.attention.head_count", "{arch}.embedding_length"})
"""The keys the KV cache needs at least (head_count_kv and key_length are optional in the format)."""


def config_from_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The header's architecture keys under config.json's names, so the shared shape reader applies."""
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return {}

    def key(name: str) -> Any:
        return meta.get(f"{arch}.{name}")

    config: dict[str, Any] = {"model_type": arch, "num_hidden_layers": key("block_count"),
                              "num_attention_heads": key("attention.head_count"),
                              "num_key_value_heads": key("attention.head_count_kv"),
                              "hidden_size": key("embedding_length"), "intermediate_size": key("feed_forward_length"),
                              "max_position_embeddings": key("context_length"),
                              "head_dim": key("attention.key_length")}
    return {k: v for k, v in config.items() if v is not None}
