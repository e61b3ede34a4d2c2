"""SEND Tribunal appeal rates: layout, LA codes, published totals and rates, derived rates."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from tidied import tidied

from sendstats import geography
from sendstats.acquire import catalog
from sendstats.core.numbers import round_half_up
from sendstats.sources import moj_send_tribunal as trib
from sendstats.sources import moj_send_tribunal_ods as layout
from sendstats.sources.readers import RawInputError

CSV_14_24 = ("2025", "appeal_rate_2014_2024")
CSV_24_25 = ("2026", "appealable_decisions_2024_2025")
NEW = layout.METHOD_ANNUAL_REVIEWS
OLD = layout.METHOD_2018


def _paths(archive: Path) -> dict[tuple[str, str], tuple[Path, str]]:
    """Find each declared file in the archive by its pinned sha256 (via MANIFEST.csv)."""
    with (archive / "MANIFEST.csv").open(encoding="utf-8") as fh:
        by_sha = {row["sha256"]: row["file"] for row in csv.DictReader(fh)}
    decl = catalog.get_source(trib.SOURCE_ID)
    out = {}
    for release, name in trib.required_files():
        path = archive / by_sha[decl.file(release, name).sha256]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert sha == decl.file(release, name).sha256, f"{path} differs from its pin"
        out[(release, name)] = (path, sha)
    return out


@pytest.fixture(scope="module")
def built(raw_archive: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    return tidied("tidy:moj_send_tribunal__appeals", _paths(raw_archive))


@pytest.fixture(scope="module")
def tidy(built: tuple[pl.DataFrame, dict[str, Any]]) -> pl.DataFrame:
    return built[0]


def _spec(release: str) -> layout.TableSpec:
    return next(s for s in trib.FILE_SPECS if s.release == release)


def _value(t: pl.DataFrame, release: str, measure: str, method: str, year: int, area: str) -> float:
    row = t.filter(
        (pl.col("release") == release)
        & (pl.col("measure") == measure)
        & (pl.col("method") == method)
        & (pl.col("year") == year)
        & (pl.col("area_name") == area)
    )
    assert row.height == 1, (release, measure, method, year, area)
    return float(row.item(0, "value"))


# --- without the archive ------------------------------------------------------------------


def test_declaration_lists_every_file_read() -> None:
    decl = catalog.get_source(trib.SOURCE_ID)
    assert [r.release for r in decl.releases] == ["2021", "2022", "2025", "2026"]
    for release, name in trib.required_files():
        assert decl.file(release, name).format in ("csv", "ods")
    assert any("RE-TYPED" in n for n in decl.release("2026").notes)


@pytest.mark.parametrize(
    ("text", "scale", "expected"),
    [
        ("-", 1.0, (0.0, "-")),
        (" .. ", 1.0, (None, "..")),
        ("x", 1.0, (None, "x")),
        ("", 1.0, (None, "blank")),
        ("1,071", 1.0, (1071.0, "ok")),
        ("1.30%", 1.0, (1.3, "ok")),
        ("0.025", 100.0, (2.5, "ok")),
    ],
)
def test_cells_split_into_value_and_status(
    text: str, scale: float, expected: tuple[float | None, str]
) -> None:
    value, status = layout.parse_cell(Path("f.csv"), text, row=3, column="c", rate_scale=scale)
    assert status == expected[1]
    assert value == pytest.approx(expected[0]) if expected[0] is not None else value is None


def test_unknown_cell_names_file_column_and_row() -> None:
    with pytest.raises(RawInputError, match=r"f\.csv.*column 'Appeals'.*row 9.*'n/a'"):
        layout.parse_cell(Path("f.csv"), "n/a", row=9, column="Appeals", rate_scale=1.0)


_TINY = """Title row,,,,,,,
,,,,,,,
,,2024,,,2025,,
,Old LA code,Appeals registered,Total Appealable Decisions,SEND Tribunal Appeal Rate2,\
Appeals,Total Appealable decisions,SEND Tribunal Appeal Rate
NORTH EAST,,,,,,,
Darlington,841,8,700,1.10%,9,978,0.90%
England Total,,8,700,1.10%,9,978,0.90%
,,,,,,,
Footnotes:,,,,,,,
"""


def test_tiny_layout_is_read_and_every_row_counted(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text(_TINY, encoding="utf-8")
    grid = layout.read_grid(path, "csv")
    wide = layout.read_wide(
        path, grid, expected_years=(2024, 2025), default_method=NEW, rate_scale=1.0,
        code_column=True,
    )  # fmt: skip
    assert [r.kind for r in wide.rows] == ["Local authority", "National"]
    assert sum(wide.counts.values()) == len(grid) == 9
    assert wide.counts["region header"] == 1 and wide.counts["blank row"] == 1


def test_renamed_header_raises_naming_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text(_TINY.replace("Appeals registered", "Appeals lodged"), encoding="utf-8")
    with pytest.raises(RawInputError, match=r"tiny\.csv.*row 4.*'Appeals lodged'"):
        layout.read_wide(
            path, layout.read_grid(path, "csv"), expected_years=(2024, 2025),
            default_method=NEW, rate_scale=1.0, code_column=True,
        )  # fmt: skip


def test_missing_years_raise(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text(_TINY.replace(",2025,", ",2026,"), encoding="utf-8")
    with pytest.raises(RawInputError, match="no header row with the years 2024-2025"):
        layout.read_wide(
            path, layout.read_grid(path, "csv"), expected_years=(2024, 2025),
            default_method=NEW, rate_scale=1.0, code_column=True,
        )  # fmt: skip


# --- against the real files -----------------------------------------------------------------


def test_every_row_is_read_kept_or_excluded_with_a_reason(
    built: tuple[pl.DataFrame, dict[str, Any]],
) -> None:
    log = built[1]
    for entry in log["files"].values():
        assert entry["rows_read"] == entry["rows_kept"] + sum(entry["excluded"].values())
    # MANIFEST counts the CSVs' physical records, titles and footnotes included.
    assert log["files"]["2025/appeal_rate_2014_2024"]["rows_read"] == 190
    assert log["files"]["2026/appealable_decisions_2024_2025"]["rows_read"] == 180
    assert log["files"]["2025/appeal_rate_2014_2024"]["excluded"]["partial total"] == 1
    assert log["rows_read"] == log["rows_kept"] + log["rows_excluded"]


def test_2024_agrees_between_the_two_csvs(
    tidy: pl.DataFrame, built: tuple[pl.DataFrame, dict[str, Any]]
) -> None:
    keys = ["measure", "area_code"]
    cols = [*keys, "value", "status"]
    y24 = (pl.col("year") == 2024) & (pl.col("method") == NEW)
    old = tidy.filter(y24 & (pl.col("release") == "2025")).select(cols)
    new = tidy.filter(y24 & (pl.col("release") == "2026")).select(cols)
    joined = new.join(old, on=keys, how="left", suffix="_old")
    assert joined.height == 3 * 154  # 153 LAs and England, three measures
    # LAs abolished before 2024 (Cumbria, Poole ...) are blank in the older file only.
    extra = old.join(new, on=keys, how="anti")
    assert extra.height == 3 * 4 and extra["value"].null_count() == extra.height
    assert joined.filter(pl.col("status") != pl.col("status_old")).height == 0
    assert joined.filter(pl.col("value") != pl.col("value_old")).height == 0
    assert built[1]["overlap_disagreements"] == []


def test_overlap_check_reports_a_disagreement(tidy: pl.DataFrame) -> None:
    nudged = tidy.with_columns(
        pl.when((pl.col("release") == "2026") & (pl.col("la_code_dfe") == "840"))
        .then(pl.col("value") + 1)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    found = trib.compare_overlaps(nudged)
    # 2024 appeals, decisions and rate against the 2014-2024 file (2025 has no other source).
    assert found.height == 3 and set(found["area_name"]) == {"County Durham"}


def test_la_appeals_sum_to_england(tidy: pl.DataFrame) -> None:
    counts = tidy.filter(pl.col("measure") == "appeals_registered_count")
    sums = counts.group_by("release", "method", "year", "geographic_level").agg(
        pl.col("value").sum()
    )
    wide = sums.pivot(on="geographic_level", index=["release", "method", "year"], values="value")
    assert wide.height == 8 + 9 + 12 + 2
    assert (wide["Local authority"] == wide["National"]).all()
    assert _value(tidy, "2025", "appeals_registered_count", OLD, 2021, "England") == 9184


def test_la_decisions_sum_to_england(tidy: pl.DataFrame) -> None:
    dec = tidy.filter(pl.col("measure") == "appealable_decisions_count")
    sums = dec.group_by("release", "method", "year", "geographic_level").agg(pl.col("value").sum())
    wide = sums.pivot(on="geographic_level", index=["release", "method", "year"], values="value")
    assert wide.height == 31 and (wide["Local authority"] == wide["National"]).all()
    assert _value(tidy, "2025", "appealable_decisions_count", OLD, 2023, "England") == 617_776


def test_published_rates_reproduce_to_published_precision(tidy: pl.DataFrame) -> None:
    wide = trib.wide_measures(tidy).filter(pl.col("rate").is_not_null() & (pl.col("decisions") > 0))
    csv_rows = wide.filter(pl.col("release").is_in(["2025", "2026"]))
    again = round_half_up(pl.col("appeals") / pl.col("decisions") * 100, 1)
    assert csv_rows.height > 2000
    assert csv_rows.filter((again - pl.col("rate")).abs() > 1e-9).height == 0
    ods_rows = wide.filter(pl.col("release").is_in(["2021", "2022"]))
    exact = pl.col("appeals") / pl.col("decisions") * 100
    assert ods_rows.filter((exact - pl.col("rate")).abs() > 5e-8).height == 0
    assert _value(tidy, "2022", "appeal_rate_pct", OLD, 2021, "England") == pytest.approx(1.8426375)
    assert _value(tidy, "2025", "appeal_rate_pct", NEW, 2024, "England") == pytest.approx(6.1)


def test_a_wrong_published_rate_is_refused(tidy: pl.DataFrame) -> None:
    one = tidy.filter((pl.col("release") == "2026") & (pl.col("la_code_dfe") == "840"))
    rate = pl.col("measure") == "appeal_rate_pct"
    bad = one.with_columns(pl.when(rate).then(99.0).otherwise(pl.col("value")).alias("value"))
    with pytest.raises(RawInputError, match=r"published rate 99\.0"):
        trib.check_rates(bad, _spec("2026"), Path("x.csv"))


def test_england_pooled_over_known_las_with_the_published_rate_beside(tidy: pl.DataFrame) -> None:
    from sendstats.metrics import tribunal as metrics

    m = metrics.compute(tidy)
    nat = m.filter(
        pl.col("metric_id") == "tribunal_appeal_rate_pct", pl.col("geographic_level") == "National"
    )
    published = tidy.filter(
        pl.col("measure") == "appeal_rate_pct",
        pl.col("geographic_level") == "National",
        pl.col("method") == OLD,
        pl.col("release").is_in(["2025", "2026"]),
    ).select("year", pl.col("value").alias("published"))
    both = nat.join(published.unique("year", keep="first"), on="year")
    assert both.height == 11  # 2014 to 2024
    again = round_half_up(pl.col("published_value"), 1)
    assert both.filter((again - pl.col("published")).abs() > 1e-9).height == 0
    assert (both["value"] == both["numerator"] / both["denominator"] * 100).all()
    # Northamptonshire 2021 (85 appeals, decisions "..") is outside the pool: the pooled England
    # rate counts 9,099 appeals, the published one 9,184, and the note says they differ.
    y21 = nat.filter(pl.col("year") == 2021).row(0, named=True)
    assert y21["numerator"] == 9099 and y21["published_value"] > y21["value"]
    assert "publisher" in y21["published_note"]


def test_every_la_resolves_and_regions_pool_to_england(tidy: pl.DataFrame) -> None:
    las = tidy.filter(pl.col("geographic_level") == "Local authority")
    assert las["la_code_dfe"].null_count() == 0 and las["region_code"].null_count() == 0
    in_2025 = {la.la_code_dfe for la in geography.list_las(dt.date(2025, 6, 30))}
    assert set(las.filter(pl.col("release") == "2026")["la_code_dfe"]) == in_2025
    from sendstats.metrics import tribunal as metrics

    rates = metrics.compute(tidy).filter(pl.col("metric_id") == "tribunal_appeal_rate_pct")
    reg = rates.filter(pl.col("geographic_level") == "Regional")
    assert reg.group_by("year").len()["len"].unique().to_list() == [9]
    tot = reg.group_by("year").agg(pl.col("numerator").sum(), pl.col("n_las").sum())
    nat = rates.filter(pl.col("geographic_level") == "National").select(
        "year", pl.col("numerator").alias("england"), pl.col("n_las").alias("england_las")
    )
    joined = tot.join(nat, on="year")
    assert joined.height == nat.height
    assert (joined["numerator"] == joined["england"]).all()
    assert (joined["n_las"] == joined["england_las"]).all()


def test_nottingham_code_swap_is_fixed_by_name(
    tidy: pl.DataFrame, built: tuple[pl.DataFrame, dict[str, Any]]
) -> None:
    rows = tidy.filter((pl.col("release") == "2025") & (pl.col("year") == 2014))
    codes = dict(zip(rows["area_name"], rows["la_code_dfe"], strict=False))
    assert codes["Nottingham"] == "892" and codes["Nottinghamshire"] == "891"
    assert codes["Northamptonshire"] == "928"
    # Nottingham's own 2014 figures (18 appeals / 671 decisions) stay with Nottingham.
    assert _value(tidy, "2025", "appeals_registered_count", OLD, 2014, "Nottingham") == 18
    fixed = built[1]["files"]["2025/appeal_rate_2014_2024"]["la_code_errors_fixed"]
    assert "nottingham: published 891 corrected to 892 by name" in fixed


def test_a_corrected_file_is_noticed(raw_archive: Path, tmp_path: Path) -> None:
    path, sha = _paths(raw_archive)[CSV_14_24]
    text = path.read_text(encoding="utf-8-sig").replace("\nNottingham,891,", "\nNottingham,892,")
    fixed = tmp_path / path.name
    fixed.write_text(text, encoding="utf-8")
    with pytest.raises(RawInputError, match="published LA code errors changed"):
        trib.read_file(fixed, _spec("2025"), sha)


def test_la_rows_not_adding_up_are_refused(tidy: pl.DataFrame) -> None:
    one = tidy.filter(pl.col("release") == "2026")
    la = (pl.col("la_code_dfe") == "840") & (pl.col("measure") == "appeals_registered_count")
    bad = one.with_columns(pl.when(la).then(0.0).otherwise(pl.col("value")).alias("value"))
    with pytest.raises(RawInputError, match="do not sum to the England total"):
        trib.check_totals(bad, _spec("2026"), Path("x.csv"))
