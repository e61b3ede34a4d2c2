"""Worker processes that execute documents for a batch, each in its own IPython shell.

A batch (:mod:`sendstats.render.batch`) runs one worker process per core. Each worker runs
documents one after another in a :class:`sendstats.render.shell.ShellSession`, so it imports
the report's libraries once and keeps what the report caches per process (the metric tables)
for every later document, as a reused kernel did, without a kernel's messaging.

A worker is a plain child interpreter (``python -c``, the same interpreter and the same
``sendstats`` as this process) that reads jobs from its stdin and writes results to a copy of
its stdout taken at start (anything else written to stdout goes to stderr, so a cell's or a
library's stray output cannot corrupt the exchange). Both are pickles of sendstats' own
objects over a pipe only the two processes hold. ``multiprocessing`` is not used: its
``spawn`` re-imports the caller's main script in every worker, which breaks a script without
an ``if __name__ == "__main__"`` guard, and ``fork`` would copy this process's threads
(converter, progress, polars' pool) in an unknown state.

Ctrl-C reaches the workers too (one process group); they ignore it and finish their document,
and the batch stops handing out new ones. A worker that dies or outlives its document's time
is reported as a failure of that document, and the next document gets a new worker.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from nbformat import NotebookNode

import sendstats
from sendstats.render.qmd import CellError, DocumentSession

__all__ = ["WorkerPool", "serve"]

#: Seconds a worker may run past a document's own timeout (its alarm names the cell first)
#: before it is killed.
_GRACE = 30

#: What a worker sends back: the executed document, or the failing cell and why.
_Result = tuple[NotebookNode | None, tuple[str, str] | None]


def serve() -> None:
    """Run as a worker: execute each job read from stdin, write each result to stdout.

    A job is ``(notebook, params, cwd, timeout)``; the result is ``(executed, None)`` or
    ``(None, (cell, detail))``. Returns when stdin closes.
    """
    from sendstats.render.shell import ShellSession

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    jobs = sys.stdin.buffer
    results = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    session = ShellSession()
    while True:
        try:
            nb, params, cwd, timeout = pickle.load(jobs)
        except EOFError:
            return
        result: _Result
        try:
            result = session.run(nb, params, Path(cwd), timeout), None
        except CellError as exc:
            result = None, (exc.cell, exc.detail)
        pickle.dump(result, results, protocol=pickle.HIGHEST_PROTOCOL)
        results.flush()


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # The worker imports the sendstats this process runs, wherever it was imported from (a
        # checkout on sys.path); an installed one is found without help, and its
        # site-packages folder is not put ahead of the standard library.
        root = str(Path(sendstats.__file__).resolve().parents[1])
        installed = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
        if root not in installed:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        # A batch already runs one worker per core; polars' own thread pool in each only woke
        # threads for a profile's ~1,000 small lookups, which then competed with the other
        # worker (about a tenth of a profile's CPU). A user's own setting is kept.
        env.setdefault("POLARS_MAX_THREADS", "1")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from sendstats.render.workers import serve; serve()"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.jobs: IO[bytes] = self.process.stdin
        self.results: IO[bytes] = self.process.stdout

    def run(self, job: tuple[Any, ...], timeout: int) -> _Result:
        """Send ``job``; return the worker's answer (killing it once ``timeout`` has passed)."""
        timer = threading.Timer(timeout + _GRACE, self.process.kill)
        timer.start()
        try:
            pickle.dump(job, self.jobs, protocol=pickle.HIGHEST_PROTOCOL)
            self.jobs.flush()
            result: _Result = pickle.load(self.results)
            return result
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self.process.kill()
            code = self.process.wait()
            why = f"the document ran past {timeout} s" if timer.finished.is_set() else "it died"
            raise CellError("a worker process", f"{why} (exit code {code})") from exc
        finally:
            timer.cancel()

    def close(self) -> None:
        """Close its stdin (the worker then exits) and wait for it."""
        with contextlib.suppress(OSError):  # the worker may be gone already
            self.jobs.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.results.close()


class WorkerPool(DocumentSession):
    """Up to ``size`` worker processes; :meth:`run` executes a document in a free one.

    Workers start on demand and are reused for every later document. :meth:`run` may be called
    from several threads at once (``size`` threads keep every worker busy). Use as a context
    manager, so the workers are stopped.
    """

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def _take(self) -> _Worker:
        """Return an idle worker, starting one while fewer than ``size`` run."""
        while True:
            with self._lock:
                if self._idle.empty() and len(self._all) < self._size:
                    worker = _Worker()
                    self._all.append(worker)
                    return worker
            try:  # wait for one to come back (or, after a death, room to start one)
                return self._idle.get(timeout=0.5)
            except queue.Empty:
                continue

    def run(
        self, nb: NotebookNode, params: Mapping[str, object], cwd: Path, timeout: int
    ) -> NotebookNode:
        """Execute a parsed document with ``params`` in a worker; return it executed.

        Raises:
            CellError: a cell raised or ran out of time, or the worker process died.

        """
        worker = self._take()
        try:
            executed, failure = worker.run((nb, dict(params), str(cwd), timeout), timeout)
        except CellError:
            with self._lock:  # a dead worker is replaced by a new one on demand
                self._all.remove(worker)
            worker.close()
            raise
        self._idle.put(worker)
        if failure is not None:
            raise CellError(*failure)
        assert executed is not None
        return executed

    def close(self) -> None:
        """Stop every worker (each finishes the document it is running first)."""
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:
            worker.close()
