"""The profile's EHC plans paragraph: plans, growth, rate, refusals and timeliness.

Short sentences, one fact each, the most important first. Every England, region or neighbour
figure is read from the LA's own benchmark row of that period, so a comparator is never from
another year than the LA value beside it (Cumbria's last January is 2023, England's 2025).
"""

from __future__ import annotations

from sendstats.core.numbers import period_label
from sendstats.report import rules
from sendstats.report.profile import LaContext
from sendstats.report.sections import wording as w


def _when(row: dict[str, object]) -> str:
    return period_label(int(str(row["year"])), str(row["period_type"]))


def _plans(ctx: LaContext) -> list[str]:
    la = ctx.la.la_name
    count = ctx.bench_row("ehc_plans_count")
    if count is None:
        return []
    year = int(count["year"])
    rank = w.rank_phrase(count)
    lead = "more than any other LA" if count["rank"] == 1 else (rank and f"{rank} by number")
    text = [
        f"{la} had **{w.value(count)}** EHC plans in January {year}"
        + (f", {lead}." if lead else ".")
    ]
    change = ctx.bench_row("ehc_plans_change_pct", year)
    if change is not None:
        v = float(change["value"])
        verb = "up" if v > 0 else ("down" if v < 0 else "unchanged")
        size = w.value(change).lstrip("-")
        eng = change["england_value"]
        text.append(
            f"That is {verb} {size} on January {year - 1}"
            + (f" (England {w.value(change, 'england_value')})." if eng is not None else ".")
        )
    cagr = ctx.bench_row("ehc_plans_cagr_5y_pct", year)
    if cagr is not None:
        text.append(
            f"Over the five years to January {year}, plans grew {w.value(cagr)} a year "
            f"({w.comparators(cagr)})."
        )
    return text


def _rate(ctx: LaContext) -> list[str]:
    rate = ctx.bench_row("ehc_plans_per_10k_0_25")
    if rate is None:
        return []
    v = w.value(rate).replace(" per 10,000", "")
    return [
        f"In {_when(rate)}, the latest January with a population estimate held, there were "
        f"{v} plans per 10,000 residents aged 0-25 ({w.comparators(rate)}). {w.standing(rate)}"
    ]


def _refused(ctx: LaContext) -> list[str]:
    row = ctx.bench_row("requests_refused_pct")
    if row is None:
        return []
    la = ctx.la.la_name
    return [
        f"In {_when(row)}, {la} refused {w.value(row)} of initial requests for an EHC needs "
        f"assessment ({w.count(row, 'numerator')} of {w.count(row, 'denominator')}; "
        f"{w.comparators(row)}). {w.standing(row)}"
    ]


def _timely(ctx: LaContext) -> list[str]:
    row = ctx.bench_row("plans_within_20_weeks_excl_exceptions_pct")
    if row is None:
        return []
    return [
        f"In {_when(row)}, {w.value(row)} of new plans were issued within 20 weeks, excluding "
        f"exceptions ({w.count(row, 'numerator')} of {w.count(row, 'denominator')}"
        f"{rules.CAUTION_MARK if rules.needs_caution(row) else ''}; {w.comparators(row)}). "
        f"{w.standing(row)}"
    ]


def narrative(ctx: LaContext) -> str:
    """Return the EHC plans paragraph (markdown): plans, growth, rate, refusals, timeliness."""
    parts = [" ".join(_plans(ctx)), *_rate(ctx), *_refused(ctx), *_timely(ctx)]
    if not parts:
        from sendstats.report import absence

        why = absence.absence_reason(ctx.figure_context(), "ehc_plans_count")
        return f"No EHC plan figures are shown for {ctx.la.la_name}, as {why}."
    return "\n\n".join(p.strip() for p in parts if p.strip())
