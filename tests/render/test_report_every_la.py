"""Issue 19, items 1 to 8, asserted for every LA on a real build (report functions, no render).

Each test walks every LA with a profile, calling the functions the ``.qmd`` calls, so a defect
in any one LA's profile (a comparator from another year, a chart drawn without its LA, a rank
on two cases, an old row shown as current, a reorganisation unexplained, a grade letter on a
measure without direction, a generic title or alt text) fails here, fast, without rendering.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

from sendstats import geography
from sendstats.core.numbers import format_value
from sendstats.metrics.registry import get_metric
from sendstats.report import absence, rules
from sendstats.report import profile as report
from sendstats.report.figures.base import FigureContext, get_figure
from sendstats.report.figures.la import SN_LABEL
from sendstats.report.sections import ehcp, notes, summary, tribunal
from sendstats.report.viz.theme import ROLE_STYLES

TREND_FIGURES = (
    "ehcp_trend_indexed",
    "ehcp_rate_per_10k",
    "requests_refused_trend",
    "timeliness_trend",
    "tribunal_rate_trend",
    "high_needs_dsg_balance_trend",
    "high_needs_block_per_head_trend",
)


_SUMMARY: dict[str, pl.DataFrame] = {}
_TEXT: dict[str, str] = {}


def _summary(ctx: report.LaContext) -> pl.DataFrame:
    """The LA's summary rows, computed once for the whole walk."""
    if ctx.la.la_code_dfe not in _SUMMARY:
        _SUMMARY[ctx.la.la_code_dfe] = summary.summary_rows(ctx)
    return _SUMMARY[ctx.la.la_code_dfe]


def _text(ctx: report.LaContext) -> str:
    """The LA's EHC plan, tribunal and adults paragraphs, computed once for the whole walk."""
    if ctx.la.la_code_dfe not in _TEXT:
        _TEXT[ctx.la.la_code_dfe] = " ".join(
            [ehcp.narrative(ctx), tribunal.tribunal_narrative(ctx), tribunal.adults_narrative(ctx)]
        )
    return _TEXT[ctx.la.la_code_dfe]


def _england(row: dict[str, Any], tables: FigureContext) -> str:
    """England's value of the row's metric in the row's own period, as the profile shows it."""
    eng = tables.area_rows(str(row["metric_id"]), "National").filter(pl.col("year") == row["year"])
    unit = get_metric(str(row["metric_id"])).unit
    return format_value(float(eng["value"][0]), unit).replace(" per 10,000", "")


def test_every_comparator_is_for_the_period_of_the_la_value(
    contexts: list[report.LaContext], tables: FigureContext
) -> None:
    stale_england_seen = 0
    for ctx in contexts:
        rows = _summary(ctx)
        for r in rows.iter_rows(named=True):
            row = ctx.bench_row(r["metric_id"])
            assert row is not None
            assert r["England"] == _england(row, tables), (ctx.la.la_name, r["metric_id"])
        # Text: every "England X" quoted equals England's value in the LA value's period.
        allowed = set()
        for mid in report.HEADLINE_METRICS:
            row = ctx.bench_row(mid)
            if row is not None and row["england_value"] is not None:
                allowed.add(_england(row, tables))
                latest = tables.area_rows(mid, "National").drop_nulls("value").row(-1, named=True)
                if latest["year"] != row["year"]:
                    stale_england_seen += 1
        text = _text(ctx)
        for quoted in re.findall(r"(?<!of )England (\d[\d,.]*%?)", text):
            assert quoted.rstrip(".") in allowed, (ctx.la.la_name, quoted)
    assert stale_england_seen > 0  # Cumbria and others: the case the rule is for was walked


def test_each_role_keeps_one_style_and_no_chart_is_drawn_without_its_la(
    contexts: list[report.LaContext],
) -> None:
    replaced = 0
    for ctx in contexts:
        fctx = ctx.figure_context()
        roles = {
            ctx.la.la_name: "la",
            f"{ctx.la.region_name} (region)": "region",
            SN_LABEL: "neighbours",
            "England": "england",
        }
        for fid in TREND_FIGURES:
            fig = get_figure(fid)
            data = fig.data(fctx)
            if data.height == 0:
                continue
            if not report.figure_has_la(fctx, data):
                why = absence.absence_reason(fctx, fig.metric_ids[0])
                assert ctx.la.la_name in why or "publisher" in why, (ctx.la.la_name, fid, why)
                replaced += 1
                continue
            # No line crosses a missing year: each segment is a run of consecutive years.
            for _, seg in data.group_by("segment"):
                years = sorted(seg["year"].to_list())
                assert years == list(range(years[0], years[0] + len(years))), (fid, years)
            if fid != "requests_refused_trend":
                continue  # altair is slow: one chart per LA shows the styles in a real spec
            spec = fig.chart(fctx, data).to_dict(validate=False)
            enc = spec["layer"][1]["encoding"]  # the points: colour and shape by role
            colours = dict(
                zip(enc["color"]["scale"]["domain"], enc["color"]["scale"]["range"], strict=True)
            )
            shapes = dict(
                zip(enc["shape"]["scale"]["domain"], enc["shape"]["scale"]["range"], strict=True)
            )
            assert ctx.la.la_name in colours, (ctx.la.la_name, fid)
            for name, colour in colours.items():
                assert colour == ROLE_STYLES[roles[name]].color, (ctx.la.la_name, fid, name)
                assert shapes[name] == ROLE_STYLES[roles[name]].shape
    assert replaced > 0  # Westmorland and Furness, Cumberland and others have no rate series


def test_small_numbers_get_no_rank_band_or_comparison(
    contexts: list[report.LaContext],
) -> None:
    small = 0
    for ctx in contexts:
        for r in _summary(ctx).iter_rows(named=True):
            row = ctx.bench_row(r["metric_id"])
            assert row is not None
            if rules.too_small(row):
                small += 1
                assert r["Quartile"] == "" and r["vs England"] == "", (ctx.la.la_name, r)
                assert r["Rank"] == f"fewer than {rules.NO_RANK_BELOW} cases"
            if rules.needs_caution(row):
                assert r["LA"].endswith(rules.CAUTION_MARK)
        text = _text(ctx)
        if "fewer than 10 cases" in text:
            assert not re.search(r"fewer than 10 cases[^.]*quarter", text)
    assert small > 0  # the Isles of Scilly's refusals (1 of 2) are the case the rule is for


def test_small_numbers_are_drawn_hollow_in_every_trend_chart(
    contexts: list[report.LaContext],
) -> None:
    """Each LA point whose value rests on few cases is hollow, named in the alt text, and
    explained in the subtitle; no solid point rests on few cases, no comparator is hollow."""
    hollow_charts = 0
    for ctx in contexts:
        fctx = ctx.figure_context()
        bench = fctx.la_bench_rows
        for fid in TREND_FIGURES:
            fig = get_figure(fid)
            data = fig.data(fctx)
            if data.height == 0 or not report.figure_has_la(fctx, data):
                continue
            mine = data.filter(pl.col("series") == ctx.la.la_name)
            verdicts = bench.filter(pl.col("metric_id") == fig.metric_ids[0]).select(
                "year", "reliability"
            )
            expected = {
                int(r["year"])
                for r in mine.join(verdicts, on="year", how="left").iter_rows(named=True)
                if r["reliability"] in ("not ranked", "caution")
            }
            assert set(data.filter(pl.col("caution"))["year"].to_list()) == expected, (
                ctx.la.la_name,
                fid,
            )
            assert not data.filter(pl.col("caution") & (pl.col("series") != ctx.la.la_name)).height
            if not expected:
                continue
            hollow_charts += 1
            spec = fig.chart(fctx, data).to_dict(validate=False)
            hollow = [
                layer
                for layer in spec["layer"]
                if layer["mark"]["type"] == "point" and layer["mark"].get("filled") is False
            ]
            assert len(hollow) == 1, (ctx.la.la_name, fid)
            assert spec["title"]["subtitle"][-1].startswith("Hollow points"), spec["title"]
            assert "drawn hollow" in fig.alt_text(fctx, data), (ctx.la.la_name, fid)
    # The Isles of Scilly's and the City of London's small bases are the cases the rule is for.
    assert hollow_charts > 0


def test_stale_rows_are_marked_latest_held_with_the_reason(
    contexts: list[report.LaContext], tables: FigureContext
) -> None:
    newest = summary.newest_end(contexts[0])
    stale_metrics = set()
    for mid in report.HEADLINE_METRICS:
        years = absence.national_years(tables, mid)
        period_type = get_metric(mid).period_type
        if years and rules.period_end(years[-1], period_type).year < newest - 1:
            stale_metrics.add(mid)  # no area has a figure later than this: DSG balance, ASCOF
    assert stale_metrics
    for ctx in contexts:
        for r in _summary(ctx).iter_rows(named=True):
            if r["metric_id"] in stale_metrics:
                assert r["Held"] == summary.LATEST_HELD, (ctx.la.la_name, r["metric_id"])
                assert re.search(r"held|abolished", r["Reason"]), r["Reason"]
            if r["Period"] == "January 2025":
                assert r["Held"] == "", (ctx.la.la_name, r["metric_id"])
    cumbria = next(c for c in contexts if c.la.la_name == "Cumbria")
    reason = {r["metric_id"]: r["Reason"] for r in _summary(cumbria).iter_rows(named=True)}
    assert "abolished on 31 March 2023" in reason["ehc_plans_count"]


def test_reorganised_councils_are_explained(contexts: list[report.LaContext]) -> None:
    seen = {"formed": 0, "abolished": 0, "unitary": 0}
    for ctx in contexts:
        la = ctx.la
        box = notes.reorganisation(ctx)
        if la.predecessors and la.valid_from:
            seen["formed"] += 1
            assert f"formed on {rules.date_words(la.valid_from)}" in box, la.la_name
            for code in la.predecessors:
                assert geography.get_la(code).la_name in box
        if la.successors and la.valid_to:
            seen["abolished"] += 1
            assert f"abolished on {rules.date_words(la.valid_to)}" in box, la.la_name
            for code in la.successors:
                assert geography.get_la(code).la_name in box
        if "unitary council" in box:
            seen["unitary"] += 1
        if not (la.predecessors or la.successors) and "unitary" not in box:
            assert box == ""
    # Cumberland, Westmorland and Furness, the Northamptonshires, BCP, Dorset; Cumbria;
    # North Yorkshire and Somerset (unitary on the county boundary).
    assert seen["formed"] >= 6 and seen["abolished"] >= 1 and seen["unitary"] >= 2


def test_no_grade_letters_where_a_measure_has_no_direction(
    contexts: list[report.LaContext],
) -> None:
    for ctx in contexts:
        for r in _summary(ctx).iter_rows(named=True):
            if get_metric(r["metric_id"]).polarity == "neither" and r["Quartile"]:
                assert r["Quartile"].endswith("quarter") and not re.match(r"[A-D]\b", r["Quartile"])
        text = _text(ctx)
        assert "band A" not in text and "Quartile band" not in text


def test_title_names_the_la(contexts: list[report.LaContext]) -> None:
    for ctx in contexts:
        block = report.title_block(ctx)
        meta = re.search(r"^---\ntitle: (.+)\npagetitle: (.+)\n---$", block, re.M)
        assert meta, ctx.la.la_name
        assert ctx.la.la_name.replace('"', '\\"') in meta[1] and meta[1] == meta[2]


def test_alt_text_is_la_specific_and_financial_years_read_2019_20(
    contexts: list[report.LaContext],
) -> None:
    for ctx in contexts:
        fctx = ctx.figure_context()
        for fid in TREND_FIGURES:
            fig = get_figure(fid)
            data = fig.data(fctx)
            if data.height == 0 or not report.figure_has_la(fctx, data):
                continue
            alt = fig.alt_text(fctx, data)
            assert ctx.la.la_name in alt, (ctx.la.la_name, fid)
            if get_metric(fig.metric_ids[0]).period_type == "financial_year":
                assert re.search(r"20\d\d-\d\d to 20\d\d-\d\d", alt), alt
