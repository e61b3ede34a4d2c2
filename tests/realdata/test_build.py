"""End to end: raw archive -> cache -> tidy -> metrics, provenance, no-op rebuilds, as-of builds."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from sendstats.core import config
from sendstats.pipeline import build


@pytest.fixture
def built(
    raw_archive: Path,
    data_dir: Path,
    session_build: tuple[Path, build.BuildReport],
    monkeypatch: pytest.MonkeyPatch,
) -> build.BuildReport:
    """A copy of the session's first build in this test's data folder, and that build's report."""
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(raw_archive))
    data_dir.rmdir()
    shutil.copytree(session_build[0], data_dir, symlinks=True)
    return session_build[1]


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
    import polars

    assert metrics["libraries"]["polars"] == polars.__version__
    assert set(metrics["libraries"]) == {
        "polars",
        "pandera",
        "altair",
        "vl-convert-python",
        "great-tables",
    }


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


def test_an_edited_reader_reruns_its_step_and_what_reads_a_changed_table(
    built: build.BuildReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sendstats.pipeline import fingerprint

    target = config.PACKAGE_DIR / "sources" / "moj_send_tribunal.py"
    monkeypatch.setattr(
        fingerprint,
        "read_source",
        lambda p: p.read_bytes() + (b"\n# edited\n" if p == target else b""),
    )
    again = build.build(offline=True, progress=False)
    ran = [s.step for s in again.steps if not s.skipped]
    # The edit changes no output, so what reads the tribunal table keeps its inputs' hashes.
    assert ran == ["tidy:moj_send_tribunal__appeals"]
    assert next(s for s in again.steps if not s.skipped).reason == "code changed"


def test_a_tampered_output_is_rebuilt_not_trusted(built: build.BuildReport, data_dir: Path) -> None:
    target = data_dir / "metrics" / "adults.parquet"
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])  # truncated
    again = build.build(offline=True, progress=False)
    ran = {s.step: s.reason for s in again.steps if not s.skipped}
    assert ran == {"metrics:adults": "output altered since it was written"}
    assert target.read_bytes() == good


def test_a_deleted_manifest_rebuilds_and_lists_every_output(
    built: build.BuildReport, data_dir: Path
) -> None:
    (data_dir / "manifest.json").unlink()
    again = build.build(offline=True, progress=False)
    assert not any(s.skipped for s in again.steps)
    outputs = json.loads((data_dir / "manifest.json").read_text())["outputs"]
    present = {p.relative_to(data_dir).as_posix() for p in data_dir.glob("*/*.parquet")}
    assert present <= set(outputs)


def test_a_failing_step_commits_no_table(
    built: build.BuildReport, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sendstats.metrics import adults

    snapshot = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}

    def refuse(*_args: object) -> pl.DataFrame:
        raise ValueError("refused on purpose")

    monkeypatch.setattr(adults, "compute", refuse)
    with pytest.raises(ValueError, match="refused on purpose"):
        build.build(offline=True, progress=False, force=True)  # every step runs, then one fails
    after = {p: p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    changed = [
        p
        for p in snapshot
        if after.get(p) != snapshot[p] and p.name not in {"manifest.json", ".lock"}
    ]
    assert not changed, changed  # tidy tables made before the failure were not committed
    outputs = [json.loads(m[data_dir / "manifest.json"])["outputs"] for m in (snapshot, after)]
    assert outputs[0] == outputs[1]
    assert not (data_dir / ".staging").exists()


def test_every_la_left_out_is_listed_with_its_reason_in_the_manifest(
    built: build.BuildReport, data_dir: Path
) -> None:
    outputs = json.loads((data_dir / "manifest.json").read_text())["outputs"]
    for name in ("ehcp", "tribunal", "adults", "rates", "high_needs"):
        left = outputs[f"metrics/{name}.parquet"]["details"]["left_out"]
        assert left and all(r["reason"] for r in left), name
    rates = outputs["metrics/rates.parquet"]["details"]["left_out"]
    # January 2019 plans: Bournemouth and Poole have no population of their own on the
    # estimate's boundaries (a merger cannot be undone), so their rows keep no rate, said so.
    jan19 = {r["left_out"] for r in rates if r["year"] == 2019}
    assert {"Bournemouth", "Poole"} <= jan19
    assert "LAs left out of a value or comparator" in built.summary()
