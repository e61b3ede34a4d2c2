"""Propose and write pin changes in the source declarations (``data_sources/<id>.yaml``).

A pin changes in two cases, and both are explicit and reviewed:

- a pinned file changed upstream (``sendstats fetch --update-pins``): its ``sha256`` and
  ``bytes`` lines are replaced;
- a file declared but not yet pinned (``sha256: null``) was downloaded for the first time: its
  ``sha256: null`` line gets the hash and a ``bytes:`` line is added after it.

The edit is made on the YAML text, so comments and layout are kept; it is then checked by
parsing both versions, and refused (apply it by hand) if anything else would change. A file that
was reached by a download also gets ``url_verified: true`` when it declared ``false``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sendstats.acquire import catalog
from sendstats.acquire.download import FetchError
from sendstats.core import config
from sendstats.core.io import atomic_write_text

if TYPE_CHECKING:
    from sendstats.acquire.cache import FetchResult

_RELEASE = re.compile(r"^\s*-\s*release:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$")
_NAME = re.compile(r"^\s*-\s*name:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$")
_SHA = re.compile(r"^(\s*)sha256:\s*(\S*)")
_BYTES = re.compile(r"^(\s*bytes:\s*)\d+")
_VERIFIED = re.compile(r"^(\s*url_verified:\s*)(false|False|no)\b")
_NULLS = frozenset({"", "null", "Null", "NULL", "~"})


def _edit_pins(text: str, release: str, name: str, sha256: str, size: int) -> str:
    """Return ``text`` with one file's pin set (comments kept); add ``bytes`` if it had none."""
    lines = text.splitlines(keepends=True)
    current_release = current_file = None
    sha_at: int | None = None
    sha_indent = ""
    has_bytes = False
    for i, line in enumerate(lines):
        if m := _RELEASE.match(line):
            current_release, current_file = m.group(1), None
        elif m := _NAME.match(line):
            current_file = m.group(1)
        elif (current_release, current_file) == (release, name):
            line_end = "\n" if line.endswith("\n") else ""
            if m := _SHA.match(line):
                sha_at, sha_indent = i, m.group(1)
                lines[i] = f"{sha_indent}sha256: {sha256}{line_end}"
            elif m := _BYTES.match(line):
                has_bytes = True
                lines[i] = f"{m.group(1)}{size}{line_end}"
            elif m := _VERIFIED.match(line):
                lines[i] = f"{m.group(1)}true{line_end}"
    if sha_at is not None and not has_bytes:
        if not lines[sha_at].endswith("\n"):
            lines[sha_at] += "\n"
        lines.insert(sha_at + 1, f"{sha_indent}bytes: {size}\n")
    return "".join(lines)


def _expected(old: str, updates: Sequence[FetchResult]) -> Any:
    want = yaml.safe_load(old)
    for res in updates:
        for rel in want["releases"]:
            for f in rel["files"] if rel["release"] == res.release else []:
                if f["name"] == res.name:
                    f["sha256"], f["bytes"] = res.sha256, res.bytes
                    if f.get("url_verified") is False:
                        f["url_verified"] = True
    return want


def _pin_edits(results: Sequence[FetchResult]) -> dict[Path, tuple[str, str]]:
    edits: dict[Path, tuple[str, str]] = {}
    changed = [r for r in results if r.needs_pin]
    for source in sorted({r.source for r in changed}):
        path = config.sources_dir() / f"{source}.yaml"
        old = new = path.read_text(encoding="utf-8")
        updates = [r for r in changed if r.source == source]
        for res in updates:
            new = _edit_pins(new, res.release, res.name, res.sha256, res.bytes)
        if yaml.safe_load(new) != _expected(old, updates):
            raise FetchError(
                f"{path}: could not edit the pins automatically; apply the change by hand"
            )
        edits[path] = (old, new)
    return edits


def format_pin_diff(results: Sequence[FetchResult]) -> str:
    """Return the unified diff of the declarations that pins every new or changed file."""
    chunks: list[str] = []
    root = config.project_root()
    for path, (old, new) in _pin_edits(results).items():
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        chunks.extend(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{rel}",
                tofile=f"b/{rel}",
            )
        )
    return "".join(chunks)


def write_pin_updates(results: Sequence[FetchResult]) -> list[Path]:
    """Write the pin changes into the declarations (the explicit, reviewed way to pin)."""
    edits = _pin_edits(results)
    for path, (_, new) in edits.items():
        atomic_write_text(path, new)
    catalog.clear_cache()
    return list(edits)
