"""Fidelity checks on a real build (issue 17): comparators over the LAs compared, no LA lost.

Each test reads the metric and benchmark tables of a full offline build from the raw archive
and, where it asserts a published figure, re-reads the raw file itself (csv or calamine), so a
wrong join or pool in sendstats cannot make its own test pass.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from sendstats import geography
from sendstats.metrics import METRIC_TABLES
from sendstats.metrics.registry import get_metric

TRIBUNAL_CSV = "tribunal/SEND Tribunals and appeal rate 2014-2024.csv"
TRIBUNAL_CSV_2025 = "tribunal/SEND appealable decisions rate 2024-2025.csv"
#: Metrics whose England and region rows are the publisher's and cannot be pooled (no
#: numerator or denominator held): the DfE dashboard's DSG balance %.
AS_PUBLISHED = {"dsg_balance_of_total_income_pct"}


@pytest.fixture(scope="module")
def tables(built_root: Path) -> Iterator[dict[str, pl.DataFrame]]:
    """Every metric table and the benchmarks table of one offline build."""
    folder = built_root / "data" / "metrics"
    yield {
        name: pl.read_parquet(folder / f"{name}.parquet") for name in (*METRIC_TABLES, "benchmarks")
    }


@pytest.fixture(scope="module")
def metrics(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """All metric tables stacked (one layout)."""
    return pl.concat([tables[n] for n in METRIC_TABLES], how="vertical")


def _number(text: str) -> float | None:
    text = text.strip().replace(",", "").removesuffix("%")
    if text == "-":  # the MoJ legend: "- zero"
        return 0.0
    try:
        return float(text)
    except ValueError:
        return None


def _csv_rows(archive: Path, name: str) -> list[list[str]]:
    with (archive / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


# --- every comparator is pooled over exactly the LAs compared ------------------------------


def test_every_comparator_is_pooled_over_exactly_its_las(metrics: pl.DataFrame) -> None:
    la = metrics.filter(pl.col("geographic_level") == "Local authority")
    comparators = metrics.filter(pl.col("geographic_level") != "Local authority")
    unpooled = comparators.filter(pl.col("n_las").is_null())
    # Only the dashboard's balance % (no counts held) keeps the publisher's rows unpooled.
    assert set(unpooled["metric_id"].unique()) <= AS_PUBLISHED
    checked = 0
    for row in comparators.filter(pl.col("n_las").is_not_null()).iter_rows(named=True):
        mine = la.filter(
            (pl.col("metric_id") == row["metric_id"])
            & (pl.col("year") == row["year"])
            & pl.col("value").is_not_null()
            & pl.col("numerator").is_not_null()
        )
        if row["geographic_level"] == "Regional":
            mine = mine.filter(pl.col("region_code") == row["area_code"])
        if row["denominator"] is not None:
            mine = mine.filter(pl.col("denominator").is_not_null() & (pl.col("denominator") != 0))
            assert row["denominator"] == pytest.approx(mine["denominator"].sum(), rel=1e-12)
        key = (row["metric_id"], row["area_code"], row["year"])
        assert row["n_las"] == mine.height, key
        assert row["numerator"] == pytest.approx(mine["numerator"].sum(), rel=1e-12, abs=1e-9), key
        checked += 1
    assert checked > 2_000  # every England and region row of every pooled metric and period


def test_published_figures_are_kept_and_differences_explained(metrics: pl.DataFrame) -> None:
    comparators = metrics.filter(
        (pl.col("geographic_level") != "Local authority") & pl.col("n_las").is_not_null()
    )
    # Beyond the publishers' rounding: 0.05 on a % printed to 1 dp, GBP 100 on the FY 2019-20
    # compilation's GBP million printed to 6 dp.
    gap = (pl.col("value") - pl.col("published_value")).abs()
    money = pl.col("metric_id").str.ends_with("_gbp") & ~pl.col("metric_id").str.contains("_per_")
    differ = comparators.filter(
        pl.col("published_value").is_not_null() & (gap > 0.05) & ~(money & (gap <= 100))
    )
    assert differ.height > 0
    assert differ["published_note"].null_count() == 0
    # Every England row of a published series keeps the publisher's figure beside it.
    england = comparators.filter(
        (pl.col("area_code") == "E92000001")
        & pl.col("metric_id").is_in(["ehc_plans_count", "tribunal_appeals_count"])
    )
    assert england["published_value"].null_count() == 0
    assert (england["value"] == england["published_value"]).all()


def test_england_annual_reviews_rate_pools_the_las_with_known_decisions(
    metrics: pl.DataFrame, raw_archive: Path
) -> None:
    rows = _csv_rows(raw_archive, TRIBUNAL_CSV_2025)
    header = next(i for i, r in enumerate(rows) if len(r) > 1 and r[1].strip() == "Old LA code")
    known: dict[int, list[float]] = {2024: [0.0, 0.0, 0.0], 2025: [0.0, 0.0, 0.0]}
    left_out: dict[int, set[str]] = {2024: set(), 2025: set()}
    england: dict[int, tuple[float, float]] = {}
    for r in rows[header + 1 :]:
        if r and r[0].startswith("England Total"):
            england = {2024: (float(r[2]), float(r[3])), 2025: (float(r[5]), float(r[6]))}
            continue
        if len(r) < 8 or not r[1].strip():  # region headers, blank and note rows
            continue
        for year, col in ((2024, 2), (2025, 5)):
            appeals, decisions = _number(r[col]), _number(r[col + 1])
            if appeals is not None and decisions is not None:
                known[year][0] += appeals
                known[year][1] += decisions
                known[year][2] += 1
            else:
                left_out[year].add(r[0].strip())
    assert (known[2024][0], known[2024][1]) == (20_771, 364_912)
    assert left_out[2024] == {
        "Blackpool", "Redbridge", "Waltham Forest", "Reading", "Surrey", "Plymouth"
    }  # fmt: skip
    assert england[2024] == (22_276, 364_912)
    ours = metrics.filter(
        (pl.col("metric_id") == "tribunal_appeal_rate_annual_reviews_pct")
        & (pl.col("area_code") == "E92000001")
    )
    for year in (2024, 2025):
        row = ours.filter(pl.col("year") == year).row(0, named=True)
        appeals, decisions, n = known[year]
        assert (row["numerator"], row["denominator"], row["n_las"]) == (appeals, decisions, n)
        assert row["value"] == pytest.approx(appeals / decisions * 100)
        assert row["published_value"] == pytest.approx(england[year][0] / england[year][1] * 100)
        for name in left_out[year]:
            assert name in row["published_note"]
    # 2024: 5.69% pooled (the publisher's own "England total excluding suppressed" prints 5.7%)
    # against 6.10% in the England Total row.
    row24 = ours.filter(pl.col("year") == 2024).row(0, named=True)
    assert (round(row24["value"], 2), round(row24["published_value"], 2)) == (5.69, 6.10)


def test_excluding_suppressed_row_rate_matches_but_its_appeals_do_not(raw_archive: Path) -> None:
    # The re-examined decision: the row's printed 5.70% is the pooled rate to 1 dp, but its
    # printed appeals (22,082) do not give it (22,082 / 364,912 = 6.05%), so the row does not
    # reproduce from its own cells; it stays out of the tidy table and the pooled figure,
    # which does reproduce, is the comparator.
    rows = _csv_rows(raw_archive, TRIBUNAL_CSV)
    row = next(r for r in rows if r and r[0].startswith("England total excluding"))
    appeals, decisions, rate = _number(row[32]), _number(row[35]), _number(row[36])
    assert (appeals, decisions, rate) == (22_082, 364_912, 5.7)
    assert round(20_771 / 364_912 * 100, 1) == rate
    assert round(22_082 / 364_912 * 100, 1) != rate


# --- no LA vanishes -------------------------------------------------------------------------


def test_tribunal_las_with_a_value_are_the_las_with_a_usable_raw_row(
    metrics: pl.DataFrame, built_root: Path
) -> None:
    tidy = pl.read_parquet(built_root / "data" / "tidy" / "moj_send_tribunal__appeals.parquet")
    newest = tidy.sort("release", descending=True).unique(
        subset=["measure", "method", "year", "area_code"], keep="first"
    )
    wide = newest.filter(pl.col("geographic_level") == "Local authority").pivot(
        on="measure", index=["method", "year", "la_code_dfe"], values="value"
    )
    for method, metric_id in (
        ("total_appealable_decisions_2018", "tribunal_appeal_rate_pct"),
        ("total_appealable_decisions_annual_reviews", "tribunal_appeal_rate_annual_reviews_pct"),
    ):
        usable = wide.filter(
            (pl.col("method") == method)
            & pl.col("appeals_registered_count").is_not_null()
            & (pl.col("appealable_decisions_count") > 0)
        )
        ours = metrics.filter(
            (pl.col("metric_id") == metric_id)
            & (pl.col("geographic_level") == "Local authority")
            & pl.col("value").is_not_null()
        )
        assert set(usable.select("year", "la_code_dfe").iter_rows()) == set(
            ours.select("year", "la_code_dfe").iter_rows()
        ), metric_id


def test_ehc_plan_las_with_a_value_are_the_las_with_a_usable_raw_row(
    metrics: pl.DataFrame, built_root: Path
) -> None:
    from sendstats.metrics.ehcp import choose_releases

    tidy = pl.read_parquet(built_root / "data" / "tidy" / "dfe_sen2__ehcp.parquet")
    chosen = choose_releases(tidy)
    for measure in ("ehc_plans_count", "new_ehc_plans_count", "requests_count"):
        usable = chosen.filter(
            (pl.col("measure") == measure)
            & (pl.col("geographic_level") == "Local authority")
            & pl.col("value").is_not_null()
        )
        ours = metrics.filter(
            (pl.col("metric_id") == measure) & (pl.col("geographic_level") == "Local authority")
        )
        assert set(usable.select("year", "la_code_dfe").iter_rows()) == set(
            ours.select("year", "la_code_dfe").iter_rows()
        ), measure


def test_every_counted_la_has_a_rate_row_and_none_is_dropped_silently(
    metrics: pl.DataFrame,
) -> None:
    for rate, count, first in (
        ("ehc_plans_per_10k_0_25", "ehc_plans_count", 2018),
        ("tribunal_appeals_per_10k_0_25", "tribunal_appeals_count", 2017),
    ):
        counted = metrics.filter(
            (pl.col("metric_id") == count)
            & (pl.col("geographic_level") == "Local authority")
            & (pl.col("year") >= first)
        )
        rates = metrics.filter(
            (pl.col("metric_id") == rate) & (pl.col("geographic_level") == "Local authority")
        )
        assert set(counted.select("year", "la_code_dfe").iter_rows()) == set(
            rates.select("year", "la_code_dfe").iter_rows()
        ), rate
        missing = rates.filter(pl.col("value").is_null())
        # Only the LAs merged in April 2019, in the year the held mid-2018 estimate (on April
        # 2019 boundaries) cannot divide: each with its reason.
        merged = [(first + 1, "835"), (first + 1, "836"), (first + 1, "837")]
        # Northamptonshire's appeals of January to March 2021 sit beside its successors' 2021
        # appeals: dividing both by the same residents would count them twice.
        part_year = [(2021, "928")] if rate.startswith("tribunal") else []
        assert sorted(missing.select("year", "la_code_dfe").iter_rows()) == merged + part_year
        notes = dict(zip(missing["la_code_dfe"], missing["note"], strict=True))
        assert notes["835"].startswith("not computed: no ONS mid-2018")
        if part_year:
            assert "abolished during the period" in notes["928"]
        england = metrics.filter(
            (pl.col("metric_id") == rate)
            & (pl.col("area_code") == "E92000001")
            & (pl.col("year") == first + 1)
        ).row(0, named=True)
        assert "Bournemouth, Dorset, Poole" in england["note"]


# --- geography changes: no series crosses one unflagged; predecessors keep history ----------


def _period(year: int, period_type: str) -> tuple[dt.date, dt.date]:
    """First and last day of a period (a January census is one day; an FY starts in April)."""
    if period_type == "academic_year":
        return dt.date(year, 1, 15), dt.date(year, 1, 15)
    if period_type == "financial_year":
        return dt.date(year, 4, 1), dt.date(year + 1, 3, 31)
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


THEMES = (
    "ehc_plans_count",
    "tribunal_appeals_count",
    "tribunal_appeal_rate_pct",
    "high_needs_block_gbp",
    "ehc_plans_per_10k_0_25",
    "tribunal_appeals_per_10k_0_25",
    "high_needs_block_per_head_2_18_gbp",
)


@pytest.mark.parametrize("metric_id", THEMES)
def test_no_la_has_a_value_outside_its_life(metrics: pl.DataFrame, metric_id: str) -> None:
    rows = metrics.filter(
        (pl.col("metric_id") == metric_id) & (pl.col("geographic_level") == "Local authority")
    )
    period = get_metric(metric_id).period_type
    for code, year in rows.select("la_code_dfe", "year").unique().iter_rows():
        la = geography.get_la(code)
        start, end = _period(year, period)
        # The LA existed at some point of the period (a calendar year may straddle the change:
        # Northamptonshire's appeals of January to March 2021).
        assert (la.valid_from is None or la.valid_from <= end) and (
            la.valid_to is None or start <= la.valid_to
        ), (metric_id, code, year)


@pytest.mark.parametrize(
    ("metric_id", "history"),
    [
        # Dorset county (835) keeps its own tribunal history to 2018; Dorset Council (838)
        # starts in 2019, as the EHC plan tables have it (issue 17, defect 2).
        ("tribunal_appeals_count", {"835": (2014, 2018), "838": (2019, 2024), "839": (2019, 2024)}),
        ("ehc_plans_count", {"835": (2010, 2019), "838": (2020, 2025), "928": (2010, 2021)}),
        ("tribunal_appeals_count", {"928": (2014, 2021), "909": (2014, 2022), "942": (2023, 2024)}),
        ("high_needs_block_gbp", {"928": (2019, 2020), "909": (2019, 2022), "943": (2023, 2023)}),
    ],
)
def test_predecessors_keep_their_history(
    metrics: pl.DataFrame, metric_id: str, history: dict[str, tuple[int, int]]
) -> None:
    rows = metrics.filter(
        (pl.col("metric_id") == metric_id) & (pl.col("geographic_level") == "Local authority")
    )
    for code, (first, last) in history.items():
        years = rows.filter(pl.col("la_code_dfe") == code)["year"]
        assert (years.min(), years.max()) == (first, last), (metric_id, code)


def test_dorset_tribunal_years_resolve_to_the_la_in_force(
    metrics: pl.DataFrame, raw_archive: Path
) -> None:
    rows = _csv_rows(raw_archive, TRIBUNAL_CSV)
    dorset = next(r for r in rows if r and r[0].rstrip("0123456789") == "Dorset")
    published = {2014 + i: _number(dorset[2 + 3 * i]) for i in range(11)}
    ours = metrics.filter(
        (pl.col("metric_id") == "tribunal_appeals_count")
        & pl.col("la_code_dfe").is_in(["835", "838"])
    )
    got = {y: (c, v) for c, y, v in ours.select("la_code_dfe", "year", "value").iter_rows()}
    for year, value in published.items():
        assert got[year] == ("835" if year < 2019 else "838", value), year


def test_changes_across_a_reorganisation_are_never_computed(metrics: pl.DataFrame) -> None:
    # A successor's first change is on its own first year, never on a predecessor's value:
    # BCP and Dorset Council (first January 2020), the Northamptonshires (2022), Cumberland
    # and Westmorland and Furness (2024).
    la = metrics.filter(pl.col("geographic_level") == "Local authority")
    successors = [x.la_code_dfe for x in geography.all_las() if x.valid_from is not None]
    assert {"838", "839", "940", "941", "942", "943"} <= set(successors)
    for count, change in (
        ("ehc_plans_count", "ehc_plans_change_pct"),
        ("new_ehc_plans_count", "new_ehc_plans_change_pct"),
    ):
        for code in successors:
            first = la.filter((pl.col("metric_id") == count) & (pl.col("la_code_dfe") == code))
            changes = la.filter((pl.col("metric_id") == change) & (pl.col("la_code_dfe") == code))
            if first.height:
                start = int(first["year"].min())  # type: ignore[arg-type]
                assert changes["year"].min() == start + 1, (change, code)


def test_tribunal_2023_break_flags_changes_across_it(tables: dict[str, pl.DataFrame]) -> None:
    assert get_metric("tribunal_appeal_rate_pct").break_years == (2023,)
    bench = tables["benchmarks"].filter(pl.col("metric_id") == "tribunal_appeal_rate_pct")
    at = bench.filter(pl.col("year") == 2023)
    assert at["change_prev_spans_break"].drop_nulls().all()
    assert at["change_note"].drop_nulls().str.contains("2023").all()
    assert not bench.filter(pl.col("year") == 2022)["change_prev_spans_break"].drop_nulls().any()


# --- ASCOF: suppressed counts are not published -----------------------------------------------


def test_ascof_value_with_suppressed_counts_is_not_published(
    tables: dict[str, pl.DataFrame],
) -> None:
    bench = (
        tables["benchmarks"]
        .filter(
            (pl.col("metric_id") == "ascof_1e_ld_paid_employment_pct")
            & (pl.col("area_name") == "Isles of Scilly")
        )
        .row(0, named=True)
    )
    assert bench["value"] is None and bench["rank"] is None and bench["band"] is None
    assert bench["ci95_low"] is None and bench["significance"] == "Not compared"
    assert bench["reliability"] == "not published" and "[c]" in bench["note"]
    ranked = tables["benchmarks"].filter(
        (pl.col("metric_id") == "ascof_1e_ld_paid_employment_pct") & pl.col("rank").is_not_null()
    )
    assert ranked["n_ranked"].unique().to_list() == [ranked.height]


# --- per-head rates on the new estimates: one LA per reorganisation case ----------------------


def _ons_band(archive: Path, name: str, code: str, low: int, high: int) -> int:
    """Sum single years of age for one area straight from an ONS workbook (header by 'Code')."""
    rows = (
        CalamineWorkbook.from_path(archive / "lookups" / name)
        .get_sheet_by_name("MYE2 - Persons")
        .to_python(skip_empty_area=False)
    )
    header = next(i for i, r in enumerate(rows) if str(r[0]).strip() == "Code")
    ages = [str(c).strip().removesuffix(".0") for c in rows[header]]
    row = next(r for r in rows[header + 1 :] if str(r[0]).strip() == code)
    cells = [str(row[ages.index(str(a))]) for a in range(low, high + 1)]
    return round(sum(float(c) for c in cells))


MYE = {
    2018: "ukmidyearestimates20182019ladcodes.xls",
    2019: "ukmidyearestimates20192020ladcodes.xls",
    2020: "ukpopestimatesmid2020on2021geography.xls",
    2021: "ukpopestimatesmid2021on2021geographyfinal.xls",
    2022: "mye22final.xlsx",
    2023: "mye23tablesew.xlsx",
}


@pytest.mark.parametrize(
    ("metric_id", "count_id", "la", "year", "mid_year", "codes"),
    [
        # BCP (merger, 2019): January 2020 over BCP's own mid-2019 population.
        ("ehc_plans_per_10k_0_25", "ehc_plans_count", "839", 2020, 2019, ["E06000058"]),
        # Northamptonshire (split, 2021): January 2021 over North + West of mid-2020.
        (
            "ehc_plans_per_10k_0_25",
            "ehc_plans_count",
            "928",
            2021,
            2020,
            ["E06000061", "E06000062"],
        ),
        # Cumbria (split, 2023): 2022 appeals over Cumberland + Westmorland and Furness of
        # mid-2022 (April 2023 boundaries); January 2023 likewise.
        (
            "tribunal_appeals_per_10k_0_25",
            "tribunal_appeals_count",
            "909",
            2022,
            2022,
            ["E06000063", "E06000064"],
        ),
        (
            "ehc_plans_per_10k_0_25",
            "ehc_plans_count",
            "909",
            2023,
            2022,
            ["E06000063", "E06000064"],
        ),
        # North Yorkshire (new unitary code, same boundary, 2023): mid-2021 county code, then
        # the unitary code.
        ("ehc_plans_per_10k_0_25", "ehc_plans_count", "815", 2022, 2021, ["E10000023"]),
        ("ehc_plans_per_10k_0_25", "ehc_plans_count", "815", 2024, 2023, ["E06000065"]),
        # Somerset (same): 2023 appeals over the unitary's mid-2023.
        (
            "tribunal_appeals_per_10k_0_25",
            "tribunal_appeals_count",
            "933",
            2023,
            2023,
            ["E06000066"],
        ),
        # Cumberland (successor) in January 2025: no mid-2024 held, so the latest (mid-2023).
        ("ehc_plans_per_10k_0_25", "ehc_plans_count", "942", 2025, 2023, ["E06000063"]),
    ],
)
def test_rate_per_10k_for_one_la_per_reorganisation_case(
    metrics: pl.DataFrame,
    raw_archive: Path,
    metric_id: str,
    count_id: str,
    la: str,
    year: int,
    mid_year: int,
    codes: list[str],
) -> None:
    population = sum(_ons_band(raw_archive, MYE[mid_year], c, 0, 25) for c in codes)
    count = metrics.filter(
        (pl.col("metric_id") == count_id) & (pl.col("la_code_dfe") == la) & (pl.col("year") == year)
    )["value"][0]
    row = metrics.filter(
        (pl.col("metric_id") == metric_id)
        & (pl.col("la_code_dfe") == la)
        & (pl.col("year") == year)
    ).row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (count, population)
    assert row["value"] == pytest.approx(count / population * 10_000)
    assert f"mid-{mid_year}" in row["note"] and row["denominator_file"] == MYE[mid_year]
    assert len(row["denominator_sha256"]) == 64
    if year - (1 if metric_id.startswith("ehc") else 0) > mid_year:
        assert "latest estimate held used" in row["note"]


def test_high_needs_per_head_on_the_new_estimates(metrics: pl.DataFrame, raw_archive: Path) -> None:
    # Kent, FY 2023-24: the high-needs block over Kent's residents aged 2-18 at mid-2023.
    population = _ons_band(raw_archive, MYE[2023], "E10000016", 2, 18)
    row = metrics.filter(
        (pl.col("metric_id") == "high_needs_block_per_head_2_18_gbp")
        & (pl.col("area_name") == "Kent")
        & (pl.col("year") == 2023)
    ).row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (311_663_662, population)
    assert row["denominator_release"] == "mid-2023"
    # North Northamptonshire, FY 2021-22, over the Census-based mid-2021 (a series break).
    nn = metrics.filter(
        (pl.col("metric_id") == "high_needs_block_per_head_2_18_gbp")
        & (pl.col("la_code_dfe") == "940")
        & (pl.col("year") == 2021)
    ).row(0, named=True)
    assert nn["denominator"] == _ons_band(raw_archive, MYE[2021], "E06000061", 2, 18)
    assert 2021 in get_metric("high_needs_block_per_head_2_18_gbp").break_years


def test_every_per_head_row_cites_its_population_file(metrics: pl.DataFrame) -> None:
    per_head = metrics.filter(
        pl.col("metric_id").str.contains("_per_")
        & pl.col("denominator").is_not_null()
        & (pl.col("metric_id") != "high_needs_spend_per_head_2_18_gbp")  # FBIT's own population
    )
    assert per_head.height > 3_000
    for col in ("denominator_release", "denominator_file", "denominator_sha256"):
        assert per_head[col].null_count() == 0, col


# --- small numbers --------------------------------------------------------------------------


def test_small_bases_are_not_ranked_banded_or_tested(tables: dict[str, pl.DataFrame]) -> None:
    bench = tables["benchmarks"]
    small = bench.filter(pl.col("reliability") == "not ranked")
    assert small.height > 0
    assert (small["reliability_base"] < 10).all()
    for col in ("rank", "band", "percentile", "funnel_position"):
        assert small[col].null_count() == small.height, col
    assert (small["significance"] == "Not compared").all()
    caution = bench.filter(pl.col("reliability") == "caution")
    assert caution["reliability_base"].is_between(10, 30, closed="left").all()
    assert caution["rank"].null_count() < caution.height
    # n_ranked counts only the LAs the rule lets be ranked.
    ranked = bench.filter(pl.col("rank").is_not_null())
    counts = ranked.group_by("metric_id", "year").agg(pl.len(), pl.col("n_ranked").first())
    assert (counts["len"] == counts["n_ranked"]).all()


def test_benchmarks_compare_with_the_pooled_england_and_show_the_published(
    tables: dict[str, pl.DataFrame],
) -> None:
    # The gap, funnel limits and significance use England pooled over the 147 LAs with known
    # decisions (5.69%), not the published 6.10% (issue 17, defect 1).
    kent = (
        tables["benchmarks"]
        .filter(
            (pl.col("metric_id") == "tribunal_appeal_rate_annual_reviews_pct")
            & (pl.col("area_name") == "Kent")
            & (pl.col("year") == 2024)
        )
        .row(0, named=True)
    )
    assert kent["england_n_las"] == 147
    assert round(kent["england_value"], 2) == 5.69
    assert round(kent["england_published_value"], 2) == 6.10
    assert kent["gap_england"] == pytest.approx(kent["value"] - kent["england_value"])
    assert "england_n_las" in kent["england_rule"]


def test_left_out_lists_every_la_left_out_and_why(metrics: pl.DataFrame) -> None:
    from sendstats.metrics.comparators import left_out

    listed = left_out(metrics)
    england = listed.filter(
        (pl.col("metric_id") == "tribunal_appeal_rate_annual_reviews_pct")
        & (pl.col("area_code") == "E92000001")
        & (pl.col("year") == 2024)
    )
    assert (
        england["left_out"][0] == "Blackpool, Plymouth, Reading, Redbridge, Surrey, Waltham Forest"
    )
    scilly = listed.filter(
        (pl.col("metric_id") == "ascof_1e_ld_paid_employment_pct")
        & (pl.col("area_name") == "Isles of Scilly")
    )
    assert scilly["reason"][0].startswith("not published")


def test_surrey_needs_england_totals_back_the_published_percentages(
    metrics: pl.DataFrame, raw_archive: Path
) -> None:
    # England's published SLD and SpLD counts differ from the LAs' sums by +656 and -656:
    # Surrey's published % (7.8 and 0.1) fit the England row; its counts (595, 665) do not.
    name = "ehcp/education-health-and-care-plans_2025/data/sen_needs_all_plans.csv"
    with (raw_archive / name).open(encoding="utf-8-sig", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["breakdown"] == "All EHC plans"]
    england = next(r for r in rows if r["geographic_level"] == "National")
    las = [r for r in rows if r["geographic_level"] == "Local authority"]
    for need, gap in (("sld", 656), ("spld", -656)):
        total = sum(int(r[f"number_{need}"]) for r in las)
        assert int(england[f"number_{need}"]) - total == gap
        ours = metrics.filter(
            (pl.col("metric_id") == f"ehc_plans_need_{need}_pct")
            & (pl.col("area_code") == "E92000001")
        ).row(0, named=True)
        assert ours["numerator"] == total and ours["published_note"] is not None
    surrey = next(r for r in las if r["la_name"] == "Surrey")
    assert round((595 + 656) / int(surrey["ehc_plans"]) * 100, 1) == float(surrey["sld_pc"])


def test_metric_table_ranks_follow_the_same_small_numbers_rule(
    metrics: pl.DataFrame, tables: dict[str, pl.DataFrame]
) -> None:
    # One rank per value: the metric tables and the benchmarks table agree, row for row.
    ours = metrics.filter(pl.col("geographic_level") == "Local authority").select(
        "metric_id", "la_code_dfe", "year", pl.col("rank").alias("m_rank"), "n_ranked"
    )
    bench = tables["benchmarks"].select(
        "metric_id", "la_code_dfe", "year", "rank", pl.col("n_ranked").alias("b_n")
    )
    joined = ours.join(bench, on=["metric_id", "la_code_dfe", "year"], how="inner")
    assert joined.height == bench.height
    assert joined.filter(pl.col("m_rank").ne_missing(pl.col("rank"))).height == 0
    assert joined.filter(pl.col("n_ranked").ne_missing(pl.col("b_n"))).height == 0


def test_excluding_suppressed_row_is_checked_and_logged_in_the_manifest(built_root: Path) -> None:
    import json

    manifest = json.loads((built_root / "data" / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["outputs"]["tidy/moj_send_tribunal__appeals.parquet"]["details"]["files"]
    (check,) = files["2025/appeal_rate_2014_2024"]["partial_totals"]
    assert (check["raw_row"], check["year"], check["appeals"], check["decisions"]) == (
        175,
        2024,
        22_082,
        364_912,
    )
    assert (check["rate_pct"], check["rate_follows_from_its_cells"], check["used"]) == (
        5.7,
        False,
        False,
    )
