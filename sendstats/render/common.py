"""What every renderer shares: the engine and target names, the render error, atomic writes."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

__all__ = [
    "EXTERNAL_RESOURCE",
    "Engine",
    "ParamValue",
    "RenderError",
    "Target",
    "move_atomic",
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
