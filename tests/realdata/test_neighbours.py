"""Statistical neighbour sets as versioned data, and comparator groups with named averaging."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from sendstats.geography import UnknownLAError, get_la, list_las
from sendstats.geography.neighbours import (
    AVERAGING_RULES,
    CLOSENESS_BANDS,
    compare,
    custom_group,
    england_group,
    is_legacy_entry,
    neighbours,
    region_group,
    sn_group,
    sn_table,
)

D = dt.date


@pytest.mark.parametrize(
    ("sn_set", "geography"), [("2021", D(2021, 4, 1)), ("2025", D(2023, 4, 1))]
)
def test_every_la_of_the_set_has_ten_resolvable_neighbours(sn_set: str, geography: dt.date) -> None:
    skip = {"942", "943"} if sn_set == "2021" else set()  # listed with "-" in April 2021
    for la in list_las(geography):
        if la.la_code_dfe in skip:
            assert neighbours(la.la_code_dfe, sn_set) == []  # type: ignore[arg-type]
            continue
        found = neighbours(la.la_code_dfe, sn_set)  # type: ignore[arg-type]
        assert [n.rank for n in found] == list(range(1, 11)), la.la_name
        codes = [n.la_code_dfe for n in found]
        assert len(set(codes)) == 10 and la.la_code_dfe not in codes
        assert all(get_la(c).la_name == n.la_name for c, n in zip(codes, found, strict=True))
        assert {n.closeness for n in found} <= set(CLOSENESS_BANDS)


def test_2025_neighbours_of_current_las_are_current_las() -> None:
    live = {la.la_code_dfe for la in list_las(D(2025, 6, 1))}
    for code in live:
        assert {n.la_code_dfe for n in neighbours(code, "2025")} <= live


def test_legacy_entries_are_flagged_and_carried_over_unchanged() -> None:
    assert is_legacy_entry("837", "2025") and is_legacy_entry("909", "2025")
    assert not is_legacy_entry("909", "2021") and is_legacy_entry("928", "2021")
    for code in ("835", "836", "837", "909", "928"):
        assert neighbours(code, "2021") == neighbours(code, "2025"), code


def test_sets_differ_and_are_queryable_by_set() -> None:
    assert neighbours("886", "2021") != neighbours("886", "2025")
    assert neighbours("886")[0].la_name == "Essex"  # default: May 2025 set
    with pytest.raises(UnknownLAError):
        neighbours("999", "2025")
    with pytest.raises(ValueError, match="unknown SN set"):
        neighbours("886", "2019")  # type: ignore[arg-type]


def _read_workbook(path: Path, sn_set: str) -> pl.DataFrame:
    sheet = fastexcel.read_excel(path).load_sheet("LA SN Groups", header_row=None, dtypes="string")
    rows = []
    for rec in sheet.to_polars().iter_rows():
        if rec[0] is None or not (rec[0].isdigit() and len(rec[0]) == 3):  # skip letter/number rows
            continue
        for k in range(10):
            code, band = rec[5 + 2 * k], rec[6 + 2 * k]
            if code != "-":
                rows.append((sn_set, rec[0], k + 1, code, band.capitalize()))
    return pl.DataFrame(
        rows,
        schema=["sn_set", "la_code_dfe", "rank", "neighbour_code_dfe", "closeness"],
        orient="row",
    )


def test_map_equals_the_dfe_workbooks(raw_archive: Path) -> None:
    held = pl.concat(
        [
            _read_workbook(raw_archive / "lookups" / "sn_april_2021.xlsx", "2021"),
            _read_workbook(raw_archive / "lookups" / "sn_may_2025.xlsx", "2025"),
        ]
    )
    ours = sn_table().drop("legacy").with_columns(pl.col("rank").cast(pl.Int64))
    keys = ["sn_set", "la_code_dfe", "rank"]
    assert ours.sort(keys).equals(held.with_columns(pl.col("rank").cast(pl.Int64)).sort(keys))


def _frame() -> pl.DataFrame:
    # three LAs: rates 10%, 20% and 60% on very different denominators
    return pl.DataFrame(
        {
            "time_period": ["2024"] * 3,
            "la_code_dfe": ["886", "881", "845"],
            "appeals": [10, 40, 30],
            "decisions": [100, 200, 50],
        }
    )


def test_averaging_rules_give_different_answers_and_are_named() -> None:
    df = _frame()
    group = custom_group(["Kent", "Essex", "East Sussex"], "Three counties", "pooled")
    pooled = compare(df, group, numerator_col="appeals", denominator_col="decisions", scale=100)
    assert pooled["value"][0] == pytest.approx(80 / 350 * 100)
    assert pooled["averaging"][0] == AVERAGING_RULES["pooled"]
    mean_group = custom_group(["886", "881", "845"], "Three counties", "mean")
    mean = compare(df, mean_group, numerator_col="appeals", denominator_col="decisions", scale=100)
    assert mean["value"][0] == pytest.approx(30.0)
    assert mean["averaging"][0] == "unweighted mean of LA values"
    median = compare(
        df.with_columns(rate=pl.col("appeals") / pl.col("decisions") * 100),
        custom_group(["886", "881", "845"], "Three counties", "median"),
        value_col="rate",
    )
    assert median["value"][0] == pytest.approx(20.0)
    assert set(median.columns) >= {"comparator", "comparator_kind", "averaging", "n_las"}


def test_pooled_needs_numerator_and_denominator() -> None:
    with pytest.raises(ValueError, match="numerator"):
        compare(_frame(), england_group("pooled"), value_col="appeals")


def test_sn_group_counts_missing_neighbours() -> None:
    group = sn_group("886", "2025")
    assert group.averaging == "mean" and len(group.members or ()) == 10
    df = _frame().filter(pl.col("la_code_dfe") != "886")  # Essex and East Sussex only
    out = compare(df, group, numerator_col="appeals", denominator_col="decisions")
    assert out["n_las"][0] == 2 and out["n_missing"][0] == 8
    assert out["comparator"][0] == "Statistical neighbours of Kent (2025 set)"


def test_region_and_england_groups() -> None:
    south_east = region_group("E12000008")
    assert south_east.label == "South East" and "886" in (south_east.members or ())
    out = compare(_frame(), england_group(), numerator_col="appeals", denominator_col="decisions")
    assert out["n_las"][0] == 3 and out["comparator_kind"][0] == "england"
    with pytest.raises(ValueError, match="unknown region"):
        region_group("E12000010")
