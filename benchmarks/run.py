"""Measure sendstats build and render speed and memory on the real raw archive (issue 10).

Run by ``nox -s bench`` (``python benchmarks/run.py <posargs>``). Every measurement runs in a
fresh subprocess with its own temporary ``SENDSTATS_DATA_DIR``, so imports, start-up and peak
memory count for each run. Peak memory is measured two ways: the largest single process
(``wait4`` rusage of the child, which folds in the descendants it reaped) and the sum of
the proportional set size (PSS) of the child and all its descendants (report worker
processes, pandoc), sampled from ``/proc`` every 20 ms (100 ms in a batch). The targets use
the larger of the two.

Measures (``--only`` names):

- ``floor``: read every pinned raw file the build reads once, with the fastest reader
  sendstats uses (polars for CSV, fastexcel/calamine for spreadsheets).
- ``build_cold``: ``sendstats build --offline`` into an empty data dir (raw cache filled from
  the archive counts as part of it).
- ``build_cold_warm``: the same with the raw cache warm and tidy/metrics outputs removed
  (``--force``).
- ``build_noop``: the build again with nothing changed (every step must be skipped by hash).
- ``build_report_edit``: the build again after a report-only edit (a comment added to a copy of
  ``sendstats/report/figures/la.py``): every data step must be skipped.
- ``render_la`` / ``render_la_quarto``: one LA profile with the fallback renderer / Quarto.
- ``render_all``: every LA profile through the fallback renderer (2 workers).
- ``render_all_quarto``: every LA profile through Quarto (2 workers; skipped without Quarto).

``--las N`` makes both batches render the first N LAs only (the same N for both). The two
batches run in turn (fallback, Quarto, fallback, ...), so a drift in the machine's load weighs
on both, and the Quarto batch is checked against no more than 1.5x the fallback batch.

The script measures; it never fails on a missed target (exit status 0 unless it cannot run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ARCHIVE = REPO.parent / "shared" / "data" / "raw"
DEFAULT_OUT = REPO / "benchmarks" / "results"
MEASURES = (
    "floor",
    "build_cold",
    "build_cold_warm",
    "build_noop",
    "build_report_edit",
    "render_la",
    "render_la_quarto",
    "render_all",
    "render_all_quarto",
)
TITLES = {
    "floor": "floor: read every pinned raw file once",
    "build_cold": "cold build (cache empty)",
    "build_cold_warm": "cold build (cache warm, outputs removed)",
    "build_noop": "no-op rebuild",
    "build_report_edit": "rebuild after a report-only edit",
    "render_la": "one LA profile (fallback)",
    "render_la_quarto": "one LA profile (Quarto)",
    "render_all": "all LA profiles (fallback, 2 workers)",
    "render_all_quarto": "all LA profiles (Quarto, 2 workers)",
}
GB = 1_000_000_000
MB = 1_000_000
SAMPLE_EVERY_S = 0.02
#: A batch's timed runs are sampled less often: at 20 ms the sampler's reads of the workers'
#: ``smaps_rollup`` (each walks about 450 MB of page tables) took a sixth of the machine's CPU
#: (24% system time against 8% unsampled) and slowed the batch it measured. A batch's memory is
#: a plateau of minutes (two workers), with a pandoc present about a third of the time, so
#: samples 100 ms apart still catch its peak.
SAMPLE_BATCH_EVERY_S = 0.1


def log(message: str) -> None:
    """Print progress to stderr, so stdout carries only the final table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- running one child and measuring it -------------------------------------------------------


@dataclass
class Sample:
    """One run of one measure."""

    wall_s: float
    cpu_s: float
    max_rss_bytes: int
    tree_peak_bytes: int
    executors_seen: int
    returncode: int
    timed: bool = True

    @property
    def peak_bytes(self) -> int:
        """The larger of the two memory measures."""
        return max(self.max_rss_bytes, self.tree_peak_bytes)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as fh:
                kids.extend(int(k) for k in fh.read().split())
        except OSError:
            continue
    return kids


def _pss_bytes(pid: int, page: int) -> int:
    """Return a process's proportional set size (shared pages split between sharers).

    PSS rather than RSS, so pages shared by the processes of one tree count once overall.
    """
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * page
    except (OSError, IndexError, ValueError):
        return 0


def _is_executor(pid: int) -> bool:
    """Whether ``pid`` runs report cells: a batch's worker process (or a Jupyter kernel)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return b"sendstats.render.workers" in cmdline or b"ipykernel" in cmdline


class TreeSampler(threading.Thread):
    """Sample the summed PSS of a process and its descendants until stopped.

    Also counts the distinct processes that ran report cells (worker processes, or kernels),
    to check one per worker rather than one per LA.
    """

    def __init__(self, pid: int, every: float = SAMPLE_EVERY_S) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.peak = 0
        self.executors: set[int] = set()
        self.checked: set[int] = set()
        self.done = threading.Event()
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def run(self) -> None:
        """Walk the tree every few milliseconds and keep the largest total."""
        previous: set[int] = set()
        while not self.done.is_set():
            total, todo, seen = 0, [self.pid], set()
            while todo:
                pid = todo.pop()
                seen.add(pid)
                # subprocess starts children by vfork: until exec, the child shares the
                # parent's memory and would be counted twice, so a process counts from its
                # second sample on (by then it has exec'd; a 20 ms process is negligible).
                if pid == self.pid or pid in previous:
                    total += _pss_bytes(pid, self.page)
                    if pid != self.pid and pid not in self.checked:
                        self.checked.add(pid)
                        if _is_executor(pid):
                            self.executors.add(pid)
                todo.extend(_children(pid))
            self.peak = max(self.peak, total)
            previous = seen
            self.done.wait(self.every)


def run_child(
    argv: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    log_file: Path,
    *,
    sample: bool = True,
    every: float = SAMPLE_EVERY_S,
) -> Sample:
    """Run one command, timing it and measuring its memory; output goes to ``log_file``.

    ``sample``: walk the process tree for its summed PSS while it runs. Reading
    ``smaps_rollup`` every 20 ms costs the kernel real CPU time on a 2-core machine (it added
    0.7 s to a 2.4 s build), so the timed runs of short measures do without it and one
    extra sampled run measures their memory. ``every``: seconds between samples.
    """
    # Whatever earlier runs and their setup wrote is flushed to disk first (not timed), so a
    # run never waits on another's writeback: copying the prepared data dir left 50 MB of dirty
    # pages that cost the warm build 0.7 s.
    os.sync()
    with open(log_file, "ab") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=out, stderr=out)
        sampler = TreeSampler(proc.pid, every)
        if sample:
            sampler.start()
        # wait4 (not Popen.wait) returns this child's own rusage, descendants included.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sample:
            sampler.done.set()
            sampler.join()
    # ru_maxrss is in KiB on Linux.
    return Sample(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_bytes=int(usage.ru_maxrss) * 1024,
        tree_peak_bytes=sampler.peak,
        executors_seen=len(sampler.executors),
        returncode=proc.returncode,
    )


# --- the floor: runs inside a child -----------------------------------------------------------


def read_floor(paths_file: Path) -> None:
    """Read every listed raw file once with the fastest reader sendstats uses for its format.

    CSV: polars. Spreadsheets (.xlsx, .xls, .ods): calamine (fastexcel), every sheet as text;
    an .ods written without its ``mimetype`` entry (the ESFA DSG files), which calamine
    refuses, gets the entry added in memory first, as the build's own grid reader does
    (:mod:`sendstats.sources.grids`). Anything else: its bytes.
    """
    import fastexcel
    import polars as pl

    paths = [Path(p) for p in json.loads(paths_file.read_text(encoding="utf-8"))]
    for path in paths:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True)
        elif suffix in {".xlsx", ".ods", ".xls"}:
            book = fastexcel.read_excel(_with_ods_mimetype(path) if suffix == ".ods" else path)
            for name in book.sheet_names:
                book.load_sheet(name, header_row=None, dtypes="string").to_polars()
        else:
            path.read_bytes()


def _with_ods_mimetype(path: Path) -> Path | bytes:
    """Return ``path``, or the file's bytes with the ``mimetype`` entry calamine needs first."""
    import io
    import zipfile

    with zipfile.ZipFile(path) as book:
        if "mimetype" in book.namelist():
            return path
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as fixed:
            kind = b"application/vnd.oasis.opendocument.spreadsheet"
            fixed.writestr(zipfile.ZipInfo("mimetype"), kind, compress_type=zipfile.ZIP_STORED)
            for info in book.infolist():
                fixed.writestr(info, book.read(info))
        return out.getvalue()


def floor_paths(data: Path) -> list[Path]:
    """Return the cached paths of every pinned file the build read into ``data``.

    That is every pinned file of the sources the tidy steps fetch, plus the pinned files of
    other sources that the build resolved on the way (the ONS population workbooks behind the
    derived rates): each is in the raw cache once the setup build has run.
    """
    os.environ["SENDSTATS_DATA_DIR"] = str(data)
    from sendstats.acquire import catalog, fetch
    from sendstats.pipeline import table

    tidy_sources = {source for step in table.STEPS for source in step.sources}
    paths = []
    for source_id, decl in catalog.load_catalog().items():
        for rel in decl.releases:
            for pinned in rel.files:
                path = fetch.cache_path(source_id, rel.release, pinned)
                if path.is_file():
                    paths.append(path)
                elif source_id in tidy_sources:
                    raise SystemExit(f"bench: {path} missing after the setup build")
    return paths


# --- measures ---------------------------------------------------------------------------------


@dataclass
class Context:
    """Paths and settings shared by the measures."""

    root: Path
    archive: Path
    prepared: Path
    la: str
    env: dict[str, str] = field(default_factory=dict)
    las: int | None = None

    def env_for(self, data: Path) -> dict[str, str]:
        """Return the child environment for data dir ``data`` (offline, archive set)."""
        env = dict(self.env)
        env.update(
            SENDSTATS_DATA_DIR=str(data),
            SENDSTATS_ARCHIVE=str(self.archive),
            SENDSTATS_OFFLINE="1",
            SENDSTATS_PROJECT_ROOT=str(REPO),
        )
        return env


def sendstats_argv(*args: str) -> list[str]:
    """Return the argv that runs the sendstats CLI under this interpreter."""
    code = "import sys; from sendstats.cli import main; raise SystemExit(main(sys.argv[1:]))"
    return [sys.executable, "-c", code, *args]


def python_argv(code: str) -> list[str]:
    """Return the argv that runs ``code`` under this interpreter."""
    return [sys.executable, "-c", code]


def fresh_dir(ctx: Context, name: str) -> Path:
    """Return a new empty folder under the benchmark root."""
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=ctx.root))


def copy_prepared(ctx: Context, name: str, *, outputs: bool) -> Path:
    """Return a copy of the prepared data dir (with or without tidy/metrics outputs)."""
    data = fresh_dir(ctx, name)
    shutil.copytree(ctx.prepared, data, dirs_exist_ok=True)
    if not outputs:
        for sub in ("tidy", "metrics"):
            shutil.rmtree(data / sub, ignore_errors=True)
    return data


Plan = Callable[[Context, int], tuple[list[str], Path]]


def plan_floor(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan the floor: a child that reads the prepared cache's pinned files."""
    paths_file = ctx.root / "floor_paths.json"
    if not paths_file.exists():
        paths = [str(p) for p in floor_paths(ctx.prepared)]
        paths_file.write_text(json.dumps(paths), encoding="utf-8")
    return [sys.executable, str(Path(__file__).resolve()), "--child-floor", str(paths_file)], (
        ctx.prepared
    )


def plan_build_cold(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan a cold build into an empty data dir."""
    return sendstats_argv("build", "--offline"), fresh_dir(ctx, f"cold{run}")


def plan_build_cold_warm(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan a forced build over a warm raw cache with outputs removed."""
    data = copy_prepared(ctx, f"warm{run}", outputs=False)
    return sendstats_argv("build", "--offline", "--force"), data


def plan_build_noop(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan a rebuild with nothing changed."""
    return sendstats_argv("build", "--offline"), copy_prepared(ctx, f"noop{run}", outputs=True)


def plan_build_report_edit(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan a rebuild after a report-only edit, run from an edited copy of the package."""
    copy = fresh_dir(ctx, f"edited{run}")
    shutil.copytree(REPO / "sendstats", copy / "sendstats", ignore=shutil.ignore_patterns("*.pyc"))
    figure = copy / "sendstats" / "report" / "figures" / "la.py"
    figure.write_text(figure.read_text(encoding="utf-8") + "\n# a report-only edit\n")
    # Compiled as an installed package is: the edit, not a first compile, is what is timed.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(copy)], check=True)
    code = (
        f"import sys; sys.path.insert(0, {str(copy)!r}); from sendstats.cli import main; "
        "raise SystemExit(main(sys.argv[1:]))"
    )
    data = copy_prepared(ctx, f"edit{run}", outputs=True)
    return [sys.executable, "-c", code, "build", "--offline"], data


def _render_code(call: str, out: Path) -> str:
    return (
        "from pathlib import Path\n"
        "from sendstats.render import publish\n"
        f"result = publish.{call.replace('OUT', f'Path({str(out)!r})')}\n"
        "print('rendered', len(result) if isinstance(result, list) else result)\n"
    )


def plan_render_la(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan one LA profile with the fallback renderer, as a reader runs it.

    That is the CLI command, its build check included (the data is already built, so the
    check finds nothing to do).
    """
    out = fresh_dir(ctx, f"site{run}")
    return _report_argv(ctx, out, "fallback"), ctx.prepared


def plan_render_la_quarto(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan one LA profile with Quarto, as :func:`plan_render_la` does."""
    out = fresh_dir(ctx, f"qsite{run}")
    return _report_argv(ctx, out, "quarto"), ctx.prepared


def _report_argv(ctx: Context, out: Path, engine: str) -> list[str]:
    return sendstats_argv(
        "report", "--la", ctx.la, "--offline", "--engine", engine, "--out", str(out)
    )


def plan_render_all(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan the batch of every LA profile through the fallback renderer."""
    out = fresh_dir(ctx, f"allsite{run}")
    call = f"render_all_profiles(OUT, engine='fallback', workers=2, sample={ctx.las!r})"
    return python_argv(_render_code(call, out)), ctx.prepared


def plan_render_all_quarto(ctx: Context, run: int) -> tuple[list[str], Path]:
    """Plan the batch of every LA profile through Quarto."""
    out = fresh_dir(ctx, f"qallsite{run}")
    call = f"render_all_profiles(OUT, engine='quarto', workers=2, sample={ctx.las!r})"
    return python_argv(_render_code(call, out)), ctx.prepared


PLANS: dict[str, Plan] = {
    "floor": plan_floor,
    "build_cold": plan_build_cold,
    "build_cold_warm": plan_build_cold_warm,
    "build_noop": plan_build_noop,
    "build_report_edit": plan_build_report_edit,
    "render_la": plan_render_la,
    "render_la_quarto": plan_render_la_quarto,
    "render_all": plan_render_all,
    "render_all_quarto": plan_render_all_quarto,
}


@dataclass
class Runs:
    """What the runs of one measure gave so far."""

    samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    documents: int = 0
    failed: bool = False


def run_once(ctx: Context, name: str, run: int, runs: int, logs: Path, acc: Runs) -> None:
    """Run measure ``name`` once (run number ``run``) and add the sample to ``acc``."""
    # The batches run for minutes: their timed runs are sampled (and count the workers). A
    # short measure gets one more run, sampled and not timed, for its tree's memory.
    batch = name.startswith("render_all")
    argv, data = PLANS[name](ctx, run)
    log_file = logs / f"{name}.log"
    timed = batch or run < runs
    log(f"{name}: run {run + 1}/{runs}" if timed else f"{name}: memory run (not timed)")
    every = SAMPLE_BATCH_EVERY_S if batch else SAMPLE_EVERY_S
    sample = run_child(
        argv, ctx.env_for(data), ctx.root, log_file, sample=not timed or batch, every=every
    )
    sample.timed = timed
    log(
        f"{name}: {sample.wall_s:.2f} s, peak {sample.peak_bytes / MB:.0f} MB, "
        f"load {os.getloadavg()[0]:.1f}"
        + (f", exit {sample.returncode}" if sample.returncode else "")
    )
    if sample.returncode:
        acc.notes.append(f"run {run + 1} exited {sample.returncode}; see {log_file}")
        acc.failed = True
        return
    acc.samples.append(sample)
    if batch:
        printed = log_file.read_text(encoding="utf-8", errors="replace").split("rendered ")
        acc.documents = int(printed[-1].split()[0]) if len(printed) > 1 else 0
    if name in ("build_noop", "build_report_edit"):
        text = log_file.read_text(encoding="utf-8", errors="replace")
        if "rows written" in text.split("build:")[-1]:
            acc.notes.append("a step was rerun: the no-op build did not skip everything")


def finish(name: str, acc: Runs) -> dict[str, Any]:
    """Return the summary of one measure's runs."""
    result = summarise(name, acc.samples, acc.notes)
    if acc.documents:
        result["documents"] = acc.documents
    return result


def measure(ctx: Context, name: str, runs: int, logs: Path) -> dict[str, Any]:
    """Run one measure ``runs`` times and summarise it (median, min, max, peak memory)."""
    acc = Runs()
    total = runs if name.startswith("render_all") else runs + 1
    for run in range(total):
        run_once(ctx, name, run, runs, logs, acc)
        if acc.failed:
            break
    return finish(name, acc)


def measure_in_turn(
    ctx: Context, names: Sequence[str], runs: int, logs: Path
) -> dict[str, dict[str, Any]]:
    """Run the batch measures ``names`` in turn, one run of each per round.

    The machine's load drifts over minutes (other work shares its two cores); alternating
    the two engines' batches lets a drift weigh on both alike, so their ratio holds.
    """
    accs = {name: Runs() for name in names}
    for run in range(runs):
        for name in names:
            if not accs[name].failed:
                run_once(ctx, name, run, runs, logs, accs[name])
    return {name: finish(name, acc) for name, acc in accs.items()}


def summarise(name: str, samples: list[Sample], notes: list[str]) -> dict[str, Any]:
    """Return the JSON summary of one measure's samples."""
    result: dict[str, Any] = {
        "name": name,
        "title": TITLES[name],
        "runs": len(samples),
        "notes": notes,
        "samples": [asdict(s) for s in samples],
    }
    timed = [s for s in samples if s.timed]
    result["runs"] = len(timed)
    if timed:
        walls = [s.wall_s for s in timed]
        result.update(
            median_s=statistics.median(walls),
            min_s=min(walls),
            max_s=max(walls),
            peak_bytes=max(s.peak_bytes for s in samples),
            max_process_rss_bytes=max(s.max_rss_bytes for s in samples),
            cores_used=statistics.median(s.cpu_s / s.wall_s for s in timed if s.wall_s),
            executors_seen=max(s.executors_seen for s in samples),
        )
    return result


# --- setup, targets, machine, output ----------------------------------------------------------


def compile_package() -> None:
    """Write the bytecode of sendstats and of its installed libraries once, as pip would.

    Not timed. An editable install imports sendstats from its source tree, and uv (nox's
    installer here) installs libraries without their bytecode unless asked; where bytecode
    cannot be cached either (``PYTHONDONTWRITEBYTECODE``, as on our CI machines) every process
    would compile every module it imports again: about 0.3 s a build for sendstats and about
    2 s for polars, pandera, pandas, numpy and pydantic, a cost no user of an installed
    package pays (``pip install`` writes the bytecode of what it installs, and Python caches
    it on first import elsewhere). A library already compiled is only checked.
    """
    import compileall
    import sysconfig

    import sendstats

    log("setup: compiling sendstats and its libraries to bytecode (not timed)")
    compileall.compile_dir(Path(sendstats.__file__).parent, quiet=1)
    paths = sysconfig.get_paths()
    for folder in sorted({paths["purelib"], paths["platlib"]}):
        compileall.compile_dir(folder, quiet=2, workers=0)


def prepare(ctx: Context, logs: Path) -> None:
    """Build once into the shared prepared data dir (not timed)."""
    compile_package()
    log("setup: building the shared data dir (not timed)")
    sample = run_child(
        sendstats_argv("build", "--offline"),
        ctx.env_for(ctx.prepared),
        ctx.root,
        logs / "setup_build.log",
    )
    if sample.returncode:
        raise SystemExit(f"bench: setup build failed; see {logs / 'setup_build.log'}")


def check(name: str, ok: bool | None, measured: str, target: str) -> dict[str, Any]:
    """Return one target row; ``ok`` None means not measured."""
    verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
    return {"target": name, "verdict": verdict, "measured": measured, "goal": target}


def evaluate(results: dict[str, dict[str, Any]], las: int | None = None) -> list[dict[str, Any]]:
    """Compare each measure with the issue's targets.

    With ``las`` (the batches rendered the first N LAs only) the all-LA time targets are not
    checked; the cores, worker processes and the engines' ratio are.
    """
    rows = []
    for key in ("build_cold", "build_cold_warm"):
        if (med := results.get(key, {}).get("median_s")) is not None:
            rows.append(check(f"{TITLES[key]} under 6 s", med < 6, f"{med:.2f} s", "< 6 s"))
    for key in ("build_noop", "build_report_edit"):
        if (med := results.get(key, {}).get("median_s")) is None:
            continue
        rows.append(check(f"{TITLES[key]} under 0.5 s", med < 0.5, f"{med:.2f} s", "< 0.5 s"))
        notes = results[key].get("notes", [])
        rows.append(
            check(f"{TITLES[key]}: every step skipped", not notes, "; ".join(notes) or "yes", "all")
        )
    if (med := results.get("render_la", {}).get("median_s")) is not None:
        rows.append(check(f"{TITLES['render_la']} under 2 s", med < 2, f"{med:.2f} s", "< 2 s"))
    for key, res in results.items():
        if (peak := res.get("peak_bytes")) is not None:
            rows.append(
                check(f"peak memory: {TITLES[key]}", peak < GB, f"{peak / MB:.0f} MB", "< 1 GB")
            )
    if (res := results.get("render_all", {})).get("median_s") is not None:
        med = res["median_s"]
        if las is None:
            rows.append(check("all LAs under 60 s", med < 60, f"{med:.0f} s", "< 60 s"))
        cores = res["cores_used"]
        rows.append(
            check("all LAs use both cores", cores >= 1.5, f"{cores:.2f} cores busy", ">= 1.5")
        )
        executors = res["executors_seen"]
        rows.append(
            check(
                "all LAs: one process running cells per worker",
                0 < executors <= 2,
                f"{executors} processes",
                "2",
            )
        )
    if (res := results.get("render_all_quarto", {})).get("median_s") is not None:
        med, cores = res["median_s"], res["cores_used"]
        if las is None:
            rows.append(
                check("all LAs (Quarto) under 5 minutes", med < 300, f"{med:.0f} s", "< 300 s")
            )
        rows.append(
            check("all LAs (Quarto) use both cores", cores >= 1.5, f"{cores:.2f}", ">= 1.5")
        )
        fallback = results.get("render_all", {})
        if fallback.get("median_s") and fallback.get("documents") == res.get("documents"):
            ratio = med / fallback["median_s"]
            rows.append(
                check(
                    "all LAs: the Quarto batch costs no more than 1.5x the fallback batch",
                    ratio <= 1.5,
                    f"{med:.1f} s / {fallback['median_s']:.1f} s = {ratio:.2f}x "
                    f"({res.get('documents')} profiles each)",
                    "<= 1.5x",
                )
            )
        one = results.get("render_la_quarto", {}).get("median_s")
        docs = res.get("documents") or 0
        if one is not None and docs:
            # Two workers: a batch that pays no more than Quarto's own cost per document takes
            # at most (one render) x documents / 2.
            rows.append(
                check(
                    "all LAs (Quarto): no more than one render's cost per document",
                    med <= one * docs / 2,
                    f"{med / docs:.2f} s per document x 2 workers vs {one:.2f} s for one",
                    "<= one render",
                )
            )
    return rows


def machine() -> dict[str, Any]:
    """Describe the machine the figures were taken on."""
    cpu, mem = "unknown", 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    info: dict[str, Any] = {
        "nproc": cores,
        "cpu": cpu,
        "ram_gib": round(mem / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "quarto": shutil.which("quarto") is not None,
    }
    try:
        info["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        info["commit"] = ""
    return info


def machine_line(info: dict[str, Any]) -> str:
    """Return the one-line machine description for README."""
    return (
        f"{info['nproc']} cores ({info['cpu']}), {info['ram_gib']} GiB RAM, "
        f"Python {info['python']}, {info['platform']}, commit {info.get('commit') or '?'}"
    )


def to_markdown(report: dict[str, Any]) -> str:
    """Return the readable table of results and targets."""
    lines = [
        "# sendstats benchmarks",
        "",
        f"Machine: {machine_line(report['machine'])}  ",
        f"Taken {report['taken']}, {report['runs']} runs per measure (see JSON for each run); "
        f"1-minute load average {report['load_before_after'][0]} before, "
        f"{report['load_before_after'][1]} after"
        + (f"; batches: the first {report['las']} LAs." if report.get("las") else "."),
        "",
        "| measure | runs | median s | min s | max s | peak MB (tree) | largest process MB "
        "| cores busy | notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in report["results"].values():
        if "median_s" not in res:
            lines.append(f"| {res['title']} | 0 | | | | | | | {'; '.join(res['notes'])} |")
            continue
        lines.append(
            f"| {res['title']} | {res['runs']} | {res['median_s']:.2f} | {res['min_s']:.2f} "
            f"| {res['max_s']:.2f} | {res['peak_bytes'] / MB:.0f} "
            f"| {res['max_process_rss_bytes'] / MB:.0f} | {res['cores_used']:.2f} "
            f"| {'; '.join(res['notes'])} |"
        )
    lines += ["", "| target | goal | measured | verdict |", "|---|---|---|---|"]
    for row in report["targets"]:
        lines.append(f"| {row['target']} | {row['goal']} | {row['measured']} | {row['verdict']} |")
    lines += [
        "",
        "Peak MB (tree) is the largest sampled sum of proportional memory (PSS) over the "
        "process and its descendants (report workers, pandoc); largest process is the biggest "
        "single process (wait4). "
        "MB = 10^6 bytes. Cores busy = CPU time / wall time.",
    ]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=3, help="runs per measure (default 3)")
    p.add_argument(
        "--batch-runs", type=int, default=None, help="runs of render_all (default: --runs)"
    )
    p.add_argument("--quick", action="store_true", help="skip the all-LA batches")
    p.add_argument(
        "--only", action="append", choices=MEASURES, metavar="NAME", help="measure only NAME"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder")
    p.add_argument("--archive", type=Path, default=DEFAULT_ARCHIVE, help="raw archive folder")
    p.add_argument("--la", default="Leeds", help="LA for the one-profile render")
    p.add_argument(
        "--las",
        type=int,
        default=None,
        metavar="N",
        help="the batches render the first N LAs only (both engines the same N; default all)",
    )
    p.add_argument("--child-floor", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def chosen_measures(args: argparse.Namespace) -> list[str]:
    """Return the measures to run, in order."""
    names = list(args.only) if args.only else list(MEASURES)
    if args.quick and not args.only:
        names.remove("render_all")
        names.remove("render_all_quarto")
    return [n for n in MEASURES if n in names]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen measures and write results.json and results.md."""
    args = parse_args(argv)
    if args.child_floor is not None:
        read_floor(args.child_floor)
        return 0
    archive = args.archive.resolve()
    if not archive.is_dir():
        print(f"bench: raw archive {archive} not found (use --archive)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    logs = args.out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    results: dict[str, dict[str, Any]] = {}
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="sendstats-bench-") as tmp:
        root = Path(tmp)
        ctx = Context(root, archive, root / "prepared", args.la, env=dict(os.environ))
        ctx.las = args.las
        ctx.prepared.mkdir()
        prepare(ctx, logs)
        batches = []
        for name in chosen_measures(args):
            if name.endswith("_quarto") and shutil.which("quarto") is None:
                results[name] = summarise(name, [], ["skipped: quarto not on PATH"])
                log(f"{name}: skipped (quarto not on PATH)")
            elif name.startswith("render_all"):
                batches.append(name)
            else:
                results[name] = measure(ctx, name, args.runs, logs)
        if batches:
            results.update(measure_in_turn(ctx, batches, args.batch_runs or args.runs, logs))
    report = {
        "taken": time.strftime("%Y-%m-%d %H:%M %Z"),
        "runs": args.runs,
        "las": args.las,
        "machine": machine(),
        "results": results,
        "load_before_after": [load_before, round(os.getloadavg()[0], 2)],
        "targets": evaluate(results, args.las),
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    table = to_markdown(report)
    (args.out / "results.md").write_text(table, encoding="utf-8")
    print(table)
    log(f"wrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
