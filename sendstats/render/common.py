"""What every renderer shares: the engine and target names, the render error, atomic writes."""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

__all__ = [
    "EXTERNAL_RESOURCE",
    "Engine",
    "ParamValue",
    "RenderError",
    "StandIns",
    "Target",
    "move_atomic",
    "put_back",
    "write_atomic",
]

Engine = Literal["auto", "quarto", "fallback"]
Target = Literal["html", "pdf"]
ParamValue = str | int | float

#: A fragment that loads something from outside the page (pandoc's --embed-resources would
#: inline it, or refuse a remote one): an element with a src/href/data attribute that is not a
#: data: URI or a #fragment, or a CSS url()/@import.
EXTERNAL_RESOURCE = re.compile(
    r"<(?:img|script|link|iframe|frame|source|video|audio|track|embed|object|image|feimage|input)"
    r"""\b[^>]*?\s(?:src|href|xlink:href|data|poster)\s*=\s*["']?(?!data:|#)"""
    r"""|url\(\s*["']?(?!data:|#)|@import""",
    re.IGNORECASE,
)


#: Text every match of EXTERNAL_RESOURCE contains (lower case): a fragment without any of
#: them (a chart's SVG, a table) skips that pattern's slower scan.
_LOAD_WORDS = ("src", "href", "data", "poster", "url(", "@import")


def _may_load(fragment: str) -> bool:
    lower = fragment.lower()
    return any(word in lower for word in _LOAD_WORDS)


#: Any StandIns placeholder (its token, then its number).
_PLACEHOLDER = re.compile(r"<!--sendstats-[0-9a-f]{32}-\d+-->")


class StandIns:
    """Raw HTML fragments stood in by placeholder comments while a converter writes the page.

    Both renderers hand their converter (pandoc for the fallback, Quarto for the batch) the
    page with each self-contained fragment (inline SVG charts, tables: nearly all of a
    profile's bytes) replaced by a comment, and put the fragments back in what it wrote
    (:func:`put_back`): the converter's post-processing then does not parse every chart. A
    fragment that loads something from outside goes through as it is.
    """

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        #: placeholder comment -> the fragment it stands for
        self.fragments: dict[str, str] = {}

    def stand_in(self, fragment: str) -> str:
        """Return the placeholder for ``fragment`` (or ``fragment`` if it loads anything)."""
        if _may_load(fragment) and EXTERNAL_RESOURCE.search(fragment):
            return fragment
        key = f"<!--sendstats-{self.token}-{len(self.fragments)}-->"
        self.fragments[key] = fragment
        return key


def put_back(page: str, fragments: Mapping[str, str], converter: str) -> str:
    """Return ``page`` with each placeholder of :class:`StandIns` replaced by its fragment.

    Raises:
        ValueError: ``converter`` (named in the message) dropped or repeated a placeholder.

    """
    if not fragments:
        return page
    found = [key for key in _PLACEHOLDER.findall(page) if key in fragments]
    if sorted(found) != sorted(fragments):
        raise ValueError(
            f"{converter}'s page kept {len(found)} of {len(fragments)} charts and tables"
        )
    return _PLACEHOLDER.sub(lambda match: fragments.get(match[0], match[0]), page)


class RenderError(RuntimeError):
    """A report failed to render; the message names the document, the parameters and why."""

    def __init__(
        self, document: Path, params: Mapping[str, object], detail: str, *, cell: str | None = None
    ) -> None:
        self.document = document
        self.params = dict(params)
        self.cell = cell
        self.detail = detail
        shown = "{" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "}"
        where = f" at {cell}" if cell else ""
        super().__init__(f"rendering {document} with params {shown} failed{where}: {detail}")


def move_atomic(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` so that ``target`` is never seen half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:  # another filesystem: copy beside the target, then rename there
        write_atomic(target, source.read_bytes())


def write_atomic(target: Path, content: bytes) -> None:
    """Write ``content`` to a temporary file beside ``target`` and rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
