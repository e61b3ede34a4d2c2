"""Table builders: a frame in, a great-tables ``GT`` out, always with a source note."""

from __future__ import annotations

import polars as pl
from great_tables import GT, loc, style


def metrics_summary_table(
    rows: pl.DataFrame, *, title: str, source_note: str, legend: str | None = None
) -> GT:
    """Summary of the latest value of each metric for an LA against region and England.

    Args:
        rows: columns ``Metric``, ``Period``, ``LA``, ``Rank``, ``Region``, ``England``,
            ``Note`` (all preformatted text, so the table shows what the narrative says).
        source_note: publisher, release, files and short sha256 of the inputs.
        legend: how to read the columns (bands, significance, averaging rules).

    """
    right = ("LA", "LA (95% interval)", "Rank", "Neighbours", "Region", "England", "Change")
    numeric: list[str | int] = [c for c in right if c in rows.columns]
    table = GT(rows).tab_header(title=title)
    if legend:
        table = table.tab_source_note(legend)
    table = (
        table.tab_source_note(source_note)
        .cols_align(align="right", columns=numeric)
        .tab_style(style=style.text(weight="bold"), locations=loc.body(columns=numeric[:1]))
        .opt_row_striping()
    )
    return table
