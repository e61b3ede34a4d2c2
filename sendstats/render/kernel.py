"""Execute a parsed document in a Jupyter kernel (nbclient and ipykernel).

The fallback runs documents in its own IPython shell (:mod:`sendstats.render.shell`); a kernel
is what it uses instead inside a user's own IPython, whose shell it must not reset. Imported
only then: jupyter-client and nbclient cost every other render a tenth of a second to import.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path

from jupyter_client.client import KernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbformat import NotebookNode

from sendstats.render.qmd import (
    CellError,
    DocumentSession,
    cell_label,
    nb_v4,
    prepare_notebook,
    resolve_inline,
)

__all__ = ["KernelSession"]


class _CurrentPythonSpecs(KernelSpecManager):  # type: ignore[misc]
    """Kernel specs that always start ipykernel under the running interpreter.

    A ``python3`` kernelspec found on disk may say ``python`` (whatever is first on PATH), which
    would run the report without sendstats installed.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        """Return a spec running ``sys.executable -m ipykernel_launcher``."""
        # log_level=ERROR: ipykernel 7 warns on every start that TCP is unencrypted (the
        # kernel listens on localhost only); cell warnings still reach the cell's stderr.
        argv = [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.log_level=ERROR",
        ]
        return KernelSpec(argv=argv, display_name="Python 3", language="python")


class KernelSession(DocumentSession):
    """One Python kernel, started on first use and reused for every document run in it.

    Use as a context manager so the kernel is shut down. After a failed document the kernel is
    shut down too, so the next document gets a fresh one. The client's channels are kept open
    between documents too: a new client waits for the kernel to answer (about 0.2 s of
    idling per document). A session belongs to one thread.
    """

    def __init__(self) -> None:
        self._km: AsyncKernelManager | None = None
        self._kc: KernelClient | None = None

    def run(
        self, nb: NotebookNode, params: Mapping[str, object], cwd: Path, timeout: int
    ) -> NotebookNode:
        """Execute a parsed document with ``params``; return it with inline values filled in.

        ``timeout`` seconds bound all the cells together (not each cell, nor kernel start).

        Raises:
            CellError: a cell raised (detail: the last line of its traceback), the time ran
                out, or the kernel died.

        """
        if self._km is None:
            self._km = AsyncKernelManager(
                kernel_name="python3", kernel_spec_manager=_CurrentPythonSpecs()
            )
        # The clock starts at the first cell, so a slow kernel start is not charged to it.
        deadline: list[float] = []

        def seconds_left(_cell: NotebookNode) -> int:
            if not deadline:
                deadline.append(time.monotonic() + timeout)
            return max(1, int(deadline[0] - time.monotonic()))

        nb = prepare_notebook(nb, params, cwd)
        current: list[NotebookNode] = []
        client = NotebookClient(
            nb,
            km=self._km,
            kernel_name="python3",
            allow_errors=False,
            record_timing=False,
            timeout_func=seconds_left,
            on_cell_start=lambda cell, cell_index: current.append(cell),
            resources={"metadata": {"path": str(cwd)}},
        )
        client.kc = self._kc
        try:
            client.execute(cwd=str(cwd))
            self._kc = client.kc
        except BaseException as exc:
            self._kc = client.kc
            self.close()
            failed = cell_label(current[-1]) if current else "kernel start"
            if isinstance(exc, CellExecutionError):
                raise CellError(failed, f"{exc.ename}: {exc.evalue}") from exc
            if isinstance(exc, CellTimeoutError):
                raise CellError(failed, f"the document ran past {timeout} s") from exc
            if isinstance(exc, DeadKernelError | RuntimeError):
                raise CellError(failed, f"the kernel failed: {exc}") from exc
            raise
        return resolve_inline(nb)

    def start(self, cwd: Path, timeout: int = 120) -> None:
        """Start the kernel now, so it boots while the caller does other work.

        It runs an empty document (sendstats' setup cell only), the same path every document
        takes, so the kernel and its client are then ready for :meth:`run`.
        """
        self.run(nb_v4("new_notebook"), {}, cwd, timeout)

    def close(self) -> None:
        """Close the client's channels and shut the kernel down (if one was started)."""
        kc, self._kc = self._kc, None
        if kc is not None:
            kc.stop_channels()
        km, self._km = self._km, None
        if km is not None and km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
