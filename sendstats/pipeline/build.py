"""Orchestrate a build: pinned raw files -> validated tidy tables -> metrics.

Each step reads only the inputs it declares and writes through a temp file and a rename, so a
failed run leaves earlier outputs intact. A step whose inputs (sha256 of every file read, and the
sendstats version) are unchanged since its last successful run is skipped, so a rebuild with
nothing changed does no work. Every output is recorded in the manifest with the inputs it read.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from sendstats.acquire import catalog
from sendstats.acquire import fetch as fetch_mod
from sendstats.core import config
from sendstats.core import io as sio
from sendstats.core.config import STATE_FILE as STATE_FILE  # the state file's name, for callers
from sendstats.pipeline import warmup
from sendstats.pipeline.metric_steps import compute_from_file
from sendstats.pipeline.steps import (
    StepResult,
    code_fingerprint,
    inputs_fingerprint,
    load_state,
    must_run,
    run_step,
)

if TYPE_CHECKING:
    from sendstats.pipeline.tidy_worker import FollowUp, Job, TidyWorker


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


Paths = dict[tuple[str, str], tuple[Path, str]]


@dataclass(frozen=True)
class TidyStep:
    """One source's tidy step: its module (imported only when the step must run) and table.

    The module provides ``required_files() -> [(release, name)]`` and ``make(paths)`` returning
    a frame or (frame, log). A no-op rebuild never imports it: the files the step read last
    time are kept in the build state, so an unchanged step is recognised by their hashes alone.
    ``metric`` names the metric table made from this tidy table alone
    (:data:`sendstats.pipeline.metric_steps.FROM_TIDY`), if any. ``offload``: with two cores, the
    step
    runs in the worker process (the split balances the two: measured in ``nox -s bench``).
    ``share``: for a step that stays in this process, the fraction of its files (by size) the
    worker reads meanwhile; the module then also provides ``tidy_files(paths) -> {key: frame}``
    and ``combine(frames)``, with ``make`` equal to ``combine(tidy_files(paths))``.
    """

    source_id: str
    table: str
    module: str
    make: str = "tidy"
    metric: str | None = None
    offload: bool = False
    share: float = 0.0

    def load(self) -> Any:
        """Import the source module."""
        return importlib.import_module(self.module)


#: Every tidy step, in build order. A new source adds one line here.
TIDY_STEPS: tuple[TidyStep, ...] = (
    TidyStep("dfe_sen2", "dfe_sen2__ehcp", "sendstats.sources.dfe_sen2", share=0.35),
    TidyStep(
        "moj_send_tribunal",
        "moj_send_tribunal__appeals",
        "sendstats.sources.moj_send_tribunal",
        "tidy_with_log",
        metric="tribunal",
        offload=True,
    ),
    TidyStep(
        "nhs_ascof",
        "nhs_ascof__ld_employment",
        "sendstats.sources.nhs_ascof",
        "tidy_all",
        metric="adults",
    ),
    TidyStep(
        "dfe_high_needs",
        "dfe_high_needs__dsg",
        "sendstats.sources.dfe_high_needs",
        metric="high_needs",
        offload=True,
    ),
)


@dataclass
class TidyPlan:
    """What one tidy step will read and whether its inputs changed since its last run."""

    step: TidyStep
    name: str
    output: Path
    inputs: dict[str, str]
    needed: dict[tuple[str, str], tuple[Path, str]]
    runs: bool


def _plan_tidy(
    step: TidyStep, results: list[fetch_mod.FetchResult], state: dict[str, str], *, force: bool
) -> TidyPlan:
    by_key = {
        (r.release, r.name): (r.path, r.sha256) for r in results if r.source == step.source_id
    }
    name = f"tidy:{step.table}"
    last = [tuple(k.split("/", 1)) for k in state.get(f"{name}#files", "").split(",") if k]
    # The remembered file list is only good for the code that listed it: a code change (e.g.
    # a new file read) asks the source module again.
    stale = state.get(f"{name}#code") != code_fingerprint()
    if force or stale or not last or any(k not in by_key for k in last):
        last = [tuple(k) for k in step.load().required_files()]
        state[f"{name}#code"] = code_fingerprint()
    needed = {(rel, f): by_key[(rel, f)] for rel, f in last}
    inputs = {f"{step.source_id}/{rel}/{f}": sha for (rel, f), (_, sha) in needed.items()}
    state[f"{name}#files"] = ",".join(f"{rel}/{f}" for rel, f in needed)
    output = config.tidy_dir() / f"{step.table}.parquet"
    runs = must_run(name, output, inputs_fingerprint(inputs), state, force=force)
    return TidyPlan(step, name, output, inputs, needed, runs)


def _worker_jobs(offloaded: list[TidyPlan], *, full: bool) -> list[Job]:
    """Return the worker's jobs, in the order this process will want them.

    Each offloaded tidy step, with its metric table as a follow-up in a full build; and, after
    the first of them, the population aged 0-25 the derived rates divide by (read from the
    ONS workbooks this process has fetched: the worker must not take the data lock).
    """
    jobs: list[Job] = []
    workbooks: dict[tuple[str, str], Path] = {}
    if full and offloaded:
        from sendstats.sources.ons_population import workbooks as ons_workbooks

        workbooks = ons_workbooks()  # fetched here, under the lock
    for plan in offloaded:
        metric = plan.step.metric
        follow_ups: tuple[FollowUp, ...] = ()
        if full and metric:
            kwargs = {"workbooks": workbooks} if metric == "high_needs" else {}
            follow_ups = ((f"metrics:{metric}", "sendstats.pipeline.metric_steps", metric, kwargs),)
        jobs.append((plan.name, plan.step.module, plan.step.make, plan.needed, follow_ups))
    if full and jobs:  # after the first step: the rates need it soon after the tribunal tables
        jobs.insert(
            1,
            (
                RATES_POPULATION,
                "sendstats.pipeline.metric_steps",
                "rates_population",
                workbooks,
                (),
            ),
        )
    return jobs


def _split_files(needed: Paths, share: float) -> tuple[Paths, Paths]:
    """Split a step's files: (this process's, the worker's), the worker's near ``share`` of bytes.

    Largest first, each file goes to the worker while its bytes stay within the share.
    """
    size = {key: path.stat().st_size for key, (path, _) in needed.items()}
    budget = share * sum(size.values())
    theirs: Paths = {}
    for key in sorted(needed, key=lambda k: (-size[k], k)):
        if size[key] <= budget:
            theirs[key] = needed[key]
            budget -= size[key]
    return {k: v for k, v in needed.items() if k not in theirs}, theirs


def _tidy_shared(module: str, mine: Paths, theirs: Callable[[], Any]) -> Any:
    """Read this process's files of a shared step, take the worker's, and combine them."""
    source = importlib.import_module(module)
    frames = source.tidy_files(mine)
    frames.update(theirs())
    return source.combine(frames)


#: The worker job that reads the population the derived rates divide by.
RATES_POPULATION = "population:0_25"


def _source_steps(
    plans: list[TidyPlan],
    worker: TidyWorker,
    state: dict[str, str],
    *,
    force: bool,
    ehcp_metrics: Callable[[], StepResult],
    full: bool,
) -> list[StepResult]:
    """Run the tidy steps in order, each followed by the metric steps it makes possible.

    With two cores and two or more steps to run, the ``offload`` steps go to ``worker``, which
    in a full build also computes each one's metric table (and the population for the rates)
    straight after it. Meanwhile this process computes SEN2, the EHC plan metrics and ASCOF
    (measured: sending ASCOF to the worker too made the build 0.6 s slower), then takes the
    worker's tables in the order it makes them: tribunal (then the derived rates, which need
    it), then high needs.
    Returns every step in the order it ran; the benchmarks come after.
    """
    from sendstats.pipeline.tidy_worker import run_tidy, useful

    running = [p for p in plans if p.runs]
    two = useful(len(running))
    offloaded = [p for p in running if p.step.offload] if two else []
    shared = {
        p.name: _split_files(p.needed, p.step.share)
        for p in running
        if two and not p.step.offload and p.step.share
    }
    worker.submit(
        [
            *(
                (f"{p.name}#files", p.step.module, "tidy_files", shared[p.name][1], ())
                for p in running
                if p.name in shared
            ),
            *_worker_jobs(offloaded, full=full),
        ]
    )
    steps: list[StepResult] = []
    # This process's own steps first, then the worker's in the order it makes them.
    for plan in sorted(plans, key=lambda p: p.name in worker):
        make: Callable[[], Any] = partial(run_tidy, plan.step.module, plan.step.make, plan.needed)
        if plan.name in worker:
            make = worker.maker(plan.name, make)
        elif plan.name in shared:
            mine, theirs = shared[plan.name]
            here = partial(run_tidy, plan.step.module, "tidy_files", theirs)
            make = partial(
                _tidy_shared, plan.step.module, mine, worker.maker(f"{plan.name}#files", here)
            )
        steps.append(run_step(plan.name, plan.output, plan.inputs, make, state, force=force))
        if plan is plans[0]:
            steps.append(ehcp_metrics())
        if full and plan.step.metric:
            steps.append(
                _metric_step(plan.step.metric, plan.step.table, state, worker, force=force)
            )
        if full and plan.step.metric == "tribunal":
            steps.append(_rates_step(state, worker, force=force))
    return sorted(steps, key=_report_order)


def _report_order(step: StepResult) -> tuple[int, int]:
    """Order a build's steps for its report whichever process ran them, and when.

    The tidy steps in :data:`TIDY_STEPS` order, then the metric tables in
    :data:`sendstats.metrics.METRIC_TABLES` order (EHC plans ``as_of`` variants with them).
    """
    from sendstats.metrics import METRIC_TABLES

    kind, _, name = step.step.partition(":")
    if kind == "tidy":
        return 0, [s.table for s in TIDY_STEPS].index(name)
    base = name.split("__as_of_")[0]
    return 1, METRIC_TABLES.index(base) if base in METRIC_TABLES else len(METRIC_TABLES)


def _rates_step(state: dict[str, str], worker: TidyWorker, *, force: bool) -> StepResult:
    """EHC plans and tribunal appeals per 10,000 aged 0-25 (needs both metric tables)."""
    from sendstats.pipeline.metric_steps import rates_population

    population: Callable[[], pl.DataFrame] = partial(rates_population, {})
    if RATES_POPULATION in worker:
        population = worker.maker(RATES_POPULATION, population)
    return run_step(
        "metrics:rates",
        config.metrics_dir() / "rates.parquet",
        {
            "ehcp": sio.sha256_file(config.metrics_dir() / "ehcp.parquet"),
            "tribunal": sio.sha256_file(config.metrics_dir() / "tribunal.parquet"),
            **_population_pins(),
        },
        partial(_derived_rates, population),
        state,
        force=force,
        reads=["metrics/ehcp.parquet", "metrics/tribunal.parquet"],
    )


def _derived_rates(population: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    from sendstats.metrics import rates
    from sendstats.metrics.tables import load_metrics

    return rates.compute(load_metrics(("ehcp", "tribunal")), population())


def _population_pins() -> dict[str, str]:
    """Return the pinned sha256 of every ONS workbook the population tables read.

    Steps that divide by a population put these in their fingerprint, so a new population pin
    reruns them. Read from the layout map and the declaration (no heavy imports: a no-op
    rebuild stays fast).
    """
    import csv

    layouts = config.PACKAGE_DIR / "geography" / "maps" / "ons_mye_layouts.csv"
    with layouts.open(encoding="utf-8") as fh:
        wanted = {(r["release"], r["file"]) for r in csv.DictReader(fh)}
    decl = catalog.get_source("ons_population")
    return {
        f"ons_population/{rel.release}/{f.name}": f.sha256 or ""
        for rel in decl.releases
        for f in rel.files
        if (rel.release, f.name) in wanted
    }


def _metric_step(
    name: str, table: str, state: dict[str, str], worker: TidyWorker, *, force: bool
) -> StepResult:
    """One metric table made from one tidy table (by the worker if it computed it already).

    High needs divides by the population aged 2-18, so its fingerprint holds the ONS pins.
    """
    src = config.tidy_dir() / f"{table}.parquet"
    step = f"metrics:{name}"
    make: Callable[[], pl.DataFrame] = partial(compute_from_file, name, src)
    if step in worker:
        make = worker.maker(step, make)
    pins = _population_pins() if name == "high_needs" else {}
    return run_step(
        step,
        config.metrics_dir() / f"{name}.parquet",
        {"tidy": sio.sha256_file(src), **pins},
        make,
        state,
        force=force,
        reads=[f"tidy/{src.name}"],
    )


#: What the worker imports besides its source modules, while it waits for its jobs.
WORKER_PRELOAD: tuple[str, ...] = (
    "sendstats.pipeline.metric_steps",
    "sendstats.metrics.tribunal",
    "sendstats.metrics.high_needs",
    "sendstats.metrics.schema",
    "sendstats.sources.ons_population",
)

#: What the build's own process imports later, loaded while it fetches (:func:`warmup.warm`).
PRELOAD: tuple[str, ...] = (
    "sendstats.metrics.ehcp",
    "sendstats.metrics.schema",
    "sendstats.metrics.rates",
    "sendstats.metrics.tables",
    "sendstats.pipeline.metric_steps",
    "sendstats.metrics.tribunal",
    "sendstats.metrics.adults",
    "sendstats.benchmarking.table",
    "sendstats.benchmarking.schema",
)


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
    from sendstats.pipeline.tidy_worker import TidyWorker, useful

    preload_worker = [*(s.module for s in TIDY_STEPS if s.offload or s.share), *WORKER_PRELOAD]
    with sio.data_lock(), TidyWorker(preload_worker) as worker:
        state = load_state()
        if useful(sum(force or f"tidy:{s.table}" not in state for s in TIDY_STEPS)):
            worker.start()  # a first build: the worker imports its modules while we fetch
        preload = threading.Thread(
            target=warmup.warm,
            args=([*(s.module for s in TIDY_STEPS if not s.offload), *PRELOAD],),
            name="sendstats-preload",
            daemon=True,
        )
        if worker.started:
            preload.start()
        results = fetch_mod.fetch_sources(
            [s.source_id for s in TIDY_STEPS], offline=offline, progress=progress
        )
        if preload.is_alive():
            preload.join()
        plans = [_plan_tidy(s, results, state, force=force) for s in TIDY_STEPS]
        tidy_path = config.tidy_dir() / "dfe_sen2__ehcp.parquet"
        releases = releases_as_of("dfe_sen2", as_of)
        suffix = "" if as_of is None else f"__as_of_{as_of.isoformat()}"
        metrics_path = config.metrics_dir() / f"ehcp{suffix}.parquet"

        def ehcp_metrics() -> StepResult:
            return run_step(
                f"metrics:ehcp{suffix}",
                metrics_path,
                {"tidy": sio.sha256_file(tidy_path), "releases": ",".join(releases)},
                partial(compute_from_file, "ehcp", tidy_path, releases=releases),
                state,
                force=force,
                reads=[f"tidy/{tidy_path.name}"],
            )

        steps = _source_steps(
            plans,
            worker,
            state,
            force=force,
            ehcp_metrics=ehcp_metrics,
            full=as_of is None,
        )
        if as_of is None:
            steps.append(_benchmarks_step(state, force=force))
    return BuildReport(steps=steps, releases={"dfe_sen2": releases})


def _benchmarks() -> pl.DataFrame:
    from sendstats.benchmarking import schema, table
    from sendstats.metrics.tables import load_metrics

    out = config.metrics_dir() / "benchmarks.parquet"
    return schema.validate(table.compute(load_metrics()), out)


def _benchmarks_step(state: dict[str, str], *, force: bool) -> StepResult:
    """Benchmark every metric table: comparators, bands, changes, funnels, significance."""
    from sendstats.metrics import METRIC_TABLES

    paths = {n: config.metrics_dir() / f"{n}.parquet" for n in METRIC_TABLES}
    return run_step(
        "metrics:benchmarks",
        config.metrics_dir() / "benchmarks.parquet",
        {n: sio.sha256_file(p) for n, p in paths.items()},
        _benchmarks,
        state,
        force=force,
        reads=[f"metrics/{p.name}" for p in paths.values()],
    )
