"""Short plain sentences shared by the profile's narratives: rank, standing, comparators.

Every comparator a sentence quotes comes from the LA's own benchmark row, so it is for the
same period as the LA value it sits beside. The small-numbers rule of
:mod:`sendstats.report.rules` decides whether a rank, quartile or comparison is said at all.
"""

from __future__ import annotations

from typing import Any

from sendstats.core.numbers import format_value
from sendstats.metrics.registry import get_metric
from sendstats.report import rules
from sendstats.report.sections.summary import interval

_VERDICT = {
    "Similar": "not distinguishable from England's",
    "Higher": "higher than England's",
    "Lower": "lower than England's",
    "Better": "better than England's",
    "Worse": "worse than England's",
}


def ordinal(n: int) -> str:
    """Return '1st', '2nd', '23rd', '11th'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def rank_phrase(row: dict[str, Any]) -> str:
    """Return 'the highest of 153 LAs' / 'the 12th highest of 153 LAs' / 'the 3rd lowest'."""
    if rules.too_small(row) or not row.get("rank"):
        return ""
    rank, n = int(row["rank"]), int(row["n_ranked"])
    if rank == 1:
        return f"the highest of {n} LAs"
    if rank == n:
        return f"the lowest of {n} LAs"
    if rank > n / 2:
        return f"the {ordinal(n - rank + 1)} lowest of {n} LAs"
    return f"the {ordinal(rank)} highest of {n} LAs"


def value(row: dict[str, Any], key: str = "value") -> str:
    """Return one of a benchmark row's values formatted in its metric's unit."""
    unit = get_metric(str(row["metric_id"])).unit
    v = row.get(key)
    return "not available" if v is None else format_value(float(v), unit)


def count(row: dict[str, Any], key: str) -> str:
    """Return a row's numerator or denominator as a whole count ('2,200')."""
    v = row.get(key)
    return "not available" if v is None else f"{float(v):,.0f}"


def comparators(row: dict[str, Any], region: str | None = None) -> str:
    """Return 'England 25.2%; South East 27.8%; neighbours' average 27.8%' for the same period."""
    parts = []
    if row.get("england_value") is not None:
        parts.append(f"England {value(row, 'england_value')}")
    if region and row.get("region_value") is not None:
        parts.append(f"{region} {value(row, 'region_value')}")
    if row.get("sn2025_value") is not None:
        parts.append(f"statistical neighbours' average {value(row, 'sn2025_value')}")
    return "; ".join(parts)


def standing(row: dict[str, Any]) -> str:
    """Return one or two sentences placing the value: quarter, rank and England, or caution."""
    m = get_metric(str(row["metric_id"]))
    if rules.too_small(row):
        return (
            f"It rests on fewer than {rules.NO_RANK_BELOW} cases, so it is not ranked or "
            "compared with England."
        )
    parts = []
    rank = rank_phrase(row)
    band = rules.band_words(row.get("band"), m.polarity)
    if band and m.polarity == "neither":
        parts.append(f"It is {rank}, in the {band.lower()}" if rank else f"In the {band.lower()}")
    elif rank:
        quarter = f", in the {band.split('(')[1].rstrip(')')} ({row['band']})" if band else ""
        parts.append(f"It is {rank}{quarter}")
    sig = row.get("significance")
    if sig in _VERDICT and row.get("ci95_low") is not None:
        parts.append(
            f"its 95% interval ({interval(row, m.unit)}) is {_VERDICT[str(sig)]}".replace(
                "England's", "England's value"
            )
        )
    text = "; ".join(parts)
    text = f"{text}." if text else ""
    if rules.needs_caution(row):
        text += (
            f" It rests on fewer than {rules.CAUTION_BELOW} cases {rules.CAUTION_MARK}: one "
            "case more or less moves it a lot."
        )
    return text.strip()
