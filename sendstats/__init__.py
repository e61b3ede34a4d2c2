"""sendstats: rebuild the figures of the English SEND debate from the publishers' open data.

The package fetches pinned raw files, validates them with pandera, tidies them with polars,
computes metrics and benchmarks for every local authority, and renders Quarto reports.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
