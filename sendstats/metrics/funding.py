"""Deficits against funding: each LA's DSG balance % against its high-needs block per head.

The forum's commentary says high-needs deficits "do not clearly match to variations in income".
This pairs, for every LA and financial year where both exist, the DfE dashboard's cumulative
DSG balance as % of total DSG income (end of the year; derived by the dashboard, not official)
with the high-needs block allocated per resident aged 2-18 in the same year (before
recoupment; ONS mid-year estimate of the year the FY starts), and measures their association
with Pearson's r and a 95% interval from Fisher's z transformation (r = tanh(z), z's standard
error 1 / sqrt(n - 3)). Input is the high-needs metric table; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

BALANCE_PCT = "dsg_balance_of_total_income_pct"
HNB_PER_HEAD = "high_needs_block_per_head_2_18_gbp"
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Correlation:
    """Pearson's r between the two measures over n LAs in one year, with its 95% interval."""

    year: int
    n: int
    r: float
    low: float
    high: float

    def strength(self) -> str:
        """Return a plain-words strength for |r| (Cohen's conventional 0.1 / 0.3 / 0.5)."""
        size = abs(self.r)
        if size < 0.1:
            return "no meaningful"
        if size < 0.3:
            return "a weak"
        if size < 0.5:
            return "a moderate"
        return "a strong"

    def in_words(self, period: str) -> str:
        """Describe the association and its interval in one or two sentences."""
        direction = "positive" if self.r > 0 else "negative"
        strength = self.strength()
        kind = "association" if strength == "no meaningful" else f"{direction} association"
        text = (
            f"Across {self.n} LAs in {period}, there was {strength} {kind} between an LA's "
            f"high-needs block per resident aged 2-18 and its DSG balance as % of DSG income "
            f"(Pearson r = {self.r:.2f}; 95% interval {self.low:.2f} to {self.high:.2f})."
        )
        if self.low < 0 < self.high:
            text += " The interval includes zero: the data are consistent with no association."
        elif self.r > 0:
            text += " LAs funded more per head tended to have smaller deficits (or surpluses)."
        else:
            text += " LAs funded more per head tended to have larger deficits."
        return text


def pairs(high_needs: pl.DataFrame) -> pl.DataFrame:
    """Return one row per LA and financial year with both values (and their provenance)."""
    la = high_needs.filter(
        (pl.col("geographic_level") == "Local authority") & pl.col("value").is_not_null()
    )
    keys = ["area_code", "area_name", "la_code_dfe", "region_name", "year"]
    bal = la.filter(pl.col("metric_id") == BALANCE_PCT).select(
        *keys,
        pl.col("value").alias("dsg_balance_pct"),
        pl.col("release").alias("balance_release"),
        pl.col("source_file").alias("balance_file"),
        pl.col("file_sha256").alias("balance_sha256"),
    )
    per_head = la.filter(pl.col("metric_id") == HNB_PER_HEAD).select(
        "area_code",
        "year",
        pl.col("value").alias("block_per_head_gbp"),
        pl.col("release"),
        pl.col("source_file"),
        pl.col("file_sha256"),
    )
    return bal.join(per_head, on=["area_code", "year"], how="inner").sort("year", "area_name")


def correlate(paired: pl.DataFrame, year: int) -> Correlation:
    """Return Pearson's r for one year with its 95% interval (Fisher z).

    Raises:
        ValueError: fewer than 4 LAs have both values in that year (no interval possible).

    """
    rows = paired.filter(pl.col("year") == year)
    n = rows.height
    if n < 4:
        raise ValueError(f"only {n} LAs have both values in {year}: no correlation")
    r = float(rows.select(pl.corr("block_per_head_gbp", "dsg_balance_pct")).item())
    r = max(min(r, 0.999999), -0.999999)
    z = math.atanh(r)
    se = 1 / math.sqrt(n - 3)
    return Correlation(year, n, r, math.tanh(z - Z_95 * se), math.tanh(z + Z_95 * se))


def latest_year(paired: pl.DataFrame) -> int | None:
    """Return the latest financial year with both values, if any."""
    return None if paired.height == 0 else int(str(paired["year"].max()))
