"""The chart engine's warm-up: charts like the report's, valid, drawn once per process."""

from __future__ import annotations

import logging

import altair as alt
import pytest
import vl_convert as vlc

from sendstats.report.viz import engine, theme


def test_warm_up_charts_are_valid_vega_lite_in_the_report_type(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vl_convert")
    for make in (engine._trend_spec, engine._bar_spec):
        spec = make()
        alt.LayerChart.from_dict(spec, validate=True)  # raises on a spec Vega-Lite refuses
        svg = vlc.vegalite_to_svg(spec)
        assert svg.startswith("<svg") and 'font-family="Arial, Helvetica, sans-serif"' in svg
        assert spec["config"]["font"] == theme.sendstats_theme()["config"]["font"]
    # The warm-up runs at every render: it must log nothing (vl-convert's warnings reach
    # stderr; a reader saw one about conflicting sorts under the main job's output).
    assert [r.getMessage() for r in caplog.records] == []


def test_warm_up_starts_one_thread_per_process() -> None:
    engine.warm_up()
    engine.warm_up()
    assert len(engine._started) == 1
    engine._started[0].join(timeout=60)
    assert not engine._started[0].is_alive()
