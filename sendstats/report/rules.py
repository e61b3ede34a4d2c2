"""The reading rules every profile applies: small numbers, quartile wording, periods, stale rows.

Each rule is a named constant or one small function, so the tables, the sentences and the
charts all say the same thing, and the notes can state the rule once.

The small-numbers rule follows OHID Fingertips and DfE LAIT practice. It is applied once, in
the benchmarks table (:mod:`sendstats.benchmarking.reliability`: ``reliability`` is ``not
ranked`` below 10 cases of base and ``caution`` below 30); the report reads that column, so a
value has one verdict in the tables, the text and the charts. Rows without it (built before the
column existed) fall back to the same thresholds on the denominator.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sendstats.core.numbers import period_label
from sendstats.metrics.stats import MIN_BASE_RANKED, MIN_BASE_RELIABLE

#: Below this many cases (the base of a value) no rank, band or significance is shown.
NO_RANK_BELOW = MIN_BASE_RANKED
#: Below this many cases a value is shown with a caution mark.
CAUTION_BELOW = MIN_BASE_RELIABLE
#: The benchmarks table's ``reliability`` verdicts that call for the caution mark (tables) or a
#: hollow point (charts).
CAUTION_VERDICTS = ("not ranked", "caution")
#: The mark put after a value resting on fewer than :data:`CAUTION_BELOW` cases.
CAUTION_MARK = "\u2020"

SMALL_NUMBERS_RULE = (
    f"Small numbers: a % resting on fewer than {NO_RANK_BELOW} cases is shown without rank, "
    f"quartile or comparison with England; one resting on fewer than {CAUTION_BELOW} cases is "
    f"marked {CAUTION_MARK} (one case more or less moves it a lot)."
)

_QUARTERS = {
    "A": "highest quarter",
    "B": "second-highest quarter",
    "C": "second-lowest quarter",
    "D": "lowest quarter",
}


def denominator_of(row: dict[str, Any]) -> float | None:
    """Return a row's denominator when its value is a % of counted cases, else None."""
    if row.get("unit") not in (None, "pct") or row.get("statistic") not in (None, "proportion"):
        return None
    den = row.get("denominator")
    return None if den is None else float(den)


def too_small(row: dict[str, Any]) -> bool:
    """Return True when a row's value rests on fewer than :data:`NO_RANK_BELOW` cases."""
    if row.get("reliability") is not None:
        return bool(row["reliability"] == "not ranked")
    den = denominator_of(row)
    return den is not None and den < NO_RANK_BELOW


def needs_caution(row: dict[str, Any]) -> bool:
    """Return True when a row's value rests on fewer than :data:`CAUTION_BELOW` cases."""
    if row.get("reliability") is not None:
        return bool(row["reliability"] in CAUTION_VERDICTS)
    den = denominator_of(row)
    return den is not None and den < CAUTION_BELOW


def band_words(band: str | None, polarity: str) -> str:
    """Return a quartile band in words: 'highest quarter' (no polarity) or 'A (best quarter)'.

    The letters mean 'best' only where the measure has a direction; without one a letter would
    be read as a grade, so only the position is given.
    """
    if not band:
        return ""
    where = _QUARTERS.get(band, band)
    if polarity == "neither":
        return where[0].upper() + where[1:]
    best = {"A": "best quarter", "B": "second quarter", "C": "third quarter", "D": "worst quarter"}
    if polarity == "low_is_good":
        return f"{band} ({best[band]}; {where})"
    return f"{band} ({best[band]})"


def period_end(year: int, period_type: str) -> dt.date:
    """Return the date a period ends (or, for a January census, the census month)."""
    if period_type == "financial_year":
        return dt.date(year + 1, 3, 31)
    if period_type == "academic_year":
        return dt.date(year, 1, 31)
    return dt.date(year, 12, 31)


def period_start(year: int, period_type: str) -> dt.date:
    """Return the date a period starts (a January census: the census month)."""
    if period_type == "financial_year":
        return dt.date(year, 4, 1)
    if period_type == "academic_year":
        return dt.date(year, 1, 1)
    return dt.date(year, 1, 1)


def period_span(first: int, last: int, period_type: str) -> str:
    """Return '2019-20 to 2021-22', 'January 2015 to January 2025' or '2014 to 2024'."""
    a, b = period_label(first, period_type), period_label(last, period_type)
    return a if first == last else f"{a} to {b}"


def and_words(items: list[str]) -> str:
    """Return 'a', 'a and b' or 'a, b and c' (no serial comma, as the profiles write)."""
    return ", ".join(items[:-1]) + f" and {items[-1]}" if len(items) > 1 else "".join(items)


def date_words(day: dt.date) -> str:
    """Return '1 April 2023'."""
    return f"{day.day} {day:%B %Y}"
