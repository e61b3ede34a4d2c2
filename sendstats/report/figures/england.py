"""England-wide figures for the overview: national series and LA variation for each theme."""

from __future__ import annotations

from typing import Any

import polars as pl

from sendstats.core.numbers import format_value, period_label
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import (
    Figure,
    FigureContext,
    first_year,
    last_year,
    register_figure,
)
from sendstats.report.figures.la import strip_references
from sendstats.report.provenance import PROVENANCE
from sendstats.report.viz import charts

#: The January from which the caseload counts EHC plans only (statements ended in 2018).
EHCP_ONLY_FROM = 2019


def national_rows(ctx: FigureContext, metric_ids: dict[str, str]) -> pl.DataFrame:
    """Return England's rows of some metrics as series named by ``metric_ids`` values."""
    frames = [
        ctx.area_rows(mid, "National").select(
            pl.lit(name).alias("series"),
            pl.lit(mid).alias("metric_id"),
            "year",
            "value",
            "numerator",
            "denominator",
            *PROVENANCE,
        )
        for mid, name in metric_ids.items()
    ]
    return pl.concat(frames, how="vertical_relaxed").filter(pl.col("value").is_not_null())


def _national_alt(lead: str) -> Any:
    def alt_text(ctx: FigureContext, data: pl.DataFrame) -> str:
        parts = [f"{lead}, England, {first_year(data)} to {last_year(data)}."]
        for series in data["series"].unique(maintain_order=True):
            rows = data.filter(pl.col("series") == series).sort("year")
            first, last = rows.row(0, named=True), rows.row(-1, named=True)
            unit = get_metric(str(first["metric_id"])).unit
            period = get_metric(str(first["metric_id"])).period_type
            parts.append(
                f"{series}: {format_value(first['value'], unit)} in "
                f"{period_label(int(first['year']), period)}, "
                f"{format_value(last['value'], unit)} in {period_label(int(last['year']), period)}."
            )
        return " ".join(parts)

    return alt_text


def national_figure(
    figure_id: str,
    title: str,
    y_title: str,
    lead: str,
    series: dict[str, str],
    recipe: str,
    *,
    data: Any = None,
) -> Figure:
    """Register an England trend figure of one or more metrics (one line each)."""
    get_data = data or (lambda ctx: national_rows(ctx, series))

    def chart(ctx: FigureContext, rows: pl.DataFrame) -> Any:
        order = list(rows["series"].unique(maintain_order=True))
        metric = get_metric(str(rows["metric_id"][0]))
        money = metric.unit == "gbp"
        shown = charts.with_segments(
            rows.with_columns(
                pl.col("year")
                .map_elements(lambda y: period_label(int(y), metric.period_type), pl.Utf8)
                .alias("period")
            )
        )
        return charts.trend_chart(
            shown.select("series", "year", "segment", "period", "value"),
            title=title,
            subtitle="England",
            y_title=y_title,
            alt_text=_national_alt(lead)(ctx, rows),
            roles=dict(zip(order, ("england", "series2", "series3"), strict=False)),
            y_zero=True,
            x_field="period" if metric.period_type == "financial_year" else "year",
            y_label_expr=charts.money_label_expr(rows["value"].to_list()) if money else None,
        )

    return register_figure(
        Figure(
            figure_id,
            title,
            tuple(series),
            get_data,
            chart,
            _national_alt(lead),
            lambda ctx: recipe,
            needs_la=False,
        )
    )


def _ehcp_series(ctx: FigureContext) -> pl.DataFrame:
    rows = national_rows(ctx, {"ehc_plans_count": "EHC plans"})
    return rows.with_columns(
        pl.when(pl.col("year") < EHCP_ONLY_FROM)
        .then(pl.lit("Statements of SEN and EHC plans (to January 2018)"))
        .otherwise(pl.lit("EHC plans (from January 2019)"))
        .alias("series")
    )


national_figure(
    "england_ehcp_series",
    "EHC plans (and statements) at January, England",
    "Plans maintained",
    "Line chart of EHC plans maintained at January (statements of SEN included to 2018)",
    {"ehc_plans_count": "EHC plans"},
    "Metric `ehc_plans_count`, England row (E92000001) of every January: 2010-2018 the 2022 "
    "release's Total_all (statements + EHC plans), 2019 on the 2025 release's caseload.csv "
    "ehcplans. No arithmetic beyond choosing the newest release of each value.",
    data=_ehcp_series,
)
national_figure(
    "england_requests_timeliness",
    "Requests refused and plans issued within 20 weeks, England",
    "%",
    "Line chart of the % of initial requests refused and the % of new plans issued within 20 "
    "weeks (excluding exceptions)",
    {
        "requests_refused_pct": "Requests refused (%)",
        "plans_within_20_weeks_excl_exceptions_pct": "New plans within 20 weeks (%)",
    },
    "Metrics `requests_refused_pct` (requests refused / requests received x 100) and "
    "`plans_within_20_weeks_excl_exceptions_pct` (plans issued within 20 weeks / plans issued, "
    "excluding exception cases, x 100), England rows; the 2023 SEN2 series break is marked in "
    "the registry.",
)
national_figure(
    "england_tribunal_appeals",
    "SEND Tribunal appeals registered, England",
    "Appeals",
    "Line chart of SEND Tribunal appeals registered",
    {"tribunal_appeals_count": "Appeals registered"},
    "Metric `tribunal_appeals_count`, England row of each calendar year (MoJ/DfE appeal rate "
    "tables; the England total as published).",
)
national_figure(
    "england_tribunal_rate",
    "SEND Tribunal appeal rate, England",
    "% of appealable decisions",
    "Line chart of the SEND Tribunal appeal rate by method",
    {
        "tribunal_appeal_rate_pct": "2018 method (%)",
        "tribunal_appeal_rate_annual_reviews_pct": "Annual-reviews method (%)",
    },
    "Metrics `tribunal_appeal_rate_pct` and `tribunal_appeal_rate_annual_reviews_pct`, England "
    "rows: appeals / total appealable decisions x 100, each method its own series.",
)
national_figure(
    "england_high_needs_block",
    "High-needs block allocation, England (cash)",
    "£ (cash terms)",
    "Line chart of the high-needs block allocation before recoupment, cash terms",
    {"high_needs_block_gbp": "High-needs block (£, cash)"},
    "Metric `high_needs_block_gbp`, England row of each financial year (ESFA DSG allocation "
    "files, before recoupment); cash terms, no deflator.",
)


def variation_figure(figure_id: str, metric_id: str, x_title: str) -> Figure:
    """Register a strip of every LA's latest value of a metric (the 'postcode lottery')."""
    metric = get_metric(metric_id)

    def rows(ctx: FigureContext) -> pl.DataFrame:
        return ctx.strip_rows(metric_id)

    def alt_text(ctx: FigureContext, data: pl.DataFrame) -> str:
        top, bottom = data.sort("value").row(-1, named=True), data.sort("value").row(0, named=True)
        when = period_label(int(data["year"][0]), metric.period_type)
        return (
            f"Strip of {data.height} LAs' {metric.title} in {when}: from "
            f"{format_value(bottom['value'], metric.unit)} ({bottom['area_name']}) to "
            f"{format_value(top['value'], metric.unit)} ({top['area_name']}); England "
            f"{format_value(data['england_value'][0], metric.unit)}."
        )

    def chart(ctx: FigureContext, data: pl.DataFrame) -> Any:
        when = period_label(int(data["year"][0]), metric.period_type)
        return charts.bar_rank_chart(
            data.select("area_name", "value"),
            highlight=ctx.la_name,
            title=f"{metric.title}, {when}: every LA",
            subtitle="Each tick is one LA; England (dashed) and the median LA (dotted)",
            x_title=x_title,
            alt_text=alt_text(ctx, data),
            x_format=",.0f" if metric.unit in ("gbp", "count") else ",.1f",
            references=strip_references(data),
        )

    return register_figure(
        Figure(
            figure_id,
            f"{metric.title}: every LA",
            (metric_id,),
            rows,
            chart,
            alt_text,
            lambda ctx: (
                f"Metric `{metric_id}`, every LA row of the latest period. {metric.definition}"
            ),
            needs_la=False,
        )
    )


variation_figure("variation_ehcp_per_10k", "ehc_plans_per_10k_0_25", "Per 10,000 aged 0-25")
variation_figure("variation_requests_refused", "requests_refused_pct", "% of requests")
variation_figure(
    "variation_timeliness", "plans_within_20_weeks_excl_exceptions_pct", "% within 20 weeks"
)
variation_figure(
    "variation_high_needs_per_head", "high_needs_block_per_head_2_18_gbp", "£ per head aged 2-18"
)
variation_figure(
    "variation_dsg_balance", "dsg_balance_of_total_income_pct", "% of total DSG income"
)
