"""What every metric table shares: its columns, row builder, comparators, ranks and intervals.

One metric table layout serves every theme, so reports, benchmarks and exports read EHC plans,
tribunal appeals and adult outcomes the same way. Each row carries its value, numerator and
denominator, the release and file it came from (and, for a rate per head, the population file it
divided by), a series-break flag and note, the LA's national rank, and 95% / 99.8% intervals
where the metric is a proportion (Wilson) or a count (Byar).

England and region rows are made by :mod:`sendstats.metrics.comparators` (pooled over exactly
the LAs compared, ``n_las``, the published figure beside); :func:`pool` is its summing step.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sendstats.metrics.stats import MIN_BASE_RANKED, Z_95, Z_998, byar_exprs, wilson_exprs

AREA_KEYS = ["geographic_level", "area_code"]
AREA_ATTRS = ["area_name", "la_code_dfe", "region_code", "region_name"]
PROV = ["release", "source_file", "file_sha256"]
#: Provenance of the denominator of a rate per head: the ONS population release, file, sha256.
DENOMINATOR_PROV = ["denominator_release", "denominator_file", "denominator_sha256"]
#: Comparator columns: LAs pooled, the publisher's own figure, and why the two differ.
COMPARATOR_COLUMNS = ["n_las", "published_value", "published_note"]
ENGLAND_CODE = "E92000001"
INTERVALS = ["ci95_low", "ci95_high", "ci998_low", "ci998_high"]

METRIC_COLUMNS = [
    "metric_id",
    *AREA_KEYS,
    *AREA_ATTRS,
    "year",
    "period_type",
    "value",
    "numerator",
    "denominator",
    *PROV,
    *DENOMINATOR_PROV,
    "spans_break",
    "note",
    *COMPARATOR_COLUMNS,
    "rank",
    "n_ranked",
    *INTERVALS,
]
EXTRA_COLUMN_TYPES: dict[str, type[pl.DataType]] = {
    "denominator_release": pl.Utf8,
    "denominator_file": pl.Utf8,
    "denominator_sha256": pl.Utf8,
    "n_las": pl.Int32,
    "published_value": pl.Float64,
    "published_note": pl.Utf8,
}


ROW_LAYOUT = [c for c in METRIC_COLUMNS if c not in ("rank", "n_ranked", *INTERVALS)]


def make_rows(
    df: pl.DataFrame,
    metric_id: str,
    value: pl.Expr,
    *,
    numerator: pl.Expr | None = None,
    denominator: pl.Expr | None = None,
    spans_break: pl.Expr | None = None,
    note: pl.Expr | None = None,
) -> pl.DataFrame:
    """Select one metric's rows from a frame holding area keys, year, period and provenance."""
    none = pl.lit(None, pl.Float64)
    return df.select(
        pl.lit(metric_id).alias("metric_id"),
        *AREA_KEYS,
        *AREA_ATTRS,
        "year",
        "period_type",
        value.cast(pl.Float64).alias("value"),
        (none if numerator is None else numerator).cast(pl.Float64).alias("numerator"),
        (none if denominator is None else denominator).cast(pl.Float64).alias("denominator"),
        *PROV,
        (pl.lit(False) if spans_break is None else spans_break).alias("spans_break"),
        (pl.lit(None, pl.Utf8) if note is None else note).cast(pl.Utf8).alias("note"),
    )


def pool(
    la: pl.DataFrame,
    sums: Sequence[str],
    *,
    level: str,
    extra: Sequence[pl.Expr] = (),
) -> pl.DataFrame:
    """Pool LA rows into region rows (``level="Regional"``) or one England row per year.

    Each column in ``sums`` is summed (pooled: sum / sum later, never a mean of LA ratios).
    The pooled row cites the provenance of the newest release among the rows it sums;
    ``extra`` adds further aggregations (e.g. the population vintage).
    """
    prov = [pl.col(c).sort_by("release", descending=True).first() for c in PROV]
    aggs = [*(pl.col(c).sum() for c in sums), *prov, *extra]
    tail = [*PROV, *sums, *(e.meta.output_name() for e in extra)]
    if level == "Regional":
        return (
            la.group_by("region_code", "region_name", "year", "period_type")
            .agg(aggs)
            .select(
                pl.lit("Regional").alias("geographic_level"),
                pl.col("region_code").alias("area_code"),
                pl.col("region_name").alias("area_name"),
                pl.lit(None, pl.Utf8).alias("la_code_dfe"),
                "region_code",
                "region_name",
                "year",
                "period_type",
                *tail,
            )
        )
    return (
        la.group_by("year", "period_type")
        .agg(aggs)
        .select(
            pl.lit("National").alias("geographic_level"),
            pl.lit(ENGLAND_CODE).alias("area_code"),
            pl.lit("England").alias("area_name"),
            pl.lit(None, pl.Utf8).alias("la_code_dfe"),
            pl.lit(None, pl.Utf8).alias("region_code"),
            pl.lit(None, pl.Utf8).alias("region_name"),
            "year",
            "period_type",
            *tail,
        )
    )


def small_base(metrics: pl.DataFrame) -> pl.Expr:
    """Return True where the small-numbers rule keeps a row out of ranks (base under 10).

    The base is the denominator, or for a rate per population the events counted (its
    numerator); counts and amounts of money have none (see ``benchmarking.reliability``).
    """
    from sendstats.metrics.registry import registered

    ids = metrics["metric_id"].unique().to_list()
    defs = {i: registered(i) for i in ids}
    rates = [i for i, d in defs.items() if d.statistic == "rate"]
    no_base = [i for i, d in defs.items() if d.unit in ("count", "gbp")]
    base = (
        pl.when(pl.col("metric_id").is_in(rates))
        .then(pl.col("numerator"))
        .otherwise(pl.col("denominator"))
    )
    return ~pl.col("metric_id").is_in(no_base) & (base < MIN_BASE_RANKED).fill_null(False)


def add_ranks(metrics: pl.DataFrame) -> pl.DataFrame:
    """Rank LAs within each metric and year: 1 = highest value, ties share the lowest rank.

    A value on a base under ``MIN_BASE_RANKED`` (10) is not ranked and not counted in
    ``n_ranked`` (the small-numbers rule, the same as the benchmarks table's).
    """
    is_la = (
        (pl.col("geographic_level") == "Local authority")
        & pl.col("value").is_not_null()
        & ~small_base(metrics)
    )
    rank = pl.col("value").rank(method="min", descending=True).over("metric_id", "year")
    n = pl.col("value").count().over("metric_id", "year")
    la = metrics.filter(is_la).with_columns(
        rank.cast(pl.Int32).alias("rank"), n.cast(pl.Int32).alias("n_ranked")
    )
    rest = metrics.filter(~is_la).with_columns(
        pl.lit(None, pl.Int32).alias("rank"), pl.lit(None, pl.Int32).alias("n_ranked")
    )
    return pl.concat([la, rest], how="vertical")


def add_intervals(
    metrics: pl.DataFrame, *, proportions: Sequence[str] = (), counts: Sequence[str] = ()
) -> pl.DataFrame:
    """Add 95% and 99.8% intervals: Wilson for proportion metrics (in %), Byar for counts.

    Ratios that are not proportions (growth, indices) get no interval: their uncertainty is
    not sampling error of one count.
    """
    num, den = pl.col("numerator"), pl.col("denominator")
    is_prop = pl.col("metric_id").is_in(list(proportions))
    is_count = pl.col("metric_id").is_in(list(counts))
    cols = []
    for z, tag in ((Z_95, "95"), (Z_998, "998")):
        w_lo, w_hi = wilson_exprs(num, den, z)
        b_lo, b_hi = byar_exprs(pl.col("value"), z)
        cols.append(
            pl.when(is_prop).then(w_lo * 100).when(is_count).then(b_lo).alias(f"ci{tag}_low")
        )
        cols.append(
            pl.when(is_prop).then(w_hi * 100).when(is_count).then(b_hi).alias(f"ci{tag}_high")
        )
    return metrics.with_columns(cols)


def finish(
    frames: Sequence[pl.DataFrame], *, proportions: Sequence[str] = (), counts: Sequence[str] = ()
) -> pl.DataFrame:
    """Stack metric frames, add ranks and intervals, and return them in the standard layout."""
    filled = []
    for frame in frames:
        missing = [c for c in EXTRA_COLUMN_TYPES if c not in frame.columns]
        frame = frame.with_columns(pl.lit(None, EXTRA_COLUMN_TYPES[c]).alias(c) for c in missing)
        filled.append(frame.select(*ROW_LAYOUT))
    metrics = pl.concat(filled, how="vertical_relaxed").with_columns(
        pl.col("spans_break").cast(pl.Boolean)
    )
    metrics = add_intervals(add_ranks(metrics), proportions=proportions, counts=counts)
    return metrics.select(METRIC_COLUMNS).sort("metric_id", "geographic_level", "area_code", "year")
