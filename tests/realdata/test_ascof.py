"""Tests of the ASCOF reader (sendstats.sources.nhs_ascof): tiny inline files and the real file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from tidied import checked

from sendstats.acquire.catalog import load_declaration
from sendstats.geography import LACodeError
from sendstats.sources import nhs_ascof
from sendstats.sources.readers import RawInputError

REPO = Path(__file__).resolve().parents[2]
HELD = "ascof/meas-from-asc-of-eng-2021-open-data-csv_v2.xlsx"
HEADER = (
    "Geographical Code,Geographical Description,Geographical Level,ONS Code,ASCOF Measure Code,"
    "Disaggregation Level,Measure Type,Measure Value,Measure Group,Measure Group Description"
)
DESC = "Proportion of adults with learning disabilities in paid employment \u2013 1E"


def _rows(code: str, name: str, level: str, ons: str, num: str, den: str, out: str) -> list[str]:
    return [
        f"{code},{name},{level},{ons},1E,Total,{kind},{val},1E,{DESC}"
        for kind, val in (("Numerator", num), ("Denominator", den), ("Outcome", out))
    ]


def _write_csv(tmp_path: Path, rows: list[str], encoding: str = "cp1252") -> Path:
    path = tmp_path / "ascof.csv"
    path.write_bytes(("\r\n".join([HEADER, *rows]) + "\r\n").encode(encoding))
    return path


SHA = "a" * 64


def test_cp1252_csv_with_old_markers(tmp_path: Path) -> None:
    rows = [
        *_rows("England", "England", "England", "E92000001", "6871", "133658", "5.1"),
        *_rows("111", "Hartlepool", "Council", "E06000001", "65", "292", "22.3"),
        *_rows("906", "Isles of Scilly", "Council", "E06000053", "c", "c", "0"),
        *_rows("704", "Hackney", "Council", "E09000012", ":", ":", ":"),
        "I,Inner London,Council Type,,1E,Total,Outcome,5.3,1E,grouping row",
    ]
    out = nhs_ascof.tidy_file(_write_csv(tmp_path, rows), SHA)
    assert out.height == 4
    by_name = {r["area_name"]: r for r in out.iter_rows(named=True)}
    assert by_name["England"]["value"] == 5.1
    assert by_name["Hartlepool"]["la_code_dfe"] == "805"
    assert by_name["Hartlepool"]["cassr_code"] == "111"
    assert by_name["Hartlepool"]["region_code"] == "E12000001"
    assert by_name["Isles of Scilly"]["count_status"] == "c"
    assert by_name["Isles of Scilly"]["caveat"] == nhs_ascof.SUPPRESSED_CAVEAT
    hackney = by_name["Hackney"]
    assert (hackney["value"], hackney["status"], hackney["numerator"]) == (None, ":", None)
    assert set(out["year"]) == {2020}
    assert set(out["time_period"]) == {"2020-21"}


def test_unknown_marker_names_file_column_and_row(tmp_path: Path) -> None:
    rows = _rows("111", "Hartlepool", "Council", "E06000001", "65", "292", "n/a")
    with pytest.raises(RawInputError, match=r"Measure Value.*row 3.*'n/a'"):
        nhs_ascof.tidy_file(_write_csv(tmp_path, rows, "utf-8"), SHA)


def test_value_not_following_from_counts_is_refused(tmp_path: Path) -> None:
    rows = _rows("111", "Hartlepool", "Council", "E06000001", "65", "292", "2.3")
    with pytest.raises(RawInputError, match=r"Hartlepool.*65 / 292"):
        nhs_ascof.tidy_file(_write_csv(tmp_path, rows), SHA)


def test_council_that_does_not_resolve_is_refused(tmp_path: Path) -> None:
    rows = _rows("999", "Atlantis", "Council", "E06000999", "1", "10", "10")
    with pytest.raises(LACodeError, match="E06000999"):
        nhs_ascof.tidy_file(_write_csv(tmp_path, rows), SHA)


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Geographical Code,Measure Value\n111,5\n", encoding="utf-8")
    with pytest.raises(RawInputError, match="geo_name"):
        nhs_ascof.read_raw(path)


def test_old_to_revised_mapping_is_sourced_and_always_marks_the_break() -> None:
    links = nhs_ascof.revised_mapping()
    assert links.columns == [
        "old_code",
        "old_measure",
        "revised_code",
        "revised_part",
        "break_marker",
        "note",
        "source",
    ]
    assert set(links["old_code"]) == {"1E", "1G"}
    # Every link, confirmed or not, carries the break marker: a link is never a splice.
    assert set(links["break_marker"]) == {"series_break_2023_24"}
    assert links["note"].str.len_chars().min() > 40  # type: ignore[operator]
    assert links["source"].str.len_chars().min() > 40  # type: ignore[operator]
    by_old = {r["old_code"]: r for r in links.iter_rows(named=True)}
    # 1G -> 2E is confirmed by DHSC's own code ("ASCOF 2E (formerly 1G)"), cited on the link.
    assert by_old["1G"]["revised_code"] == "2E"
    assert (
        "DataS-DHSC" in by_old["1G"]["source"]
        and "learning-disability" in by_old["1G"]["revised_part"]
    )
    # The successor of 1E is not confirmed: no code is guessed.
    assert by_old["1E"]["revised_code"] is None and by_old["1E"]["revised_part"] == ""


def test_revised_years_are_not_read_into_the_old_series(tmp_path: Path) -> None:
    # The revised releases are declared (not pinned) but the reader knows only old-series years.
    assert all(int(rel[:4]) < 2023 for rel in nhs_ascof.RELEASES)
    rows = _rows("111", "Hartlepool", "Council", "E06000001", "65", "292", "22.3")
    with pytest.raises(RawInputError, match="unknown ASCOF release '2023-24'"):
        nhs_ascof.tidy_file(_write_csv(tmp_path, rows), SHA, release="2023-24")


def test_declaration_pins_the_held_file(raw_archive: Path) -> None:
    decl = load_declaration(REPO / "data_sources" / "nhs_ascof.yaml")
    pinned = decl.file("2020-21", nhs_ascof.FILE_NAME)
    data = (raw_archive / HELD).read_bytes()
    assert hashlib.sha256(data).hexdigest() == pinned.sha256
    assert len(data) == pinned.bytes
    assert nhs_ascof.required_files() == [("2020-21", "open_data")]


@pytest.fixture(scope="module")
def real(raw_archive: Path) -> pl.DataFrame:
    return checked(
        "tidy:nhs_ascof__ld_employment",
        nhs_ascof.tidy_file(
            raw_archive / HELD, "3501cfb404ce3a9621a5d7b1185a78ed83f77fa3b36e70f66852baee98b025f0"
        ),
    )


def test_england_1e_2020_21_reproduced_from_counts(real: pl.DataFrame) -> None:
    eng = real.filter(
        pl.col("measure") == "ascof_1e",
        pl.col("disaggregation") == "Total",
        pl.col("geographic_level") == "National",
    ).row(0, named=True)
    assert (eng["numerator"], eng["denominator"], eng["value"]) == (6871, 133658, 5.1)
    assert round(100 * eng["numerator"] / eng["denominator"], 1) == eng["value"]


def test_every_council_resolves(real: pl.DataFrame) -> None:
    la = real.filter(pl.col("geographic_level") == "Local authority")
    per_group = la.group_by("measure", "disaggregation").agg(
        pl.len(), pl.col("la_code_dfe").n_unique().alias("n_la")
    )
    assert set(per_group["len"]) == {151}
    assert set(per_group["n_la"]) == {151}
    assert la["la_code_dfe"].null_count() == 0
    assert la["region_code"].null_count() == 0
    # Pre-2023 counties resolve to their own crosswalk entries.
    names = dict(zip(la["cassr_code"], la["la_code_dfe"], strict=False))
    assert names["102"] == "909"  # Cumbria
    assert names["504"] == "928"  # Northamptonshire


def test_sex_breakdown_adds_up_to_total(real: pl.DataFrame) -> None:
    eng = real.filter(pl.col("geographic_level") == "National", pl.col("measure") == "ascof_1e")
    by = {r["disaggregation"]: r for r in eng.iter_rows(named=True)}
    assert by["Male"]["denominator"] + by["Female"]["denominator"] <= by["Total"]["denominator"]
    assert by["Male"]["numerator"] + by["Female"]["numerator"] <= by["Total"]["numerator"]


def _ascof_metrics(real: pl.DataFrame) -> pl.DataFrame:
    from sendstats.metrics import adults

    return adults.compute(real).filter(pl.col("metric_id") == "ascof_1e_ld_paid_employment_pct")


def test_outliers_flagged_in_the_metric_layer_with_caveat_not_dropped(real: pl.DataFrame) -> None:
    from sendstats.metrics.adults import OUTLIER_CAVEAT

    metrics = _ascof_metrics(real)
    hartlepool = metrics.filter(pl.col("area_name") == "Hartlepool").row(0, named=True)
    assert hartlepool["value"] == 22.3
    assert OUTLIER_CAVEAT in hartlepool["note"]
    flagged = metrics.filter(pl.col("note").str.contains("robust z-scores", literal=True))
    assert set(flagged["geographic_level"]) == {"Local authority"}
    # A flag marks a few values, it does not define the distribution.
    las = metrics.filter(pl.col("geographic_level") == "Local authority")
    assert 0 < flagged.height < 0.1 * las.height
    # The reader keeps no metric maths: no intervals or outlier columns in the tidy table.
    assert not {"ci95_low", "robust_z", "outlier_flag"} & set(real.columns)


def test_wilson_interval_for_every_la_value(real: pl.DataFrame) -> None:
    metrics = _ascof_metrics(real)
    la = metrics.filter(pl.col("geographic_level") == "Local authority")
    with_value = la.filter(pl.col("value").is_not_null())
    for col in ("ci95_low", "ci95_high", "ci998_low", "ci998_high"):
        assert with_value[col].null_count() == 0, col
    assert (with_value["ci998_low"] <= with_value["ci95_low"]).all()
    assert (with_value["ci95_low"] <= with_value["value"] + 0.05).all()
    assert (with_value["value"] - 0.05 <= with_value["ci95_high"]).all()
    # The only council without counts (Isles of Scilly) is not published: no value, no interval.
    no_value = la.filter(pl.col("value").is_null())
    assert "Isles of Scilly" in set(no_value["area_name"])
    assert no_value["ci95_low"].null_count() == no_value.height
    tidy_no_counts = real.filter(
        pl.col("geographic_level") == "Local authority",
        pl.col("value").is_not_null(),
        pl.col("count_status") != "ok",
    )
    assert (tidy_no_counts["caveat"] == nhs_ascof.SUPPRESSED_CAVEAT).all()


def test_tidy_table_refuses_a_revised_series_row(real: pl.DataFrame) -> None:
    # A revised-framework row cannot enter the old-series table unnoticed: the schema refuses it.
    import pandera.errors

    spliced = real.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit("ascof_revised_2023_24"))
        .otherwise(pl.col("series"))
        .alias("series")
    )
    with pytest.raises(pandera.errors.SchemaErrors, match="series"):
        nhs_ascof.AscofTidy.validate(spliced, lazy=True)
