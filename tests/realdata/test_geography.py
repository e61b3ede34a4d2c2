"""The LA crosswalk: counts per date, resolution, codes over time, and every held file's codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import fastexcel
import pandas as pd
import polars as pl
import pytest

from sendstats.geography import (
    LACodeError,
    UnknownLAError,
    all_las,
    canonical_codes,
    describe_la,
    format_la_list,
    gss_history,
    harmonise_to_vintage,
    list_las,
    region_of,
    reorganisations,
    resolve_la,
)

D = dt.date


@pytest.mark.parametrize(
    ("on", "count"),
    [
        (D(2010, 1, 1), 152),
        (D(2019, 3, 31), 152),
        (D(2019, 4, 1), 151),
        (D(2021, 3, 31), 151),
        (D(2021, 4, 1), 152),
        (D(2023, 3, 31), 152),
        (D(2023, 4, 1), 153),
        (D(2025, 6, 1), 153),
    ],
)
def test_la_counts_match_the_published_counts(on: dt.date, count: int) -> None:
    las = list_las(on)
    assert len(las) == count
    assert len({la.la_code for la in las}) == count  # one ONS code per LA on any date


@pytest.mark.parametrize(
    ("query", "dfe"),
    [
        ("Bristol, City of", "801"),
        ("bristol city of", "801"),
        ("Kingston Upon Hull, City of", "810"),
        ("St. Helens", "342"),
        ("St Helens", "342"),
        ("Herefordshire, County of", "884"),
        ("Herefordshire", "884"),
        ("Cumbria8", "909"),
        ("North Northamptonshire7", "940"),
        ("Poole5", "836"),
        ("Bedford Borough", "822"),
        ("Durham", "840"),
        ("County Durham", "840"),
        ("Dorset (Pre LG)", "835"),
        ("Stockton on Tees", "808"),
        ("Hammersmith & Fulham", "205"),
        ("E06000023", "801"),
        ("e06000023", "801"),
        ("801", "801"),
        ("801.0", "801"),
        ("E10000002", "825"),
        ("E06000060", "825"),
        ("E08000038", "370"),
    ],
)
def test_resolve_accepts_codes_and_publisher_spellings(query: str, dfe: str) -> None:
    assert resolve_la(query).la_code_dfe == dfe


def test_a_shared_name_is_decided_by_the_date() -> None:
    assert resolve_la("Dorset", on=D(2018, 6, 1)).la_code_dfe == "835"
    assert resolve_la("Dorset", on=D(2020, 6, 1)).la_code_dfe == "838"
    assert resolve_la("Dorset").la_code_dfe == "838"  # no date: the LA in force today


def test_la_code_is_the_ons_code_in_force_on_the_date_asked() -> None:
    assert resolve_la("825", on=D(2019, 6, 1)).la_code == "E10000002"
    assert resolve_la("825", on=D(2019, 6, 1)).la_type == "SC"
    assert resolve_la("825", on=D(2021, 6, 1)).la_code == "E06000060"
    assert resolve_la("825", on=D(2021, 6, 1)).la_type == "UA"
    assert resolve_la("E10000023", on=D(2024, 1, 1)).la_code == "E06000065"
    assert resolve_la("North Yorkshire", on=D(2022, 1, 1)).la_code == "E10000023"
    assert resolve_la("Barnsley", on=D(2025, 6, 1)).la_code == "E08000038"
    assert resolve_la("Gateshead", on=D(2012, 1, 1)).la_code == "E08000020"
    # without a date: the stable join code of canonical_codes
    assert resolve_la("Barnsley").la_code == "E08000016"
    assert resolve_la("Somerset").la_code == "E06000066"


def test_unknown_name_lists_close_candidates_but_never_resolves_them() -> None:
    with pytest.raises(UnknownLAError) as err:
        resolve_la("Bristl")
    assert "Bristol, City of (801)" in str(err.value)
    assert err.value.query == "Bristl"
    with pytest.raises(UnknownLAError):
        resolve_la("England Total4,9")


def test_an_la_not_in_force_names_its_successor() -> None:
    with pytest.raises(UnknownLAError) as err:
        resolve_la("Bournemouth", on=D(2022, 1, 1))
    assert "839" in str(err.value) and "2022-01-01" in str(err.value)


def test_regions_use_ees_codes_and_names() -> None:
    assert region_of("873") == ("E12000006", "East of England")
    assert region_of("815") == ("E12000003", "Yorkshire and The Humber")
    assert {la.region_code for la in all_las()} == {f"E1200000{i}" for i in range(1, 10)}


def test_links_and_reorganisations_agree() -> None:
    las = {la.la_code_dfe: la for la in all_las()}
    for la in las.values():
        for succ in la.successors:
            assert la.la_code_dfe in las[succ].predecessors
        for pred in la.predecessors:
            assert la.la_code_dfe in las[pred].successors
    moves = {(r.from_dfe, r.to_dfe) for r in reorganisations() if r.relation != "recode"}
    links = {(a, b) for a, la in las.items() for b in la.successors}
    assert moves == links


def test_every_la_has_one_ons_code_on_every_day_it_exists() -> None:
    for la in all_las():
        ons = [c for c in gss_history(la.la_code_dfe) if c.kind == "ons"]
        for on in (D(2010, 1, 1), D(2013, 4, 1), D(2019, 4, 1), D(2023, 4, 1), D(2025, 4, 1)):
            if la.is_valid_on(on):
                live = [c for c in ons if (c.valid_from or on) <= on <= (c.valid_to or on)]
                assert len(live) == 1, (la.la_code_dfe, on, live)


def _ees_like() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "time_period": ["202425", "202425", "202021", "202425", "202425", "202425"],
            "geographic_level": ["National"] + ["Local authority"] * 5,
            "new_la_code": [None, "E10000002", "E06000060", "E10000023", "E08000016", "E06000023"],
            "old_la_code": [None, "825", "825", "815", "370", "801"],
            "la_name": [None, "Buckinghamshire", "Buckinghamshire", "North Yorkshire", "Barnsley",
                        "Bristol, City of"],
        }
    )  # fmt: skip


def test_canonical_codes_gives_one_stable_code_per_la() -> None:
    out = canonical_codes(_ees_like(), source="caseload.csv")
    expected = [None, "E06000060", "E06000060", "E06000065", "E08000016", "E06000023"]
    assert out["la_code"].to_list() == expected
    assert out["la_code_dfe"][0] is None
    assert out["new_la_code"][1] == "E10000002"  # the published column is kept as it was
    assert out.columns[-3:] == ["la_code_dfe", "la_code", "la_name"]


def test_canonical_codes_names_file_column_row_and_value() -> None:
    bad = _ees_like().with_columns(pl.col("old_la_code").replace({"370": "999"}))
    with pytest.raises(LACodeError) as err:
        canonical_codes(bad, source="caseload.csv")
    msg = str(err.value)
    assert "caseload.csv" in msg and "'old_la_code'" in msg and "data row 5" in msg and "999" in msg


def test_canonical_codes_refuses_codes_that_disagree() -> None:
    bad = _ees_like().with_columns(pl.col("old_la_code").replace({"801": "802"}))
    with pytest.raises(LACodeError, match="disagrees"):
        canonical_codes(bad, source="x.csv")


def test_on_conflict_name_trusts_the_name_for_tribunal_code_swaps() -> None:
    df = pl.DataFrame({"name": ["Nottingham", "Nottinghamshire3"], "code": ["891", "928"]})
    with pytest.raises(LACodeError):
        canonical_codes(df, dfe_col="code", gss_col=None, name_col="name", source="t.csv")
    out = canonical_codes(
        df, dfe_col="code", gss_col=None, name_col="name", source="t.csv", on_conflict="name"
    )
    assert out["la_code_dfe"].to_list() == ["892", "891"]


def test_describe_and_list_are_readable(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDSTATS_OFFLINE", "1")
    monkeypatch.delenv("SENDSTATS_ARCHIVE", raising=False)
    text = describe_la("Cumbria8")
    assert "Population: not built yet" in text
    assert text.startswith("Cumbria (DfE 909")
    assert "Cumberland (942)" in text and "E10000006" in text
    listing = format_la_list(D(2019, 1, 1))
    assert listing.splitlines()[0] == "152 local authorities in force on 2019-01-01"
    assert "Bournemouth" in listing and len(listing.splitlines()) == 154


# --- every LA code and name in every held raw file resolves --------------------------------


def test_every_ees_ehcp_file_resolves(raw_archive: Path) -> None:
    files = sorted((raw_archive / "ehcp").rglob("*.csv"))
    assert len(files) == 16
    for path in files:
        cols = ["geographic_level", "new_la_code", "old_la_code", "la_name"]
        df = pl.read_csv(path, infer_schema_length=0, encoding="utf8-lossy")
        df = df.rename({c: c.lstrip("\ufeff") for c in df.columns}).select(cols)
        out = canonical_codes(df, source=path.name)
        la_rows = out.filter(pl.col("geographic_level") == "Local authority")
        assert la_rows["la_code_dfe"].null_count() == 0, path.name


def _tribunal_rows(path: Path) -> list[tuple[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    return [
        (rec[0], rec[1].strip())
        for rec in csv.reader(io.StringIO(text))
        if len(rec) > 1 and rec[1].strip().isdigit()
    ]


def test_every_tribunal_csv_name_and_code_resolves(raw_archive: Path) -> None:
    swapped: set[tuple[str, str, str]] = set()
    for path in sorted((raw_archive / "tribunal").glob("*.csv")):
        rows = _tribunal_rows(path)
        assert len(rows) >= 150, path.name
        df = pl.DataFrame(rows, schema=["name", "code"], orient="row")
        out = canonical_codes(
            df, dfe_col="code", gss_col=None, name_col="name", source=path.name, on_conflict="name"
        )
        for name, code, dfe in out.select("name", "code", "la_code_dfe").iter_rows():
            resolve_la(code)  # the code resolves on its own too
            if code != dfe:
                swapped.add((path.name[:4], name, code))
    # Codes the MoJ tables give to the wrong LA (matched on name instead); new swaps fail here.
    assert {(n, c) for _, n, c in swapped} == {
        ("Cambridgeshire", "823"),
        ("Central Bedfordshire", "873"),
        ("Northamptonshire7", "892"),
        ("Nottingham", "891"),
        ("Nottinghamshire", "928"),
    }


def test_every_tribunal_ods_la_name_resolves(raw_archive: Path) -> None:
    for path in sorted((raw_archive / "tribunal").glob("*.ods")):
        sheet = fastexcel.read_excel(path).load_sheet("SEND_2", header_row=None, dtypes="string")
        cells = sheet.to_polars()[:, 0].to_list()
        body = cells[cells.index("Local Authority") + 1 : cells.index("England Total4")]
        names = [n for n in body if n and not n.isupper()]  # upper case: region headers
        assert len(names) >= 152, path.name
        for name in names:
            resolve_la(name)


def test_every_ascof_council_resolves(raw_archive: Path) -> None:
    path = raw_archive / "ascof" / "meas-from-asc-of-eng-2021-open-data-csv_v2.xlsx"
    frame = fastexcel.read_excel(path).load_sheet("in", dtypes="string").to_polars()
    councils = frame.filter(pl.col("Geographical Level") == "Council").select(
        "Geographical Description", "ONS Code"
    )
    out = canonical_codes(
        councils.unique(),
        dfe_col=None,
        gss_col="ONS Code",
        name_col="Geographical Description",
        source=path.name,
        level_col=None,
    )
    assert out["la_code_dfe"].n_unique() == 151


def _dsg_rows(path: Path) -> list[tuple[str, str, str]]:
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="odf", dtype=str)
    return [
        (name, str(row.iloc[0]).strip(), str(row.iloc[1]))
        for name, sheet in sheets.items()
        if name.startswith("Alloc")
        for _, row in sheet.iterrows()
        if str(row.iloc[0]).strip().isdigit()
    ]


def test_every_dsg_la_number_and_name_resolves(raw_archive: Path) -> None:
    for path in sorted((raw_archive / "high_needs").glob("dedicated-schools-grant*.ods")):
        rows = _dsg_rows(path)
        assert len(rows) >= 149, path.name
        df = pl.DataFrame(rows, schema=["sheet", "code", "name"], orient="row")
        out = canonical_codes(df, dfe_col="code", gss_col=None, name_col="name", source=path.name)
        # City of London and the Isles of Scilly are not funded through these sheets
        assert not {"201", "420"} & set(out["la_code_dfe"].to_list())


def test_every_lait_la_number_resolves(raw_archive: Path) -> None:
    bds = pl.read_parquet(raw_archive / "sen_census" / "bds_long_0.parquet")
    pairs = (
        bds.select(pl.col("LA Number").cast(pl.Int64).cast(pl.Utf8).alias("code"), "LA and Regions")
        .unique()
        .filter(pl.col("code").cast(pl.Int64) < 950)
    )
    out = canonical_codes(
        pairs, dfe_col="code", gss_col=None, name_col="LA and Regions", source="bds_long_0.parquet"
    )
    assert out["la_code_dfe"].n_unique() == 158


@pytest.mark.parametrize(
    ("name", "on", "code_col", "count"),
    [
        ("Lower_Tier_Local_Authority_to_Upper_Tier_Local_Authority_(December_2022)_Lookup_in_England_and_Wales.csv", D(2022, 12, 1), "UTLA22CD", 152),  # noqa: E501
        ("Local_Authority_to_County_and_Unitary_Authority_(December_2024)_Lookup_in_EW.csv", D(2024, 12, 1), "CTYUA24CD", 153),  # noqa: E501
    ],
)  # fmt: skip
def test_ons_lookup_codes_are_the_codes_in_force(
    raw_archive: Path, name: str, on: dt.date, code_col: str, count: int
) -> None:
    frame = pl.read_csv(raw_archive / "lookups" / name, infer_schema_length=0, encoding="utf8")
    frame = frame.rename({c: c.lstrip("\ufeff") for c in frame.columns})
    ons = set(frame.filter(pl.col(code_col).str.starts_with("E"))[code_col].to_list())
    assert len(ons) == count
    assert ons == {la.la_code for la in list_las(on)}


# --- harmonising a series onto one geography vintage ---------------------------------------


def _counts(rows: list[tuple[str, str, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"time_period": pl.Utf8, "la_code_dfe": pl.Utf8, "n": pl.Int64}, orient="row"
    )


def test_split_successors_sum_back_into_the_old_geography() -> None:
    df = _counts([("202122", "940", 2842), ("202122", "941", 2847), ("202021", "928", 4847)])
    out = harmonise_to_vintage(df, value_cols=["n"], additive=True, vintage=D(2021, 3, 31))
    row = out.filter(pl.col("time_period") == "202122").row(0, named=True)
    assert (row["la_code_dfe"], row["n"], row["harmonisation"]) == ("928", 5689, "aggregated")
    assert row["harmonised_from"] == "940;941" and row["la_code"] == "E10000021"


def test_split_marks_the_new_las_broken_before_the_split() -> None:
    df = _counts([("202122", "940", 2842), ("202122", "941", 2847), ("202021", "928", 4847)])
    out = harmonise_to_vintage(df, value_cols=["n"], additive=True, vintage=D(2025, 1, 1))
    before = out.filter(pl.col("time_period") == "202021").sort("la_code_dfe")
    assert before["la_code_dfe"].to_list() == ["940", "941"]
    assert before["harmonisation"].to_list() == ["series_break", "series_break"]
    assert before["n"].null_count() == 2


def test_ratios_are_never_summed_and_missing_parts_are_never_summed() -> None:
    df = _counts([("202122", "940", 2842), ("202122", "941", 2847)])
    ratio = harmonise_to_vintage(df, value_cols=["n"], additive=False, vintage=D(2021, 3, 31))
    assert ratio["harmonisation"].to_list() == ["not_additive"] and ratio["n"][0] is None
    part = harmonise_to_vintage(df.head(1), value_cols=["n"], additive=True, vintage=D(2021, 3, 31))
    assert part["harmonisation"].to_list() == ["incomplete"] and part["n"][0] is None


def test_recodes_carry_values_over_unchanged() -> None:
    df = _counts([("201920", "825", 4000), ("202324", "815", 5000)])
    out = harmonise_to_vintage(df, value_cols=["n"], additive=False, vintage=D(2025, 1, 1))
    assert out["n"].to_list() == [4000, 5000]
    assert out["harmonisation"].to_list() == ["as_published", "as_published"]
    assert out["la_code"].to_list() == ["E06000060", "E06000065"]


@pytest.fixture(scope="module")
def caseload(raw_archive: Path) -> pl.DataFrame:
    path = raw_archive / "ehcp" / "education-health-and-care-plans_2025" / "data" / "caseload.csv"
    df = pl.read_csv(path, infer_schema_length=0, encoding="utf8-lossy")
    df = canonical_codes(df, source=path.name).filter(pl.col("breakdown_topic") == "All EHC plans")
    return df.select(
        "time_period", "geographic_level", "la_code_dfe", pl.col("ehcplans").cast(pl.Int64)
    )


def _la(caseload: pl.DataFrame) -> pl.DataFrame:
    return caseload.filter(pl.col("geographic_level") == "Local authority").drop("geographic_level")


def _value(out: pl.DataFrame, period: str, dfe: str) -> int | None:
    row = out.filter(pl.col("time_period") == period, pl.col("la_code_dfe") == dfe)
    assert row.height == 1
    value: int | None = row["ehcplans"][0]
    return value


def test_bcp_is_not_bournemouth_plus_poole(caseload: pl.DataFrame) -> None:
    # Christchurch moved from Dorset county into BCP in April 2019: B+P (Jan 2019) = 1,891 plans
    # but BCP (Jan 2020) = 2,448 (+29%) while England grew 354,000 -> 390,000 (+10%), and
    # Dorset lost plans relative to trend. Only the Dorset area as a whole is exact.
    la = _la(caseload)
    nat = caseload.filter(pl.col("geographic_level") == "National")
    england = dict(nat.select("time_period", "ehcplans").iter_rows())
    assert england["201920"] / england["201819"] < 1.11
    vint = D(2025, 1, 1)
    strict = harmonise_to_vintage(la, value_cols=["ehcplans"], additive=True, vintage=vint)
    assert _value(strict, "201819", "839") is None
    assert _value(strict, "201819", "838") is None
    approx = harmonise_to_vintage(
        la, value_cols=["ehcplans"], additive=True, vintage=vint, approximate=True
    )
    bp = _value(approx, "201819", "839")
    assert bp == 1045 + 846
    assert _value(approx, "201920", "839") == 2448 and 2448 / bp > 1.25
    area_before = 2392 + bp
    assert _value(approx, "201819", "838") == 2392
    assert (
        area_before
        == _la(caseload)
        .filter(
            pl.col("time_period") == "201819", pl.col("la_code_dfe").is_in(["835", "836", "837"])
        )["ehcplans"]
        .sum()
    )
    assert approx.filter(pl.col("la_code_dfe") == "839")["harmonisation"][0] == (
        "aggregated_approximate"
    )


def test_cumbria_and_northamptonshire_on_the_old_geography(caseload: pl.DataFrame) -> None:
    la = _la(caseload)
    old = harmonise_to_vintage(la, value_cols=["ehcplans"], additive=True, vintage=D(2021, 3, 31))
    assert _value(old, "202122", "928") == 2842 + 2847
    assert _value(old, "202425", "909") == 2893 + 2377
    assert _value(old, "202425", "928") == 4551 + 4153


def test_harmonised_las_still_sum_to_the_england_row(caseload: pl.DataFrame) -> None:
    nat = caseload.filter(pl.col("geographic_level") == "National")
    england = dict(nat.select("time_period", "ehcplans").iter_rows())
    # from the first period on that vintage's side of the Dorset change, every sum is exact
    for vintage, first in ((D(2021, 3, 31), "201920"), (D(2023, 3, 31), "202122")):
        out = harmonise_to_vintage(
            _la(caseload).filter(pl.col("time_period") >= first),
            value_cols=["ehcplans"],
            additive=True,
            vintage=vintage,
        )
        assert out["ehcplans"].null_count() == 0
        sums = dict(out.group_by("time_period").agg(pl.col("ehcplans").sum()).iter_rows())
        assert all(sums[p] == england[p] for p in sums)
        assert set(out.group_by("time_period").len()["len"]) == {len(list_las(vintage))}


def test_high_needs_workbooks_resolve(raw_archive: Path) -> None:
    folder = raw_archive / "high_needs"
    outturn = fastexcel.read_excel(folder / "Outturn data 202122.xlsx").load_sheet(
        0, header_row=None, dtypes="string"
    )
    rows = [r[1:3] for r in outturn.to_polars().iter_rows() if r[1] and r[1].isdigit()]
    df = pl.DataFrame(rows, schema=["code", "name"], orient="row")
    out = canonical_codes(df, dfe_col="code", gss_col=None, name_col="name", source="Outturn")
    assert out.height >= 150
    derived = fastexcel.read_excel(folder / "dsg_deficit_derived.xlsx").load_sheet(0).to_polars()
    la_rows = derived.filter(pl.col("geographic_level") == "Local authority")
    for period, name in la_rows.select("time_period", "la_name").iter_rows():
        resolve_la(name, on=D(int(str(period)[:4]), 4, 1))  # financial year: from April
