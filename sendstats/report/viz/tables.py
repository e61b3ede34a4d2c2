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


def _typst_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


#: Relative widths of the summary's eight columns on an A4 page (metric name widest).
SUMMARY_WIDTHS = (2.9, 1.5, 2.3, 1.6, 1.15, 0.95, 1.1, 1.05)


def summary_typst(rows: pl.DataFrame, *, title: str, notes: list[str]) -> str:
    """Return the summary table as raw typst (markdown): one A4 page, text left, numbers right.

    The PDF gets this instead of great-tables' HTML converted by pandoc, which centred every
    cell and let a 17-row table run over two pages. ``notes``: the legend (kept with the table)
    then the sources (which may flow on).
    """
    text_cols = {"Metric", "Period", "Quartile", "vs England"}
    align = ", ".join("left" if c in text_cols else "right" for c in rows.columns)
    widths = ", ".join(f"{w}fr" for w in SUMMARY_WIDTHS[: rows.width])
    cells = [f"[#strong({_typst_str(c)})]" for c in rows.columns]
    cells += [f"[#{_typst_str(str(v))}]" for r in rows.iter_rows() for v in r]
    legend, *rest = notes
    after = "\n".join(f"#par[#{_typst_str(n)}]" for n in rest)
    return (
        "```{=typst}\n#block(breakable: false)[\n#set text(size: 7.5pt)\n"
        f"#strong({_typst_str(title)})\n"
        f"#table(columns: ({widths}), align: ({align}), inset: (x: 3pt, y: 2.6pt), "
        + ", ".join(cells)
        + f")\n#set text(size: 7pt)\n#par[#{_typst_str(legend)}]\n]\n"
        + "#block[#set text(size: 7pt)\n"
        + after
        + "\n]\n```\n"
    )
