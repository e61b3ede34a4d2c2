"""Render a parameterised Quarto report to one self-contained HTML (or PDF) file.

With ``quarto`` on PATH the document is rendered by Quarto itself (``quarto render <qmd>
-P key:value ... --to html|typst --output <name>``). Without it, sendstats renders the same
``.qmd`` on its own: :mod:`sendstats.render_qmd` reads and executes it as a notebook (nbclient,
one ipykernel under the running interpreter), then this module writes the outputs as HTML
through pandoc (the binary shipped by ``pypandoc_binary``; nbconvert's mistune filter when
pandoc is missing) or as PDF through pandoc's typst writer and the ``typst`` compiler library.

Either way the file appears at ``output`` only when the whole render worked: it is written to a
temporary file beside it and renamed, so a failed render leaves an existing report untouched.
The module holds no report content; it renders any ``.qmd``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Literal

import yaml
from tqdm import tqdm

from sendstats import render_write
from sendstats.render_qmd import CellFailure, KernelSession, QmdError, parse_qmd

__all__ = ["RenderError", "quarto_available", "render_many", "render_report"]

Engine = Literal["auto", "quarto", "fallback"]
Target = Literal["html", "pdf"]
ParamValue = str | int | float

# Second guard after the caller's own validation: values reach Quarto as argv items (never a
# shell) and the kernel as repr(), but anything outside this set is not a plausible parameter.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 _.,'&()-]*")
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_STDERR_LINES = 20


class RenderError(RuntimeError):
    """A report failed to render; the message names the document, the parameters and why."""

    def __init__(
        self,
        document: Path,
        params: Mapping[str, object],
        detail: str,
        *,
        cell: str | None = None,
    ) -> None:
        self.document = document
        self.params = dict(params)
        self.cell = cell
        self.detail = detail
        where = f" at {cell}" if cell else ""
        super().__init__(
            f"rendering {document} with params {_describe_params(params)} failed{where}: {detail}"
        )


def _describe_params(params: Mapping[str, object]) -> str:
    """Return ``{key=value, ...}`` for messages."""
    return "{" + ", ".join(f"{key}={value!r}" for key, value in params.items()) + "}"


def quarto_available() -> bool:
    """Return True when a ``quarto`` executable is on PATH."""
    return shutil.which("quarto") is not None


def check_params(qmd: Path, params: Mapping[str, object]) -> dict[str, ParamValue]:
    """Return ``params`` as a dict after refusing unsafe names and values.

    Raises:
        RenderError: a name that is not a Python identifier, a value that is not str, int or
            float, or a string holding a character outside ``[A-Za-z0-9 _.,'&()-]``.
    """
    checked: dict[str, ParamValue] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not _SAFE_KEY.fullmatch(key):
            raise RenderError(qmd, params, f"parameter name {key!r} is not a Python identifier")
        if isinstance(value, str) and not _SAFE_VALUE.fullmatch(value):
            bad = sorted({ch for ch in value if not _SAFE_VALUE.fullmatch(ch)})
            raise RenderError(
                qmd, params, f"parameter {key}={value!r} holds refused characters {bad!r}"
            )
        if not isinstance(value, str | int | float):
            raise RenderError(qmd, params, f"parameter {key} must be str, int or float")
        checked[key] = value
    return checked


def render_report(
    qmd: Path,
    params: Mapping[str, ParamValue],
    output: Path,
    *,
    engine: Engine = "auto",
    to: Target = "html",
    timeout: int = 600,
) -> Path:
    """Render ``qmd`` with ``params`` to ``output`` (one self-contained HTML file, or a PDF).

    Args:
        qmd: the Quarto document.
        params: values for the document's ``parameters`` cell (already validated by the caller).
        output: where the report goes; its folder is created; replaced only on success.
        engine: ``quarto`` (must be on PATH), ``fallback`` (nbclient + pandoc), or ``auto``
            (Quarto when available).
        to: ``html`` or ``pdf`` (Quarto: ``--to typst``; fallback: pandoc + typst).
        timeout: seconds allowed for the whole render.

    Returns:
        ``output``.

    Raises:
        RenderError: naming the document, the parameters and the cause (a failing cell with the
            last line of its traceback, or Quarto's last lines of stderr).
    """
    qmd = Path(qmd).resolve()
    output = Path(output).resolve()
    checked = check_params(qmd, params)
    if not qmd.is_file():
        raise RenderError(qmd, checked, "document not found")
    if _choose_engine(qmd, checked, engine) == "quarto":
        return _render_with_quarto(qmd, checked, output, to, timeout)
    with KernelSession() as session:
        return _render_with_fallback(session, qmd, checked, output, to, timeout)


def _choose_engine(qmd: Path, params: Mapping[str, object], engine: Engine) -> str:
    """Resolve ``auto``; refuse ``quarto`` when it is not installed."""
    if engine == "quarto" and not quarto_available():
        raise RenderError(qmd, params, "engine='quarto' but no quarto executable is on PATH")
    if engine not in ("auto", "quarto", "fallback"):
        raise RenderError(qmd, params, f"unknown engine {engine!r}")
    if engine == "auto":
        return "quarto" if quarto_available() else "fallback"
    return engine


# --- Quarto -----------------------------------------------------------------------------------


def quarto_argv(qmd: Path, params: Mapping[str, ParamValue], output_name: str, to: Target) -> list[str]:
    """Return the ``quarto render`` command line (argv items, never a shell string).

    Quarto reads each ``-P`` value as YAML, so a string such as ``201`` (a DfE LA number) would
    arrive as the int 201; strings are therefore passed YAML-single-quoted, which keeps the
    type the caller gave, as the fallback does.
    """
    argv = ["quarto", "render", str(qmd)]
    for key, value in params.items():
        argv += ["-P", f"{key}:{_yaml_scalar(value)}"]
    return [*argv, "--to", "typst" if to == "pdf" else "html", "--output", output_name]


def _yaml_scalar(value: ParamValue) -> str:
    """Return ``value`` as a YAML scalar of the same type."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def _render_with_quarto(
    qmd: Path, params: Mapping[str, ParamValue], output: Path, to: Target, timeout: int
) -> Path:
    """Run Quarto beside the document, then move its output to ``output`` atomically."""
    suffix = ".pdf" if to == "pdf" else ".html"
    # A name of our own, so a concurrent or earlier render's file is never taken for this one.
    name = f"{qmd.stem}.sendstats-{os.getpid()}-{threading.get_ident()}{suffix}"
    argv = quarto_argv(qmd, params, name, to)
    argv[0] = shutil.which("quarto") or "quarto"
    env = {**os.environ, "QUARTO_PYTHON": os.environ.get("QUARTO_PYTHON", sys.executable)}
    try:
        done = subprocess.run(
            argv, cwd=qmd.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(qmd, params, f"quarto did not finish within {timeout} s") from exc
    produced = _find_quarto_output(qmd, name, done.stderr + done.stdout)
    if done.returncode != 0 or produced is None:
        tail = "\n".join(done.stderr.strip().splitlines()[-_STDERR_LINES:])
        status = f"quarto exited with {done.returncode}" if done.returncode else (
            f"quarto reported success but {name} was not found"
        )
        if produced is not None:
            produced.unlink(missing_ok=True)
        raise RenderError(qmd, params, f"{status}; stderr:\n{tail}")
    try:
        _move_atomic(produced, output)
    finally:
        shutil.rmtree(produced.with_name(produced.stem + "_files"), ignore_errors=True)
    return output


def _find_quarto_output(qmd: Path, name: str, log: str) -> Path | None:
    """Return where Quarto wrote ``name``: beside the document, in the project's output-dir,
    or wherever its ``Output created:`` line says."""
    candidates = [qmd.parent / name]
    project = next((d for d in [qmd.parent, *qmd.parents] if (d / "_quarto.yml").is_file()), None)
    if project is not None:
        out_dir = render_output.read_project_output_dir(project / "_quarto.yml")
        if out_dir:
            candidates.append(project / out_dir / qmd.parent.relative_to(project) / name)
    for match in re.finditer(r"Output created:\s*(.+)", log):
        reported = Path(match[1].strip())
        candidates += [reported, qmd.parent / reported]
    return next((c for c in candidates if c.name == name and c.is_file()), None)


def _move_atomic(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` so that ``target`` is never seen half written."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError:
        # Different filesystems: copy beside the target first, then rename there.
        render_output.write_atomic(target, source.read_bytes())
        source.unlink()


# --- fallback ---------------------------------------------------------------------------------


def _render_with_fallback(
    session: KernelSession,
    qmd: Path,
    params: Mapping[str, ParamValue],
    output: Path,
    to: Target,
    timeout: int,
) -> Path:
    """Execute the document in ``session``'s kernel and write HTML or PDF to ``output``."""
    try:
        nb = parse_qmd(qmd)
        nb = session.run(nb, params, qmd.parent, timeout)
    except QmdError as exc:
        raise RenderError(qmd, params, str(exc)) from exc
    except CellFailure as exc:
        raise RenderError(qmd, params, exc.detail, cell=exc.cell) from exc
    try:
        if to == "pdf":
            content = render_output.notebook_to_pdf(nb, qmd.parent)
        else:
            content = render_output.notebook_to_html(nb, qmd.parent).encode("utf-8")
    except render_output.ConversionError as exc:
        raise RenderError(qmd, params, str(exc)) from exc
    render_output.write_atomic(output, content)
    return output


# --- many -------------------------------------------------------------------------------------


def render_many(
    jobs: Sequence[tuple[Path, Mapping[str, str], Path]],
    *,
    engine: Engine = "auto",
    workers: int = 2,
    progress: bool = True,
    to: Target = "html",
    timeout: int = 600,
) -> list[Path]:
    """Render several ``(qmd, params, output)`` jobs; stop at the first failure.

    The fallback runs ``workers`` threads, each holding one kernel that it reuses for all its
    documents (``%reset -f`` between them), so a batch of 150 LAs starts 2 kernels, not 150.
    Quarto renders one job at a time: it writes intermediate files beside the document, which
    two renders of the same ``.qmd`` would share.

    Returns:
        The outputs, in the order of ``jobs``.

    Raises:
        RenderError: the first failure (naming the document and its params); jobs not yet
            started are not run, outputs already written stay.
    """
    if not jobs:
        return []
    first_qmd, first_params, _ = jobs[0]
    checked = [check_params(Path(q).resolve(), p) for q, p, _ in jobs]
    chosen = _choose_engine(Path(first_qmd).resolve(), first_params, engine)
    bar = render_output.progress_bar(len(jobs), enabled=progress)
    stop = threading.Event()
    local = threading.local()
    sessions: list[KernelSession] = []
    lock = threading.Lock()

    def run_job(index: int) -> Path:
        qmd, _, output = jobs[index]
        if stop.is_set():
            raise _Skipped
        try:
            if chosen == "quarto":
                path = render_report(qmd, checked[index], output, engine="quarto", to=to,
                                     timeout=timeout)
            else:
                if not hasattr(local, "session"):
                    local.session = KernelSession()
                    with lock:
                        sessions.append(local.session)
                path = _render_with_fallback(local.session, Path(qmd).resolve(), checked[index],
                                             Path(output).resolve(), to, timeout)
        except BaseException:
            stop.set()
            raise
        bar.update(1)
        return path

    pool_size = 1 if chosen == "quarto" else max(1, min(workers, len(jobs)))
    try:
        with ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="render") as pool:
            futures = [pool.submit(run_job, i) for i in range(len(jobs))]
            wait(futures, return_when=FIRST_EXCEPTION)
        return [_result_or_raise(futures) for _ in [0]][0]
    finally:
        bar.close()
        for session in sessions:
            session.close()


class _Skipped(Exception):
    """A job not started because an earlier one failed."""


def _result_or_raise(futures: list[Future[Path]]) -> list[Path]:
    """Return every future's path, or raise the first real failure (in job order)."""
    errors = [f.exception() for f in futures if f.exception() is not None]
    real = [e for e in errors if not isinstance(e, _Skipped)]
    if real:
        raise real[0]
    return [f.result() for f in futures]
