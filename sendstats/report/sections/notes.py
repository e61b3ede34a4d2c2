"""The profile's notes: the reorganised-council box, the reading rules and the caveats.

Caveats are only those that apply to this LA and the comparators shown beside it, each said
once. Whether one applies is decided by its declared scope in the metric registry
(:mod:`sendstats.metrics.caveats`) against what the profile shows of the LA: its own code, its
statistical neighbours, predecessors and successors, its region, the years it has values for,
its suppressed rows. A text several metrics declare is one bullet naming the metrics it covers;
caveats that hold for every LA are on the methods page, not in any LA's box.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from sendstats import geography
from sendstats.core.numbers import period_label
from sendstats.geography.neighbours import neighbours
from sendstats.metrics.caveats import Caveat
from sendstats.metrics.registry import get_metric
from sendstats.report import absence, rules
from sendstats.report.figures.base import get_figure, year_values
from sendstats.report.profile import HEADLINE_METRICS, LaContext
from sendstats.report.sections import values
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
    absent: list[str] = []
    stops: dict[str, None] = {}
    for mid in HEADLINE_METRICS:
        m = get_metric(mid)
        years = absence.national_years(fctx, mid)
        row = ctx.bench_row(mid)
        if not years:
            continue
        if row is None:
            absent.append(m.title)
        elif abolished_on(la) is not None and int(row["year"]) < years[-1]:
            stops[period_label(int(row["year"]), m.period_type)] = None
    missing = []
    if stops:
        periods = list(stops)
        last = periods[0] if len(periods) == 1 else f"{', '.join(periods[:-1])} or {periods[-1]}"
        missing.append(f"the summary's rows stop at {last} (marked 'latest held')")
    if absent:
        missing.append("not shown at all: " + "; ".join(absent))
    return reorganisation_markdown(la, missing)


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


#: The figures the profile draws (``reports/la_profile.qmd``, the inclusion and high-needs
#: sections), in page order: the caveats of their metrics can apply.
PROFILE_FIGURES = (
    "ehcp_trend_indexed",
    "ehcp_rate_per_10k",
    "requests_refused_trend",
    "timeliness_trend",
    "primary_need_mix",
    "ehcp_growth_strip",
    "placement_mix",
    "placements_independent_special_growth",
    "sen_support_trend",
    "attainment8_gap_trend",
    "deficit_against_funding",
    "high_needs_dsg_balance_trend",
    "high_needs_block_per_head_trend",
    "tribunal_rate_trend",
    "tribunal_funnel",
    "adults_ld_employment_intervals",
)
#: Metrics the profile's sentences quote (their latest value) beyond the summary table.
QUOTED_METRICS = (
    "tribunal_appeal_rate_annual_reviews_pct",
    "sen_support_pupils_pct",
    "ehc_plan_pupils_pct",
    "attainment8_gap_ehc_plan_score",
    "review_meetings_held_pct",
    "review_outcome_within_4_weeks_pct",
    "review_outcome_amend_pct",
    "plans_with_personal_budget_pct",
)
#: A figure drawing at least this many metrics is named once in a caveat, not each metric.
NAME_FIGURE_FROM = 3

#: Reading order: what changes how this LA's own figures read comes first (its own data, then
#: breaks in its series), then what concerns the comparators beside it.
_OWN, _SERIES, _COMPARATOR = 0, 1, 2


@dataclass(frozen=True)
class Shown:
    """What the profile shows of each metric: the LA's years with a value, and where suppressed.

    ``years``: the LA's years with a value (every year for a metric drawn as a series or tabled
    by year; the latest only for one quoted or summarised). ``missing``: the years shown in
    which the LA has a row without a value. ``covers``: how a bullet names each metric.
    ``near``: the DfE codes of the LA and the LAs shown beside it (:func:`comparator_codes`).
    """

    order: dict[str, int]
    years: dict[str, tuple[int, ...]]
    missing: dict[str, tuple[int, ...]]
    covers: dict[str, str]
    near: frozenset[str]


def shown(ctx: LaContext) -> Shown:
    """Return what the profile shows of each metric for this LA (see :class:`Shown`)."""
    series: list[str] = []
    latest: list[str] = [*HEADLINE_METRICS, *QUOTED_METRICS]
    covers: dict[str, str] = {}
    for fid in PROFILE_FIGURES:
        fig = get_figure(fid)
        (series if fig.needs_la else latest).extend(fig.metric_ids)
        if len(fig.metric_ids) >= NAME_FIGURE_FROM:
            covers.update({mid: f"the chart '{fig.title}'" for mid in fig.metric_ids})
    series.extend(mid for ids in values.THEMES.values() for mid in ids)
    order = {mid: i for i, mid in enumerate(dict.fromkeys([*HEADLINE_METRICS, *series, *latest]))}
    years: dict[str, tuple[int, ...]] = {}
    missing: dict[str, tuple[int, ...]] = {}
    in_series = set(series)
    for mid in order:
        sub = ctx.la_metric(mid)
        if sub.height == 0:
            continue
        held = [(int(y), v is not None) for y, v in year_values(sub)]
        have = sorted(y for y, ok in held if ok)
        gaps = sorted(y for y, ok in held if not ok)
        if mid not in in_series:
            national = [y for y, v in year_values(ctx.england_metric(mid)) if v is not None]
            last = int(max(national)) if national else None
            have, gaps = have[-1:], [y for y in gaps if y == last]
        years[mid], missing[mid] = tuple(have), tuple(gaps)
    for mid in order:
        covers.setdefault(mid, get_metric(mid).title)
    return Shown(order, years, missing, covers, frozenset(comparator_codes(ctx.la)))


def comparator_codes(la: geography.LocalAuthority) -> set[str]:
    """Return the DfE codes of the LA and of the LAs shown beside it.

    Those are its statistical neighbours (May 2025 set, as in the summary) and the councils of
    its reorganisation: predecessors, successors, and their other successors or predecessors
    (the reorganised-council box names them all).
    """
    try:
        codes = {n.la_code_dfe for n in neighbours(la.la_code_dfe, "2025")}
    except LookupError:  # an LA the set does not list (abolished before 2025)
        codes = set()
    family = {la.la_code_dfe, *la.predecessors, *la.successors}
    for code in list(family - {la.la_code_dfe}):
        other = geography.get_la(code)
        family |= {*other.predecessors, *other.successors}
    return codes | family


def _overlaps(c: Caveat, years: tuple[int, ...]) -> bool:
    """Return True when the caveat has no period, or a year shown falls in it."""
    return c.years is None or any(c.years[0] <= y <= c.years[1] for y in years)


def priority(c: Caveat, ctx: LaContext, mid: str, seen: Shown) -> int | None:
    """Return where a caveat of metric ``mid`` ranks in this LA's box, or None if it does not apply.

    Decided from the caveat's declared scope and the profile's data only, never its words.
    """
    years = seen.years.get(mid, ())
    la = ctx.la
    if c.general:
        return None
    if c.applies == "series_break":
        assert c.years is not None
        brk = c.years[0]
        return _SERIES if any(y < brk for y in years) and any(y >= brk for y in years) else None
    if c.applies == "period":
        return _SERIES if _overlaps(c, years) else None
    if c.applies == "named_las":
        if la.la_code_dfe in c.las:  # about this LA: also where it explains a missing figure
            span = sorted({*years, *seen.missing.get(mid, ())})
            inside = not span or _overlaps(c, tuple(range(span[0], span[-1] + 1)))
            return _OWN if c.years is None or inside else None
        near = c.beside and set(c.las) & seen.near
        return _COMPARATOR if near and years and _overlaps(c, years) else None
    if c.applies == "named_regions":
        if la.region_code not in c.regions or not years or not _overlaps(c, years):
            return None
        return None if set(c.las) & seen.near else _COMPARATOR
    if c.applies == "suppressed":
        return _OWN if _overlaps(c, seen.missing.get(mid, ())) and seen.missing.get(mid) else None
    if c.applies == "reorganised":
        return _OWN if formed_on(la) is not None or abolished_on(la) is not None else None
    row = ctx.bench_row(mid)
    if c.applies == "small_numbers":
        return _OWN if row is not None and rules.needs_caution(row) else None
    if c.applies == "stale":
        national = absence.national_years(ctx.figure_context(), mid)
        return _OWN if row is not None and national and int(row["year"]) < national[-1] else None
    raise ValueError(f"unknown caveat scope {c.applies!r}")


def applicable(ctx: LaContext, seen: Shown | None = None) -> list[tuple[str, tuple[str, ...]]]:
    """Return the caveats that apply to this LA's profile: (text, metrics covered), in order.

    Each text once, however many metrics declare it (near-identical caveats share one text in
    the registry); ordered by what most changes the reading of this LA's own figures.
    """
    return [(text, mids) for text, mids, _ in _ranked(ctx, seen or shown(ctx))]


def _ranked(ctx: LaContext, seen: Shown) -> list[tuple[str, tuple[str, ...], int]]:
    """Return :func:`applicable`'s caveats with their rank (own data, series, comparators)."""
    found: dict[str, tuple[int, int, list[str]]] = {}
    for mid in seen.order:
        for c in (*get_metric(mid).series_breaks, *get_metric(mid).caveats):
            rank = priority(c, ctx, mid, seen)
            if rank is None:
                continue
            text = c.render([_name(x) for x in c.las if x in seen.near])
            old = found.get(text, (rank, seen.order[mid], []))
            found[text] = (min(old[0], rank), min(old[1], seen.order[mid]), [*old[2], mid])
    ranked = sorted(found.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    return [(text, tuple(mids), rank) for text, (rank, _, mids) in ranked]


def _name(code: str) -> str:
    return geography.get_la(code).la_name


def caveat_text(c: Caveat) -> str:
    """Return a caveat's text as the methods page gives it (every named LA filled in)."""
    return c.render([_name(x) for x in c.las])


def _covers(mids: tuple[str, ...], seen: Shown) -> str:
    names = list(dict.fromkeys(seen.covers[m] for m in mids))
    return names[0] if len(names) == 1 else f"{'; '.join(names[:-1])} and {names[-1]}"


def _own_notes(ctx: LaContext, seen: Shown) -> list[str]:
    """Return the notes on this LA's latest summary rows that other LAs' rows do not share.

    A note most LAs' rows carry (a denominator's vintage, a derived statistic) holds for every
    LA and is on the methods page; one that is this LA's own (an outlier flag) is kept.
    """
    out = []
    for mid in HEADLINE_METRICS:
        row = ctx.bench_row(mid)
        note = str(row.get("note") or "") if row else ""
        if not row or not note:
            continue
        peers = ctx.figure_context().bench_rows(mid).filter(pl.col("year") == row["year"])
        if (peers["note"] == note).sum() * 2 < peers.height:
            out.append(
                f"{note[0].upper()}{note[1:].rstrip('.')}. *Applies to: {seen.covers[mid]}.*"
            )
    return out


def _funnel_note(ctx: LaContext, seen: Shown) -> list[str]:
    """Return the overdispersion warning once, naming the summary rows it concerns."""
    mids = tuple(
        mid
        for mid in HEADLINE_METRICS
        if (row := ctx.bench_row(mid)) is not None
        and row.get("funnel_note")
        and not rules.too_small(row)
    )
    if not mids:
        return []
    return [
        "Comparison with England ('vs England' in the summary): far more LAs lie outside the "
        "99.8% limits than chance would put there (overdispersion), so read 'Higher' or "
        f"'Lower' as a guide, not a test. *Applies to: {_covers(mids, seen)}.*"
    ]


METHODS_POINTER = (
    "Caveats that hold for every LA (how England and regions are pooled, cash terms, secondary "
    "sources, how each figure is computed) are listed with each measure on the methods page."
)


def caveat_groups(ctx: LaContext) -> tuple[list[str], list[str]]:
    """Return this LA's caveats in two lists, each caveat once: its own figures, its comparators.

    The first holds its own rows' notes, the caveats about its own data and the breaks in the
    series it shows; the second those about the LAs and region shown beside it, then the
    funnel plot's overdispersion warning (on every comparison with England). Kept apart, a
    small LA's box does not read as if its neighbours' data notes were about itself (the Isles
    of Scilly's box is mostly about Surrey and Cambridgeshire).
    """
    seen = shown(ctx)
    own: list[str] = []
    others: list[str] = []
    for text, mids, rank in _ranked(ctx, seen):
        bullet = f"{text.rstrip('.')}. *Applies to: {_covers(mids, seen)}.*"
        (others if rank == _COMPARATOR else own).append(bullet)
    return [*_own_notes(ctx, seen), *own], [*others, *_funnel_note(ctx, seen)]


def caveat_bullets(ctx: LaContext) -> list[str]:
    """Return this LA's caveats, each once, in reading order (:func:`caveat_groups` joined)."""
    own, others = caveat_groups(ctx)
    return [*own, *others]


def caveats(ctx: LaContext) -> str:
    """Return the notes box (markdown): how to read the figures, then this LA's caveats.

    The caveats come under two headings: those on the LA's own figures, then those on the
    areas it is compared with (left out when there are none).
    """
    rules_list = "\n".join(f"- {t}" for t in reading_notes())
    own, others = caveat_groups(ctx)
    name = ctx.la.la_name
    mine = "\n".join(f"- {t}" for t in own) or f"None concern {name}'s own figures."
    parts = [f"**How to read the figures**\n\n{rules_list}", f"**Caveats for {name}**\n\n{mine}"]
    if others:
        listed = "\n".join(f"- {t}" for t in others)
        parts.append(f"**Caveats on the areas {name} is compared with**\n\n{listed}")
    body = "\n\n".join([*parts, METHODS_POINTER])
    return f"::: {{.callout-note}}\n{body}\n:::\n"


def scope_words(c: Caveat) -> str:
    """Return which profiles a caveat appears in, in words, for the methods page's full list."""
    span = ""
    if c.years is not None:
        span = f"{c.years[0]}" if c.years[0] == c.years[1] else f"{c.years[0]} to {c.years[1]}"
    when = f"; {span}" if span else ""
    if c.applies == "named_las":
        named = list(dict.fromkeys(geography.get_la(x).la_name for x in c.las))
        names = named[0] if len(named) == 1 else f"{', '.join(named[:-1])} and {named[-1]}"
        them = "it" if len(named) == 1 else "one of them"
        beside = f" and of LAs with {them} as a comparator" if c.beside else ""
        return f"profiles of {names}{beside}{when}"
    if c.applies == "named_regions":
        return (
            "profiles of LAs in " + " and ".join(geography.regions()[r] for r in c.regions) + when
        )
    return {
        "every_la": "every profile: said here, not in each",
        "method": "how the figure is computed",
        "series_break": f"profiles with values either side of {span}",
        "period": f"profiles with values in {span}",
        "suppressed": f"profiles with a value suppressed or not returned{when}",
        "small_numbers": "profiles whose latest value rests on few cases",
        "reorganised": "profiles of LAs formed or abolished by a reorganisation",
        "stale": "profiles whose latest value is older than England's",
    }[c.applies]
