"""Where an LA sits among all LAs: rank, percentile and LAIT's quartile bands A to D.

Ranks follow the domain convention (1 = highest value, ties share the lowest rank, ``n``
stated). Quartile bands follow DfE LAIT: national quartiles of LA values, with polarity deciding
which end is A: for a "high is good" metric band A holds the highest values, for "low is good"
the lowest. A metric with no polarity is banded by value with A = highest, and the band rule
says plainly that A is then not "best".
"""

from __future__ import annotations

import polars as pl

from sendstats.metrics.registry import Polarity

BANDS = ("A", "B", "C", "D")

#: The band rule in words, per polarity: shown next to every band.
BAND_RULES: dict[str, str] = {
    "high_is_good": "national quartiles; A = highest 25% of LAs (high is good)",
    "low_is_good": "national quartiles; A = lowest 25% of LAs (low is good)",
    "neither": "national quartiles; A = highest 25% of LAs (no polarity: A is not 'best')",
}


def band_for(good_rank: int, n: int) -> str:
    """Return the band of an LA whose rank from the "good" end is ``good_rank`` of ``n``.

    Tied LAs share the lowest rank, so they share a band. Band A holds ranks 1 to about n/4.

    Raises:
        ValueError: when the rank is outside 1..n.

    """
    if n < 1 or not 1 <= good_rank <= n:
        raise ValueError(f"rank must lie in 1..{n}, got {good_rank}")
    return BANDS[min(3, int(4 * (good_rank - 1) / n))]


def band_expr(value: pl.Expr, polarity: pl.Expr, over: list[str]) -> pl.Expr:
    """Return the quartile band (A to D) of ``value`` within ``over``, respecting polarity.

    Args:
        value: the LA value (nulls get no band).
        polarity: a column holding ``high_is_good``, ``low_is_good`` or ``neither``.
        over: the grouping (metric and period).

    """
    n = value.count().over(over)
    desc = value.rank(method="min", descending=True).over(over)
    asc = value.rank(method="min", descending=False).over(over)
    good_rank = pl.when(polarity == "low_is_good").then(asc).otherwise(desc)
    idx = ((good_rank.cast(pl.Float64) - 1) * 4 / n).floor().clip(0, 3).cast(pl.Int32)
    return (
        pl.when(value.is_null())
        .then(None)
        .otherwise(idx.replace_strict(dict(enumerate(BANDS)), return_dtype=pl.Utf8))
    )


def band_rule(polarity: Polarity) -> str:
    """Return the band rule in words for a polarity."""
    return BAND_RULES[polarity]


def percentile_expr(value: pl.Expr, over: list[str]) -> pl.Expr:
    """Return the percentile rank (0 to 100): % of LAs below the value plus half the ties.

    Independent of polarity: a high percentile is a high value.
    """
    n = value.count().over(over).cast(pl.Float64)
    avg_rank = value.rank(method="average").over(over)
    return pl.when(value.is_null()).then(None).otherwise((avg_rank - 0.5) / n * 100)


def percentile_of(value: float, values: list[float]) -> float:
    """Return the percentile rank of ``value`` among ``values`` (pure Python, for checks)."""
    below = sum(v < value for v in values)
    ties = sum(v == value for v in values)
    return (below + 0.5 * ties) / len(values) * 100
