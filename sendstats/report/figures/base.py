"""Figures as data: each figure is registered once with its data, chart, alt text and recipe.

A figure is rebuildable: :func:`figure_data` returns exactly the rows it plots (plus their
provenance columns), :func:`export_csv` writes them, and the figure's recipe says in words
which rows of which metric table were taken and what arithmetic was done, so
``sendstats figure <id> --la X`` can hand a journalist the CSV and the method together.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from sendstats import geography
from sendstats.metrics.registry import LookupMessageError
from sendstats.report.provenance import PROVENANCE


@dataclass(frozen=True, eq=False)
class Tables:
    """The metric and benchmark tables a report reads, split by metric once.

    A profile looks rows up by metric a few hundred times; filtering the 100,000-row tables
    each time cost about half a second a profile, a lookup in these dicts costs nothing.
    The build writes each table's rows grouped by metric, so each metric's rows are a
    zero-copy slice of it: the index costs no second copy of the tables in every report
    kernel (a frame that is not grouped, e.g. one built by hand in a test, is copied).
    """

    metrics: pl.DataFrame
    bench: pl.DataFrame
    _derived: dict[str, pl.DataFrame] = field(default_factory=dict, init=False, repr=False)

    def derived(self, key: str, make: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
        """Return ``make(metrics)``, a table that is the same for every LA, made once."""
        if key not in self._derived:
            self._derived[key] = make(self.metrics)
        return self._derived[key]

    @cached_property
    def metrics_by_id(self) -> dict[str, pl.DataFrame]:
        """Metric rows of each metric id."""
        return split_by_metric(self.metrics)

    @cached_property
    def bench_by_id(self) -> dict[str, pl.DataFrame]:
        """Benchmark rows of each metric id."""
        return split_by_metric(self.bench)

    def area_rows(self, metric_id: str, level: str) -> pl.DataFrame:
        """Return the metric rows of one metric and level, by year (made once per kernel).

        The same for every LA: a batch worker asks for them again in every profile.
        """
        rows = self.metrics_by_id.get(metric_id, self.metrics.clear())
        return self.derived(
            f"{level} rows of {metric_id}",
            lambda _: rows.filter(pl.col("geographic_level") == level).sort("year"),
        )


def split_by_metric(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Return each metric's rows, in the frame's order.

    The rows are slices of a frame grouped by metric (no copy), else copies.
    """
    if "metric_id" not in frame.columns:
        return {}
    runs = (
        frame.select(pl.col("metric_id").rle_id().alias("run"), "metric_id")
        .with_row_index("start")
        .group_by("run", maintain_order=True)
        .agg(pl.col("metric_id").first(), pl.col("start").first(), pl.len())
    )
    if runs["metric_id"].n_unique() < runs.height:  # not grouped: a metric in several runs
        parts = frame.partition_by("metric_id", maintain_order=True)
        return {str(part["metric_id"][0]): part for part in parts}
    return {
        str(mid): frame.slice(start, length)
        for mid, start, length in runs.select("metric_id", "start", "len").iter_rows()
    }


@dataclass(frozen=True)
class FigureContext:
    """What a figure draws from: the LA (None for England-wide figures) and the tables."""

    la: geography.LocalAuthority | None
    metrics: pl.DataFrame
    bench: pl.DataFrame
    tables: Tables | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.tables is None:  # built by hand (tests): index these frames
            object.__setattr__(self, "tables", Tables(self.metrics, self.bench))

    @property
    def index(self) -> Tables:
        """The tables split by metric (shared by every context loaded from the same files)."""
        assert self.tables is not None  # set in __post_init__
        return self.tables

    def metric_rows(self, metric_id: str) -> pl.DataFrame:
        """Return every metric row of one metric (all levels and years)."""
        rows = self.index.metrics_by_id.get(metric_id)
        return self.metrics.clear() if rows is None else rows

    def bench_rows(self, metric_id: str) -> pl.DataFrame:
        """Return every benchmark row of one metric (all LAs and years)."""
        rows = self.index.bench_by_id.get(metric_id)
        return self.bench.clear() if rows is None else rows

    @property
    def la_name(self) -> str:
        """Return the LA's name, or 'England' for an England-wide figure."""
        return self.la.la_name if self.la else "England"

    def la_bench(self, metric_id: str) -> pl.DataFrame:
        """Return the LA's benchmark rows of one metric, by year."""
        rows = self._la_bench_by_id.get(metric_id)
        return self.bench.clear() if rows is None else rows

    @cached_property
    def la_bench_rows(self) -> pl.DataFrame:
        """Return the LA's benchmark rows of every metric, by metric and year (none for England).

        Filtered once per profile: lookups by metric are slices of it.
        """
        if self.la is None or "la_code_dfe" not in self.bench.columns:
            return self.bench.clear()
        return self.bench.filter(pl.col("la_code_dfe") == self.la.la_code_dfe).sort(
            "metric_id", "year", maintain_order=True
        )

    @cached_property
    def _la_bench_by_id(self) -> dict[str, pl.DataFrame]:
        return split_by_metric(self.la_bench_rows)

    def latest_la_rows(self, metric_id: str) -> pl.DataFrame:
        """Return every LA's benchmark row of a metric in its latest period with values."""
        rows = self.bench_rows(metric_id).filter(pl.col("value").is_not_null())
        if rows.height == 0:
            return rows
        return rows.filter(pl.col("year") == rows["year"].max())

    def strip_rows(self, metric_id: str) -> pl.DataFrame:
        """Return every LA's latest value with its rank and England's, for a strip of LAs."""
        return self.latest_la_rows(metric_id).select(
            "area_name",
            "la_code_dfe",
            "year",
            "value",
            "numerator",
            "denominator",
            "rank",
            "n_ranked",
            "england_value",
            *PROVENANCE,
        )

    def own_row(self, data: pl.DataFrame) -> dict[str, Any] | None:
        """Return the context LA's row of a figure's data (by ``la_code_dfe``), if any."""
        if self.la is None or "la_code_dfe" not in data.columns:
            return None
        mine = data.filter(pl.col("la_code_dfe") == self.la.la_code_dfe)
        return mine.row(0, named=True) if mine.height else None

    def area_rows(self, metric_id: str, level: str) -> pl.DataFrame:
        """Return the metric rows of one level (``National``, ``Regional``, LA), by year."""
        return self.index.area_rows(metric_id, level)


def year_values(rows: pl.DataFrame, column: str = "value") -> zip[tuple[Any, Any]]:
    """Return the rows' (year, ``column``) pairs, read from the columns (no polars query).

    A profile asks for these per metric dozens of times; a query each cost more than reading.
    """
    return zip(rows["year"].to_list(), rows[column].to_list(), strict=True)


def first_year(data: pl.DataFrame) -> int:
    """Return the first ``year`` in a figure's rows."""
    return int(str(data["year"].min()))


def last_year(data: pl.DataFrame) -> int:
    """Return the last ``year`` in a figure's rows."""
    return int(str(data["year"].max()))


class FigureError(ValueError):
    """A figure that cannot be drawn as asked (no LA given where one is needed, no data)."""


class UnknownFigureError(LookupMessageError):
    """A figure id that is not registered (the message lists the known ids)."""


@dataclass(frozen=True)
class Figure:
    """One figure: what it shows, the rows behind it, how it is drawn and described.

    Attributes:
        id: stable id, used for the CSV name and ``sendstats figure``.
        title: the chart title.
        metric_ids: registry ids the figure draws on (their definitions caption it).
        data: the plotted rows (with provenance columns), from a context.
        chart: draws the rows (returns an altair chart).
        alt_text: states what the chart shows, with the numbers a reader needs.
        recipe: the filter and arithmetic, in words.
        needs_la: False for England-wide figures.

    """

    id: str
    title: str
    metric_ids: tuple[str, ...]
    data: Callable[[FigureContext], pl.DataFrame]
    chart: Callable[[FigureContext, pl.DataFrame], Any]
    alt_text: Callable[[FigureContext, pl.DataFrame], str]
    recipe: Callable[[FigureContext], str]
    needs_la: bool = True


_FIGURES: dict[str, Figure] = {}


def register_figure(fig: Figure) -> Figure:
    """Register a figure; an id may be registered once."""
    if fig.id in _FIGURES and _FIGURES[fig.id] is not fig:
        raise ValueError(f"figure id {fig.id!r} registered twice")
    _FIGURES[fig.id] = fig
    return fig


def _load_all() -> None:
    from sendstats.report.figures import england, inclusion, la  # noqa: F401


def get_figure(figure_id: str) -> Figure:
    """Return a registered figure, or raise listing the known ids."""
    _load_all()
    try:
        return _FIGURES[figure_id]
    except KeyError:
        known = ", ".join(sorted(_FIGURES))
        raise UnknownFigureError(f"unknown figure {figure_id!r}; known: {known}") from None


def all_figures() -> list[Figure]:
    """Return every registered figure, sorted by id."""
    _load_all()
    return [_FIGURES[k] for k in sorted(_FIGURES)]


def csv_name(fig: Figure, ctx: FigureContext) -> str:
    """Return a figure's CSV name: ``<dfe code>__<id>.csv`` (LA marked) or ``england__<id>``."""
    who = ctx.la.la_code_dfe if ctx.la is not None else "england"
    return f"{who}__{fig.id.removeprefix('england_')}.csv"


def figure_dir() -> Path | None:
    """Return the folder named by ``SENDSTATS_FIGURE_DIR`` (set by the renderers), if any."""
    folder = os.environ.get("SENDSTATS_FIGURE_DIR")
    return Path(folder) if folder else None


def write_csv(data: pl.DataFrame, path: Path) -> Path:
    """Write a figure's or table's rows as CSV (through a temp file) and return the path."""
    from sendstats.core import io as sio

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.atomic_write_text(path, data.write_csv())
    return path


def export_csv(fig: Figure, ctx: FigureContext, data: pl.DataFrame, folder: Path) -> Path:
    """Write a figure's data as CSV into ``folder`` and return its path."""
    return write_csv(data, folder / csv_name(fig, ctx))


def load_figure_context(la: geography.LocalAuthority | None) -> FigureContext:
    """Load every metric and benchmark row, for one LA's figures or (``None``) England's.

    The tables are read once per kernel and reused while their files are unchanged (checked
    by size and modification time on every call), so a batch worker rendering profile after
    profile does not read and index the same tables 80 times.
    """
    tables = load_tables()
    return FigureContext(la, tables.metrics, tables.bench, tables)


_LOADED: dict[tuple[tuple[str, int, int], ...], Tables] = {}


def load_tables() -> Tables:
    """Return the built metric and benchmark tables (cached while their files are unchanged)."""
    from sendstats.benchmarking.api import benchmarks_path, load_benchmarks
    from sendstats.core import config
    from sendstats.metrics import METRIC_TABLES
    from sendstats.metrics.tables import load_metrics

    paths = [config.metrics_dir() / f"{name}.parquet" for name in METRIC_TABLES]
    paths.append(benchmarks_path())
    key = tuple(_stamp(p) for p in paths)
    if key not in _LOADED:
        _LOADED.clear()  # one build's tables at a time
        _LOADED[key] = Tables(load_metrics(), load_benchmarks())
    return _LOADED[key]


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return (str(path), -1, -1)  # load_metrics / load_benchmarks say to build first
    return (str(path), st.st_mtime_ns, st.st_size)
