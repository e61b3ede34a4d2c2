"""The ``sendstats compare`` table: an LA's latest values against comparators, by theme.

Metrics are grouped by the theme whose table holds them (``data/metrics/<theme>.parquet``),
named by their titles (ids only with ``--ids``), and laid out in at most
:data:`WIDTH` columns: long titles wrap, money is shown in £m or £bn, and a value that rounds
to zero is never printed as ``-0.0``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import polars as pl

from sendstats import geography
from sendstats.benchmarking.api import group_comparator, load_benchmarks
from sendstats.core import config
from sendstats.core.numbers import format_money, period_label, shows_zero
from sendstats.geography.neighbours import ComparatorGroup
from sendstats.metrics import METRIC_TABLES
from sendstats.metrics.registry import MetricDef, all_metrics, get_metric
from sendstats.metrics.tables import load_metrics
from sendstats.report.rules import CAUTION_MARK, SMALL_NUMBERS_RULE

#: Terminal width the table must fit.
WIDTH = 100
#: Theme (metric table) -> heading, in the order shown.
THEME_LABELS: dict[str, str] = {
    "ehcp": "EHC plans: caseload, requests, timeliness",
    "needs": "EHC plans by primary need (% of plans)",
    "placements": "Where children with plans are taught (% of plans with a setting)",
    "reviews": "Annual reviews, ceased plans and personal budgets",
    "sen_support": "SEN support, plans and outcomes by SEN status (LAIT)",
    "rates": "Rates per 10,000 residents aged 0-25",
    "tribunal": "SEND Tribunal appeals",
    "high_needs": "High needs funding and DSG balances",
    "adults": "Adults with a learning disability (ASCOF)",
}
NEED_PREFIX = "EHC plans with primary need: "
#: Quartile band -> position by value, for metrics without a good direction (where a letter
#: would be read as a grade: issue 19, item 6).
POSITION = {"A": "top", "B": "upper", "C": "lower", "D": "bottom"}
SIGNIFICANCE = {
    "Better": "better",
    "Worse": "worse",
    "Higher": "higher",
    "Lower": "lower",
    "Similar": "similar",
}


def _signed(text: str, value: float) -> str:
    """Return ``text`` with the sign of ``value`` as displayed: never ``-0.0``."""
    if shows_zero(text):  # rounds to zero at the shown precision
        return "±" + text
    return ("+" if value > 0 else "-") + text


def format_value(value: float | None, unit: str) -> str:
    """Return a value for the table: compact money, % and rates to 1 dp, no ``-0.0``."""
    if value is None:
        return "-"
    if unit == "gbp":
        text = format_money(abs(value))
    elif unit == "count":
        text = f"{abs(value):,.0f}"
    elif unit == "pct":
        text = f"{abs(value):.1f}%"
    else:
        text = f"{abs(value):.1f}"
    if value < 0 and not shows_zero(text):
        return "-" + text
    return text


def format_change(value: float | None, unit: str) -> str:
    """Return a change with its sign (percentage points for %), ``±0.0`` when it rounds to 0."""
    if value is None:
        return ""
    size = abs(value)
    if unit == "pct":
        return _signed(f"{size:.1f} pp", value)
    if unit == "gbp":
        return _signed(format_money(size), value)
    if unit == "count":
        return _signed(f"{size:,.0f}", value)
    return _signed(f"{size:.1f}", value)


def _short_period(year: int, period_type: str) -> str:
    label = period_label(year, period_type)
    return label.replace("January ", "Jan ")


def metric_themes() -> dict[str, str]:
    """Return metric id -> theme, from the metric tables the build wrote (needs apart)."""
    from sendstats.metrics.needs import NEED_METRICS

    themes: dict[str, str] = {}
    for table in METRIC_TABLES:
        path = config.metrics_dir() / f"{table}.parquet"
        if path.is_file():
            ids = pl.read_parquet(path, columns=["metric_id"])["metric_id"].unique()
            themes.update(dict.fromkeys(ids.to_list(), table))
    themes.update(dict.fromkeys(NEED_METRICS, "needs"))
    return themes


def band_cell(band: str | None, polarity: str) -> str:
    """Return the band as shown: A-D where the metric has a good direction, else its position.

    Without a direction 'A' would read as a grade (Kent refusing 55% of requests is not
    'A'), so the quarter is named by value: top, upper, lower, bottom.
    """
    if not band:
        return ""
    return POSITION.get(band, band) if polarity == "neither" else band


def _label(m: MetricDef, ids: bool) -> str:
    return m.id if ids else m.title


def compare_table(
    la: str,
    metric_ids: Sequence[str] | None = None,
    sn_set: str = "2025",
    group: ComparatorGroup | None = None,
    *,
    ids: bool = False,
) -> str:
    """Return the comparison as text at most :data:`WIDTH` columns wide, grouped by theme."""
    resolved = geography.resolve_la(la)
    wanted = list(metric_ids) if metric_ids else [m.id for m in all_metrics()]
    for mid in wanted:
        get_metric(mid)  # an unknown id fails early, listing the known ones
    rows = load_benchmarks(wanted, resolved.la_code_dfe).filter(pl.col("value").is_not_null())
    la_ = resolved
    head = f"{la_.la_name} (DfE {la_.la_code_dfe}, {la_.la_code}), {la_.region_name}"
    if rows.height == 0:
        return f"{head}\n\nNo benchmark values for {resolved.la_name} in the metrics asked for."
    latest = rows.sort("year").group_by("metric_id", maintain_order=True).last()
    metrics = load_metrics() if group is not None else None
    themes = metric_themes()
    # The heading names the LA; a long name would widen its column past the values' width.
    la_column = resolved.la_name if len(resolved.la_name) <= 8 else "LA"
    columns = ["Period", la_column, "England", "Region", f"SN {sn_set}"]
    if group is not None:
        columns.append("Group")
    columns += ["Rank", "Band", "vs Eng.", "Change"]
    by_theme: dict[str, list[tuple[str, list[str]]]] = {}
    for r in latest.iter_rows(named=True):
        m = get_metric(r["metric_id"])
        cells = [
            _short_period(int(r["year"]), r["period_type"]),
            format_value(r["value"], m.unit)
            + (CAUTION_MARK if r["reliability"] == "caution" else ""),
            format_value(r["england_value"], m.unit),
            format_value(r["region_value"], m.unit),
            format_value(r[f"sn{sn_set}_value"], m.unit),
        ]
        if group is not None and metrics is not None:
            cells.append(_group_value(group, m, int(r["year"]), metrics))
        change = format_change(r["change_prev"], m.unit)
        cells += [
            f"{r['rank']}/{r['n_ranked']}" if r["rank"] else "",
            band_cell(r["band"], m.polarity),
            SIGNIFICANCE.get(r["significance"] or "", ""),
            change + ("*" if change and r["change_prev_spans_break"] else ""),
        ]
        theme = themes.get(m.id, "other")
        label = _label(m, ids)
        if theme == "needs" and not ids:  # the heading says it
            label = label.removeprefix(NEED_PREFIX).capitalize()
        by_theme.setdefault(theme, []).append((label, cells))
    widths = [
        max(len(col), *(len(c[i]) for rows_ in by_theme.values() for _, c in rows_))
        for i, col in enumerate(columns)
    ]
    label_width = max(20, WIDTH - 2 - sum(w + 1 for w in widths))
    lines = [head, ""]
    header = " " * (label_width + 2) + " ".join(
        c.rjust(w) for c, w in zip(columns, widths, strict=True)
    )
    order = [*THEME_LABELS, "other"]
    for theme in sorted(by_theme, key=order.index):
        lines += [THEME_LABELS.get(theme, "Other metrics"), header]
        for label, cells in sorted(by_theme[theme]):
            wrapped = textwrap.wrap(label, label_width - 1) or [""]
            values = " ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
            lines.append(f"  {wrapped[0].ljust(label_width)}{values}")
            lines += [f"  {more}" for more in wrapped[1:]]
        lines.append("")
    lines += textwrap.wrap(_legend(sn_set, group), WIDTH)
    return "\n".join(line.rstrip() for line in lines)


def _group_value(group: ComparatorGroup, m: MetricDef, year: int, metrics: pl.DataFrame) -> str:
    try:
        c = group_comparator(group, m, year, None, metrics)
    except ValueError:
        return "n/a"
    return format_value(c.value, m.unit) if c.value is not None else "-"


def _legend(sn_set: str, group: ComparatorGroup | None) -> str:
    text = (
        "Latest period held for each metric. England and Region: pooled (sum of numerators / "
        f"sum of denominators), totals for counts. SN {sn_set}: unweighted mean of the 10 "
        f"statistical neighbours ({sn_set} set). Rank: 1 = highest value. Band: national "
        "quartile, A = best quarter to D = worst where the metric has a good direction, else "
        "top, upper, lower or bottom quarter by value. "
        "vs Eng.: 95% interval against England (blank for counts and growth). Change: on the "
        "previous period; * = across a series break. Money in £m or £bn. " + SMALL_NUMBERS_RULE
    )
    if group is not None:
        members = ", ".join(geography.get_la(c).la_name for c in group.members or ())
        text += f" Group: {members} ({group.rule})."
    return text
