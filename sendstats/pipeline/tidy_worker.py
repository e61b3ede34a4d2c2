"""A second process that computes tidy tables while the build computes others (2 cores).

The build hands this worker the tidy steps it will reach last; the worker only reads the raw
files it is given and returns the frames. Everything that writes (the tables, the manifest, the
build state) stays in the build's own process, under its data-directory lock, so the worker
changes nothing about atomic writes or provenance. A failure in the worker is not trusted to
cross the process boundary (an exception whose constructor takes several arguments does not
survive pickling): the build runs the failed step again itself, which raises the real error
with its file, column and row.

The worker is a fresh interpreter (``python -m sendstats.pipeline.tidy_worker``) fed pickled
messages on
its stdin and answering on its stdout: forking a process whose polars thread pool runs can
deadlock, and multiprocessing's ``spawn`` would re-import the caller's main script. It imports
polars and pandera at once; its first message names the modules to load and warm
(:mod:`sendstats.pipeline.warmup`), the others are jobs. So it can be started before the build knows
its jobs, even before the build's own imports (:func:`start_early`), and its start-up runs on
the second core while the build works on the first.
"""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from functools import partial
from types import TracebackType
from typing import IO, Any

#: A follow-up of a job: (step name, module, function, keyword arguments), the function called
#: with the job's frame and those arguments.
FollowUp = tuple[str, str, str, dict[str, Any]]
#: (step name, module, function, argument, follow-ups)
Job = tuple[str, str, str, Any, tuple[FollowUp, ...]]


def run_tidy(module: str, function: str, argument: Any) -> Any:
    """Import a source module and call its tidy function (in whichever process runs this)."""
    return getattr(importlib.import_module(module), function)(argument)


def useful(jobs: int) -> bool:
    """Return True when a second process would pay: two or more steps to run, two cores.

    ``SENDSTATS_WORKERS=1`` keeps the build in one process.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return jobs >= 2 and (cores or 1) >= 2 and os.environ.get("SENDSTATS_WORKERS") != "1"


class TidyWorker:
    """Run some tidy steps in one worker process; hand back each result when asked for it.

    The worker may be started before the jobs are known (``preload`` names the modules it
    imports meanwhile); :meth:`submit` sends the jobs once. A job may carry follow-ups: steps
    computed from its frame while it is still in the worker's memory (the metric tables of
    one tidy table). Each result is answered as soon as it is made. Use as a context manager:
    leaving it stops the worker (at once after a failure, or if no job was ever sent).
    """

    def __init__(self, preload: Sequence[str] = ()) -> None:
        self._jobs: set[str] = set()
        self._results: dict[str, tuple[str, Any]] = {}
        self._arrived = threading.Condition()
        self._proc: subprocess.Popen[bytes] | None = _take_early()
        self._preload = list(preload)
        self._warming = False

    def start(self) -> None:
        """Start the worker (unless started early) and send it the modules to load meanwhile."""
        if self._proc is None:
            self._proc = _spawn()
        if not self._warming:
            assert self._proc.stdin is not None
            pickle.dump(self._preload, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
            self._warming = True

    def submit(self, jobs: Sequence[Job]) -> None:
        """Send the jobs (once), starting the worker if it is not running yet."""
        if not jobs:
            return
        self.start()
        assert self._proc is not None and self._proc.stdin is not None
        assert self._proc.stdout is not None
        for job in jobs:
            self._jobs.add(job[0])
            self._jobs.update(follow[0] for follow in job[4])
            pickle.dump(job, self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self._proc.stdin.close()  # no more jobs: the worker exits after the last one
        reader = threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True)
        reader.start()

    def _read(self, stream: IO[bytes]) -> None:
        """Take in the worker's answers as they come, so it never waits on a full pipe."""
        while True:
            try:
                name, status, value = pickle.load(stream)
            except Exception:  # EOF, or the worker died mid-answer
                with self._arrived:
                    for name in self._jobs:
                        self._results.setdefault(name, ("error", "the worker stopped"))
                    self._arrived.notify_all()
                return
            with self._arrived:
                self._results[name] = (status, value)
                self._arrived.notify_all()

    def __enter__(self) -> TidyWorker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            if self._proc.poll() is None and (exc is not None or not self._jobs):
                self._proc.kill()
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                self._proc.stdin.close()
            self._proc.wait()

    @property
    def started(self) -> bool:
        """Whether the worker process was started (a build with several steps to run)."""
        return self._proc is not None

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def maker(self, name: str, here: Callable[[], Any]) -> Callable[[], Any]:
        """Return a function that waits for step ``name``'s result from the worker.

        If the worker failed, ``here`` computes the step in this process instead: it raises
        the step's own error (with its file, column and row), or succeeds.
        """

        def result() -> Any:
            with self._arrived:
                self._arrived.wait_for(lambda: name in self._results)
                status, value = self._results.pop(name)
            return value if status == "ok" else here()

        return result


def _spawn() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sendstats.pipeline.tidy_worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )


#: A worker process started before the build knew its jobs (see :func:`start_early`).
_EARLY: list[subprocess.Popen[bytes]] = []


def start_early() -> None:
    """Start a worker process now, for the next :class:`TidyWorker` of this process to use.

    The command line calls this first thing for a build that will likely compute tables (no
    build state yet, or ``--force``), so the worker's interpreter, polars and pandera load
    while this process is still importing its own. Unused, it is stopped when the build's
    :class:`TidyWorker` is left without jobs, or when this process exits.
    """
    if not _EARLY and useful(2):
        _EARLY.append(_spawn())


def _take_early() -> subprocess.Popen[bytes] | None:
    return _EARLY.pop() if _EARLY else None


def _answer(answers: IO[bytes], name: str, make: Callable[[], Any]) -> Any:
    """Write ``(name, status, value)`` for one step; return its value (None if it failed)."""
    try:
        value = make()
        answer = pickle.dumps((name, "ok", value), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # reported as text: the build reruns the step to raise it
        value = None
        answer = pickle.dumps((name, "error", f"{type(exc).__name__}: {exc}"))
    answers.write(answer)
    answers.flush()
    return value


def _serve(jobs: IO[bytes], answers: IO[bytes]) -> None:
    """Run each pickled job from ``jobs``, then its follow-ups, answering each on ``answers``."""
    while True:
        try:
            name, module, function, argument, follow_ups = pickle.load(jobs)
        except EOFError:
            return
        value = _answer(answers, name, partial(run_tidy, module, function, argument))
        frame = value[0] if isinstance(value, tuple) else value
        for step, follow_module, follow_function, kwargs in follow_ups:
            if frame is None:  # the job failed: the build computes its follow-ups itself
                _answer(answers, step, partial(_raise, f"{name} failed"))
            else:
                function = getattr(importlib.import_module(follow_module), follow_function)
                _answer(answers, step, partial(function, frame, **kwargs))


def _raise(message: str) -> Any:
    """Fail a follow-up whose job failed (the build then computes it, and raises the error)."""
    raise RuntimeError(message)


if __name__ == "__main__":
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a source module prints must not enter the answers
    from sendstats.pipeline import lean

    lean.install()  # pandera without its pandas API (see sendstats.pipeline.lean)
    import pandera.polars  # noqa: F401  (before the module list comes: the worker may start early)
    import polars  # noqa: F401

    from sendstats.pipeline import warmup

    try:
        modules = pickle.load(stdin)  # the first message: the modules to load
    except EOFError:  # started early, then not needed
        raise SystemExit(0) from None
    warmup.warm(modules)  # while the build fetches and plans
    _serve(stdin, stdout)
