"""The England overview's own pieces: the figures SEND policy papers quote, rebuilt.

Each quoted figure names the metric, the England row (or two rows and the ratio between them)
and the pinned file it comes from, so a reader can rebuild it with ``sendstats figure`` or the
metric tables. Claims are worded as the numbers allow, nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sendstats.core.numbers import format_money, format_value, period_label
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import FigureContext, figure_dir, write_csv
from sendstats.report.provenance import source_note


@dataclass(frozen=True)
class Quote:
    """One quoted figure: a metric's England value in a year, or its ratio between two years."""

    claim: str
    metric_id: str
    year: int
    base_year: int | None = None


QUOTES = (
    Quote("EHC plans maintained, England", "ehc_plans_count", 2025),
    Quote("EHC plans and statements maintained, England", "ehc_plans_count", 2015),
    Quote("Growth in plans maintained, 2015 to 2025", "ehc_plans_count", 2025, 2015),
    Quote("New EHC plans made in the year", "new_ehc_plans_count", 2024),
    Quote("Initial requests for an EHC needs assessment", "requests_count", 2024),
    Quote("Initial requests refused", "requests_refused_pct", 2024),
    Quote(
        "New plans issued within 20 weeks (excluding exceptions)",
        "plans_within_20_weeks_excl_exceptions_pct",
        2024,
    ),
    Quote("SEND Tribunal appeals registered", "tribunal_appeals_count", 2024),
    Quote("Growth in tribunal appeals, 2014 to 2024", "tribunal_appeals_count", 2024, 2014),
    Quote("SEND Tribunal appeal rate (2018 method)", "tribunal_appeal_rate_pct", 2024),
    Quote("High-needs block allocation (cash, before recoupment)", "high_needs_block_gbp", 2023),
    Quote(
        "DSG cumulative balance as % of total DSG income (DfE dashboard, derived)",
        "dsg_balance_of_total_income_pct",
        2021,
    ),
    Quote(
        "Adults with a learning disability in paid employment (ASCOF 1E)",
        "ascof_1e_ld_paid_employment_pct",
        2020,
    ),
)


def _england(ctx: FigureContext, metric_id: str, year: int) -> dict[str, object] | None:
    rows = ctx.area_rows(metric_id, "National").filter(pl.col("year") == year)
    return rows.row(0, named=True) if rows.height else None


def quoted_figures(ctx: FigureContext) -> pl.DataFrame:
    """Return each quoted figure with its value, arithmetic and the file it comes from."""
    out = []
    for q in QUOTES:
        m = get_metric(q.metric_id)
        row = _england(ctx, q.metric_id, q.year)
        if row is None:
            continue
        when = period_label(q.year, m.period_type)
        value = float(str(row["value"]))
        if q.base_year is None:
            text = format_money(value) if m.unit == "gbp" else format_value(value, m.unit)
            how = f"{q.metric_id}, England row, {when}"
            if m.unit == "gbp":  # the exact sum beside the rounded one
                how += f": {format_value(value, m.unit)}"
            num, den = row["numerator"], row["denominator"]
            if num is not None and den is not None and m.unit == "pct":
                how += f": {float(str(num)):,.0f} / {float(str(den)):,.0f} x 100"
        else:
            base = _england(ctx, q.metric_id, q.base_year)
            if base is None:
                continue
            start = float(str(base["value"]))
            value = value / start
            when = f"{period_label(q.base_year, m.period_type)} to {when}"
            text = f"{value:.2f} times"
            end = format_value(float(str(row["value"])), m.unit)
            how = f"{q.metric_id}, England rows: {end} / {format_value(start, m.unit)}"
        out.append(
            {
                "claim": q.claim,
                "period": when,
                "figure": text,
                "value": value,
                "how": how,
                "official": "official" if m.official else "derived",
                "release": row["release"],
                "source_file": row["source_file"],
                "file_sha256": row["file_sha256"],
            }
        )
    from sendstats.report.sections.inclusion import ascl_check

    ascl = ascl_check(ctx)
    if ascl is not None:
        out.append(ascl)
    return pl.DataFrame(out)


def show_quoted_figures(ctx: FigureContext) -> None:
    """Display the quoted-figures table (great-tables) with its source note, and export CSV."""
    from great_tables import GT

    from sendstats.report import profile as report

    data = quoted_figures(ctx)
    folder = figure_dir()
    if folder:
        write_csv(data, folder / "england__quoted_figures.csv")
    shown = data.select(
        pl.col("claim").alias("Figure"),
        pl.col("period").alias("Period"),
        pl.col("figure").alias("Value"),
        pl.col("how").alias("How it is rebuilt"),
        pl.col("official").alias("Status"),
    )
    table = (
        GT(shown)
        .tab_header(title="Figures the SEND debate quotes, rebuilt from source")
        .tab_source_note(source_note(data))
        .cols_align(align="right", columns="Value")
    )
    report._show(table)


def _value(ctx: FigureContext, metric_id: str) -> tuple[int, float] | None:
    """Return England's latest (year, value) of a metric, or None."""
    rows = ctx.area_rows(metric_id, "National").drop_nulls("value")
    if rows.height == 0:
        return None
    last = rows.row(-1, named=True)
    return int(last["year"]), float(last["value"])


def _ratio(ctx: FigureContext, metric_id: str, base: int) -> str:
    rows = ctx.area_rows(metric_id, "National").drop_nulls("value")
    first = rows.filter(pl.col("year") == base)
    if first.height == 0:
        return ""
    return f"{float(rows['value'][-1]) / float(first['value'][0]):.2f} times {base}'s"


def summary_markdown(ctx: FigureContext) -> str:
    """Return the overview's opening summary (markdown): the national picture in a few lines.

    Each sentence quotes England's latest value of one metric, with its period, so the page
    opens with what the charts below show.
    """
    out = []
    plans = _value(ctx, "ehc_plans_count")
    if plans:
        out.append(
            f"In January {plans[0]}, **{plans[1]:,.0f}** children and young people in England had "
            f"an EHC plan, {_ratio(ctx, 'ehc_plans_count', 2015)} (statements included then)."
        )
    refused = _value(ctx, "requests_refused_pct")
    timely = _value(ctx, "plans_within_20_weeks_excl_exceptions_pct")
    if refused and timely:
        out.append(
            f"In {refused[0]}, LAs refused {refused[1]:.1f}% of initial requests for an "
            f"assessment, and {timely[1]:.1f}% of new plans were issued within the 20 weeks the "
            "law allows (excluding exceptions)."
        )
    appeals = _value(ctx, "tribunal_appeals_count")
    rate = _value(ctx, "tribunal_appeal_rate_pct")
    if appeals and rate:
        out.append(
            f"{appeals[1]:,.0f} SEND Tribunal appeals were registered in {appeals[0]}, "
            f"{_ratio(ctx, 'tribunal_appeals_count', 2014)}: {rate[1]:.1f}% of appealable "
            "decisions."
        )
    block = _value(ctx, "high_needs_block_gbp")
    if block:
        out.append(
            f"The high-needs block for {period_label(block[0], 'financial_year')} was "
            f"{format_money(block[1])} in cash terms."
        )
    out.append(
        "LAs differ widely on every measure: the strips below show each LA as a tick, with "
        "England and the median LA marked."
    )
    return " ".join(out)
