"""EHC plans (DfE SEN2): raw drift checks, tidy table and metrics against published figures."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from tidied import tidied

from sendstats.core.numbers import round_half_up, round_half_up_value
from sendstats.metrics import ehcp
from sendstats.sources import dfe_sen2
from sendstats.sources.ees import read_tidy
from sendstats.sources.readers import RawInputError

EHCP = Path("ehcp")


def _paths(archive: Path) -> dict[tuple[str, str], tuple[Path, str]]:
    out = {}
    for rel, name in dfe_sen2.required_files():
        path = next((archive / EHCP).glob(f"*_{rel}/*/{name}.csv"))
        out[(rel, name)] = (path, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


@pytest.fixture(scope="module")
def tidy(raw_archive: Path) -> pl.DataFrame:
    return tidied("tidy:dfe_sen2__ehcp", _paths(raw_archive))


@pytest.fixture(scope="module")
def metrics(tidy: pl.DataFrame) -> pl.DataFrame:
    return ehcp.compute(tidy)


def _value(df: pl.DataFrame, **filters: object) -> float:
    sub = df.filter(*(pl.col(k) == v for k, v in filters.items()))
    assert sub.height == 1, f"expected one row for {filters}, got {sub.height}"
    return float(sub["value"][0])


def test_january_2025_england_total_is_published_figure_and_sum_of_las(
    metrics: pl.DataFrame,
) -> None:
    plans = metrics.filter(pl.col("metric_id") == "ehc_plans_count", pl.col("year") == 2025)
    england = _value(plans, geographic_level="National")
    assert england == 638_745  # the published headline, January 2025
    la = plans.filter(pl.col("geographic_level") == "Local authority")
    assert la.height == 153
    assert la["value"].sum() == england
    regions = plans.filter(pl.col("geographic_level") == "Regional")
    assert regions.height == 9 and regions["value"].sum() == england


@pytest.mark.parametrize(("year", "n_las"), [(2018, 152), (2020, 151), (2022, 152), (2024, 153)])
def test_la_counts_follow_reorganisations(metrics: pl.DataFrame, year: int, n_las: int) -> None:
    rows = metrics.filter(
        pl.col("metric_id") == "ehc_plans_count",
        pl.col("year") == year,
        pl.col("geographic_level") == "Local authority",
    )
    assert rows.height == n_las
    assert rows["la_code_dfe"].n_unique() == n_las


def test_long_series_joins_statements_and_plans(metrics: pl.DataFrame) -> None:
    eng = metrics.filter(
        pl.col("metric_id") == "ehc_plans_count", pl.col("geographic_level") == "National"
    ).sort("year")
    assert eng["year"].to_list() == list(range(2010, 2026))
    # 2010 to 2018 come from the 2022 release (statements + plans), flagged; 2019 on from 2025.
    early = eng.filter(pl.col("year") < 2019)
    assert set(early["release"]) == {"2022"}
    assert early["note"].str.contains("statements").all()
    assert set(eng.filter(pl.col("year") >= 2019)["release"]) == {"2025"}
    assert _value(eng, year=2015) == 240_183  # "about 240,000" EHC plans and statements, 2015


def test_newest_release_wins_and_older_release_is_kept(
    tidy: pl.DataFrame, metrics: pl.DataFrame
) -> None:
    # New plans 2022: 68,665 in the 2023 release, revised to 66,706 in the 2025 release.
    new22 = tidy.filter(
        pl.col("measure") == "new_ehc_plans_count",
        pl.col("year") == 2022,
        pl.col("geographic_level") == "National",
    )
    by_release = dict(zip(new22["release"], new22["value"], strict=True))
    assert by_release == {"2023": 68_665, "2025": 66_706}
    # England is pooled over the LA values used (issue 17, option 1): Yorkshire and The Humber
    # LAs from the 2023 release, the rest from 2025; DfE's 66,706 is kept beside it.
    england = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_count",
        pl.col("year") == 2022,
        pl.col("geographic_level") == "National",
    ).row(0, named=True)
    assert (england["value"], england["published_value"], england["n_las"]) == (66_737, 66_706, 152)
    assert "values from releases 2023, 2025" in england["note"]
    assert "is of release 2025, the LA values of release 2023, 2025" in england["published_note"]
    las = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_count",
        pl.col("year") == 2022,
        pl.col("geographic_level") == "Local authority",
    )
    assert las["value"].sum() == 66_737
    leeds = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_change_pct",
        pl.col("year") == 2023,
        pl.col("area_name") == "Leeds",
    )
    assert "compares release 2023 with release 2025" in leeds["note"][0]
    as_2023 = ehcp.compute(tidy, releases=["2022", "2023"])
    assert (
        _value(as_2023, metric_id="new_ehc_plans_count", year=2022, geographic_level="National")
        == 68_665
    )


def test_yorkshire_2022_regional_totals_in_la_rows_are_excluded_not_used(
    tidy: pl.DataFrame, metrics: pl.DataFrame
) -> None:
    rows = tidy.filter(
        pl.col("measure") == "new_ehc_plans_count",
        pl.col("release") == "2025",
        pl.col("year") == 2022,
        pl.col("region_code") == "E12000003",
        pl.col("geographic_level") == "Local authority",
    )
    assert rows.height == 15
    assert set(rows["status"]) == {"err"} and rows["value"].null_count() == 15
    # Metrics fall back to the 2023 release for those LAs (Wakefield: 462 new plans in 2022).
    wake = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_count",
        pl.col("year") == 2022,
        pl.col("la_code_dfe") == "384",
    ).row(0, named=True)
    assert (wake["release"], wake["value"]) == ("2023", 462)


@pytest.mark.parametrize("kind", ["excl", "incl"])
def test_twenty_week_rates_reproduce_published_percentages(
    tidy: pl.DataFrame, metrics: pl.DataFrame, kind: str
) -> None:
    published = (
        ehcp.choose_releases(tidy)
        .filter(
            pl.col("measure") == f"plans_within_20_weeks_{kind}_exceptions_published_pct",
            pl.col("value").is_not_null(),
        )
        .select("geographic_level", "area_code", "year", pl.col("value").alias("published"))
    )
    # LA rows carry the value; England and region rows the published figure beside the pooled.
    ours = metrics.filter(
        pl.col("metric_id") == f"plans_within_20_weeks_{kind}_exceptions_pct"
    ).with_columns(
        pl.when(pl.col("geographic_level") == "Local authority")
        .then(pl.col("value"))
        .otherwise(pl.col("published_value"))
        .alias("value")
    )
    joined = ours.join(published, on=["geographic_level", "area_code", "year"], how="inner")
    assert joined.height > 1000
    off = joined.filter((round_half_up(pl.col("value"), 1) - pl.col("published")).abs() > 0.001)
    assert off.height == 0, off.select("area_code", "year", "value", "published").head()


def test_requests_refused_matches_published_england(metrics: pl.DataFrame) -> None:
    # Published % of initial requests refused, England: 24.0 (2023) and 25.2 (2024).
    for year, pct in [(2023, 24.0), (2024, 25.2)]:
        ours = _value(
            metrics, metric_id="requests_refused_pct", year=year, geographic_level="National"
        )
        assert round_half_up_value(ours, 1) == pct


def test_ranks_share_ties_and_state_n(metrics: pl.DataFrame) -> None:
    la = metrics.filter(
        pl.col("metric_id") == "ehc_plans_count",
        pl.col("year") == 2025,
        pl.col("geographic_level") == "Local authority",
    )
    top = la.sort("value", descending=True).row(0, named=True)
    assert top["rank"] == 1 and top["n_ranked"] == 153
    assert la["rank"].max() <= 153


def test_renamed_column_fails_raw_schema_naming_the_column(
    raw_archive: Path, tmp_path: Path
) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/caseload.csv"))
    bad = tmp_path / "caseload.csv"
    text = src.read_text(encoding="utf-8-sig")
    bad.write_text(text.replace(",ehcplans,", ",ehc_plans_total,", 1), encoding="utf-8")
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "caseload")
    with pytest.raises(RawInputError) as err:
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)
    assert "'ehcplans'" in str(err.value) and str(bad) in str(err.value)


def test_new_marker_is_refused_naming_column_row_and_value(
    raw_archive: Path, tmp_path: Path
) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/newplans.csv"))
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    col = header.index("new_ehc_plans")
    fields = lines[5].split(",")
    fields[col] = "[c]"
    lines[5] = ",".join(fields)
    bad = tmp_path / "newplans.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "newplans")
    with pytest.raises(RawInputError) as err:
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)
    msg = str(err.value)
    assert "'new_ehc_plans'" in msg and "row 5" in msg and "'[c]'" in msg


def test_broken_total_is_refused(raw_archive: Path, tmp_path: Path) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/caseload.csv"))
    df = pl.read_csv(src, infer_schema=False)
    i = df.with_row_index().filter(
        (pl.col("geographic_level") == "Local authority") & (pl.col("breakdown") == "All EHC plans")
    )["index"][0]
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == i)
        .then(pl.lit("1"))
        .otherwise(pl.col("ehcplans"))
        .alias("ehcplans")
    )
    bad = tmp_path / "caseload.csv"
    df.write_csv(bad)
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "caseload")
    with pytest.raises(RawInputError, match="do not sum to the published North East total"):
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)


def test_truncated_file_is_refused(raw_archive: Path, tmp_path: Path) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/ceased_plans.csv"))
    data = src.read_bytes()
    bad = tmp_path / "ceased_plans.csv"
    bad.write_bytes(data[: len(data) // 2])
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "ceased_plans")
    with pytest.raises(RawInputError, match=str(bad).replace("/", ".")):
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)
    assert shutil.which("true")  # the archive copy itself is untouched by the test
    assert src.read_bytes() == data


def test_flow_change_into_2023_is_flagged_as_spanning_the_break(metrics: pl.DataFrame) -> None:
    rows = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_change_pct", pl.col("geographic_level") == "National"
    ).sort("year")
    flagged = rows.filter(pl.col("spans_break"))["year"].to_list()
    assert flagged == [2023]
    row = rows.filter(pl.col("year") == 2024).row(0, named=True)
    # Pooled over the LAs with both years (issue 17); DfE's England change is kept beside it.
    las = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_change_pct",
        pl.col("geographic_level") == "Local authority",
        pl.col("year") == 2024,
    )
    assert (row["numerator"], row["denominator"], row["n_las"]) == (
        las["numerator"].sum(),
        las["denominator"].sum(),
        las.height,
    )
    assert abs(row["value"] - (row["numerator"] / row["denominator"] * 100)) < 1e-9
    prev = metrics.filter(
        pl.col("metric_id") == "new_ehc_plans_count",
        pl.col("geographic_level") == "National",
        pl.col("year") == 2023,
    )["published_value"][0]
    assert abs(row["published_value"] - (97_747 / prev - 1) * 100) < 1e-9


def _corrupt(
    src: Path, tmp_path: Path, change: Callable[[list[str], list[str]], list[str]]
) -> Path:
    lines = src.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    out = tmp_path / src.name
    out.write_text("\n".join(change(header, lines)) + "\n", encoding="utf-8")
    return out


def _first_la(header: list[str], lines: list[str]) -> int:
    level, topic = header.index("geographic_level"), header.index("breakdown_topic")
    return next(
        i
        for i, line in enumerate(lines)
        if line.split(",")[level] == "Local authority" and line.split(",")[topic] == "New EHC plans"
    )


def _set(header: list[str], lines: list[str], col: str, value: str) -> list[str]:
    i = _first_la(header, lines)
    fields = lines[i].split(",")
    fields[header.index(col)] = value
    return [*lines[:i], ",".join(fields), *lines[i + 1 :]]


BAD_INPUTS: dict[str, tuple[Callable[[list[str], list[str]], list[str]], str]] = {
    "negative count": (lambda h, ls: _set(h, ls, "new_ehc_plans", "-12"), "negative"),
    "text in a numeric column": (lambda h, ls: _set(h, ls, "new_ehc_plans", "twelve"), "'twelve'"),
    "unknown LA code": (lambda h, ls: _set(h, ls, "old_la_code", "999"), "999"),
    "duplicated LA row": (
        lambda h, ls: [
            *ls[: _first_la(h, ls) + 1],
            ls[_first_la(h, ls)],
            *ls[_first_la(h, ls) + 1 :],
        ],
        "duplicated row",
    ),
    "unknown geographic level": (
        lambda h, ls: _set(h, ls, "geographic_level", "Ward"),
        "geographic_level",
    ),
    "empty file": (lambda h, ls: [""], "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_are_refused_naming_the_file(
    raw_archive: Path, tmp_path: Path, case: str
) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/newplans.csv"))
    change, expected = BAD_INPUTS[case]
    bad = _corrupt(src, tmp_path, change)
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "newplans")
    with pytest.raises(ValueError) as err:
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)
    assert str(bad) in str(err.value) and expected in str(err.value)


def test_latin1_bytes_are_refused_with_offset(raw_archive: Path, tmp_path: Path) -> None:
    src = next((raw_archive / EHCP).glob("*_2025/data/ceased_plans.csv"))
    bad = tmp_path / "ceased_plans.csv"
    bad.write_bytes(src.read_bytes().replace(b"Barnsley", b"Barnsl\xe9y", 1))
    spec = next(s for s in dfe_sen2.FILE_SPECS if s.name == "ceased_plans")
    with pytest.raises(RawInputError, match="not valid utf-8-sig"):
        read_tidy(bad, spec, source_id="dfe_sen2", file_sha256="0" * 64)
