"""Chart builders for the reports. Each takes a tidy frame and returns an ``alt.Chart``.

Every chart carries a description (its alt text, exposed as the SVG's aria-label) and is built
from a small aggregated frame (one row per series and year), which is also what the report
exports as CSV so the figure can be rebuilt.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import polars as pl

from sendstats.report.viz.theme import OKABE_ITO

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
    x_field: str = "year",
) -> alt.Chart:
    """Line chart of ``value`` by ``year`` for each ``series``, distinguishable without colour.

    ``x_field`` names another period column for the axis (e.g. ``period`` = "2021-22").

    Args:
        data: columns ``series`` (str), ``year`` (int) and ``value`` (float).
        series_order: legend order (the LA first); colour, dash and shape all follow it.

    """
    n = len(series_order)
    enc_scale = alt.Scale(domain=series_order, range=OKABE_ITO[:n])
    legend = alt.Legend(title=None, orient="bottom", symbolStrokeWidth=2.5, labelLimit=320)
    base = alt.Chart(data, description=alt_text).encode(
        x=alt.X(f"{x_field}:O", title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=y_zero)),
        color=alt.Color("series:N", scale=enc_scale, sort=series_order, legend=legend),
        strokeDash=alt.StrokeDash(
            "series:N", scale=alt.Scale(domain=series_order, range=DASHES[:n]), legend=legend
        ),
        shape=alt.Shape(
            "series:N", scale=alt.Scale(domain=series_order, range=SHAPES[:n]), legend=legend
        ),
        tooltip=["series:N", f"{x_field}:O", alt.Tooltip("value:Q", format=",.1f")],
    )
    chart = (base.mark_line() + base.mark_point()).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=280
    )
    return chart  # type: ignore[no-any-return,return-value]


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
    return chart  # type: ignore[no-any-return,return-value]


def to_svg(chart: alt.TopLevelMixin, alt_text: str) -> str:
    """Render a chart to standalone SVG (offline, via vl-convert) carrying its alt text.

    The root ``<svg>`` gets ``role="img"``, an ``aria-label`` and a ``<title>``, so screen
    readers announce what the chart shows, in HTML and in PDF alike.
    """
    import html

    import vl_convert as vlc

    # No JSON-schema validation here: it took as long as drawing the SVG, once per chart of
    # every LA profile; the builders' specs are validated by the tests (``chart.to_dict()``).
    svg = vlc.vegalite_to_svg(chart.to_dict(validate=False))
    label = html.escape(alt_text, quote=True)
    head, sep, rest = svg.partition(">")
    if not sep or not head.startswith("<svg"):
        raise ValueError("vl-convert did not return an SVG document")
    return f'{head} role="img" aria-label="{label}">' + f"<title>{label}</title>" + rest


def funnel_chart(
    data: pl.DataFrame,
    *,
    highlight: str | None,
    title: str,
    subtitle: str,
    y_title: str,
    x_title: str,
    alt_text: str,
) -> alt.LayerChart:
    """Funnel plot: every LA's value against its denominator, with limits around England.

    Args:
        data: long frame with ``layer`` (``LA`` for points; ``England``, ``95% limits``,
            ``99.8% limits`` for lines, split by ``side``), ``area_name``, ``denominator``
            and ``value``. Limits are drawn as dashed (95%) and dotted (99.8%) lines, so the
            chart reads without colour.
        highlight: the ``area_name`` to mark and label (None: no LA marked).

    """
    points = data.filter(pl.col("layer") == "LA").with_columns(
        (pl.col("area_name") == (highlight or "")).alias("is_la")
    )
    lines = data.filter(pl.col("layer") != "LA")
    x = alt.X("denominator:Q", title=x_title, scale=alt.Scale(type="log"))
    y = alt.Y("value:Q", title=y_title)
    dash = alt.StrokeDash(
        "layer:N",
        scale=alt.Scale(
            domain=["England", "95% limits", "99.8% limits"], range=[[1, 0], [6, 3], [2, 2]]
        ),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    limit_lines = (
        alt.Chart(lines)
        .mark_line(color="#555555", strokeWidth=1.2)
        .encode(x=x, y=y, strokeDash=dash, detail="side:N")
    )
    dots = (
        alt.Chart(points)
        .mark_circle(size=28, color="#8c8c8c", opacity=0.7)
        .encode(
            x=x,
            y=y,
            tooltip=["area_name:N", alt.Tooltip("value:Q", format=",.2f"), "denominator:Q"],
        )
        .transform_filter("!datum.is_la")
    )
    layers = [limit_lines, dots]
    if highlight:
        mine = alt.Chart(points).transform_filter("datum.is_la")
        layers.append(
            mine.mark_point(shape="diamond", size=160, filled=True, color=OKABE_ITO[0]).encode(
                x=x, y=y
            )
        )
        layers.append(
            mine.mark_text(dx=10, align="left", fontWeight="bold", color=OKABE_ITO[0]).encode(
                x=x, y=y, text="area_name:N"
            )
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=300
    )
    return chart  # type: ignore[return-value]


def dot_compare_chart(
    data: pl.DataFrame,
    *,
    series_order: list[str],
    title: str,
    subtitle: str,
    x_title: str,
    alt_text: str,
) -> alt.Chart:
    """Dot plot of categories (``category``) with one mark per ``series`` (shape and colour).

    Args:
        data: columns ``category``, ``series``, ``value`` (one row per category and series).

    """
    n = len(series_order)
    legend = alt.Legend(title=None, orient="bottom")
    order = (
        data.filter(pl.col("series") == series_order[0])
        .sort("value", descending=True)["category"]
        .to_list()
    )
    chart = (
        alt.Chart(data, description=alt_text)
        .mark_point(filled=True, size=80)
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y("category:N", title=None, sort=order),
            color=alt.Color(
                "series:N", scale=alt.Scale(domain=series_order, range=OKABE_ITO[:n]), legend=legend
            ),
            shape=alt.Shape(
                "series:N", scale=alt.Scale(domain=series_order, range=SHAPES[:n]), legend=legend
            ),
            tooltip=["category:N", "series:N", alt.Tooltip("value:Q", format=",.1f")],
        )
        .properties(title=alt.TitleParams(text=title, subtitle=subtitle), width=460)
    )
    return chart  # type: ignore[no-any-return,return-value]


def caterpillar_chart(
    data: pl.DataFrame,
    *,
    highlight: str | None,
    reference: float | None,
    title: str,
    subtitle: str,
    y_title: str,
    alt_text: str,
) -> alt.LayerChart:
    """Every LA's value with its 95% interval, in rank order, the chosen LA marked.

    Args:
        data: columns ``area_name``, ``value``, ``ci95_low``, ``ci95_high``, ``position``
            (1 = highest value).
        reference: the England value, drawn as a labelled horizontal line.

    """
    df = data.with_columns((pl.col("area_name") == (highlight or "")).alias("is_la"))
    x = alt.X("position:Q", title="LAs in order of value (1 = highest)")
    base = alt.Chart(df)
    bars = base.mark_rule(color="#b0b0b0").encode(
        x=x, y=alt.Y("ci95_low:Q", title=y_title), y2="ci95_high:Q"
    )
    dots = base.mark_circle(size=16, color="#6b6b6b").encode(
        x=x, y="value:Q", tooltip=["area_name:N", alt.Tooltip("value:Q", format=",.1f")]
    )
    layers: list[Any] = [bars, dots]
    if highlight:
        mine = base.transform_filter("datum.is_la")
        layers.append(
            mine.mark_rule(color=OKABE_ITO[0], strokeWidth=3).encode(
                x=x, y="ci95_low:Q", y2="ci95_high:Q"
            )
        )
        layers.append(
            mine.mark_point(shape="diamond", filled=True, size=140, color=OKABE_ITO[0]).encode(
                x=x, y="value:Q"
            )
        )
        layers.append(
            mine.mark_text(dy=-14, fontWeight="bold", color=OKABE_ITO[0]).encode(
                x=x, y="ci95_high:Q", text="area_name:N"
            )
        )
    if reference is not None:
        ref = alt.Chart(pl.DataFrame({"england": [reference], "label": ["England"]}))
        layers.append(ref.mark_rule(strokeDash=[6, 3], color="#000000").encode(y="england:Q"))
        layers.append(
            ref.mark_text(align="left", dx=4, dy=-6).encode(
                y="england:Q", x=alt.value(0), text="label:N"
            )
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=280
    )
    return chart  # type: ignore[no-any-return,return-value]
