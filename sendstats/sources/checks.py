"""Checks of published numbers against each other, shared by every reader of area tables.

A well-formed file can still carry wrong numbers: an LA's count raised by 5,000, a regional
row that no longer equals its LAs, a percentage that no longer follows from its counts, a row
for an LA in a year it did not exist, an infinite value. Each check here works on the long
frame a reader builds (one row per measure, period and area, with ``geographic_level``,
``area_code``, ``region_code``, ``value``, ``status`` and ``raw_row``) and raises
:class:`~sendstats.sources.readers.RawInputError` naming the file, the column and the row.

- :func:`check_totals`: England and each region against the sum of their LAs. With no LA
  marked the sum must equal the total; with some LAs suppressed (or known wrong) the sum of
  the known LAs must not exceed it. Publisher inconsistencies that are known are declared as
  :class:`TotalDiscrepancy` and asserted to be still there, so a corrected file is noticed.
- :func:`check_percentages`: a published percentage equals 100 x numerator / denominator to
  the precision it was published at (one decimal place: within 0.05).
- :func:`check_lifetimes`: every LA row falls within the LA's lifetime in the crosswalk.
- :func:`check_finite`: every value is a finite number.
- :func:`check_area_names`, :func:`check_la_regions`: England's and the regions' codes and
  names, and each LA's region, are the crosswalk's (which the tables then store).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from sendstats import geography
from sendstats.sources.readers import STATUS_OK, RawInputError

LA_LEVEL = "Local authority"
ENGLAND_CODE = "E92000001"
#: Allowed gap between a total and the sum of its parts: counts and pounds are whole numbers,
#: so anything beyond half a unit is a real difference.
SUM_TOLERANCE = 0.5
#: Allowed gap between a published percentage and the one its counts give. Publishers round to
#: one decimal place (0.05) and some print more places; 1e-6 absorbs float noise.
PCT_TOLERANCE = 0.05 + 1e-6

PeriodType = Literal["academic_year", "calendar_year", "financial_year"]


@dataclass(frozen=True)
class TotalDiscrepancy:
    """A published total known to differ from the sum of its LAs by a stated amount.

    Attributes:
        measure: sendstats measure id.
        year: the period's year, as in the long frame.
        area_code: the total row's area (E92000001 for England, a region's E12 code).
        difference: sum of the LA rows minus the published total.
        reason: what is known about it, for the error message when it changes.

    """

    measure: str
    year: int
    area_code: str
    difference: float
    reason: str


def _sums(long: pl.DataFrame, measures: Sequence[str]) -> pl.DataFrame:
    """Return every total row joined to the sum and marker count of its LA rows."""
    rows = long.filter(pl.col("measure").is_in(list(measures)))
    las = rows.filter(pl.col("geographic_level") == LA_LEVEL)
    agg = [
        pl.col("value").sum().alias("la_sum"),
        (pl.col("status") != STATUS_OK).sum().alias("n_marked"),
        pl.len().alias("n_las"),
    ]
    national = (
        rows.filter(pl.col("geographic_level") == "National")
        .join(las.group_by("measure", "year").agg(agg), on=["measure", "year"], how="inner")
        .with_columns(pl.lit(1).alias("order"))
    )
    regional = (
        rows.filter(pl.col("geographic_level") == "Regional")
        .join(
            las.group_by("measure", "year", "region_code").agg(agg),
            left_on=["measure", "year", "area_code"],
            right_on=["measure", "year", "region_code"],
            how="inner",
        )
        .with_columns(pl.lit(0).alias("order"))
    )
    cols = ["measure", "year", "area_code", "area_name", "raw_row", "value", "status"]
    cols += ["la_sum", "n_marked", "n_las", "order"]
    return pl.concat([regional.select(cols), national.select(cols)], how="vertical_relaxed")


def check_totals(
    long: pl.DataFrame,
    path: Path,
    *,
    measures: Sequence[str],
    columns: Mapping[str, str] | None = None,
    known: Sequence[TotalDiscrepancy] = (),
    tolerance: float = SUM_TOLERANCE,
) -> None:
    """Check England and regional rows of ``measures`` against the sum of their LA rows.

    A region is checked before England (its failure narrows the search to fewer LAs); a
    total that is itself marked is not checked. ``columns`` maps a measure to the raw column
    named in the error (default: the measure itself).

    Raises:
        RawInputError: a total that does not add up, or a known discrepancy that changed.

    """
    if not measures:
        return
    sums = _sums(long, measures).filter(pl.col("status") == STATUS_OK)
    allowed = pl.DataFrame(
        [(k.measure, k.year, k.area_code, k.difference) for k in known],
        schema={
            "measure": pl.Utf8,
            "year": sums.schema["year"],
            "area_code": pl.Utf8,
            "allowed": pl.Float64,
        },
        orient="row",
    )
    sums = sums.join(allowed, on=["measure", "year", "area_code"], how="left").with_columns(
        pl.col("allowed").fill_null(0.0)
    )
    columns = columns or {}
    found = allowed.join(sums, on=["measure", "year", "area_code"], how="semi")
    for item in known:
        if found.filter(
            (pl.col("measure") == item.measure)
            & (pl.col("year") == item.year)
            & (pl.col("area_code") == item.area_code)
        ).is_empty():
            raise RawInputError(
                path,
                f"known total discrepancy no longer found, look again: {item.reason}",
                column=columns.get(item.measure, item.measure),
            )
    diff = pl.col("la_sum") - pl.col("value") - pl.col("allowed")
    exact = pl.col("n_marked") == 0
    bad = sums.filter((exact & (diff.abs() > tolerance)) | (~exact & (diff > tolerance))).sort(
        "order", "measure", "year", "raw_row"
    )
    if bad.height == 0:
        return
    first = bad.row(0, named=True)
    area = first["area_name"] or first["area_code"]
    if first["n_marked"]:
        problem = (
            f"the {first['n_las'] - first['n_marked']} LAs with a value sum to more than the "
            f"published {area} total for {first['measure']} in {first['year']} "
            f"({first['la_sum']:,.0f} > {first['value']:,.0f}; {first['n_marked']} LA(s) marked)"
        )
    else:
        problem = (
            f"LA rows do not sum to the published {area} total for {first['measure']} in "
            f"{first['year']}: sum of {first['n_las']} LAs {first['la_sum']:,.0f} vs "
            f"{area} {first['value']:,.0f}"
        )
    if first["allowed"]:
        problem += f" (a known difference of {first['allowed']:+,.0f} was allowed for)"
    raise RawInputError(
        path,
        problem,
        column=columns.get(first["measure"], first["measure"]),
        row=int(first["raw_row"]) if first["raw_row"] is not None else None,
    )


def counts_long(
    wide: pl.DataFrame, counts: Sequence[str], *, by: Sequence[str], status: str
) -> pl.DataFrame:
    """Return a table with count columns side by side as the long rows :func:`check_totals` reads.

    Each count column becomes a measure named ``<by values>/<column>`` (``ascof_1e/Total/
    numerator``); ``status`` is the column of the counts' marker; ``raw_row`` is kept when
    present (else null, and errors name no row).
    """
    row = pl.col("raw_row") if "raw_row" in wide.columns else pl.lit(None, pl.Int64)
    parts = [
        wide.select(
            pl.concat_str(
                [*(pl.col(c).cast(pl.Utf8) for c in by), pl.lit(col)], separator="/"
            ).alias("measure"),
            "year",
            "geographic_level",
            "area_code",
            "area_name",
            "region_code",
            row.alias("raw_row"),
            pl.col(col).cast(pl.Float64).alias("value"),
            pl.col(status).alias("status"),
        )
        for col in counts
    ]
    return pl.concat(parts, how="vertical")


def check_percentages(
    long: pl.DataFrame,
    path: Path,
    *,
    ratios: Mapping[str, tuple[str, str]],
    columns: Mapping[str, str] | None = None,
    tolerance: float = PCT_TOLERANCE,
) -> None:
    """Check each published percentage is 100 x numerator / denominator of its row's counts.

    ``ratios`` maps a percentage measure to its (numerator, denominator) measures. Rows where
    any of the three is marked, or the denominator is 0, are not checked.

    Raises:
        RawInputError: naming the percentage's column and row, both counts and the expected value.

    """
    if not ratios:
        return
    key = ["year", "geographic_level", "area_code"]
    for pct, (num, den) in ratios.items():

        def part(measure: str, name: str) -> pl.DataFrame:
            return long.filter(pl.col("measure") == measure).select(
                *key, pl.col("value").alias(name), *(["raw_row"] if name == "pct" else [])
            )

        joined = (
            part(pct, "pct")
            .join(part(num, "num"), on=key, how="inner")
            .join(part(den, "den"), on=key, how="inner")
            .filter(pl.all_horizontal(pl.col("pct", "num", "den").is_not_null()))
            .filter(pl.col("den") > 0)
            .with_columns((pl.col("num") / pl.col("den") * 100).alias("expected"))
            .filter((pl.col("pct") - pl.col("expected")).abs() > tolerance)
            .sort("raw_row")
        )
        if joined.height:
            first = joined.row(0, named=True)
            columns = columns or {}
            raise RawInputError(
                path,
                f"published percentage {pct} is not 100 x {num} / {den} in {first['year']} for "
                f"{first['area_code']} ({first['num']:,.0f} / {first['den']:,.0f} gives "
                f"{first['expected']:.2f})",
                column=columns.get(pct, pct),
                row=int(first["raw_row"]),
                value=f"{first['pct']:g}",
            )


def period_span(period_type: PeriodType, year: int) -> tuple[dt.date, dt.date]:
    """Return the first and last day a period covers.

    An academic-year stock is the January census of ``year`` (one day: 15 January); a calendar
    year is January to December; a financial year runs April ``year`` to March ``year + 1``.
    """
    if period_type == "academic_year":
        census = dt.date(year, 1, 15)
        return census, census
    if period_type == "calendar_year":
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    return dt.date(year, 4, 1), dt.date(year + 1, 3, 31)


def check_lifetimes(
    long: pl.DataFrame,
    path: Path,
    *,
    period_type: PeriodType,
    column: str = "la_name",
) -> None:
    """Refuse an LA row for a period that does not overlap the LA's lifetime in the crosswalk.

    An abolished LA (Cumbria after March 2023) or one not yet formed (Westmorland and Furness
    before April 2023) would otherwise become an extra ranked LA. ``long`` needs
    ``la_code_dfe``, ``year`` and ``raw_row`` on its LA rows.

    Raises:
        RawInputError: naming the file, the row, the LA, its dates and the period.

    """
    las = long.filter(pl.col("geographic_level") == LA_LEVEL).select(
        "la_code_dfe", "year", "raw_row"
    )
    pairs = las.group_by("la_code_dfe", "year").agg(pl.col("raw_row").min()).sort("raw_row")
    for code, year, raw_row in pairs.iter_rows():
        la = geography.get_la(str(code))
        if la.valid_from is None and la.valid_to is None:
            continue
        start, end = period_span(period_type, int(year))
        if (la.valid_to is not None and start > la.valid_to) or (
            la.valid_from is not None and end < la.valid_from
        ):
            lifetime = (
                f"{la.valid_from.isoformat() if la.valid_from else 'before records'} to "
                f"{la.valid_to.isoformat() if la.valid_to else 'now'}"
            )
            raise RawInputError(
                path,
                f"row for {la.la_name} ({code}) in {period_type.replace('_', ' ')} {year} "
                f"({start.isoformat()} to {end.isoformat()}), outside the LA's lifetime "
                f"({lifetime})",
                column=column,
                row=int(raw_row),
            )


def check_financial_rows(long: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Return one file's financial-year rows once checked: values finite, LAs in their lifetime.

    ``long`` has ``time_period`` (``2021-22``); no Northamptonshire row from FY 2021-22, no
    North Northamptonshire before it.

    Raises:
        RawInputError: naming the file, the measure or LA column and the raw row.

    """
    checked = long.with_columns(pl.col("time_period").str.slice(0, 4).cast(pl.Int32).alias("year"))
    check_finite(checked, path)
    check_lifetimes(checked, path, period_type="financial_year", column="la_name")
    return long


def check_finite(
    long: pl.DataFrame, path: Path, *, columns: Mapping[str, str] | None = None
) -> None:
    """Refuse an infinite or NaN ``value`` (``1e400`` reads as infinity), naming its row.

    Raises:
        RawInputError: naming the measure's column and the raw row.

    """
    bad = long.filter(pl.col("value").is_not_null() & ~pl.col("value").is_finite())
    if bad.height:
        first = bad.sort("raw_row").row(0, named=True)
        raise RawInputError(
            path,
            "value is not a finite number",
            column=(columns or {}).get(first["measure"], first["measure"]),
            row=int(first["raw_row"]),
            value=str(first["value"]),
        )


def _same_name(a: str | None, b: str) -> bool:
    """Return True when two area names are the same but for case, spacing and '&'."""

    def norm(text: str) -> str:
        return " ".join(text.lower().replace("&", "and").split())

    return a is not None and norm(a) == norm(b)


def check_area_names(df: pl.DataFrame, path: Path) -> None:
    """Check England's and every region's code and name against the crosswalk, before melting.

    LA names are checked by :func:`sendstats.geography.canonical_codes`; this checks the rest:
    the National row is E92000001 England, and every region code (on regional and LA rows)
    is one of the nine English regions with its own name.

    Raises:
        RawInputError: naming the column, the row and the value.

    """
    regions = geography.regions()
    columns = ["raw_row", "geographic_level", "country_code", "country_name"]
    rows = df.select(*columns, "region_code", "region_name").iter_rows(named=True)
    for rec in rows:
        level, row = rec["geographic_level"], int(rec["raw_row"])
        if level == "National":
            if rec["country_code"] != ENGLAND_CODE:
                raise RawInputError(
                    path,
                    "not England's code",
                    column="country_code",
                    row=row,
                    value=str(rec["country_code"]),
                )
            if not _same_name(rec["country_name"], "England"):
                raise RawInputError(
                    path,
                    "not England's name",
                    column="country_name",
                    row=row,
                    value=str(rec["country_name"]),
                )
            continue
        code = rec["region_code"]
        if code not in regions:
            raise RawInputError(
                path,
                f"unknown region code (regions: {sorted(regions)})",
                column="region_code",
                row=row,
                value=str(code),
            )
        if not _same_name(rec["region_name"], regions[code]):
            raise RawInputError(
                path,
                f"region name differs from the crosswalk's {regions[code]!r} for {code}",
                column="region_name",
                row=row,
                value=str(rec["region_name"]),
            )


def check_la_regions(la: pl.DataFrame, path: Path) -> None:
    """Check each LA row's region is the LA's region in the crosswalk.

    Raises:
        RawInputError: naming the region column, the row and the region given.

    """
    codes = la.get_column("la_code_dfe").unique().to_list()
    expected = {c: geography.region_of(str(c))[0] for c in codes}
    bad = la.filter(
        pl.col("region_code")
        != pl.col("la_code_dfe").replace_strict(expected, return_dtype=pl.Utf8)
    )
    if bad.height:
        first = bad.sort("raw_row").row(0, named=True)
        raise RawInputError(
            path,
            f"{first['la_name']} is in region {expected[first['la_code_dfe']]} in the crosswalk",
            column="region_code",
            row=int(first["raw_row"]),
            value=str(first["region_code"]),
        )
