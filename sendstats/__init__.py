"""sendstats: rebuild the figures of the English SEND debate from the publishers' open data.

The package fetches pinned raw files, validates them with pandera, tidies them with polars,
computes metrics and benchmarks for every local authority, and renders Quarto reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["__version__", "benchmark"]

from sendstats.core.version import __version__

if TYPE_CHECKING:
    from sendstats.benchmarking.api import benchmark


def __getattr__(name: str) -> Any:
    """Import ``sendstats.benchmark`` on first use, so plain commands stay light."""
    if name == "benchmark":
        from sendstats.benchmarking.api import benchmark

        return benchmark
    raise AttributeError(f"module 'sendstats' has no attribute {name!r}")
