"""How the Quarto batch hands executed notebooks to its renderers (``batch._Groups``).

Each ``quarto render`` costs about 1 s of CPU to start and renders its group on one core, so
the schedule decides both how many starts a batch pays and whether a core idles.
"""

from __future__ import annotations

import threading
from pathlib import Path

from nbformat import NotebookNode

from sendstats.render.batch import _Groups
from sendstats.render.quarto_notebooks import GroupItem


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def items(first: int, count: int) -> list[GroupItem]:
    return [
        GroupItem(i, Path("la.qmd"), {"la": str(i)}, Path(f"{i}.html"), NotebookNode())
        for i in range(first, first + count)
    ]


def filled(queue: _Groups, count: int, first: int = 0) -> None:
    for item in items(first, count):
        assert queue.put(item)


def test_a_second_renderer_takes_a_full_group_while_workers_still_run() -> None:
    # Workers blocked for room while one Quarto ran left a core idle at every group.
    queue = _Groups(4, running=2, renderers=2, clock=Clock())
    filled(queue, 8)
    assert [i.index for i in queue.take(0)] == [0, 1, 2, 3]
    assert [i.index for i in queue.take(1)] == [4, 5, 6, 7]


def test_a_renderer_waits_for_a_full_group_while_workers_run() -> None:
    queue = _Groups(4, running=1, renderers=2, clock=Clock())
    filled(queue, 3)
    got: list[list[GroupItem]] = []
    taker = threading.Thread(target=lambda: got.append(queue.take(0)))
    taker.start()
    taker.join(0.2)
    assert taker.is_alive() and not got  # three notebooks are not a group yet
    queue.worker_done()  # the last worker is done: the three are the tail, shared
    taker.join(5)
    assert [i.index for i in got[0]] == [0, 1]
    assert [i.index for i in queue.take(1)] == [2]


def test_tail_is_shared_with_a_renderer_still_busy_before_any_timing() -> None:
    # Renderer 0 renders 4; 8 are left when the workers finish: renderer 1 takes its share of
    # all 12 (6), renderer 0 the last 2 when it is done: two starts, both finish together.
    clock = Clock()
    queue = _Groups(4, running=1, renderers=2, clock=clock)
    filled(queue, 4)
    assert len(queue.take(0)) == 4
    filled(queue, 8, first=4)
    queue.worker_done()
    assert [i.index for i in queue.take(1)] == [4, 5, 6, 7, 8, 9]
    clock.now = 4.0
    assert [i.index for i in queue.take(0)] == [10, 11]
    assert queue.take(0) == [] and queue.take(1) == []


def test_tail_counts_only_what_the_busy_renderer_has_left() -> None:
    # Groups took 1 s a notebook; renderer 0 started 4 notebooks 3 s ago, so about 1 is left:
    # renderer 1 takes (8 + 1) / 2 rounded up = 5 of the 8 queued.
    clock = Clock()
    queue = _Groups(4, running=1, renderers=2, clock=clock)
    filled(queue, 4)
    queue.take(0)
    clock.now = 4.0
    filled(queue, 4, first=4)
    queue.take(0)  # the first group took 4 s: 1 s a notebook
    clock.now = 7.0
    filled(queue, 8, first=8)
    queue.worker_done()
    assert len(queue.take(1)) == 5
    assert len(queue.take(0)) == 3


def test_a_lone_renderer_takes_the_whole_tail_in_one_start() -> None:
    queue = _Groups(4, running=1, renderers=1, clock=Clock())
    filled(queue, 7)
    queue.worker_done()
    assert len(queue.take(0)) == 7  # not a group of 4 and a second start for 3
    assert queue.take(0) == []


def test_stop_ends_takes_and_puts() -> None:
    queue = _Groups(4, running=1, renderers=2, clock=Clock())
    filled(queue, 2)
    queue.stop()
    assert queue.take(0) == [] and not queue.put(items(9, 1)[0])
