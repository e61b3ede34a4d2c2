"""Caveats with a declared scope: which LAs, or which situation in the data, each applies to.

A metric's caveats and series breaks are data, not free text: each says what it warns about
(``text``) and when it applies (``applies`` and its arguments). A report lists only the caveats
that apply to the LA it is about and the comparators shown beside it, each once; the methods
page lists every caveat with its scope. Nothing downstream decides applicability by searching
a caveat's words for place names or years.

Scopes:

- ``every_la``: holds for every LA in every profile (England's pooling, cash terms, a
  secondary source). Said once, on the methods page, never repeated per LA or per metric.
- ``method``: how a figure is computed rather than how to read it: the methods page only.
- ``series_break``: a break at ``years[0]``; applies where the LA's values shown lie on both
  sides of it.
- ``period``: applies where the LA's values shown fall in ``years`` (first, last inclusive).
- ``named_las``: applies where the LA, or a comparator shown beside it (a statistical
  neighbour, a predecessor or successor), is one of ``las`` (DfE 3-digit codes); with
  ``beside=False``, only in the named LAs' own profiles.
- ``named_regions``: applies where the LA's region is one of ``regions`` (ONS E12 codes); its
  text names no single LA, since the region's other LAs are not shown. ``las`` may list the
  LAs it stands for: where one of them is already named beside this LA, it is not repeated.
- ``suppressed``: applies where the LA has a row with no value in the periods shown.
- ``small_numbers``: applies where the LA's latest value rests on few cases.
- ``reorganised``: applies where the LA was formed or abolished by a reorganisation.
- ``stale``: applies where the LA's latest value is older than England's latest.

``years`` may also narrow ``named_las``, ``named_regions`` and ``suppressed`` to a period.

A ``named_las`` text may say ``{names}`` where the LAs go: a profile fills it with only those
named LAs that are the LA itself or beside it (so Barnet reads of Redbridge and Waltham Forest
in one bullet, never of Plymouth), the methods page with all of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Applies = Literal[
    "every_la",
    "method",
    "series_break",
    "period",
    "named_las",
    "named_regions",
    "suppressed",
    "small_numbers",
    "reorganised",
    "stale",
]

#: SEN2's 2023 move to person-level returns, one text for every metric it breaks, so a profile
#: says it once, naming the measures it covers.
SEN2_PERSON_LEVEL = (
    "2023: SEN2 moved from aggregate to person-level returns, so figures before 2023 are not "
    "fully comparable with later years."
)

#: Scopes that hold for every LA: said once on the methods page, never in an LA's box.
GENERAL: tuple[Applies, ...] = ("every_la", "method")
#: Scopes decided by the LA's own data (what its rows show), not by naming places or years.
CONDITIONS: tuple[Applies, ...] = ("suppressed", "small_numbers", "reorganised", "stale")


@dataclass(frozen=True)
class Caveat:
    """One caveat and the LAs or situations it applies to.

    Attributes:
        text: the caveat as a reader sees it (a full sentence, ending with a full stop).
        applies: the kind of scope (see the module docstring).
        las: DfE 3-digit codes: the LAs a ``named_las`` caveat names, or those a
            ``named_regions`` caveat stands for.
        regions: ONS region codes (E12...), for ``named_regions``.
        years: (first, last) periods concerned; a series break's year is ``(year, year)``.
        beside: for ``named_las``, whether it also applies where a named LA is a comparator.

    """

    text: str
    applies: Applies
    las: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    years: tuple[int, int] | None = None
    beside: bool = True

    def __post_init__(self) -> None:
        """Refuse a caveat whose scope is incomplete or malformed, quoting its text."""
        problems = check_caveat(self)
        if problems:
            raise ValueError(f"caveat {self.text[:60]!r}: " + "; ".join(problems))

    def render(self, names: Sequence[str]) -> str:
        """Return the text with ``{names}`` filled: 'A', 'A and B', 'A, B and C'."""
        if "{names}" not in self.text:
            return self.text
        listed = list(dict.fromkeys(names))
        joined = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])} and {listed[-1]}"
        return self.text.replace("{names}", joined)

    @property
    def general(self) -> bool:
        """True when the caveat holds for every LA (methods page, not an LA's box)."""
        return self.applies in GENERAL


def check_caveat(c: Caveat) -> list[str]:
    """Return what is wrong with a caveat's declaration (empty when it is valid)."""
    problems = []
    if not c.text.strip() or not c.text.rstrip().endswith((".", ")")):
        problems.append("text must be a sentence ending with a full stop")
    if "{names}" in c.text and c.applies != "named_las":
        problems.append("only a named_las text says {names}")
    if (c.applies == "named_las") and not c.las:
        problems.append("named_las lists LA codes")
    if c.las and c.applies not in ("named_las", "named_regions"):
        problems.append("only named_las and named_regions list LA codes")
    if (c.applies == "named_regions") != bool(c.regions):
        problems.append("named_regions, and only named_regions, lists region codes")
    if any(not re.fullmatch(r"\d{3}", code) for code in c.las):
        problems.append("LA codes are DfE 3-digit codes")
    if any(not re.fullmatch(r"E12\d{6}", code) for code in c.regions):
        problems.append("region codes are ONS E12 codes")
    if c.applies in ("series_break", "period") and c.years is None:
        problems.append(f"{c.applies} needs the years it concerns")
    if c.years is not None and not (1990 <= c.years[0] <= c.years[1] <= 2100):
        problems.append("years are (first, last), first <= last")
    if c.applies == "series_break" and c.years is not None and c.years[0] != c.years[1]:
        problems.append("a series break is one year: the first period of the new series")
    return problems


def every_la(text: str) -> Caveat:
    """Return a caveat that holds for every LA in every profile (said on the methods page)."""
    return Caveat(text, "every_la")


def method(text: str) -> Caveat:
    """Return a note on how a figure is computed (the methods page only)."""
    return Caveat(text, "method")


def series_break(year: int, text: str) -> Caveat:
    """Return a series break: ``year`` is the first period of the new series."""
    return Caveat(text, "series_break", years=(year, year))


def period(first: int, last: int, text: str) -> Caveat:
    """Return a caveat about periods ``first`` to ``last``, for LAs with values shown in them."""
    return Caveat(text, "period", years=(first, last))


def for_las(
    las: tuple[str, ...], text: str, years: tuple[int, int] | None = None, *, beside: bool = True
) -> Caveat:
    """Return a caveat about named LAs (DfE codes): shown where one is the LA or a comparator.

    ``beside=False`` keeps it to the named LAs' own profiles (a reorganisation's allocation
    rule matters to the councils it splits, not to those that have one as a neighbour).
    """
    return Caveat(text, "named_las", las=las, years=years, beside=beside)


def for_regions(
    regions: tuple[str, ...],
    text: str,
    years: tuple[int, int] | None = None,
    stands_for: tuple[str, ...] = (),
) -> Caveat:
    """Return a caveat about the named regions' figures (ONS codes), shown to their LAs.

    ``stands_for``: the LAs (DfE codes) whose own caveat it summarises for their region; an LA
    that has one of them beside it reads that one instead.
    """
    return Caveat(text, "named_regions", las=stands_for, regions=regions, years=years)


def when_suppressed(text: str, years: tuple[int, int] | None = None) -> Caveat:
    """Return a caveat for an LA with a value missing (suppressed, not returned) in view."""
    return Caveat(text, "suppressed", years=years)


def when_small(text: str) -> Caveat:
    """Return a caveat for an LA whose latest value rests on few cases."""
    return Caveat(text, "small_numbers")


def when_reorganised(text: str) -> Caveat:
    """Return a caveat for an LA formed or abolished by a reorganisation."""
    return Caveat(text, "reorganised")


def when_stale(text: str) -> Caveat:
    """Return a caveat for an LA whose latest value is older than England's latest."""
    return Caveat(text, "stale")
