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

from sendstats.catalog import load_declaration
from sendstats.readers import RawInputError
from sendstats.sources import dfe_high_needs as hn
from sendstats.sources import dfe_high_needs_ods as ods
from sendstats.sources import dfe_high_needs_s251 as s251

REPO = Path(__file__).resolve().parents[1]
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


def test_mimetypeless_ods_refused_by_calamine_read_by_odfpy(tmp_path: Path) -> None:
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
    return hn.tidy(_declared_paths(raw_archive))


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
    assert grid.iat[4, 0] == "ENGLAND"


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
