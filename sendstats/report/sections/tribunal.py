"""The profile's SEND Tribunal and adult outcomes paragraphs.

As in :mod:`sendstats.report.sections.ehcp`, every comparator comes from the LA's benchmark
row of the same period, and the small-numbers rule decides what is ranked and compared.
"""

from __future__ import annotations

from sendstats.core.numbers import period_label
from sendstats.report import absence
from sendstats.report.profile import LaContext
from sendstats.report.sections import wording as w


def tribunal_narrative(ctx: LaContext) -> str:
    """Return the tribunal paragraph (markdown): appeals, rate by method, standing."""
    la = ctx.la
    rate = ctx.bench_row("tribunal_appeal_rate_pct")
    if rate is None:
        why = absence.absence_reason(ctx.figure_context(), "tribunal_appeal_rate_pct")
        return f"No SEND Tribunal appeal rate is shown for {la.la_name}, as {why}."
    year = int(rate["year"])
    text = [
        f"In {year}, {w.count(rate, 'numerator')} SEND Tribunal "
        f"appeals were registered against {la.la_name}: {w.value(rate)} of "
        f"{w.count(rate, 'denominator')} appealable decisions "
        f"({w.comparators(rate, la.region_name)}).",
        w.standing(rate),
    ]
    new = ctx.bench_row("tribunal_appeal_rate_annual_reviews_pct")
    if new is not None:
        text.append(
            "Counting annual reviews as appealable decisions (a method published from 2024), "
            f"the rate in {new['year']} was {w.value(new)} ({w.comparators(new)})."
        )
    return "\n\n".join(t for t in text if t)


def adults_narrative(ctx: LaContext) -> str:
    """Return the adult outcomes paragraph (markdown): ASCOF 1E with its standing."""
    la = ctx.la
    row = ctx.bench_row("ascof_1e_ld_paid_employment_pct")
    if row is None:
        why = absence.absence_reason(ctx.figure_context(), "ascof_1e_ld_paid_employment_pct")
        return f"No ASCOF 1E figure is shown for {la.la_name}, as {why}."
    counts = (
        f"{w.count(row, 'numerator')} of {w.count(row, 'denominator')}; "
        if row["numerator"] is not None and row["denominator"] is not None
        else ""
    )
    return (
        f"In {period_label(int(row['year']), 'financial_year')}, {w.value(row)} of adults aged "
        f"18-64 with a learning disability supported by {la.la_name} were in paid employment "
        f"({counts}{w.comparators(row)}). {w.standing(row)}"
    )
