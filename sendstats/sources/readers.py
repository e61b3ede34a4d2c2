"""Shared readers for raw publisher files, and the error type that names file, column and row.

Every raw column is read as text first: publishers mix numbers with markers (``x``, ``z``,
``c``, ``:``, ``[x]`` ...), thousands separators and float noise (``64.900000000000``), and
a reader that guesses types would turn a marker into a silent null or zero. Markers become
null plus a status value (:func:`split_markers`), never 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import pandera.errors
import polars as pl

#: Status written for a value that was published as a number.
STATUS_OK = "ok"

#: EES symbols (DfE "explore education statistics" conventions, see each data guidance file).
EES_MARKERS: Mapping[str, str] = {
    "x": "not available",
    "z": "not applicable",
    "c": "suppressed (confidential)",
    "low": "rounds to zero but not zero",
    "u": "low reliability",
    ":": "not available",
    "N/A": "cannot be produced",
}

_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
#: A count as publishers write one: digits (thousands separators removed first), perhaps a
#: zero fraction (``12.0``). ``1e5`` and ``1e400`` are refused: no publisher writes a count
#: with an exponent, and ``1e400`` would read as infinity.
WHOLE_NUMBER = re.compile(r"^-?\d+(\.0*)?$")


class RawInputError(ValueError):
    """A raw file does not look as the publisher's layout says it should.

    The message always names the file and, where it can, the sheet, the column, the row
    (1-based data row, header excluded, for a CSV; the row number the spreadsheet shows, for a
    sheet) and the offending value, so the user can open the file and look.
    """

    def __init__(
        self,
        path: Path | str,
        problem: str,
        *,
        column: str | None = None,
        row: int | None = None,
        value: str | None = None,
        sheet: str | None = None,
    ) -> None:
        """Build the message from its parts."""
        self.path = str(path)
        self.problem = problem
        self.column = column
        self.row = row
        self.value = value
        self.sheet = sheet
        where = [f"file {self.path}"]
        if sheet is not None:
            where.append(f"sheet {sheet!r}")
        if column is not None:
            where.append(f"column {column!r}")
        if row is not None:
            where.append(f"row {row}")
        if value is not None:
            where.append(f"value {value!r}")
        super().__init__(f"{problem} ({', '.join(where)})")

    def in_sheet(self, sheet: str) -> RawInputError:
        """Return the same error naming ``sheet`` (for a reader that only saw a grid)."""
        if self.sheet is not None:
            return self
        return RawInputError(
            self.path,
            self.problem,
            column=self.column,
            row=self.row,
            value=self.value,
            sheet=sheet,
        )


_BOM = b"\xef\xbb\xbf"


def read_csv_text(path: Path, *, encoding: str = "utf-8-sig") -> pl.DataFrame:
    """Read a CSV with every column as text, stripping a UTF-8 BOM from the header.

    Raises:
        RawInputError: when the file is empty, cannot be decoded, or is cut mid-row.

    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RawInputError(path, f"cannot read file: {exc}") from exc
    text = decode_text(path, data, encoding)
    # UTF-8 input, now known valid, goes to polars as it is (less its BOM): encoding the text
    # again would copy every file once more.
    codec = encoding.lower().replace("_", "-")
    if codec in {"utf-8", "utf8", "utf-8-sig"}:
        body = data.removeprefix(_BOM)  # as decode_text: "utf-8-sig" drops one, then one more
        body = body.removeprefix(_BOM) if codec == "utf-8-sig" else body
    else:
        body = text.encode("utf-8")
    try:
        df = pl.read_csv(body, infer_schema=False, raise_if_empty=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise RawInputError(path, f"not a well-formed CSV: {exc}") from exc
    _check_complete_rows(path, text, df)
    return df


def decode_text(
    path: Path, data: bytes, encoding: str = "utf-8-sig", *, header_lines: int = 1
) -> str:
    """Decode a text file, refusing an empty file or bytes not in ``encoding``.

    A UTF-8 BOM is removed. A decoding error names the byte, its offset, its line and its row
    (the line number minus ``header_lines``: the 1-based data row of a CSV with one header).

    Raises:
        RawInputError: empty file, UTF-16/32 text, or bytes not valid in ``encoding``.

    """
    if not data.strip():
        raise RawInputError(path, "file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RawInputError(
            path, f"file starts with a UTF-16/32 byte-order mark; expected {encoding} text"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RawInputError(
            path,
            f"not valid {encoding}: byte {data[exc.start]:#x} at offset {exc.start} (line {line})",
            row=line - header_lines if line > header_lines else None,
        ) from exc
    return text.removeprefix("\ufeff")


def _check_complete_rows(path: Path, text: str, df: pl.DataFrame) -> None:
    """Refuse a file cut mid-row: the last line must have as many fields as the header."""
    if df.height == 0:
        return
    last = df.row(df.height - 1)
    if not text.endswith(("\n", "\r")) and any(v is None for v in last):
        raise RawInputError(path, "file ends mid-row (truncated download?)", row=df.height)


def split_markers(
    df: pl.DataFrame, columns: Iterable[str], markers: Mapping[str, str]
) -> pl.DataFrame:
    """Turn text measure columns into Float64 values plus ``<col>_status`` columns.

    A published number gets status ``ok``; a known marker gets a null value and the marker as
    status. Thousands separators and surrounding spaces are removed first. Anything else is
    an error, because a new marker or a stray text value must be looked at, not guessed.
    """
    out = []
    for col in columns:
        text = pl.col(col).str.strip_chars().str.replace_all(",", "")
        is_marker = text.is_in(list(markers))
        out.append(pl.when(is_marker).then(None).otherwise(text).cast(pl.Float64).alias(col))
        out.append(
            pl.when(is_marker).then(text).otherwise(pl.lit(STATUS_OK)).alias(f"{col}_status")
        )
    return df.with_columns(out)


def first_bad_value(
    df: pl.DataFrame, column: str, markers: Iterable[str]
) -> tuple[int, str] | None:
    """Return (1-based row, value) of the first cell that is neither a number nor a marker."""
    bad = first_bad_cell(df, [column], markers)
    return None if bad is None else bad[1:]


def first_bad_cell(
    df: pl.DataFrame,
    columns: Sequence[str],
    markers: Iterable[str],
    *,
    pattern: re.Pattern[str] = _NUMBER,
) -> tuple[str, int, str] | None:
    """Return (column, 1-based row, value) of the first cell neither a number nor a marker.

    A number is what ``pattern`` matches (any decimal number by default; :data:`WHOLE_NUMBER`
    for counts). Columns are searched in the order given. Every column is checked in one
    vectorised query (the common case: all good); only a column that fails is scanned.
    """
    allowed = set(markers)

    def ok(column: str) -> pl.Expr:
        text = pl.col(column).fill_null("").str.strip_chars().str.replace_all(",", "")
        return (text.is_in(list(allowed)) | text.str.contains(pattern.pattern)).all()

    verdicts = df.select(ok(c).alias(str(i)) for i, c in enumerate(columns)).row(0)
    for column, good in zip(columns, verdicts, strict=True):
        if good:
            continue
        for i, raw in enumerate(df.get_column(column).to_list(), start=1):
            value = (raw or "").strip().replace(",", "")
            if value in allowed or pattern.match(value):
                continue
            return column, i, raw if raw is not None else ""
    return None


def raise_schema_errors(
    path: Path,
    exc: pandera.errors.SchemaErrors,
    *,
    stage: str,
    rows: Sequence[int] | None = None,
    sheet: str | None = None,
) -> None:
    """Re-raise pandera's lazy validation errors as one RawInputError naming file, column, row.

    Pandera reports every failure at once; the message lists up to ten, each with its column,
    check, row and value, and says how many there were in all. ``rows`` maps pandera's 0-based
    index to the row number to report (a sheet's own row numbers); without it the row is the
    1-based data row.
    """
    cases = exc.failure_cases
    lines: list[str] = []
    first_col: str | None = None
    first_row: int | None = None
    records = cases.to_dicts() if isinstance(cases, pl.DataFrame) else cases.to_dict("records")
    for rec in records[:10]:
        col = rec.get("column")
        idx = rec.get("index")
        row: int | None = None
        if idx is not None and str(idx) != "nan":
            row = rows[int(idx)] if rows is not None and int(idx) < len(rows) else int(idx) + 1
        first_col = first_col or (str(col) if col is not None else None)
        if first_row is None and row is not None:
            first_row = row
        where = f"column {col!r}" if col is not None else "table"
        if row is not None:
            where += f", row {row}"
        lines.append(f"  - {where}: {rec.get('check')} failed on {rec.get('failure_case')!r}")
    more = f"\n  ... and {len(records) - 10} more" if len(records) > 10 else ""
    raise RawInputError(
        path,
        f"{stage} schema check failed:\n" + "\n".join(lines) + more,
        column=first_col,
        row=first_row,
        sheet=sheet,
    ) from exc


class SchemaLike(Protocol):
    """A pandera schema or model: anything with ``validate(frame, lazy=...)``."""

    def validate(self, *args: Any, **kwargs: Any) -> Any:
        """Validate a frame (pandera's signature)."""


def validate_frame(
    schema: SchemaLike,
    df: pl.DataFrame,
    path: Path,
    *,
    stage: str,
    rows: Sequence[int] | None = None,
    sheet: str | None = None,
) -> pl.DataFrame:
    """Validate ``df`` lazily (every failure at once) and return it, or raise one clear error.

    The error is :func:`raise_schema_errors`'s: it names the file, the column and the row (and
    the sheet), for a raw drift check and a tidy meaning check alike. pandera validates and
    reports: no second implementation of its checks (issue 16).
    """
    try:
        return cast(pl.DataFrame, schema.validate(df, lazy=True))
    except pandera.errors.SchemaErrors as exc:
        raise_schema_errors(path, exc, stage=stage, rows=rows, sheet=sheet)
        raise  # unreachable: raise_schema_errors always raises
