"""Read a Quarto ``.qmd`` document as a Jupyter notebook and execute it like Quarto does.

This is the first half of sendstats' fallback renderer (the second half, turning the executed
notebook into HTML or PDF, is :mod:`sendstats.render.document`). It reads the Quarto markdown format
(https://quarto.org/docs/reference/cells/cells-jupyter.html): YAML front matter, markdown, and
```` ```{python} ```` cells whose leading ``#| key: value`` lines are cell options. Parameters
follow Papermill (one cell tagged ``parameters``; a new cell assigning the given values is
injected right after it), which is what Quarto's Jupyter engine does with ``-P key:value``.

Nothing here knows about any particular report: any ``.qmd`` with Python cells is read.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import nbformat
import yaml
from nbformat import NotebookNode

__all__ = [
    "HTML_ONLY",
    "Block",
    "CellError",
    "DocumentSession",
    "QmdError",
    "cell_label",
    "nb_v4",
    "notebook_blocks",
    "parse_qmd",
    "prepare_notebook",
    "resolve_inline",
]

_FRONT_MATTER_END = ("---", "...")
_CELL_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z][\w+-]*)(?P<attrs>[^}]*)\}\s*$")
_PLAIN_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
_OPTION_LINE = re.compile(r"^#\|\s?(?P<text>.*)$")
_INLINE_EXPR = re.compile(r"`\{python\}\s*(?P<expr>[^`]+?)\s*`")
_INLINE_MARK = "\x1esendstats-inline:"
_SENDSTATS = "sendstats"


class QmdError(ValueError):
    """A ``.qmd`` that the fallback renderer cannot read (bad front matter or cell options)."""


class CellError(RuntimeError):
    """A cell raised, timed out or killed the kernel; ``cell`` names it, ``detail`` says why."""

    def __init__(self, cell: str, detail: str) -> None:
        super().__init__(f"{cell}: {detail}")
        self.cell = cell
        self.detail = detail


class DocumentSession:
    """What runs a parsed document's cells (the base of each executor).

    The executors are sendstats' own shell, a batch's worker processes and a Jupyter kernel
    (:mod:`sendstats.render.shell`, :mod:`~sendstats.render.workers`,
    :mod:`~sendstats.render.kernel`). Use one as a context manager, so what it holds is
    released (:meth:`close`).
    """

    def run(
        self, nb: NotebookNode, params: Mapping[str, object], cwd: Path, timeout: int
    ) -> NotebookNode:
        """Execute a parsed document with ``params`` in ``cwd``; return it with its outputs.

        Raises:
            CellError: a cell raised or ran out of time, or what ran it died.

        """
        raise NotImplementedError

    def start(self, cwd: Path, timeout: int = 120) -> None:
        """Get ready to run a document (a kernel starts here); nothing by default."""

    def close(self) -> None:
        """Release what the session holds; nothing by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def parse_qmd(path: Path) -> NotebookNode:
    """Read a ``.qmd`` file into an nbformat v4 notebook.

    The front matter goes to ``nb.metadata["front_matter"]``; the text between cells becomes
    markdown cells; each ```` ```{python} ```` cell becomes a code cell whose ``#|`` options are
    parsed as YAML into ``cell.metadata["quarto"]`` (``tags`` also into ``cell.metadata["tags"]``,
    where Papermill and nbclient look) and removed from the source, as Quarto hides them when it
    echoes code. ``cell.metadata["sendstats"]["number"]`` is the 1-based position among the
    document's code cells, used to name a failing cell.

    Raises:
        QmdError: unreadable front matter or options, an unclosed cell, or a cell in a language
            other than Python (the fallback runs one Python kernel).

    """
    lines = path.read_text(encoding="utf-8").splitlines()
    front_matter, start = _read_front_matter(path, lines)
    nb = nb_v4("new_notebook")
    nb.metadata["front_matter"] = front_matter
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    markdown: list[str] = []
    i, number = start, 0
    while i < len(lines):
        line = lines[i]
        cell_open = _CELL_OPEN.match(line)
        if cell_open:
            _flush_markdown(nb, markdown)
            body, i = _read_fenced(path, lines, i, cell_open["fence"])
            lang = cell_open["lang"].lower()
            if lang != "python":
                raise QmdError(
                    f"{path}:{i - len(body) - 1}: a {{{lang}}} cell; the fallback renderer runs "
                    "Python cells only (render with Quarto for other engines)"
                )
            number += 1
            nb.cells.append(_new_code_cell(path, body, number, i - len(body) - 1))
            continue
        plain = _PLAIN_FENCE.match(line)
        if plain:
            # A display-only fence (```python, ````markdown) may show cells as examples:
            # copy it whole so nothing inside it is taken for a cell.
            body, end = _read_fenced(path, lines, i, plain["fence"])
            markdown.extend(lines[i:end])
            i = end
            continue
        markdown.append(line)
        i += 1
    _flush_markdown(nb, markdown)
    return nb


def nb_v4(factory: str, *args: Any) -> NotebookNode:
    """Call an nbformat v4 factory (untyped upstream) and return its node."""
    node: NotebookNode = getattr(nbformat.v4, factory)(*args)
    return node


def _read_front_matter(path: Path, lines: list[str]) -> tuple[dict[str, Any], int]:
    """Return the YAML front matter (or ``{}``) and the index of the first body line."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in _FRONT_MATTER_END:
            try:
                data = yaml.safe_load("\n".join(lines[1:end])) or {}
            except yaml.YAMLError as exc:
                raise QmdError(f"{path}: front matter is not valid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise QmdError(f"{path}: front matter must be a YAML mapping")
            return data, end + 1
    raise QmdError(f"{path}: front matter opened with '---' on line 1 is never closed")


def _read_fenced(path: Path, lines: list[str], start: int, fence: str) -> tuple[list[str], int]:
    """Return the lines inside the fence opened at ``start`` and the index after its close."""
    closing = re.compile("^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
    for end in range(start + 1, len(lines)):
        if closing.match(lines[end]):
            return lines[start + 1 : end], end + 1
    raise QmdError(f"{path}:{start + 1}: fence {fence!r} is never closed")


def _flush_markdown(nb: NotebookNode, markdown: list[str]) -> None:
    """Append the pending markdown lines as one markdown cell (if not blank) and clear them."""
    text = "\n".join(markdown).strip("\n")
    if text.strip():
        nb.cells.append(nb_v4("new_markdown_cell", text))
    markdown.clear()


def _new_code_cell(path: Path, body: list[str], number: int, line_no: int) -> NotebookNode:
    """Build a code cell from a cell body, moving its leading ``#|`` options to metadata."""
    option_lines: list[str] = []
    for line in body:
        match = _OPTION_LINE.match(line)
        if not match:
            break
        option_lines.append(match["text"])
    try:
        options = (yaml.safe_load("\n".join(option_lines)) or {}) if option_lines else {}
    except yaml.YAMLError as exc:
        raise QmdError(
            f"{path}:{line_no}: cell {number} options are not valid YAML: {exc}"
        ) from exc
    if not isinstance(options, dict):
        raise QmdError(f"{path}:{line_no}: cell {number} options must be 'key: value' lines")
    cell = nb_v4("new_code_cell", "\n".join(body[len(option_lines) :]).strip("\n"))
    cell.metadata["quarto"] = options
    tags = options.get("tags", [])
    cell.metadata["tags"] = [str(t) for t in (tags if isinstance(tags, list) else [tags])]
    cell.metadata[_SENDSTATS] = {"number": number, "line": line_no}
    return cell


def cell_label(cell: NotebookNode) -> str:
    """Name a cell for an error message: its number among code cells and its label, if any."""
    info = cell.metadata.get(_SENDSTATS, {})
    if info.get("role") == "inline":
        return f"inline expression(s) {', '.join(info['exprs'])} in markdown"
    if info.get("role") in ("parameters", "setup"):
        return f"the {info['role']} cell sendstats adds"
    label = cell.metadata.get("quarto", {}).get("label")
    name = f"cell {info.get('number', '?')} (line {info.get('line', '?')})"
    return f"{name} '{label}'" if label else name


def prepare_notebook(nb: NotebookNode, params: Mapping[str, object], cwd: Path) -> NotebookNode:
    """Return a copy of ``nb`` ready to execute.

    Adds, in order: a setup cell (IPython's hard reset, as ``%reset -f``, so a reused kernel
    starts each document with an empty namespace, then ``chdir`` to the document's folder, as
    Quarto runs cells there);
    the injected-parameters cell right after the cell tagged ``parameters`` (at the top when
    none is tagged, as Papermill does); and before each markdown cell holding inline
    ``{python} expr`` code, a cell printing those values.
    """
    nb = copy.deepcopy(nb)
    cells: list[NotebookNode] = []
    setup = f"{_RESET}import os as _o\n_o.chdir({str(cwd)!r})\ndel _o"
    cells.append(_internal_cell(setup, {"role": "setup"}))
    param_cell = _internal_cell(_parameter_source(params), {"role": "parameters"})
    param_cell.metadata["tags"] = ["injected-parameters"]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    insert_at = tagged[0] + 1 if tagged else 0
    for index, cell in enumerate(nb.cells):
        if index == insert_at and params:
            cells.append(param_cell)
        exprs = _INLINE_EXPR.findall(cell.source) if cell.cell_type == "markdown" else []
        if exprs:
            cells.append(_inline_cell(exprs))
        cells.append(cell)
    if insert_at == len(nb.cells) and params:
        cells.append(param_cell)
    nb.cells = cells
    return nb


# ``%reset -f`` is ``shell.reset(new_session=False)`` followed by a second full
# ``gc.collect()``; each pass walks the report kernel's whole heap (altair, polars and their
# schemas), 0.15 s a pass. Here the reset's own pass is kept, so a document's garbage goes at
# once and the kernel does not grow, and everything alive after it is frozen (``gc.freeze``):
# the next pass walks only what one document made.
_RESET = """\
def _sendstats_reset(shell, gc=__import__("gc")):
    shell.reset(new_session=False)
    gc.freeze()
_sendstats_reset(get_ipython())
"""


def _parameter_source(params: Mapping[str, object]) -> str:
    """Return the code of the injected-parameters cell (Papermill's layout)."""
    return "# Parameters\n" + "".join(f"{key} = {value!r}\n" for key, value in params.items())


def _internal_cell(source: str, info: dict[str, Any]) -> NotebookNode:
    """Build a code cell that sendstats adds and removes again after execution."""
    cell = nb_v4("new_code_cell", source)
    cell.metadata[_SENDSTATS] = info
    cell.metadata["quarto"] = {"include": False}
    return cell


def _inline_cell(exprs: list[str]) -> NotebookNode:
    """Build the cell that prints the values of a markdown cell's inline expressions."""
    values = "".join(f"({expr}),\n" for expr in exprs)
    source = f"print({_INLINE_MARK!r} + __import__('json').dumps([str(_v) for _v in (\n{values})]))"
    return _internal_cell(source, {"role": "inline", "exprs": exprs})


def resolve_inline(nb: NotebookNode) -> NotebookNode:
    """Substitute inline expression values into markdown and drop sendstats' internal cells.

    The injected-parameters cell stays (Quarto keeps it too) but is never shown.
    """
    cells: list[NotebookNode] = []
    pending: list[str] | None = None
    for cell in nb.cells:
        role = cell.metadata.get(_SENDSTATS, {}).get("role")
        if role == "inline":
            pending = _read_inline_values(cell)
            continue
        if role == "setup":
            continue
        if pending is not None and cell.cell_type == "markdown":
            cell.source = _substitute_inline(cell.source, pending)
            pending = None
        cells.append(cell)
    nb.cells = cells
    return nb


def _substitute_inline(source: str, values: list[str]) -> str:
    """Replace each inline expression in ``source`` by its value, in order."""
    remaining = iter(values)
    return _INLINE_EXPR.sub(lambda _match: next(remaining, ""), source)


def _read_inline_values(cell: NotebookNode) -> list[str]:
    """Return the values an inline cell printed (a JSON list after a marker)."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and _INLINE_MARK in output.get("text", ""):
            payload = output["text"].split(_INLINE_MARK, 1)[1].splitlines()[0]
            values = json.loads(payload)
            return [str(v) for v in values]
    return []


# --- executed notebook -> format-neutral blocks --------------------------------------------------


@dataclass(frozen=True)
class Block:
    """One piece of the rendered document, before it is written as HTML or typst.

    ``kind`` is ``markdown`` (text to convert), ``html`` (raw HTML), ``raw`` (raw ``lang``
    markup for that format only, e.g. typst), ``code`` (``text`` shown
    verbatim; ``lang`` is ``python`` for echoed source, else the output stream name) or
    ``figure`` (``mime`` image/svg+xml with SVG ``text``, or image/png|jpeg with base64
    ``text``; ``alt``, ``caption`` and ``label`` from the cell's fig-alt, fig-cap and label).
    An ``html`` block (a table) also carries the cell's label and ``tbl-cap``; its ``lang`` is
    ``HTML_ONLY`` when the cell says ``html-table-processing: none`` (the PDF leaves it out).
    """

    kind: str
    text: str
    lang: str = ""
    mime: str = ""
    alt: str = ""
    caption: str = ""
    label: str = ""


#: ``Block.lang`` of raw HTML that the PDF leaves out even when it holds a table.
HTML_ONLY = "html-only"
_IMAGE_MIMES = ("image/svg+xml", "image/png", "image/jpeg")
# Quarto's order for HTML; a PDF cannot hold HTML, so there markdown and images come first and
# text/html (a table) is converted by pandoc.
_MIME_ORDER = {
    "html": ("image/svg+xml", "text/html", "image/png", "image/jpeg", "text/markdown"),
    "pdf": ("image/svg+xml", "image/png", "image/jpeg", "text/markdown", "text/html"),
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def notebook_blocks(nb: NotebookNode, target: str) -> list[Block]:
    """Turn an executed notebook into blocks, honouring Quarto's cell options.

    ``include: false`` hides a cell; ``echo`` (default: front matter ``execute.echo``, else
    true) shows its source; ``output: false`` hides its outputs and ``output: asis`` takes its
    stdout and markdown as document markdown; ``warning: false`` drops stderr.
    """
    execute = nb.metadata.get("front_matter", {}).get("execute", {}) or {}
    blocks: list[Block] = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            blocks.append(Block("markdown", cell.source))
            continue
        opts = {**execute, **cell.metadata.get("quarto", {})}
        role = cell.metadata.get(_SENDSTATS, {}).get("role")
        if cell.cell_type != "code" or role == "parameters" or opts.get("include") is False:
            continue
        if opts.get("echo", True) not in (False, "false") and cell.source.strip():
            blocks.append(Block("code", cell.source, lang="python"))
        if opts.get("output", True) is False:
            continue
        figures = 0
        for output in cell.get("outputs", []):
            block = _output_block(output, opts, target, figures)
            if block is None:
                continue
            figures += block.kind == "figure"
            split = _split_raw(block.text) if block.kind == "markdown" else [block]
            if opts.get("html-table-processing") == "none":
                # As in Quarto: the cell's raw HTML tables are not made tables in the PDF.
                split = [replace(b, lang=HTML_ONLY) if b.kind == "html" else b for b in split]
            blocks.extend(split)
    return blocks


_RAW_OPEN = re.compile(r"^(?P<fence>`{3,})\{=(?P<fmt>html|typst)\}[ \t]*\n", re.M)


def _raw_fences(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Yield (start, end, format, body) of each raw block in ``text``.

    A raw block is an opening line (three or more backticks and ``{=html}`` or ``{=typst}``),
    the body, and a line of the same backticks (trailing blanks allowed).

    The closing line is found by a plain search for its backticks, not by a lazy regex over
    the body: a chart's body is tens of kilobytes.
    """
    pos = 0
    while (opening := _RAW_OPEN.search(text, pos)) is not None:
        fence = opening["fence"]
        closing = re.compile(rf"\n{fence}[ \t]*$", re.M).search(text, opening.end())
        if closing is None:
            pos = opening.start() + 1
            continue
        yield opening.start(), closing.end(), opening["fmt"], text[opening.end() : closing.start()]
        pos = closing.end()


def _split_raw(text: str) -> list[Block]:
    """Split an output's markdown into markdown and its raw ``{=html}``/``{=typst}`` blocks.

    A raw HTML block becomes an ``html`` block (a table is converted for the PDF, other HTML
    dropped there, as pandoc does); a raw typst block becomes a ``raw`` block that only the
    PDF keeps. This is how report cells show charts and tables (``sendstats.report.viz.display``).
    """
    blocks: list[Block] = []
    end = 0
    for start, stop, fmt, body in _raw_fences(text):
        before = text[end:start]
        if before.strip():
            blocks.append(Block("markdown", before))
        if fmt == "html":
            blocks.append(Block("html", body))
        else:
            blocks.append(Block("raw", body, lang=fmt))
        end = stop
    if text[end:].strip() or not blocks:
        blocks.append(Block("markdown", text[end:]))
    return blocks


def _output_block(output: NotebookNode, opts: dict[str, Any], target: str, n: int) -> Block | None:
    """Return the block for one cell output (None when it shows nothing)."""
    asis = opts.get("output") == "asis"
    kind = output.get("output_type")
    if kind == "stream":
        text = _ANSI.sub("", output.get("text", ""))
        if output.get("name") == "stderr" and opts.get("warning", True) is False:
            return None
        if asis and output.get("name") == "stdout":
            return Block("markdown", text)
        return Block("code", text, lang=output.get("name", "stdout")) if text.strip() else None
    if kind == "error":
        return Block("code", _ANSI.sub("", "\n".join(output.get("traceback", []))), "stderr")
    data = output.get("data", {})
    if asis and "text/markdown" in data:
        return Block("markdown", data["text/markdown"])
    data = {**data, **_vega_lite_svg(data)}
    mime = next((m for m in _MIME_ORDER[target] if m in data), None)
    if mime in _IMAGE_MIMES:
        return Block(
            "figure",
            data[mime] if mime == "image/svg+xml" else "".join(data[mime].split()),
            mime=mime,
            alt=_nth(opts.get("fig-alt"), n),
            caption=_nth(opts.get("fig-cap"), n),
            label=str(opts.get("label", "")) if n == 0 else "",
        )
    if mime == "text/html":
        label = str(opts.get("label", "")) if n == 0 else ""
        return Block("html", data[mime], caption=_nth(opts.get("tbl-cap"), n), label=label)
    if mime == "text/markdown":
        return Block("markdown", data[mime])
    text = data.get("text/plain", "")
    return Block("code", text, lang="result") if text.strip() else None


def _nth(value: object, n: int) -> str:
    """Return option ``value`` for the n-th figure of a cell (a list gives one per figure)."""
    if isinstance(value, list):
        return str(value[n]) if n < len(value) else ""
    return "" if value is None or n > 0 else str(value)


def _vega_lite_svg(data: Mapping[str, Any]) -> dict[str, str]:
    """Draw a Vega-Lite chart as SVG offline.

    Altair's default renderers send either the bare spec or HTML that loads vega-embed from a
    CDN; neither would work in a self-contained report, so the spec is drawn with vl-convert.
    """
    key = next((k for k in data if k.startswith("application/vnd.vegalite.v")), None)
    spec = data[key] if key else _spec_in_altair_html(str(data.get("text/html", "")))
    if spec is None or "image/svg+xml" in data:
        return {}
    try:
        import vl_convert
    except ImportError:
        return {}
    return {"image/svg+xml": vl_convert.vegalite_to_svg(spec)}


def _spec_in_altair_html(text: str) -> dict[str, Any] | None:
    """Return the spec in Altair's HTML output (its script ends ``})(<spec>, <options>);``)."""
    start = text.rfind("})(")
    if "vegaEmbed" not in text or start < 0:
        return None
    try:
        spec, _ = json.JSONDecoder().raw_decode(text, start + 3)
    except ValueError:
        return None
    if isinstance(spec, dict) and "vega-lite" in str(spec.get("$schema", "")):
        return spec
    return None
