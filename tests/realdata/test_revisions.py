"""Revisions between held SEN2 releases are found value by value (issue: vintages)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from tidied import tidied

from sendstats.metrics import revisions
from sendstats.sources import dfe_sen2


@pytest.fixture(scope="module")
def tidy(raw_archive: Path) -> pl.DataFrame:
    paths = {}
    for rel, name in dfe_sen2.required_files():
        path = next((raw_archive / "ehcp").glob(f"*_{rel}/*/{name}.csv"))
        paths[(rel, name)] = (path, hashlib.sha256(path.read_bytes()).hexdigest())
    return tidied("tidy:dfe_sen2__ehcp", paths)


def test_2025_release_revises_2022_new_plans_published_in_2023(tidy: pl.DataFrame) -> None:
    diff = revisions.diff_releases(tidy, "2023", "2025")
    eng = diff.filter(
        pl.col("measure") == "new_ehc_plans_count",
        pl.col("year") == 2022,
        pl.col("geographic_level") == "National",
    ).row(0, named=True)
    assert (eng["old_value"], eng["new_value"], eng["difference"]) == (68_665, 66_706, -1_959)
    assert eng["pct_difference"] == pytest.approx((66_706 / 68_665 - 1) * 100)
    # Wakefield's 2022 row became a known error (regional total): a status revision.
    wake = diff.filter(pl.col("measure") == "new_ehc_plans_count", pl.col("year") == 2022)
    assert "err" in wake["new_status"].to_list()


def test_caseload_overlap_between_2022_and_2025_releases(tidy: pl.DataFrame) -> None:
    diff = revisions.diff_releases(tidy, "2022", "2025")
    # Both releases publish January 2019-2022 caseload; England totals must agree or be listed.
    plans = tidy.filter(
        pl.col("measure") == "ehc_plans_count",
        pl.col("geographic_level") == "National",
        pl.col("year").is_between(2019, 2022),
    )
    by = plans.pivot(on="release", index="year", values="value")
    listed = diff.filter(
        pl.col("measure") == "ehc_plans_count", pl.col("geographic_level") == "National"
    )
    differing = by.filter(pl.col("2022") != pl.col("2025"))["year"].to_list()
    assert sorted(listed["year"].to_list()) == sorted(differing)


def test_diff_is_sorted_largest_first_and_unknown_release_is_refused(tidy: pl.DataFrame) -> None:
    diff = revisions.diff_releases(tidy, "2023", "2025")
    pct = diff["pct_difference"].drop_nulls().abs().to_list()
    assert pct == sorted(pct, reverse=True)
    with pytest.raises(ValueError, match="held: 2022, 2023, 2025"):
        revisions.diff_releases(tidy, "2019", "2025")


def test_only_overlapping_release_pairs_are_compared(tidy: pl.DataFrame) -> None:
    # 2022 (caseload 2010-2022) and 2023 (flows 2014-2022) publish no common value.
    assert revisions.overlapping_pairs("dfe_sen2", tidy) == [("2022", "2025"), ("2023", "2025")]
