"""Render many parameterised documents at once, keeping every core busy (:func:`render_many`).

Documents are executed in ``workers`` worker processes (:mod:`sendstats.render.workers`), each
running its documents one after another in its own IPython shell, so the report's libraries
and tables are loaded once per worker, not once per document. ``workers`` feeder threads hand
the workers one document each at a time.

The fallback hands each executed document to one conversion thread (pandoc, typst: separate
processes or native code), so a worker starts its next document while the last one is
converted. Workers and the converter together keep both cores of a 2-core machine busy; a
feeder waits only when ``workers`` executed documents are already queued for conversion, which
bounds the memory held. One converter is enough (pandoc takes a fifth of a worker's time per
document) and keeps the batch small: each pandoc process holds about 170 MB.

With Quarto, the documents are executed by the same workers, and ``workers`` renderer threads
hand the executed notebooks to Quarto in groups of :data:`QUARTO_GROUP`: one ``quarto render``
of a private copy of the project (one per renderer) renders a group without executing it
(:mod:`sendstats.render.quarto_notebooks`), so Quarto's start-up, its kernel and most of its
post-processing are no longer paid per document. Quarto renders a group on one core, so a
second renderer takes the next full group rather than leave the workers waiting for room
(with one renderer, the CPU fell to one core for a second or two at every group); once the
workers are done, the last notebooks are split so that every renderer finishes at about the
same time with as few Quarto starts (about 1 s of CPU each) as that allows.

A document with cells in another language than Python, which sendstats cannot execute, is
rendered by Quarto one job at a time instead: ``workers`` renders at once, each from its own
private copy of the document's folder, keeping that copy's Jupyter kernel alive between
renders (``--execute-daemon``).

Either way the batch stops at the first failure: jobs not started are skipped, outputs already
written stay, and the error raised is the failure of the earliest job, naming the document and
its parameters.
"""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbformat import NotebookNode
from tqdm import tqdm

from sendstats.render.common import Engine, ParamValue, RenderError, Target
from sendstats.render.document import (
    _choose_engine,
    check_params,
    convert_document,
    execute_document,
)
from sendstats.render.qmd import QmdError, parse_qmd
from sendstats.render.quarto import private_copy, run_quarto
from sendstats.render.quarto_notebooks import (
    GroupItem,
    front_matter_text,
    quarto_notebook,
    render_group,
)
from sendstats.render.workers import WorkerPool

Job = tuple[Path, Mapping[str, ParamValue], Path]

#: Seconds a worker's Quarto kernel stays alive after its last render (Quarto's default: 300).
QUARTO_DAEMON_SECONDS = 60
#: Executed notebooks rendered by one ``quarto render``: its start-up (about 1.3 s of CPU) is
#: paid once per group. 16 rather than 8 saved about 3% of a 24-LA batch's CPU time; the last
#: notebooks are split between the renderers whatever the group size.
QUARTO_GROUP = 16


class _Batch:
    """Shared state of one batch: the next job, the outputs, the failures, the progress bar."""

    def __init__(self, size: int, progress: bool) -> None:
        self.results: list[Path | None] = [None] * size
        self.errors: list[tuple[int, BaseException]] = []
        self.stop = threading.Event()
        self._next = 0
        self._size = size
        self._lock = threading.Lock()
        self._bar = tqdm(total=size, desc="rendering", unit="report", disable=not progress)

    def take(self) -> int | None:
        """Return the index of the next job to start, or None when done or stopped."""
        with self._lock:
            if self.stop.is_set() or self._next >= self._size:
                return None
            self._next += 1
            return self._next - 1

    def done(self, index: int, path: Path) -> None:
        """Record a finished job."""
        with self._lock:
            self.results[index] = path
        self._bar.update(1)

    def fail(self, index: int, exc: BaseException) -> None:
        """Record a failure and stop starting jobs."""
        self.stop.set()
        with self._lock:
            self.errors.append((index, exc))

    def close(self) -> None:
        """Close the progress bar."""
        self._bar.close()

    def outputs(self) -> list[Path]:
        """Raise the earliest job's failure, else return the outputs in job order."""
        if self.errors:
            raise min(self.errors, key=lambda e: e[0])[1]
        return [path for path in self.results if path is not None]


def render_many(
    jobs: Sequence[Job],
    *,
    engine: Engine = "auto",
    workers: int = 2,
    progress: bool = True,
    to: Target = "html",
    timeout: int = 600,
) -> list[Path]:
    """Render ``(qmd, params, output)`` jobs, ``workers`` at once; stop at the first failure.

    Both engines execute in one worker process per worker for all its documents (the namespace
    emptied between them), so a batch of 150 LAs starts 2 interpreters, not 150. The fallback
    converts each executed document (pandoc, typst) while its worker already runs the next one;
    Quarto renders the executed documents a group at a time, beside the workers.

    Returns:
        The outputs, in the order of ``jobs``.

    Raises:
        RenderError: the first failure (naming the document and its params); jobs not started
            yet are skipped; outputs already written stay.

    """
    if not jobs:
        return []
    resolved: list[Job] = [
        (Path(q).resolve(), check_params(Path(q), p), Path(o).resolve()) for q, p, o in jobs
    ]
    for qmd, params, _ in resolved:
        if not qmd.is_file():
            raise RenderError(qmd, params, "document not found")
    chosen = _choose_engine(resolved[0][0], resolved[0][1], engine)
    size = max(1, min(workers, len(jobs)))
    batch = _Batch(len(jobs), progress)
    try:
        if chosen == "quarto":
            _run_quarto(resolved, batch, size, to, timeout)
        else:
            _run_fallback(resolved, batch, size, to, timeout)
    finally:
        batch.stop.set()
        batch.close()
    return batch.outputs()


def _run_threads(
    target: Callable[[int], None],
    size: int,
    batch: _Batch,
    extra: Sequence[Callable[[], None]] = (),
    on_interrupt: Callable[[], None] | None = None,
) -> None:
    """Run ``target(worker number)`` in ``size`` threads, and each of ``extra`` in one; wait.

    ``on_interrupt`` runs on Ctrl-C, before the threads are waited for (Quarto's renderers
    stop taking groups).
    """
    threads = [threading.Thread(target=target, args=(n,), name=f"render-{n}") for n in range(size)]
    threads += [threading.Thread(target=f, name=f"render-quarto-{n}") for n, f in enumerate(extra)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C: let each worker finish its document, start no other
        batch.stop.set()
        if on_interrupt is not None:
            on_interrupt()
        for thread in threads:
            thread.join()
        raise


def _run_fallback(jobs: Sequence[Job], batch: _Batch, size: int, to: Target, timeout: int) -> None:
    """Execute in ``size`` worker processes; convert in one thread beside them."""
    parsed: dict[Path, NotebookNode] = {}
    queued = threading.BoundedSemaphore(size)

    def convert(index: int, nb: NotebookNode) -> None:
        # A document already executed is written even after another job failed.
        try:
            qmd, params, output = jobs[index]
            batch.done(index, convert_document(nb, qmd, params, output, to))
        except BaseException as exc:
            batch.fail(index, exc)
        finally:
            queued.release()

    def feeder(_n: int) -> None:
        while (index := batch.take()) is not None:
            qmd, params, _ = jobs[index]
            try:
                with parsing:
                    if qmd not in parsed:
                        parsed[qmd] = parse_qmd(qmd)
                nb = execute_document(workers, qmd, params, timeout, parsed[qmd])
            except QmdError as exc:
                batch.fail(index, RenderError(qmd, params, str(exc)))
                return
            except BaseException as exc:
                batch.fail(index, exc)
                return
            queued.acquire()
            converters.submit(convert, index, nb)

    parsing = threading.Lock()
    with (
        WorkerPool(size) as workers,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="convert") as converters,
    ):
        _run_threads(feeder, size, batch)


def _run_quarto(jobs: Sequence[Job], batch: _Batch, size: int, to: Target, timeout: int) -> None:
    """Execute in ``size`` worker processes; render groups of executed notebooks with Quarto.

    A document that sendstats cannot execute itself (a cell in another language) is rendered
    by Quarto one job at a time instead (:func:`_run_quarto_each`).
    """
    parsed: dict[Path, NotebookNode] = {}
    fronts: dict[Path, str] = {}  # each document's front matter as Quarto gets it, read once
    try:
        for qmd, _, _ in jobs:
            if qmd not in parsed:
                parsed[qmd] = parse_qmd(qmd)
                fronts[qmd] = front_matter_text(qmd, to)
    except QmdError:
        _run_quarto_each(jobs, batch, size, to, timeout)
        return
    queue = _Groups(QUARTO_GROUP, running=size, renderers=size)
    with (
        tempfile.TemporaryDirectory(prefix="sendstats-quarto-") as tmp,
        WorkerPool(size) as workers,
    ):

        def feeder(_n: int) -> None:
            try:
                while (index := batch.take()) is not None:
                    qmd, params, output = jobs[index]
                    try:
                        nb = execute_document(workers, qmd, params, timeout, parsed[qmd])
                    except BaseException as exc:
                        batch.fail(index, exc)
                        return
                    # The renderer makes Quarto's notebook of it while this worker runs the next.
                    if not queue.put(GroupItem(index, qmd, params, output, nb)):
                        return
            finally:
                queue.worker_done()

        def renderer(n: int) -> None:
            copies: dict[Path, tuple[Path, Path]] = {}  # document -> (project copy, folder)
            while group := queue.take(n):
                by_document: dict[Path, list[GroupItem]] = {}
                for item in sorted(group, key=lambda item: item.index):
                    try:
                        item.notebook, item.fragments = quarto_notebook(
                            item.notebook, fronts[item.qmd], to
                        )
                    except BaseException as exc:
                        batch.fail(item.index, exc)
                        queue.stop()
                        return
                    by_document.setdefault(item.qmd, []).append(item)
                for qmd, items in by_document.items():
                    if qmd not in copies:  # one project copy per renderer and document
                        root = Path(tmp) / f"renderer-{n}" / f"project-{len(copies)}"
                        copies[qmd] = (root, private_copy(qmd, root).parent)
                    root, folder = copies[qmd]
                    seconds = timeout * len(items)
                    try:
                        rendered = render_group(root, folder, items, to, seconds)
                    except BaseException as exc:
                        for item in items:
                            batch.fail(item.index, exc)
                        queue.stop()
                        return
                    for item, result in rendered:
                        if isinstance(result, Path):
                            batch.done(item.index, result)
                        elif result is not None:
                            batch.fail(item.index, result)

        renderers = [functools.partial(renderer, n) for n in range(size)]
        _run_threads(feeder, size, batch, extra=renderers, on_interrupt=queue.stop)


class _Groups:
    """Executed notebooks waiting for Quarto, handed out a group at a time.

    Feeders :meth:`put` notebooks (waiting while two groups are already queued, which
    bounds the memory held); each of the ``renderers`` :meth:`take` a full group while the
    feeders run. Once every feeder is done, what is left is shared so that the renderers
    finish together: a renderer takes its share of the notebooks still queued plus those the
    others have yet to render (estimated from the seconds a notebook took in the groups
    already rendered), which splits the tail in as few Quarto starts as that balance allows.
    After :meth:`stop` nothing more is taken or put.
    """

    def __init__(
        self,
        size: int,
        running: int,
        renderers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.running = running
        self.renderers = max(1, renderers)
        self.items: list[GroupItem] = []
        self.stopped = False
        self._clock = clock
        self._rendering: dict[int, tuple[float, int]] = {}  # renderer -> (since, notebooks)
        self._seconds_each: float | None = None  # per notebook, in the last group rendered
        self._cond = threading.Condition()

    def put(self, item: GroupItem) -> bool:
        """Queue ``item``; return False when the batch stopped (the item is dropped)."""
        with self._cond:
            while len(self.items) >= 2 * self.size and not self.stopped:
                self._cond.wait(0.5)
            if self.stopped:
                return False
            self.items.append(item)
            self._cond.notify_all()
            return True

    def take(self, renderer: int = 0) -> list[GroupItem]:
        """Return renderer ``renderer``'s next group ([] when nothing is left or stopped).

        Taking a group means the renderer's previous one is done.
        """
        with self._cond:
            since, count = self._rendering.pop(renderer, (0.0, 0))
            if count:
                self._seconds_each = (self._clock() - since) / count
            while not self.stopped and self.running and len(self.items) < self.size:
                self._cond.wait()
            if self.stopped:
                return []
            share = self.size
            if not self.running:  # the tail: an even share of what is left to render
                share = -(-(len(self.items) + self._left_to_others()) // self.renderers)
            group, self.items = self.items[:share], self.items[share:]
            if group:
                self._rendering[renderer] = (self._clock(), len(group))
            self._cond.notify_all()
            return group

    def _left_to_others(self) -> int:
        """Notebooks the other renderers have yet to render (all of theirs before any timing)."""
        left = 0.0
        for since, count in self._rendering.values():
            done = 0.0
            if self._seconds_each:
                done = (self._clock() - since) / self._seconds_each
            left += max(0.0, count - done)
        return round(left)

    def worker_done(self) -> None:
        """Record that a feeder has finished."""
        with self._cond:
            self.running -= 1
            self._cond.notify_all()

    def stop(self) -> None:
        """Stop handing out and taking notebooks (Quarto failed, or Ctrl-C)."""
        with self._cond:
            self.stopped = True
            self._cond.notify_all()


def _run_quarto_each(
    jobs: Sequence[Job], batch: _Batch, size: int, to: Target, timeout: int
) -> None:
    """Run ``size`` Quarto renders at once, each worker from its own copy of the document."""
    daemon = ["--execute-daemon", str(QUARTO_DAEMON_SECONDS)]
    with tempfile.TemporaryDirectory(prefix="sendstats-quarto-") as tmp:

        def worker(n: int) -> None:
            copies: dict[Path, Path] = {}
            while (index := batch.take()) is not None:
                qmd, params, output = jobs[index]
                try:
                    if qmd not in copies:
                        copies[qmd] = private_copy(qmd, Path(tmp) / f"worker-{n}")
                    path = run_quarto(copies[qmd], params, output, to, timeout, daemon)
                except RenderError as exc:  # name the document, not its private copy
                    batch.fail(index, RenderError(qmd, params, exc.detail, cell=exc.cell))
                    return
                except BaseException as exc:
                    batch.fail(index, exc)
                    return
                batch.done(index, path)

        _run_threads(worker, size, batch)
