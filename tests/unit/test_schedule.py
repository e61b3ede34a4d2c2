"""The step scheduler: order kept, reads respected, two at a time, no thread for a no-op."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from sendstats.pipeline import schedule
from sendstats.pipeline.table import STEPS, Step, ordered


def _step(name: str, *after: str) -> Step:
    if after:
        return Step(name=name, function="m:f", writes=f"metrics/{name}.parquet", after=after)
    return Step(name=name, function="m:f", writes=f"tidy/{name}.parquet", sources=("src",))


class Recorder:
    """decide/finish callbacks that log what ran, where and how many at once."""

    def __init__(
        self,
        skip: frozenset[str] = frozenset(),
        fail: frozenset[str] = frozenset(),
        pair: bool = True,
    ) -> None:
        self.skip, self.fail, self.pair = skip, fail, pair
        self.paired = threading.Event()
        self.lock = threading.Lock()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.decided_in: set[str] = set()
        self.finished_in: set[str] = set()
        self.ran_in: set[str] = set()
        self.busy = 0
        self.most = 0

    def decide(self, step: Step) -> Callable[[], str] | None:
        self.decided_in.add(threading.current_thread().name)
        for name in step.after:
            assert name in self.finished or name in self.skip, f"{step.name} before {name}"
        if step.name in self.skip:
            return None

        def work() -> str:
            with self.lock:
                self.busy += 1
                self.most = max(self.most, self.busy)
                if self.busy == 2:
                    self.paired.set()
                self.started.append(step.name)
                self.ran_in.add(threading.current_thread().name)
            try:
                if self.pair:  # hold the step until a second one runs beside it (or give up)
                    self.paired.wait(5)
                if step.name in self.fail:
                    raise ValueError(f"{step.name} failed")
                return step.name.upper()
            finally:
                with self.lock:
                    self.busy -= 1

        return work

    def finish(self, step: Step, result: str) -> None:
        self.finished_in.add(threading.current_thread().name)
        assert result == step.name.upper()
        self.finished.append(step.name)


def test_every_real_step_runs_after_its_reads_two_at_a_time() -> None:
    rec = Recorder()
    schedule.run_scheduled(ordered(STEPS), rec.decide, rec.finish)
    assert sorted(rec.finished) == sorted(s.name for s in STEPS)
    assert rec.most == 2  # the tidy steps overlap
    main = threading.main_thread().name
    assert rec.decided_in == {main} and rec.finished_in == {main}
    assert main not in rec.ran_in


def test_one_worker_runs_in_table_order() -> None:
    rec = Recorder(pair=False)
    order = ordered(STEPS)
    schedule.run_scheduled(order, rec.decide, rec.finish, workers=1)
    assert rec.finished == [s.name for s in order]
    assert rec.most == 1


def test_all_skipped_starts_no_thread() -> None:
    before = threading.active_count()
    rec = Recorder(skip=frozenset(s.name for s in STEPS))
    schedule.run_scheduled(ordered(STEPS), rec.decide, rec.finish)
    assert rec.started == [] and rec.finished == []
    assert threading.active_count() == before


def test_a_failure_raises_the_first_failed_step_in_order_and_starts_no_reader() -> None:
    steps = [_step("a"), _step("b"), _step("c", "a"), _step("d", "b")]
    rec = Recorder(fail=frozenset({"a", "b"}))
    with pytest.raises(ValueError, match=r"^a failed$"):
        schedule.run_scheduled(steps, rec.decide, rec.finish)
    assert "c" not in rec.started and "d" not in rec.started
    assert rec.finished == []


def test_a_skipped_step_lets_its_readers_start() -> None:
    steps = [_step("a"), _step("b", "a"), _step("c", "b")]
    rec = Recorder(skip=frozenset({"a"}), pair=False)
    schedule.run_scheduled(steps, rec.decide, rec.finish)
    assert rec.finished == ["b", "c"]
