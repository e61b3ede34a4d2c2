"""One way to read a spreadsheet (.ods, .xlsx, .xls) into grids of cells, within stated limits.

Every workbook is read by python-calamine (:func:`read_grids`). Two things happen first:

- **Limits.** A small file can describe a huge sheet: a 74 KB .ods whose row carries
  ``table:number-rows-repeated="40000000"`` would make calamine allocate gigabytes (it aborts
  the process, which no ``except`` can catch). So the zip's decompressed size is bounded while
  it is read (:data:`MAX_DECOMPRESSED_BYTES`), and an .ods's ``content.xml`` is scanned for
  the rows, columns and cells the sheet would hold once its repeats are expanded
  (:func:`ods_extent`) before calamine sees it; beyond :data:`MAX_ROWS`, :data:`MAX_COLS` or
  :data:`MAX_CELLS` the file is refused with a clear message. The limits are far above the
  real files (the largest held sheet, ASCOF's, has about 49,000 rows and 20 columns).
- **A missing ``mimetype``.** The ESFA DSG files were written without the ``mimetype`` zip
  entry the ODF standard puts first, and calamine refuses them; the entry is added in memory
  (the file on disk is never changed).

:func:`read_ods_text` turns an .ods sheet into the text grid ``pandas.read_excel(engine="odf",
header=None, dtype=str)`` gives (the oracle of ``tests/test_grids.py``), which the DSG reader
was written against.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from sendstats.sources.readers import RawInputError

#: Bytes a workbook may decompress to (all zip members together). Real files: at most 20 MB.
MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024
#: Rows and columns a sheet may have once repeats are expanded (to its last non-empty cell).
MAX_ROWS = 500_000
MAX_COLS = 4_096
#: Cells a sheet may have (rows x width): about 50 bytes each in calamine, so about 250 MB.
MAX_CELLS = 5_000_000

ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

Grid = list[list[Any]]


def _read_members(path: Path, data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """Return every zip member, refusing once their bytes pass the decompressed limit."""
    members: list[tuple[zipfile.ZipInfo, bytes]] = []
    budget = MAX_DECOMPRESSED_BYTES
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        for info in book.infolist():
            # The sizes in the zip's directory can lie: read at most one byte past the budget.
            with book.open(info) as member:
                body = member.read(budget + 1)
            budget -= len(body)
            if budget < 0:
                raise RawInputError(
                    path,
                    f"workbook decompresses to more than {MAX_DECOMPRESSED_BYTES:,} bytes "
                    f"(limit stated in sendstats.sources.grids; at member {info.filename!r})",
                )
            members.append((info, body))
    return members


def _with_mimetype(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    """Return an .ods zip with ``mimetype`` first, as calamine requires (members unchanged)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        for info, body in members:
            if info.filename != "mimetype":
                book.writestr(info, body, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


_ODS_TOKEN = re.compile(
    rb"<table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>"
    rb"|</table:(table-row)>"
)
_ROWS_REPEATED = re.compile(rb'table:number-rows-repeated="(\d+)"')
_COLS_REPEATED = re.compile(rb'table:number-columns-repeated="(\d+)"')
_NAME = re.compile(rb'table:name="([^"]*)"')


def ods_extent(content: bytes) -> dict[str, tuple[int, int, int]]:
    """Return each table's (rows, columns, cells) once its repeats are expanded.

    Rows count to the last row with a non-empty cell, columns to the last non-empty cell of
    any row, and cells sum each non-empty row's width times its repeat: what a reader that
    expands repeats must hold. Trailing empty rows and cells (LibreOffice writes a last row
    repeated about a million times) cost nothing and are not counted. A cell counts as
    non-empty when it has a value type or any content (a conservative reading).
    """
    out: dict[str, tuple[int, int, int]] = {}
    name = ""
    rows = width = cells = 0
    row_at = row_repeat = col = last = 0
    for m in _ODS_TOKEN.finditer(content):
        kind, attrs = m.group(1), m.group(2) or b""
        if kind == b"table":
            if name:
                out[name] = (rows, width, cells)
            found = _NAME.search(attrs)
            name = found.group(1).decode("utf-8", "replace") if found else "?"
            rows = width = cells = row_at = 0
        elif kind == b"table-row":
            repeat = _ROWS_REPEATED.search(attrs)
            row_repeat = int(repeat.group(1)) if repeat else 1
            col = last = 0
            if attrs.endswith(b"/"):
                row_at += row_repeat
        elif kind is not None:  # a cell
            repeat = _COLS_REPEATED.search(attrs)
            span = int(repeat.group(1)) if repeat else 1
            col += span
            if b"value-type" in attrs or not attrs.endswith(b"/"):
                last = col
        else:  # </table:table-row>
            if last:
                rows = row_at + row_repeat
                width = max(width, last)
                cells += row_repeat * last
            row_at += row_repeat
    if name:
        out[name] = (rows, width, cells)
    return out


def _check_extent(path: Path, sheet: str, rows: int, cols: int, cells: int) -> None:
    """Refuse a sheet beyond the stated limits, naming what is too large."""
    for what, n, limit in (
        ("rows", rows, MAX_ROWS),
        ("columns", cols, MAX_COLS),
        ("cells", cells, MAX_CELLS),
    ):
        if n > limit:
            raise RawInputError(
                path,
                f"sheet would have {n:,} {what} once its repeated rows and cells are expanded; "
                f"the limit is {limit:,} (stated in sendstats.sources.grids; real files have "
                "far fewer): the file is refused rather than read",
                sheet=sheet,
            )


def _missing_sheets(path: Path, missing: list[str], names: list[str]) -> RawInputError:
    """Return the error for sheets not in the workbook, naming the first and all present."""
    more = f" (and {missing[1:]})" if len(missing) > 1 else ""
    return RawInputError(
        path, f"sheet {missing[0]!r} not found{more}; sheets: {names}", sheet=missing[0]
    )


def _kind(path: Path) -> str:
    """Return the file's kind for messages: ``.ods``, ``.xlsx`` ..."""
    return path.suffix.lower() or "spreadsheet"


def read_grids(path: Path, sheets: Sequence[str] | None = None) -> dict[str, Grid]:
    """Read sheets of a workbook (.ods, .xlsx or .xls) as grids of calamine values.

    A grid is a list of rows from cell A1 (empty leading rows kept), ``""`` for an empty
    cell; numbers are floats, dates ``date``/``datetime``. ``sheets=None`` reads every sheet.

    Raises:
        RawInputError: unreadable file, a sheet missing, or beyond the stated limits.

    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RawInputError(path, f"cannot read file: {exc}") from exc
    source: bytes | Path = path
    if zipfile.is_zipfile(io.BytesIO(data)):
        try:
            members = _read_members(path, data)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise RawInputError(path, f"cannot open workbook ({_kind(path)}): {exc}") from exc
        content = next((body for info, body in members if info.filename == "content.xml"), None)
        if content is not None:  # OpenDocument
            # calamine expands every table of an .ods when it opens it: check them all.
            extents = ods_extent(content)
            for sheet, extent in extents.items():
                _check_extent(path, sheet, *extent)
            missing = [s for s in sheets or () if s not in extents]
            if missing:
                raise _missing_sheets(path, missing, list(extents))
            if not members or members[0][0].filename != "mimetype":
                source = _with_mimetype(members)
    try:
        book = (
            CalamineWorkbook.from_filelike(io.BytesIO(source))
            if isinstance(source, bytes)
            else CalamineWorkbook.from_path(str(source))
        )
        names = list(book.sheet_names)
        wanted = list(sheets) if sheets is not None else names
        missing = [s for s in wanted if s not in names]
        if missing:
            raise _missing_sheets(path, missing, names)
        grids: dict[str, Grid] = {}
        for sheet in wanted:
            ranged = book.get_sheet_by_name(sheet)
            _check_extent(path, sheet, ranged.height, ranged.width, ranged.height * ranged.width)
            grids[sheet] = ranged.to_python(skip_empty_area=False)
    except RawInputError:
        raise
    except Exception as exc:  # calamine raises its own error types for a broken workbook
        raise RawInputError(path, f"cannot open workbook ({_kind(path)}): {exc}") from exc
    return grids


#: Text pandas reads as missing (its default ``na_values``): read as an empty cell, so the grids
#: stay those pandas gave (where these were NaN).
_PANDAS_NA = frozenset(
    {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"}
    | {"<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
)


def _pandas_text(value: object) -> str:
    """Return a calamine value as pandas' odf reader writes it with ``dtype=str``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ""
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, dt.datetime):
        return str(value)
    if isinstance(value, dt.date):  # str() of pandas' Timestamp: 2020-01-31 00:00:00
        return str(dt.datetime(value.year, value.month, value.day))
    text = str(value)
    return "" if text in _PANDAS_NA else text


def read_ods_text(path: Path, sheets: Sequence[str]) -> dict[str, list[list[str]]]:
    """Read .ods sheets as text grids of one width, as pandas' odf reader gives them.

    Each grid is ``pandas.read_excel(path, sheet_name=..., engine="odf", header=None,
    dtype=str)`` with ``""`` where pandas had NaN: trailing empty rows and columns dropped,
    whole numbers without a decimal point, dates as ``2020-01-31 00:00:00``, and text pandas
    reads as missing (``NA``, ``n/a``, ...) empty. One difference: a whole percentage or
    currency cell reads ``12`` where pandas wrote ``12.0`` (calamine does not say a cell's
    type; no DSG sheet has one).

    Raises:
        RawInputError: unreadable file, a sheet missing, or beyond the stated limits.

    """
    out: dict[str, list[list[str]]] = {}
    for sheet, grid in read_grids(path, sheets).items():
        text = [[_pandas_text(v) for v in row] for row in grid]
        while text and not any(text[-1]):
            text.pop()
        ends = (max((i + 1 for i, v in enumerate(row) if v), default=0) for row in text)
        width = max(ends, default=0)
        out[sheet] = [(row + [""] * width)[:width] for row in text]
    return out
