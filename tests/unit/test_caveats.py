"""Caveats are declared with a scope, as data: which LAs, regions, periods or situations.

These check the declarations themselves (no build needed): every caveat is a typed
:class:`~sendstats.metrics.caveats.Caveat`, names real LAs and regions by code, and a caveat
about named LAs names no LA in its text that its codes do not cover, so a profile that shows it
never names an LA it does not show.
"""

from __future__ import annotations

import re

import pytest

from sendstats import geography
from sendstats.metrics import caveats as cv
from sendstats.metrics.registry import MetricDef, all_metrics


def _every_caveat() -> list[tuple[str, cv.Caveat]]:
    return [(m.id, c) for m in all_metrics() for c in (*m.series_breaks, *m.caveats)]


def _la_names_in(text: str) -> set[str]:
    """Return the LA names a text mentions (longest first, so 'North Northamptonshire' wins)."""
    names = sorted({la.la_name for la in geography.all_las()}, key=len, reverse=True)
    found = set()
    for name in names:
        pattern = rf"\b{re.escape(name)}\b"
        if re.search(pattern, text):
            found.add(name)
            text = re.sub(pattern, " ", text)
    return found


def test_every_caveat_and_series_break_declares_a_scope() -> None:
    found = _every_caveat()
    assert len(found) > 100
    assert all(isinstance(c, cv.Caveat) for _, c in found)
    kinds = {c.applies for _, c in found}
    # The registry uses place, period, series-break and data-condition scopes, not one default.
    assert {"every_la", "method", "series_break", "period", "named_las", "named_regions"} <= kinds
    assert "suppressed" in kinds


def test_named_codes_exist_and_texts_name_only_the_las_their_codes_cover() -> None:
    regions = geography.regions()
    for mid, c in _every_caveat():
        for code in c.las:
            geography.get_la(code)  # raises for an unknown code
        assert all(r in regions for r in c.regions), (mid, c.regions)
        covered = {geography.get_la(code).la_name for code in c.las}
        if c.applies == "named_las":
            assert _la_names_in(c.text) <= covered, (mid, c.text)
        elif c.applies == "named_regions":
            # Shown to every LA in the region: it names none of the region's other LAs.
            assert not _la_names_in(c.text), (mid, c.text)
        elif not c.general:
            assert not _la_names_in(c.text), (mid, c.text)


def test_templates_fill_only_the_names_given() -> None:
    c = cv.for_las(("201", "420"), "2024: {names} did something.")
    assert c.render(["Isles of Scilly"]) == "2024: Isles of Scilly did something."
    assert c.render(["A", "B", "C"]) == "2024: A, B and C did something."
    assert cv.every_la("No template here.").render(["A"]) == "No template here."


def test_near_identical_caveats_share_one_text() -> None:
    # The SEN2 2023 break and the Census-based denominators each read the same for every metric
    # they break, so a profile says each once, naming the metrics.
    sen2 = [m for m, c in _every_caveat() if c.text == cv.SEN2_PERSON_LEVEL]
    assert len(sen2) >= 10
    census = {c.text for _, c in _every_caveat() if "2021 Census" in c.text}
    assert len(census) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: cv.Caveat("About some LAs.", "named_las"), "named_las lists LA codes"),
        (lambda: cv.for_las(("ABC",), "About one LA."), "DfE 3-digit codes"),
        (lambda: cv.for_regions(("London",), "About a region."), "ONS E12 codes"),
        (lambda: cv.Caveat("A break.", "series_break"), "needs the years"),
        (lambda: cv.Caveat("A break.", "series_break", years=(2020, 2023)), "one year"),
        (lambda: cv.every_la("no full stop"), "full stop"),
        (lambda: cv.every_la("{names} did it."), "only a named_las text"),
        (lambda: cv.Caveat("Everyone.", "every_la", las=("201",)), "only named_las"),
    ],
)
def test_a_malformed_scope_is_refused(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]


def test_a_metric_refuses_a_plain_string_caveat_and_an_unexplained_break() -> None:
    base = dict(
        id="appeals_count",
        title="x",
        definition="a definition long enough",
        unit="count",
        polarity="neither",
        period_type="calendar_year",
        sources=("s",),
    )
    with pytest.raises(ValueError, match="declared scope"):
        MetricDef(**base, caveats=("Careful.",))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"break years \[2023\]"):
        MetricDef(**base, series_breaks=(cv.series_break(2022, "A break."),), break_years=(2023,))  # type: ignore[arg-type]
