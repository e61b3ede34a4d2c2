"""The profile's notes: the reorganised-council box, the reading rules and the caveats.

Caveats are only those that apply to this LA and its comparators, each said once: a registry
caveat naming particular LAs or regions is kept only when it names this LA, its region, a
neighbour, a predecessor or successor, or England; the funnel plot's overdispersion warning is
one line whatever the number of measures it concerns.
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl

from sendstats import geography
from sendstats.core.numbers import period_label
from sendstats.geography.neighbours import neighbours
from sendstats.metrics.registry import get_metric
from sendstats.report import absence, rules
from sendstats.report.profile import HEADLINE_METRICS, LaContext
from sendstats.report.sections.reorganisation import (
    abolished_on,
    formed_on,
    reorganisation_markdown,
)


def reorganisation(ctx: LaContext) -> str:
    """Return the reorganised-council box (markdown) with the rows missing for that reason."""
    la = ctx.la
    if formed_on(la) is None and abolished_on(la) is None:
        return reorganisation_markdown(la, [])
    fctx = ctx.figure_context()
    missing = []
    for mid in HEADLINE_METRICS:
        m = get_metric(mid)
        years = absence.national_years(fctx, mid)
        row = ctx.bench_row(mid)
        if not years:
            continue
        if row is None:
            missing.append(m.title)
        elif abolished_on(la) is not None and int(row["year"]) < years[-1]:
            missing.append(f"{m.title} (to {period_label(int(row['year']), m.period_type)})")
    return reorganisation_markdown(la, missing)


@cache
def _place_names() -> tuple[str, ...]:
    names = {la.la_name for la in geography.all_las()} | set(geography.regions().values())
    return tuple(sorted(names, key=len, reverse=True))


def _applies(text: str, mine: set[str]) -> bool:
    """Return True when a caveat names no place, or names one of ``mine`` or England."""
    named = {n for n in _place_names() if re.search(rf"\b{re.escape(n)}\b", text)}
    return not named or bool(named & mine) or "England" in text


def _my_places(la: geography.LocalAuthority) -> set[str]:
    codes = {*la.predecessors, *la.successors}
    try:
        names = {n.la_name for n in neighbours(la.la_code_dfe, "2025")}
    except LookupError:  # an LA the set does not list
        names = set()
    names |= {geography.get_la(c).la_name for c in codes}
    return names | {la.la_name, la.region_name}


def reading_notes() -> list[str]:
    """Return the rules said once per profile: comparators, neighbours, bands, small numbers."""
    return [
        "Comparators: England and regions are pooled (sum of numerators / sum of "
        "denominators); the statistical neighbours' average is the unweighted mean of the 10 "
        "DfE statistical neighbours (May 2025 set) with a value. Every comparator is for the "
        "same period as the LA value beside it.",
        "Rank 1 = the highest value. Quartiles are the LA's quarter among all LAs; letters "
        "(A = best quarter) are used only where a measure has a good direction.",
        rules.SMALL_NUMBERS_RULE,
    ]


def caveats(ctx: LaContext) -> str:
    """Return the notes box (markdown): reading rules, then each applicable caveat once."""
    mine = _my_places(ctx.la)
    lines = [f"- {t}" for t in reading_notes()]
    seen: set[str] = set()
    for mid in HEADLINE_METRICS:
        if ctx.bench_row(mid) is None:
            continue
        m = get_metric(mid)
        for text in (*m.series_breaks, *m.caveats):
            if text not in seen and _applies(text, mine):
                seen.add(text)
                lines.append(f"- {m.title}: {text.rstrip('.')}.")
    own = ctx.la_rows.filter(
        pl.col("metric_id").is_in(list(HEADLINE_METRICS)) & pl.col("note").is_not_null()
    )
    for note in own["note"].unique().sort().to_list():
        lines.append(f"- {note[0].upper()}{note[1:].rstrip('.')}.")
    mine_bench = ctx.bench.filter(
        (pl.col("la_code_dfe") == ctx.la.la_code_dfe)
        & pl.col("metric_id").is_in(list(HEADLINE_METRICS))
    )
    if mine_bench["change_note"].drop_nulls().len():
        lines.append(
            "- Changes that cross a series break (SEN2's 2023 move to person-level returns) "
            "are flagged in the tables, not hidden."
        )
    if mine_bench["funnel_note"].drop_nulls().len():
        lines.append(
            "- Funnel limits: for most measures compared with England, far more LAs lie outside "
            "the 99.8% limits than chance would put there (overdispersion), so read "
            "'Higher' or 'Lower' as a guide, not a test."
        )
    return "::: {.callout-note}\n" + "\n".join(lines) + "\n:::\n"
