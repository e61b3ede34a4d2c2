"""What the Quarto reports call: resolve the LA, load its numbers, and show each section.

The ``.qmd`` files hold no logic beyond calling these functions. Each ``show_*`` function
displays one chart or table with its source note and alt text, and, when the environment names
a figure folder (``SENDSTATS_FIGURE_DIR``), writes the data behind it as CSV there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from sendstats import __version__, geography
from sendstats.acquire import manifest
from sendstats.core.numbers import format_change, format_value, period_label
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import (
    FigureContext,
    export_csv,
    figure_dir,
    get_figure,
    load_figure_context,
    write_csv,
)
from sendstats.report.provenance import source_note
from sendstats.report.viz import charts, tables, theme
from sendstats.report.viz import display as display_bundles

HEADLINE_METRICS = (
    "ehc_plans_count",
    "ehc_plans_change_pct",
    "ehc_plans_cagr_5y_pct",
    "ehc_plans_index_2015",
    "new_ehc_plans_count",
    "requests_count",
    "requests_refused_pct",
    "plans_within_20_weeks_excl_exceptions_pct",
    "plans_within_20_weeks_incl_exceptions_pct",
    "ehc_plans_per_10k_0_25",
    "tribunal_appeals_count",
    "tribunal_appeal_rate_pct",
    "tribunal_appeal_rate_annual_reviews_pct",
    "ascof_1e_ld_paid_employment_pct",
    "high_needs_block_per_head_2_18_gbp",
    "high_needs_spend_per_head_2_18_gbp",
    "dsg_balance_of_total_income_pct",
)


#: Below this many cases a percentage is called out as unstable in the narrative.
SMALL_DENOMINATOR = 30


@dataclass(frozen=True)
class LaContext:
    """Everything one LA profile shows: the LA, its region and England, and all LAs' values."""

    la: geography.LocalAuthority
    metrics: pl.DataFrame  # every metric row for England, the LA's region and all LAs
    bench: pl.DataFrame = field(default_factory=pl.DataFrame)  # benchmark rows, every LA

    def figure_context(self) -> FigureContext:
        """Return the context registered figures draw from."""
        return FigureContext(self.la, self.metrics, self.bench)

    def bench_row(self, metric_id: str, year: object | None = None) -> dict[str, Any] | None:
        """Return the LA's benchmark row of a metric (latest with a value, or of ``year``)."""
        rows = self.bench.filter(
            (pl.col("metric_id") == metric_id)
            & (pl.col("la_code_dfe") == self.la.la_code_dfe)
            & pl.col("value").is_not_null()
        )
        if year is not None:
            rows = rows.filter(pl.col("year") == year)
        return rows.sort("year").row(-1, named=True) if rows.height else None

    @property
    def la_rows(self) -> pl.DataFrame:
        """Metric rows of the LA itself."""
        return self.metrics.filter(pl.col("la_code_dfe") == self.la.la_code_dfe)

    @property
    def region_rows(self) -> pl.DataFrame:
        """Metric rows of the LA's region (published regional rows)."""
        return self.metrics.filter(
            (pl.col("geographic_level") == "Regional")
            & (pl.col("area_code") == self.la.region_code)
        )

    @property
    def england_rows(self) -> pl.DataFrame:
        """Metric rows for England."""
        return self.metrics.filter(pl.col("geographic_level") == "National")


def load_la_context(la: str | int) -> LaContext:
    """Resolve ``la`` (name, GSS or 3-digit code) and load the metrics the profile needs.

    ``quarto render ... -P la:202`` passes the code as a YAML int, hence ``str``.
    """
    fctx = load_figure_context(geography.resolve_la(str(la)))
    assert fctx.la is not None
    return LaContext(la=fctx.la, metrics=fctx.metrics, bench=fctx.bench)


def load_england_context() -> FigureContext:
    """Load what the England overview draws from: every metric and benchmark row, no LA."""
    return load_figure_context(None)


def latest(rows: pl.DataFrame, metric_id: str) -> dict[str, Any] | None:
    """Return the latest non-null row of a metric, or None."""
    sub = rows.filter((pl.col("metric_id") == metric_id) & pl.col("value").is_not_null())
    if sub.height == 0:
        return None
    return sub.sort("year").row(-1, named=True)


def narrative(ctx: LaContext) -> str:
    """Return a short factual paragraph (markdown) on the LA's EHC plans: values, rank, growth."""
    la = ctx.la
    count = latest(ctx.la_rows, "ehc_plans_count")
    if count is None:
        return f"No EHC plan figures are published for {la.la_name}."
    year = int(str(count["year"]))
    text = [
        f"In January {year}, {la.la_name} maintained "
        f"**{format_value(_f(count['value']), 'count')}** "
        f"EHC plans, ranked {count['rank']} of {count['n_ranked']} LAs (1 = most)."
    ]
    change = latest(ctx.la_rows, "ehc_plans_change_pct")
    eng_change = latest(ctx.england_rows, "ehc_plans_change_pct")
    if change is not None and eng_change is not None and change["year"] == year:
        text.append(
            f"That is a change of {format_value(_f(change['value']), 'pct')} on January {year - 1} "
            f"(England: {format_value(_f(eng_change['value']), 'pct')})."
        )
    cagr = latest(ctx.la_rows, "ehc_plans_cagr_5y_pct")
    eng_cagr = latest(ctx.england_rows, "ehc_plans_cagr_5y_pct")
    if cagr is not None and eng_cagr is not None:
        text.append(
            f"Over the five years to January {cagr['year']} plans grew by "
            f"{format_value(_f(cagr['value']), 'pct')} a year, compound "
            f"(England: {format_value(_f(eng_cagr['value']), 'pct')}; rank {cagr['rank']} of "
            f"{cagr['n_ranked']})."
        )
        text.append(benchmark_sentence(ctx, "ehc_plans_cagr_5y_pct", cagr["year"]))
    rate = ctx.bench_row("ehc_plans_per_10k_0_25")
    if rate is not None:
        text.append(
            f"Per 10,000 residents aged 0-25, {la.la_name} maintained "
            f"{format_value(rate['value'], 'per_10k')} plans in January {rate['year']} "
            f"(England {format_value(rate['england_value'], 'per_10k')}; rank {rate['rank']} of "
            f"{rate['n_ranked']}; the latest year with a held population estimate). "
            + benchmark_sentence(ctx, "ehc_plans_per_10k_0_25", rate["year"])
        )
    refused = ctx.bench_row("requests_refused_pct")
    if refused is not None:
        text.append(
            f"In {refused['year']}, {format_value(refused['value'], 'pct')} of initial requests "
            f"for an assessment were refused ({format_value(refused['numerator'], 'count')} of "
            f"{format_value(refused['denominator'], 'count')}; England "
            f"{format_value(refused['england_value'], 'pct')}). "
            + benchmark_sentence(ctx, "requests_refused_pct", refused["year"])
        )
    timely = latest(ctx.la_rows, "plans_within_20_weeks_excl_exceptions_pct")
    eng_timely = latest(ctx.england_rows, "plans_within_20_weeks_excl_exceptions_pct")
    if timely is not None and eng_timely is not None:
        text.append(
            f"In {timely['year']}, {format_value(_f(timely['value']), 'pct')} of new plans "
            f"({format_value(_f(timely['numerator']), 'count')} of "
            f"{format_value(_f(timely['denominator']), 'count')}) were issued within 20 weeks, "
            f"excluding exceptions (England: {format_value(_f(eng_timely['value']), 'pct')})."
        )
        text.append(
            benchmark_sentence(ctx, "plans_within_20_weeks_excl_exceptions_pct", timely["year"])
        )
        if (_f(timely["denominator"]) or 0) < SMALL_DENOMINATOR:
            text.append(
                f"That percentage rests on fewer than {SMALL_DENOMINATOR} plans, so one plan "
                "more or less moves it a lot: treat it with caution."
            )
    return " ".join(text)


def _f(value: object) -> float | None:
    return None if value is None else float(str(value))


TRENDS = {"ehcp": "ehcp_trend_indexed", "tribunal": "tribunal_rate_trend"}


def show_figure(ctx: LaContext | FigureContext, figure_id: str) -> None:
    """Display a registered figure with alt text, its recipe, source note and CSV link.

    The CSV (the rows plotted, with the release, file and sha256 of each) is written to the
    folder named by ``SENDSTATS_FIGURE_DIR`` when it is set, as the renderers do.
    """
    fctx = ctx.figure_context() if isinstance(ctx, LaContext) else ctx
    fig = get_figure(figure_id)
    data = fig.data(fctx)
    if data.height == 0 or "value" not in data.columns or data["value"].is_null().all():
        _show_markdown(f"*No figures are published for: {fig.title}.*")
        return
    theme.enable()
    alt_text = fig.alt_text(fctx, data)
    _display_chart(fig.chart(fctx, data), alt_text)
    folder = figure_dir()
    csv = export_csv(fig, fctx, data, folder) if folder else None
    note = source_note(data)
    link = f" Data: [{csv.name}](figures/{csv.name})." if csv else ""
    _show_markdown(f"*{fig.title}.* {fig.recipe(fctx)} {note}{link}")


def _show(obj: object, *, raw: bool = False) -> None:
    """Display one output in the running notebook (HTML, SVG or markdown)."""
    from IPython.display import display

    if hasattr(obj, "as_raw_html"):  # a great-tables table: raw HTML (viz.display says why)
        obj, raw = display_bundles.table_bundle(obj.as_raw_html()), True
    display(obj, raw=raw)  # type: ignore[no-untyped-call]


def _show_markdown(text: str) -> None:
    from IPython.display import Markdown

    _show(Markdown(text))  # type: ignore[no-untyped-call]


def _display_chart(chart: Any, alt_text: str) -> None:
    """Show a chart as inline SVG with its own alt text (no JavaScript; HTML and PDF alike)."""
    _show(display_bundles.chart_bundle(charts.to_svg(chart, alt_text), alt_text), raw=True)


def _interval(row: dict[str, Any], unit: str) -> str:
    low, high = row.get("ci95_low"), row.get("ci95_high")
    if low is None or high is None:
        return ""
    return f"{format_value(float(low), unit)} to {format_value(float(high), unit)}"


def summary_rows(ctx: LaContext, metric_ids: Sequence[str] = HEADLINE_METRICS) -> pl.DataFrame:
    """Return the summary table's rows: latest value, band, rank, comparators, significance.

    Every cell is preformatted text, so the table shows exactly what the narratives say.
    """
    out = []
    for mid in metric_ids:
        metric = get_metric(mid)
        row = ctx.bench_row(mid)
        if row is None:
            continue
        change = (
            format_change(row["change_prev"], metric.unit) if row["change_prev"] is not None else ""
        )
        if row["change_prev_spans_break"]:
            change += " (series break)"
        out.append(
            {
                "Metric": metric.title,
                "Period": period_label(int(row["year"]), str(row["period_type"])),
                "LA": format_value(row["value"], metric.unit),
                "95% interval": _interval(row, metric.unit),
                "Band": row["band"] or "",
                "Rank": f"{row['rank']} of {row['n_ranked']}" if row["rank"] else "",
                "vs England": row["significance"],
                "Neighbours": format_value(row["sn2025_value"], metric.unit),
                "Region": format_value(row["region_value"], metric.unit),
                "England": format_value(row["england_value"], metric.unit),
                "Change": change,
                "metric_id": mid,
            }
        )
    return pl.DataFrame(out)


def show_summary_table(ctx: LaContext) -> None:
    """Display the one-screen summary of headline metrics (great-tables) and export it.

    The page shows eight columns so it fits an A4 page; the CSV beside it also has the region
    and the change on the previous period.
    """
    rows = summary_rows(ctx)
    used = ctx.bench.filter(
        pl.col("metric_id").is_in(list(HEADLINE_METRICS))
        & (pl.col("la_code_dfe") == ctx.la.la_code_dfe)
    )
    folder = figure_dir()
    if folder:
        write_csv(rows, folder / f"{ctx.la.la_code_dfe}__summary_table.csv")
    shown = rows.select(
        "Metric",
        "Period",
        pl.when(pl.col("95% interval") != "")
        .then(pl.col("LA") + pl.lit(" (") + pl.col("95% interval") + pl.lit(")"))
        .otherwise(pl.col("LA"))
        .alias("LA (95% interval)"),
        "Band",
        "Rank",
        "vs England",
        "Neighbours",
        "England",
    )
    _show(
        tables.metrics_summary_table(
            shown,
            title=f"{ctx.la.la_name} at a glance",
            source_note=source_note(used),
            legend=SUMMARY_LEGEND,
        )
    )


SUMMARY_LEGEND = (
    "Band: LAIT quartile band among all LAs (A = highest quarter; for a measure where low is "
    "good, A = lowest). Rank: 1 = highest value. vs England: the LA's 95% interval against the "
    "England value (Better/Worse where the measure has a direction, Higher/Lower where it has "
    "none; counts and growth are not compared). Neighbours: unweighted mean of the 10 DfE "
    "statistical neighbours (May 2025 set). England: pooled (sum of numerators / sum of "
    "denominators). The CSV of this table adds the region and the change on the previous period."
)


def benchmark_sentence(ctx: LaContext, metric_id: str, year: object | None = None) -> str:
    """Return one sentence placing the LA's value: band, neighbours, interval and England."""
    row = ctx.bench_row(metric_id, year)
    if row is None:
        return ""
    m = get_metric(metric_id)
    parts = [f"Quartile band {row['band']}" if row["band"] else ""]
    if row["sn2025_value"] is not None:
        parts.append(
            f"its 10 statistical neighbours average {format_value(row['sn2025_value'], m.unit)} "
            f"(unweighted mean, {row['sn2025_n']} with a value)"
        )
    sig = row["significance"]
    if sig != "Not compared" and row["ci95_low"] is not None:
        verdict = {
            "Similar": "not distinguishable from England",
            "Higher": "higher than England",
            "Lower": "lower than England",
            "Better": "better than England",
            "Worse": "worse than England",
        }[sig]
        parts.append(f"the 95% interval {_interval(row, m.unit)} is {verdict}")
    text = "; ".join(p for p in parts if p)
    return f"{text}." if text else ""


def footer() -> str:
    """Return the report footer: sendstats version, commit and licence line (markdown)."""
    commit = manifest.git_commit() or "unknown commit"
    return (
        f"Made with sendstats {__version__} ({commit[:12]}). Contains public sector information "
        "licensed under the Open Government Licence v3.0."
    )


def title_block(ctx: LaContext) -> str:
    """Return a profile's opening line (markdown): the LA, its codes, region, latest data."""
    la = ctx.la
    count = latest(ctx.la_rows, "ehc_plans_count")
    when = f"Latest EHC plan figures: January {count['year']}." if count else ""
    return (
        f"**{la.la_name}** (GSS {la.la_code}, DfE code {la.la_code_dfe}), {la.region_name}. {when}"
    )


def caveats(ctx: LaContext) -> str:
    """Return the caveats box (markdown): each series break or caveat once, with its metrics."""
    by_text: dict[str, list[str]] = {}
    for mid in HEADLINE_METRICS:
        m = get_metric(mid)
        for text in (*m.series_breaks, *m.caveats):
            by_text.setdefault(text, []).append(m.title)
    lines = [f"- {text} ({'; '.join(titles)})" for text, titles in by_text.items()]
    notes = ctx.la_rows.filter(pl.col("note").is_not_null())["note"].unique().sort().to_list()
    mine = ctx.bench.filter(
        (pl.col("la_code_dfe") == ctx.la.la_code_dfe)
        & pl.col("metric_id").is_in(list(HEADLINE_METRICS))
    )
    for text in mine["change_note"].drop_nulls().unique().sort().to_list():
        lines.append(f"- Change figures: {text} (flagged, not hidden).")
    for mid, text in (
        mine.filter(pl.col("funnel_note").is_not_null())
        .group_by("metric_id")
        .agg(pl.col("funnel_note").last())
        .sort("metric_id")
        .iter_rows()
    ):
        lines.append(f"- {get_metric(mid).title}: {text}")
    lines += [f"- {n[0].upper()}{n[1:]}." for n in notes]
    return "::: {.callout-note}\n" + "\n".join(lines) + "\n:::\n"


def tribunal_narrative(ctx: LaContext) -> str:
    """Return the tribunal paragraph (markdown): appeals, rate by method, rank, comparators."""
    la = ctx.la
    rate = latest(ctx.la_rows, "tribunal_appeal_rate_pct")
    if rate is None:
        return f"No SEND Tribunal appeal rates are published for {la.la_name}."
    year = rate["year"]
    eng = row_for(ctx.england_rows, "tribunal_appeal_rate_pct", year)
    reg = row_for(ctx.region_rows, "tribunal_appeal_rate_pct", year)
    text = [
        f"In {year}, {format_value(_f(rate['numerator']), 'count')} SEND Tribunal appeals were "
        f"registered against {la.la_name}: {format_value(_f(rate['value']), 'pct')} of "
        f"{format_value(_f(rate['denominator']), 'count')} appealable decisions "
        f"(95% interval {_interval(rate, 'pct')}; rank {rate['rank']} of {rate['n_ranked']}, "
        "1 = highest rate)."
    ]
    if eng is not None and reg is not None:
        text.append(
            f"England: {format_value(_f(eng['value']), 'pct')}; {la.region_name}, pooled: "
            f"{format_value(_f(reg['value']), 'pct')}."
        )
    text.append(benchmark_sentence(ctx, "tribunal_appeal_rate_pct", year))
    new = latest(ctx.la_rows, "tribunal_appeal_rate_annual_reviews_pct")
    if new is not None:
        eng_new = row_for(ctx.england_rows, "tribunal_appeal_rate_annual_reviews_pct", new["year"])
        text.append(
            f"Counting annual reviews as appealable decisions (the method published from 2024), "
            f"the rate in {new['year']} was {format_value(_f(new['value']), 'pct')}"
            + (f" (England: {format_value(_f(eng_new['value']), 'pct')})." if eng_new else ".")
        )
    return " ".join(text)


def adults_narrative(ctx: LaContext) -> str:
    """Return the adult outcomes paragraph (markdown): ASCOF 1E with interval and comparators."""
    la = ctx.la
    row = latest(ctx.la_rows, "ascof_1e_ld_paid_employment_pct")
    if row is None:
        return f"No ASCOF 1E figure is published for {la.la_name}."
    year = int(row["year"])
    eng = row_for(ctx.england_rows, "ascof_1e_ld_paid_employment_pct", year)
    text = [
        f"In {period_label(year, 'financial_year')}, {format_value(_f(row['value']), 'pct')} "
        f"of adults aged 18-64 with a learning disability supported by {la.la_name} were in "
        "paid employment "
        f"({format_value(_f(row['numerator']), 'count')} of "
        f"{format_value(_f(row['denominator']), 'count')}; 95% interval "
        f"{_interval(row, 'pct') or 'not available'}; rank {row['rank']} of {row['n_ranked']})."
    ]
    if eng is not None:
        text.append(f"England: {format_value(_f(eng['value']), 'pct')}.")
    text.append(benchmark_sentence(ctx, "ascof_1e_ld_paid_employment_pct", year))
    if row["note"]:
        text.append(f"Caveat: {row['note']}")
    return " ".join(text)


def row_for(rows: pl.DataFrame, metric_id: str, year: object) -> dict[str, Any] | None:
    """Return the row of a metric in one period, or None."""
    sub = rows.filter((pl.col("metric_id") == metric_id) & (pl.col("year") == year))
    return sub.row(0, named=True) if sub.height else None
