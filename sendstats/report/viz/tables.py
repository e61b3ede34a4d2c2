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
    widths = {c: f"{w}%" for c, w in SUMMARY_HTML_WIDTHS.items() if c in rows.columns}
    if len(widths) == len(rows.columns):  # the profile's eight columns: metric names widest
        table = table.cols_width(cases=widths)
    return table


def _typst_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


#: Widths (% of the table) of the summary's eight columns in HTML: the metric name gets the
#: room the value column does not need, so it wraps onto two lines, not four.
SUMMARY_HTML_WIDTHS = {
    "Metric": 25,
    "Period": 9,
    "LA (95% interval)": 20,  # "55.0% (53.4% to 56.5%)" on one line; longer ones wrap
    "Quartile": 11,
    "Rank": 9,
    "vs England": 8,
    "Neighbours": 10,
    "England": 8,
}

#: Relative widths of the summary's eight columns on an A4 page (metric name widest; the
#: others fit "January 2025", "Second-highest quarter" and "122 of 153" in two lines at most).
SUMMARY_WIDTHS = (13.6, 5.2, 6.4, 6.6, 4.8, 3.2, 4.6, 3.8)


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
