"""What a downloaded file is, judged by its content for every declared format.

A publisher's server can answer a download link with something else than the file: an error or
maintenance page, a release page, a login form, a truncated body. The sha256 pin catches that for
a pinned file, but the first fetch of an unpinned file and ``--update-pins`` have no pin to
compare with, so the content itself must show the declared format before the file may be kept
(and pinned):

- ``csv`` and ``txt``: text (no NUL byte, few control characters), not markup (nothing that
  starts with ``<`` such as ``<!-- -->``, ``<!DOCTYPE``, ``<html``, ``<?xml``, and no HTML tag in
  the first bytes); a ``csv`` has a field separator on its first non-empty line.
- ``zip``: a zip archive with at least one member; ``xlsx``: a zip holding
  ``[Content_Types].xml`` and an ``xl/`` part; ``ods``: a zip holding ``content.xml``, whose
  ``mimetype`` entry, when present, names an OpenDocument spreadsheet.
- ``xls``: the OLE2 compound-file signature; ``parquet``: ``PAR1`` at both ends.

:func:`check_head` judges the first bytes while a download streams (so an HTML page is refused
before it is read whole); :func:`check_file` judges the complete file. Every real file the
declarations pin passes (tests/test_content.py).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

HEAD_BYTES = 512
_TEXT_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
_HTML_TAG = re.compile(rb"<\s*(?:!doctype|html|head|body|script|meta|title|iframe|div)\b", re.I)
_TEXT_KINDS = frozenset({"csv", "txt"})
_ZIP_KINDS = frozenset({"zip", "xlsx", "ods"})


class ContentError(ValueError):
    """The bytes are not a file of the declared format; the message says what they look like."""

    def __init__(self, message: str, *, html: bool = False):
        super().__init__(message)
        self.html = html


def _looks_like_html(head: bytes, *, search: bool) -> bool:
    """Tell if ``head`` starts with markup, or (``search``: text) holds an HTML tag early on."""
    text = head.removeprefix(_BOM).lstrip(b" \t\r\n\x0c")
    return text.startswith(b"<") or (search and bool(_HTML_TAG.search(head[: HEAD_BYTES * 8])))


def _check_text(head: bytes, kind: str) -> None:
    body = head.removeprefix(_BOM)
    if _looks_like_html(body, search=True):
        raise ContentError(f"markup (an HTML or XML page), not {kind} text", html=True)
    if b"\x00" in body:
        raise ContentError(f"binary data (NUL bytes), not {kind} text")
    controls = sum(1 for b in body if b < 32 and b not in (9, 10, 12, 13))
    if body and controls > len(body) // 100:
        raise ContentError(f"binary data ({controls} control bytes), not {kind} text")
    if kind == "csv":
        first = next((line for line in body.splitlines() if line.strip()), b"")
        if not any(sep in first for sep in (b",", b"\t", b";")):
            raise ContentError(f"text without a field separator on its first line ({first[:60]!r})")


def check_head(head: bytes, kind: str) -> None:
    """Refuse the first bytes of a download that cannot begin a file of format ``kind``.

    Raises:
        ContentError: an HTML page (``html`` set), or bytes that do not start the format.

    """
    if kind in _TEXT_KINDS:
        _check_text(head, kind)
        return
    if _looks_like_html(head, search=False):
        raise ContentError(f"an HTML page, not a {kind} file", html=True)
    if kind in _ZIP_KINDS and not head.startswith(_ZIP_STARTS):
        raise ContentError(f"not a {kind} file (a zip archive); it starts {head[:16]!r}")
    if kind == "xls" and not head.startswith(_OLE2):
        raise ContentError(f"not an xls workbook (OLE2 signature); it starts {head[:16]!r}")
    if kind == "parquet" and not head.startswith(b"PAR1"):
        raise ContentError(f"not a parquet file; it starts {head[:16]!r}")


def _check_zip(path: Path, kind: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            mimetype = zf.read("mimetype").strip() if "mimetype" in names else None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ContentError(f"not a valid {kind} file (a zip archive): {exc}") from exc
    if not names:
        raise ContentError(f"an empty zip archive, not a {kind} file")
    if kind == "xlsx" and not (
        "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)
    ):
        raise ContentError("a zip archive without the parts of an xlsx workbook")
    if kind == "ods":
        if "content.xml" not in names:
            raise ContentError("a zip archive without the content.xml of an ods spreadsheet")
        if mimetype is not None and mimetype != _ODS_MIME:
            raise ContentError(f"an OpenDocument file of type {mimetype!r}, not a spreadsheet")


def check_file(path: Path, kind: str) -> None:
    """Refuse a complete file whose content is not format ``kind``.

    Raises:
        ContentError: with what the content looks like instead.

    """
    with open(path, "rb") as fh:
        head = fh.read(_TEXT_BYTES if kind in _TEXT_KINDS else HEAD_BYTES)
        if kind == "parquet":
            size = fh.seek(0, 2)
            fh.seek(max(0, size - 4))
            tail = fh.read(4)
    if not head:
        raise ContentError(f"an empty file, not a {kind} file")
    check_head(head, kind)
    if kind in _ZIP_KINDS:
        _check_zip(path, kind)
    elif kind == "parquet" and (size < 12 or tail != b"PAR1"):
        raise ContentError("a truncated parquet file (no PAR1 footer)")
