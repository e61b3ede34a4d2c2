"""The one registered chart theme: readable without colour, colour-blind-safe palette.

Okabe-Ito colours, with stroke dashes and point shapes doing the same job as colour so a chart
reads in greyscale and in print. Charts render to SVG through vl-convert, so reports need no
JavaScript or CDN and survive into PDF.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import altair as alt

from sendstats.report.viz.engine import FONT

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


@dataclass(frozen=True)
class Style:
    """How one role is drawn in every chart: colour, point shape and line dash."""

    color: str
    shape: str
    dash: tuple[int, ...]


#: One fixed style per role, in every chart: the LA is always blue circles on a solid line,
#: England always black diamonds, whatever else is or is not drawn beside them.
ROLE_STYLES: dict[str, Style] = {
    "la": Style(OKABE_ITO[0], "circle", (1, 0)),
    "region": Style(OKABE_ITO[1], "square", (6, 3)),
    "neighbours": Style(OKABE_ITO[2], "triangle-up", (2, 2)),
    "england": Style(OKABE_ITO[7], "diamond", (8, 2, 2, 2)),
    "other": Style("#8c8c8c", "circle", (1, 0)),
    # Several national series on one England chart (no LA drawn): England's style first.
    "series2": Style(OKABE_ITO[5], "square", (6, 3)),
    "series3": Style(OKABE_ITO[3], "triangle-up", (2, 2)),
}


def role_scales(roles: dict[str, str]) -> dict[str, list[Any]]:
    """Return the colour, shape and dash ranges for ``roles`` (series name -> role), in order."""
    styles = [ROLE_STYLES[role] for role in roles.values()]
    return {
        "domain": list(roles),
        "color": [s.color for s in styles],
        "shape": [s.shape for s in styles],
        "dash": [list(s.dash) for s in styles],
    }


THEME_NAME = "sendstats"


@alt.theme.register(THEME_NAME, enable=False)
def sendstats_theme() -> alt.theme.ThemeConfig:
    """Return the sendstats Vega-Lite config (fonts, palette, quiet axes)."""
    config: dict[str, Any] = {
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": 560, "continuousHeight": 280},
            "range": {"category": OKABE_ITO},
            "axis": {"labelFontSize": 12, "titleFontSize": 12, "gridColor": "#e5e5e5"},
            "legend": {"labelFontSize": 12, "titleFontSize": 12, "orient": "bottom"},
            "title": {"fontSize": 15, "anchor": "start", "subtitleFontSize": 12},
            "line": {"strokeWidth": 2.5},
            "point": {"size": 50, "filled": True},
            # No ARIA attributes on every mark ("year: 2015; value: 100" on each point): the
            # chart's root carries role="img" and its own alt text (charts.to_svg), which
            # makes the marks inside presentational to screen readers anyway. A third of
            # each chart's bytes, so pages are smaller.
            "aria": False,
        }
    }
    return config  # type: ignore[return-value]


def enable() -> None:
    """Enable the sendstats theme and the SVG renderer (offline, self-contained)."""
    alt.theme.enable(THEME_NAME)
    alt.renderers.enable("svg")
