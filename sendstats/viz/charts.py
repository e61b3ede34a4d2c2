"""Chart builders for the reports. Each takes a tidy frame and returns an ``alt.Chart``.

Every chart carries a description (its alt text, exposed as the SVG's aria-label) and is built
from a small aggregated frame (one row per series and year), which is also what the report
exports as CSV so the figure can be rebuilt.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from sendstats.viz.theme import OKABE_ITO

SHAPES = ["circle", "square", "triangle-up", "diamond", "cross"]
DASHES = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2], [4, 4]]


def trend_chart(
    data: pl.DataFrame,
    *,
    title: str,
    subtitle: str,
    y_title: str,
    alt_text: str,
    series_order: list[str],
    y_zero: bool = False,
) -> alt.Chart:
    """Line chart of ``value`` by ``year`` for each ``series``, distinguishable without colour.

    Args:
        data: columns ``series`` (str), ``year`` (int) and ``value`` (float).
        series_order: legend order (the LA first); colour, dash and shape all follow it.

    """
    n = len(series_order)
    enc_scale = alt.Scale(domain=series_order, range=OKABE_ITO[:n])
    legend = alt.Legend(title=None, orient="bottom", symbolStrokeWidth=2.5)
    base = alt.Chart(data, description=alt_text).encode(
        x=alt.X("year:O", title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=y_zero)),
        color=alt.Color("series:N", scale=enc_scale, sort=series_order, legend=legend),
        strokeDash=alt.StrokeDash(
            "series:N", scale=alt.Scale(domain=series_order, range=DASHES[:n]), legend=legend
        ),
        shape=alt.Shape(
            "series:N", scale=alt.Scale(domain=series_order, range=SHAPES[:n]), legend=legend
        ),
        tooltip=["series:N", "year:O", alt.Tooltip("value:Q", format=",.1f")],
    )
    chart = (base.mark_line() + base.mark_point()).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=280
    )
    return chart  # type: ignore[no-any-return]


def bar_rank_chart(
    data: pl.DataFrame, *, highlight: str, title: str, subtitle: str, x_title: str, alt_text: str
) -> alt.Chart:
    """Dot strip of every LA's value with the chosen LA marked and labelled.

    Args:
        data: columns ``area_name`` and ``value``; one row per LA.
        highlight: the ``area_name`` to mark.

    """
    df = data.with_columns(
        (pl.col("area_name") == highlight).alias("is_la"),
    )
    base = alt.Chart(df, description=alt_text)
    dots = (
        base.mark_tick(thickness=1.5, size=18, color="#8c8c8c")
        .encode(
            x=alt.X("value:Q", title=x_title),
            tooltip=["area_name:N", alt.Tooltip("value:Q", format=",.1f")],
        )
        .transform_filter("!datum.is_la")
    )
    mark = (
        base.mark_tick(thickness=4, size=34, color=OKABE_ITO[0])
        .encode(x="value:Q")
        .transform_filter("datum.is_la")
    )
    label = (
        base.mark_text(dy=-24, fontWeight="bold", color=OKABE_ITO[0])
        .encode(x="value:Q", text="area_name:N")
        .transform_filter("datum.is_la")
    )
    chart = (dots + mark + label).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=70
    )
    return chart  # type: ignore[no-any-return]


def to_svg(chart: alt.TopLevelMixin, alt_text: str) -> str:
    """Render a chart to standalone SVG (offline, via vl-convert) carrying its alt text.

    The root ``<svg>`` gets ``role="img"``, an ``aria-label`` and a ``<title>``, so screen
    readers announce what the chart shows, in HTML and in PDF alike.
    """
    import html

    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_dict())
    label = html.escape(alt_text, quote=True)
    head, sep, rest = svg.partition(">")
    if not sep or not head.startswith("<svg"):
        raise ValueError("vl-convert did not return an SVG document")
    return f'{head} role="img" aria-label="{label}">' + f"<title>{label}</title>" + rest
