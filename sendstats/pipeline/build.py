"""Run the step table: pinned raw files -> validated tidy tables -> metrics -> benchmarks.

The runner knows no source or theme: it orders the steps of :mod:`sendstats.pipeline.table` by
what they read, and for each decides from its fingerprint (its own code, its declaration and the
sha256 of what it reads) whether to run it. A step is skipped only when its fingerprint matches
its last successful run and its output is still the file that run wrote (sha256 checked against
both the build state and the manifest); otherwise it runs, its output meets its schema, and is
written to a staging folder. Only when every step has succeeded are the staged tables moved into
place, recorded in the manifest and the state saved: a failed build replaces nothing.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sendstats.acquire import catalog, manifest
from sendstats.acquire import fetch as fetch_mod
from sendstats.core import config
from sendstats.core import io as sio
from sendstats.core.config import STATE_FILE as STATE_FILE
from sendstats.core.lock import data_lock  # the state file's name, for callers
from sendstats.pipeline.dictionary import DICTIONARY_FILE, write_dictionary
from sendstats.pipeline.fingerprint import code_fingerprint, step_fingerprint
from sendstats.pipeline.schedule import run_scheduled
from sendstats.pipeline.staging import Staging
from sendstats.pipeline.state import StepResult, load_state, save_state
from sendstats.pipeline.table import AS_OF_SOURCES, STEPS, Step, as_of_steps, ordered

if TYPE_CHECKING:
    import polars as pl

Paths = dict[tuple[str, str], tuple[Path, str]]


@dataclass
class BuildReport:
    """What a build did, step by step, and which releases served it."""

    steps: list[StepResult]
    releases: dict[str, list[str]]

    def summary(self) -> str:
        """Return a short readable account of the build for the terminal."""
        lines = []
        for s in self.steps:
            what = "unchanged, skipped" if s.skipped else f"{s.rows:,} rows written ({s.reason})"
            lines.append(f"  {s.step:<34} {what}  -> {s.output}")
            left = (s.details or {}).get("left_out", [])
            if left:
                las = len({r["left_out"] for r in left})
                lines.append(
                    f"      LAs left out of a value or comparator: {len(left)} entries naming "
                    f"{las} LAs, each with its reason (manifest: details.left_out)"
                )
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


def resolve(function: str) -> Callable[..., Any]:
    """Import and return a ``module:function`` named in the step table."""
    module, name = function.split(":")
    return cast(Callable[..., Any], getattr(importlib.import_module(module), name))


def check_output(step: Step, df: pl.DataFrame, where: Path) -> pl.DataFrame:
    """Return ``df`` once it meets the step's schema (a pandera model or a validate function).

    This is the one schema check of a step's table: the source readers and metric modules do
    not validate what they return, the runner does, once, before the table is staged.
    """
    if step.schema is None:
        return df
    target = resolve(step.schema)
    if isinstance(target, type):  # a pandera DataFrameModel
        from sendstats.core.checks import SchemaLike, validate_frame

        return validate_frame(cast("SchemaLike", target), df, where, stage="tidy")
    return cast("pl.DataFrame", target(df, where))


class _Run:
    """One build's state: the fetched files, the tables made so far and where they are."""

    def __init__(self, results: list[fetch_mod.FetchResult], state: dict[str, str]) -> None:
        self.files = {(r.source, r.release, r.name): (r.path, r.sha256) for r in results}
        self.state = state
        self.recorded = manifest.load_manifest().get("outputs", {})
        self.frames: dict[str, pl.DataFrame] = {}
        self.outputs: dict[str, tuple[Path, str]] = {}  # step -> (path to read, sha256)
        self.writes: dict[str, str] = {}  # step -> its output, relative to the data folder
        self.results: dict[str, StepResult] = {}  # step -> what it did
        self.staged: dict[str, _Made] = {}  # step -> its staged table, for the commit

    def source_files(self, step: Step, code: str) -> Paths:
        """Return the files a tidy step reads: its source module's list, cached per code."""
        key = f"{step.name}#files"
        listed = [tuple(k.split("/", 2)) for k in self.state.get(key, "").split(",") if k]
        if self.state.get(f"{step.name}#code") != code or any(k not in self.files for k in listed):
            module = importlib.import_module(step.function.split(":")[0])
            listed = [(src, rel, f) for src in step.sources for rel, f in module.required_files()]
        missing = [k for k in listed if k not in self.files]
        if missing:
            raise FileNotFoundError(f"{step.name}: files not fetched: {missing}")
        self.state[key] = ",".join("/".join(k) for k in listed)
        return {(rel, f): self.files[(src, rel, f)] for src, rel, f in listed}

    def frame(self, name: str) -> pl.DataFrame:
        """Return the table an earlier step made (in memory) or left in place (read once)."""
        if name not in self.frames:
            import polars as pl  # a build whose steps are all skipped never reads a table

            self.frames[name] = pl.read_parquet(self.outputs[name][0])
        return self.frames[name]


def _unchanged(step: Step, output: Path, fp: str, run: _Run) -> str | None:
    """Return why a step must run, or None if its last output is intact and up to date."""
    if run.state.get(step.name) != fp:
        return "code changed" if run.state.get(f"{step.name}#code") else "first run"
    if not output.is_file():
        return "output missing"
    rel = output.relative_to(config.data_dir()).as_posix()
    digest = sio.sha256_file(output)
    if digest != run.state.get(f"{step.name}#sha256"):
        return "output altered since it was written"
    if run.recorded.get(rel, {}).get("sha256") != digest:
        return "output not in the manifest"
    return None


@dataclass
class _Made:
    """What a step's thread returns: its checked table, staged, and what it left out."""

    df: pl.DataFrame
    details: dict[str, Any] | None
    staged: Path
    digest: str


@dataclass
class _Job:
    """A step that must run, as decided in the main thread: why, and what it reads."""

    step: Step
    output: Path
    fp: str
    code: str
    why: str
    inputs: dict[str, str]
    reads: list[str]


def _decide(
    step: Step, run: _Run, staging: Staging, jobs: dict[str, _Job], *, force: bool
) -> Callable[[], _Made] | None:
    """Skip ``step`` (recording it) if it is up to date; else return the work that runs it.

    Runs in the main thread: it reads the build state, imports the step's module and prepares
    its arguments, so the work handed to a thread only computes, checks and writes its table.
    """
    code = code_fingerprint(step.function)
    output = config.data_dir() / step.writes
    run.writes[step.name] = step.writes
    paths: Paths = {}
    if step.sources:
        paths = run.source_files(step, code)
        inputs = {f"{step.sources[0]}/{r}/{f}": sha for (r, f), (_, sha) in paths.items()}
        reads = sorted(inputs)
    else:
        inputs = {name: run.outputs[name][1] for name in step.after}
        reads = [run.writes[name] for name in step.after]
    fp = step_fingerprint(code, step.declaration(), inputs)
    why = "forced" if force else _unchanged(step, output, fp, run)
    if why is None:
        run.outputs[step.name] = (output, run.state[f"{step.name}#sha256"])
        rel = output.relative_to(config.data_dir()).as_posix()
        rows = run.recorded[rel].get("rows")  # checked against the manifest just above
        if rows is None:
            import polars as pl

            rows = pl.scan_parquet(output).select(pl.len()).collect().item()
        run.results[step.name] = StepResult(
            step.name, output, int(rows), skipped=True, inputs=sorted(inputs)
        )
        return None
    jobs[step.name] = _Job(step, output, fp, code, why, inputs, reads)
    function = resolve(step.function)
    # Imported here, in the main thread, so no two threads import the same module.
    if step.schema:
        resolve(step.schema)
    log = resolve(step.log) if step.log else None
    params = dict(step.params)
    frames = [] if step.sources else [run.frame(name) for name in step.after]
    staging.prepare()

    def work() -> _Made:
        made = function(paths, **params) if step.sources else function(*frames, **params)
        df, details = made if isinstance(made, tuple) else (made, None)
        df = check_output(step, df, output)
        if log is not None:
            details = {**(details or {}), "left_out": log(df).to_dicts()}
        staged, digest = staging.write(step.writes, df)
        return _Made(df, details, staged, digest)

    return work


def _finish(job: _Job, made: _Made, run: _Run) -> None:
    """Record a step's result (main thread): its table for the steps that read it, its state."""
    step = job.step
    run.frames[step.name] = made.df
    run.outputs[step.name] = (made.staged, made.digest)
    run.state.update(
        {step.name: job.fp, f"{step.name}#code": job.code, f"{step.name}#sha256": made.digest}
    )
    run.results[step.name] = StepResult(
        step.name,
        job.output,
        made.df.height,
        skipped=False,
        inputs=sorted(job.inputs),
        details=made.details,
        reason=job.why,
    )
    run.staged[step.name] = made


def run_steps(
    steps: tuple[Step, ...], *, offline: bool | None, force: bool, progress: bool
) -> list[StepResult]:
    """Fetch what the steps read, run those that must run, then commit all their tables at once.

    Steps that read nothing of each other run two at a time (:mod:`sendstats.pipeline.schedule`);
    their results are recorded in step order, so the outputs and the manifest are the same
    whichever finished first. Must be called under the data-directory lock.
    """
    state = load_state()
    before = dict(state)
    sources = sorted({s for step in steps for s in step.sources})
    results = fetch_mod.fetch_sources(sources, offline=offline, progress=progress)
    run = _Run(results, state)
    order = ordered(steps)
    jobs: dict[str, _Job] = {}
    with Staging(config.data_dir()) as staging:
        run_scheduled(
            order,
            lambda step: _decide(step, run, staging, jobs, force=force),
            lambda step, made: _finish(jobs[step.name], made, run),
        )
        for step in order:  # staged tables are recorded in step order
            if step.name in run.staged:
                made, job = run.staged[step.name], jobs[step.name]
                staging.record(
                    step.name,
                    made.staged,
                    job.output,
                    reads=job.reads,
                    rows=made.df.height,
                    details=made.details,
                )
        staging.commit()
        if run.state != before:  # a build with nothing to do writes nothing (read-only folders)
            save_state(run.state)
    done = [run.results[step.name] for step in order]
    if any(not d.skipped for d in done) or not (config.data_dir() / DICTIONARY_FILE).is_file():
        write_dictionary()
    return done


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
        as_of: build the EHC plan metrics from the releases published by this date only
            (rebuild "as published"), into ``metrics/ehcp__as_of_<date>.parquet``.
        force: rerun every step even if its inputs are unchanged.
        progress: show download progress.

    """
    (source,) = AS_OF_SOURCES
    releases = releases_as_of(source, as_of)
    steps = STEPS if as_of is None else as_of_steps(as_of.isoformat(), tuple(releases))
    with data_lock():
        done = run_steps(steps, offline=offline, force=force, progress=progress)
    return BuildReport(steps=done, releases={source: releases})
