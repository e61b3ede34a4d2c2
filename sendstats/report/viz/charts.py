"""Chart builders for the reports. Each takes a tidy frame and returns an ``alt.Chart``.

Every chart carries a description (its alt text, exposed as the SVG's aria-label) and is built
from a small aggregated frame (one row per series and year), which is also what the report
exports as CSV so the figure can be rebuilt.
"""

from __future__ import annotations

import math
from typing import Any

import altair as alt
import polars as pl

from sendstats.report.viz.theme import ROLE_STYLES, role_scales


def with_segments(data: pl.DataFrame, x_order: str = "year") -> pl.DataFrame:
    """Add ``segment``: runs of consecutive years within each series.

    Lines are drawn per segment, so no line crosses a missing year: a gap stays a gap.
    """
    return (
        data.sort("series", x_order)
        .with_columns(
            (pl.col(x_order).cast(pl.Int64) - pl.int_range(pl.len()).over("series")).alias("_run")
        )
        .with_columns(
            (pl.col("series") + pl.lit(" from ") + pl.col("_run").cast(pl.Utf8)).alias("segment")
        )
        .drop("_run")
    )


def trend_chart(
    data: pl.DataFrame,
    *,
    title: str,
    subtitle: str,
    y_title: str,
    alt_text: str,
    roles: dict[str, str],
    y_zero: bool = False,
    x_field: str = "year",
    y_format: str = ",~f",
    y_label_expr: str | None = None,
) -> alt.Chart:
    """Line chart of ``value`` by period for each ``series``, distinguishable without colour.

    ``x_field`` names another period column for the axis (e.g. ``period`` = "2021-22").

    Args:
        data: columns ``series``, ``year`` (int), ``segment`` (see :func:`with_segments`),
            ``value`` and ``x_field``.
        roles: series name -> role (``la``, ``region``, ``neighbours``, ``england``, ...), in
            legend order; each role has one fixed colour, dash and shape in every chart.
        y_label_expr: a Vega expression for the y labels (money in £bn or £m).

    """
    sc = role_scales({k: v for k, v in roles.items() if k in set(data["series"])})
    legend = alt.Legend(title=None, orient="bottom", symbolStrokeWidth=2.5, labelLimit=320)
    x_sort = (
        data.sort("year")[x_field].unique(maintain_order=True).to_list()
        if x_field != "year"
        else "ascending"
    )
    base = alt.Chart(data, description=alt_text).encode(
        x=alt.X(f"{x_field}:O", title=None, sort=x_sort, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(
            "value:Q",
            title=y_title,
            scale=alt.Scale(zero=y_zero),
            axis=alt.Axis(format=y_format, labelExpr=y_label_expr or alt.Undefined),
        ),
        color=alt.Color(
            "series:N",
            scale=alt.Scale(domain=sc["domain"], range=sc["color"]),
            sort=sc["domain"],
            legend=legend,
        ),
        strokeDash=alt.StrokeDash(
            "series:N", scale=alt.Scale(domain=sc["domain"], range=sc["dash"]), legend=legend
        ),
        shape=alt.Shape(
            "series:N", scale=alt.Scale(domain=sc["domain"], range=sc["shape"]), legend=legend
        ),
        tooltip=["series:N", f"{x_field}:O", alt.Tooltip("value:Q", format=",.1f")],
    )
    chart = (base.mark_line().encode(detail="segment:N") + base.mark_point()).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=280
    )
    return chart  # type: ignore[no-any-return,return-value]


def _references(refs: dict[str, float | None], axis: str, y_offset: int) -> list[Any]:
    """Return labelled reference rules (England solid black, median grey dotted) for a chart."""
    layers: list[Any] = []
    styles = {"England": ("#000000", [6, 3]), "Median LA": ("#6b6b6b", [2, 2])}
    for name, value in refs.items():
        if value is None:
            continue
        color, dash = styles.get(name, ("#000000", [6, 3]))
        ref = alt.Chart(pl.DataFrame({"ref_label": [name], "ref_value": [value]}))
        enc = {axis: alt.X("ref_value:Q") if axis == "x" else alt.Y("ref_value:Q")}
        layers.append(ref.mark_rule(strokeDash=dash, color=color, strokeWidth=1.5).encode(**enc))
        text = ref.mark_text(
            align="left" if axis == "x" else "right",
            dx=3 if axis == "x" else -2,
            dy=0 if axis == "x" else y_offset,
            fontSize=11,
            color=color,
        )
        if axis == "x":
            below = name != "England"
            layers.append(
                text.encode(
                    x="ref_value:Q",
                    y=alt.value(82 if below else -2),
                    text="ref_label:N",
                )
            )
        else:
            layers.append(text.encode(y="ref_value:Q", x=alt.value(560), text="ref_label:N"))
        y_offset += 12
    return layers


def bar_rank_chart(
    data: pl.DataFrame,
    *,
    highlight: str,
    title: str,
    subtitle: str,
    x_title: str,
    alt_text: str,
    references: dict[str, float | None] | None = None,
    x_format: str = ",.1f",
) -> alt.LayerChart:
    """Dot strip of every LA's value with the chosen LA marked and labelled.

    England (dashed black) and the median LA (dotted grey) are drawn as labelled rules
    (``references``: ``england`` and ``median`` values, same period as the strip).

    Args:
        data: columns ``area_name`` and ``value``; one row per LA.
        highlight: the ``area_name`` to mark.

    """
    df = data.with_columns(
        (pl.col("area_name") == highlight).alias("is_la"),
    )
    la = ROLE_STYLES["la"].color
    base = alt.Chart(df)
    x = alt.X("value:Q", title=x_title, axis=alt.Axis(format=x_format))
    dots = (
        base.mark_tick(thickness=1.5, size=18, color=ROLE_STYLES["other"].color)
        .encode(x=x, tooltip=["area_name:N", alt.Tooltip("value:Q", format=",.1f")])
        .transform_filter("!datum.is_la")
    )
    refs = references or {}
    named = {"England": refs.get("england"), "Median LA": refs.get("median")}
    layers: list[Any] = [dots, *_references(named, "x", -4)]
    if (df["is_la"]).any():
        layers.append(
            base.mark_tick(thickness=4, size=34, color=la)
            .encode(x="value:Q")
            .transform_filter("datum.is_la")
        )
        layers.append(
            base.mark_text(dy=30, fontWeight="bold", color=la)
            .encode(x="value:Q", text="area_name:N")
            .transform_filter("datum.is_la")
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=70
    )
    return chart  # type: ignore[return-value]


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


def _log_ticks(low: float, high: float) -> list[float]:
    """Return 1-2-5 ticks between ``low`` and ``high`` for a log axis (no minor gridlines)."""
    ticks = []
    decade = 10 ** math.floor(math.log10(max(low, 1e-9)))
    while decade <= high:
        ticks += [t for t in (decade, 2 * decade, 5 * decade) if low <= t <= high]
        decade *= 10
    return ticks


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

    The LA is labelled in the top-left corner of the plot (with its value), not beside its
    point, so the label never sits on a limit or England line; the x axis ends near the data
    and has 1-2-5 ticks only.

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
    low = float(points["denominator"].min())  # type: ignore[arg-type]
    high = float(points["denominator"].max())  # type: ignore[arg-type]
    x = alt.X(
        "denominator:Q",
        title=x_title,
        scale=alt.Scale(type="log", domain=[low * 0.85, high * 1.15], nice=False),
        axis=alt.Axis(values=_log_ticks(low * 0.85, high * 1.15), format=",.0f", grid=False),
    )
    y = alt.Y("value:Q", title=y_title)
    dash = alt.StrokeDash(
        "layer:N",
        scale=alt.Scale(
            domain=["England", "95% limits", "99.8% limits"], range=[[6, 3], [4, 2], [1, 2]]
        ),
        legend=alt.Legend(title=None, orient="bottom"),
    )
    limit_lines = (
        alt.Chart(lines)
        .mark_line(color="#555555", strokeWidth=1.2, clip=True)
        .encode(x=x, y=y, strokeDash=dash, detail="side:N")
    )
    dots = (
        alt.Chart(points)
        .mark_circle(size=28, color=ROLE_STYLES["other"].color, opacity=0.7, clip=True)
        .encode(
            x=x,
            y=y,
            tooltip=["area_name:N", alt.Tooltip("value:Q", format=",.2f"), "denominator:Q"],
        )
        .transform_filter("!datum.is_la")
    )
    layers: list[Any] = [limit_lines, dots]
    if highlight and points["is_la"].any():
        la = ROLE_STYLES["la"]
        mine = alt.Chart(points).transform_filter("datum.is_la")
        layers.append(
            mine.mark_point(shape=la.shape, size=150, filled=True, color=la.color).encode(x=x, y=y)
        )
        layers.append(
            mine.transform_calculate(
                label="'● ' + datum.area_name + ': ' + format(datum.value, '.1f') + '%'"
            )
            .mark_text(align="left", baseline="top", fontWeight="bold", color=la.color)
            .encode(x=alt.value(6), y=alt.value(4), text="label:N")
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=300
    )
    return chart  # type: ignore[return-value]


def dot_compare_chart(
    data: pl.DataFrame,
    *,
    roles: dict[str, str],
    title: str,
    subtitle: str,
    x_title: str,
    alt_text: str,
) -> alt.Chart:
    """Dot plot of categories (``category``) with one mark per ``series`` (shape and colour).

    Args:
        data: columns ``category``, ``series``, ``value`` (one row per category and series).
        roles: series name -> role, as for :func:`trend_chart` (the same fixed styles); the
            first is the one categories are sorted by.

    """
    sc = role_scales({k: v for k, v in roles.items() if k in set(data["series"])})
    legend = alt.Legend(title=None, orient="bottom", labelLimit=320)
    order = (
        data.filter(pl.col("series") == sc["domain"][0])
        .sort("value", descending=True)["category"]
        .to_list()
    )
    chart = (
        alt.Chart(data, description=alt_text)
        .mark_point(filled=True, size=80, opacity=1)
        .encode(
            x=alt.X("value:Q", title=x_title),
            y=alt.Y("category:N", title=None, sort=order, axis=alt.Axis(labelLimit=300)),
            color=alt.Color(
                "series:N", scale=alt.Scale(domain=sc["domain"], range=sc["color"]), legend=legend
            ),
            shape=alt.Shape(
                "series:N", scale=alt.Scale(domain=sc["domain"], range=sc["shape"]), legend=legend
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
            mine.mark_rule(color=ROLE_STYLES["la"].color, strokeWidth=3).encode(
                x=x, y="ci95_low:Q", y2="ci95_high:Q"
            )
        )
        layers.append(
            mine.mark_point(filled=True, size=140, color=ROLE_STYLES["la"].color).encode(
                x=x, y="value:Q"
            )
        )
        layers.append(
            mine.mark_text(dy=-14, fontWeight="bold", color=ROLE_STYLES["la"].color).encode(
                x=x, y="ci95_high:Q", text="area_name:N"
            )
        )
    if reference is not None:
        ref = alt.Chart(pl.DataFrame({"england": [reference], "label": ["England"]}))
        layers.append(
            ref.mark_rule(strokeDash=[6, 3], color=ROLE_STYLES["england"].color).encode(
                y="england:Q"
            )
        )
        layers.append(
            ref.mark_text(align="left", dx=4, dy=-6).encode(
                y="england:Q", x=alt.value(0), text="label:N"
            )
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=280
    )
    return chart  # type: ignore[no-any-return,return-value]


def money_label_expr(values: list[float]) -> str:
    """Return a Vega label expression showing pounds in £bn or £m, whichever suits the range."""
    top = max((abs(v) for v in values), default=0.0)
    if top >= 1e9:
        return "'£' + format(datum.value / 1e9, ',.1f') + 'bn'"
    if top >= 1e6:
        return "'£' + format(datum.value / 1e6, ',.0f') + 'm'"
    return "'£' + format(datum.value, ',.0f')"
