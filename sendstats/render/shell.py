"""Execute a parsed document in this process's IPython shell, without a Jupyter kernel.

A Jupyter kernel is a second Python process that the renderer talks to over ZeroMQ: it costs
about 0.6 s to start and, per document, turns every output into signed JSON messages that
nbclient decodes again (about 0.15 s of CPU for a profile's 60-odd outputs). The fallback
renderer does not need that separation for its own documents, so it runs their cells in an
:class:`IPython.core.interactiveshell.InteractiveShell` in the rendering process itself (the
CLI for one report, a worker process per core for a batch: :mod:`sendstats.render.workers`).
The cells see what they would in a kernel: the same display formatters (``display``, rich
reprs, the last expression's value), ``get_ipython()``, the document's folder as working
directory, and a namespace emptied before each document. Outputs are recorded in order as
nbformat outputs (stream, display_data, execute_result), so the rest of the fallback cannot
tell the difference; a test compares both executors' outputs.

Inside a running IPython (a user calling the renderer from Jupyter) the shell is theirs, and
resetting it would wipe their namespace, so :func:`new_session` returns a kernel session then.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import threading
import types
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from nbformat import NotebookNode, from_dict
from traitlets import Type
from traitlets.config import Config

from sendstats.render.qmd import (
    CellError,
    DocumentSession,
    cell_label,
    prepare_notebook,
    resolve_inline,
)

__all__ = ["ShellSession", "new_session"]

#: Name the shell's user module is registered under in ``sys.modules``: IPython would put it
#: at ``__main__``, replacing the host program's own main module.
_USER_MODULE = "__sendstats_document__"


def new_session() -> DocumentSession:
    """Return a :class:`ShellSession`, or a kernel session inside a running IPython."""
    if InteractiveShell.initialized() and not isinstance(
        InteractiveShell.instance(), _DocumentShell
    ):
        from sendstats.render.kernel import KernelSession

        return KernelSession()
    return ShellSession()


class _Sink:
    """The outputs of the cell running now, in order (one per process: cells run one at a time)."""

    outputs: list[NotebookNode] | None = None
    count = 0

    @classmethod
    def add(cls, output: NotebookNode) -> None:
        if cls.outputs is not None:
            cls.outputs.append(output)

    @classmethod
    def stream(cls, name: str, text: str) -> None:
        """Append ``text`` to the last output when it is the same stream (as a kernel batches)."""
        if cls.outputs is None or not text:
            return
        last = cls.outputs[-1] if cls.outputs else None
        if last is not None and last.output_type == "stream" and last.name == name:
            last.text += text
        else:
            cls.outputs.append(_node({"output_type": "stream", "name": name, "text": text}))


def _output(
    kind: str, data: dict[str, Any], metadata: dict[str, Any] | None, count: int | None = None
) -> NotebookNode:
    """Build a display or result output as a kernel's client would.

    No schema check per output (nbformat's factories run one): the shapes are fixed here, and
    checking each of a profile's outputs cost 0.05 s.
    """
    output: dict[str, Any] = {"output_type": kind, "data": data, "metadata": metadata or {}}
    if kind == "execute_result":
        output["execution_count"] = count
    return _node(output)


def _node(fields: dict[str, Any]) -> NotebookNode:
    """Wrap ``fields`` as a notebook node (nbformat's ``from_dict`` is untyped)."""
    node: NotebookNode = from_dict(fields)  # type: ignore[no-untyped-call]
    return node


class _Publisher(DisplayPublisher):  # type: ignore[misc]
    """``display(...)`` outputs become ``display_data`` outputs of the running cell."""

    def publish(  # type: ignore[override]
        self,
        data: dict[str, Any],
        metadata: dict[str, Any] | None = None,
        source: object = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        """Record one display (``update`` and ``transient`` have no meaning in a document)."""
        _Sink.add(_output("display_data", data, metadata))

    def clear_output(self, wait: bool = False) -> None:
        """Drop the running cell's outputs so far, as a notebook front end does."""
        if _Sink.outputs is not None:
            _Sink.outputs.clear()


class _ResultHook(DisplayHook):  # type: ignore[misc]
    """A cell's last expression becomes an ``execute_result``, with no ``Out[n]`` printed."""

    def write_output_prompt(self) -> None:
        """Print no prompt."""

    def write_format_data(
        self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None
    ) -> None:
        """Record the formatted value."""
        _Sink.add(_output("execute_result", format_dict, md_dict, _Sink.count))

    def finish_displayhook(self) -> None:
        """Print nothing after the value."""


class _DocumentShell(InteractiveShell):  # type: ignore[misc]
    """The shell documents run in: outputs recorded, not printed.

    Its own class, also so that :func:`new_session` can tell it from a user's IPython.
    """

    display_pub_class = Type(_Publisher)
    displayhook_class = Type(_ResultHook)


class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` while a cell runs: text becomes a stream output.

    It has no file descriptor (``fileno`` raises, as for any in-memory stream).
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    encoding = "utf-8"  # text is kept as text; UTF-8 is what a kernel reports

    def writable(self) -> bool:
        """Cells write to it."""
        return True

    def write(self, text: str) -> int:
        """Append ``text`` to the running cell's outputs."""
        _Sink.stream(self._name, text)
        return len(text)


class _CellTimeoutError(Exception):
    """Raised into a cell when the document's time is up (SIGALRM, main thread only)."""


def _shell() -> InteractiveShell:
    """Return this process's document shell, creating it on first use."""
    if _DocumentShell.initialized():
        return _DocumentShell.instance()
    config = Config()
    config.HistoryManager.enabled = False  # no SQLite history file for rendered documents
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Plain"
    return _DocumentShell.instance(
        config=config, user_module=types.ModuleType(_USER_MODULE, "A rendered document.")
    )


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Raise :class:`_CellTimeoutError` in the running cell after ``seconds`` (main thread only).

    Elsewhere (a thread) no alarm can be set and the document runs to its end; batches run
    documents in their worker processes' main threads.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: FrameType | None) -> None:
        raise _CellTimeoutError

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, max(1, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ShellSession(DocumentSession):
    """Run documents in this process's IPython shell (see the module docstring).

    The namespace is emptied before each document (sendstats' setup cell, as for a kernel);
    imported modules stay loaded, so a second document in the same process skips the imports.
    The working directory is put back after each document.
    """

    def start(self, cwd: Path, timeout: int = 120) -> None:
        """Create the shell (a few milliseconds; nothing to start ahead)."""
        _shell()

    def run(
        self, nb: NotebookNode, params: Mapping[str, object], cwd: Path, timeout: int
    ) -> NotebookNode:
        """Execute a parsed document with ``params``; return it with inline values filled in.

        ``timeout`` seconds bound all the cells together when running in the main thread.

        Raises:
            CellError: a cell raised (detail: its exception's type and message) or the time
                ran out.
            KeyboardInterrupt: Ctrl-C while a cell ran.

        """
        shell = _shell()
        nb = prepare_notebook(nb, params, cwd)
        here = os.getcwd()
        streams = sys.stdout, sys.stderr
        cell = nb.cells[0]
        try:
            sys.stdout, sys.stderr = _Stream("stdout"), _Stream("stderr")  # type: ignore[assignment]
            with _deadline(timeout):
                for cell in nb.cells:
                    if cell.cell_type == "code":
                        self._run_cell(shell, cell, timeout)
        except _CellTimeoutError:  # the alarm rang between two cells
            raise CellError(cell_label(cell), f"the document ran past {timeout} s") from None
        finally:
            sys.stdout, sys.stderr = streams
            _Sink.outputs = None
            os.chdir(here)
        return resolve_inline(nb)

    @staticmethod
    def _run_cell(shell: InteractiveShell, cell: NotebookNode, timeout: int) -> None:
        _Sink.count += 1
        cell.outputs = []
        cell.execution_count = _Sink.count
        _Sink.outputs = cell.outputs
        result = shell.run_cell(  # type: ignore[no-untyped-call]
            cell.source, store_history=False, silent=False
        )
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            return
        if isinstance(error, KeyboardInterrupt):
            raise KeyboardInterrupt
        if isinstance(error, _CellTimeoutError):
            raise CellError(cell_label(cell), f"the document ran past {timeout} s")
        raise CellError(cell_label(cell), f"{type(error).__name__}: {error}")
