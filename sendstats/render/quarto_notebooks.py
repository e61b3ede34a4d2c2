"""Quarto's batch: executed notebooks rendered a group at a time by one ``quarto render``.

Rendering a ``.qmd`` with Quarto costs about 1.3 s of start-up, a kernel and 3 s of
post-processing per document. For a batch of parameter sets (every LA profile) sendstats
therefore runs the cells itself, in warm worker processes (the same cells, parameters and
executor as the fallback: :mod:`sendstats.render.workers`), and hands Quarto the executed notebooks:
Quarto renders an ``.ipynb`` without executing it, and one ``quarto render`` of a private
project whose ``render`` list names a group of them pays its start-up once per group.

An executed notebook is turned into the notebook Quarto itself would have executed
(:func:`quarto_notebook`): the document's front matter as its first raw cell, each cell's
options back as ``#|`` lines, and its outputs. Three changes make Quarto's per-document work
small (a group of 8 profiles: 2.4 s of CPU a profile before, 0.6 s after):

- raw blocks for the other format are left out: a report cell shows a chart as a
  ```` ```{=html} ```` block and a ```` ```{=typst} ```` block, and each format keeps only its
  own (Quarto's filters would otherwise walk the typst copy of every chart in the HTML render);
- in HTML, each raw HTML block that loads nothing from outside the page (inline SVG charts,
  tables: nearly all of a profile's bytes) reaches Quarto as a placeholder comment and is put
  back in the page Quarto wrote, as the fallback does with pandoc. Quarto passes raw HTML
  through (its own pass would only re-serialise the markup), and its post-processing no longer
  parses every chart. A block that does load something goes through Quarto as it is;
- HTML pages are written without ``embed-resources`` (:func:`unembedded`), which costs one
  more pandoc pass per page: the stylesheets go inline instead, and a page that still loads
  anything from outside is refused.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import yaml
from nbformat import NotebookNode

from sendstats.render.common import (
    EXTERNAL_RESOURCE,
    ParamValue,
    RenderError,
    StandIns,
    Target,
    put_back,
    write_atomic,
)
from sendstats.render.qmd import nb_v4

__all__ = ["GroupItem", "front_matter_text", "quarto_notebook", "render_group", "unembedded"]

_STDERR_LINES = 20
_RAW_BLOCK = re.compile(
    r"^(?P<fence>`{3,})\{=(?P<fmt>html|typst)\}[ \t]*\n(?P<body>.*?)\n(?P=fence)[ \t]*(?:\n|$)",
    re.M | re.S,
)
# Quarto's progress line for each document of a project render: "[3/8] reports/x.ipynb".
_PROGRESS = re.compile(r"^\[\s*\d+/\d+\]\s+(\S+)", re.M)
_SENDSTATS = "sendstats"
_writes: Callable[[NotebookNode], str] = nbformat.writes  # untyped upstream


def front_matter_text(qmd: Path, to: Target) -> str:
    """Return the document's YAML front matter (``---`` lines included), or ``""``.

    For HTML, its ``format.html`` options are those of :func:`unembedded`.
    """
    lines = qmd.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].strip() != "---":
        return ""
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            text = "\n".join(lines[1:end])
            front = yaml.safe_load(text)
            formats = front.get("format") if isinstance(front, dict) else None
            if to == "html" and isinstance(formats, dict) and isinstance(formats.get("html"), dict):
                formats["html"] = unembedded(formats["html"], qmd.parent)
                text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True)
            return f"---\n{text.strip()}\n---"
    return ""


def unembedded(options: dict[str, Any], base: Path) -> dict[str, Any]:
    """Return HTML format options without ``embed-resources``, their stylesheets inline.

    ``embed-resources`` makes Quarto run pandoc once more over every page it writes, about a
    seventh of its time per profile. The batch writes self-contained pages without it: each
    ``css`` file (relative to ``base``) goes into the page's head as a ``<style>`` element,
    and a page that still loads anything from outside is refused (:func:`render_group`).
    """
    options = dict(options)
    css = options.pop("css", None)
    files = [css] if isinstance(css, str) else list(css or [])
    headers = options.get("include-in-header") or []
    headers = list(headers) if isinstance(headers, list) else [headers]
    for name in files:
        text = (base / str(name)).read_text(encoding="utf-8")
        headers.append({"text": f"<style>\n{text.strip()}\n</style>"})
    if headers:
        options["include-in-header"] = headers
    options["embed-resources"] = False
    return options


def quarto_notebook(
    nb: NotebookNode, front_matter: str, to: Target
) -> tuple[NotebookNode, dict[str, str]]:
    """Return an executed notebook as Quarto renders it, and the placeholders to put back.

    ``nb`` is a document executed by :meth:`sendstats.render.shell.ShellSession.run` (inline
    values already in its markdown). The result has ``front_matter`` as its first raw cell,
    each code cell's options as ``#|`` lines before its source (where Quarto reads them in a
    notebook), the injected-parameters cell as Quarto's own run has it, and outputs holding
    only ``to``'s raw blocks. For
    HTML, the second value maps each placeholder comment to the raw HTML it stands for.
    """
    stand_ins = StandIns()
    out = nb_v4("new_notebook")
    out.metadata = {k: v for k, v in nb.metadata.items() if k != "front_matter"}
    if front_matter:
        out.cells.append(nb_v4("new_raw_cell", front_matter))
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            out.cells.append(nb_v4("new_markdown_cell", cell.source))
            continue
        # Numbered as Quarto's own run numbers them: the injected-parameters cell counts,
        # sendstats' setup and inline cells (already gone from ``nb``) do not.
        count += 1
        # The injected parameters: kept as Quarto keeps them (shown only where code is).
        injected = cell.metadata.get(_SENDSTATS, {}).get("role") == "parameters"
        options = {} if injected else dict(cell.metadata.get("quarto", {}))
        lines = [f"#| {key}: {json.dumps(value, default=str)}" for key, value in options.items()]
        new = nb_v4("new_code_cell", "\n".join([*lines, cell.source]))
        tags = [str(t) for t in cell.metadata.get("tags", []) or []]
        if tags:  # an empty list is left out, as Jupyter writes a cell without tags
            new.metadata["tags"] = tags
        new.execution_count = count if cell.get("execution_count") is not None else None
        new.outputs = [_output(o, to, stand_ins) for o in cell.get("outputs", [])]
        out.cells.append(new)
    return out, stand_ins.fragments


def _output(output: NotebookNode, to: Target, stand_ins: StandIns) -> NotebookNode:
    """Return one output with only ``to``'s raw blocks (HTML ones as placeholders)."""
    output = copy.deepcopy(output)
    if output.get("output_type") == "stream" and output.get("name") == "stdout":
        output["text"] = _raw_blocks(output.get("text", ""), to, stand_ins)
    elif "text/markdown" in output.get("data", {}):
        text = output["data"]["text/markdown"]
        output["data"]["text/markdown"] = _raw_blocks(text, to, stand_ins)
    return output


def _raw_blocks(text: str, to: Target, stand_ins: StandIns) -> str:
    """Drop the other format's raw blocks from markdown; stand HTML ones in by placeholders.

    For the PDF, a raw HTML table stays (Quarto may make it a typst table); other raw HTML
    (an inline chart) has its typst twin.
    """

    def replace(match: re.Match[str]) -> str:
        body = match["body"]
        if to == "pdf":
            return match[0] if match["fmt"] == "typst" or "<table" in body else ""
        if match["fmt"] == "typst":
            return ""
        key = stand_ins.stand_in(body)
        if key == body:  # loads something: Quarto sees it as it is
            return match[0]
        return f"{match['fence']}{{=html}}\n{key}\n{match['fence']}\n"

    if "{=" not in text:
        return text
    return _RAW_BLOCK.sub(replace, text)


@dataclass
class GroupItem:
    """One executed document of a group: where it goes, and what names it in an error.

    ``notebook`` is the executed document until the renderer that takes the group replaces
    it with the notebook Quarto renders and ``fragments`` with its placeholders
    (:func:`quarto_notebook`): made there, beside the workers, rather than by the feeder a
    worker waits for.
    """

    index: int
    qmd: Path
    params: Mapping[str, ParamValue]
    output: Path
    notebook: NotebookNode
    fragments: dict[str, str] = field(default_factory=dict)


def render_group(
    project: Path, folder: Path, items: Sequence[GroupItem], to: Target, timeout: int
) -> list[tuple[GroupItem, Path | RenderError | None]]:
    """Render ``items`` with one ``quarto render`` of the private project at ``project``.

    The notebooks are written into ``folder`` (the document's folder in the private copy, so
    files it names resolve as for the ``.qmd``), the copy's ``_quarto.yml`` lists them as the
    project's ``render`` targets, and each page Quarto writes is moved to its item's output
    (HTML with its placeholders put back), replaced only when whole.

    Returns:
        For each item, its output, or the :class:`RenderError` naming its document and
        parameters, or None for a document Quarto did not reach: it stops at the first
        document that fails (the one its progress lines name last, else the group's first).

    """
    names = {}
    for item in items:
        name = f"{item.qmd.stem}.sendstats-batch-{item.index}.ipynb"
        # nbformat writes each source as a list of lines, which is what Quarto reads (a cell
        # source given as one string loses its line breaks).
        (folder / name).write_text(_writes(item.notebook), encoding="utf-8")
        names[item.index] = name
    config_path = project / "_quarto.yml"
    config: dict[str, Any] = {}
    if config_path.is_file():
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    project_options = config.setdefault("project", {})
    formats = config.get("format")
    if to == "html" and isinstance(formats, dict) and isinstance(formats.get("html"), dict):
        formats["html"] = unembedded(formats["html"], project)
    project_options["render"] = [
        (folder / names[i.index]).relative_to(project).as_posix() for i in items
    ]
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    out_dir = project / str(project_options.get("output-dir") or ".")
    produced_in = out_dir / folder.relative_to(project)
    suffix = ".pdf" if to == "pdf" else ".html"
    argv = [
        shutil.which("quarto") or "quarto",
        "render",
        "--to",
        "typst" if to == "pdf" else "html",
    ]
    # Quarto's Python (and "python3" if a kernel were started) is this interpreter.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path}
    env.setdefault("QUARTO_PYTHON", sys.executable)
    try:
        done = subprocess.run(
            argv, cwd=project, env=env, capture_output=True, text=True, timeout=timeout
        )
        log, failed = done.stderr + done.stdout, done.returncode != 0
    except subprocess.TimeoutExpired:
        log, failed = f"quarto did not finish within {timeout} s", True
        done = None
    results: list[tuple[GroupItem, Path | RenderError | None]] = []
    started = _PROGRESS.findall(log)
    culprit = next(
        (i for i in items if failed and started and started[-1].endswith(names[i.index])),
        items[0] if failed else None,
    )
    for item in items:
        produced = produced_in / Path(names[item.index]).with_suffix(suffix).name
        try:
            if item is culprit:
                raise _quarto_error(item, done.returncode if done else None, log)
            if produced.is_file():
                results.append((item, _place(produced, item, to)))
            elif failed:
                results.append((item, None))  # Quarto stopped at another document first
            else:
                raise RenderError(
                    item.qmd, item.params, f"quarto exited with 0 but wrote no {produced.name}"
                )
        except RenderError as exc:
            results.append((item, exc))
        finally:
            produced.unlink(missing_ok=True)
            shutil.rmtree(produced.with_name(produced.stem + "_files"), ignore_errors=True)
            (folder / names[item.index]).unlink(missing_ok=True)
    return results


def _quarto_error(item: GroupItem, returncode: int | None, log: str) -> RenderError:
    """Return the error for a document Quarto failed on (its last lines of output)."""
    tail = "\n".join(log.strip().splitlines()[-_STDERR_LINES:])
    status = "quarto timed out" if returncode is None else f"quarto exited with {returncode}"
    return RenderError(item.qmd, item.params, f"{status}; last lines of its output:\n{tail}")


def _place(produced: Path, item: GroupItem, to: Target) -> Path:
    """Move Quarto's page to the item's output, with every placeholder put back.

    An HTML page that loads anything from outside is refused: the batch renders without
    ``embed-resources``, which would have put it into the page.
    """
    if to == "pdf":
        write_atomic(item.output, produced.read_bytes())
        return item.output
    page = produced.read_text(encoding="utf-8")
    loads = EXTERNAL_RESOURCE.search(page)
    if loads:
        raise RenderError(
            item.qmd,
            item.params,
            f"the page loads {loads[0]!r}...: Quarto's batch writes self-contained pages "
            "without embed-resources, so it takes no page that names another file (render "
            "the document on its own)",
        )
    try:
        page = put_back(page, item.fragments, "Quarto")
    except ValueError as exc:
        raise RenderError(item.qmd, item.params, str(exc)) from exc
    write_atomic(item.output, page.encode("utf-8"))
    return item.output
