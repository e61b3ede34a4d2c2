"""ONS mid-year estimates as denominators: LA rows add up to ONS's England row, bands, rates."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from sendstats.geography import describe_la
from sendstats.sources import ons_population as population
from sendstats.sources.ons_population import (
    PopulationFileError,
    add_rate_per_10k,
    england_population,
    la_population,
    mid_year_for_period,
    population_by_age_band,
)


@pytest.fixture(scope="module")
def ons(
    ons_workbooks: dict[tuple[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The pinned ONS workbooks (tests/conftest.py) and a throwaway data folder."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SENDSTATS_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        yield


@pytest.mark.parametrize(
    ("year", "n_las"),
    [(2017, 152), (2018, 151), (2019, 151), (2020, 152), (2021, 152), (2022, 153), (2023, 153)],
)
def test_la_rows_sum_to_the_ons_england_row_at_every_age(ons: None, year: int, n_las: int) -> None:
    las = la_population(year)
    assert las["la_code_dfe"].n_unique() == n_las
    by_age = las.group_by("age").agg(pl.col("population").sum()).sort("age")
    england = england_population(year).sort("age")
    assert by_age["age"].to_list() == list(range(91))
    assert by_age["population"].to_list() == england["population"].to_list()


def test_england_totals_are_the_published_ones(ons: None) -> None:
    # ONS mid-2020 England, all ages: 56,550,138; mid-2017: 55,619,430
    assert england_population(2020)["population"].sum() == 56_550_138
    assert england_population(2017)["population"].sum() == 55_619_430
    # The Census-based estimates (issue 21): England all ages as ONS prints them.
    assert england_population(2021)["population"].sum() == 56_536_419
    assert england_population(2022)["population"].sum() == 57_106_398
    assert england_population(2023)["population"].sum() == 57_690_323


def test_every_band_cites_the_workbook_it_read(ons: None, raw_archive: Path) -> None:
    # mid-2021 and mid-2022 are pinned on the re-saved copies held (their sha256 is of those
    # bytes, not the publisher's download); every row names release, file and sha256.
    band = population_by_age_band("0_25")
    cited = band.select("mid_year", "population_file", "population_sha256").unique()
    assert cited.height == 7
    for mid_year, name, sha in cited.iter_rows():
        held = raw_archive / "lookups" / name
        assert hashlib.sha256(held.read_bytes()).hexdigest() == sha, mid_year


def test_age_bands_and_vintage_labels(ons: None) -> None:
    bands = {b: population_by_age_band(b, 2020) for b in ("0_25", "2_18", "5_15", "18_64")}
    england = england_population(2020)
    for band, frame in bands.items():
        low, high = population.AGE_BANDS[band]
        expected = england.filter(pl.col("age").is_between(low, high))["population"].sum()
        assert frame["population"].sum() == expected, band
        assert frame.height == 152 and frame["age_band"].unique().to_list() == [band]
    label = bands["0_25"]["population_vintage"][0]
    assert label == "ONS mid-2020 population estimates (April 2021 local authority boundaries)"
    every_year = population_by_age_band("0_25")
    assert sorted(every_year["mid_year"].unique().to_list()) == list(range(2017, 2024))


def test_boundaries_follow_each_release(ons: None) -> None:
    codes = {y: set(la_population(y)["la_code_dfe"].to_list()) for y in (2017, 2018, 2019, 2020)}
    assert {"835", "836", "837"} <= codes[2017] and "839" not in codes[2017]
    assert {"838", "839"} <= codes[2018] and "837" not in codes[2018]
    assert "928" in codes[2019] and {"940", "941"} <= codes[2020] and "928" not in codes[2020]


@pytest.mark.parametrize(
    ("period", "kind", "mid"),
    [
        ("201920", "academic_year", 2019),  # January 2020 count -> mid-2019
        ("2022", "academic_year", 2021),  # 2022 release's census-year coding
        ("2019", "calendar_year", 2019),
        ("2019-20", "financial_year", 2019),
    ],
)
def test_periods_use_the_mid_year_before_a_january_count(period: str, kind: str, mid: int) -> None:
    assert mid_year_for_period(period, kind) == mid  # type: ignore[arg-type]


def test_ehcp_rate_per_10k_is_labelled_and_never_guessed(ons: None, raw_archive: Path) -> None:
    path = raw_archive / "ehcp" / "education-health-and-care-plans_2025" / "data" / "caseload.csv"
    plans = (
        pl.read_csv(path, infer_schema_length=0, encoding="utf8-lossy")
        .filter(
            pl.col("geographic_level") == "Local authority",
            pl.col("breakdown_topic") == "All EHC plans",
            pl.col("time_period").is_in(["201819", "201920", "202021"]),
        )
        .select(
            "time_period",
            pl.col("old_la_code").alias("la_code_dfe"),
            pl.col("ehcplans").cast(pl.Int64),
        )
    )
    out = add_rate_per_10k(plans, count_col="ehcplans", band="0_25", period_type="academic_year")
    kent = out.filter(pl.col("la_code_dfe") == "886", pl.col("time_period") == "201920").row(
        0, named=True
    )
    pop = population_by_age_band("0_25", 2019).filter(pl.col("la_code_dfe") == "886")
    assert kent["population_0_25"] == pop["population"][0]
    assert kent["ehcplans_per_10k_0_25"] == pytest.approx(
        kent["ehcplans"] / pop["population"][0] * 1e4
    )
    assert kent["population_vintage"].startswith("ONS mid-2019 population estimates")
    # January 2019 uses mid-2018, published on April 2019 boundaries: no Bournemouth row.
    bournemouth = out.filter(pl.col("la_code_dfe") == "837")
    assert bournemouth["ehcplans_per_10k_0_25"].null_count() == 1
    jan_2021 = out.filter(pl.col("time_period") == "202021")
    assert jan_2021["population_0_25"].null_count() == 0
    northants = jan_2021.filter(pl.col("la_code_dfe") == "928")
    split = population_by_age_band("0_25", 2020).filter(pl.col("la_code_dfe").is_in(["940", "941"]))
    assert northants["population_0_25"][0] == split["population"].sum()
    assert northants["population_vintage"][0].endswith("Northamptonshire = sum of 940 + 941")


def test_a_bad_header_is_refused_with_its_place() -> None:
    with pytest.raises(PopulationFileError, match=r"book\.xls, row 5"):
        population._check_header(["Code", "Name", "Geography", "Total", 0.0], "book.xls, row 5")


def test_describe_la_shows_population(ons: None) -> None:
    from sendstats.core import config

    config.tidy_dir().mkdir(parents=True, exist_ok=True)
    population.tidy({}).write_parquet(config.tidy_dir() / "ons_population__population.parquet")
    text = describe_la("Kent")
    assert "Population (ONS mid-2023 population estimates" in text and "aged 0-25" in text
