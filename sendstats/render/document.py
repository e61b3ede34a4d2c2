"""Render a parameterised Quarto report to one self-contained HTML (or PDF) file.

With ``quarto`` on PATH the document is rendered by Quarto itself (``quarto render <qmd>
-P key:value ... --to html|typst --output <name>``, from a private copy of the project:
:mod:`sendstats.render.quarto`). Without it, sendstats renders the same
``.qmd`` on its own: :mod:`sendstats.render.qmd` reads it as a notebook,
:mod:`sendstats.render.shell` executes it in this process's IPython shell (no Jupyter kernel to
start; a kernel inside a user's own IPython) and :mod:`sendstats.render.qmd` turns the outputs
into blocks, which this module
writes as HTML through pandoc (the binary shipped by ``pypandoc_binary``; nbconvert's mistune
filter when there is no pandoc) or as PDF through pandoc's typst writer and the ``typst``
compiler library.

Either way the file appears at ``output`` only when the whole render worked: it is written to a
temporary file beside it and renamed, so a failed render leaves an existing report untouched.
The module holds no report content; it renders any ``.qmd``.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from nbformat import NotebookNode

from sendstats.render.common import (
    Engine,
    ParamValue,
    RenderError,
    StandIns,
    Target,
    put_back,
    write_atomic,
)
from sendstats.render.qmd import (
    HTML_ONLY,
    Block,
    CellError,
    DocumentSession,
    QmdError,
    notebook_blocks,
    parse_qmd,
)
from sendstats.render.quarto import render_with_quarto
from sendstats.render.shell import new_session
from sendstats.render.templates import CSS, HTML_TEMPLATE, TYPST_TEMPLATE

__all__ = [
    "Engine",
    "ParamValue",
    "RenderError",
    "Target",
    "check_params",
    "quarto_available",
    "render_report",
    "resolve_engine",
]

# Second guard after the caller's own validation: values reach Quarto as argv items (never a
# shell) and the kernel as repr(), but anything outside this set is not a plausible parameter.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9 _.,'&()-]*")
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _ConversionError(RuntimeError):
    """pandoc or typst failed on the executed document."""


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
        if not isinstance(value, str | int | float):
            raise RenderError(qmd, params, f"parameter {key} must be str, int or float")
        if isinstance(value, str) and not _SAFE_VALUE.fullmatch(value):
            bad = "".join(sorted({ch for ch in value if not _SAFE_VALUE.fullmatch(ch)}))
            raise RenderError(qmd, params, f"parameter {key}={value!r} holds refused {bad!r}")
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
    prepare: Callable[[], object] | None = None,
) -> Path:
    """Render ``qmd`` with ``params`` to ``output`` (one self-contained HTML file, or a PDF).

    Args:
        qmd: the Quarto document.
        params: values for the document's ``parameters`` cell (already validated by the caller).
        output: where the report goes; its folder is created; replaced only on success.
        engine: ``quarto`` (must be on PATH), ``fallback`` (IPython + pandoc), or ``auto``
            (Quarto when available).
        to: ``html`` or ``pdf`` (Quarto: ``--to typst``; fallback: pandoc + typst).
        timeout: seconds allowed for the whole render.
        prepare: work that must finish before the document runs (the CLI's build check). The
            fallback runs it in a thread while its session starts (only a kernel, inside a
            user's IPython, takes long to start); Quarto runs it first.

    Returns:
        ``output``, resolved.

    Raises:
        RenderError: naming the document, the parameters and the cause (a failing cell with the
            last line of its traceback, or Quarto's last lines of stderr).

    """
    qmd, output = Path(qmd).resolve(), Path(output).resolve()
    checked = check_params(qmd, params)
    if not qmd.is_file():
        raise RenderError(qmd, checked, "document not found")
    if _choose_engine(qmd, checked, engine) == "quarto":
        if prepare is not None:
            prepare()
        return render_with_quarto(qmd, checked, output, to, timeout)
    with new_session() as session:
        if prepare is not None:
            with ThreadPoolExecutor(1, thread_name_prefix="sendstats-prepare") as pool:
                ready = pool.submit(prepare)
                session.start(qmd.parent)
                ready.result()  # the caller's error, if it failed, before any cell runs
        return _render_with_fallback(session, qmd, checked, output, to, timeout)


def _choose_engine(qmd: Path, params: Mapping[str, object], engine: str) -> str:
    """Resolve ``auto``; refuse ``quarto`` when it is not installed."""
    try:
        return resolve_engine(engine)
    except ValueError as exc:
        raise RenderError(qmd, params, str(exc)) from exc


def resolve_engine(engine: str) -> Literal["quarto", "fallback"]:
    """Return the engine ``engine`` means here: ``auto`` is Quarto when it is on PATH.

    Raises:
        ValueError: an unknown engine, or ``quarto`` when no quarto executable is on PATH.

    """
    if engine not in ("auto", "quarto", "fallback"):
        raise ValueError(f"unknown engine {engine!r}")
    if engine == "quarto" and not quarto_available():
        raise ValueError("engine='quarto' but no quarto executable is on PATH")
    if engine == "fallback" or not quarto_available():
        return "fallback"
    return "quarto"


# --- fallback ---------------------------------------------------------------------------------


def _render_with_fallback(
    session: DocumentSession,
    qmd: Path,
    params: Mapping[str, ParamValue],
    output: Path,
    to: Target,
    timeout: int,
) -> Path:
    """Execute the document in ``session`` and write HTML or PDF to ``output``."""
    nb = execute_document(session, qmd, params, timeout)
    return convert_document(nb, qmd, params, output, to)


def execute_document(
    session: DocumentSession,
    qmd: Path,
    params: Mapping[str, ParamValue],
    timeout: int,
    parsed: NotebookNode | None = None,
) -> NotebookNode:
    """Run the document (``parsed``, else read from ``qmd``) in ``session``.

    Raises:
        RenderError: the document cannot be read, or a cell failed (named in the error).

    """
    try:
        return session.run(parsed or parse_qmd(qmd), params, qmd.parent, timeout)
    except QmdError as exc:
        raise RenderError(qmd, params, str(exc)) from exc
    except CellError as exc:
        raise RenderError(qmd, params, exc.detail, cell=exc.cell) from exc


def convert_document(
    nb: NotebookNode, qmd: Path, params: Mapping[str, ParamValue], output: Path, to: Target
) -> Path:
    """Write an executed document to ``output`` as HTML or PDF (replaced only on success).

    Raises:
        RenderError: pandoc or typst failed (naming the document and its parameters).

    """
    try:
        content = (
            _notebook_to_pdf(nb, qmd.parent) if to == "pdf" else _notebook_to_html(nb, qmd.parent)
        )
    except _ConversionError as exc:
        raise RenderError(qmd, params, str(exc)) from exc
    write_atomic(output, content)
    return output


def _settings(nb: NotebookNode, fmt: str) -> dict[str, Any]:
    """Return the front matter with ``format.<fmt>`` options merged over the top level."""
    front = dict(nb.metadata.get("front_matter", {}))
    formats = front.get("format")
    if isinstance(formats, dict) and isinstance(formats.get(fmt), dict):
        front.update(formats[fmt])
    lang = str(front.get("lang") or "en-GB")
    date = front.get("date")
    if date in ("today", "now", "last-modified") or date is None:
        date = dt.date.today() if date else None
    if isinstance(date, dt.date):
        date = f"{date.day} {date:%B %Y}"
    return {**front, "lang": lang, "date": date}


@cache
def _pandoc() -> str | None:
    """Return a pandoc binary: pypandoc_binary's, else one on PATH, else None."""
    try:
        import pypandoc

        return str(pypandoc.get_pandoc_path())
    except (ImportError, OSError):
        return shutil.which("pandoc")


def _run_pandoc(
    pandoc: str, args: list[str], stdin: str | None = None, cwd: Path | None = None
) -> str:
    """Run pandoc and return its stdout."""
    done = subprocess.run([pandoc, *args], input=stdin, capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        raise _ConversionError(f"pandoc failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def _meta_args(settings: Mapping[str, Any], tmp: Path) -> list[str]:
    """Write pandoc metadata (parsed as markdown, so escaped for the target) and return args."""
    keys = ("title", "subtitle", "author", "date", "lang", "toc-title")
    meta = {k: settings[k] for k in keys if settings.get(k) not in (None, "")}
    meta.setdefault("toc-title", "Contents")
    (tmp / "meta.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")
    args = ["--metadata-file", str(tmp / "meta.yaml")]
    if settings.get("toc"):
        args += ["--toc", f"--toc-depth={int(settings.get('toc-depth', 3))}"]
    if settings.get("number-sections"):
        args.append("--number-sections")
    return args


def _markdown(text: str, target: str) -> str:
    """Return document markdown with Quarto's ``{{< pagebreak >}}`` shortcode made raw."""
    raw = "#pagebreak()" if target == "typst" else '<div class="page-break"></div>'
    return re.sub(r"\{\{<\s*pagebreak\s*>\}\}", lambda _m: _fenced(raw, "{=" + target + "}"), text)


def _fenced(text: str, info: str) -> str:
    """Return ``text`` in a backtick fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"


# --- HTML -------------------------------------------------------------------------------------


def _notebook_to_html(nb: NotebookNode, base: Path) -> bytes:
    """Write the executed notebook as one self-contained HTML page."""
    settings = _settings(nb, "html")
    blocks = notebook_blocks(nb, "html")
    pandoc = _pandoc()
    page = (
        _html_with_pandoc(pandoc, blocks, settings, base)
        if pandoc
        else (_html_with_mistune(blocks, settings, base))
    )
    return page.encode("utf-8")


def _html_fragment(block: Block, index: int) -> str:
    """Return the HTML of a code, html or figure block."""
    if block.kind == "html" and not (block.label or block.caption):
        return block.text
    if block.kind == "html":
        ident = f' id="{html.escape(block.label)}"' if block.label else ""
        caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure class="cell-table"{ident}>{caption}{block.text}</figure>'
    if block.kind == "code":
        kind = "cell-code" if block.lang == "python" else f"cell-output cell-output-{block.lang}"
        lang = ' class="language-python"' if block.lang == "python" else ""
        return f'<pre class="{kind}"><code{lang}>{html.escape(block.text.rstrip())}</code></pre>'
    label = block.alt or block.caption
    if block.mime == "image/svg+xml":
        has_label = re.match(r"(?:<\?xml[^>]*>\s*)?<svg\b[^>]*\saria-label=", block.text.lstrip())
        # A chart that names itself keeps that name unless the cell gives fig-alt.
        body = _inline_svg(block.text, f"fig{index}", block.alt or ("" if has_label else label))
    else:
        body = f'<img src="data:{block.mime};base64,{block.text}" alt="{html.escape(label)}">'
    ident = f' id="{html.escape(block.label)}"' if block.label else ""
    if block.caption:
        caption = f"<figcaption>{html.escape(block.caption)}</figcaption>"
        return f'<figure class="cell-figure"{ident}>{body}{caption}</figure>'
    return f'<div class="cell-output-display"{ident}>{body}</div>'


def _inline_svg(svg: str, prefix: str, label: str) -> str:
    """Prepare an SVG for inlining in a page holding other SVGs.

    Drops the XML prolog, makes ids unique per figure (two Vega charts would both define
    ``clip1``) and, when there is alt text, sets ``role=img`` and ``aria-label`` on the root.
    """
    svg = re.sub(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", "", svg)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    if ids:
        pattern = r'(\bid="|url\(#|href="#)(' + "|".join(map(re.escape, ids)) + r')(?=["\)])'
        svg = re.sub(pattern, lambda m: f"{m[1]}{prefix}-{m[2]}", svg)
    if label:
        root = re.search(r"<svg\b[^>]*>", svg)
        if root:
            tag = re.sub(r'\s(role|aria-label|aria-labelledby)="[^"]*"', "", root[0])
            tag = tag.replace("<svg", f'<svg role="img" aria-label="{html.escape(label)}"', 1)
            svg = svg[: root.start()] + tag + svg[root.end() :]
    return svg


def _html_with_pandoc(
    pandoc: str, blocks: list[Block], settings: Mapping[str, Any], base: Path
) -> str:
    """Convert the blocks to a page in one pandoc run.

    One run gives one TOC and one set of heading ids; ``--embed-resources`` inlines local
    images and fails on any remote resource, so the page is self-contained.

    Figures and tables that load nothing from outside (inline SVG, data URIs: nearly all of
    the page's bytes) reach pandoc as a placeholder comment each and are put back in its
    output: --embed-resources re-parses every byte of the page it writes, which made pandoc
    take four times as long. A fragment that does load something goes through pandoc as is.
    """
    parts = []
    stand_ins = StandIns()
    for index, block in enumerate(blocks):
        if block.kind == "raw":
            continue
        if block.kind == "markdown":
            parts.append(_markdown(block.text, "html"))
        elif block.kind == "code" and block.lang == "python":
            parts.append(_fenced(block.text, "python"))
        else:
            fragment = stand_ins.stand_in(_html_fragment(block, index))
            parts.append(_fenced(fragment, "{=html}"))
    with tempfile.TemporaryDirectory(prefix="sendstats-render-") as name:
        tmp = Path(name)
        (tmp / "page.html").write_text(HTML_TEMPLATE.replace("/*CSS*/", CSS), encoding="utf-8")
        args = [
            "-f",
            "markdown",
            "-t",
            "html5",
            "--template",
            str(tmp / "page.html"),
            "--embed-resources",
            f"--resource-path={base}",
            *_meta_args(settings, tmp),
        ]
        page = _run_pandoc(pandoc, args, stdin="\n\n".join(parts) + "\n")
    try:
        return put_back(page, stand_ins.fragments, "pandoc")
    except ValueError as exc:
        raise _ConversionError(str(exc)) from exc


def _html_with_mistune(blocks: list[Block], settings: Mapping[str, Any], base: Path) -> str:
    """Build the page without pandoc: nbconvert's mistune filter for markdown, a TOC of h2/h3."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    body = "\n".join(
        markdown2html_mistune(b.text) if b.kind == "markdown" else _html_fragment(b, i)
        for i, b in enumerate(blocks)
        if b.kind != "raw"
    )
    body = re.sub(r'<img src="(?!data:|https?:)([^"]+)"', lambda m: _data_uri(m, base), body)
    toc: list[str] = []

    def add_id(match: re.Match[str]) -> str:
        level, content = match[1], re.sub(r'<a class="anchor-link".*?</a>', "", match[2])
        text = re.sub(r"<[^>]+>", "", content)
        ident = f"s{len(toc) + 1}-" + re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
        if level in "23":
            toc.append(f'<li class="toc-h{level}"><a href="#{ident}">{text}</a></li>')
        return f'<h{level} id="{ident}">{content}</h{level}>'

    body = re.sub(r"<h([1-6])(?:\s[^>]*)?>(.*?)</h\1>", add_id, body, flags=re.S)
    esc = {k: html.escape(str(v)) for k, v in settings.items() if isinstance(v, str | int)}
    title = esc.get("title", "")
    head = f'<h1 class="title">{title}</h1>' if title else ""
    head += f'<p class="date">{esc["date"]}</p>' if esc.get("date") else ""
    nav = ""
    if settings.get("toc") and toc:
        heading = esc.get("toc-title", "Contents")
        nav = (
            f'<nav id="TOC" aria-label="{heading}"><h2>{heading}</h2><ul>{"".join(toc)}</ul></nav>'
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{esc["lang"]}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<header id="title-block-header">{head}</header>\n{nav}\n<main>\n{body}\n</main>\n'
        "</body>\n</html>\n"
    )


def _data_uri(match: re.Match[str], base: Path) -> str:
    """Return an ``<img src=`` with a local image file inlined as a data URI."""
    path = (base / match[1]).resolve()
    kind = {".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    mime = kind.get(path.suffix.lower(), "image/png")
    if not path.is_file():
        raise _ConversionError(f"image {match[1]} not found beside the document")
    return f'<img src="data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"'


# --- PDF --------------------------------------------------------------------------------------


def _notebook_to_pdf(nb: NotebookNode, base: Path) -> bytes:
    """Write the executed notebook as PDF.

    pandoc turns the markdown into typst, figures are written as files beside the temporary
    ``.typ``, and the typst compiler (a library in the ``typst`` package) makes the PDF.
    """
    try:
        import typst
    except ImportError as exc:
        raise _ConversionError("PDF needs the 'typst' package (pip install typst)") from exc
    pandoc = _pandoc()
    if pandoc is None:
        raise _ConversionError("PDF needs pandoc (pip install pypandoc_binary)")
    settings = _settings(nb, "typst")
    lang, _, region = settings["lang"].partition("-")
    today = dt.date.today()
    variables = {
        "footer-date": settings["date"] or f"{today.day} {today:%B %Y}",
        "typst-lang": lang,
        "typst-region": region or "GB",
        "papersize": str(settings.get("papersize") or "a4"),
    }
    blocks = notebook_blocks(nb, "pdf")
    if settings.get("html-table-processing") == "none":  # as Quarto: no HTML table in the PDF
        blocks = [replace(b, lang=HTML_ONLY) if b.kind == "html" else b for b in blocks]
    with tempfile.TemporaryDirectory(prefix="sendstats-render-") as name:
        tmp = Path(name)
        parts = [_typst_part(pandoc, block, i, tmp) for i, block in enumerate(blocks)]
        (tmp / "page.typ").write_text(TYPST_TEMPLATE, encoding="utf-8")
        args = ["-f", "markdown", "-t", "typst", "--template", str(tmp / "page.typ")]
        args += [f"--variable={key}:{value}" for key, value in variables.items()]
        args += ["-o", "report.typ", *_meta_args(settings, tmp), *_heading_shift(blocks)]
        # Images the markdown links (beside the .qmd) are copied next to the .typ, as typst
        # reads no file outside its root.
        args += [f"--resource-path={base}", "--extract-media=media"]
        _run_pandoc(pandoc, args, stdin="\n\n".join(parts) + "\n", cwd=tmp)
        try:
            return bytes(typst.compile(str(tmp / "report.typ"), root=str(tmp)))
        except RuntimeError as exc:
            raise _ConversionError(f"typst failed: {exc}") from exc


def _heading_shift(blocks: list[Block]) -> list[str]:
    """Return pandoc args making the top heading level typst's level 1.

    Quarto documents start sections at ``##`` (the title is the h1); typst would number them
    0.1, 0.2 and indent them in the outline.
    """
    levels = [
        len(match[1])
        for block in blocks
        if block.kind == "markdown"
        for match in re.finditer(r"^(#{1,6})\s", block.text, re.M)
    ]
    top = min(levels, default=1)
    return [f"--shift-heading-level-by={1 - top}"] if top > 1 else []


def _typst_part(pandoc: str, block: Block, index: int, tmp: Path) -> str:
    """Return the markdown (or raw typst) of one block for the PDF."""
    if block.kind == "markdown":
        return _markdown(block.text, "typst")
    if block.kind == "code":
        return _fenced(block.text, "python" if block.lang == "python" else "")
    if block.kind == "raw":
        return _fenced(block.text, "{=" + block.lang + "}") if block.lang == "typst" else ""
    if block.kind == "html" and ("<table" not in block.text or block.lang == HTML_ONLY):
        return ""  # raw HTML other than a table (an inline chart) has its own typst block
    if block.kind == "html":
        converted = _run_pandoc(pandoc, ["-f", "html", "-t", "typst"], stdin=block.text)
        caption = f"#block(below: 0.4em)[#strong({_typst_string(block.caption)})]\n"
        return _fenced((caption if block.caption else "") + converted, "{=typst}")
    suffix = {"image/svg+xml": ".svg", "image/jpeg": ".jpg"}.get(block.mime, ".png")
    path = tmp / f"figure-{index}{suffix}"
    if block.mime == "image/svg+xml":
        path.write_text(block.text, encoding="utf-8")
    else:
        path.write_bytes(base64.b64decode(block.text))
    alt = f", alt: {_typst_string(block.alt)}" if block.alt else ""
    caption = f", caption: [#{_typst_string(block.caption)}]" if block.caption else ""
    label = f" <{block.label}>" if re.fullmatch(r"[\w:.-]+", block.label) else ""
    return _fenced(f'#figure(fitimage("{path.name}"{alt}){caption}){label}', "{=typst}")


def _typst_string(text: str) -> str:
    """Return ``text`` as a typst string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
