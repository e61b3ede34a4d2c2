"""Contracts at each layer boundary: pandera validation with errors that name file, column, row.

Every raw and tidy table of a source, every metric table and the benchmarks table meets a pandera
model (polars backend). :func:`validate_frame` runs it lazily, so every failure shows at once,
and turns pandera's report into one :class:`RawInputError` naming the file, the column and the
row, which the command line prints as one line. Lives in core so that every layer can check its
own outputs without importing the readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast

import pandera.errors
import polars as pl


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
    reports; nothing here second-guesses it.
    """
    try:
        return cast(pl.DataFrame, schema.validate(df, lazy=True))
    except pandera.errors.SchemaErrors as exc:
        raise_schema_errors(path, exc, stage=stage, rows=rows, sheet=sheet)
        raise  # unreachable: raise_schema_errors always raises
