"""How a report cell hands a chart or a table to a renderer: one markdown output, raw blocks.

Both renderers (Quarto and sendstats' fallback) read a cell's ``text/markdown`` output as
document markdown, so a chart or table is displayed as markdown holding raw blocks, not as an
image or ``text/html`` display:

- a **chart** is a ```` ```{=html} ```` block with the SVG inline (``role="img"`` and the
  chart's own ``aria-label``, its ids made unique on the page) followed by a ```` ```{=typst} ````
  block drawing the same SVG with the same text as its ``alt``. Quarto gives an image output
  the cell's ``fig-alt`` (the same for every chart in the cell, and not LA-specific), and an
  image needs a file; raw blocks carry each chart's own alt text in both engines and both
  formats, and each format keeps only its own block.
- a **table** is a ```` ```{=html} ```` block. A ``text/html`` display makes Quarto load
  require.js and jquery from a CDN (it cannot tell a table from a JavaScript widget); a raw
  HTML table is self-contained, and Quarto (and the fallback) turn it into a typst table for
  PDF, which breaks across pages.
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

__all__ = ["chart_bundle", "fenced", "table_bundle", "unique_svg_ids"]

_ID = re.compile(r'\bid="([^"]+)"')
_ID_USE = re.compile(r'(\bid="|url\(#|href="#)([^"\)]+)(?=["\)])')

#: Widest a chart is drawn in the PDF (the text width of an A4 page with 2 cm margins).
_PDF_WIDTH = "100%"


def fenced(text: str, info: str) -> str:
    """Return ``text`` in a backtick fence longer than any backtick run inside it."""
    runs = re.findall(r"`+", text) if "`" in text else []  # a chart's SVG has none
    longest = max((len(run) for run in runs), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.strip()}\n{fence}\n"


def unique_svg_ids(svg: str, prefix: str) -> str:
    """Prefix every id of ``svg`` (and its ``url(#..)``/``href="#.."`` uses) with ``prefix``.

    Vega names its clip paths ``clip1``, ``clip2`` ... in every chart; two charts inline on one
    page would clip each other's marks.
    """
    # Most charts have no id at all: a substring test skips the regex scan of their SVG.
    ids = set(_ID.findall(svg)) if 'id="' in svg else set()
    if not ids:
        return svg
    # One pass over every id-like reference, renaming those that are ids of this SVG.
    return _ID_USE.sub(lambda m: f"{m[1]}{prefix}-{m[2]}" if m[2] in ids else m[0], svg)


def _typst_string(text: str) -> str:
    """Return ``text`` as a typst string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def chart_bundle(svg: str, alt_text: str) -> dict[str, Any]:
    """Return the display bundle of a chart: inline SVG for HTML, an image for typst.

    ``svg`` is a standalone SVG document; ``alt_text`` is what the chart shows, for this LA.
    """
    svg = re.sub(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", "", svg)
    prefix = "c" + hashlib.sha1((svg + alt_text).encode("utf-8")).hexdigest()[:8]
    inline = unique_svg_ids(svg, prefix)
    root = re.search(r"<svg\b[^>]*>", inline)
    if root is None:
        raise ValueError("chart_bundle needs an SVG document")
    tag = re.sub(r'\s(role|aria-label|aria-labelledby)="[^"]*"', "", root[0])
    label = html.escape(alt_text, quote=True)
    tag = tag.replace("<svg", f'<svg role="img" aria-label="{label}"', 1)
    inline = inline[: root.start()] + tag + inline[root.end() :]
    # The chart is drawn at its own size, narrowed to the text width when wider, in a figure:
    # typst gives a figure's image alt text to the PDF's tag tree (a Figure with /Alt).
    alt = _typst_string(alt_text)
    typst = (
        f"#{{\n  let data = bytes({_typst_string(svg)})\n"
        f'  let chart = image(data, format: "svg", alt: {alt})\n'
        "  figure(layout(size => if measure(chart).width > size.width {\n"
        f'    image(data, format: "svg", alt: {alt}, width: {_PDF_WIDTH})\n'
        "  } else { chart }))\n}"
    )
    markdown = fenced(inline, "{=html}") + "\n" + fenced(typst, "{=typst}")
    return {"text/markdown": markdown, "text/plain": f"<chart: {alt_text}>"}


def table_bundle(table_html: str, summary: str = "table") -> dict[str, Any]:
    """Return the display bundle of an HTML table (for example ``GT.as_raw_html()``)."""
    return {"text/markdown": fenced(table_html, "{=html}"), "text/plain": f"<{summary}>"}
