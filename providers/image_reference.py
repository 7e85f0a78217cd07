"""Docker image references (`[registry/]repository[:tag][@digest]`), parsed by Docker's own grammar.

Why: an image URL (`custom_image.url`, `engine.<name>.url`) must name an image a replica can pull, with a tag or a
digest (an untagged image is whatever `latest` is when a replica starts, which is not a desired state), and an
engine's image tag says which version of it runs (`providers.engines.tgi` reads TGI's). No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageReference:
    """A parsed Docker image reference: `[registry/]repository[:tag][@digest]`."""

    name: str
    tag: str | None
    digest: str | None


NAME_MAX_LENGTH = 255  # distribution/reference's NameTotalLengthMax: "repository name must not be more than 255"
_DOMAIN_COMPONENT = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"\w[\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")


def parse_image_reference(text: str) -> ImageReference | None:
    """Docker's reference grammar (distribution/reference): the first component is a registry when it has a `.` or
    `:` or is `localhost`; repository components are lowercase. None when `text` is not a reference."""
    rest, at, digest = text.partition("@")
    if at and not _DIGEST.fullmatch(digest):
        return None
    tag = None
    if rest.rfind(":") > rest.rfind("/"):
        rest, _, tag = rest.rpartition(":")
        if not _TAG.fullmatch(tag):
            return None
    parts = rest.split("/")
    first = parts[0]
    if len(parts) > 1 and (any(c in first for c in ".:") or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            return None
        parts = parts[1:]
    if len(rest) > NAME_MAX_LENGTH or not all(_PATH_COMPONENT.fullmatch(part) for part in parts):
        return None
    return ImageReference(rest, tag, digest or None)
