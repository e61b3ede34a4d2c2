"""Render reports for users: resolve the LA first, then hand a known code to the renderer.

The LA parameter is resolved to a known LA before it reaches a notebook or a command line, so
whatever a user types (a name, a code, or an attempt at injection) only ever becomes one of
the 3-digit DfE codes in the crosswalk. Outputs go into the site layout of
:mod:`sendstats.render.site` (the one a plain ``quarto render`` writes into too), each HTML page
with the site's navigation bar, and the engine used is announced on stderr before any render.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sendstats import geography
from sendstats.core import config
from sendstats.geography.describe import profile_slug as profile_slug
from sendstats.render import site
from sendstats.render.batch import Job, render_many
from sendstats.render.document import Engine, render_report, resolve_engine

LA_PROFILE = "la_profile.qmd"
SITE_PAGES = ("index", "england_overview", "revisions", "methods")


@contextmanager
def _report_env(figure_dir: Path) -> Iterator[None]:
    """Set absolute data paths and the figure folder for the report's cells, then restore.

    Workers and kernels started meanwhile inherit them.
    """
    keys = {
        "SENDSTATS_DATA_DIR": str(config.data_dir()),
        "SENDSTATS_PROJECT_ROOT": str(config.project_root()),
        "SENDSTATS_FIGURE_DIR": str(figure_dir),
    }
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def announce_engine(engine: Engine, what: str) -> Engine:
    """Print which engine renders ``what`` (``auto`` resolved) to stderr; return it.

    Quarto and the fallback give the same sections, numbers, tables and charts with a different
    speed and toolchain, so the choice ``auto`` made is never silent.

    An engine that cannot be used (``quarto`` not on PATH) is returned as given, for the
    renderer to refuse with a :class:`RenderError` naming the document.
    """
    try:
        chosen = resolve_engine(engine)
    except ValueError:
        return engine
    if chosen == "quarto":
        from sendstats.render.quarto import quarto_version

        how = f"Quarto {quarto_version()} (quarto on PATH)"
        other = "--engine fallback for sendstats' own renderer"
    else:
        how = "sendstats' fallback renderer (IPython, pandoc, typst)"
        other = "no quarto on PATH" if engine == "auto" else "--engine fallback"
    print(f"rendering {what} with {how}; {other}", file=sys.stderr)
    return chosen


def _start_chart_engine(engine: Engine) -> None:
    """Start the chart engine now when the document will run in this process (the fallback).

    Its start and first charts then overlap the build check and the report's imports (about
    0.1 s of a one-profile render); Quarto runs the cells in a kernel of its own.
    """
    if engine == "fallback":
        from sendstats.report.viz.engine import warm_up

        warm_up()


def render_la_profile(
    query: str,
    out_dir: Path,
    *,
    engine: Literal["auto", "quarto", "fallback"] = "auto",
    to: Literal["html", "pdf"] = "html",
    prepare: Callable[[], object] | None = None,
) -> Path:
    """Render the LA profile for ``query`` to ``<out_dir>/la/<slug>.html`` and return the path.

    ``prepare`` (the CLI's build check) must finish before the document runs; the fallback
    runs it first too (:func:`sendstats.render.document.render_report`).

    Raises:
        UnknownLAError: the query is not a known LA (the message lists close matches).
        RenderError: the document failed to render (names the LA and the failing cell).

    """
    la = geography.resolve_la(query)
    out_dir = out_dir.resolve()
    target = out_dir / site.PROFILE_FOLDER / f"{profile_slug(la)}.{to}"
    chosen = announce_engine(engine, f"the profile of {la.la_name}")
    _start_chart_engine(chosen)
    with _report_env(out_dir / site.PROFILE_FOLDER / "figures"):
        path = render_report(
            config.reports_dir() / LA_PROFILE,
            {"la": la.la_code_dfe},
            target,
            engine=chosen,
            to=to,
            prepare=prepare,
        )
    return site.place_page(path, out_dir)


def render_all_profiles(
    out_dir: Path,
    *,
    engine: Literal["auto", "quarto", "fallback"] = "auto",
    to: Literal["html", "pdf"] = "html",
    workers: int = 2,
    sample: int | None = None,
) -> list[Path]:
    """Render every LA with EHC plan data, with a progress bar; stop on the first failure.

    The failure names the LA (its DfE code is the only parameter) and the failing cell.
    ``sample``: render only the first ``sample`` LAs of :func:`profile_codes` (benchmarks
    compare the engines on the same LAs this way).
    """
    codes = profile_codes()
    if sample is not None:
        codes = codes[: max(0, sample)]
    return render_profiles(codes, out_dir, engine=engine, to=to, workers=workers)


def render_profiles(
    queries: Sequence[str],
    out_dir: Path,
    *,
    engine: Literal["auto", "quarto", "fallback"] = "auto",
    to: Literal["html", "pdf"] = "html",
    workers: int = 2,
) -> list[Path]:
    """Render the profiles of the LAs ``queries`` name as one batch (``workers`` at once).

    Each query is resolved as for :func:`render_la_profile`; outputs go to
    ``<out_dir>/la/<slug>.<to>`` and the batch stops on the first failure.

    Raises:
        UnknownLAError: a query is not a known LA (before anything renders).
        RenderError: a profile failed to render (names the LA and the failing cell).

    """
    out_dir = out_dir.resolve()
    jobs: list[Job] = []
    for query in queries:
        la = geography.resolve_la(query)
        target = out_dir / site.PROFILE_FOLDER / f"{profile_slug(la)}.{to}"
        jobs.append((config.reports_dir() / LA_PROFILE, {"la": la.la_code_dfe}, target))
    figures = out_dir / site.PROFILE_FOLDER / "figures"
    return _render_batch(jobs, out_dir, figures, "LA profiles", engine, to, workers)


def _render_batch(
    jobs: Sequence[Job],
    out_dir: Path,
    figures: Path,
    what: str,
    engine: Engine,
    to: Literal["html", "pdf"],
    workers: int,
) -> list[Path]:
    """Render ``jobs`` as one batch, their charts' CSVs into ``figures``; place each page."""
    chosen = announce_engine(engine, f"{len(jobs)} {what} ({workers} workers)")
    with _report_env(figures):
        paths = render_many(jobs, engine=chosen, workers=workers, to=to)
    return [site.place_page(path, out_dir) for path in paths]


def profile_codes() -> list[str]:
    """Return the DfE codes of every LA with a metric row (sorted), read from the metric tables.

    Only two columns are read, and the report module (altair, great-tables, vl-convert) is not
    imported: the batch's own process stays small beside its worker processes.
    """
    import polars as pl

    from sendstats.metrics import METRIC_TABLES

    paths = [config.metrics_dir() / f"{name}.parquet" for name in METRIC_TABLES]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run `sendstats build` first")
    codes = (
        pl.concat([pl.scan_parquet(p).select("geographic_level", "la_code_dfe") for p in paths])
        .filter(pl.col("geographic_level") == "Local authority")
        .select(pl.col("la_code_dfe").unique())
        .collect()
    )
    return sorted(codes["la_code_dfe"].to_list())


def render_page(
    name: str,
    out_dir: Path,
    *,
    engine: Literal["auto", "quarto", "fallback"] = "auto",
    to: Literal["html", "pdf"] = "html",
    prepare: Callable[[], object] | None = None,
) -> Path:
    """Render a site page without parameters (``index``, ``revisions``) to ``<out_dir>/<name>``.

    ``prepare``: as for :func:`render_la_profile`.
    """
    _check_pages([name])
    out_dir = out_dir.resolve()
    chosen = announce_engine(engine, f"the {name} page")
    _start_chart_engine(chosen)
    with _report_env(out_dir / "figures"):
        path = render_report(
            config.reports_dir() / f"{name}.qmd",
            {},
            out_dir / f"{name}.{to}",
            engine=chosen,
            to=to,
            prepare=prepare,
        )
    return site.place_page(path, out_dir)


def render_pages(
    names: Sequence[str],
    out_dir: Path,
    *,
    engine: Literal["auto", "quarto", "fallback"] = "auto",
    to: Literal["html", "pdf"] = "html",
    workers: int = 2,
) -> list[Path]:
    """Render site pages as one batch (``workers`` at once), as ``report --all`` does.

    One at a time, each page paid its own start-up (with Quarto about 8 s a page); in a batch
    they run side by side in the workers and Quarto renders them as one group.

    Raises:
        ValueError: a name is not one of :data:`SITE_PAGES` (before anything renders).
        RenderError: a page failed to render (names the page and the failing cell).

    """
    _check_pages(names)
    out_dir = out_dir.resolve()
    jobs: list[Job] = [
        (config.reports_dir() / f"{name}.qmd", {}, out_dir / f"{name}.{to}") for name in names
    ]
    return _render_batch(jobs, out_dir, out_dir / "figures", "site pages", engine, to, workers)


def _check_pages(names: Sequence[str]) -> None:
    """Raise ValueError naming the first of ``names`` that is not a site page."""
    for name in names:
        if name not in SITE_PAGES:
            raise ValueError(f"unknown page {name!r}; pages: {', '.join(SITE_PAGES)}")
