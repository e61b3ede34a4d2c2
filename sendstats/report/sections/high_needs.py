"""The LA profile's high needs and Dedicated Schools Grant (DSG) section: paragraph and figure.

:func:`high_needs_narrative` states the LA's latest high-needs block, the block per resident aged
2-18 and high-needs spend per resident against England and the region, and the DSG balance as a
% of total DSG income (derived by the DfE dashboard) with its rank, England and direction over
the years. :func:`show_high_needs_trend` draws that balance and the block per head for the LA
against its region, statistical neighbours and England (registered figures).
Both read the ``high_needs`` metric table through :class:`sendstats.report.profile.LaContext`.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import polars as pl

from sendstats.acquire import catalog
from sendstats.core import vocab
from sendstats.core.numbers import format_value, period_label
from sendstats.metrics import high_needs as hn
from sendstats.report import profile as report
from sendstats.report.profile import LaContext


def _fy(year: object) -> str:
    return period_label(int(str(year)), "financial_year")


def _money(value: object) -> str:
    v = float(str(value))
    return f"£{v / 1e6:,.1f} million" if abs(v) >= 1e6 else f"£{v:,.0f}"


def _per_head(value: object) -> str:
    return format_value(float(str(value)), "gbp")


def _pct2(value: object) -> str:
    return f"{float(str(value)):.2f}%"


def _rows(rows: pl.DataFrame, metric_id: str) -> list[dict[str, Any]]:
    sub = rows.filter((pl.col("metric_id") == metric_id) & pl.col("value").is_not_null())
    return sub.sort("year").to_dicts()


def _vintage(row: dict[str, Any]) -> str:
    release = str(row["release"])
    if release == vocab.COMPILATION_RELEASE:
        return "DfE compilation of the ESFA allocation summaries"
    published = catalog.get_source(vocab.HIGH_NEEDS_SOURCE_ID).release(release).date_published
    return f"ESFA allocations published {published.day} {published:%B %Y}"


def _direction(values: list[float]) -> str | None:
    """'rose' / 'fell' when every step goes the same way, else None."""
    steps = [b - a for a, b in pairwise(values)]
    if steps and all(s > 0 for s in steps):
        return "rose"
    if steps and all(s < 0 for s in steps):
        return "fell"
    return None


def _block_sentences(ctx: LaContext) -> list[str]:
    la = ctx.la
    series = _rows(ctx.la_rows, hn.HNB)
    if not series:
        why = (
            " (City of London and the Isles of Scilly are funded differently and are not in them)"
            if la.la_code_dfe in vocab.DSG_EXCLUDED_LAS
            else ""
        )
        return [f"The DSG allocation files hold no high-needs block for {la.la_name}{why}."]
    last = series[-1]
    text = [
        f"In {_fy(last['year'])}, {la.la_name} was allocated **{_money(last['value'])}** through "
        "the high-needs block of the Dedicated Schools Grant, before academy recoupment "
        f"({_vintage(last)}; rank {last['rank']} of {last['n_ranked']} LAs, 1 = largest)."
    ]
    if len(series) > 1:
        first = series[0]
        eng_first = report.row_for(ctx.england_rows, hn.HNB, first["year"])
        eng_last = report.row_for(ctx.england_rows, hn.HNB, last["year"])
        change = (float(last["value"]) / float(first["value"]) - 1) * 100
        verb = _direction([float(r["value"]) for r in series])
        how = f"{verb} in every year" if verb else "changed"
        sentence = (
            f"The block {how} from {_money(first['value'])} in {_fy(first['year'])}: "
            f"{change:+.1f}% in cash terms"
        )
        if eng_first and eng_last:
            eng = (float(eng_last["value"]) / float(eng_first["value"]) - 1) * 100
            sentence += f" (England {eng:+.1f}%)"
        text.append(sentence + ".")
    return text


def _per_head_sentences(ctx: LaContext) -> list[str]:
    la = ctx.la
    text = []
    for metric_id, what in (
        (hn.HNB_PER_HEAD, "The block came to"),
        (hn.SPEND_PER_HEAD, "High-needs spending (s251 outturn, FBIT's definition) came to"),
    ):
        row = report.latest(ctx.la_rows, metric_id)
        if row is None:
            continue
        eng = report.row_for(ctx.england_rows, metric_id, row["year"])
        reg = report.row_for(ctx.region_rows, metric_id, row["year"])
        comparators = [
            f"England {_per_head(eng['value'])}" if eng else None,
            f"{la.region_name} {_per_head(reg['value'])}" if reg else None,
        ]
        shown = "; ".join(c for c in comparators if c)
        text.append(
            f"{what} {_per_head(row['value'])} per resident aged 2-18 in {_fy(row['year'])} "
            f"({shown}, pooled over their LAs; rank {row['rank']} of {row['n_ranked']}, "
            "1 = highest)."
        )
        block = report.latest(ctx.la_rows, hn.HNB)
        if metric_id == hn.HNB_PER_HEAD and block and block["year"] > row["year"]:
            text.append(
                f"Per-head figures stop at {_fy(row['year'])}: the latest population estimate "
                f"held is mid-{row['year']}."
            )
        if metric_id == hn.SPEND_PER_HEAD:
            text.append(
                "That spending figure comes from a secondary extract of the DfE high needs "
                "benchmarking tool, for that one year."
            )
    return text


def _balance_sentences(ctx: LaContext) -> list[str]:
    la = ctx.la
    series = _rows(ctx.la_rows, hn.BALANCE_PCT)
    if not series:
        return [f"No DSG balance figure is available for {la.la_name}."]
    last = series[-1]
    value = float(last["value"])
    state = "a deficit" if value < 0 else ("a surplus" if value > 0 else "nil")
    eng = report.row_for(ctx.england_rows, hn.BALANCE_PCT, last["year"])
    reg = report.row_for(ctx.region_rows, hn.BALANCE_PCT, last["year"])
    comparators = [
        f"England {_pct2(eng['value'])}" if eng else None,
        f"{la.region_name} {_pct2(reg['value'])}" if reg else None,
    ]
    text = [
        f"At the end of {_fy(last['year'])}, {la.la_name}'s cumulative DSG balance was "
        f"**{_pct2(value)}** of its total DSG income ({state}; rank {last['rank']} of "
        f"{last['n_ranked']}, 1 = largest surplus; "
        + "; ".join(c for c in comparators if c)
        + "). This percentage is derived by the DfE dashboard, not an official statistic."
    ]
    if len(series) > 1:
        parts = [f"{_pct2(r['value'])} in {_fy(r['year'])}" for r in series[:-1]]
        earlier = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        values = [float(r["value"]) for r in series]
        verb = _direction(values)
        if verb and all(v < 0 for v in values):
            trend = "grew" if verb == "fell" else "shrank"
            text.append(
                f"It was {earlier}: the deficit {trend} as a share of DSG income every year."
            )
        else:
            text.append(f"It was {earlier}.")
    text.append(
        "The balance as a % of the high-needs block cannot be computed from the data held: it "
        "needs the balance in pounds (s251 outturn, not held)."
    )
    return text


def high_needs_narrative(ctx: LaContext) -> str:
    """Return the high needs paragraph (markdown): block, per head, spending, DSG balance."""
    return "\n\n".join(
        " ".join(part)
        for part in (_block_sentences(ctx), _per_head_sentences(ctx), _balance_sentences(ctx))
        if part
    )


def show_high_needs_trend(ctx: LaContext) -> None:
    """Display the DSG balance % and the block per head for the LA against its comparators."""
    report.show_figure(ctx, "high_needs_dsg_balance_trend")
    report.show_figure(ctx, "high_needs_block_per_head_trend")
