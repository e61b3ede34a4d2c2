"""Build the benchmarks table: every metric, LA and period against its comparators.

Input is the stacked metric tables (one layout, :mod:`sendstats.metrics.common`). For each LA
row the table adds: percentile and LAIT quartile band (polarity-aware); England and region
values (their own rows: totals as published, or pooled by sendstats over LAs: a sum of
numerators over a sum of denominators, never a mean of ratios); the mean of the 10 statistical
neighbours in both DfE sets (LAIT's unweighted convention, the number averaged stated); the gap
to each; the change since the previous period and over five years, flagged where it crosses a
series break named in the registry; funnel limits around England at the LA's denominator; and
a significance label. Every comparator column has a rule column that says how it was averaged.

The small-numbers rule (:mod:`~sendstats.benchmarking.reliability`) is applied first: a value
whose base is under 10 gets no rank, percentile, band, funnel position or significance, one
under 30 is marked ``caution``; ``reliability`` and ``reliability_reason`` say which.
"""

from __future__ import annotations

import polars as pl

from sendstats.benchmarking import bands, funnel, reliability
from sendstats.geography.neighbours import AVERAGING_RULES, SN_SETS, sn_table
from sendstats.metrics.registry import all_metrics
from sendstats.metrics.stats import Z_95, Z_998

KEY = ["metric_id", "la_code_dfe", "year"]
GROUP = ["metric_id", "year"]

ENGLAND_RULE = (
    "England figure: "
    + AVERAGING_RULES["pooled"]
    + " over the LAs with the figures known (england_n_las); the publisher's figure beside"
)
REGION_RULE = (
    "Region figure: "
    + AVERAGING_RULES["pooled"]
    + " over its LAs with the figures known (region_n_las); the publisher's figure beside"
)
SN_RULE = AVERAGING_RULES["mean"] + " of the 10 statistical neighbours (LAIT's convention)"
#: Units whose England and region figures are totals, not comparable with one LA's value,
#: unless the metric is per head (``_per_`` in its id, e.g. GBP per resident aged 2-18).
TOTAL_UNITS = ("count", "gbp")
SN_KEYS = tuple(f"sn{s}" for s in SN_SETS)


def registry_frame() -> pl.DataFrame:
    """Return the registry attributes the engine needs, one row per metric."""
    rows = [
        {
            "metric_id": m.id,
            "unit": m.unit,
            "polarity": m.polarity,
            "statistic": m.statistic,
            "break_years": list(m.break_years),
        }
        for m in all_metrics()
    ]
    return pl.DataFrame(
        rows,
        schema={
            "metric_id": pl.Utf8,
            "unit": pl.Utf8,
            "polarity": pl.Utf8,
            "statistic": pl.Utf8,
            "break_years": pl.List(pl.Int64),
        },
    )


def _la_rows(metrics: pl.DataFrame) -> pl.DataFrame:
    la = metrics.filter(
        (pl.col("geographic_level") == "Local authority") & pl.col("la_code_dfe").is_not_null()
    )
    # Every id is registered: the metric tables are checked against the registry when built.
    return la.join(registry_frame(), on="metric_id", how="left")


def _comparator_values(metrics: pl.DataFrame, level: str, name: str) -> pl.DataFrame:
    rows = metrics.filter(pl.col("geographic_level") == level)
    keys = ["metric_id", "year"] + (["area_code"] if level == "Regional" else [])
    out = rows.select(
        *keys,
        pl.col("value").alias(f"{name}_value"),
        pl.col("n_las").alias(f"{name}_n_las"),
        pl.col("published_value").alias(f"{name}_published_value"),
    ).unique(subset=keys, keep="first")
    return out.rename({"area_code": "region_code"}) if level == "Regional" else out


def _sn_means(la: pl.DataFrame) -> pl.DataFrame:
    """Return the unweighted mean of each LA's neighbours' values, per SN set, metric, year."""
    values = la.select(
        "metric_id", "year", pl.col("la_code_dfe").alias("neighbour_code_dfe"), "value"
    ).filter(pl.col("value").is_not_null())
    pairs = sn_table().select("sn_set", "la_code_dfe", "neighbour_code_dfe").unique()
    joined = pairs.join(values, on="neighbour_code_dfe", how="inner")
    agg = joined.group_by("sn_set", "la_code_dfe", "metric_id", "year").agg(
        pl.col("value").mean().alias("sn_value"), pl.len().cast(pl.Int32).alias("sn_n")
    )
    out: pl.DataFrame | None = None
    for sn_set in SN_SETS:
        part = agg.filter(pl.col("sn_set") == sn_set).select(
            *KEY,
            pl.col("sn_value").alias(f"sn{sn_set}_value"),
            pl.col("sn_n").alias(f"sn{sn_set}_n"),
        )
        out = part if out is None else out.join(part, on=KEY, how="full", coalesce=True)
    assert out is not None
    return out


def _changes(la: pl.DataFrame) -> pl.DataFrame:
    """Add the change since the previous period and over 5 years, with break flags."""
    for lag, name in ((1, "change_prev"), (5, "change_5y")):
        earlier = la.select(
            "metric_id",
            "la_code_dfe",
            (pl.col("year") + lag).alias("year"),
            pl.col("value").alias("__earlier"),
        )
        la = la.join(earlier, on=KEY, how="left")
        # Break years b with year - lag < b <= year: the change crosses them.
        year = pl.col("year").cast(pl.Int64)
        crossed = pl.col("break_years").list.set_intersection(
            pl.int_ranges(year - lag + 1, year + 1, dtype=pl.Int64)
        )
        la = la.with_columns(
            (pl.col("value") - pl.col("__earlier")).alias(name),
            pl.when(pl.col("__earlier").is_null())
            .then(None)
            .otherwise(crossed.list.len() > 0)
            .alias(f"{name}_spans_break"),
            crossed.alias(f"__{name}_breaks"),
        ).drop("__earlier")
    note = pl.concat_str(
        pl.when(pl.col("change_prev_spans_break"))
        .then(
            pl.lit("change since the previous period crosses the series break of ")
            + pl.col("__change_prev_breaks").cast(pl.List(pl.Utf8)).list.join(", ")
            + pl.lit("; ")
        )
        .otherwise(pl.lit("")),
        pl.when(pl.col("change_5y_spans_break"))
        .then(
            pl.lit("change over 5 years crosses the series break of ")
            + pl.col("__change_5y_breaks").cast(pl.List(pl.Utf8)).list.join(", ")
        )
        .otherwise(pl.lit("")),
    ).str.strip_chars("; ")
    return la.with_columns(
        pl.when(note == "").then(None).otherwise(note).alias("change_note")
    ).drop("__change_prev_breaks", "__change_5y_breaks")


def _funnels(la: pl.DataFrame) -> pl.DataFrame:
    stat, eng, den = pl.col("statistic"), pl.col("england_value"), pl.col("denominator")
    lo95, hi95 = funnel.limit_exprs(stat, eng, den, Z_95)
    lo998, hi998 = funnel.limit_exprs(stat, eng, den, Z_998)
    la = la.with_columns(
        lo95.alias("funnel95_low"),
        hi95.alias("funnel95_high"),
        lo998.alias("funnel998_low"),
        hi998.alias("funnel998_high"),
    )
    la = la.with_columns(
        funnel.funnel_position_expr(
            pl.col("value"),
            pl.col("funnel95_low"),
            pl.col("funnel95_high"),
            pl.col("funnel998_low"),
            pl.col("funnel998_high"),
        ).alias("funnel_position")
    )
    outside = pl.col("funnel_position").is_in(
        [funnel.FUNNEL_POSITIONS[0], funnel.FUNNEL_POSITIONS[4]]
    )
    counts = la.group_by(GROUP).agg(
        outside.sum().cast(pl.Int64).alias("__out"),
        pl.col("funnel_position").is_not_null().sum().cast(pl.Int64).alias("__n"),
    )
    notes = counts.with_columns(
        pl.struct("__out", "__n")
        .map_elements(
            lambda s: funnel.overdispersion_note(int(s["__out"]), int(s["__n"])),
            return_dtype=pl.Utf8,
        )
        .alias("funnel_note")
    ).select(*GROUP, "funnel_note")
    return la.join(notes, on=GROUP, how="left")


#: Columns of the benchmarks table, in order (the schema describes each).
BENCHMARK_COLUMNS = [
    "metric_id",
    "la_code_dfe",
    "area_code",
    "area_name",
    "region_code",
    "region_name",
    "year",
    "period_type",
    "unit",
    "polarity",
    "statistic",
    "value",
    "numerator",
    "denominator",
    "release",
    "source_file",
    "file_sha256",
    "note",
    "reliability",
    "reliability_base",
    "reliability_reason",
    "rank",
    "n_ranked",
    "percentile",
    "band",
    "band_rule",
    "ci95_low",
    "ci95_high",
    "ci998_low",
    "ci998_high",
    "england_value",
    "england_rule",
    "england_n_las",
    "england_published_value",
    "gap_england",
    "region_value",
    "region_rule",
    "region_n_las",
    "region_published_value",
    "gap_region",
    *(c for k in SN_KEYS for c in (f"{k}_value", f"{k}_n", f"gap_{k}")),
    "sn_rule",
    "change_prev",
    "change_prev_spans_break",
    "change_5y",
    "change_5y_spans_break",
    "change_note",
    "funnel95_low",
    "funnel95_high",
    "funnel998_low",
    "funnel998_high",
    "funnel_position",
    "funnel_note",
    "significance",
    "significance_method",
]


def compute(metrics: pl.DataFrame) -> pl.DataFrame:
    """Return the benchmarks table for every LA metric row (see the module docstring)."""
    la = _la_rows(metrics).with_columns(reliability.reliability_exprs())
    # Ranks, percentiles and bands over the LAs the small-numbers rule lets be ranked.
    ranked = reliability.rankable_value()
    la = la.with_columns(
        ranked.rank(method="min", descending=True).over(GROUP).cast(pl.Int32).alias("rank"),
        pl.when(ranked.is_not_null())
        .then(ranked.count().over(GROUP))
        .cast(pl.Int32)
        .alias("n_ranked"),
        bands.percentile_expr(ranked, GROUP).alias("percentile"),
        bands.band_expr(ranked, pl.col("polarity"), GROUP).alias("band"),
        pl.col("polarity")
        .replace_strict(bands.BAND_RULES, return_dtype=pl.Utf8)
        .alias("band_rule"),
    )
    la = la.join(_comparator_values(metrics, "National", "england"), on=GROUP, how="left")
    la = la.join(
        _comparator_values(metrics, "Regional", "region"),
        on=[*GROUP, "region_code"],
        how="left",
    )
    la = la.join(_sn_means(la), on=KEY, how="left")
    is_total = pl.col("unit").is_in(TOTAL_UNITS) & ~pl.col("metric_id").str.contains("_per_")
    la = la.with_columns(
        pl.lit(ENGLAND_RULE).alias("england_rule"),
        pl.lit(REGION_RULE).alias("region_rule"),
        pl.lit(SN_RULE).alias("sn_rule"),
        pl.when(is_total)
        .then(None)
        .otherwise(pl.col("value") - pl.col("england_value"))
        .alias("gap_england"),
        pl.when(is_total)
        .then(None)
        .otherwise(pl.col("value") - pl.col("region_value"))
        .alias("gap_region"),
        *((pl.col("value") - pl.col(f"{k}_value")).alias(f"gap_{k}") for k in SN_KEYS),
    )
    la = _funnels(_changes(la))
    not_ranked = pl.col("reliability") == "not ranked"
    la = la.with_columns(
        pl.when(not_ranked).then(None).otherwise(pl.col("funnel_position")).alias("funnel_position")
    )
    la = la.with_columns(
        pl.when(not_ranked)
        .then(pl.lit("Not compared"))
        .otherwise(
            funnel.significance_expr(
                pl.col("ci95_low"),
                pl.col("ci95_high"),
                pl.col("england_value"),
                pl.col("polarity"),
                pl.col("statistic"),
            )
        )
        .alias("significance"),
        pl.when(not_ranked)
        .then(pl.lit("not compared: " + reliability.RULE_TEXT))
        .when(pl.col("statistic").is_in(["proportion", "rate"]))
        .then(pl.lit(funnel.SIGNIFICANCE_METHOD))
        .otherwise(pl.lit("not compared: not a proportion or rate"))
        .alias("significance_method"),
    )
    return la.select(BENCHMARK_COLUMNS).sort(KEY)
