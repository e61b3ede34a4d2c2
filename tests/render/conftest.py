"""Fixtures shared by the render lane's walks over every LA (module scope: one build copy each)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from sendstats import geography
from sendstats.report import profile as report
from sendstats.report.figures.base import FigureContext, load_figure_context


@pytest.fixture(scope="module")
def tables(built_root: Path) -> Iterator[FigureContext]:
    """Every metric and benchmark row of the module's build, as the reports load them."""
    yield load_figure_context(None)


@pytest.fixture(scope="module")
def contexts(tables: FigureContext) -> list[report.LaContext]:
    """One profile context per LA with a local-authority row (at least 150), by DfE code."""
    codes = (
        tables.metrics.filter(pl.col("geographic_level") == "Local authority")["la_code_dfe"]
        .unique()
        .sort()
        .to_list()
    )
    assert len(codes) >= 150
    return [
        report.LaContext(la=geography.resolve_la(c), metrics=tables.metrics, bench=tables.bench)
        for c in codes
    ]
