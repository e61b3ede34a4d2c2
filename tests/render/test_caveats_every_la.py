"""Issue 19, caveats: every LA's notes box lists only what applies to it, each once, in order.

Walks every LA with a profile on a real build, calling the function the ``.qmd`` calls, and
checks: no caveat names an LA that is neither the LA nor one shown beside it; no two bullets
say the same; the boxes of the issue's LAs are short and carry the caveats that concern them;
the methods page still lists every caveat with its scope.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sendstats import geography
from sendstats.metrics.registry import all_metrics
from sendstats.report import profile as report
from sendstats.report.sections import notes

#: Longest first, so "North Northamptonshire" is one name, not also "Northamptonshire".
_NAMES = sorted({la.la_name for la in geography.all_las()}, key=len, reverse=True)
_NAME = re.compile(r"\b(" + "|".join(re.escape(n) for n in _NAMES) + r")\b")


@pytest.fixture(scope="module")
def boxes(contexts: list[report.LaContext]) -> dict[str, tuple[report.LaContext, list[str]]]:
    """Every LA's caveat bullets (the box's second list), by DfE code."""
    return {ctx.la.la_code_dfe: (ctx, notes.caveat_bullets(ctx)) for ctx in contexts}


def _box(boxes: dict[str, tuple[report.LaContext, list[str]]], query: str) -> list[str]:
    return boxes[geography.resolve_la(query).la_code_dfe][1]


def test_no_caveat_names_an_la_not_shown_beside_this_one(
    boxes: dict[str, tuple[report.LaContext, list[str]]],
) -> None:
    wrong = []
    for ctx, bullets in boxes.values():
        allowed = {geography.get_la(c).la_name for c in notes.comparator_codes(ctx.la)}
        for bullet in bullets:
            wrong += [(ctx.la.la_name, n) for n in _NAME.findall(bullet) if n not in allowed]
    assert not wrong, wrong[:10]


def test_each_bullet_once_and_every_box_short(
    boxes: dict[str, tuple[report.LaContext, list[str]]],
) -> None:
    for ctx, bullets in boxes.values():
        box = notes.caveats(ctx)
        lines = [line for line in box.splitlines() if line.startswith("- ")]
        assert len(lines) == len(set(lines)), ctx.la.la_name
        # The overdispersion warning and the SEN2 2023 break are one bullet however many
        # measures they concern (Kent's box once had 7 overdispersion bullets).
        assert sum("overdispersion" in b for b in bullets) <= 1, ctx.la.la_name
        assert sum("person-level returns" in b for b in bullets) <= 1, ctx.la.la_name
        assert len(bullets) <= 13, (ctx.la.la_name, len(bullets))
        assert box.count("How to read the figures") == 1


def test_caveats_on_other_areas_sit_under_their_own_heading(
    contexts: list[report.LaContext],
) -> None:
    """An LA's own caveats name no other council on its own but those of its reorganisation;
    those on its neighbours and region come under a second heading (the Isles of Scilly's box
    was mostly Surrey's and Cambridgeshire's notes, read as if about the islands)."""
    split = 0
    for ctx in contexts:
        la = ctx.la
        family = {la.la_code_dfe, *la.predecessors, *la.successors}
        for code in list(family - {la.la_code_dfe}):
            other = geography.get_la(code)
            family |= {*other.predecessors, *other.successors}
        allowed = {geography.get_la(c).la_name for c in family}
        own, others = notes.caveat_groups(ctx)
        # Another council may be named beside this one (one note on two LAs' data), not alone.
        strays = [
            (la.la_name, n)
            for b in own
            for n in _NAME.findall(b)
            if n not in allowed and la.la_name not in _NAME.findall(b)
        ]
        assert not strays, strays
        box = notes.caveats(ctx)
        heading = f"**Caveats on the areas {la.la_name} is compared with**"
        assert (heading in box) == bool(others), la.la_name
        if others:
            split += 1
            after = box[box.index(heading) :]
            assert all(f"- {b}" in after for b in others), la.la_name
            assert not any(f"- {b}" in after for b in own), la.la_name
        assert notes.caveat_bullets(ctx) == [*own, *others]
    assert split > 100, split  # nearly every LA has a comparator caveat (overdispersion)
    scilly = notes.caveat_groups(report.load_la_context("Isles of Scilly"))
    assert not any("Surrey" in b for b in scilly[0])
    assert any("Surrey" in b for b in scilly[1])


def test_the_issues_las_get_a_short_relevant_box(
    boxes: dict[str, tuple[report.LaContext, list[str]]],
) -> None:
    counts = {q: len(_box(boxes, q)) for q in ("Kent", "Camden", "Isles of Scilly")}
    counts |= {q: len(_box(boxes, q)) for q in ("Westmorland and Furness", "Cumbria")}
    # Reading rules (3) plus caveats: Kent's box had about 40 bullets, then 32.
    assert counts["Kent"] + 3 < 15, counts
    kent = " ".join(_box(boxes, "Kent"))
    for other in ("Dorset", "Isles of Scilly", "City of London", "Surrey", "Hackney"):
        assert other not in kent
    # Kent is in the South East, whose pooled SLD/SpLD shares differ from DfE's (Surrey).
    assert "South East's shares of severe and specific" in kent
    # Camden has Hackney beside it: Hackney's own caveat, not the anonymous London one.
    camden = " ".join(_box(boxes, "Camden"))
    assert "settings for Hackney are suppressed" in camden
    assert "an LA that returned totals only" not in camden
    # The Isles of Scilly: its own notes first (few appeals, no DSG allocation, ASCOF withheld).
    scilly = _box(boxes, "Isles of Scilly")
    own = [b for b in scilly if "Isles of Scilly" in b or "withheld this council" in b]
    assert len(own) == 3 and scilly[: len(own)] == own, scilly
    # Westmorland and Furness and Cumbria: the split of Cumbria's allocation, and only theirs.
    for q in ("Westmorland and Furness", "Cumbria"):
        text = " ".join(_box(boxes, q))
        assert "LA split: Cumbria (909)" in text
        assert "Northamptonshire (928)" not in text
    print("caveat bullets (plus 3 reading rules):", counts)


def test_general_caveats_stay_on_the_methods_page_and_it_lists_every_caveat(
    boxes: dict[str, tuple[report.LaContext, list[str]]], built_root: Path
) -> None:
    from sendstats.report.pages import methods_markdown

    page = methods_markdown()
    every = [c for m in all_metrics() for c in (*m.series_breaks, *m.caveats)]
    for c in every:
        assert notes.caveat_text(c) in page
        assert notes.scope_words(c) in page
    general = {c.text.rstrip(".") for c in every if c.general}
    for ctx, bullets in boxes.values():
        said = " ".join(bullets)
        assert not [t for t in general if t in said], ctx.la.la_name


def test_the_figures_whose_caveats_count_are_the_figures_the_profile_draws() -> None:
    import inspect

    from sendstats.report.sections import high_needs, inclusion

    root = Path(__file__).resolve().parents[2]
    text = (root / "reports" / "la_profile.qmd").read_text() + inspect.getsource(high_needs)
    drawn = set(re.findall(r'show_figure\(ctx, "([a-z0-9_]+)"\)', text))
    drawn |= set(re.findall(r'"([a-z0-9_]+)"', inspect.getsource(inclusion.show_inclusion)))
    assert drawn == set(notes.PROFILE_FIGURES)


@pytest.mark.parametrize(
    ("scope", "metric_id", "applies_to", "not_to"),
    [
        ("reorganised", "ehc_plans_count", "Westmorland and Furness", "Kent"),
        ("small_numbers", "requests_refused_pct", "Isles of Scilly", "Kent"),
        ("stale", "ehc_plans_count", "Cumbria", "Kent"),
        ("suppressed", "ascof_1e_ld_paid_employment_pct", "Isles of Scilly", "Kent"),
    ],
)
def test_data_condition_scopes_follow_the_las_own_rows(
    boxes: dict[str, tuple[report.LaContext, list[str]]],
    scope: str,
    metric_id: str,
    applies_to: str,
    not_to: str,
) -> None:
    from sendstats.metrics.caveats import Caveat

    c = Caveat("A condition in the LA's own data.", scope)  # type: ignore[arg-type]
    for query, expected in ((applies_to, 0), (not_to, None)):
        ctx = boxes[geography.resolve_la(query).la_code_dfe][0]
        assert notes.priority(c, ctx, metric_id, notes.shown(ctx)) == expected, query
