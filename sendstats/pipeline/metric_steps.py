"""Metric tables computed from one tidy table each, whichever process computes them.

The build computes these in its worker process straight after the tidy table they come from
(the frame is already in memory there), or in its own process from the tidy parquet file when
the worker did not run. Both call the same function here, so the two routes cannot differ.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl

__all__ = [
    "FROM_TIDY",
    "adults",
    "compute_from_file",
    "ehcp",
    "high_needs",
    "rates_population",
    "tribunal",
]


def ehcp(tidy: pl.DataFrame, releases: Iterable[str] | None = None) -> pl.DataFrame:
    """EHC plan metrics from the SEN2 tidy table, from ``releases`` only if given (as-of)."""
    from sendstats.metrics import ehcp as metrics

    return metrics.compute(tidy, releases)


def tribunal(tidy: pl.DataFrame) -> pl.DataFrame:
    """SEND tribunal appeals, decisions and appeal rates per LA and year (MoJ tidy table)."""
    from sendstats.metrics import tribunal as metrics

    return metrics.compute(tidy)


def adults(tidy: pl.DataFrame) -> pl.DataFrame:
    """Adults with a learning disability in paid employment (ASCOF tidy table)."""
    from sendstats.metrics import adults as metrics

    return metrics.compute(tidy)


def high_needs(
    tidy: pl.DataFrame, workbooks: dict[tuple[str, str], Path] | None = None
) -> pl.DataFrame:
    """High-needs block, DSG, per head aged 2-18, DSG balance and spend (DSG tidy table).

    ``workbooks``: the ONS workbooks already resolved by the build (the worker must not fetch).
    """
    from sendstats.metrics import high_needs as metrics
    from sendstats.sources.ons_population import population_by_age_band, use_workbooks

    if workbooks:
        use_workbooks(workbooks)
    return metrics.compute(tidy, population_by_age_band("2_18", include_predecessors=True))


def rates_population(workbooks: dict[tuple[str, str], Path]) -> pl.DataFrame:
    """Return the population aged 0-25 per LA and mid-year that the derived rates divide by.

    ``workbooks``: the ONS workbooks already resolved by the build (empty: fetch them).
    """
    from sendstats.sources.ons_population import population_by_age_band, use_workbooks

    if workbooks:
        use_workbooks(workbooks)
    return population_by_age_band("0_25", include_predecessors=True)


#: Metric table name -> the function making it from its one tidy table.
FROM_TIDY: dict[str, Callable[..., pl.DataFrame]] = {
    "ehcp": ehcp,
    "tribunal": tribunal,
    "adults": adults,
    "high_needs": high_needs,
}


def compute_from_file(name: str, tidy: Path, **kwargs: Any) -> pl.DataFrame:
    """Compute metric table ``name`` from the tidy parquet file it derives from."""
    return FROM_TIDY[name](pl.read_parquet(tidy), **kwargs)
