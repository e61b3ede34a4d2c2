"""The chart drawing engine (vl-convert): its type and its start in the background.

Kept apart from :mod:`sendstats.report.viz.charts` (which imports altair) so a renderer can
start the engine before it imports anything else. Imports only ``vl_convert``, lazily.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["FONT", "warm_up"]

#: The charts' type. Arial first: the two are metric-compatible, so readers see the same type,
#: but vl-convert looks up every text mark's first family, and a missing Helvetica (most Linux
#: hosts) sent each lookup down its fallback path: a fifth of a profile's chart drawing, for
#: identical SVGs.
FONT = "Arial, Helvetica, sans-serif"


def _trend_spec() -> dict[str, Any]:
    """Return a chart shaped like the profiles' trends: lines and points by series, legend."""
    rows = [
        {"series": s, "year": year, "value": float(year - 2000 + 3 * k)}
        for k, s in enumerate(("LA", "Region", "Neighbours", "England"))
        for year in range(2015, 2025)
    ]
    x = {"field": "year", "type": "quantitative", "title": None}
    y = {"field": "value", "type": "quantitative", "title": "Value"}
    series = {"field": "series", "type": "nominal", "legend": {"orient": "bottom"}}
    return {
        "config": {"font": FONT, "aria": False},
        "width": 560,
        "height": 280,
        "title": {"text": "Warming up", "subtitle": ["Series against comparators", "A note"]},
        "data": {"values": rows},
        "layer": [
            {
                "mark": {"type": "line"},
                "encoding": {"x": x, "y": y, "color": series, "strokeDash": series},
            },
            {
                "mark": {"type": "point", "filled": True},
                "encoding": {"x": x, "y": y, "color": series, "shape": series},
            },
        ],
    }


def _bar_spec() -> dict[str, Any]:
    """Return a chart shaped like the need mix and strips: bars by category, text labels."""
    rows = [{"need": f"Need {i}", "value": float(i * 3 % 17)} for i in range(12)]
    # Unsorted: a sort on a layered axis made Vega-Lite print a warning on every render.
    y = {"field": "need", "type": "nominal", "title": None}
    value = {"field": "value", "type": "quantitative", "title": "Share (%)"}
    return {
        "config": {"font": FONT, "aria": False},
        "width": 460,
        "title": "Warming up",
        "data": {"values": rows},
        "layer": [
            {"mark": "bar", "encoding": {"y": y, "x": value}},
            {"mark": {"type": "text", "dx": 12}, "encoding": {"y": y, "x": value, "text": value}},
        ],
    }


_started: list[threading.Thread] = []


def warm_up() -> None:
    """Start vl-convert and draw two charts like the report's, in the background (once).

    Its first drawing starts a JavaScript engine and loads fonts, and its first charts of
    each kind run cold: together about 0.4 s of a one-profile render. Drawn on a thread of
    its own (vl-convert works outside the interpreter lock) while the renderer checks the
    build and imports the report's libraries, the profile's own charts then run warm.
    """
    if _started:
        return
    import vl_convert as vlc

    def draw() -> None:
        for spec in (_trend_spec(), _bar_spec()):
            vlc.vegalite_to_svg(spec)

    thread = threading.Thread(target=draw, name="vl-convert-warm-up", daemon=True)
    _started.append(thread)
    thread.start()
