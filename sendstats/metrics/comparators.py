"""England and region comparators pooled over exactly the LAs they are compared with (issue 17).

:func:`with_pooled_comparators` sums the numerators and denominators of the LAs whose value,
numerator and denominator are all known (sum / sum, never a mean of ratios), records how many
LAs that is (``n_las``), and keeps the publisher's own England or region figure beside it
(``published_value``) with a note (``published_note``) where the two differ. Every theme makes
its comparators through it, so none can pool over other LAs than those it is compared with.
:func:`left_out` lists the LAs a table leaves out, and why, for the build log and manifest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from sendstats import geography
from sendstats.metrics.common import (
    AREA_KEYS,
    DENOMINATOR_PROV,
    ENGLAND_CODE,
    EXTRA_COLUMN_TYPES,
    ROW_LAYOUT,
    pool,
)


def _left_out(rows: pl.DataFrame) -> pl.DataFrame:
    """Name, per region and England and year, the LA rows that could not be pooled."""
    names = pl.col("area_name").unique().sort().str.join(", ").alias("__left_out")
    region = rows.group_by("region_code", "year").agg(names)
    region = region.select(
        pl.lit("Regional").alias("geographic_level"),
        pl.col("region_code").alias("area_code"),
        "year",
        "__left_out",
    )
    england = rows.group_by("year").agg(names)
    england = england.select(
        pl.lit("National").alias("geographic_level"),
        pl.lit(ENGLAND_CODE).alias("area_code"),
        "year",
        "__left_out",
    )
    return pl.concat([region, england], how="vertical_relaxed")


#: How a pooled row's note introduces the LAs it left out (read back by :func:`left_out`).
LEFT_OUT_PREFIX = "; left out (a figure missing): "


def left_out(metrics: pl.DataFrame) -> pl.DataFrame:
    """List every LA a metric table leaves out of a value or a comparator, and why.

    For the build log and the manifest (issue 17: no LA vanishes unsaid). Three kinds of row:
    an LA row kept without a value (``reason`` is its note, e.g. no population that year, or
    counts not published); an England or region row naming the LAs its pool left out for a
    missing figure; and one naming the LAs in force with no row in the publisher's file.
    Columns: ``metric_id``, ``year``, ``area_code``, ``area_name``, ``left_out``, ``reason``.
    """
    kept = metrics.filter(
        (pl.col("geographic_level") == "Local authority") & pl.col("value").is_null()
    ).select(
        "metric_id",
        "year",
        "area_code",
        "area_name",
        pl.col("area_name").alias("left_out"),
        pl.col("note").alias("reason"),
    )
    frames = [kept]
    for prefix, reason in (
        (LEFT_OUT_PREFIX, "a figure missing from the LA's row (numerator, denominator or value)"),
        (ABSENT_PREFIX, "in force that period but no row in the publisher's file"),
    ):
        marker = prefix.removeprefix("; ")
        frames.append(
            metrics.filter(
                (pl.col("geographic_level") != "Local authority")
                & pl.col("note").str.contains(marker, literal=True)
            ).select(
                "metric_id",
                "year",
                "area_code",
                "area_name",
                pl.col("note")
                .str.split(marker)
                .list.get(1)
                .str.split("; ")
                .list.first()
                .alias("left_out"),
                pl.lit(reason).alias("reason"),
            )
        )
    return pl.concat(frames, how="vertical").sort("metric_id", "year", "area_code")


#: How a pooled row's note names the LAs in force that have no row in the publisher's file.
ABSENT_PREFIX = "; no row published for: "


def _in_force_on(year: int, period_type: str) -> dt.date:
    """Return the date that decides which LAs a period covers (January census, FY start)."""
    if period_type == "academic_year":
        return dt.date(year, 1, 15)
    if period_type == "financial_year":
        return dt.date(year, 4, 1)
    return dt.date(year, 12, 31)


def _absent(la: pl.DataFrame) -> pl.DataFrame:
    """Name, per region, England and year, the LAs in force with no row at all in ``la``."""
    if la.height == 0:
        return pl.DataFrame(
            schema={
                "geographic_level": pl.Utf8,
                "area_code": pl.Utf8,
                "year": pl.Int32,
                "__absent": pl.Utf8,
            }
        )
    period_type = la["period_type"][0]
    expected = pl.DataFrame(
        [
            (year, x.la_code_dfe, x.la_name, x.region_code)
            for year in la["year"].unique().to_list()
            for x in geography.list_las(_in_force_on(year, period_type))
        ],
        schema={
            "year": pl.Int32,
            "la_code_dfe": pl.Utf8,
            "area_name": pl.Utf8,
            "region_code": pl.Utf8,
        },
        orient="row",
    )
    missing = expected.join(
        la.select(pl.col("year").cast(pl.Int32), "la_code_dfe"),
        on=["year", "la_code_dfe"],
        how="anti",
    )
    return _left_out(missing).rename({"__left_out": "__absent"})


ValueOf = Callable[[pl.Expr, pl.Expr], pl.Expr]


def value_sum(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """Pooled value of a count or an amount: the sum of the LAs' numerators."""
    return num


def value_ratio(scale: float) -> ValueOf:
    """Pooled value of a ratio: sum of numerators / sum of denominators x ``scale``."""

    def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
        return num / den * scale

    return ratio


def _fmt(value: pl.Expr) -> pl.Expr:
    return value.round(4).cast(pl.Utf8)


def with_pooled_comparators(
    rows: pl.DataFrame,
    value_of: ValueOf,
    *,
    needs_denominator: bool = True,
    tolerance: float = 1e-6,
    what: str = "",
    keep_left_out: bool = False,
    carry_la_note: bool = True,
) -> pl.DataFrame:
    """Replace one metric's England and region rows by figures pooled over its LA rows.

    ``rows`` holds one metric's rows at every level in the :func:`make_rows` layout. LA rows
    are kept as they are. For each region and for England, per year, the LAs whose value and
    numerator (and denominator, if ``needs_denominator``) are known are pooled: their
    numerators and denominators are summed and ``value_of(sum_num, sum_den)`` is the value.
    ``n_las`` says how many LAs that is. A published England or region row for the same
    period is not dropped: its value goes to ``published_value``, and ``published_note`` says
    so where it differs from the pooled value by more than ``tolerance`` (absolute; use the
    publisher's rounding, e.g. 0.05 for a % printed to 1 dp). A published row with no LA to
    pool is kept as published, with ``n_las`` null and a note saying why.

    Args:
        rows: one metric's rows (any levels).
        value_of: the pooled value from the summed numerator and denominator.
        needs_denominator: whether an LA needs a known denominator to be pooled.
        tolerance: largest difference from the published figure that is not reported.
        what: a word for the note (e.g. "appeals"), naming what was summed.
        keep_left_out: keep the LA rows that could not be pooled (without a value, their
            note saying why) instead of dropping them.
        carry_la_note: where every pooled LA has the same note (e.g. "from the DfE
            compilation"), add it to the pooled row's note.

    """
    for col, dtype in EXTRA_COLUMN_TYPES.items():
        if col not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype).alias(col))
    rows = rows.select(*ROW_LAYOUT)
    if rows.height == 0:
        return rows
    metric_id = rows["metric_id"][0]
    la = rows.filter(pl.col("geographic_level") == "Local authority")
    usable = pl.col("value").is_not_null() & pl.col("numerator").is_not_null()
    if needs_denominator:
        usable = usable & pl.col("denominator").is_not_null() & (pl.col("denominator") != 0)
    ok = la.filter(usable)
    left_out = _left_out(la.filter(~usable))
    absent = _absent(la)
    extra = [
        pl.len().cast(pl.Int32).alias("n_las"),
        pl.col("spans_break").any().alias("spans_break"),
        pl.col("release").unique().sort().str.join(", ").alias("__releases"),
        pl.col("note").unique().alias("__notes"),
        *(pl.col(c).sort_by("release", descending=True).first() for c in DENOMINATOR_PROV),
    ]
    sums = ["numerator", "denominator"]
    pooled = pl.concat(
        [pool(ok, sums, level=level, extra=extra) for level in ("Regional", "National")],
        how="vertical_relaxed",
    )
    mixed = pl.col("__releases").str.contains(", ")
    pooled = pooled.join(left_out, on=[*AREA_KEYS, "year"], how="left").join(
        absent.with_columns(pl.col("year").cast(pooled.schema["year"])),
        on=[*AREA_KEYS, "year"],
        how="left",
    )
    pooled = pooled.with_columns(
        pl.lit(metric_id).alias("metric_id"),
        value_of(pl.col("numerator"), pl.col("denominator")).cast(pl.Float64).alias("value"),
        pl.when(~pl.lit(needs_denominator)).then(None).otherwise(pl.col("denominator"))
        .alias("denominator"),
        pl.concat_str(
            pl.lit(f"pooled by sendstats over {what + ' of ' if what else ''}"),
            pl.col("n_las").cast(pl.Utf8),
            pl.lit(" LAs with the figures known (sum / sum)"),
            pl.when(mixed)
            .then(pl.lit("; values from releases ") + pl.col("__releases"))
            .otherwise(pl.lit("")),
            pl.when(pl.col("__left_out").is_not_null())
            .then(pl.lit(LEFT_OUT_PREFIX) + pl.col("__left_out"))
            .otherwise(pl.lit("")),
            pl.when(pl.col("__absent").is_not_null())
            .then(pl.lit(ABSENT_PREFIX) + pl.col("__absent"))
            .otherwise(pl.lit("")),
            pl.when(
                pl.lit(carry_la_note)
                & (pl.col("__notes").list.len() == 1)
                & pl.col("__notes").list.first().is_not_null()
            )
            .then(pl.lit("; ") + pl.col("__notes").list.first())
            .otherwise(pl.lit("")),
        ).alias("note"),
    )  # fmt: skip
    published = rows.filter(
        (pl.col("geographic_level") != "Local authority") & pl.col("value").is_not_null()
    )
    pub = published.select(
        *AREA_KEYS, "year", pl.col("value").alias("__pub"), pl.col("release").alias("__pub_rel")
    )
    joined = pooled.join(pub, on=[*AREA_KEYS, "year"], how="left")
    differs = (pl.col("value") - pl.col("__pub")).abs() > tolerance
    other_release = mixed | (
        pl.col("__pub_rel").is_not_null() & ~pl.col("__releases").str.contains(pl.col("__pub_rel"))
    )
    joined = joined.with_columns(
        pl.col("__pub").alias("published_value"),
        pl.when(pl.col("__pub").is_not_null() & differs)
        .then(
            pl.concat_str(
                pl.lit("publisher's figure "),
                _fmt(pl.col("__pub")),
                pl.lit(" differs from the pooled "),
                _fmt(pl.col("value")),
                pl.when(pl.col("__left_out").is_not_null())
                .then(
                    pl.concat_str(
                        pl.lit(": the published total includes LAs left out here ("),
                        pl.col("__left_out"),
                        pl.lit(")"),
                    )
                )
                .when(pl.col("__absent").is_not_null())
                .then(
                    pl.concat_str(
                        pl.lit(": the published total may include LAs with no row here ("),
                        pl.col("__absent"),
                        pl.lit(")"),
                    )
                )
                .when(other_release)
                .then(
                    pl.concat_str(
                        pl.lit(": the published total is of release "),
                        pl.col("__pub_rel"),
                        pl.lit(", the LA values of release "),
                        pl.col("__releases"),
                    )
                )
                .otherwise(pl.lit(": the published total is not the sum of the LAs' figures")),
            )
        )
        .alias("published_note"),
    )
    orphans = published.join(pooled.select(*AREA_KEYS, "year"), on=[*AREA_KEYS, "year"], how="anti")
    orphans = orphans.with_columns(
        pl.col("value").alias("published_value"),
        pl.lit(None, pl.Int32).alias("n_las"),
        pl.lit("as published: no LA figures held for this period, so not pooled").alias(
            "published_note"
        ),
    )
    kept = la if keep_left_out else la.filter(usable)
    out = [kept, joined.select(*ROW_LAYOUT), orphans.select(*ROW_LAYOUT)]
    return pl.concat(out, how="vertical_relaxed")
