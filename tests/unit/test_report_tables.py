"""Report pieces on small inline frames: the table index, the funnel plot's layers."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from sendstats.report.figures import base
from sendstats.report.figures.base import FigureContext, Tables

GROUPED = pl.DataFrame(
    {
        "metric_id": ["a", "a", "a", "b", "b", "c"],
        "geographic_level": ["National", "Local authority", "Regional"] * 2,
        "year": [2023, 2024, 2024, 2023, 2024, 2024],
        "value": [1.0, 2.0, None, 4.0, 5.0, 6.0],
    }
)


def test_grouped_frames_are_indexed_by_zero_copy_slices_with_every_row() -> None:
    tables = Tables(GROUPED, GROUPED)
    by_id = tables.metrics_by_id
    assert sorted(by_id) == ["a", "b", "c"]
    for mid, rows in by_id.items():
        assert rows.equals(GROUPED.filter(pl.col("metric_id") == mid))
    assert sum(r.height for r in by_id.values()) == GROUPED.height


def test_a_metric_split_across_runs_is_still_whole() -> None:
    mixed = pl.concat([GROUPED, GROUPED.head(1)])  # "a" appears again at the end
    rows = Tables(mixed, mixed).metrics_by_id["a"]
    assert rows.height == 4
    assert rows.equals(mixed.filter(pl.col("metric_id") == "a"))


def test_unknown_metric_gives_no_rows_with_the_table_columns() -> None:
    ctx = FigureContext(None, GROUPED, GROUPED)
    empty = ctx.metric_rows("nope")
    assert empty.height == 0 and empty.columns == GROUPED.columns
    assert ctx.area_rows("a", "National")["value"].to_list() == [1.0]


def test_loaded_tables_are_reused_until_a_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(tmp_path))
    (tmp_path / "metrics").mkdir()
    from sendstats.benchmarking.api import benchmarks_path
    from sendstats.metrics import METRIC_TABLES

    for name in METRIC_TABLES:
        GROUPED.write_parquet(tmp_path / "metrics" / f"{name}.parquet")
    GROUPED.write_parquet(benchmarks_path())
    base._LOADED.clear()
    first = base.load_tables()
    assert base.load_tables() is first
    changed = tmp_path / "metrics" / f"{METRIC_TABLES[0]}.parquet"
    GROUPED.head(2).write_parquet(changed)
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    second = base.load_tables()
    assert second is not first
    assert second.metrics.height == first.metrics.height - GROUPED.height + 2


def _funnel_layers(denominators: list[float]) -> list[dict[str, object]]:
    from sendstats.report.viz.charts import funnel_chart

    n = len(denominators)
    data = pl.DataFrame(
        {
            "layer": ["LA"] * n + ["England", "England"],
            "side": [None] * n + ["mid", "mid"],
            "area_name": [f"LA {i}" for i in range(n)] + ["England", "England"],
            "denominator": [*denominators, 5.0, 5000.0],
            "value": [5.0] * n + [5.0, 5.0],
        }
    )
    spec = funnel_chart(
        data,
        highlight="LA 0",
        title="t",
        subtitle="s",
        y_title="y",
        x_title="x",
        alt_text="a",
        few_below=10,
    )
    return list(spec["layer"])


def test_funnel_draws_small_bases_hollow_and_no_empty_layer() -> None:
    def hollow(layers: list[dict[str, object]]) -> int:
        return sum(1 for layer in layers if layer["mark"].get("filled") is False)  # type: ignore[attr-defined]

    assert hollow(_funnel_layers([500.0, 8.0, 900.0])) == 1  # one LA under 10 cases
    assert hollow(_funnel_layers([500.0, 80.0, 900.0])) == 0  # none: the layer is left out
    assert hollow(_funnel_layers([5.0, 80.0, 900.0])) == 0  # only the highlighted LA is small


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (9_952_172_126.0, "£9.95bn"),
        (311_663_662.0, "£311.7m"),
        (-12_345_678.0, "-£12.3m"),
        (675.4, "£675"),
        (-0.4, "£0"),
    ],
)
def test_money_reads_in_millions_and_billions(value: float, text: str) -> None:
    from sendstats.core.numbers import format_money

    assert format_money(value) == text
