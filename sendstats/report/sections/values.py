"""Values by year: for each theme, the LA, its neighbours' average, its region and England.

What LAIT users expect beside every chart: the numbers themselves, by year. In HTML each
theme's tables sit in a collapsed block under the theme; in the PDF they form an appendix
(raw typst), so the printed profile keeps its narrative short and its numbers complete.
"""

from __future__ import annotations

import html

import polars as pl

from sendstats.core.numbers import format_money, format_value, period_label
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import year_values
from sendstats.report.figures.la import SN_LABEL
from sendstats.report.profile import LaContext

#: The metrics of each theme's values-by-year tables, in the order the profile discusses them.
THEMES: dict[str, tuple[str, ...]] = {
    "EHC plans": (
        "ehc_plans_count",
        "ehc_plans_per_10k_0_25",
        "requests_refused_pct",
        "plans_within_20_weeks_excl_exceptions_pct",
    ),
    "Where children with plans are taught, and support without a plan": (
        "plans_mainstream_pct",
        "plans_state_special_pct",
        "plans_independent_special_pct",
        "sen_support_pupils_pct",
        "ehc_plan_pupils_pct",
        "attainment8_gap_ehc_plan_score",
        "review_meetings_held_pct",
    ),
    "High needs and the Dedicated Schools Grant": (
        "high_needs_block_gbp",
        "high_needs_block_per_head_2_18_gbp",
        "dsg_balance_of_total_income_pct",
    ),
    "SEND Tribunal appeals": ("tribunal_appeals_count", "tribunal_appeal_rate_pct"),
    "Adults with a learning disability in paid work": ("ascof_1e_ld_paid_employment_pct",),
}

#: At most this many of the latest periods per table, so a table fits an A4 page's width.
MAX_PERIODS = 8


def values_table(ctx: LaContext, metric_id: str) -> tuple[list[str], list[list[str]]]:
    """Return (header, rows) of one metric by year: LA, neighbours, region and England.

    Every cell is text as shown; a period with no value is blank.
    """
    m = get_metric(metric_id)
    la = ctx.la_metric(metric_id)
    bench = ctx.figure_context().la_bench(metric_id)
    region = ctx.region_metric(metric_id)
    england = ctx.england_metric(metric_id)
    years = sorted({y for y, v in year_values(england) if v is not None})[-MAX_PERIODS:]
    if not years:
        return [], []

    def line(name: str, frame: pl.DataFrame, column: str = "value") -> list[str]:
        by_year = {y: v for y, v in year_values(frame, column) if v is not None}
        cells = [_cell(by_year.get(y), m.unit) for y in years]
        return [name, *cells]

    header = [m.title, *(period_label(int(y), m.period_type) for y in years)]
    rows = [
        line(ctx.la.la_name, la),
        line(SN_LABEL, bench, "sn2025_value") if "sn2025_value" in bench.columns else [],
        line(ctx.la.region_name, region),
        line("England", england),
    ]
    return header, [r for r in rows if r]


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "gbp":
        return format_money(float(value))
    return format_value(float(value), unit).replace(" per 10,000", "")


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(
        f'<th scope="col"{"" if i == 0 else " class=num"}>{html.escape(h)}</th>'
        for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + f'<th scope="row">{html.escape(r[0])}</th>'
        + "".join(f'<td class="num">{html.escape(c)}</td>' for c in r[1:])
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def values_by_year_html(ctx: LaContext, theme: str) -> str:
    """Return one theme's values-by-year tables in a collapsed block (raw HTML, markdown)."""
    tables = [values_table(ctx, mid) for mid in THEMES[theme]]
    inner = "".join(_html_table(h, r) for h, r in tables if h)
    if not inner:
        return ""
    return (
        '```{=html}\n<details class="values-by-year"><summary>Values by year: '
        f"{html.escape(ctx.la.la_name)}, its neighbours, region and England</summary>"
        f"{inner}</details>\n```\n"
    )


def _typst_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _typst_table(header: list[str], rows: list[list[str]]) -> str:
    """Return a typst table: text left, numbers right, the header in bold, unbreakable."""
    n = len(header)
    cells = [f"[#strong({_typst_text(h)})]" for h in header]
    cells += [f"[#{_typst_text(c)}]" for r in rows for c in r]
    align = "(left, " + ", ".join(["right"] * (n - 1)) + ")"
    columns = "(2.6fr, " + ", ".join(["1fr"] * (n - 1)) + ")"
    return (
        f"#block(breakable: false, below: 1.2em)[#table(columns: {columns}, align: {align}, "
        + ", ".join(cells)
        + ")]\n"
    )


def appendix_typst(ctx: LaContext) -> str:
    """Return the PDF appendix (raw typst, markdown): every theme's values by year."""
    parts = ["#pagebreak()", "#heading(level: 1)[Appendix: values by year]"]
    for theme, metric_ids in THEMES.items():
        tables = [values_table(ctx, mid) for mid in metric_ids]
        shown = [_typst_table(h, r) for h, r in tables if h]
        if shown:
            parts.append(f"#heading(level: 2)[#{_typst_text(theme)}]")
            parts += shown
    return "```{=typst}\n" + "\n".join(parts) + "\n```\n"
