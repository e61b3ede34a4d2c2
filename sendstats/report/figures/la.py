"""The LA profile's figures: trends against comparators, need mix, funnel, intervals, growth."""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from sendstats.benchmarking import funnel
from sendstats.core.numbers import format_value, period_label
from sendstats.metrics.needs import NEED_METRICS
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import (
    Figure,
    FigureContext,
    first_year,
    last_year,
    register_figure,
)
from sendstats.report.provenance import PROVENANCE
from sendstats.report.rules import (
    CAUTION_BELOW,
    CAUTION_MARK,
    CAUTION_VERDICTS,
    NO_RANK_BELOW,
    and_words,
    period_span,
)
from sendstats.report.viz import charts

SN_LABEL = "Statistical neighbours (mean, 2025 set)"
_COLS = ["series", "year", "value", "numerator", "denominator", "caution", *PROVENANCE]
#: The subtitle's second line when some of the LA's points rest on few cases.
CAUTION_NOTE = (
    f"Hollow points rest on fewer than {CAUTION_BELOW} cases ({CAUTION_MARK} in the tables): "
    "read them with caution"
)


def _series(
    rows: pl.DataFrame, name: str, value: str = "value", *, own: bool = False
) -> pl.LazyFrame:
    """Return one trend series; ``own`` marks the LA's own values that need caution.

    The verdict is the benchmarks table's ``reliability`` (the same one the tables and the
    text use), so a value marked in the summary table is drawn hollow in its chart.
    """
    caution = (
        pl.col("reliability").is_in(CAUTION_VERDICTS).fill_null(False)
        if own and "reliability" in rows.columns
        else pl.lit(False)
    )
    return (
        rows.lazy()
        .select(
            pl.lit(name).alias("series"),
            "year",
            pl.col(value).alias("value"),
            "numerator" if value == "value" else pl.lit(None, pl.Float64).alias("numerator"),
            "denominator" if value == "value" else pl.lit(None, pl.Float64).alias("denominator"),
            caution.alias("caution"),
            *PROVENANCE,
        )
        .filter(pl.col("value").is_not_null())
    )


def series_names(ctx: FigureContext) -> list[str]:
    """Return the trend series in legend order: the LA, its region, neighbours, England."""
    assert ctx.la is not None
    return [ctx.la.la_name, f"{ctx.la.region_name} (region)", SN_LABEL, "England"]


def series_roles(ctx: FigureContext) -> dict[str, str]:
    """Return each trend series' role (one fixed style per role in every chart)."""
    return dict(zip(series_names(ctx), ("la", "region", "neighbours", "england"), strict=True))


def trend_rows(ctx: FigureContext, metric_id: str) -> pl.DataFrame:
    """Return a metric's LA, region, statistical-neighbour mean and England values by year."""
    assert ctx.la is not None
    la = ctx.la_bench(metric_id)
    region = ctx.area_rows(metric_id, "Regional").filter(pl.col("area_code") == ctx.la.region_code)
    names = series_names(ctx)
    frames = [
        _series(la, names[0], own=True),
        _series(region, names[1]),
        _series(la, names[2], "sn2025_value"),
        _series(ctx.area_rows(metric_id, "National"), names[3]),
    ]
    # One query (a profile draws ten of these): the series, their runs, then the labels.
    rows = charts.with_segments(
        pl.concat([f.select(_COLS) for f in frames], how="vertical_relaxed")
    ).collect()
    period_type = get_metric(metric_id).period_type
    labels = [period_label(int(y), period_type) for y in rows["year"].to_list()]
    return rows.insert_column(len(_COLS), pl.Series("period", labels, dtype=pl.Utf8))


def _trend_recipe(metric_id: str) -> Any:
    def recipe(ctx: FigureContext) -> str:
        assert ctx.la is not None
        m = get_metric(metric_id)
        return (
            f"Metric `{metric_id}` from the metric tables: LA rows with la_code_dfe = "
            f"{ctx.la.la_code_dfe}; region rows with area_code = {ctx.la.region_code} "
            "(pooled: sum of numerators / sum of denominators); England rows (E92000001); the "
            "neighbour series is the unweighted mean of the LA's 10 May 2025 statistical "
            "neighbours' values (benchmarks table, column sn2025_value). "
            f"Arithmetic: {m.definition}"
        )

    return recipe


def _trend_alt(metric_id: str, lead: str) -> Any:
    def alt_text(ctx: FigureContext, data: pl.DataFrame) -> str:
        m = get_metric(metric_id)
        names = series_names(ctx)
        shown = [n for n in names if n in set(data["series"])]
        span = period_span(first_year(data), last_year(data), m.period_type)
        text = f"{lead} for {and_words(shown)}, {span}."
        latest: dict[str, tuple[int, float]] = {}  # each series' last (year, value)
        columns = (data[c].to_list() for c in ("series", "year", "value"))
        for series, year, value in zip(*columns, strict=True):
            if series not in latest or year > latest[series][0]:
                latest[series] = (int(year), value)
        for name in (names[0], "England"):
            if name in latest:
                year, value = latest[name]
                text += (
                    f" {name}: {format_value(value, m.unit)} in "
                    f"{period_label(year, m.period_type)}."
                )
        shaky = _caution_periods(data, names[0], m.period_type)
        if shaky:
            text += (
                f" {names[0]}'s values for {shaky} rest on fewer than {CAUTION_BELOW} cases "
                "and are drawn hollow: read them with caution."
            )
        return text

    return alt_text


def _caution_periods(data: pl.DataFrame, la_name: str, period_type: str) -> str:
    """Return the LA's periods whose values need caution, as runs in words ('' when none).

    Consecutive periods read as one run ("2016 to 2018 and 2020 to 2024"; the runs are
    :func:`charts.with_segments`' segments of the hollow points); when every value of the LA
    needs caution, "every period shown" says it in three words.
    """
    flags = [c for s, c in zip(data["series"], data["caution"], strict=True) if s == la_name]
    if not any(flags):  # most LAs: nothing to say, and no query to run
        return ""
    if len(flags) > 1 and all(flags):
        return "every period shown"
    shaky = data.filter((pl.col("series") == la_name) & pl.col("caution"))
    runs = (
        charts.with_segments(shaky.lazy().select("series", "year"))
        .group_by("segment")
        .agg(pl.col("year").min().alias("first"), pl.col("year").max().alias("last"))
        .sort("first")
        .collect()
    )
    return and_words(
        [period_span(a, b, period_type) for a, b in runs.select("first", "last").iter_rows()]
    )


def trend_figure(
    figure_id: str, metric_id: str, title: str, y_title: str, lead: str, *, y_zero: bool = False
) -> Figure:
    """Register a trend figure of one metric for the LA against its comparators."""

    def chart(ctx: FigureContext, data: pl.DataFrame) -> Any:
        names = series_names(ctx)
        # Financial years read as 2021-22 on the axis (the ``period`` column); others by year.
        x_field = "period" if get_metric(metric_id).period_type == "financial_year" else "year"
        against = f"{names[0]} against its region, statistical neighbours and England"
        subtitle: str | list[str] = [against, CAUTION_NOTE] if data["caution"].any() else against
        return charts.trend_chart(
            data.select(*dict.fromkeys(["series", "year", "segment", x_field, "value", "caution"])),
            title=title,
            subtitle=subtitle,
            caution_field="caution",
            y_title=y_title,
            alt_text=_trend_alt(metric_id, lead)(ctx, data),
            roles=series_roles(ctx),
            y_zero=y_zero,
            x_field=x_field,
            y_label_expr=(
                charts.money_label_expr(data["value"].to_list())
                if get_metric(metric_id).unit == "gbp"
                else None
            ),
        )

    return register_figure(
        Figure(
            figure_id,
            title,
            (metric_id,),
            lambda ctx: trend_rows(ctx, metric_id),
            chart,
            _trend_alt(metric_id, lead),
            _trend_recipe(metric_id),
        )
    )


EHCP_TREND = trend_figure(
    "ehcp_trend_indexed",
    "ehc_plans_index_2015",
    "EHC plans, indexed (January 2015 = 100)",
    "Index",
    "Line chart of EHC plans indexed to January 2015 = 100",
)
EHCP_RATE = trend_figure(
    "ehcp_rate_per_10k",
    "ehc_plans_per_10k_0_25",
    "EHC plans per 10,000 residents aged 0-25",
    "Per 10,000 aged 0-25",
    "Line chart of EHC plans per 10,000 residents aged 0-25",
    y_zero=True,
)
REFUSALS = trend_figure(
    "requests_refused_trend",
    "requests_refused_pct",
    "Initial requests for assessment refused (%)",
    "% of requests",
    "Line chart of the % of initial requests for an EHC needs assessment refused",
    y_zero=True,
)
TIMELINESS = trend_figure(
    "timeliness_trend",
    "plans_within_20_weeks_excl_exceptions_pct",
    "New EHC plans issued within 20 weeks, excluding exceptions (%)",
    "% of new plans",
    "Line chart of the % of new EHC plans issued within 20 weeks, excluding exceptions",
    y_zero=True,
)
HIGH_NEEDS_BALANCE = trend_figure(
    "high_needs_dsg_balance_trend",
    "dsg_balance_of_total_income_pct",
    "DSG cumulative balance as % of total DSG income (DfE dashboard, derived)",
    "% of total DSG income (below 0 = deficit)",
    "Line chart of the DSG cumulative balance as % of total DSG income, derived by the DfE "
    "SEND and AP dashboard,",
    y_zero=True,
)
HIGH_NEEDS_PER_HEAD = trend_figure(
    "high_needs_block_per_head_trend",
    "high_needs_block_per_head_2_18_gbp",
    "High-needs block per resident aged 2-18 (cash)",
    "£ per resident aged 2-18",
    "Line chart of the high-needs block allocation per resident aged 2-18, cash terms,",
    y_zero=True,
)
TRIBUNAL_TREND = trend_figure(
    "tribunal_rate_trend",
    "tribunal_appeal_rate_pct",
    "SEND Tribunal appeal rate (%)",
    "% of appealable decisions",
    "Line chart of the SEND Tribunal appeal rate (% of appealable decisions, 2018 method)",
    y_zero=True,
)


# --- primary need mix --------------------------------------------------------------------


def need_rows(ctx: FigureContext) -> pl.DataFrame:
    """Return each primary need's share of the LA's plans, England's and the neighbours' mean."""
    frames = []
    for metric_id, name in NEED_METRICS.items():  # one query for all needs (12 x 3 rows)
        r = ctx.la_bench(metric_id).lazy().filter(pl.col("value").is_not_null()).tail(1)
        for series, col in (
            (ctx.la_name, "value"),
            ("England", "england_value"),
            (SN_LABEL, "sn2025_value"),
        ):
            frames.append(
                r.select(
                    pl.lit(name).alias("category"),
                    pl.lit(series).alias("series"),
                    "year",
                    pl.col(col).alias("value"),
                    *(("numerator", "denominator") if col == "value" else ()),
                    *PROVENANCE,
                )
            )
    rows = pl.concat(frames, how="diagonal_relaxed").collect() if frames else pl.DataFrame()
    if rows.height == 0:
        return pl.DataFrame(
            schema={"category": pl.Utf8, "series": pl.Utf8, "year": pl.Int32, "value": pl.Float64}
        )
    return rows


def _need_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    mine = data.filter(pl.col("series") == ctx.la_name).sort("value", descending=True)
    top = ", ".join(
        f"{r['category']} {r['value']:.1f}%" for r in mine.head(3).iter_rows(named=True)
    )
    return (
        f"Dot plot of the primary need of EHC plans in {ctx.la_name} at January "
        f"{last_year(data)}, each need's % of all plans, against England and the "
        f"statistical neighbours' mean. Largest: {top}."
    )


register_figure(
    Figure(
        "primary_need_mix",
        "Primary need of EHC plans (%)",
        tuple(NEED_METRICS),
        need_rows,
        lambda ctx, data: charts.dot_compare_chart(
            data.select("category", "series", "value"),
            roles={ctx.la_name: "la", SN_LABEL: "neighbours", "England": "england"},
            title=f"Primary need of EHC plans, January {last_year(data)}",
            subtitle="% of all EHC plans; England pooled, neighbours an unweighted mean",
            x_title="% of EHC plans",
            alt_text=_need_alt(ctx, data),
        ),
        _need_alt,
        lambda ctx: (
            "Metrics `ehc_plans_need_<need>_pct` (DfE SEN2 2025, sen_needs_all_plans.csv, "
            "'All EHC plans' rows): number_<need> / ehc_plans x 100 for the LA "
            f"(la_code_dfe = {ctx.la.la_code_dfe if ctx.la else ''}), England's published "
            "totals, and the unweighted mean of the 10 May 2025 statistical neighbours."
        ),
    )
)


# --- tribunal funnel -----------------------------------------------------------------------

TRIBUNAL_RATE = "tribunal_appeal_rate_pct"


def funnel_rows(ctx: FigureContext, metric_id: str = TRIBUNAL_RATE) -> pl.DataFrame:
    """Return every LA's rate and denominator in the latest year, and the funnel limit lines."""
    rows = ctx.bench_rows(metric_id).filter(
        pl.col("value").is_not_null() & (pl.col("denominator") > 0)
    )
    if rows.height == 0:
        return pl.DataFrame()
    year = int(rows["year"].max())  # type: ignore[arg-type]
    rows = rows.filter(pl.col("year") == year)
    p0 = float(rows["england_value"][0]) / 100
    lo, hi = float(rows["denominator"].min()), float(rows["denominator"].max())  # type: ignore[arg-type]
    grid = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / 59) for i in range(60)]
    lines: list[dict[str, Any]] = []
    for n in grid:
        lines.append({"layer": "England", "side": "mid", "denominator": n, "value": p0 * 100})
        for z, layer in ((funnel.Z_95, "95% limits"), (funnel.Z_998, "99.8% limits")):
            low, high = funnel.proportion_limits(p0, n, z)
            lines.append({"layer": layer, "side": "low", "denominator": n, "value": low * 100})
            lines.append({"layer": layer, "side": "high", "denominator": n, "value": high * 100})
    points = rows.select(
        pl.lit("LA").alias("layer"),
        pl.lit(None, pl.Utf8).alias("side"),
        "area_name",
        "la_code_dfe",
        "year",
        "denominator",
        "value",
        "numerator",
        "funnel_position",
        *PROVENANCE,
    )
    return pl.concat([points, pl.DataFrame(lines)], how="diagonal_relaxed")


def _funnel_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    pts = data.filter(pl.col("layer") == "LA")
    eng = data.filter(pl.col("layer") == "England")["value"][0]
    year = last_year(pts)
    above = pts.filter(pl.col("funnel_position") == "above 99.8% limit").height
    below = pts.filter(pl.col("funnel_position") == "below 99.8% limit").height
    text = (
        f"Funnel plot of the SEND Tribunal appeal rate in {year} for {pts.height} LAs against "
        f"their appealable decisions, with 95% and 99.8% limits around England ({eng:.1f}%). "
        f"{above} LAs lie above and {below} below the 99.8% limits."
    )
    r = ctx.own_row(pts)
    if r is not None:
        where = (
            f"fewer than {NO_RANK_BELOW} decisions, not compared"
            if r["denominator"] < NO_RANK_BELOW
            else r["funnel_position"]
        )
        text += f" {ctx.la_name}: {r['value']:.1f}% of {r['denominator']:,.0f}, {where}."
    return text


def _funnel_chart(ctx: FigureContext, data: pl.DataFrame) -> Any:
    return charts.funnel_chart(
        data.select("layer", "side", "area_name", "denominator", "value"),
        highlight=ctx.la.la_name if ctx.la else None,
        title=f"SEND Tribunal appeal rate, {last_year(data)}: every LA",
        subtitle="Appeals / appealable decisions (2018 method); limits around England; "
        f"hollow: fewer than {NO_RANK_BELOW} decisions, not compared",
        y_title="% of appealable decisions",
        x_title="Appealable decisions (log scale)",
        alt_text=_funnel_alt(ctx, data),
        few_below=NO_RANK_BELOW,
    )


_FUNNEL_RECIPE = (
    "Metric `tribunal_appeal_rate_pct`, every LA row of the latest year (benchmarks table): "
    "value = appeals / appealable decisions x 100 against the denominator. Limits: England "
    "proportion p0 +/- z sqrt(p0 (1 - p0) / n) with z = 1.96 (95%) and 3.09 (99.8%), "
    "Spiegelhalter (2005) normal approximation, evaluated on 60 denominators spread evenly on a "
    "log scale."
)
register_figure(
    Figure(
        "tribunal_funnel",
        "SEND Tribunal appeal rate: funnel plot",
        (TRIBUNAL_RATE,),
        funnel_rows,
        _funnel_chart,
        _funnel_alt,
        lambda ctx: _FUNNEL_RECIPE,
        needs_la=False,
    )
)


# --- adults: every council with its interval ------------------------------------------------

ASCOF_1E = "ascof_1e_ld_paid_employment_pct"


def caterpillar_rows(ctx: FigureContext, metric_id: str = ASCOF_1E) -> pl.DataFrame:
    """Return every LA's latest value with its 95% interval, in rank order."""
    rows = ctx.latest_la_rows(metric_id).sort("value", descending=True)
    return rows.select(
        pl.int_range(1, pl.len() + 1).alias("position"),
        "area_name",
        "la_code_dfe",
        "year",
        "value",
        "ci95_low",
        "ci95_high",
        "numerator",
        "denominator",
        "england_value",
        "significance",
        *PROVENANCE,
    )


def _caterpillar_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    eng = data["england_value"][0]
    text = (
        f"Every council's % of adults with a learning disability in paid employment in "
        f"{period_label(int(data['year'][0]), 'financial_year')}, {data.height} councils in "
        f"order with 95% intervals, against England ({eng:.1f}%)."
    )
    r = ctx.own_row(data)
    if r is not None and r["value"] is not None:
        # No interval where the counts behind the % are not published (Isles of Scilly).
        interval = (
            f" (95% interval {r['ci95_low']:.1f} to {r['ci95_high']:.1f})"
            if r["ci95_low"] is not None and r["ci95_high"] is not None
            else " (no interval: its counts are not published)"
        )
        text += (
            f" {ctx.la_name}: {r['value']:.1f}%{interval}, {r['significance'].lower()} "
            "compared with England."
        )
    return text


register_figure(
    Figure(
        "adults_ld_employment_intervals",
        "Adults with a learning disability in paid employment",
        (ASCOF_1E,),
        caterpillar_rows,
        lambda ctx, data: charts.caterpillar_chart(
            data.select("position", "area_name", "value", "ci95_low", "ci95_high"),
            highlight=ctx.la.la_name if ctx.la else None,
            reference=float(data["england_value"][0]),
            title="Adults with a learning disability in paid employment (ASCOF 1E)",
            subtitle=f"{period_label(int(data['year'][0]), 'financial_year')}: every council "
            "with its 95% Wilson interval",
            y_title="% in paid employment",
            alt_text=_caterpillar_alt(ctx, data),
        ),
        _caterpillar_alt,
        lambda ctx: (
            "Metric `ascof_1e_ld_paid_employment_pct`, every council of the latest year: value "
            "= adults 18-64 with a learning disability in paid employment / those receiving "
            "long-term support x 100; 95% Wilson score interval from the same two counts."
        ),
        needs_la=False,
    )
)


# --- growth strip --------------------------------------------------------------------------

GROWTH = "ehc_plans_cagr_5y_pct"


def strip_references(data: pl.DataFrame) -> dict[str, float | None]:
    """Return England's value and the median LA's for a strip of every LA (same period)."""
    eng = data["england_value"].drop_nulls()
    median = data["value"].median()
    return {
        "england": float(eng[0]) if eng.len() else None,
        "median": None if median is None else float(str(median)),
    }


def growth_rows(ctx: FigureContext) -> pl.DataFrame:
    """Return every LA's five-year compound growth in EHC plans, latest year."""
    return ctx.strip_rows(GROWTH)


def _growth_title(data: pl.DataFrame) -> str:
    year = last_year(data)
    return f"Growth in EHC plans, January {year - 5} to January {year}"


def _growth_alt(ctx: FigureContext, data: pl.DataFrame) -> str:
    year = last_year(data)
    text = f"Strip of {data.height} LAs' compound annual growth in EHC plans, {year - 5} to {year}."
    r = ctx.own_row(data)
    if r is not None:
        text += f" {ctx.la_name}: {r['value']:.1f}% a year, rank {r['rank']} of {r['n_ranked']}."
    return text


register_figure(
    Figure(
        "ehcp_growth_strip",
        "Growth in EHC plans over five years, every LA",
        (GROWTH,),
        growth_rows,
        lambda ctx, data: charts.bar_rank_chart(
            data.select("area_name", "value"),
            highlight=ctx.la_name,
            title=_growth_title(data),
            subtitle="Compound annual growth, % a year; each tick is one LA",
            x_title="% a year",
            alt_text=_growth_alt(ctx, data),
            references=strip_references(data),
        ),
        _growth_alt,
        lambda ctx: (
            "Metric `ehc_plans_cagr_5y_pct`, every LA row of the latest January: ((plans now / "
            "plans five Januaries earlier)^(1/5) - 1) x 100."
        ),
        needs_la=False,
    )
)
