"""The one registered chart theme: readable without colour, colour-blind-safe palette.

Okabe-Ito colours, with stroke dashes and point shapes doing the same job as colour so a chart
reads in greyscale and in print. Charts render to SVG through vl-convert, so reports need no
JavaScript or CDN and survive into PDF.
"""

from __future__ import annotations

from typing import Any

import altair as alt

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
FONT = "Helvetica, Arial, sans-serif"
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
        }
    }
    return config  # type: ignore[return-value]


def enable() -> None:
    """Enable the sendstats theme and the SVG renderer (offline, self-contained)."""
    alt.theme.enable(THEME_NAME)
    alt.renderers.enable("svg")
