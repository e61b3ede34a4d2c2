"""Reorganised councils, explained: what a successor replaced, when an LA was abolished, and why.

A profile of a council created by a reorganisation (Westmorland and Furness, Cumberland, North
Yorkshire, Somerset, the Northamptonshires, BCP, Dorset) says what it replaced and from when, and
which rows are missing for that reason; an abolished LA's profile (Cumbria, Northamptonshire)
says when it was abolished and names its successors. Everything comes from the crosswalk in
:mod:`sendstats.geography` (``la_reorganisations.csv``), none of it is written per LA.
"""

from __future__ import annotations

import datetime as dt

from sendstats import geography
from sendstats.geography.harmonise import Reorganisation, reorganisations
from sendstats.report.rules import date_words


def _names(codes: tuple[str, ...] | list[str]) -> str:
    names = [geography.get_la(c).la_name for c in codes]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _links(la: geography.LocalAuthority) -> list[Reorganisation]:
    return [r for r in reorganisations() if la.la_code_dfe in (r.from_dfe, r.to_dfe)]


def _recode(la: geography.LocalAuthority) -> Reorganisation | None:
    """Return the reorganisation that made the LA a unitary on the same boundary, if any."""
    found = [
        r
        for r in _links(la)
        if r.relation == "recode" and r.from_dfe == r.to_dfe and "unitary" in r.note
    ]
    return found[-1] if found else None


def formed_on(la: geography.LocalAuthority) -> dt.date | None:
    """Return the date a successor LA came into being (None for a continuing LA)."""
    return la.valid_from if la.predecessors else None


def abolished_on(la: geography.LocalAuthority) -> dt.date | None:
    """Return the last day of an abolished LA (None for an LA still in being)."""
    return la.valid_to if la.successors else None


def reorganisation_markdown(la: geography.LocalAuthority, missing: list[str]) -> str:
    """Return the 'reorganised council' note of a profile (markdown), or '' when none applies.

    Args:
        la: the profile's LA.
        missing: titles of the rows the profile lacks because of the reorganisation (periods
            before a successor was formed, or after an LA was abolished).

    """
    lines: list[str] = []
    start = formed_on(la)
    end = abolished_on(la)
    if start is not None:
        parts = [
            r for r in reorganisations() if r.to_dfe == la.la_code_dfe and r.from_dfe != r.to_dfe
        ]
        detail = "; ".join(sorted({r.note for r in parts}))
        lines.append(
            f"{la.la_name} was formed on {date_words(start)}, replacing "
            f"{_names(la.predecessors)} ({detail}). Figures for earlier periods were published "
            f"for {_names(la.predecessors)} and are not shown as {la.la_name}'s."
        )
    if end is not None:
        lines.append(
            f"{la.la_name} was abolished on {date_words(end)}. Its area is now served by "
            f"{_names(la.successors)}, which have their own profiles; figures for later "
            f"periods are published for them, not for {la.la_name}."
        )
    recode = _recode(la)
    if recode is not None and start is None:
        lines.append(
            f"{la.la_name} became a unitary council on {date_words(recode.date)} "
            f"({recode.note.split(';')[0]}). Its figures continue the county council's series."
        )
    if not lines:
        return ""
    if missing and (start is not None or end is not None):
        lines.append(f"Rows missing for that reason: {'; '.join(missing)}.")
    return "::: {.callout-note}\n**Reorganised council.** " + " ".join(lines) + "\n:::\n"
