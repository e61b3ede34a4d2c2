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


#: Caveats about how a figure is computed, not about reading it: they stay on the methods page.
METHODS_ONLY = ("Line 1.0.2", "Values far from the distribution")

_PERIOD = re.compile(r"^(?:FY )?(\d{4})(?:-(\d{2,4}))?(?:, [^:]+)?:")


def _in_shown_years(text: str, years: list[int]) -> bool:
    """Return False for a caveat about a period (``2014-15: ...``) outside the years shown."""
    match = _PERIOD.match(text)
    if not match or not years:
        return True
    start = int(match[1])
    end = start if not match[2] or len(match[2]) == 2 else int(match[2])
    return not (end < years[0] or start > years[-1])


def caveats(ctx: LaContext) -> str:
    """Return the notes box (markdown): reading rules, then each applicable caveat once.

    A caveat applies when it names no other place (see :func:`_applies`), concerns a period the
    profile shows for this LA, and is about reading the figure rather than computing it.
    """
    mine = _my_places(ctx.la)
    lines = [f"- {t}" for t in reading_notes()]
    seen: set[str] = set()
    latest_rows = []
    for mid in HEADLINE_METRICS:
        row = ctx.bench_row(mid)
        if row is None:
            continue
        latest_rows.append(row)
        m = get_metric(mid)
        years = sorted(
            ctx.la_rows.filter((pl.col("metric_id") == mid) & pl.col("value").is_not_null())[
                "year"
            ].to_list()
        )
        for text in (*m.series_breaks, *m.caveats):
            if (
                text not in seen
                and _applies(text, mine)
                and _in_shown_years(text, years)
                and not text.startswith(METHODS_ONLY)
            ):
                seen.add(text)
                lines.append(f"- {m.title}: {text.rstrip('.')}.")
    # Notes on the rows the summary shows (their latest period), each once.
    for row in latest_rows:
        note = str(row.get("note") or "")
        if note and note not in seen:
            seen.add(note)
            title = get_metric(str(row["metric_id"])).title
            lines.append(f"- {title}: {note[0].upper()}{note[1:].rstrip('.')}.")
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
