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

import polars as pl

from sendstats.core.checks import RawInputError as RawInputError
from sendstats.core.checks import SchemaLike as SchemaLike
from sendstats.core.checks import raise_schema_errors as raise_schema_errors
from sendstats.core.checks import validate_frame as validate_frame

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

#: A number as :func:`first_bad_cell` reads one (thousands separators removed first).
NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
#: A count as publishers write one: digits (thousands separators removed first), perhaps a
#: zero fraction (``12.0``). ``1e5`` and ``1e400`` are refused: no publisher writes a count
#: with an exponent, and ``1e400`` would read as infinity.
WHOLE_NUMBER = re.compile(r"^-?\d+(\.0*)?$")


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


def reads_as_number(
    column: str, markers: Iterable[str], pattern: re.Pattern[str] = NUMBER
) -> pl.Expr:
    """Return, per cell of ``column``, whether it is a number (``pattern``) or a marker.

    Surrounding spaces and thousands separators are ignored; a null reads as "" (so it passes
    only where "" is a marker). :func:`first_bad_cell` and the EES reader's one-query check
    share this reading.
    """
    text = pl.col(column).fill_null("").str.strip_chars().str.replace_all(",", "")
    return text.is_in(list(markers)) | text.str.contains(pattern.pattern)


def first_bad_cell(
    df: pl.DataFrame,
    columns: Sequence[str],
    markers: Iterable[str],
    *,
    pattern: re.Pattern[str] = NUMBER,
) -> tuple[str, int, str] | None:
    """Return (column, 1-based row, value) of the first cell neither a number nor a marker.

    A number is what ``pattern`` matches (any decimal number by default; :data:`WHOLE_NUMBER`
    for counts). Columns are searched in the order given. Every column is checked in one
    vectorised query (the common case: all good); only a column that fails is scanned.
    """
    allowed = set(markers)
    verdicts = df.select(
        reads_as_number(c, allowed, pattern).all().alias(str(i)) for i, c in enumerate(columns)
    ).row(0)
    for column, good in zip(columns, verdicts, strict=True):
        if good:
            continue
        for i, raw in enumerate(df.get_column(column).to_list(), start=1):
            value = (raw or "").strip().replace(",", "")
            if value in allowed or pattern.match(value):
                continue
            return column, i, raw if raw is not None else ""
    return None
