"""Why a value is missing or old: not yet formed, abolished, suppressed, not collected, not held.

A profile never draws a chart without its LA and never shows an old row as if it were current:
where the LA has no value it says why, and where its latest value is older than the newest
national figure of its theme it says "latest held" and what is not held. The reasons come from
the crosswalk (reorganisations), the metric tables (rows with no value) and the periods held.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from sendstats.core.numbers import period_label
from sendstats.metrics.registry import get_metric
from sendstats.report.figures.base import FigureContext
from sendstats.report.rules import date_words, period_end, period_start
from sendstats.report.sections.reorganisation import abolished_on, formed_on

#: A row is stale when its period ends more than this many years before the newest period of
#: any headline figure (rates, ASCOF and DSG balances stop years before the EHC plan counts).
STALE_AFTER_YEARS = 1


def national_years(ctx: FigureContext, metric_id: str) -> list[int]:
    """Return the years England has a value for a metric, in order."""
    rows = ctx.area_rows(metric_id, "National").filter(pl.col("value").is_not_null())
    return sorted(int(y) for y in rows["year"].to_list())


def _names(codes: tuple[str, ...]) -> str:
    from sendstats import geography

    names = [geography.get_la(c).la_name for c in codes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def absence_reason(ctx: FigureContext, metric_id: str) -> str:
    """Return why the context LA has no value of a metric (one sentence, no final period)."""
    la = ctx.la
    assert la is not None
    m = get_metric(metric_id)
    years = national_years(ctx, metric_id)
    if not years:
        return "no figures are held for any area"
    first, last = years[0], years[-1]
    start, end = formed_on(la), abolished_on(la)
    if start is not None and start > period_end(last, m.period_type):
        return (
            f"{la.la_name} was not yet formed: it was created on {date_words(start)}, after the "
            f"latest period held ({period_label(last, m.period_type)}), when the figures were "
            f"published for {_names(la.predecessors)}"
        )
    if end is not None and end < period_start(first, m.period_type):
        return (
            f"{la.la_name} was abolished on {date_words(end)}, before the first period held "
            f"({period_label(first, m.period_type)}); the figures are published for "
            f"{_names(la.successors)}"
        )
    if start is not None and start > period_start(first, m.period_type):
        return (
            f"{la.la_name} was formed on {date_words(start)}, and this measure needs figures "
            f"from before then, which were published for {_names(la.predecessors)}"
        )
    own = ctx.metric_rows(metric_id).filter(pl.col("la_code_dfe") == la.la_code_dfe)
    if own.height:
        notes = own["note"].drop_nulls().unique().to_list()
        why = f" ({notes[0].rstrip('.')})" if len(notes) == 1 else ""
        return f"the publisher suppressed or did not publish {la.la_name}'s figures{why}"
    return f"the source does not collect figures for {la.la_name}"


def stale_reason(ctx: FigureContext, row: dict[str, Any], newest_end: int) -> str | None:
    """Return why a row is the latest held though newer figures exist, or None if it is current.

    Args:
        ctx: the profile's context (the LA and the metric tables).
        row: the LA's latest benchmark row of a metric.
        newest_end: the year the newest headline period ends (e.g. 2025 for January 2025).

    """
    la = ctx.la
    assert la is not None
    m = get_metric(str(row["metric_id"]))
    year = int(row["year"])
    years = national_years(ctx, m.id)
    when = period_label(year, m.period_type)
    if years and years[-1] > year:
        later = period_label(years[-1], m.period_type)
        end = abolished_on(la)
        if end is not None and end < period_end(years[-1], m.period_type):
            return (
                f"{la.la_name} was abolished on {date_words(end)}; England's figures run to {later}"
            )
        return f"no figure for {la.la_name} after {when}; England's run to {later}"
    if period_end(year, m.period_type).year < newest_end - STALE_AFTER_YEARS:
        return f"no figures after {when} are held for any area ({_not_held(m.id)})"
    return None


def population_vintages() -> list[str]:
    """Return the ONS mid-year estimates held (pinned), oldest first: ``mid-2017``, ..."""
    from sendstats.acquire import catalog

    held = [
        r.release
        for r in catalog.get_source("ons_population").releases
        if r.files and re.fullmatch(r"mid-\d{4}", r.release)
    ]
    return sorted(held)


def _not_held(metric_id: str) -> str:
    """Return what is not held that would give later figures of a metric."""
    m = get_metric(metric_id)
    from sendstats.acquire import catalog

    if m.unit == "per_10k" or "block_per_head" in metric_id:
        return f"it needs ONS population estimates, held to {population_vintages()[-1]}"
    titles = [catalog.get_source(s).title for s in m.sources if s != "ons_population"]
    return f"later releases of {'; '.join(titles)} are not held"
