"""Content checks by declared format (issue 18, item 9): every real pinned file passes, and
pages, markup, binary data and broken archives that could be served instead are refused."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl
import pytest

from sendstats.acquire.content import ContentError, check_file, check_head

CSV = b"\xef\xbb\xbftime_period,la_code,ehcplans\n202425,E06000001,105\n"


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pl.DataFrame({"a": [1, 2]}).write_parquet(buf)
    return buf.getvalue()


REFUSED: list[tuple[str, bytes, str]] = [
    ("csv", b"<!-- generated -->\n<html><body>Busy</body></html>", "markup"),
    ("csv", b"\xef\xbb\xbf  \r\n<!DOCTYPE html><html>", "markup"),
    ("csv", b"la_code,count\n<html><body>error</body></html>", "markup"),
    ("csv", b'<?xml version="1.0"?><Error>AccessDenied</Error>', "markup"),
    ("txt", b"<!-- a comment first -->\nData guidance", "markup"),
    ("csv", b"la_code,count\x00\x00\x01\x02", "NUL"),
    ("csv", b"Service unavailable, please try later", ""),  # passes: has a comma (see below)
    ("csv", b"Service unavailable\nplease try later", "field separator"),
    ("csv", bytes(range(1, 32)) * 20, "control bytes"),
    ("xlsx", b"<!-- page --><html></html>", "HTML page"),
    ("xlsx", b"la_code,count\n", "zip archive"),
    ("xls", b"PK\x03\x04not an ole2 file", "OLE2"),
    ("parquet", b"\x00\x00PAR1", "parquet"),
]


@pytest.mark.parametrize(("kind", "body", "why"), [r for r in REFUSED if r[2]])
def test_wrong_content_is_refused(tmp_path: Path, kind: str, body: bytes, why: str) -> None:
    path = tmp_path / f"f.{kind}"
    path.write_bytes(body)
    with pytest.raises(ContentError, match=why) as err:
        check_file(path, kind)
    assert err.value.html == (why in {"markup", "HTML page"})
    with pytest.raises(ContentError, match=why):
        check_head(body[:512], kind)


@pytest.mark.parametrize(
    ("kind", "body", "why"),
    [
        ("xlsx", make_zip({"data.csv": CSV}), "parts of an xlsx"),
        ("ods", make_zip({"data.csv": CSV}), "content.xml"),
        (
            "ods",
            make_zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b""}),
            "not a spreadsheet",
        ),
        ("zip", make_zip({"a.csv": CSV})[:40], "not a valid zip"),
        ("zip", make_zip({}), "empty zip"),
        ("parquet", parquet_bytes()[:-4], "truncated parquet"),
        ("csv", b"", "empty file"),
    ],
)
def test_broken_files_are_refused_whole(tmp_path: Path, kind: str, body: bytes, why: str) -> None:
    path = tmp_path / f"f.{kind}"
    path.write_bytes(body)
    with pytest.raises(ContentError, match=why):
        check_file(path, kind)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("csv", CSV),
        ("csv", b'Title line, with a comma\n"a","b"\n'),
        ("csv", "la_name;count\nSt. Helens £ 1\n".encode("cp1252")),
        ("txt", b"Education, health and care plans\nReporting year 2025\n"),
        ("txt", b"Totals may not add up (<5 suppressed)\n"),
        ("zip", make_zip({"data/a.csv": CSV})),
        ("xlsx", make_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"})),
        ("ods", make_zip({"content.xml": b"<office/>"})),  # the mimetype entry may be missing
        ("parquet", parquet_bytes()),
        ("xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)),
    ],
)
def test_good_files_pass(tmp_path: Path, kind: str, body: bytes) -> None:
    path = tmp_path / f"f.{kind}"
    path.write_bytes(body)
    check_file(path, kind)
