"""Step functions that join several tables before a metric module computes from them.

Each imports what it needs inside its own body: a step's code fingerprint counts only the
imports of its own function here (:mod:`sendstats.pipeline.fingerprint`), so editing the rates
module reruns the rates step and not the high-needs one.
"""

from __future__ import annotations

import polars as pl


def _band(population: pl.DataFrame, band: str) -> pl.DataFrame:
    """Return one age band of the population tidy table (every column a per-head row cites)."""
    return population.filter(pl.col("age_band") == band).drop("age_band")


def derived_rates(
    ehcp: pl.DataFrame, tribunal: pl.DataFrame, population: pl.DataFrame
) -> pl.DataFrame:
    """EHC plans and tribunal appeals per 10,000 residents aged 0-25."""
    from sendstats.metrics import rates

    return rates.compute(pl.concat([ehcp, tribunal], how="vertical"), _band(population, "0_25"))


def high_needs(dsg: pl.DataFrame, population: pl.DataFrame) -> pl.DataFrame:
    """High-needs block, DSG, per head aged 2-18, DSG balance and spend."""
    from sendstats.metrics import high_needs as metrics

    return metrics.compute(dsg, _band(population, "2_18"))


def ehcp_as_of(sen2: pl.DataFrame, *, releases: str) -> pl.DataFrame:
    """EHC plan metrics from the releases published by an ``--as-of`` date (comma-separated)."""
    from sendstats.metrics import ehcp

    return ehcp.compute(sen2, releases.split(","))


def benchmarks(*metric_tables: pl.DataFrame) -> pl.DataFrame:
    """Benchmark every metric table: comparators, bands, changes, funnels, significance."""
    from sendstats.benchmarking import table

    return table.compute(pl.concat(metric_tables, how="vertical"))
