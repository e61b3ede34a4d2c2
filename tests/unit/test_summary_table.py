"""The summary table gives the metric names room to read (issue 19, PDF and HTML).

Metric titles such as "New EHC plans issued within 20 weeks, excluding exceptions (%)" wrapped
over three or four lines while the value column stood half empty; both the great-tables HTML
and the typst table the PDF uses now size the columns, metric name widest.
"""

from __future__ import annotations

import re

import polars as pl

from sendstats.report.viz import tables

COLUMNS = ("Metric", "Period", "LA (95% interval)", "Quartile", "Rank", "vs England")
COLUMNS += ("Neighbours", "England")


def _rows() -> pl.DataFrame:
    row = (
        "New EHC plans issued within 20 weeks, excluding exceptions (%)",
        "January 2025",
        "55.0% (53.4% to 56.5%)",
        "Second-highest quarter",
        "122 of 153",
        "Higher",
        "13.5%",
        "154,489",
    )
    return pl.DataFrame([dict(zip(COLUMNS, row, strict=True))])


def test_pdf_table_gives_the_metric_name_the_widest_column() -> None:
    typst = tables.summary_typst(_rows(), title="Kent at a glance", notes=["legend", "source"])
    spec = re.search(r"columns: \(([^)]*)\)", typst)
    assert spec is not None
    widths = [float(w.removesuffix("fr")) for w in spec[1].split(", ")]
    assert len(widths) == len(COLUMNS)
    assert widths[0] == max(widths) and widths[0] / sum(widths) >= 0.25


def test_html_table_sets_every_column_width_metric_widest() -> None:
    html = tables.metrics_summary_table(_rows(), title="t", source_note="s").as_raw_html()
    widths = [int(w) for w in re.findall(r'<col style="width:(\d+)%;?"', html)]
    assert len(widths) == len(COLUMNS), html[:400]
    assert sum(widths) == 100 and widths[0] == max(widths)
