"""Figures per head of a population: EHC plans and appeals per 10,000, funding per resident.

One function divides LA counts by an ONS population band (a frame passed in, e.g.
``population_by_age_band``), on the geography in force each year, so every per-head metric
follows the same rules (issue 17 and issue 21):

- the count's mid-year estimate is looked up on that estimate's boundaries; an LA abolished by a
  split is the exact sum of its successors (the population frame adds it);
- an LA with a count but no population keeps its row, without a value, its note saying why;
  so does an LA abolished during the period whose successors also have counts for it
  (Northamptonshire's appeals of January to March 2021): its residents are theirs, and dividing
  both by them would count England's residents twice;
  England and regions are pooled without it (sum / sum) and name it;
- a value year whose estimate is not held yet uses the latest estimate held, and says so
  (:data:`LATEST_RULE`); the series starts at the first estimate held;
- every row cites the population workbook (release, file, sha256) in ``denominator_*``.
"""

from __future__ import annotations

import polars as pl

from sendstats import geography
from sendstats.metrics.common import AREA_ATTRS, AREA_KEYS, DENOMINATOR_PROV, PROV
from sendstats.metrics.comparators import value_ratio, with_pooled_comparators

#: Columns the population frame must have (``population_by_age_band``'s output).
POPULATION_COLUMNS = (
    "la_code_dfe",
    "mid_year",
    "population",
    "population_vintage",
    "population_release",
    "population_file",
    "population_sha256",
)
LATEST_RULE = (
    "A value year whose mid-year estimate is not held yet uses the latest estimate held "
    "(mid-2023 for January 2025 EHC plans and for 2024 and 2025 appeals), and its row says so."
)
CENSUS_BREAK = (
    "Population figures from mid-2021 on are the first ONS estimates based on the 2021 Census; "
    "the earlier estimates used (mid-2017 to mid-2020) were not revised to match, so rates "
    "either side of the switch are not fully comparable."
)


def check_population(population: pl.DataFrame) -> None:
    """Refuse a population frame without the columns a per-head row cites."""
    missing = [c for c in POPULATION_COLUMNS if c not in population.columns]
    if missing:
        raise ValueError(f"population frame lacks columns {missing} (see POPULATION_COLUMNS)")


PART_YEAR_NOTE = (
    "not computed: the LA was abolished during the period and its successors' counts of the "
    "same period divide by the same residents (dividing both would count them twice)"
)


def _part_year(la: pl.DataFrame) -> pl.Expr:
    """Return True for the rows of an LA whose successors also have a count that year."""
    present = set(la.select("la_code_dfe", "year").iter_rows())
    overlap = [
        (code, year)
        for code, year in present
        if any((s, year) in present for s in geography.get_la(code).successors)
    ]
    if not overlap:
        return pl.lit(False)
    keys = pl.concat_str(pl.col("la_code_dfe"), pl.lit("|"), pl.col("year").cast(pl.Utf8))
    return keys.is_in([f"{c}|{y}" for c, y in overlap])


def _no_population_note(mid_year: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        pl.lit("not computed: no ONS mid-"),
        mid_year.cast(pl.Utf8),
        pl.lit(" population for this LA on the boundaries of the held estimate (a merger "
               "cannot be undone from its successors' figures)"),
    )  # fmt: skip


def per_head_rows(
    counts: pl.DataFrame,
    population: pl.DataFrame,
    metric_id: str,
    *,
    lag: int,
    scale: float,
    label: str,
) -> pl.DataFrame:
    """Divide LA counts by the population of their mid-year; pool England and regions.

    Args:
        counts: LA rows of one count (area keys and attributes, year, period type, value,
            provenance).
        population: one age band (:data:`POPULATION_COLUMNS`), every mid-year held.
        metric_id: the derived metric.
        lag: years between the mid-year and the period (1 for a January count).
        scale: 10,000 for a rate per 10,000, 1 for per head.
        label: the age band, for the note (e.g. "aged 0-25").

    Every LA count keeps a row: with a value where its population is held, else without one
    and a note saying why. A year beyond the latest estimate uses the latest (noted); the
    series starts at the first estimate held.

    """
    if population.height == 0:  # no estimate held: no per-head rows
        return pl.DataFrame()
    latest = int(population["mid_year"].max())  # type: ignore[arg-type]
    earliest = int(population["mid_year"].min())  # type: ignore[arg-type]
    pop = population.select(
        "la_code_dfe",
        pl.col("mid_year").cast(pl.Int64).alias("pop_year"),
        pl.col("population").cast(pl.Float64).alias("den"),
        "population_vintage",
        pl.col("population_release").alias("denominator_release"),
        pl.col("population_file").alias("denominator_file"),
        pl.col("population_sha256").alias("denominator_sha256"),
    )
    la = (
        counts.drop(DENOMINATOR_PROV, strict=False)
        .filter((pl.col("geographic_level") == "Local authority") & pl.col("value").is_not_null())
        .with_columns((pl.col("year") - lag).cast(pl.Int64).alias("mid_year"))
    )
    # The series starts with the first estimate held (no rows before it, for any LA).
    la = la.filter(pl.col("mid_year") >= earliest)
    la = la.with_columns(pl.min_horizontal("mid_year", pl.lit(latest)).alias("pop_year"))
    la = la.join(pop, on=["la_code_dfe", "pop_year"], how="left")
    part_year = _part_year(la)
    la = la.with_columns(
        part_year.alias("__part_year"),
        pl.when(part_year).then(None).otherwise(pl.col("den")).alias("den"),
    )
    stale = pl.col("mid_year") > pl.col("pop_year")
    note = (
        pl.when(pl.col("__part_year"))
        .then(pl.lit(PART_YEAR_NOTE))
        .when(pl.col("den").is_null())
        .then(_no_population_note(pl.col("mid_year")))
        .otherwise(
            pl.concat_str(
                pl.lit("denominator: "),
                pl.col("population_vintage"),
                pl.lit(f", {label}"),
                pl.when(stale)
                .then(
                    pl.lit("; latest estimate held used (mid-")
                    + pl.col("mid_year").cast(pl.Utf8)
                    + pl.lit(" not held)")
                )
                .otherwise(pl.lit("")),
            )
        )
    )
    rows = la.select(
        pl.lit(metric_id).alias("metric_id"),
        *AREA_KEYS,
        *AREA_ATTRS,
        "year",
        "period_type",
        (pl.col("value") / pl.col("den") * scale).alias("value"),
        pl.col("value").cast(pl.Float64).alias("numerator"),
        pl.col("den").alias("denominator"),
        *PROV,
        "denominator_release",
        "denominator_file",
        "denominator_sha256",
        pl.lit(False).alias("spans_break"),
        note.alias("note"),
    )
    pooled = with_pooled_comparators(
        rows, value_ratio(scale), keep_left_out=True, carry_la_note=False
    )
    # Pooled rows name the plain vintage (every LA of a year divides by the same estimate).
    vintage = (
        la.filter(pl.col("den").is_not_null())
        .group_by("year")
        .agg(
            pl.col("population_vintage")
            .sort_by(pl.col("population_vintage").str.len_chars())
            .first()
        )
    )
    pooled = pooled.join(vintage, on="year", how="left").with_columns(
        pl.when(pl.col("geographic_level") != "Local authority")
        .then(
            pl.concat_str(pl.col("note"), pl.lit("; denominator: "), pl.col("population_vintage"))
        )
        .otherwise(pl.col("note"))
        .alias("note")
    )
    return pooled.drop("population_vintage")
