"""Wrong but well-formed numbers are refused (issue 18, items 1 to 3).

Each test edits one real published SEN2 file in memory, writes the copy to a temporary folder
and reads it: regional and England totals against their LAs (also when some LAs are
suppressed), percentages against their counts, rows outside an LA's lifetime, and counts that
are not finite whole numbers.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sendstats.sources import checks, dfe_sen2
from sendstats.sources.ees import read_tidy
from sendstats.sources.readers import RawInputError

EHCP = Path("ehcp")
REQUESTS_FILTER = "All requests for EHC needs assessments"


def _real(raw_archive: Path, name: str) -> pl.DataFrame:
    src = next((raw_archive / EHCP).glob(f"*_2025/data/{name}.csv"))
    return pl.read_csv(src, infer_schema=False)


def _read(df: pl.DataFrame, name: str, tmp_path: Path) -> pl.DataFrame:
    path = tmp_path / f"{name}.csv"
    df.write_csv(path)
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == name and s.release == "2025")
    return read_tidy(path, spec, source_id="dfe_sen2", file_sha256="0" * 64)


def _set(df: pl.DataFrame, index: int, column: str, value: str) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == index)
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .alias(column)
    )


def _requests_rows(df: pl.DataFrame, level: str, year: str) -> pl.DataFrame:
    return df.with_row_index().filter(
        (pl.col("geographic_level") == level)
        & (pl.col("breakdown") == REQUESTS_FILTER)
        & (pl.col("time_period") == year)
    )


def test_real_requests_2023_have_a_marker_so_the_england_check_must_not_be_skipped(
    raw_archive: Path,
) -> None:
    las = _requests_rows(_real(raw_archive, "requests"), "Local authority", "2023")
    marked = las.filter(~pl.col("requests_received_in_year").str.contains(r"^\d+$"))
    assert marked.height >= 1  # the case the old check skipped for the whole measure and year


def test_one_la_raised_by_5000_in_a_year_with_a_marker_is_refused(
    raw_archive: Path, tmp_path: Path
) -> None:
    df = _real(raw_archive, "requests")
    las = _requests_rows(df, "Local authority", "2023").filter(
        pl.col("requests_received_in_year").str.contains(r"^\d+$")
    )
    target = las.row(0, named=True)
    raised = str(int(target["requests_received_in_year"]) + 5000)
    bad = _set(df, int(target["index"]), "requests_received_in_year", raised)
    regions = _requests_rows(df, "Regional", "2023")
    region_row = regions.filter(pl.col("region_code") == target["region_code"])["index"][0]
    with pytest.raises(RawInputError) as err:
        _read(bad, "requests", tmp_path)
    assert err.value.path == str(tmp_path / "requests.csv")
    assert err.value.column == "requests_received_in_year"
    assert err.value.row == int(region_row) + 1  # the region's total row, 1-based data row
    assert "2023" in str(err.value) and "total" in str(err.value)


def test_england_total_checked_when_las_are_marked_sum_must_not_exceed() -> None:
    def frame(la_values: list[float | None], england: float) -> pl.DataFrame:
        n = len(la_values)
        return pl.DataFrame(
            {
                "measure": ["x_count"] * (n + 1),
                "year": [2023] * (n + 1),
                "geographic_level": ["National"] + ["Local authority"] * n,
                "area_code": ["E92000001"] + [f"E0600000{i}" for i in range(n)],
                "area_name": ["England"] + [f"LA {i}" for i in range(n)],
                "region_code": [None] + ["E12000001"] * n,
                "raw_row": list(range(1, n + 2)),
                "value": [england, *la_values],
                "status": ["ok"] + ["ok" if v is not None else "c" for v in la_values],
            }
        )

    path = Path("x.csv")
    checks.check_totals(frame([10.0, 20.0, None], 35.0), path, measures=["x_count"])
    with pytest.raises(RawInputError, match="sum to more than the published England total"):
        checks.check_totals(frame([10.0, 30.0, None], 35.0), path, measures=["x_count"])
    with pytest.raises(RawInputError, match="do not sum to the published England total"):
        checks.check_totals(frame([10.0, 20.0], 35.0), path, measures=["x_count"])


def test_regional_row_that_no_longer_equals_its_las_is_refused(
    raw_archive: Path, tmp_path: Path
) -> None:
    df = _real(raw_archive, "caseload")
    region = df.with_row_index().filter(
        (pl.col("geographic_level") == "Regional") & (pl.col("breakdown") == "All EHC plans")
    )
    first = region.row(0, named=True)
    bad = _set(df, int(first["index"]), "ehcplans", str(int(first["ehcplans"]) + 1))
    with pytest.raises(RawInputError) as err:
        _read(bad, "caseload", tmp_path)
    assert err.value.column == "ehcplans" and err.value.row == int(first["index"]) + 1
    assert first["region_name"] in str(err.value)


def test_percentage_that_does_not_follow_from_its_counts_is_refused(
    raw_archive: Path, tmp_path: Path
) -> None:
    df = _real(raw_archive, "requests")
    rows = _requests_rows(df, "Local authority", "2024").filter(
        pl.col("request_not_assess_pc").str.contains(r"^\d+(\.\d+)?$")
    )
    target = rows.row(0, named=True)
    wrong = f"{float(target['request_not_assess_pc']) + 1:.1f}"
    bad = _set(df, int(target["index"]), "request_not_assess_pc", wrong)
    with pytest.raises(RawInputError, match="is not 100 x requests_refused_count") as err:
        _read(bad, "requests", tmp_path)
    assert err.value.column == "request_not_assess_pc"
    assert err.value.row == int(target["index"]) + 1


def _copy_row(df: pl.DataFrame, la_code: str, from_period: str, to_period: str) -> pl.DataFrame:
    row = df.filter(
        (pl.col("old_la_code") == la_code)
        & (pl.col("time_period") == from_period)
        & (pl.col("breakdown") == "All EHC plans")
    )
    assert row.height == 1
    return pl.concat([df, row.with_columns(pl.lit(to_period).alias("time_period"))])


@pytest.mark.parametrize(
    ("la_code", "name", "from_period", "to_period", "dates"),
    [
        ("909", "Cumbria", "202223", "202324", "to 2023-03-31"),  # abolished April 2023
        ("943", "Westmorland and Furness", "202324", "202223", "2023-04-01 to now"),  # new then
    ],
)
def test_row_outside_the_las_lifetime_is_refused(
    raw_archive: Path,
    tmp_path: Path,
    la_code: str,
    name: str,
    from_period: str,
    to_period: str,
    dates: str,
) -> None:
    df = _real(raw_archive, "caseload")
    bad = _copy_row(df, la_code, from_period, to_period)
    with pytest.raises(RawInputError, match="outside the LA's lifetime") as err:
        _read(bad, "caseload", tmp_path)
    msg = str(err.value)
    assert name in msg and dates in msg and f"({la_code})" in msg
    assert err.value.row == bad.height and str(tmp_path / "caseload.csv") in msg


@pytest.mark.parametrize("value", ["1e5", "1e400", "inf", "12.5"])
def test_count_not_a_whole_number_in_digits_is_refused_before_any_table(
    raw_archive: Path, tmp_path: Path, value: str
) -> None:
    df = _real(raw_archive, "requests")
    target = _requests_rows(df, "Local authority", "2024").row(0, named=True)
    bad = _set(df, int(target["index"]), "requests_received_in_year", value)
    with pytest.raises(RawInputError) as err:
        _read(bad, "requests", tmp_path)
    assert err.value.column == "requests_received_in_year"
    assert err.value.row == int(target["index"]) + 1 and err.value.value == value


def test_infinite_percentage_is_refused(raw_archive: Path, tmp_path: Path) -> None:
    df = _real(raw_archive, "requests")
    target = _requests_rows(df, "Local authority", "2024").row(0, named=True)
    bad = _set(df, int(target["index"]), "request_not_assess_pc", "1e400")
    with pytest.raises(RawInputError, match="not a finite number") as err:
        _read(bad, "requests", tmp_path)
    assert err.value.column == "request_not_assess_pc"
    assert err.value.row == int(target["index"]) + 1


def test_known_primary_need_discrepancy_is_asserted_still_there(
    raw_archive: Path, tmp_path: Path
) -> None:
    df = _real(raw_archive, "sen_needs_all_plans")
    tidy = _read(df, "sen_needs_all_plans", tmp_path)  # the real file passes, as declared
    assert tidy.height > 0
    se = df.with_row_index().filter(
        (pl.col("geographic_level") == "Regional")
        & (pl.col("region_code") == "E12000008")
        & (pl.col("time_period") == "202425")
        & (pl.col("breakdown") == "All EHC plans")
    )
    fixed = _set(df, int(se["index"][0]), "number_sld", str(int(se["number_sld"][0]) - 656))
    with pytest.raises(RawInputError, match="South East") as err:
        _read(fixed, "sen_needs_all_plans", tmp_path)
    assert err.value.column == "number_sld"


@pytest.mark.parametrize(
    ("la_code", "year", "refused"),
    [("928", 2020, False), ("928", 2021, True), ("940", 2020, True), ("940", 2021, False)],
)
def test_financial_year_rows_follow_the_northamptonshire_split(
    la_code: str, year: int, refused: bool
) -> None:
    long = pl.DataFrame(
        {
            "geographic_level": ["Local authority"],
            "la_code_dfe": [la_code],
            "year": [year],
            "raw_row": [7],
        }
    )
    if not refused:
        checks.check_lifetimes(long, Path("dsg.ods"), period_type="financial_year")
        return
    with pytest.raises(RawInputError, match="outside the LA's lifetime") as err:
        checks.check_lifetimes(long, Path("dsg.ods"), period_type="financial_year")
    assert err.value.row == 7 and "2021-04-01" in str(err.value)


@pytest.mark.parametrize(
    ("level", "column", "value", "expect"),
    [
        ("Regional", "region_name", "North Eastt", "region name differs from the crosswalk"),
        ("Regional", "region_code", "E12000099", "unknown region code"),
        ("National", "country_name", "Englnd", "not England's name"),
        ("Local authority", "region_code", "E12000009", "in region E12000001 in the crosswalk"),
    ],
)
def test_area_names_and_regions_are_checked_against_the_crosswalk(
    raw_archive: Path, tmp_path: Path, level: str, column: str, value: str, expect: str
) -> None:
    df = _real(raw_archive, "caseload")
    rows = df.with_row_index().filter(
        (pl.col("geographic_level") == level)
        & (pl.col("breakdown") == "All EHC plans")
        & (pl.col("region_code").fill_null("E12000001").is_in(["E12000001", ""]))
    )
    index = int(rows["index"][0])
    bad = _set(df, index, column, value)
    if level == "Local authority":  # a consistent code and name, of another region
        bad = _set(bad, index, "region_name", "South West")
    with pytest.raises(RawInputError, match=expect) as err:
        _read(bad, "caseload", tmp_path)
    assert err.value.column == column and err.value.row == index + 1
    assert err.value.value == value


def test_stored_names_are_the_crosswalks(raw_archive: Path, tmp_path: Path) -> None:
    from sendstats import geography

    df = _real(raw_archive, "caseload")
    shouted = df.with_columns(
        pl.when(pl.col("geographic_level") == "Regional")
        .then(pl.col("region_name").str.to_uppercase())
        .otherwise(pl.col("region_name"))
        .alias("region_name")
    )
    tidy = _read(shouted, "caseload", tmp_path)
    regions = tidy.filter(pl.col("geographic_level") == "Regional")
    stored = dict(regions.select("area_code", "area_name").unique().iter_rows())
    assert stored == geography.regions()
