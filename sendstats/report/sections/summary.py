"""The profile's one-page summary table: each headline figure against its comparators.

Every comparator in a row (neighbours, region, England) is for the same period as the LA's
value (they come from the same benchmark row). A row whose latest period is older than the
newest headline figures is marked "latest held" with the reason; a value resting on few cases
follows the small-numbers rule of :mod:`sendstats.report.rules`; a quartile is given in words
where the measure has no good or bad direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from sendstats.core.numbers import format_change, format_value, period_label
from sendstats.metrics.registry import get_metric
from sendstats.report import absence, rules
from sendstats.report.figures.base import figure_dir, write_csv
from sendstats.report.profile import HEADLINE_METRICS, LaContext, _show
from sendstats.report.provenance import short_source
from sendstats.report.viz import tables
from sendstats.report.viz.display import fenced

LATEST_HELD = "latest held"


def interval(row: dict[str, Any], unit: str) -> str:
    """Return a row's 95% interval as text ('' when it has none)."""
    low, high = row.get("ci95_low"), row.get("ci95_high")
    if low is None or high is None:
        return ""
    return f"{_or_blank(float(low), unit)} to {_or_blank(float(high), unit)}"


def newest_end(ctx: LaContext, metric_ids: Sequence[str] = HEADLINE_METRICS) -> int:
    """Return the year the newest national period of the headline figures ends."""
    ends = []
    for mid in metric_ids:
        years = absence.national_years(ctx.figure_context(), mid)
        if years:
            ends.append(rules.period_end(years[-1], get_metric(mid).period_type).year)
    return max(ends)


def value_text(row: dict[str, Any], unit: str) -> str:
    """Return a value as shown, with the caution mark when it rests on few cases."""
    mark = rules.CAUTION_MARK if rules.needs_caution(row) else ""
    return _or_blank(row["value"], unit) + mark


def summary_rows(ctx: LaContext, metric_ids: Sequence[str] = HEADLINE_METRICS) -> pl.DataFrame:
    """Return the summary table's rows: latest value, quartile, rank, comparators, staleness.

    Every cell is preformatted text, so the table shows exactly what the narratives say.
    ``Held`` is "latest held" for a stale row and ``Reason`` says what is not held.
    """
    out = []
    end = newest_end(ctx, metric_ids)
    for mid in metric_ids:
        metric = get_metric(mid)
        row = ctx.bench_row(mid)
        if row is None:
            continue
        small = rules.too_small(row)
        change = (
            "" if row["change_prev"] is None else format_change(row["change_prev"], metric.unit)
        )
        if row["change_prev_spans_break"]:
            change += " (series break)"
        stale = absence.stale_reason(ctx.figure_context(), row, end)
        out.append(
            {
                "Metric": metric.title,
                "Period": period_label(int(row["year"]), str(row["period_type"])),
                "Held": LATEST_HELD if stale else "",
                "Reason": stale or "",
                "LA": value_text(row, metric.unit),
                "95% interval": interval(row, metric.unit),
                "Quartile": "" if small else rules.band_words(row["band"], metric.polarity),
                "Rank": (
                    f"fewer than {rules.NO_RANK_BELOW} cases"
                    if small
                    else (f"{row['rank']} of {row['n_ranked']}" if row["rank"] else "")
                ),
                "vs England": "" if small else _verdict(row["significance"]),
                "Neighbours": _or_blank(row["sn2025_value"], metric.unit),
                "Region": _or_blank(row["region_value"], metric.unit),
                "England": _or_blank(row["england_value"], metric.unit),
                "Change": change,
                "metric_id": mid,
            }
        )
    return pl.DataFrame(out)


def _or_blank(value: float | None, unit: str) -> str:
    # "per 10,000" is in the metric's name; repeating it in every cell makes the table wrap.
    return "" if value is None else format_value(value, unit).replace(" per 10,000", "")


def _verdict(significance: object) -> str:
    """Return the comparison with England as shown ('' for counts and growth, not compared)."""
    return "" if significance in (None, "Not compared") else str(significance)


def show_summary_table(ctx: LaContext) -> None:
    """Display the one-page summary of headline metrics (great-tables) and export it as CSV.

    The page shows eight columns so it fits an A4 page; the CSV beside it also has the region,
    the change on the previous period and the full reason of each "latest held" row.
    """
    rows = summary_rows(ctx)
    folder = figure_dir()
    if folder:
        write_csv(rows, folder / f"{ctx.la.la_code_dfe}__summary_table.csv")
    reasons = [r for r in dict.fromkeys(rows["Reason"].to_list()) if r]
    marks = {r: f"[{i}]" for i, r in enumerate(reasons, 1)}
    period = [
        f"{p}, {LATEST_HELD} {marks[r]}" if r else p
        for p, r in zip(rows["Period"], rows["Reason"], strict=True)
    ]
    shown = rows.with_columns(pl.Series("Period", period)).select(
        "Metric",
        "Period",
        pl.when(pl.col("95% interval") != "")
        .then(pl.col("LA") + pl.lit(" (") + pl.col("95% interval") + pl.lit(")"))
        .otherwise(pl.col("LA"))
        .alias("LA (95% interval)"),
        "Quartile",
        "Rank",
        "vs England",
        "Neighbours",
        "England",
    )
    used = ctx.bench.filter(
        pl.col("metric_id").is_in(list(HEADLINE_METRICS))
        & (pl.col("la_code_dfe") == ctx.la.la_code_dfe)
    )
    notes = [f"{marks[r]} {r[0].upper()}{r[1:]}." for r in reasons]
    title = f"{ctx.la.la_name} at a glance"
    legend = " ".join([SUMMARY_LEGEND, *notes])
    gt = tables.metrics_summary_table(
        shown, title=title, source_note=short_source(used), legend=legend
    )
    # HTML shows great-tables' table; PDF a typst table sized for A4. Both as raw blocks in one
    # markdown output (a text/html display would make Quarto load scripts from a CDN; the
    # profile's typst format sets html-table-processing: none, so the PDF keeps only its own).
    pdf = tables.summary_typst(shown, title=title, notes=[legend, short_source(used)])
    _show({"text/markdown": fenced(gt.as_raw_html(), "{=html}") + "\n" + pdf}, raw=True)


SUMMARY_LEGEND = (
    "Each comparator is for the same period as the LA's value. Quartile: the LA's quarter among "
    "all LAs (with a good direction, A = best quarter). Rank: 1 = highest value. vs England: the "
    "LA's 95% interval against England. Neighbours: mean of the 10 statistical neighbours. "
    f"{rules.CAUTION_MARK}: fewer than {rules.CAUTION_BELOW} cases."
)
