"""Chart builders for the reports. Each takes a tidy frame and returns an ``alt.Chart``.

Every chart carries a description (its alt text, exposed as the SVG's aria-label) and is built
from a small aggregated frame (one row per series and year), which is also what the report
exports as CSV so the figure can be rebuilt.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import altair as alt
import polars as pl
from altair.utils import schemapi

from sendstats.report.viz.engine import warm_up
from sendstats.report.viz.theme import ROLE_STYLES, role_scales

FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)
P = ParamSpec("P")
R = TypeVar("R")


def unchecked(build: Callable[P, R]) -> Callable[P, R]:
    """Run a chart builder with altair's validation of each object at creation turned off.

    altair checks every encoding, scale and title against the Vega-Lite schema as it is
    made (its "debug mode"), about 30 ms of a profile's two altair-built charts; the tests
    validate each builder's whole spec once (``to_dict()``), which catches the same errors.
    The switch is altair's own and is restored on return, so a user's charts are unaffected.
    """

    @functools.wraps(build)
    def built(*args: P.args, **kwargs: P.kwargs) -> R:
        with schemapi.debug_mode(False):
            return build(*args, **kwargs)

    return built


def with_segments(data: FrameT, x_order: str = "year") -> FrameT:
    """Add ``segment``: runs of consecutive years within each series.

    Lines are drawn per segment, so no line crosses a missing year: a gap stays a gap. A
    lazy frame stays lazy, so a caller building one query pays for one collect.
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


class Spec(dict[str, Any]):
    """A Vega-Lite spec built as plain data, with altair's ``to_dict`` for callers and tests.

    Building a chart through altair's object model cost about 0.1 s of CPU a chart (schema
    hashing and copying), as much as drawing it; the trend charts, a profile's most common,
    are therefore built as data. ``to_dict()`` validates against the Vega-Lite schema (through
    altair), ``to_dict(validate=False)`` does not.
    """

    def to_dict(self, validate: bool = True) -> dict[str, Any]:
        """Return the spec (a deep copy), validated against the Vega-Lite schema by default."""
        spec: dict[str, Any] = json.loads(json.dumps(self))
        if validate:
            alt.LayerChart.from_dict(spec, validate=True)
        return spec


def _dataset(data: pl.DataFrame) -> tuple[str, list[dict[str, Any]]]:
    """Return a named inline dataset (name from the content, as altair names them)."""
    rows = data.to_dicts()
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
    return f"data-{digest[:32]}", rows


def trend_chart(
    data: pl.DataFrame,
    *,
    title: str,
    subtitle: str | list[str],
    y_title: str,
    alt_text: str,
    roles: dict[str, str],
    y_zero: bool = False,
    x_field: str = "year",
    y_format: str = ",~f",
    y_label_expr: str | None = None,
    caution_field: str | None = None,
) -> Spec:
    """Line chart of ``value`` by period for each ``series``, distinguishable without colour.

    ``x_field`` names another period column for the axis (e.g. ``period`` = "2021-22").

    Args:
        data: columns ``series``, ``year`` (int), ``segment`` (see :func:`with_segments`),
            ``value`` and ``x_field``.
        roles: series name -> role (``la``, ``region``, ``neighbours``, ``england``, ...), in
            legend order; each role has one fixed colour, dash and shape in every chart.
        y_label_expr: a Vega expression for the y labels (money in £bn or £m).
        caution_field: a boolean column; its true rows are drawn as hollow points (values
            resting on few cases), so a swing of one case does not look like a solid trend.

    """
    sc = role_scales({k: v for k, v in roles.items() if k in set(data["series"])})
    legend = {"title": None, "orient": "bottom", "symbolStrokeWidth": 2.5, "labelLimit": 320}
    x_sort: Any = (
        data.sort("year")[x_field].unique(maintain_order=True).to_list()
        if x_field != "year"
        else "ascending"
    )
    y_axis: dict[str, Any] = {"format": y_format}
    if y_label_expr:
        y_axis["labelExpr"] = y_label_expr
    encoding = {
        "x": {
            "field": x_field,
            "type": "ordinal",
            "title": None,
            "sort": x_sort,
            "axis": {"labelAngle": 0},
        },
        "y": {
            "field": "value",
            "type": "quantitative",
            "title": y_title,
            "scale": {"zero": y_zero},
            "axis": y_axis,
        },
        "color": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": sc["domain"], "range": sc["color"]},
            "sort": sc["domain"],
            "legend": legend,
        },
        "strokeDash": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": sc["domain"], "range": sc["dash"]},
            "legend": legend,
        },
        "shape": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": sc["domain"], "range": sc["shape"]},
            "legend": legend,
        },
        "tooltip": [
            {"field": "series", "type": "nominal"},
            {"field": x_field, "type": "ordinal"},
            {"field": "value", "type": "quantitative", "format": ",.1f"},
        ],
    }
    # The line's own encoding has no shape: with one, Vega-Lite overlays filled points on the
    # line, which would hide the hollow ones; the point layers draw every point once.
    line = {
        **{k: v for k, v in encoding.items() if k != "shape"},
        "detail": {"field": "segment", "type": "nominal"},
    }
    points: list[dict[str, Any]] = [{"mark": {"type": "point"}, "encoding": encoding}]
    if caution_field and data[caution_field].any():
        hollow = f'datum["{caution_field}"]'
        points = [
            {**points[0], "transform": [{"filter": f"!{hollow}"}]},
            {
                "mark": {"type": "point", "filled": False, "strokeWidth": 2, "size": 70},
                "encoding": encoding,
                "transform": [{"filter": hollow}],
            },
        ]
    return layered_spec(
        data,
        [{"mark": {"type": "line"}, "encoding": line}, *points],
        title=title,
        subtitle=subtitle,
        alt_text=alt_text,
        height=280,
    )


def _references(refs: dict[str, float | None]) -> list[dict[str, Any]]:
    """Return labelled vertical reference rules: England dashed black, the median LA dotted."""
    layers: list[dict[str, Any]] = []
    styles = {"England": ("#000000", [6, 3]), "Median LA": ("#6b6b6b", [2, 2])}
    shown = {k: v for k, v in refs.items() if v is not None}
    lowest = min(shown, key=lambda k: shown[k]) if len(shown) > 1 else None
    for name, value in shown.items():
        color, dash = styles[name]
        # Labels sit above the strip, each on its own side of the rules, so they never meet.
        side = {"align": "right", "dx": -3} if name == lowest else {"align": "left", "dx": 3}
        data = {"values": [{"ref_label": name, "ref_value": value}]}
        x = {"field": "ref_value", "type": "quantitative"}
        layers.append(
            {
                "data": data,
                "mark": {"type": "rule", "strokeDash": dash, "color": color, "strokeWidth": 1.5},
                "encoding": {"x": x},
            }
        )
        layers.append(
            {
                "data": data,
                "mark": {"type": "text", **side, "fontSize": 11, "color": color},
                "encoding": {
                    "x": x,
                    "y": {"value": -4},
                    "text": {"field": "ref_label", "type": "nominal"},
                },
            }
        )
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
) -> Spec:
    """Dot strip of every LA's value with the chosen LA marked and labelled.

    England (dashed black) and the median LA (dotted grey) are drawn as labelled rules
    (``references``: ``england`` and ``median`` values, same period as the strip). Built as
    Vega-Lite data, like :func:`trend_chart`.

    Args:
        data: columns ``area_name`` and ``value``; one row per LA.
        highlight: the ``area_name`` to mark.

    """
    df = data.with_columns((pl.col("area_name") == highlight).alias("is_la"))
    la = ROLE_STYLES["la"].color
    x = {
        "field": "value",
        "type": "quantitative",
        "title": x_title,
        "axis": {"format": x_format},
        "scale": {"zero": False},
    }
    refs = references or {}
    layers: list[dict[str, Any]] = [
        {
            "mark": {
                "type": "tick",
                "thickness": 1.5,
                "size": 18,
                "color": ROLE_STYLES["other"].color,
            },
            "encoding": {
                "x": x,
                "tooltip": [
                    {"field": "area_name", "type": "nominal"},
                    {"field": "value", "type": "quantitative", "format": ",.1f"},
                ],
            },
            "transform": [{"filter": "!datum.is_la"}],
        },
        *_references({"England": refs.get("england"), "Median LA": refs.get("median")}),
    ]
    if df["is_la"].any():
        mine = [{"filter": "datum.is_la"}]
        value = {"field": "value", "type": "quantitative"}
        layers.append(
            {
                "mark": {"type": "tick", "thickness": 4, "size": 34, "color": la},
                "encoding": {"x": value},
                "transform": mine,
            }
        )
        layers.append(
            {
                "mark": {"type": "text", "dy": 30, "fontWeight": "bold", "color": la},
                "encoding": {"x": value, "text": {"field": "area_name", "type": "nominal"}},
                "transform": mine,
            }
        )
    return layered_spec(df, layers, title=title, subtitle=subtitle, alt_text=alt_text, height=70)


if os.environ.get("SENDSTATS_FIGURE_DIR"):  # inside a render (the renderers set it): warm now
    warm_up()


def description(chart: alt.TopLevelMixin | Spec) -> str:
    """Return the alt text a chart builder put on the chart (its ``description``), or ``""``.

    Every builder here takes the figure's alt text and sets it; reading it back spares the
    report working the same sentence out twice per chart.
    """
    if isinstance(chart, Spec):
        text = chart.get("description")
    else:
        text = getattr(chart, "description", None)
    return text if isinstance(text, str) else ""


@unchecked
def to_svg(chart: alt.TopLevelMixin | Spec, alt_text: str) -> str:
    """Render a chart to standalone SVG (offline, via vl-convert) carrying its alt text.

    The root ``<svg>`` gets ``role="img"``, an ``aria-label`` and a ``<title>``, so screen
    readers announce what the chart shows, in HTML and in PDF alike.
    """
    import html

    import vl_convert as vlc

    # No JSON-schema validation here: it took as long as drawing the SVG, once per chart of
    # every LA profile; the builders' specs are validated by the tests (``chart.to_dict()``).
    svg = str(vlc.vegalite_to_svg(chart.to_dict(validate=False)))
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
    few_below: float | None = None,
) -> Spec:
    """Funnel plot: every LA's value against its denominator, with limits around England.

    LAs whose denominator is below ``few_below`` (the small-numbers rule) are drawn hollow.

    The LA is labelled in the bottom-right corner of the plot (with its value), not beside its
    point: there the limits have closed around England, well above, so the label never sits on
    a limit or England line; the x axis ends near the data
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
    x = _q(
        "denominator",
        title=x_title,
        scale={"type": "log", "domain": [low * 0.85, high * 1.15], "nice": False},
        axis={"values": _log_ticks(low * 0.85, high * 1.15), "format": ",.0f", "grid": False},
    )
    y = _q("value", title=y_title)
    pts_name, _ = _dataset(points)  # the same name layered_spec gives it
    lines_name, lines_rows = _dataset(lines)
    dash = {
        "field": "layer",
        "type": "nominal",
        "scale": {
            "domain": ["England", "95% limits", "99.8% limits"],
            "range": [[6, 3], [4, 2], [1, 2]],
        },
        "legend": {"title": None, "orient": "bottom"},
    }
    few = f"datum.denominator < {few_below}" if few_below else "false"
    tooltip = [
        {"field": "area_name", "type": "nominal"},
        _q("value", format=",.2f"),
        _q("denominator"),
    ]
    grey = ROLE_STYLES["other"].color
    layers: list[dict[str, Any]] = [
        {
            "data": {"name": lines_name},
            "mark": {"type": "line", "color": "#555555", "strokeWidth": 1.2, "clip": True},
            "encoding": {
                "x": x,
                "y": y,
                "strokeDash": dash,
                "detail": {"field": "side", "type": "nominal"},
            },
        },
        {
            "data": {"name": pts_name},
            "mark": {"type": "circle", "size": 28, "color": grey, "opacity": 0.7, "clip": True},
            "encoding": {"x": x, "y": y, "tooltip": tooltip},
            "transform": [{"filter": "!datum.is_la"}, {"filter": f"!({few})"}],
        },
    ]
    others = points.filter(~pl.col("is_la"))
    if few_below and (others["denominator"] < few_below).any():
        # The small-numbers rule: an LA on too few cases is drawn hollow (not compared). The
        # layer is left out when no LA is that small (an empty layer makes Vega warn).
        layers.append(
            {
                "data": {"name": pts_name},
                "mark": {"type": "point", "size": 28, "color": grey, "filled": False, "clip": True},
                "encoding": {"x": x, "y": y, "tooltip": tooltip},
                "transform": [{"filter": "!datum.is_la"}, {"filter": few}],
            }
        )
    if highlight and points["is_la"].any():
        la = ROLE_STYLES["la"]
        mine = [{"filter": "datum.is_la"}]
        label = "'\u25cf ' + datum.area_name + ': ' + format(datum.value, '.1f') + '%'"
        layers += [
            {
                "data": {"name": pts_name},
                "mark": {
                    "type": "point",
                    "shape": la.shape,
                    "size": 150,
                    "filled": True,
                    "color": la.color,
                },
                "encoding": {"x": x, "y": y},
                "transform": mine,
            },
            {
                "data": {"name": pts_name},
                "mark": {
                    "type": "text",
                    "align": "right",
                    "baseline": "bottom",
                    "fontWeight": "bold",
                    "color": la.color,
                },
                "encoding": {
                    "x": {"value": 554},
                    "y": {"value": 294},
                    "text": {"field": "label", "type": "nominal"},
                },
                "transform": [*mine, {"calculate": label, "as": "label"}],
            },
        ]
    spec = layered_spec(
        points, layers, title=title, subtitle=subtitle, alt_text=alt_text, height=300
    )
    spec["datasets"][lines_name] = lines_rows
    return spec


@unchecked
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
            tooltip=[
                alt.Tooltip("category:N"),
                alt.Tooltip("series:N"),
                alt.Tooltip("value:Q", format=",.1f"),
            ],
        )
        .properties(title=alt.TitleParams(text=title, subtitle=subtitle), width=460)
    )
    return chart  # type: ignore[no-any-return,return-value]


def layered_spec(
    data: pl.DataFrame,
    layers: list[dict[str, Any]],
    *,
    title: str,
    subtitle: str | list[str],
    alt_text: str,
    width: int = 560,
    height: int = 280,
) -> Spec:
    """Return a layered Vega-Lite spec over one named dataset, with the sendstats theme."""
    from sendstats.report.viz.theme import sendstats_theme

    name, rows = _dataset(data)
    return Spec(
        {
            "$schema": alt.SCHEMA_URL,
            "config": sendstats_theme()["config"],  # type: ignore[typeddict-item]
            "data": {"name": name},
            "datasets": {name: rows},
            "description": alt_text,
            "title": {"text": title, "subtitle": subtitle},
            "width": width,
            "height": height,
            "layer": layers,
        }
    )


def _q(field: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, "type": "quantitative", **extra}


def caterpillar_chart(
    data: pl.DataFrame,
    *,
    highlight: str | None,
    reference: float | None,
    title: str,
    subtitle: str,
    y_title: str,
    alt_text: str,
) -> Spec:
    """Every LA's value with its 95% interval, in rank order, the chosen LA marked.

    Args:
        data: columns ``area_name``, ``value``, ``ci95_low``, ``ci95_high``, ``position``
            (1 = highest value).
        reference: the England value, drawn as a labelled horizontal line.

    """
    df = data.with_columns((pl.col("area_name") == (highlight or "")).alias("is_la"))
    x = _q("position", title="LAs in order of value (1 = highest)")
    la = ROLE_STYLES["la"].color
    tooltip = [
        {"field": "area_name", "type": "nominal"},
        _q("value", format=",.1f"),
    ]
    layers: list[dict[str, Any]] = [
        {
            "mark": {"type": "rule", "color": "#b0b0b0"},
            "encoding": {"x": x, "y": _q("ci95_low", title=y_title), "y2": {"field": "ci95_high"}},
        },
        {
            "mark": {"type": "circle", "size": 16, "color": "#6b6b6b"},
            "encoding": {"x": x, "y": _q("value"), "tooltip": tooltip},
        },
    ]
    if highlight and df["is_la"].any():
        mine = [{"filter": "datum.is_la"}]
        layers += [
            {
                "mark": {"type": "rule", "color": la, "strokeWidth": 3},
                "encoding": {"x": x, "y": _q("ci95_low"), "y2": {"field": "ci95_high"}},
                "transform": mine,
            },
            {
                "mark": {"type": "point", "filled": True, "size": 140, "color": la},
                "encoding": {"x": x, "y": _q("value")},
                "transform": mine,
            },
            {
                "mark": {"type": "text", "dy": -14, "fontWeight": "bold", "color": la},
                "encoding": {
                    "x": x,
                    "y": _q("ci95_high"),
                    "text": {"field": "area_name", "type": "nominal"},
                },
                "transform": mine,
            },
        ]
    if reference is not None:
        ref = {"values": [{"england": reference, "label": "England"}]}
        england = ROLE_STYLES["england"].color
        layers += [
            {
                "data": ref,
                "mark": {"type": "rule", "strokeDash": [6, 3], "color": england},
                "encoding": {"y": _q("england")},
            },
            {
                "data": ref,
                "mark": {"type": "text", "align": "left", "dx": 4, "dy": -6},
                "encoding": {
                    "y": _q("england"),
                    "x": {"value": 0},
                    "text": {"field": "label", "type": "nominal"},
                },
            },
        ]
    return layered_spec(df, layers, title=title, subtitle=subtitle, alt_text=alt_text)


def money_label_expr(values: list[float]) -> str:
    """Return a Vega label expression showing pounds in £bn or £m, whichever suits the range."""
    top = max((abs(v) for v in values), default=0.0)
    if top >= 1e9:
        return "'£' + format(datum.value / 1e9, ',.1f') + 'bn'"
    if top >= 1e6:
        return "'£' + format(datum.value / 1e6, ',.0f') + 'm'"
    return "'£' + format(datum.value, ',.0f')"


@unchecked
def scatter_chart(
    data: pl.DataFrame,
    *,
    x_key: str,
    y_key: str,
    highlight: str | None,
    title: str,
    subtitle: str,
    x_title: str,
    y_title: str,
    alt_text: str,
) -> alt.LayerChart:
    """Scatter of every LA, the chosen LA marked and labelled, a zero line on y.

    The data stay long (one row per LA and measure, as exported with their provenance) and
    are pivoted in the chart, so the chart's data are exactly the CSV's rows.

    Args:
        data: columns ``area_name``, ``metric_id`` and ``value``; two rows per LA.
        x_key: the ``metric_id`` on x; y_key: the one on y.
        highlight: the ``area_name`` to mark, or None.

    """
    df = data.select("area_name", "metric_id", "value")
    base = alt.Chart(df).transform_pivot("metric_id", value="value", groupby=["area_name"])
    x = alt.X(f"{x_key}:Q", title=x_title, scale=alt.Scale(zero=False))
    y = alt.Y(f"{y_key}:Q", title=y_title)
    dots = base.mark_circle(size=28, color="#6b6b6b", opacity=0.7).encode(
        x=x,
        y=y,
        tooltip=[
            alt.Tooltip("area_name:N"),
            alt.Tooltip(f"{x_key}:Q", format=",.0f"),
            alt.Tooltip(f"{y_key}:Q", format=",.2f"),
        ],
    )
    zero = (
        alt.Chart(pl.DataFrame({"zero": [0.0]}))
        .mark_rule(color="#000000")
        .encode(y=alt.Y("zero:Q"))
    )
    layers: list[Any] = [zero, dots]
    if highlight:
        mine = base.transform_filter(alt.datum.area_name == highlight)
        layers.append(
            mine.mark_point(
                shape="diamond", filled=True, size=160, color=ROLE_STYLES["la"].color
            ).encode(x=x, y=y)
        )
        layers.append(
            mine.mark_text(dy=-14, fontWeight="bold", color=ROLE_STYLES["la"].color).encode(
                x=x, y=y, text=alt.Text("area_name:N")
            )
        )
    chart = alt.layer(*layers, description=alt_text).properties(
        title=alt.TitleParams(text=title, subtitle=subtitle), width=560, height=300
    )
    return chart  # type: ignore[no-any-return,return-value]
