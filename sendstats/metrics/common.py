"""What every metric table shares: its columns, row builder, comparators, ranks and intervals.

One metric table layout serves every theme, so reports, benchmarks and exports read EHC plans,
tribunal appeals and adult outcomes the same way. Each row carries its value, numerator and
denominator, the release and file it came from (and, for a rate per head, the population file it
divided by), a series-break flag and note, the LA's national rank, and 95% / 99.8% intervals
where the metric is a proportion (Wilson) or a count (Byar).

England and region rows are comparators, so they are computed over exactly the LAs they are
compared with (issue 17): :func:`with_pooled_comparators` sums the numerators and denominators of
the LAs whose value, numerator and denominator are all known (sum / sum, never a mean of
ratios), records how many LAs that is (``n_las``), and keeps the publisher's own England or
region figure beside it (``published_value``) with a note (``published_note``) where the two
differ. Every theme makes its comparators through it, so none can pool over other LAs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from sendstats.metrics.stats import Z_95, Z_998, byar_exprs, wilson_exprs

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
_EXTRA_TYPES: dict[str, type[pl.DataType]] = {
    "denominator_release": pl.Utf8,
    "denominator_file": pl.Utf8,
    "denominator_sha256": pl.Utf8,
    "n_las": pl.Int32,
    "published_value": pl.Float64,
    "published_note": pl.Utf8,
}


_LAYOUT = [c for c in METRIC_COLUMNS if c not in ("rank", "n_ranked", *INTERVALS)]


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
    for col, dtype in _EXTRA_TYPES.items():
        if col not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype).alias(col))
    rows = rows.select(*_LAYOUT)
    if rows.height == 0:
        return rows
    metric_id = rows["metric_id"][0]
    la = rows.filter(pl.col("geographic_level") == "Local authority")
    usable = pl.col("value").is_not_null() & pl.col("numerator").is_not_null()
    if needs_denominator:
        usable = usable & pl.col("denominator").is_not_null() & (pl.col("denominator") != 0)
    ok = la.filter(usable)
    left_out = _left_out(la.filter(~usable))
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
    pooled = pooled.join(left_out, on=[*AREA_KEYS, "year"], how="left")
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
            .then(pl.lit("; left out (a figure missing): ") + pl.col("__left_out"))
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
        *AREA_KEYS, "year", pl.col("value").alias("__pub"), pl.col("note").alias("__pub_note")
    )
    joined = pooled.join(pub, on=[*AREA_KEYS, "year"], how="left")
    differs = (pl.col("value") - pl.col("__pub")).abs() > tolerance
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
                .when(mixed)
                .then(pl.lit(": the published total is of another release than some LA values"))
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
    out = [kept, joined.select(*_LAYOUT), orphans.select(*_LAYOUT)]
    return pl.concat(out, how="vertical_relaxed")


def add_ranks(metrics: pl.DataFrame) -> pl.DataFrame:
    """Rank LAs within each metric and year: 1 = highest value, ties share the lowest rank."""
    is_la = (pl.col("geographic_level") == "Local authority") & pl.col("value").is_not_null()
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
        missing = [c for c in _EXTRA_TYPES if c not in frame.columns]
        frame = frame.with_columns(pl.lit(None, _EXTRA_TYPES[c]).alias(c) for c in missing)
        filled.append(frame.select(*_LAYOUT))
    metrics = pl.concat(filled, how="vertical_relaxed").with_columns(
        pl.col("spans_break").cast(pl.Boolean)
    )
    metrics = add_intervals(add_ranks(metrics), proportions=proportions, counts=counts)
    return metrics.select(METRIC_COLUMNS).sort("metric_id", "geographic_level", "area_code", "year")
