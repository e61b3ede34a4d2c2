"""Tests of the high needs / DSG readers (sendstats.sources.dfe_high_needs*): inline and real."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from tidied import tidied

from sendstats import geography
from sendstats.acquire.catalog import load_declaration
from sendstats.metrics import high_needs as hnm
from sendstats.metrics.registry import get_metric
from sendstats.report import profile as report
from sendstats.report.sections import high_needs as high_needs_section
from sendstats.sources import dfe_high_needs as hn
from sendstats.sources import dfe_high_needs_hnbt as hnbt
from sendstats.sources import dfe_high_needs_ods as ods
from sendstats.sources import dfe_high_needs_s251 as s251
from sendstats.sources.ons_population import population_by_age_band
from sendstats.sources.readers import RawInputError

REPO = Path(__file__).resolve().parents[2]
SHA = "b" * 64
HN = "high_needs"


# --- inline .ods files -------------------------------------------------------------------------


def _write_ods(path: Path, sheet: str, rows: list[list[str]], *, mimetype: bool) -> Path:
    """Write a one-sheet .ods with text cells; drop the mimetype entry as the ESFA files do."""
    doc = OpenDocumentSpreadsheet()
    table = Table(name=sheet)
    for row in rows:
        tr = TableRow()
        for value in row:
            if not value:
                tr.addElement(TableCell())
                continue
            try:
                cell = TableCell(valuetype="float", value=float(value))
            except ValueError:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=value))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    buf = io.BytesIO()
    doc.write(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            if item.filename == "mimetype" and not mimetype:
                continue
            dst.writestr(item, src.read(item.filename))
    return path


def _allocation_rows(unit: str, las: list[list[str]], england: list[str]) -> list[list[str]]:
    u = "(£ million)" if unit == "gbp_million" else "(£s)"
    blocks = ["Schools block", "Central school services block", "High needs block"]
    blocks += ["Early years block", "Total DSG allocation"]
    banner_a = "DSG allocations, before recoupment and deductions"
    banner_f = "DSG allocations, after deductions for academies recoupment"
    return [
        ["Dedicated schools grant", "", banner_a, "", "", "", "", banner_f, "", "", "", ""],
        ["", "", *[f"{b} {u}" for b in blocks], *[f"{b} {u}" for b in blocks]],
        ["", "", *[f"[{c}]" for c in "ABCDEFGHIJ"]],
        ["", "", "", "", "", "", "= [A] + [B] + [C] + [D]", "", "", "", "", ""],
        ["ENGLAND", "", *england],
        *las,
        ["", ""],
        ["LONDON", "", *england],
    ]


def _values(hnb: int, total: int) -> list[str]:
    """Ten block values [A]..[J] with the given high needs block [C]/[H] and totals [E]/[J]."""
    return ["1", "2", str(hnb), "3", str(total), "1", "2", str(hnb - 5), "3", str(total - 5)]


def _spec(unit: str = "gbp", sheet: str = "Allocations_summary", n: int = 2) -> ods.SheetSpec:
    return ods.SheetSpec("r", "allocations", sheet, "2023-24", unit, n)


LAS = [["202", "Camden", *_values(100, 200)], ["203", "Greenwich", *_values(50, 90)]]
#: England [A]..[J] = the sum of the two LA rows.
ENGLAND = [str(int(a) + int(b)) for a, b in zip(LAS[0][2:], LAS[1][2:], strict=True)]


def test_mimetypeless_ods_read_after_adding_the_entry(tmp_path: Path) -> None:
    rows = _allocation_rows("gbp", LAS, ENGLAND)
    path = _write_ods(tmp_path / "dsg.ods", "Allocations_summary", rows, mimetype=False)
    with pytest.raises(Exception, match="mimetype"):
        fastexcel.read_excel(path)
    wide = ods.read_allocations(path, [_spec()])
    england = wide.filter(pl.col("la_code_raw") == "ENGLAND").row(0, named=True)
    assert england["high_needs_block_before_recoupment_gbp"] == 150.0
    assert england["high_needs_block_after_recoupment_gbp"] == 140.0  # [H]: 95 + 45
    assert wide.height == 3


def test_gbp_million_sheet_converted_to_whole_pounds_with_caveat(tmp_path: Path) -> None:
    las = [["202", "Camden", *["36.625157115"] * 10], ["203", "Greenwich", *["1.1"] * 10]]
    rows = _allocation_rows("gbp_million", las, ["37.725157115"] * 10)
    path = _write_ods(tmp_path / "c.ods", "Allocations_1920", rows, mimetype=True)
    wide = ods.read_allocations(path, [_spec("gbp_million", "Allocations_1920")])
    camden = wide.filter(pl.col("la_code_raw") == "202").row(0, named=True)
    assert camden["high_needs_block_before_recoupment_gbp"] == 36_625_157.0
    assert camden["caveat"] == ods.MILLION_CAVEAT


def test_england_not_equal_to_la_sum_names_column_and_row(tmp_path: Path) -> None:
    rows = _allocation_rows("gbp", LAS, [*ENGLAND[:2], "160", *ENGLAND[3:]])
    path = _write_ods(tmp_path / "dsg.ods", "Allocations_summary", rows, mimetype=False)
    with pytest.raises(RawInputError, match="not the sum of LA rows") as err:
        ods.read_allocations(path, [_spec()])
    assert err.value.column == "high_needs_block_before_recoupment_gbp"
    assert err.value.row == 5


def test_city_of_london_present_is_refused(tmp_path: Path) -> None:
    las = [*LAS, ["201", "City of London", *_values(0, 0)]]
    rows = _allocation_rows("gbp", las, ENGLAND)
    path = _write_ods(tmp_path / "dsg.ods", "Allocations_summary", rows, mimetype=False)
    with pytest.raises(RawInputError, match="absent from DSG allocations by design"):
        ods.read_allocations(path, [_spec(n=3)])


def test_unit_drift_and_marker_refused(tmp_path: Path) -> None:
    rows = _allocation_rows("gbp", LAS, ENGLAND)
    path = _write_ods(tmp_path / "dsg.ods", "Allocations_1920", rows, mimetype=False)
    with pytest.raises(RawInputError, match="in gbp_million"):
        ods.read_allocations(path, [_spec("gbp_million", "Allocations_1920")])
    bad = [["202", "Camden", *_values(100, 200)[:2], "x", *_values(100, 200)[3:]], LAS[1]]
    path = _write_ods(
        tmp_path / "m.ods",
        "Allocations_summary",
        _allocation_rows("gbp", bad, ENGLAND),
        mimetype=False,
    )
    with pytest.raises(RawInputError, match="raw schema check failed"):
        ods.read_allocations(path, [_spec()])


def test_tidy_allocations_resolves_las_and_validates(tmp_path: Path) -> None:
    rows = _allocation_rows("gbp", LAS, ENGLAND)
    path = _write_ods(tmp_path / "dsg.ods", "Allocations_summary", rows, mimetype=False)
    out = hn.finish([hn.tidy_allocations(path, SHA, [_spec()])])
    assert out.height == 12
    camden = out.filter(
        (pl.col("la_code_dfe") == "202") & (pl.col("measure") == "total_dsg_after_recoupment_gbp")
    ).row(0, named=True)
    assert (camden["area_code"], camden["region_code"], camden["basis"]) == (
        "E09000007",
        "E12000007",
        "after_recoupment",
    )
    assert (camden["year"], camden["official"], camden["raw_row"]) == (2023, True, 6)


# --- derived DSG balance % ----------------------------------------------------------------------


def _write_derived(path: Path, rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(hn.DERIVED_COLUMNS))
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_derived_balance_labelled_derived(tmp_path: Path) -> None:
    rows = [
        ["202122", "National", "England", "", "2.26", "-2.26", "2021-22"],
        ["202122", "Regional", "Yorkshire and The Humber", "", "0.5", "-0.5", "2021-22"],
        ["202122", "Local authority", "South West", "Dorset", "3", "-3", "2021-22"],
    ]
    out = hn.finish([hn.tidy_derived(_write_derived(tmp_path / "d.xlsx", rows), SHA)])
    assert not out["official"].any()
    assert out["derived_by"].str.contains("not an official statistic").all()
    dorset = out.filter(pl.col("geographic_level") == "Local authority").row(0, named=True)
    assert (dorset["la_code_dfe"], dorset["value"]) == ("838", -3.0)
    region = out.filter(pl.col("geographic_level") == "Regional").row(0, named=True)
    assert region["area_code"] == "E12000003"


def test_derived_sign_mismatch_names_row(tmp_path: Path) -> None:
    rows = [["202122", "National", "England", "", "2.26", "2.26", "2021-22"]]
    with pytest.raises(RawInputError, match="minus the balance") as err:
        hn.tidy_derived(_write_derived(tmp_path / "d.xlsx", rows), SHA)
    assert (err.value.column, err.value.row) == ("deficit", 2)


# --- s251 outturn (documented layout; no real file held) ----------------------------------------


def _s251_frame(**override: list[str]) -> pl.DataFrame:
    cols = {
        "time_period": ["202122"] * 4,
        "time_identifier": ["Financial year"] * 4,
        "geographic_level": ["National", "Local authority", "Local authority", "Regional"],
        "country_code": ["E92000001"] * 4,
        "country_name": ["England"] * 4,
        "region_code": ["", "E13000001", "E13000001", "E12000001"],
        "region_name": ["", "Inner London", "Inner London", "North East"],
        "old_la_code": ["", "202", "202", ""],
        "new_la_code": ["", "E09000007", "E09000007", ""],
        "la_name": ["", "Camden", "Camden", ""],
        "category_of_expenditure": [
            s251.DSG_LINE,
            s251.DSG_LINE,
            "1.2.1 Top-up funding - maintained schools",
            "1.0.1 Individual Schools Budget",
        ],
        "gross_expenditure": ["-1000", "-25.5", "7", "9"],
        "income": ["0"] * 4,
        "net_expenditure": [":", ":", "z", "9"],
    }
    cols |= override
    return pl.DataFrame(cols)


def test_s251_dsg_line_and_high_needs_lines() -> None:
    rows = s251.tidy_s251(
        _s251_frame(), path=Path("s251.csv"), release="2021-22", source_file="s251", sha256=SHA
    )
    out = hn.finish([rows])
    assert out.height == 3
    camden = out.filter(pl.col("la_code_dfe") == "202")
    dsg = camden.filter(pl.col("measure") == s251.DSG_MEASURE).row(0, named=True)
    assert (dsg["value"], dsg["status"], dsg["region_code"]) == (-25.5, "ok", "E12000007")
    assert "negative = cumulative DSG deficit" in dsg["caveat"]
    line = camden.filter(pl.col("measure") == "s251_line_1_2_1_net_expenditure_gbp").row(
        0, named=True
    )
    assert (line["value"], line["status"], line["raw_row"]) == (None, "z", 4)
    england = out.filter(pl.col("geographic_level") == "National").row(0, named=True)
    assert (england["area_code"], england["time_period"], england["year"]) == (
        "E92000001",
        "2021-22",
        2021,
    )


def test_s251_latin1_csv_read_and_tidied(tmp_path: Path) -> None:
    frame = _s251_frame(country_name=["Engl\u00e1nd"] * 4)
    path = tmp_path / "s251.csv"
    path.write_bytes(frame.write_csv().encode("latin-1"))
    text = s251.read_s251(path)
    assert text["country_name"][0] == "Engl\u00e1nd"
    out = hn.finish([s251.tidy_s251(text, path=path, release="r", source_file="s", sha256=SHA)])
    assert out.filter(pl.col("measure") == s251.DSG_MEASURE)["value"].sort().to_list() == [
        -1000,
        -25.5,
    ]


def test_s251_bad_value_names_file_column_row() -> None:
    frame = _s251_frame(gross_expenditure=["-1000", "lots", "7", "9"])
    with pytest.raises(RawInputError) as err:
        s251.tidy_s251(frame, path=Path("s251.csv"), release="r", source_file="s", sha256=SHA)
    assert (err.value.path, err.value.column, err.value.row) == ("s251.csv", "gross_expenditure", 3)


def test_s251_missing_documented_column_refused() -> None:
    frame = _s251_frame().drop("net_expenditure")
    with pytest.raises(RawInputError, match="documented column"):
        s251.tidy_s251(frame, path=Path("s251.csv"), release="r", source_file="s", sha256=SHA)


# --- the real files -----------------------------------------------------------------------------


def _declared_paths(raw_archive: Path) -> dict[tuple[str, str], tuple[Path, str]]:
    decl = load_declaration(REPO / "data_sources" / "dfe_high_needs.yaml")
    paths = {}
    for release, name in hn.required_files():
        pinned = decl.file(release, name)
        path = raw_archive / HN / pinned.filename
        paths[(release, name)] = (path, hashlib.sha256(path.read_bytes()).hexdigest())
        assert paths[(release, name)][1] == pinned.sha256, pinned.filename
    return paths


@pytest.fixture(scope="module")
def real(raw_archive: Path) -> pl.DataFrame:
    return tidied("tidy:dfe_high_needs__dsg", _declared_paths(raw_archive))


def _england(df: pl.DataFrame, release: str, period: str, measure: str) -> float:
    sel = df.filter(
        (pl.col("release") == release)
        & (pl.col("time_period") == period)
        & (pl.col("measure") == measure)
        & (pl.col("area_code") == "E92000001")
    )
    assert sel.height == 1
    return float(sel["value"][0])


def test_real_esfa_files_lack_mimetype_and_still_read(raw_archive: Path) -> None:
    path = raw_archive / HN / "dedicated-schools-grant_2021_11_18.ods"
    assert "mimetype" not in zipfile.ZipFile(path).namelist()
    with pytest.raises(Exception, match="mimetype"):
        fastexcel.read_excel(path)
    grid = ods.read_sheets(path, ["Allocations_summary"])["Allocations_summary"]
    assert grid[4][0] == "ENGLAND"


def test_real_published_england_totals(real: pl.DataFrame) -> None:
    hnb = "high_needs_block_before_recoupment_gbp"
    assert _england(real, "2023-24", "2023-24", hnb) == 9_952_172_126
    assert _england(real, "dfe-compilation", "2023-24", hnb) == 9_953_984_391
    assert _england(real, "dfe-compilation", "2019-20", hnb) == round(6279.123139320404e6)
    for period in ("2020-21", "2021-22", "2022-23"):
        assert _england(real, "dfe-compilation", period, hnb) == _england(real, period, period, hnb)


def test_real_la_counts_and_excluded_las(real: pl.DataFrame) -> None:
    las = real.filter((pl.col("geographic_level") == "Local authority") & pl.col("official"))
    counts = dict(
        las.filter(pl.col("measure") == "high_needs_block_before_recoupment_gbp")
        .group_by("release", "time_period")
        .len()
        .select(pl.concat_str("release", pl.lit("/"), "time_period"), "len")
        .iter_rows()
    )
    assert counts["2020-21/2020-21"] == 149
    assert counts["2023-24/2023-24"] == 151
    assert counts["dfe-compilation/2019-20"] == 149
    assert not las["la_code_dfe"].is_in(list(ods.EXCLUDED_LAS)).any()
    million = las.filter(pl.col("time_period") == "2019-20")
    assert million["caveat"].eq(ods.MILLION_CAVEAT).all()


def test_real_derived_rows_labelled_and_england_values(real: pl.DataFrame) -> None:
    derived = real.filter(pl.col("release") == hn.DERIVED_RELEASE)
    assert derived.height == 478
    assert not derived["official"].any()
    assert derived["derived_by"].is_not_null().all()
    assert real.filter(pl.col("release") != hn.DERIVED_RELEASE)["official"].all()
    measure = "dsg_cumulative_balance_pct_of_total_income"
    assert _england(real, hn.DERIVED_RELEASE, "2021-22", measure) == -2.26


# --- the high needs benchmarking tool's outturn sheet (FY 2021-22) -------------------------------

HNBT_FILE = "Outturn data 202122.xlsx"


@pytest.fixture(scope="module")
def hnbt_grid(raw_archive: Path) -> tuple[Path, list[tuple[object, ...]]]:
    path = raw_archive / HN / HNBT_FILE
    return path, hnbt.read_grid(path)


def test_real_hnbt_outturn_is_fy_2021_22_for_the_las_of_april_2021(real: pl.DataFrame) -> None:
    rows = real.filter(pl.col("basis") == hnbt.BASIS)
    assert rows["time_period"].unique().to_list() == ["2021-22"]
    assert rows.group_by("measure").len()["len"].unique().to_list() == [hnbt.OUTTURN_LAS]
    las = set(rows["la_code_dfe"].to_list())
    assert {"940", "941", "909", "816"} <= las  # North/West Northants, Cumbria, York (row 161)
    assert not las & {"928", "835", "836", "837", "201", "420"}
    derby = dict(rows.filter(pl.col("la_code_dfe") == "831").select("measure", "value").iter_rows())
    assert derby["hn_outturn_top_up_maintained_gbp"] == 24_514_310
    assert derby["hn_outturn_top_up_non_maintained_gbp"] == 12_587_654
    assert derby["hnbt_population_2_18_count"] == pytest.approx(57_263.85)
    assert rows["official"].all()
    assert rows["caveat"].str.contains("secondary").all()


def test_hnbt_refuses_a_file_whose_las_no_longer_settle_the_year(
    hnbt_grid: tuple[Path, list[tuple[object, ...]]],
) -> None:
    path, grid = hnbt_grid
    df = hnbt.extract_rows(grid, path)
    hnbt.check_period_evidence(df, path)
    as_2020 = df.with_columns(
        pl.when(pl.col("la_code_raw") == "928")
        .then(pl.lit("1000"))
        .otherwise(pl.col("BP"))
        .alias("BP")
    )
    with pytest.raises(RawInputError, match="no longer settle the outturn year"):
        hnbt.check_period_evidence(as_2020, path)


def test_hnbt_header_and_sum_drift_refused_with_cell_and_row(
    hnbt_grid: tuple[Path, list[tuple[object, ...]]],
) -> None:
    path, grid = hnbt_grid
    edited = [list(r) for r in grid]
    edited[4][4] = "2-18 Population (ONS mid-2022 projection)"  # cell E5
    with pytest.raises(RawInputError, match="mid-2021 projection") as err:
        hnbt.check_header([tuple(r) for r in edited], path)
    assert err.value.column == "E5"
    df = hnbt.extract_rows(grid, path)
    broken = df.with_columns(
        pl.when(pl.col("la_code_raw") == "831")
        .then(pl.lit("24514410"))
        .otherwise(pl.col("BP"))
        .alias("BP")
    )
    with pytest.raises(RawInputError, match="not the sum of its parts") as err:
        hnbt.check_sums(broken, path)
    assert (err.value.column, err.value.row) == ("BP", 8)


# --- metrics -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ons(ons_workbooks: dict[tuple[str, str], Path]) -> None:
    """The pinned ONS workbooks, resolved from the raw archive (see tests/conftest.py)."""


@pytest.fixture(scope="module")
def metrics(real: pl.DataFrame, ons: None) -> pl.DataFrame:
    return hnm.compute(real, population_by_age_band("2_18", include_predecessors=True))


def _m(df: pl.DataFrame, metric_id: str, level: str, year: int) -> pl.DataFrame:
    return df.filter(
        (pl.col("metric_id") == metric_id)
        & (pl.col("geographic_level") == level)
        & (pl.col("year") == year)
    )


def test_real_block_england_is_the_published_row_and_the_sum_of_las(metrics: pl.DataFrame) -> None:
    england = _m(metrics, hnm.HNB, "National", 2023).row(0, named=True)
    # The ESFA per-year file wins over the compilation's earlier vintage (9,953,984,391).
    assert (england["value"], england["release"]) == (9_952_172_126, "2023-24")
    fy1920 = _m(metrics, hnm.HNB, "National", 2019).row(0, named=True)
    # England is pooled over the LAs (issue 17) and carries the LAs' common note; the
    # compilation's own England figure (GBP million to 6 dp) is kept beside it.
    assert fy1920["release"] == hn.COMPILATION_RELEASE
    assert fy1920["note"].endswith(hnm.COMPILATION_NOTE)
    assert (fy1920["n_las"], fy1920["published_value"]) == (149, 6_279_123_139)
    for metric_id in (hnm.HNB, hnm.TOTAL):
        for year in range(2019, 2024):
            published = _m(metrics, metric_id, "National", year)["published_value"][0]
            las = _m(metrics, metric_id, "Local authority", year)
            regions = _m(metrics, metric_id, "Regional", year)
            tolerance = 100 if year == 2019 else 0.5  # 2019-20 is GBP million rounded to pounds
            assert abs(las["value"].sum() - published) <= tolerance, (metric_id, year)
            assert regions["value"].sum() == pytest.approx(las["value"].sum(), abs=1e-3)
            assert las.height == {2019: 149, 2020: 149, 2021: 150, 2022: 150, 2023: 151}[year]
    assert (
        metrics.filter(pl.col("metric_id") == hnm.HNB).group_by("area_code", "year").len()["len"]
        == 1
    ).all()


def test_per_head_block_hand_worked_ratio_pooled_never_summed() -> None:
    # FY 2020-21 (year 2020) uses mid-2020: Camden 100 / 4 = 25, Greenwich 50 / 1 = 50.
    # London and England pool: 150 / 5 = 30 (not the mean 37.5, not the sum 75).
    tidy = _inline_tidy()
    population = pl.DataFrame(
        {
            "la_code_dfe": ["202", "203", "202"],
            "mid_year": [2020, 2020, 2021],
            "population": [4, 1, 1000],
            "population_vintage": ["ONS mid-2020 (test)"] * 2 + ["ONS mid-2021 (test)"],
            "population_release": ["mid-2020"] * 2 + ["mid-2021"],
            "population_file": ["mye20.xls"] * 2 + ["mye21.xls"],
            "population_sha256": ["a" * 64] * 2 + ["b" * 64],
        }
    )
    out = hnm.compute(tidy, population)
    per_head = out.filter(pl.col("metric_id") == hnm.HNB_PER_HEAD)
    values = dict(per_head.select("area_code", "value").iter_rows())
    assert values == {"E09000007": 25.0, "E09000011": 50.0, "E12000007": 30.0, "E92000001": 30.0}
    assert per_head["year"].unique().to_list() == [2020]
    london = per_head.filter(pl.col("area_code") == "E12000007").row(0, named=True)
    assert (london["numerator"], london["denominator"]) == (150.0, 5.0)
    assert "sum / sum" in london["note"] and "mid-2020" in london["note"]
    camden = per_head.filter(pl.col("area_code") == "E09000007").row(0, named=True)
    assert camden["note"] == "denominator: ONS mid-2020 (test), aged 2-18"
    # The population file it divided by is cited on every row (issue 17).
    assert (camden["denominator_release"], camden["denominator_sha256"]) == ("mid-2020", "a" * 64)
    assert london["n_las"] == 2 and london["denominator_file"] == "mye20.xls"
    # The dashboard's balance % keeps its published region and England rows: never summed.
    balance = dict(
        out.filter(pl.col("metric_id") == hnm.BALANCE_PCT).select("area_code", "value").iter_rows()
    )
    assert (balance["E12000007"], balance["E92000001"]) == (-3.5, -1.0)
    block = dict(
        out.filter(pl.col("metric_id") == hnm.HNB).select("area_code", "value").iter_rows()
    )
    assert (block["E12000007"], block["E92000001"]) == (150.0, 150.0)


def test_real_per_head_regions_and_england_pool_their_las(metrics: pl.DataFrame) -> None:
    per_head_years = (2019, 2020, 2021, 2022, 2023)  # mid-2019 to mid-2023 held
    for metric_id, years in ((hnm.HNB_PER_HEAD, per_head_years), (hnm.SPEND_PER_HEAD, (2021,))):
        assert sorted(metrics.filter(pl.col("metric_id") == metric_id)["year"].unique()) == list(
            years
        )
        for year in years:
            las = _m(metrics, metric_id, "Local authority", year)
            for level in ("Regional", "National"):
                for row in _m(metrics, metric_id, level, year).iter_rows(named=True):
                    mine = (
                        las
                        if level == "National"
                        else las.filter(pl.col("region_code") == row["area_code"])
                    )
                    pooled = float(mine["numerator"].sum()) / float(mine["denominator"].sum())
                    assert row["value"] == pytest.approx(pooled), (
                        metric_id,
                        year,
                        row["area_code"],
                    )
                    assert row["value"] != pytest.approx(mine["value"].sum())
    note = _m(metrics, hnm.HNB_PER_HEAD, "Local authority", 2019)["note"].unique().to_list()
    assert note == [
        "denominator: ONS mid-2019 population estimates (April 2020 local authority boundaries), "
        "aged 2-18"
    ]


def test_real_fbit_spend_per_head_hand_worked_for_derby(metrics: pl.DataFrame) -> None:
    # Derby, FY 2021-22: place funding by phase 0 + 24,000 + 210,000 + 900,000 + 1,000,000 + 0,
    # top-ups 24,514,310 + 12,587,654, SEN support 1,142,668, AP 0, hospital 384,890, therapies 0.
    total = 2_134_000 + 24_514_310 + 12_587_654 + 1_142_668 + 0 + 384_890 + 0
    derby = _m(metrics, hnm.SPEND_PER_HEAD, "Local authority", 2021).filter(
        pl.col("la_code_dfe") == "831"
    )
    row = derby.row(0, named=True)
    assert row["numerator"] == pytest.approx(total)
    assert row["value"] == pytest.approx(total / 57_263.85, rel=1e-9)
    assert round(row["value"], 2) == 711.85
    england = _m(metrics, hnm.SPEND_PER_HEAD, "National", 2021).row(0, named=True)
    # No England row in the sheet: column E over its 150 LAs with an outturn (all 154 rows sum to
    # 11,727,208.46, less Northamptonshire's 167,161.64; Bournemouth, Poole, Dorset county are 0).
    assert england["denominator"] == pytest.approx(11_560_046.82, abs=0.01)
    assert round(england["value"], 2) == 656.40


def test_derived_metrics_are_labelled_not_official(metrics: pl.DataFrame) -> None:
    derived = (
        hnm.BALANCE_PCT,
        hnm.HNB_PER_HEAD,
        hnm.SPEND_PER_HEAD,
        hnm.BALANCE_OF_HNB,
        hnm.BALANCE_S251_PCT,
        hnm.BALANCE_DIFFERENCE,
    )
    for metric_id in derived:
        definition = get_metric(metric_id)
        assert not definition.official and definition.method, metric_id
    assert "DfE SEND and AP dashboard" in get_metric(hnm.BALANCE_PCT).method
    assert get_metric(hnm.HNB).official and get_metric(hnm.TOTAL).official
    rows = metrics.filter(pl.col("metric_id") == hnm.BALANCE_PCT)
    assert rows.height == 149 + 149 + 150 + 3 * 10
    assert rows["note"].eq(hnm.DASHBOARD_NOTE).all()
    # Not computed from held data: no GBP balance exists (the s251 file is not held).
    assert (
        metrics.filter(pl.col("metric_id").is_in([hnm.BALANCE_OF_HNB, hnm.BALANCE_S251])).height
        == 0
    )


def test_s251_balance_kept_beside_the_dashboards_with_their_difference() -> None:
    tidy = _inline_tidy(s251_balances={"202": -10.0, "203": 5.0})
    out = hnm.compute(tidy, pl.DataFrame(schema=_POP_SCHEMA))
    by = {(m, a): v for m, a, v in out.select("metric_id", "area_code", "value").iter_rows()}
    assert by[(hnm.BALANCE_S251, "E09000007")] == -10.0
    assert by[(hnm.BALANCE_OF_HNB, "E09000007")] == pytest.approx(-10.0)  # -10 / 100
    assert by[(hnm.BALANCE_OF_HNB, "E09000011")] == pytest.approx(10.0)  # 5 / 50
    assert by[(hnm.BALANCE_OF_HNB, "E12000007")] == pytest.approx(-5 / 150 * 100)  # pooled
    assert by[(hnm.BALANCE_S251_PCT, "E09000007")] == pytest.approx(-1.0)  # -10 / 1,000
    assert by[(hnm.BALANCE_PCT, "E09000007")] == -2.0  # the dashboard's figure, kept
    assert by[(hnm.BALANCE_DIFFERENCE, "E09000007")] == pytest.approx(1.0)  # -1.0 - (-2.0)


# --- the profile section -------------------------------------------------------------------------


def test_narrative_states_block_per_head_balance_and_who_derived_it(metrics: pl.DataFrame) -> None:
    kent = report.LaContext(la=geography.resolve_la("Kent"), metrics=metrics)
    text = high_needs_section.high_needs_narrative(kent)
    assert "**£311.7 million**" in text and "rank 1 of 151 LAs" in text
    assert "ESFA allocations published 20 July 2023" in text
    # mid-2023 held: Kent 311,663,662 / 333,370 residents aged 2-18 = £935 (issue 21).
    assert "£935 per resident aged 2-18 in 2023-24 (England £867" in text
    assert "**-6.83%** of its total DSG income (a deficit; rank 130 of 150" in text
    assert "England -2.26%" in text and "derived by the DfE dashboard" in text
    assert "the deficit grew as a share of DSG income every year" in text
    assert "cannot be computed from the data held" in text
    city = report.LaContext(la=geography.resolve_la("City of London"), metrics=metrics)
    assert "funded differently" in high_needs_section.high_needs_narrative(city)


_POP_SCHEMA = {
    "la_code_dfe": pl.Utf8,
    "mid_year": pl.Int64,
    "population": pl.Int64,
    "population_vintage": pl.Utf8,
    "population_release": pl.Utf8,
    "population_file": pl.Utf8,
    "population_sha256": pl.Utf8,
}

_AREAS = {
    # area_code: (level, name, la_code_dfe, region_code, region_name)
    "E09000007": ("Local authority", "Camden", "202", "E12000007", "London"),
    "E09000011": ("Local authority", "Greenwich", "203", "E12000007", "London"),
    "E12000007": ("Regional", "London", None, "E12000007", "London"),
    "E92000001": ("National", "England", None, None, None),
}


def _inline_tidy(s251_balances: dict[str, float] | None = None) -> pl.DataFrame:
    """A tiny dfe_high_needs__dsg table for FY 2020-21 (year 2020) or 2021-22 with s251."""
    year = 2021 if s251_balances else 2020
    period = f"{year}-{(year + 1) % 100:02d}"
    values = {
        "high_needs_block_before_recoupment_gbp": {"202": 100.0, "203": 50.0, "E": 150.0},
        "total_dsg_before_recoupment_gbp": {"202": 1000.0, "203": 500.0, "E": 1500.0},
    }
    rows = []
    for area, (level, name, dfe, rcode, rname) in _AREAS.items():
        base = {
            "geographic_level": level,
            "area_code": area,
            "area_name": name,
            "la_code_dfe": dfe,
            "region_code": rcode,
            "region_name": rname,
            "year": year,
            "period_type": "financial_year",
            "time_period": period,
            "source_file": "f",
            "file_sha256": SHA,
            "official": True,
            "basis": "before_recoupment",
        }
        key = dfe or ("E" if level == "National" else None)
        for measure, by_area in values.items():
            if key in by_area:
                rows.append(base | {"measure": measure, "value": by_area[key], "release": period})
        balance = {"202": -2.0, "203": -4.0, "E12000007": -3.5, "E92000001": -1.0}[dfe or area]
        rows.append(
            base
            | {
                "measure": "dsg_cumulative_balance_pct_of_total_income",
                "value": balance,
                "release": hn.DERIVED_RELEASE,
                "official": False,
                "basis": "derived_from_s251_outturn",
            }
        )
        if s251_balances and dfe in s251_balances:
            rows.append(
                base
                | {
                    "measure": s251.DSG_MEASURE,
                    "value": s251_balances[dfe],
                    "release": "s251-2021-22",
                    "basis": "s251_outturn",
                }
            )
    return pl.DataFrame(rows).with_columns(pl.col("year").cast(pl.Int32))
