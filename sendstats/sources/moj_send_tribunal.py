"""SEND Tribunal appeal rates by LA: MoJ "SEND Appeal Rate Table" and DfE supporting files.

Reads the files declared in ``data_sources/moj_send_tribunal.yaml`` into one long tidy table,
``moj_send_tribunal__appeals``: one row per release, file, measure, method, calendar year and
area (England and LAs as published), with the value, its status and the raw row it came from.

- MoJ SEND Appeal Rate Table 2021 and 2022 (.ods; ``SEND_2`` by LA is read, ``SEND_1`` England
  is checked equal to ``SEND_2``'s England Total row). Rates are stored as fractions.
- "SEND Tribunals and appeal rate 2014-2024" (supporting CSV, DfE EHC plans 2025).
- "SEND appealable decisions rate 2024-2025" (supporting CSV, DfE EHC plans 2026).

Measures: ``appeals_registered_count`` (SEND Tribunal appeals registered, HMCTS GAPS2),
``appealable_decisions_count`` and ``appeal_rate_pct`` (= appeals / decisions x 100), each
with a ``method`` (see :data:`METHODS`). Appeals registered do not depend on the method, so
the same published cell is repeated under each method it is the numerator of.

Quirks handled (each asserted, so a corrected file is noticed):
- LA names carry footnote digits (``Cumbria8``, ``England Total4,9``); LAs are matched on the
  cleaned name through the geography crosswalk, never on the published code.
- The 2014-2024 CSV rotates three old LA codes: Nottingham is coded 891 (Nottinghamshire's),
  Nottinghamshire 928 (Northamptonshire's) and Northamptonshire 892 (Nottingham's); both CSVs
  swap Central Bedfordshire (823, printed 873) and Cambridgeshire (873, printed 823). The
  reader fixes them by name and fails if a file stops carrying exactly these errors.
- ``-`` is zero (MoJ legend "- zero"; the CSVs print 0.00% beside it): value 0, status ``-``.
  ``..`` (not available), ``x``/``~`` (suppressed) and blank cells are null with that status.
- Published totals: LA appeals and LA decisions sum to the England Total in every year of
  every file (asserted per file, :func:`check_totals`).
- Region rows are headers only (no values); regional rates are pooled in the metric layer
  (:mod:`sendstats.metrics.tribunal`). "England total excluding suppressed" (2014-2024 CSV) is a
  partial total whose 2024 rate does not follow from its printed cells (re-examined for issue
  17: its 5.7% is the rate pooled over the LAs with known decisions, 20,771 / 364,912, but its
  printed appeals, 22,082, give 6.05%); it is excluded and logged, and the metric layer pools
  England over the LAs itself, which reproduces the 5.7%.
- A name two LAs have held (Dorset: county 835 to March 2019, council 838 after) is resolved
  per year against the geography in force (2014-2018 -> 835, 2019 on -> 838).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.typing.polars import Series

from sendstats.core.numbers import round_half_up, round_half_up_value
from sendstats.core.vocab import TRIBUNAL_METHODS, TRIBUNAL_SOURCE_ID, TRIBUNAL_TABLE
from sendstats.sources import moj_send_tribunal_ods as layout
from sendstats.sources.base import TidyBase
from sendstats.sources.layouts import load_layout
from sendstats.sources.moj_send_tribunal_ods import (
    TableSpec,
)
from sendstats.sources.readers import STATUS_OK, RawInputError

SOURCE_ID = TRIBUNAL_SOURCE_ID
TABLE = TRIBUNAL_TABLE
METHODS = TRIBUNAL_METHODS

#: Statuses: ``ok``; ``-`` (published zero, value 0); null-value markers.
ALLOWED_STATUS = (STATUS_OK, "-", "..", "x", "~", "blank")
NULL_STATUS = ("..", "x", "~", "blank")


def _years(pair: list[int]) -> tuple[int, ...]:
    first, last = pair
    return tuple(range(int(first), int(last) + 1))


def _file_specs() -> tuple[TableSpec, ...]:
    """Return how to read each file, from the layout beside this module.

    ``layouts/moj_send_tribunal.yaml`` holds each file's format, years, rate printing, sheets,
    the LA codes it prints wrongly and the totals that must add up: facts about a publication,
    kept as data so that a new table is a reviewed change to that file.
    """
    specs = []
    for f in load_layout(SOURCE_ID)["files"]:
        specs.append(
            TableSpec(
                str(f["release"]),
                f["name"],
                f["format"],
                _years(f["years"]),
                f["default_method"],
                rate_scale=float(f["rate_scale"]),
                rate_decimals=int(f["rate_decimals"]),
                code_column=bool(f["code_column"]),
                sheet=f.get("sheet"),
                national_sheet=f.get("national_sheet"),
                code_errors={k: (str(a), str(b)) for k, (a, b) in f.get("code_errors", {}).items()},
                totals_add_up=tuple(
                    (t["measure"], t["method"], _years(t["years"])) for t in f["totals_add_up"]
                ),
            )
        )
    return tuple(specs)


FILE_SPECS: tuple[TableSpec, ...] = _file_specs()
#: Releases oldest first; a later release serves a year when several publish it.
RELEASE_ORDER = tuple(s.release for s in FILE_SPECS)


class TribunalTidy(TidyBase):
    """Tidy SEND Tribunal appeals: one row per release, file, measure, method, year and area."""

    source_id: Series[str] = pa.Field(isin=[SOURCE_ID])
    release: Series[str] = pa.Field(isin=list(RELEASE_ORDER))
    raw_row: Series[pl.UInt32] = pa.Field(description="1-based physical row of the raw sheet.")
    measure: Series[str] = pa.Field(
        isin=["appeals_registered_count", "appealable_decisions_count", "appeal_rate_pct"]
    )
    method: Series[str] = pa.Field(isin=list(METHODS))
    year: Series[pl.Int32] = pa.Field(ge=2014, le=2030, description="Calendar year.")
    period_type: Series[str] = pa.Field(isin=["calendar_year"])
    geographic_level: Series[str] = pa.Field(isin=["National", "Local authority"])
    area_code: Series[str] = pa.Field(str_matches=r"^E\d{8}$")
    area_name: Series[str]
    value: Series[pl.Float64] = pa.Field(nullable=True, ge=0)
    status: Series[str] = pa.Field(isin=list(ALLOWED_STATUS))

    class Config:
        """Strict columns; one row per key."""

        strict = True
        unique = ["release", "source_file", "measure", "method", "year", "area_code"]  # noqa: RUF012

    @pa.dataframe_check
    def marker_means_null(cls, data: pa.PolarsData) -> pl.LazyFrame:  # type: ignore[misc]  # noqa: N805
        """Check a value is null exactly when its status is a null marker."""
        return data.lazyframe.select(
            pl.col("status").is_in(NULL_STATUS) == pl.col("value").is_null()
        )


TIDY_COLUMNS = list(TribunalTidy.to_schema().columns)


def required_files() -> list[tuple[str, str]]:
    """Return the (release, file name) pairs :func:`tidy` reads."""
    return [(s.release, s.name) for s in FILE_SPECS]


def tidy(
    paths: dict[tuple[str, str], tuple[Path, str]],
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read every declared file; return the tidy table and the read log for the manifest.

    The log counts, per file, the physical rows read, kept (LA and England rows) and excluded
    by reason, the LA code errors fixed, and lists every cross-file disagreement.

    Raises:
        RawInputError: a layout drifted or a check failed (the build checks the schema).

    """
    frames, files = [], {}
    for spec in FILE_SPECS:
        path, sha = paths[(spec.release, spec.name)]
        frame, file_log = read_file(path, spec, sha)
        frames.append(frame)
        files[f"{spec.release}/{spec.name}"] = file_log
    out = pl.concat(frames, how="vertical").select(TIDY_COLUMNS)
    out = out.sort("release", "source_file", "measure", "method", "year", "area_code")
    disagreements = compare_overlaps(out)
    log: dict[str, Any] = {
        "source_id": SOURCE_ID,
        "files": files,
        "rows_read": sum(f["rows_read"] for f in files.values()),
        "rows_kept": sum(f["rows_kept"] for f in files.values()),
        "rows_excluded": sum(sum(f["excluded"].values()) for f in files.values()),
        "tidy_rows": out.height,
        "overlap_disagreements": disagreements.to_dicts(),
    }
    return out, log


def read_file(path: Path, spec: TableSpec, sha: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read one declared file into long rows, run its checks and count its rows.

    Raises:
        RawInputError: naming the file and, for an .ods, the sheet the problem is in.

    """
    try:
        return _read_file(path, spec, sha)
    except RawInputError as exc:
        if spec.sheet is None or exc.sheet is not None:
            raise
        raise exc.in_sheet(spec.sheet) from exc


def _read_file(path: Path, spec: TableSpec, sha: str) -> tuple[pl.DataFrame, dict[str, Any]]:
    grid = layout.read_grid(path, spec.fmt, spec.sheet)
    wide = layout.read_wide(
        path,
        grid,
        expected_years=spec.years,
        default_method=spec.default_method,
        rate_scale=spec.rate_scale,
        code_column=spec.code_column,
    )
    counts: Counter[str] = Counter(wide.counts)
    areas, fixes = layout.resolve_areas(path, spec, wide.rows)
    long = layout.melt(wide, areas).with_columns(
        pl.lit(SOURCE_ID).alias("source_id"),
        pl.lit(spec.release).alias("release"),
        pl.lit(spec.name).alias("source_file"),
        pl.lit(sha).alias("file_sha256"),
        pl.lit("calendar_year").alias("period_type"),
    )
    check_totals(long, spec, path)
    check_rates(long, spec, path)
    if spec.national_sheet is not None:
        _check_national_sheet(path, spec, long)
    kept = sum(v for k, v in counts.items() if k.startswith("kept: "))
    excluded = {k: v for k, v in counts.items() if not k.startswith("kept: ")}
    log = {
        "file": path.name,
        "rows_read": len(grid),
        "rows_kept": kept,
        "excluded": excluded,
        "values": long.height,
        "la_code_errors_fixed": fixes,
        "partial_totals": partial_total_checks(wide, spec),
    }
    if kept + sum(excluded.values()) != len(grid):  # pragma: no cover - guards the counting
        raise RawInputError(path, f"row accounting does not add up: {log}")
    return long, log


def partial_total_checks(wide: layout.WideTable, spec: TableSpec) -> list[dict[str, Any]]:
    """Check each "England total excluding suppressed" row against its own printed cells.

    The row is excluded from the tidy table unless its rate follows from its own appeals and
    decisions (issue 17 asked to re-examine this): in the 2014-2024 CSV it prints 22,082
    appeals, 364,912 decisions (annual-reviews method) and 5.7%, but 22,082 / 364,912 is 6.05%;
    its 5.7% is the rate over the LAs with known decisions (20,771 / 364,912), which the metric
    layer computes itself. One record per year and method with all three cells printed.
    """
    out = []
    for row in wide.partial_totals:
        by: dict[tuple[int, str | None, str], float] = {}
        for col, value, _status in row.cells:
            if value is not None:
                by[(col.year, col.method, col.measure)] = value
        for year, method, measure in list(by):
            if measure != "appeal_rate_pct" or method is None:
                continue
            appeals = by.get((year, None, "appeals_registered_count"))
            decisions = by.get((year, method, "appealable_decisions_count"))
            rate = by[(year, method, measure)]
            if appeals is None or not decisions:
                continue
            places = spec.rate_decimals
            follows = round_half_up_value(appeals / decisions * 100, places) == (
                round_half_up_value(rate, places)
            )
            out.append(
                {
                    "raw_row": row.raw_row,
                    "year": year,
                    "method": method,
                    "appeals": appeals,
                    "decisions": decisions,
                    "rate_pct": rate,
                    "rate_follows_from_its_cells": follows,
                    "used": False,
                }
            )
    return out


def wide_measures(long: pl.DataFrame) -> pl.DataFrame:
    """Pivot long rows to one row per file, method, year and area with a, d and rate columns."""
    keys = ["release", "source_file", "method", "year", "geographic_level", "area_code"]
    return long.pivot(on="measure", index=keys, values="value").rename(
        {
            "appeals_registered_count": "appeals",
            "appealable_decisions_count": "decisions",
            "appeal_rate_pct": "rate",
        }
    )


def check_totals(long: pl.DataFrame, spec: TableSpec, path: Path) -> None:
    """Assert LA rows sum to the England Total row where the spec says the publisher adds up."""
    for measure, method, years in spec.totals_add_up:
        rows = long.filter(
            (pl.col("measure") == measure)
            & (pl.col("method") == method)
            & pl.col("year").is_in(years)
        )
        sums = rows.group_by("year", "geographic_level").agg(pl.col("value").sum())
        wide = sums.pivot(on="geographic_level", index="year", values="value")
        bad = wide.filter((pl.col("Local authority") - pl.col("National")).abs() > 0.5)
        if bad.height or wide.height != len(years):
            raise RawInputError(
                path,
                f"LA rows do not sum to the England total for {measure} ({method}): "
                f"{bad.sort('year').to_dicts()[:3] or 'England row missing'}",
                column=measure,
            )


def check_rates(long: pl.DataFrame, spec: TableSpec, path: Path) -> None:
    """Assert every published rate equals appeals / decisions x 100 at the published precision."""
    wide = wide_measures(long).filter(
        pl.col("appeals").is_not_null() & pl.col("rate").is_not_null() & (pl.col("decisions") > 0)
    )
    recomputed = round_half_up(pl.col("appeals") / pl.col("decisions") * 100, spec.rate_decimals)
    published = round_half_up(pl.col("rate"), spec.rate_decimals)
    bad = wide.filter((recomputed - published).abs() > 10.0**-spec.rate_decimals / 2)
    if bad.height:
        first = bad.row(0, named=True)
        raise RawInputError(
            path,
            f"published rate {first['rate']} is not {first['appeals']} / {first['decisions']} "
            f"to {spec.rate_decimals} dp ({bad.height} such rows; year {first['year']}, "
            f"area {first['area_code']})",
            column="SEND Tribunal Appeal Rate",
        )


def _check_national_sheet(path: Path, spec: TableSpec, long: pl.DataFrame) -> None:
    sheet = str(spec.national_sheet)
    try:
        series = layout.read_national_series(path, layout.read_grid(path, "ods", sheet))
    except RawInputError as exc:
        raise exc.in_sheet(sheet) from exc
    nat = wide_measures(long.filter(pl.col("geographic_level") == "National"))
    for rec in nat.iter_rows(named=True):
        got = series.get(rec["year"])
        want = (rec["appeals"], rec["decisions"], rec["rate"])
        if got is None or any(abs(g - w) > 1e-9 for g, w in zip(got, want, strict=True)):
            raise RawInputError(
                path,
                f"{spec.national_sheet} England {rec['year']} {got} differs from the "
                f"{spec.sheet} England Total row {want}",
            )


def compare_overlaps(tidy: pl.DataFrame) -> pl.DataFrame:
    """List every value two files publish for the same measure, method, year and area but differ on.

    Counts must be equal; rates are compared at one decimal place (the CSVs' precision).
    """
    keys = ["measure", "method", "year", "area_code"]
    base = tidy.filter(pl.col("value").is_not_null()).with_columns(
        pl.when(pl.col("measure") == "appeal_rate_pct")
        .then(round_half_up(pl.col("value"), 1))
        .otherwise(pl.col("value"))
        .alias("cmp")
    )
    cols = ["release", "source_file", "value", "cmp"]
    left = base.select(*keys, "area_name", *cols)
    right = base.select(*keys, *[pl.col(c).alias(f"{c}_b") for c in cols])
    pairs = left.join(right, on=keys).filter(
        (pl.col("release") < pl.col("release_b")) & ((pl.col("cmp") - pl.col("cmp_b")).abs() > 1e-6)
    )
    return pairs.drop("cmp", "cmp_b").sort(*keys, "release", "release_b")
