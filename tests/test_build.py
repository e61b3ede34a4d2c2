"""End to end: raw archive -> cache -> tidy -> metrics, provenance, no-op rebuilds, as-of builds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sendstats.core import config
from sendstats.pipeline import build


@pytest.fixture
def built(raw_archive: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> build.BuildReport:
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    return build.build(offline=True, progress=False)


def test_build_writes_tidy_and_metrics_with_provenance(
    built: build.BuildReport, data_dir: Path
) -> None:
    assert not any(s.skipped for s in built.steps)
    steps = {s.step for s in built.steps}
    assert {"metrics:ehcp", "metrics:rates", "metrics:high_needs", "metrics:benchmarks"} <= steps
    manifest = json.loads((data_dir / "manifest.json").read_text())
    inputs = manifest["inputs"]
    assert inputs["dfe_sen2/2025/caseload"]["route"] == "archive"
    assert inputs["dfe_sen2/2025/caseload"]["sha256"].startswith("c1c5448407d1")
    tidy = manifest["outputs"]["tidy/dfe_sen2__ehcp.parquet"]
    assert "dfe_sen2/2025/caseload" in tidy["inputs"]
    assert tidy["rows"] == pl.read_parquet(data_dir / "tidy" / "dfe_sen2__ehcp.parquet").height
    ascof = manifest["outputs"]["tidy/nhs_ascof__ld_employment.parquet"]
    assert ascof["inputs"] == ["nhs_ascof/2020-21/open_data"] and ascof["rows"] > 0
    tribunal = manifest["outputs"]["tidy/moj_send_tribunal__appeals.parquet"]
    log = tribunal["details"]
    assert log, "the tribunal step records rows read, kept and excluded"
    metrics = manifest["outputs"]["metrics/ehcp.parquet"]
    assert metrics["inputs"] == ["tidy/dfe_sen2__ehcp.parquet"]


def test_rebuild_with_nothing_changed_skips_every_step(
    built: build.BuildReport, data_dir: Path
) -> None:
    before = (data_dir / "metrics" / "ehcp.parquet").stat().st_mtime_ns
    again = build.build(offline=True, progress=False)
    assert all(s.skipped for s in again.steps)
    assert (data_dir / "metrics" / "ehcp.parquet").stat().st_mtime_ns == before


def test_deleted_output_is_rebuilt(built: build.BuildReport, data_dir: Path) -> None:
    (data_dir / "metrics" / "ehcp.parquet").unlink()
    again = build.build(offline=True, progress=False)
    skipped = {s.step: s.skipped for s in again.steps}
    # metrics:ehcp reruns; rates depend on its sha256, which is unchanged, so they are skipped.
    assert [k for k, v in skipped.items() if not v] == ["metrics:ehcp"]
    assert (data_dir / "metrics" / "ehcp.parquet").is_file()


def test_as_of_uses_only_releases_published_by_then(
    built: build.BuildReport, data_dir: Path
) -> None:
    report = build.build(offline=True, progress=False, as_of=dt.date(2023, 7, 1))
    assert report.releases == {"dfe_sen2": ["2022", "2023"]}
    m = pl.read_parquet(config.metrics_dir() / "ehcp__as_of_2023-07-01.parquet")
    eng = m.filter(
        pl.col("metric_id") == "new_ehc_plans_count",
        pl.col("geographic_level") == "National",
        pl.col("year") == 2022,
    )
    assert eng["value"].to_list() == [68_665]  # as first published (2023 release)
    assert m.filter(pl.col("metric_id") == "ehc_plans_count")["year"].max() == 2022


def test_as_of_before_any_release_is_a_clear_error(built: build.BuildReport) -> None:
    with pytest.raises(ValueError, match="no release published by 2020-01-01"):
        build.build(offline=True, progress=False, as_of=dt.date(2020, 1, 1))


def test_derived_rates_pool_over_las_and_name_the_population_vintage(
    built: build.BuildReport, data_dir: Path
) -> None:
    rates = pl.read_parquet(data_dir / "metrics" / "rates.parquet")
    eng = rates.filter(
        pl.col("metric_id") == "ehc_plans_per_10k_0_25", pl.col("geographic_level") == "National"
    )
    las = rates.filter(
        pl.col("metric_id") == "ehc_plans_per_10k_0_25",
        pl.col("geographic_level") == "Local authority",
    )
    for row in eng.iter_rows(named=True):
        # Pooled over the LAs with a population (issue 17); the others keep a row, no value.
        year = las.filter(pl.col("year") == row["year"], pl.col("value").is_not_null())
        assert row["numerator"] == year["numerator"].sum()
        assert row["denominator"] == year["denominator"].sum()
        assert row["n_las"] == year.height
        assert row["value"] == pytest.approx(row["numerator"] / row["denominator"] * 10_000)
        assert "mid-" in row["note"]
    # January 2018 (mid-2017) to January 2025 (mid-2023, the latest held: issue 21's rule).
    assert sorted(eng["year"].to_list()) == list(range(2018, 2026))


def test_tidy_worker_writes_what_one_process_writes(
    built: build.BuildReport, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cold build above computed two tidy tables, their metric tables and the rates'
    # population in the worker process; a build kept in one process must write the same.
    alone = tmp_path / "alone"
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(alone))
    monkeypatch.setenv("SENDSTATS_WORKERS", "1")
    build.build(offline=True, progress=False)
    tables = sorted([*data_dir.glob("tidy/*.parquet"), *data_dir.glob("metrics/*.parquet")])
    assert len(tables) == 10
    for table in tables:
        mine, other = pl.read_parquet(table), pl.read_parquet(alone / table.relative_to(data_dir))
        # Same rows, same order, same text and whole numbers; fractional floats to 1e-12: a
        # polars group_by sums floats in a thread-dependent order, so their last bits can
        # differ from run to run in either process (pola-rs/polars#25163).
        assert_frame_equal(mine, other, check_exact=False, rel_tol=1e-12, abs_tol=0.0)


def _empty_in_place_of(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, key: tuple[str, str, str], name: str
) -> None:
    """Make the fetch hand the build an empty file for the pinned file ``key``."""
    from sendstats.acquire import fetch

    empty = tmp_path / name
    empty.write_bytes(b"")
    fetch_sources = fetch.fetch_sources

    def corrupted(*args: object, **kwargs: object) -> list[fetch.FetchResult]:
        results = fetch_sources(*args, **kwargs)  # type: ignore[arg-type]
        return [
            dataclasses.replace(r, path=empty, sha256="0" * 64)
            if (r.source, r.release, r.name) == key
            else r
            for r in results
        ]

    monkeypatch.setattr(fetch, "fetch_sources", corrupted)


@pytest.mark.parametrize(
    ("key", "table"),
    [
        # the tribunal step runs in the worker
        (("moj_send_tribunal", "2025", "appeal_rate_2014_2024"), "moj_send_tribunal__appeals"),
        # the largest SEN2 file is in the worker's share of the SEN2 step
        (("dfe_sen2", "2025", "caseload"), "dfe_sen2__ehcp"),
    ],
)
def test_a_refused_file_read_in_the_worker_raises_its_own_error(
    built: build.BuildReport,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: tuple[str, str, str],
    table: str,
) -> None:
    from sendstats.sources.readers import RawInputError

    _empty_in_place_of(monkeypatch, tmp_path, key, "empty.csv")
    before = (data_dir / "tidy" / f"{table}.parquet").read_bytes()
    # --force: every tidy step runs, with the worker; the build raises the file's own error.
    with pytest.raises(RawInputError, match=r"file is empty \(file .*empty\.csv\)"):
        build.build(offline=True, progress=False, force=True)
    assert (data_dir / "tidy" / f"{table}.parquet").read_bytes() == before


def test_split_files_gives_the_worker_its_share_largest_first(tmp_path: Path) -> None:
    sizes = {"a": 600, "b": 250, "c": 100, "d": 50}
    needed = {}
    for name, size in sizes.items():
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        needed[("r", name)] = (path, "sha")
    mine, theirs = build._split_files(needed, 0.35)  # budget 350 bytes of 1,000
    assert sorted(theirs) == [("r", "b"), ("r", "c")]  # a is too big; b, then c fit; d not
    assert sorted(mine) == [("r", "a"), ("r", "d")]
    assert build._split_files(needed, 0.0) == (needed, {})


def test_a_worker_started_early_is_adopted_and_stopped_when_unused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sendstats.pipeline import tidy_worker

    monkeypatch.delenv("SENDSTATS_WORKERS", raising=False)
    if not tidy_worker.useful(2):
        pytest.skip("one core: no worker")
    tidy_worker.start_early()
    early = tidy_worker._EARLY[-1]
    with tidy_worker.TidyWorker(["sendstats.pipeline.metric_steps"]) as worker:
        assert worker.started  # the early process, adopted
        assert not tidy_worker._EARLY
    assert early.poll() is not None  # no job was sent: stopped on leaving


def test_a_worker_started_early_runs_the_jobs_it_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from sendstats.pipeline import tidy_worker

    monkeypatch.delenv("SENDSTATS_WORKERS", raising=False)
    if not tidy_worker.useful(2):
        pytest.skip("one core: no worker")
    tidy_worker.start_early()
    with tidy_worker.TidyWorker(["sendstats.pipeline.metric_steps"]) as worker:
        worker.start()
        # any importable function with one argument stands in for a tidy step
        worker.submit([("job", "os.path", "basename", "/a/b.csv", ())])
        assert worker.maker("job", lambda: "not from the worker")() == "b.csv"
