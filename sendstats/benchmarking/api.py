"""``sendstats.benchmark()``: one metric for one LA and period, against its comparators.

Reads ``data/metrics/benchmarks.parquet`` (written by ``sendstats build``) and returns a small
frozen result that reports, notebooks and the ``sendstats compare`` command share. Comparators
are named by kind (``england``, ``region``, ``sn2021``, ``sn2025``) or given as
:class:`~sendstats.geography.neighbours.ComparatorGroup` objects, whose averaging rule (pooled,
mean or
median) is applied to the LA rows of the metric tables on the spot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from sendstats import geography
from sendstats.core import config
from sendstats.core.numbers import period_label
from sendstats.geography.neighbours import SN_SETS, ComparatorGroup
from sendstats.metrics.registry import MetricDef, NoValueError, get_metric
from sendstats.metrics.tables import load_metrics

BENCHMARKS_FILE = "benchmarks.parquet"
DEFAULT_COMPARATORS = ("england", "region", "sn2021", "sn2025")
#: Multiplier from a pooled ratio to the metric's unit.
UNIT_SCALE = {"pct": 100.0, "per_10k": 10_000.0}


@dataclass(frozen=True)
class ComparatorValue:
    """One comparator's value for the period, how it was averaged and the LA's gap to it."""

    kind: str
    label: str
    rule: str
    value: float | None
    n_las: int | None
    gap: float | None


@dataclass(frozen=True)
class BenchmarkResult:
    """One metric for one LA and period: value, position, comparators, change, significance."""

    metric: MetricDef
    la_code_dfe: str
    la_name: str
    year: int
    period: str
    value: float | None
    numerator: float | None
    denominator: float | None
    ci95: tuple[float, float] | None
    ci998: tuple[float, float] | None
    rank: int | None
    n_ranked: int | None
    percentile: float | None
    band: str | None
    band_rule: str
    comparators: tuple[ComparatorValue, ...]
    change_prev: float | None
    change_prev_spans_break: bool | None
    change_5y: float | None
    change_5y_spans_break: bool | None
    change_note: str | None
    funnel95: tuple[float, float] | None
    funnel998: tuple[float, float] | None
    funnel_position: str | None
    funnel_note: str | None
    significance: str
    significance_method: str
    release: str
    source_file: str
    file_sha256: str
    note: str | None
    #: Small-numbers rule (:mod:`sendstats.benchmarking.reliability`): level and reason.
    reliability: str = "not assessed"
    reliability_reason: str = ""

    def comparator(self, kind: str) -> ComparatorValue | None:
        """Return the comparator of a kind (``england``, ``region``, ``sn2025`` ...), if asked."""
        return next((c for c in self.comparators if c.kind == kind), None)


def benchmarks_path() -> Path:
    """Return where the build writes the benchmarks table."""
    return config.metrics_dir() / BENCHMARKS_FILE


def load_benchmarks(
    metric_ids: Sequence[str] | None = None, la_code_dfe: str | None = None
) -> pl.DataFrame:
    """Read benchmark rows (optionally one LA, some metrics); say to build first if missing."""
    path = benchmarks_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run `sendstats build` first")
    scan = pl.scan_parquet(path)
    if metric_ids is not None:
        scan = scan.filter(pl.col("metric_id").is_in(list(metric_ids)))
    if la_code_dfe is not None:
        scan = scan.filter(pl.col("la_code_dfe") == la_code_dfe)
    return scan.collect()


def _pair(row: dict[str, Any], low: str, high: str) -> tuple[float, float] | None:
    lo, hi = row.get(low), row.get(high)
    return None if lo is None or hi is None else (float(lo), float(hi))


def _stored_comparator(
    row: dict[str, Any], kind: str, la: geography.LocalAuthority
) -> ComparatorValue:
    if kind == "england":
        return ComparatorValue(
            kind,
            "England",
            row["england_rule"],
            row["england_value"],
            row.get("england_n_las"),
            row["gap_england"],
        )
    if kind == "region":
        return ComparatorValue(
            kind,
            f"{la.region_name} (region)",
            row["region_rule"],
            row["region_value"],
            row.get("region_n_las"),
            row["gap_region"],
        )
    sn_set = kind.removeprefix("sn")
    if kind.startswith("sn") and sn_set in SN_SETS:
        return ComparatorValue(
            kind,
            f"Statistical neighbours ({sn_set} set)",
            row["sn_rule"],
            row[f"{kind}_value"],
            row[f"{kind}_n"],
            row[f"gap_{kind}"],
        )
    raise ValueError(f"unknown comparator {kind!r}; known: {', '.join(DEFAULT_COMPARATORS)}")


def group_value(
    la_rows: pl.DataFrame, group: ComparatorGroup, metric: MetricDef
) -> tuple[float | None, int]:
    """Average one period's LA metric rows over a group with the group's own rule.

    ``pooled`` sums numerators and denominators (proportions and rates) or counts (counts);
    it is refused for growth rates, indices and money per head, where a sum means nothing.

    Returns:
        The value (None when no member has one) and the number of LAs averaged.

    """
    rows = (
        la_rows
        if group.members is None
        else la_rows.filter(pl.col("la_code_dfe").is_in(list(group.members)))
    )
    if group.averaging == "pooled":
        if metric.statistic in ("proportion", "rate"):
            ok = rows.filter(pl.col("numerator").is_not_null() & (pl.col("denominator") > 0))
            if ok.height == 0:
                return None, 0
            scale = UNIT_SCALE[metric.unit]
            ratio = float(ok["numerator"].sum()) / float(ok["denominator"].sum())
            return ratio * scale, ok.height
        if metric.statistic == "count":
            ok = rows.filter(pl.col("value").is_not_null())
            return (float(ok["value"].sum()) if ok.height else None), ok.height
        raise ValueError(
            f"{metric.id}: pooled averaging needs a proportion, rate or count; use mean or median"
        )
    ok = rows.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    if ok.height == 0:
        return None, 0
    agg = ok["value"].mean() if group.averaging == "mean" else ok["value"].median()
    return float(agg), ok.height  # type: ignore[arg-type]


def group_comparator(
    group: ComparatorGroup,
    metric: MetricDef,
    year: int,
    value: float | None,
    metrics: pl.DataFrame,
) -> ComparatorValue:
    """Average a group's LA rows of one metric and period (from the metric tables) by its rule.

    Raises:
        ValueError: pooled averaging asked of a metric that cannot be pooled.

    """
    rows = metrics.filter(
        (pl.col("metric_id") == metric.id)
        & (pl.col("year") == year)
        & (pl.col("geographic_level") == "Local authority")
    )
    avg, n = group_value(rows, group, metric)
    gap = None if avg is None or value is None else value - avg
    return ComparatorValue(group.kind, group.label, group.rule, avg, n, gap)


def benchmark(
    metric_id: str,
    la: str,
    period: int | None = None,
    comparators: Sequence[str | ComparatorGroup] = DEFAULT_COMPARATORS,
) -> BenchmarkResult:
    """Benchmark one metric for one LA and period (the latest with a value by default).

    Args:
        metric_id: a registry id, e.g. ``tribunal_appeal_rate_pct``.
        la: LA name, GSS code or 3-digit DfE code (resolved exactly, never guessed).
        period: the ``year`` of the period (January year, calendar year or FY start year).
        comparators: kinds (``england``, ``region``, ``sn2021``, ``sn2025``) and/or
            comparator groups (any LAs, with pooled, mean or median averaging).

    Raises:
        UnknownMetricError: the metric id is not in the registry.
        NoValueError: the LA has no value of the metric in that period.

    """
    metric = get_metric(metric_id)
    resolved = geography.resolve_la(la)
    rows = load_benchmarks([metric_id], resolved.la_code_dfe)
    if period is not None:
        rows = rows.filter(pl.col("year") == period)
    else:
        rows = rows.filter(pl.col("value").is_not_null())
    if rows.height == 0:
        when = f"in {period}" if period is not None else "in any period"
        raise NoValueError(f"no {metric_id} value for {resolved.la_name} {when}")
    row = rows.sort("year").row(-1, named=True)
    year = int(row["year"])
    groups = [c for c in comparators if isinstance(c, ComparatorGroup)]
    metrics = load_metrics() if groups else pl.DataFrame()  # read once for every group
    comps = tuple(
        group_comparator(c, metric, year, row["value"], metrics)
        if isinstance(c, ComparatorGroup)
        else _stored_comparator(row, c, resolved)
        for c in comparators
    )
    return BenchmarkResult(
        metric=metric,
        la_code_dfe=resolved.la_code_dfe,
        la_name=resolved.la_name,
        year=year,
        period=period_label(year, str(row["period_type"])),
        value=row["value"],
        numerator=row["numerator"],
        denominator=row["denominator"],
        ci95=_pair(row, "ci95_low", "ci95_high"),
        ci998=_pair(row, "ci998_low", "ci998_high"),
        rank=row["rank"],
        n_ranked=row["n_ranked"],
        percentile=row["percentile"],
        band=row["band"],
        band_rule=row["band_rule"],
        comparators=comps,
        change_prev=row["change_prev"],
        change_prev_spans_break=row["change_prev_spans_break"],
        change_5y=row["change_5y"],
        change_5y_spans_break=row["change_5y_spans_break"],
        change_note=row["change_note"],
        funnel95=_pair(row, "funnel95_low", "funnel95_high"),
        funnel998=_pair(row, "funnel998_low", "funnel998_high"),
        funnel_position=row["funnel_position"],
        funnel_note=row["funnel_note"],
        significance=row["significance"],
        significance_method=row["significance_method"],
        release=row["release"],
        source_file=row["source_file"],
        file_sha256=row["file_sha256"],
        note=row["note"],
        reliability=row.get("reliability") or "not assessed",
        reliability_reason=row.get("reliability_reason") or "",
    )
