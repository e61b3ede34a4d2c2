"""Orchestrate a build: pinned raw files -> validated tidy tables -> metrics.

Each step reads only the inputs it declares and writes through a temp file and a rename, so a
failed run leaves earlier outputs intact. A step whose inputs (sha256 of every file read, and the
sendstats version) are unchanged since its last successful run is skipped, so a rebuild with
nothing changed does no work. Every output is recorded in the manifest with the inputs it read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import polars as pl

from sendstats import __version__, catalog, config, manifest
from sendstats import fetch as fetch_mod
from sendstats import io as sio
from sendstats.metrics import adults as adults_metrics
from sendstats.metrics import ehcp as ehcp_metrics
from sendstats.metrics import tribunal as tribunal_metrics
from sendstats.sources import dfe_sen2, moj_send_tribunal, nhs_ascof

STATE_FILE = ".build_state.json"


@dataclass
class StepResult:
    """What one build step did."""

    step: str
    output: Path
    rows: int
    skipped: bool
    inputs: list[str] = field(default_factory=list)
    details: dict[str, Any] | None = None


@dataclass
class BuildReport:
    """What a build did, step by step, and which releases served it."""

    steps: list[StepResult]
    releases: dict[str, list[str]]

    def summary(self) -> str:
        """Return a short readable account of the build for the terminal."""
        lines = []
        for s in self.steps:
            what = "unchanged, skipped" if s.skipped else f"{s.rows:,} rows written"
            lines.append(f"  {s.step:<22} {what}  -> {s.output}")
            files = (s.details or {}).get("files", {})
            for name, f in files.items():
                excluded = ", ".join(f"{k} {v}" for k, v in f.get("excluded", {}).items())
                lines.append(
                    f"      {name}: read {f.get('rows_read')}, kept {f.get('rows_kept')}"
                    + (f", excluded: {excluded}" if excluded else "")
                )
        rel = "; ".join(f"{k}: {', '.join(v)}" for k, v in self.releases.items())
        return "build:\n" + "\n".join(lines) + f"\n  releases used: {rel}"


def releases_as_of(source_id: str, as_of: dt.date | None) -> list[str]:
    """Return the release labels of a source published on or before ``as_of`` (all if None)."""
    decl = catalog.get_source(source_id)
    rels = [r.release for r in decl.releases if as_of is None or r.date_published <= as_of]
    if not rels:
        first = min(r.date_published for r in decl.releases)
        raise ValueError(f"{source_id}: no release published by {as_of} (first: {first})")
    return rels


@cache
def code_fingerprint() -> str:
    """Return a sha256 over the package's code and data maps, so a code change reruns steps."""
    h = hashlib.sha256()
    for path in sorted(config.PACKAGE_DIR.rglob("*")):
        if path.suffix in {".py", ".csv", ".yaml"} and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(config.PACKAGE_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _fingerprint(parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in [__version__, code_fingerprint(), *parts]:
        h.update(p.encode())
        h.update(b"\0")
    return h.hexdigest()


def _load_state() -> dict[str, str]:
    path = config.data_dir() / STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _save_state(state: dict[str, str]) -> None:
    sio.atomic_write_text(
        config.data_dir() / STATE_FILE, json.dumps(state, indent=2, sort_keys=True)
    )


def _run_step(
    step: str,
    output: Path,
    inputs: dict[str, str],
    make: Callable[[], pl.DataFrame | tuple[pl.DataFrame, dict[str, Any]]],
    state: dict[str, str],
    *,
    force: bool,
    reads: Sequence[str] | None = None,
) -> StepResult:
    """Run one step unless its fingerprint matches and its output is still there.

    Args:
        inputs: what the step depends on (name -> sha256 or setting), for the fingerprint.
        reads: manifest ids of what it reads (defaults to the keys of ``inputs``).

    """
    fp = _fingerprint([f"{k}={v}" for k, v in sorted(inputs.items())])
    if not force and state.get(step) == fp and output.is_file():
        rows = pl.scan_parquet(output).select(pl.len()).collect().item()
        return StepResult(step, output, int(rows), skipped=True, inputs=sorted(inputs))
    made = make()
    df, details = made if isinstance(made, tuple) else (made, None)
    sio.write_parquet_atomic(df, output)
    manifest.record_output(
        output, step=step, inputs=sorted(reads or inputs), rows=df.height, details=details
    )
    state[step] = fp
    _save_state(state)
    return StepResult(
        step, output, df.height, skipped=False, inputs=sorted(inputs), details=details
    )


Paths = dict[tuple[str, str], tuple[Path, str]]


@dataclass(frozen=True)
class TidyStep:
    """One source's tidy step: which pinned files it reads and how it makes its table."""

    source_id: str
    table: str
    files: Callable[[], list[tuple[str, str]]]
    make: Callable[[Paths], pl.DataFrame | tuple[pl.DataFrame, dict[str, Any]]]


def _ascof(paths: Paths) -> pl.DataFrame:
    frames = [nhs_ascof.tidy(p, sha, release=rel) for (rel, _), (p, sha) in sorted(paths.items())]
    return pl.concat(frames, how="vertical")


#: Every tidy step, in build order. A new source adds one line here.
TIDY_STEPS: tuple[TidyStep, ...] = (
    TidyStep(dfe_sen2.SOURCE_ID, dfe_sen2.TABLE, dfe_sen2.required_files, dfe_sen2.tidy),
    TidyStep(nhs_ascof.SOURCE_ID, nhs_ascof.TABLE, nhs_ascof.required_files, _ascof),
    TidyStep(
        moj_send_tribunal.SOURCE_ID,
        moj_send_tribunal.TABLE,
        moj_send_tribunal.required_files,
        moj_send_tribunal.tidy_with_log,
    ),
)


def _tidy_step(
    step: TidyStep, results: list[fetch_mod.FetchResult], state: dict[str, str], *, force: bool
) -> StepResult:
    by_key = {
        (r.release, r.name): (r.path, r.sha256) for r in results if r.source == step.source_id
    }
    needed = {k: by_key[k] for k in step.files()}
    inputs = {f"{step.source_id}/{rel}/{name}": sha for (rel, name), (_, sha) in needed.items()}
    return _run_step(
        f"tidy:{step.table}",
        config.tidy_dir() / f"{step.table}.parquet",
        inputs,
        lambda: step.make(needed),
        state,
        force=force,
    )


def _compute_from(compute: Callable[[pl.DataFrame], pl.DataFrame], src: Path) -> pl.DataFrame:
    return compute(pl.read_parquet(src))


def build(
    *,
    offline: bool | None = None,
    as_of: dt.date | None = None,
    force: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Build every tidy table and metric table from the pinned raw files.

    Args:
        offline: never touch the network (cache and raw archives only).
        as_of: use only releases published on or before this date (rebuild "as published").
        force: rerun every step even if its inputs are unchanged.
        progress: show download progress.

    """
    with sio.data_lock():
        state = _load_state()
        results = fetch_mod.fetch_sources(
            [s.source_id for s in TIDY_STEPS], offline=offline, progress=progress
        )
        steps = [_tidy_step(s, results, state, force=force) for s in TIDY_STEPS]
        tidy_path = config.tidy_dir() / f"{dfe_sen2.TABLE}.parquet"
        releases = releases_as_of(dfe_sen2.SOURCE_ID, as_of)
        suffix = "" if as_of is None else f"__as_of_{as_of.isoformat()}"
        metrics_path = config.metrics_dir() / f"ehcp{suffix}.parquet"
        metric_inputs = {"tidy": sio.sha256_file(tidy_path), "releases": ",".join(releases)}
        steps.append(
            _run_step(
                f"metrics:ehcp{suffix}",
                metrics_path,
                metric_inputs,
                lambda: ehcp_metrics.compute(pl.read_parquet(tidy_path), releases),
                state,
                force=force,
                reads=[f"tidy/{tidy_path.name}"],
            )
        )
        if as_of is None:
            for name, table, compute in (
                ("tribunal", moj_send_tribunal.TABLE, tribunal_metrics.compute),
                ("adults", nhs_ascof.TABLE, adults_metrics.compute),
            ):
                src = config.tidy_dir() / f"{table}.parquet"
                steps.append(
                    _run_step(
                        f"metrics:{name}",
                        config.metrics_dir() / f"{name}.parquet",
                        {"tidy": sio.sha256_file(src)},
                        partial(_compute_from, compute, src),
                        state,
                        force=force,
                        reads=[f"tidy/{src.name}"],
                    )
                )
    return BuildReport(steps=steps, releases={dfe_sen2.SOURCE_ID: releases})
