"""Render a document with real Quarto (``quarto render``), from a private copy of the project.

Quarto writes intermediate files beside the document and its output under the project's
``output-dir``, and runs the project's ``post-render`` steps. sendstats therefore renders from
a private copy of the document's folder and the project's ``_quarto.yml`` (its steps dropped,
the files it names pointed back at the project), takes the one file it asked for and moves it
into place atomically; nothing is written into the checkout (no ``_site/reports``, no
``.quarto/``), and two renders of one document never share intermediates.

Quarto is told the parameters with ``-P`` (YAML-quoted so a string stays a string) and runs
its Jupyter kernel under ``QUARTO_PYTHON``, which sendstats sets to its own interpreter: that
Python has sendstats, jupyter, ipykernel and papermill.
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
from functools import cache
from pathlib import Path

import yaml

from sendstats.render.common import ParamValue, RenderError, Target, move_atomic

__all__ = ["private_copy", "quarto_argv", "quarto_version", "render_with_quarto", "run_quarto"]

_STDERR_LINES = 20
# Files of a document's folder that a private copy leaves out: Quarto's own intermediates and
# outputs, hidden files.
_NOT_COPIED = (".*", "_site", "_freeze", "*_files", "*.quarto_ipynb*", "*.sendstats-*")
_PROJECT_FILES = ("_quarto.yml", "_quarto.yaml", "_metadata.yml", "_variables.yml")
# Format options naming files relative to the project (made absolute in a private copy).
_FILE_OPTIONS = ("css", "include-in-header", "include-before-body", "include-after-body")


@cache
def quarto_version() -> str:
    """Return ``quarto --version`` (``"unknown"`` when it does not answer)."""
    exe = shutil.which("quarto")
    if exe is None:
        return "not installed"
    try:
        done = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return done.stdout.strip() or "unknown"


def render_with_quarto(
    qmd: Path, params: Mapping[str, ParamValue], output: Path, to: Target, timeout: int
) -> Path:
    """Render ``qmd`` with Quarto from a private copy of its project; move it to ``output``."""
    with tempfile.TemporaryDirectory(prefix="sendstats-quarto-") as tmp:
        copy = private_copy(qmd, Path(tmp))
        try:
            return run_quarto(copy, params, output, to, timeout)
        except RenderError as exc:  # name the document, not its private copy
            raise RenderError(qmd, params, exc.detail, cell=exc.cell) from exc


def quarto_argv(
    qmd: Path, params: Mapping[str, ParamValue], output_name: str, to: Target
) -> list[str]:
    """Return the ``quarto render`` command line (argv items, never a shell string).

    Quarto reads each ``-P`` value as YAML, so the string ``201`` (a DfE LA number) would arrive
    as the int 201; strings are therefore passed YAML-single-quoted, which keeps the type the
    caller gave, as the fallback does.
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


def run_quarto(
    qmd: Path,
    params: Mapping[str, ParamValue],
    output: Path,
    to: Target,
    timeout: int,
    extra: Sequence[str] = (),
) -> Path:
    """Run Quarto beside the document, then move its output to ``output`` atomically.

    ``extra`` is appended to Quarto's command line (the batch's ``--execute-daemon``).
    """
    # A name of our own, so no other render's file is ever taken for this one.
    name = f"{qmd.stem}.sendstats-{os.getpid()}-{threading.get_ident()}"
    name += ".pdf" if to == "pdf" else ".html"
    argv = [*quarto_argv(qmd, params, name, to), *extra]
    argv[0] = shutil.which("quarto") or "quarto"
    # Quarto's Python and the kernel it starts ("python3" may say plain "python") should both
    # be this interpreter, which has sendstats installed.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path}
    env.setdefault("QUARTO_PYTHON", sys.executable)
    try:
        done = subprocess.run(
            argv, cwd=qmd.parent, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(qmd, params, f"quarto did not finish within {timeout} s") from exc
    produced = _find_quarto_output(qmd, name, done.stderr + done.stdout)
    try:
        if done.returncode != 0 or produced is None:
            tail = "\n".join(done.stderr.strip().splitlines()[-_STDERR_LINES:])
            status = (
                f"quarto exited with {done.returncode}"
                if done.returncode
                else (f"quarto exited with 0 but wrote no {name}")
            )
            raise RenderError(qmd, params, f"{status}; last lines of stderr:\n{tail}")
        move_atomic(produced, output)
    finally:
        if produced is not None:
            produced.unlink(missing_ok=True)
            shutil.rmtree(produced.with_name(produced.stem + "_files"), ignore_errors=True)
    return output


def _find_quarto_output(qmd: Path, name: str, log: str) -> Path | None:
    """Return where Quarto wrote ``name``.

    That is beside the document, in the project's ``output-dir``, or where Quarto's
    ``Output created:`` line says.
    """
    candidates = [qmd.parent / name]
    project = next((d for d in [qmd.parent, *qmd.parents] if (d / "_quarto.yml").is_file()), None)
    if project is not None:
        config = yaml.safe_load((project / "_quarto.yml").read_text(encoding="utf-8")) or {}
        out_dir = (config.get("project") or {}).get("output-dir")
        if out_dir:
            candidates.append(project / out_dir / qmd.parent.relative_to(project) / name)
    for match in re.finditer(r"Output created:\s*(.+)", log):
        candidates += [Path(match[1].strip()), qmd.parent / match[1].strip()]
    return next((c for c in candidates if c.name == name and c.is_file()), None)


def private_copy(qmd: Path, into: Path) -> Path:
    """Copy a document's folder (and its Quarto project files) under ``into``; return the copy.

    The copy keeps the document's place in its project (``_quarto.yml`` at the copy's root,
    the document's folder at the same relative path), so Quarto renders it with the same
    project options. Subfolders are copied too unless the document sits at the project root
    (which holds the whole checkout); Quarto's intermediates and hidden files are left out.
    """
    project = next((d for d in [qmd.parent, *qmd.parents] if (d / "_quarto.yml").is_file()), None)
    root = project or qmd.parent
    folder = into / qmd.parent.relative_to(root)
    folder.mkdir(parents=True, exist_ok=True)
    skip = shutil.ignore_patterns(*_NOT_COPIED)
    ignored = skip(str(qmd.parent), [p.name for p in qmd.parent.iterdir()])
    for item in qmd.parent.iterdir():
        if item.name in ignored:
            continue
        if item.is_file():
            shutil.copy2(item, folder / item.name)
        elif item.is_dir() and qmd.parent != project:
            shutil.copytree(item, folder / item.name, ignore=skip, dirs_exist_ok=True)
    if project is not None and project != qmd.parent:
        for name in _PROJECT_FILES:
            if (project / name).is_file():
                shutil.copy2(project / name, into / name)
        _rewrite_project_config(project, into)
    return folder / qmd.name


def _rewrite_project_config(project: Path, into: Path) -> None:
    """Make the copy's ``_quarto.yml`` stand alone.

    The project's ``pre-render``/``post-render`` steps are dropped (sendstats places its
    outputs itself, and the copy holds no scripts), and files the formats name (``css``,
    ``include-in-header`` ...) are pointed at the project's own copies.
    """
    config_path = into / "_quarto.yml"
    if not config_path.is_file():
        return
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    for step in ("pre-render", "post-render"):
        (config.get("project") or {}).pop(step, None)
    for options in (config.get("format") or {}).values():
        if not isinstance(options, dict):
            continue
        for key in _FILE_OPTIONS:
            value = options.get(key)
            if isinstance(value, str) and (project / value).is_file():
                options[key] = str((project / value).resolve())
            elif isinstance(value, list):
                options[key] = [
                    str((project / v).resolve())
                    if isinstance(v, str) and (project / v).is_file()
                    else v
                    for v in value
                ]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
