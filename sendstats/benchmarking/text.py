"""The ``sendstats compare`` table: an LA's latest value of each metric against comparators."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from sendstats import geography
from sendstats.benchmarking.api import group_comparator, load_benchmarks
from sendstats.core.numbers import format_change, format_value, period_label
from sendstats.geography.neighbours import ComparatorGroup
from sendstats.metrics.registry import all_metrics, get_metric
from sendstats.metrics.tables import load_metrics


def _group_cell(group: ComparatorGroup, metric_id: str, year: int, metrics: pl.DataFrame) -> str:
    m = get_metric(metric_id)
    try:
        c = group_comparator(group, m, year, None, metrics)
    except ValueError:
        return "n/a (pooled needs a proportion, rate or count)"
    return f"{format_value(c.value, m.unit)} ({c.n_las} LAs)" if c.value is not None else ""


def compare_rows(
    la: str,
    metric_ids: Sequence[str] | None = None,
    sn_set: str = "2025",
    group: ComparatorGroup | None = None,
) -> pl.DataFrame:
    """Return one row per metric: the LA's latest value, band, rank, comparators, change.

    Every cell is preformatted text, so the terminal shows what the reports show. ``group``
    adds a column for a user-supplied comparator group, averaged by its own rule.
    """
    resolved = geography.resolve_la(la)
    ids = list(metric_ids) if metric_ids else [m.id for m in all_metrics()]
    for mid in ids:
        get_metric(mid)  # unknown ids fail early, listing the known ones
    rows = load_benchmarks(ids, resolved.la_code_dfe).filter(pl.col("value").is_not_null())
    latest = rows.sort("year").group_by("metric_id", maintain_order=True).last()
    metrics = load_metrics() if group is not None else None
    out = []
    for r in latest.sort("metric_id").iter_rows(named=True):
        m = get_metric(r["metric_id"])
        change = format_change(r["change_prev"], m.unit) if r["change_prev"] is not None else ""
        if r["change_prev_spans_break"]:
            change += " (break)"
        out.append(
            {
                "metric": r["metric_id"],
                "period": period_label(int(r["year"]), r["period_type"]),
                "value": format_value(r["value"], m.unit),
                "band": r["band"] or "",
                "rank": f"{r['rank']}/{r['n_ranked']}" if r["rank"] else "",
                "England": format_value(r["england_value"], m.unit),
                "region": format_value(r["region_value"], m.unit),
                f"SN {sn_set} mean": format_value(r[f"sn{sn_set}_value"], m.unit),
                "vs England": r["significance"],
                "change": change,
            }
        )
        if group is not None and metrics is not None:
            out[-1][group.label] = _group_cell(group, r["metric_id"], int(r["year"]), metrics)
    return pl.DataFrame(out)


def compare_text(
    la: str,
    metric_ids: Sequence[str] | None = None,
    sn_set: str = "2025",
    group: ComparatorGroup | None = None,
) -> str:
    """Return the comparison as a readable terminal table with its legend."""
    resolved = geography.resolve_la(la)
    table = compare_rows(la, metric_ids, sn_set, group)
    if table.height == 0:
        return f"No benchmark values for {resolved.la_name} in the metrics asked for."
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=200,
        fmt_str_lengths=60,
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="ASCII_MARKDOWN",
    ):
        body = str(table)
    legend = (
        "band: LAIT national quartiles, A = best quarter where the metric has a polarity "
        "(else A = highest); rank: 1 = highest value; England and region: pooled (sum of "
        "numerators / sum of denominators), totals for counts; SN mean: unweighted mean of "
        f"the 10 statistical neighbours ({sn_set} set); vs England: 95% interval against the "
        "England value (Not compared for counts and growth); change: on the previous period, "
        "(break) = crosses a series break."
    )
    r = resolved
    head = f"{r.la_name} (DfE {r.la_code_dfe}, {r.la_code}), {r.region_name}"
    if group is not None:
        members = ", ".join(geography.get_la(c).la_name for c in group.members or ())
        legend += f" {group.label}: {members}; {group.rule}."
    return f"{head}\n\n{body}\n\n{legend}"
