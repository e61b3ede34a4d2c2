"""Run the steps that must run two at a time, in the order the step table allows.

The step table says what each step reads (:attr:`sendstats.pipeline.table.Step.after`), so
steps that do not read each other's tables can run at once: the eight tidy steps, and the
metric steps whose tidy tables are made. :func:`run_scheduled` decides each step in the calling
(main) thread as soon as every step it reads has finished, in table order; a step that must run
is handed to a pool of ``workers`` threads (polars and the parquet writer release the GIL, so
two steps use both cores), and its result is handed back to the main thread.

The caller's ``decide`` and ``finish`` run only in the main thread, so the build's state,
staging and manifest are never touched from two threads; what the steps return is collected
per step and the caller records it in step order, so outputs and manifest do not depend on
which thread finished first. A build whose steps are all skipped starts no thread at all.

If a step fails, no further step starts, the running ones are waited for, and the error of
the first failed step in table order is raised (the same error a one-at-a-time run raises
when only one step fails).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from sendstats.pipeline.table import Step

#: Threads that run steps: the build machine's two cores.
WORKERS = 2

T = TypeVar("T")


def run_scheduled(
    order: Sequence[Step],
    decide: Callable[[Step], Callable[[], T] | None],
    finish: Callable[[Step, T], None],
    *,
    workers: int = WORKERS,
) -> None:
    """Run ``order`` (each step after the steps it reads): skipped ones at once, others in threads.

    Args:
        order: the steps, each after every step it reads (``table.ordered``).
        decide: called in the main thread once every step a step reads has finished; returns
            None when the step is skipped (the caller has recorded it), or the work to run in a
            thread.
        finish: called in the main thread with a step's result when its work has returned.
        workers: threads running steps at once.

    Raises:
        BaseException: the error of the first failed step in ``order``.

    """
    names = {step.name for step in order}
    finished: set[str] = set()
    pending = list(order)
    running: dict[Future[T], Step] = {}
    failed: dict[str, BaseException] = {}
    pool: ThreadPoolExecutor | None = None
    rank = {step.name: i for i, step in enumerate(order)}
    try:
        while pending or running:
            # Decide, in table order, every step whose reads are all finished, while a thread
            # is free for it (a skipped step needs no thread and finishes at once).
            progressed = True
            while progressed and not failed:
                progressed = False
                for step in list(pending):
                    if len(running) >= workers:
                        break
                    if any(a in names and a not in finished for a in step.after):
                        continue
                    pending.remove(step)
                    progressed = True
                    work = decide(step)
                    if work is None:
                        finished.add(step.name)
                        break  # a finished step may make an earlier one in table order ready
                    if pool is None:
                        from concurrent.futures import ThreadPoolExecutor

                        pool = ThreadPoolExecutor(workers, thread_name_prefix="step")
                    running[pool.submit(work)] = step
            if not running:
                if failed or not pending:
                    break
                raise RuntimeError(f"steps cannot start: {[s.name for s in pending]}")
            from concurrent.futures import FIRST_COMPLETED, wait

            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: rank[running[f].name]):
                step = running.pop(future)
                error = future.exception()
                if error is not None:
                    failed[step.name] = error
                    continue
                if not failed:
                    finish(step, future.result())
                finished.add(step.name)
            if failed:
                pending.clear()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if failed:
        raise failed[min(failed, key=rank.__getitem__)]
