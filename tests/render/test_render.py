"""Tests of the report renderer: the .qmd reader, the fallback (nbclient + pandoc/typst) and the
Quarto path (a fake ``quarto`` on PATH that records its argv)."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import textwrap
import zlib
from pathlib import Path
from typing import Any

import pytest

from sendstats.render import document as render
from sendstats.render.batch import render_many
from sendstats.render.document import RenderError, render_report
from sendstats.render.qmd import QmdError, parse_qmd, prepare_notebook
from sendstats.render.quarto import private_copy, quarto_argv

REPORT = """\
---
title: "Area profile"
lang: en-GB
format:
  html:
    embed-resources: true
    toc: true
execute:
  echo: false
---

Intro paragraph.

```{python}
#| tags: [parameters]
la_code = "E00000000"
year = 2000
```

## Overview of `{python} la_code`

```{python}
print(f"PARAM-CHECK {la_code} {year + 1}")
```

```{python}
#| output: asis
print(f"### Detail for {la_code}\\n\\n- first point\\n- second point\\n")
```

```{python}
#| label: fig-bars
#| fig-cap: "Counts by group"
#| fig-alt: "Bar chart: group b has twice the count of group a"
import altair as alt
alt.renderers.enable("svg")
alt.Chart(alt.Data(values=[{"g": "a", "n": 1}, {"g": "b", "n": 2}])).mark_bar().encode(
    x="g:N", y="n:Q"
)
```

```{python}
#| echo: true
shown_code = 1 + 1
```

```{python}
#| label: tbl-areas
#| tbl-cap: "Areas compared"
from IPython.display import HTML
HTML("<table><tr><th>Area</th></tr><tr><td>one</td></tr></table>")
```

## Closing notes
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The sample report rendered once by the fallback, shared by the HTML assertions."""
    folder = tmp_path_factory.mktemp("report")
    qmd = write(folder / "profile.qmd", REPORT)
    out = render_report(
        qmd, {"la_code": "E09000033", "year": 2024}, folder / "out" / "p.html", engine="fallback"
    )
    return out.read_text(encoding="utf-8")


# --- reading the .qmd -------------------------------------------------------------------------


def test_parse_moves_options_to_metadata_and_skips_display_fences(tmp_path: Path) -> None:
    qmd = write(
        tmp_path / "d.qmd",
        """\
        ---
        title: T
        ---
        Text.

        ````markdown
        ```{python}
        not_a_cell = 1
        ```
        ````

        ```{python}
        #| label: tbl-x
        #| tags: [parameters]
        #| fig-alt: "an alt"
        x = 1
        ```
        """,
    )
    nb = parse_qmd(qmd)
    assert nb.metadata["front_matter"] == {"title": "T"}
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) == 1
    assert code[0].source == "x = 1"
    assert code[0].metadata["quarto"] == {
        "label": "tbl-x",
        "tags": ["parameters"],
        "fig-alt": "an alt",
    }
    assert code[0].metadata["tags"] == ["parameters"]
    assert "not_a_cell" in nb.cells[0].source


def test_parse_refuses_other_engines_and_unclosed_cells(tmp_path: Path) -> None:
    with pytest.raises(QmdError, match=r"\{r\} cell"):
        parse_qmd(write(tmp_path / "r.qmd", "```{r}\n1\n```\n"))
    with pytest.raises(QmdError, match="never closed"):
        parse_qmd(write(tmp_path / "o.qmd", "```{python}\n1\n"))


def test_parameters_injected_right_after_the_tagged_cell(tmp_path: Path) -> None:
    nb = parse_qmd(write(tmp_path / "d.qmd", REPORT))
    prepared = prepare_notebook(nb, {"la_code": "E09000033", "year": 2024}, tmp_path)
    sources = [c.source for c in prepared.cells if c.cell_type == "code"]
    tagged = next(i for i, s in enumerate(sources) if s.startswith('la_code = "E00000000"'))
    assert sources[tagged + 1] == "# Parameters\nla_code = 'E09000033'\nyear = 2024\n"


# --- fallback HTML ----------------------------------------------------------------------------


def test_params_reach_the_output(rendered: str) -> None:
    assert "PARAM-CHECK E09000033 2025" in rendered
    assert "E00000000" not in rendered


def test_page_is_titled_english_and_headings_keep_their_order(rendered: str) -> None:
    assert '<html lang="en-GB">' in rendered
    assert "<title>Area profile</title>" in rendered
    main = rendered.split("<main>", 1)[1]
    headings = re.findall(r"<h([23])[^>]*>(.*?)</h\1>", main)
    assert headings == [
        ("2", "Overview of E09000033"),
        ("3", "Detail for E09000033"),
        ("2", "Closing notes"),
    ]
    assert 'href="#closing-notes"' in rendered.split("<main>", 1)[0]


def test_asis_output_is_markdown(rendered: str) -> None:
    assert re.search(r"<ul>\s*<li>first point</li>\s*<li>second point</li>\s*</ul>", rendered)
    assert "### Detail" not in rendered


def test_code_hidden_unless_echo_true(rendered: str) -> None:
    text = re.sub(r"<[^>]+>", "", rendered)  # pandoc wraps highlighted tokens in spans
    assert "shown_code = 1 + 1" in text
    assert "alt.renderers.enable" not in rendered
    assert "PARAM-CHECK {la_code}" not in rendered


def test_html_table_keeps_label_and_caption(rendered: str) -> None:
    assert re.search(
        r'<figure class="cell-table" id="tbl-areas"><figcaption>Areas compared</figcaption>'
        r"<table>",
        rendered,
    )


def test_altair_chart_is_inline_svg_with_alt_text(rendered: str) -> None:
    figure = re.search(r'<figure class="cell-figure" id="fig-bars">(.*?)</figure>', rendered, re.S)
    assert figure is not None
    assert re.match(
        r'<svg role="img" aria-label="Bar chart: group b has twice the count of group a"',
        figure[1],
    )
    assert "<figcaption>Counts by group</figcaption>" in figure[1]
    assert "<script" not in rendered
    assert not re.search(r'(src|href)="https?://', rendered)


def test_altair_default_renderer_is_drawn_offline(tmp_path: Path) -> None:
    qmd = write(
        tmp_path / "c.qmd",
        """\
        ```{python}
        #| fig-alt: "two bars"
        import altair as alt
        alt.Chart(alt.Data(values=[{"g": "a"}, {"g": "b"}])).mark_bar().encode(x="g:N")
        ```
        """,
    )
    page = render_report(qmd, {}, tmp_path / "c.html", engine="fallback").read_text()
    assert '<svg role="img" aria-label="two bars"' in page
    assert "cdn.jsdelivr" not in page and "<script" not in page


def test_cell_error_names_the_cell_and_keeps_existing_output(tmp_path: Path) -> None:
    qmd = write(
        tmp_path / "bad.qmd",
        """\
        ```{python}
        #| tags: [parameters]
        la_code = "x"
        ```

        ```{python}
        #| label: divide
        total = 1 / 0
        ```
        """,
    )
    out = tmp_path / "bad.html"
    out.write_text("previous report", encoding="utf-8")
    with pytest.raises(RenderError) as caught:
        render_report(qmd, {"la_code": "E06000001"}, out, engine="fallback")
    message = str(caught.value)
    assert "bad.qmd" in message and "la_code='E06000001'" in message
    assert "cell 2 (line 6) 'divide'" in message
    assert "ZeroDivisionError: division by zero" in message
    assert out.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.html", "bad.qmd"]


def test_prepare_finishes_before_the_first_cell_and_its_error_stops_the_render(
    tmp_path: Path,
) -> None:
    # The CLI's build check runs while the kernel starts: the document must see what it wrote,
    # and a failed check must leave the previous report in place.
    qmd = write(
        tmp_path / "p.qmd",
        """\
        ```{python}
        #| output: asis
        from pathlib import Path
        print(Path("ready.txt").read_text())
        ```
        """,
    )

    def prepare() -> None:
        import time

        time.sleep(1.0)  # longer than the kernel takes to start
        (tmp_path / "ready.txt").write_text("built before the cells ran", encoding="utf-8")

    page = render_report(qmd, {}, tmp_path / "p.html", engine="fallback", prepare=prepare)
    assert "built before the cells ran" in page.read_text(encoding="utf-8")

    def failing() -> None:
        raise RuntimeError("the build check failed")

    page.write_text("previous report", encoding="utf-8")
    with pytest.raises(RuntimeError, match="the build check failed"):
        render_report(qmd, {}, page, engine="fallback", prepare=failing)
    assert page.read_text(encoding="utf-8") == "previous report"


def test_shell_metacharacters_are_refused(tmp_path: Path) -> None:
    qmd = write(tmp_path / "d.qmd", "text\n")
    for value in ["E09; rm -rf /", "$(id)", "a`b`", "a|b", "x\ny", "a:b"]:
        with pytest.raises(RenderError, match="refused"):
            render_report(qmd, {"la_code": value}, tmp_path / "d.html", engine="fallback")
    with pytest.raises(RenderError, match="identifier"):
        render_report(qmd, {"la-code": "x"}, tmp_path / "d.html", engine="fallback")
    assert not (tmp_path / "d.html").exists()


def test_mistune_fallback_when_no_pandoc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "_pandoc", lambda: None)
    qmd = write(tmp_path / "m.qmd", "---\ntitle: M\ntoc: true\n---\n\n## First\n\n*em*\n")
    page = render_report(qmd, {}, tmp_path / "m.html", engine="fallback").read_text()
    assert '<html lang="en-GB">' in page
    assert '<h2 id="s1-first">First</h2>' in page
    assert '<a href="#s1-first">First</a>' in page.split("<main>")[0]
    assert "<em>em</em>" in page


def test_pdf_has_pages_and_keeps_svg_charts(tmp_path: Path) -> None:
    qmd = write(tmp_path / "p.qmd", REPORT)
    out = render_report(
        qmd, {"la_code": "E09000033"}, tmp_path / "p.pdf", to="pdf", engine="fallback"
    )
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    # The chart's fig-alt is the Alt of a Figure in the PDF's tag tree ...
    assert b"/S/Figure" in data
    assert b"/Alt(Bar chart: group b has twice the count of group a)" in data
    # ... and its bars are drawn as vectors in Vega's default blue (#4c78a8).
    pages = b"".join(
        zlib.decompress(m[1])
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
        if m[1][:1] == b"x"
    )
    assert re.search(rb"0\.298\d* 0\.470\d* 0\.658\d* scn", pages)


# --- many -------------------------------------------------------------------------------------


def test_render_many_renders_each_parameter_set(tmp_path: Path) -> None:
    qmd = write(
        tmp_path / "many.qmd",
        """\
        ```{python}
        #| tags: [parameters]
        la_code = "none"
        ```

        ```{python}
        leaked = globals().get("seen")
        seen = la_code
        print(f"LA={la_code} leaked={leaked}")
        ```
        """,
    )
    codes = ["E06000001", "E08000025", "E09000033"]
    jobs = [(qmd, {"la_code": c}, tmp_path / "out" / f"{c}.html") for c in codes]
    paths = render_many(jobs, engine="fallback", workers=2, progress=False)
    assert paths == [tmp_path / "out" / f"{c}.html" for c in codes]
    for code, path in zip(codes, paths, strict=True):
        # Each document starts with an empty namespace even when its kernel is reused.
        assert f"LA={code} leaked=None" in path.read_text()


def test_render_many_stops_and_names_the_failing_params(tmp_path: Path) -> None:
    qmd = write(
        tmp_path / "f.qmd",
        '```{python}\n#| tags: [parameters]\nla_code = ""\n```\n\n'
        '```{python}\nassert la_code != "E09000002", "no data"\n```\n',
    )
    jobs = [(qmd, {"la_code": c}, tmp_path / f"{c}.html") for c in ["E09000001", "E09000002"]]
    with pytest.raises(RenderError, match=r"la_code='E09000002'.*AssertionError: no data"):
        render_many(jobs, engine="fallback", workers=1, progress=False)
    assert (tmp_path / "E09000001.html").exists()
    assert not (tmp_path / "E09000002.html").exists()


# --- Quarto path ------------------------------------------------------------------------------

FAKE_QUARTO = """\
import json, os, sys
from pathlib import Path
with open(os.environ["FAKE_QUARTO_LOG"], "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(),
                         "python": os.environ.get("QUARTO_PYTHON")}) + "\\n")
if os.environ.get("FAKE_QUARTO_FAIL"):
    print("Starting python3 kernel...", file=sys.stderr)
    print("ERROR: NameError: name 'la_nme' is not defined", file=sys.stderr)
    sys.exit(1)
if "--output" not in sys.argv:  # a project render (the batch): its render list, in order
    import yaml
    project = yaml.safe_load(Path("_quarto.yml").read_text())["project"]
    out_dir = Path(project.get("output-dir") or ".")
    for n, path in enumerate(project["render"], 1):
        print(f"[{n}/{len(project['render'])}] {path}", file=sys.stderr)
        nb = json.loads(Path(path).read_text())
        texts = ["".join(c["source"]) for c in nb["cells"]]
        for cell in nb["cells"]:
            for out in cell.get("outputs", []):
                texts.append("".join(out.get("text", "")))
                texts.append("".join(out.get("data", {}).get("text/markdown", "")))
        target = out_dir / Path(path).with_suffix(".html")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("<html>fake project\\n" + "\\n".join(texts) + "</html>")
    sys.exit(0)
name = sys.argv[sys.argv.index("--output") + 1]
folder = Path(os.environ.get("FAKE_QUARTO_OUTDIR") or Path(sys.argv[2]).parent)
folder.mkdir(parents=True, exist_ok=True)
(folder / name).write_text("<html>fake " + " ".join(sys.argv[3:]) + "</html>")
print(f"Output created: {folder / name}", file=sys.stderr)
"""


@pytest.fixture
def fake_quarto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``quarto`` on PATH that logs its argv to the returned file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "quarto"
    script.write_text(f"#!{sys.executable}\n{FAKE_QUARTO}", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_QUARTO_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_quarto_argv_quotes_strings_to_keep_their_type() -> None:
    argv = quarto_argv(
        Path("/r/la.qmd"), {"la": "201", "name": "King's Lynn", "y": 2024}, "o.html", "html"
    )
    assert argv == [
        "quarto", "render", "/r/la.qmd",
        "-P", "la:'201'", "-P", "name:'King''s Lynn'", "-P", "y:2024",
        "--to", "html", "--output", "o.html",
    ]  # fmt: skip


def test_quarto_path_runs_quarto_and_moves_the_output(tmp_path: Path, fake_quarto: Path) -> None:
    (tmp_path / "doc").mkdir()
    qmd = write(tmp_path / "doc" / "la.qmd", "x\n")
    assert render.quarto_available()
    out = render_report(qmd, {"la_code": "E09000033", "year": 2024}, tmp_path / "o" / "la.html")
    (call,) = calls(fake_quarto)
    name, copy = call["argv"][-1], Path(str(call["argv"][1]))
    assert call["argv"] == [
        "render", str(copy), "-P", "la_code:'E09000033'", "-P", "year:2024",
        "--to", "html", "--output", name,
    ]  # fmt: skip
    assert re.fullmatch(r"la\.sendstats-\d+-\d+\.html", name)
    # Quarto runs in a private copy of the document's folder, removed afterwards.
    assert copy.name == "la.qmd" and copy != qmd and not copy.exists()
    assert call["cwd"] == str(copy.parent) and call["python"] == sys.executable
    assert out.read_text().startswith("<html>fake -P la_code:'E09000033'")
    assert sorted(p.name for p in qmd.parent.iterdir()) == ["la.qmd"]


def test_quarto_pdf_uses_typst_and_finds_project_output(
    tmp_path: Path, fake_quarto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "doc").mkdir()
    qmd = write(tmp_path / "doc" / "la.qmd", "x\n")
    monkeypatch.setenv("FAKE_QUARTO_OUTDIR", str(tmp_path / "_site" / "doc"))
    out = render_report(qmd, {}, tmp_path / "la.pdf", to="pdf", engine="quarto")
    assert calls(fake_quarto)[0]["argv"][-4:-1] == ["--to", "typst", "--output"]
    assert out.read_text().startswith("<html>fake")
    assert list((tmp_path / "_site" / "doc").iterdir()) == []


def test_quarto_failure_reports_stderr_and_keeps_output(
    tmp_path: Path, fake_quarto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qmd = write(tmp_path / "la.qmd", "x\n")
    out = write(tmp_path / "la.html", "previous")
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "1")
    with pytest.raises(RenderError) as caught:
        render_report(qmd, {"la_code": "E09000033"}, out)
    message = str(caught.value)
    assert "la.qmd" in message and "la_code='E09000033'" in message
    assert "quarto exited with 1" in message and "name 'la_nme' is not defined" in message
    assert out.read_text() == "previous"


def test_quarto_engine_refused_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not render.quarto_available()
    with pytest.raises(RenderError, match="no quarto"):
        render_report(write(tmp_path / "a.qmd", "x\n"), {}, tmp_path / "a.html", engine="quarto")


BATCH = """\
---
title: "Batch"
format:
  html:
    toc: true
---

```{python}
#| tags: [parameters]
la = "000"
```

```{python}
#| tags: []
#| output: asis
print(f"LA={la} leaked={globals().get('seen')}")
seen = la
print("```{=html}\\n<svg role='img' aria-label='chart " + la + "'></svg>\\n```")
print("```{=typst}\\n#image(\\"chart-" + la + ".svg\\")\\n```")
```
"""


def test_quarto_render_many_renders_groups_of_executed_notebooks(
    tmp_path: Path, fake_quarto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sendstats.render import batch

    monkeypatch.setattr(batch, "QUARTO_GROUP", 2)
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\n  output-dir: _site\n")
    qmd = write(tmp_path / "reports" / "la.qmd", BATCH)
    codes = ["201", "202", "203", "204", "205"]
    jobs = [(qmd, {"la": c}, tmp_path / "out" / f"{c}.html") for c in codes]
    paths = render_many(jobs, engine="quarto", workers=2, progress=False)
    assert paths == [tmp_path / "out" / f"{c}.html" for c in codes]
    for code, path in zip(codes, paths, strict=True):
        page = path.read_text()
        # Executed by sendstats' kernels (a fresh namespace each), rendered by "Quarto" ...
        assert page.startswith("<html>fake project") and f"LA={code} leaked=None" in page
        # ... from a notebook with the front matter first and the cell options as #| lines,
        assert "title: Batch" in page and '#| output: "asis"' in page
        assert "embed-resources: false" in page  # a self-contained page all the same
        # the chart put back in place of its placeholder, the PDF's typst block left out.
        shown = page.split(f"LA={code} leaked=None", 1)[1]  # the cell's output
        assert f"<svg role='img' aria-label='chart {code}'></svg>" in shown
        assert "<!--sendstats-" not in shown and "#image(" not in shown
    # One project render a group of at most two, from a private copy of the project (one
    # per renderer: a second one shares the last notebooks once the kernels are done).
    log = calls(fake_quarto)
    assert 3 <= len(log) <= 5 and all(c["argv"] == ["render", "--to", "html"] for c in log)
    copies = {Path(str(c["cwd"])) for c in log}
    assert len(copies) <= 2 and not any(copy.exists() for copy in copies)
    assert sorted(p.name for p in qmd.parent.iterdir()) == ["la.qmd"]
    assert not (tmp_path / "_site").exists()


def test_quarto_notebook_keeps_only_the_target_format() -> None:
    from sendstats.render.quarto_notebooks import quarto_notebook

    nb = parse_qmd_text("```{python}\n#| label: c\n#| tags: []\nx = 1\n```\n")
    chart = "```{=html}\n<svg aria-label='a'></svg>\n```\n```{=typst}\n#image(\"a.svg\")\n```\n"
    table = "```{=html}\n<table><tr><td>1</td></tr></table>\n```\n"
    remote = '```{=html}\n<img src="https://example.org/a.png">\n```\n'
    nb.cells[0].outputs = [
        {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": chart + table}},
        {"output_type": "stream", "name": "stdout", "text": remote},
    ]
    nb.cells[0].execution_count = 3
    html, fragments = quarto_notebook(nb, "---\ntitle: T\n---", "html")
    assert [c.cell_type for c in html.cells] == ["raw", "code"]
    code = html.cells[1]
    assert code.source.splitlines()[:2] == ['#| label: "c"', "#| tags: []"]
    assert "tags" not in code.metadata and code.execution_count == 1
    markdown = code.outputs[0]["data"]["text/markdown"]
    assert "{=typst}" not in markdown and "<svg" not in markdown
    assert sorted(fragments.values()) == [
        "<svg aria-label='a'></svg>",
        "<table><tr><td>1</td></tr></table>",
    ]
    assert all(key in markdown for key in fragments)
    assert code.outputs[1]["text"] == remote  # loads something: Quarto sees it as it is
    pdf, none = quarto_notebook(nb, "", "pdf")
    markdown = pdf.cells[0].outputs[0]["data"]["text/markdown"]
    assert none == {} and "<svg" not in markdown and "#image" in markdown and "<table>" in markdown


def parse_qmd_text(text: str) -> Any:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return parse_qmd(write(Path(tmp) / "d.qmd", text))


def test_quarto_render_many_renders_other_languages_one_by_one(
    tmp_path: Path, fake_quarto: Path
) -> None:
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    # sendstats runs Python cells only: Quarto renders (and executes) each job itself.
    qmd = write(tmp_path / "reports" / "la.qmd", "```{r}\n1\n```\n")
    codes = ["201", "202", "203", "204", "205"]
    jobs = [(qmd, {"la": c}, tmp_path / "out" / f"{c}.html") for c in codes]
    paths = render_many(jobs, engine="quarto", workers=2, progress=False)
    assert paths == [tmp_path / "out" / f"{c}.html" for c in codes]
    for code, path in zip(codes, paths, strict=True):
        assert path.read_text().startswith(f"<html>fake -P la:'{code}' --to html --output ")
    log = calls(fake_quarto)
    assert sorted(c["argv"][3] for c in log) == [f"la:'{c}'" for c in codes]
    # Each worker renders its own copy of the document (Quarto writes beside it) and keeps
    # that copy's kernel alive between its renders.
    copies = {str(c["argv"][1]) for c in log}
    assert str(qmd) not in copies and 1 <= len(copies) <= 2
    assert all(Path(c).name == "la.qmd" and Path(c).parent.name == "reports" for c in copies)
    assert all(c["argv"][-2:] == ["--execute-daemon", "60"] for c in log)
    assert sorted(p.name for p in qmd.parent.iterdir()) == ["la.qmd"]
    assert not any(Path(c).exists() for c in copies)


def test_quarto_render_many_failure_names_the_document(
    tmp_path: Path, fake_quarto: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qmd = write(tmp_path / "la.qmd", "x\n")
    monkeypatch.setenv("FAKE_QUARTO_FAIL", "1")
    jobs = [(qmd, {"la": c}, tmp_path / f"{c}.html") for c in ["201", "202"]]
    with pytest.raises(RenderError) as caught:
        render_many(jobs, engine="quarto", workers=2, progress=False)
    assert caught.value.document == qmd and "name 'la_nme' is not defined" in str(caught.value)
    assert caught.value.params == {"la": "201"}


def test_private_copy_keeps_the_project_layout(tmp_path: Path) -> None:
    (tmp_path / "_quarto.yml").write_text("project:\n  type: website\n")
    qmd = write(tmp_path / "reports" / "la.qmd", "x\n")
    write(tmp_path / "reports" / "img" / "logo.svg", "<svg/>")
    write(tmp_path / "reports" / "la.quarto_ipynb", "{}")
    (tmp_path / "reports" / "la_files").mkdir()
    copy = private_copy(qmd, tmp_path / "w0")
    assert copy == tmp_path / "w0" / "reports" / "la.qmd" and copy.read_text() == "x\n"
    assert (tmp_path / "w0" / "_quarto.yml").is_file()
    assert (tmp_path / "w0" / "reports" / "img" / "logo.svg").is_file()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["img", "la.qmd"]


# --- details ----------------------------------------------------------------------------------


def test_inline_expression_error_names_the_expression(tmp_path: Path) -> None:
    qmd = write(tmp_path / "i.qmd", "Value: `{python} undefined_name + 1`.\n")
    with pytest.raises(RenderError, match=r"inline expression\(s\) undefined_name \+ 1.*NameError"):
        render_report(qmd, {}, tmp_path / "i.html", engine="fallback")


def test_timeout_bounds_the_whole_document(tmp_path: Path) -> None:
    qmd = write(tmp_path / "slow.qmd", "```{python}\nimport time\ntime.sleep(60)\n```\n")
    with pytest.raises(RenderError, match=r"cell 1 \(line 1\).*ran past 2 s"):
        render_report(qmd, {}, tmp_path / "slow.html", engine="fallback", timeout=2)


def test_two_svgs_on_one_page_do_not_share_ids() -> None:
    svg = (
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" role="graphics-document">'
        '<defs><clipPath id="clip1"><rect/></clipPath></defs>'
        '<g clip-path="url(#clip1)"><use href="#clip1"/></g></svg>'
    )
    first = render._inline_svg(svg, "fig1", "Alt & text")
    second = render._inline_svg(svg, "fig2", "")
    assert first.startswith('<svg role="img" aria-label="Alt &amp; text" xmlns=')
    assert 'id="fig1-clip1"' in first and "url(#fig1-clip1)" in first
    assert 'href="#fig1-clip1"' in first
    assert 'id="fig2-clip1"' in second and 'role="graphics-document"' in second


# --- charts and tables as raw blocks, the site layout, the engine announced ---------------------

RAW_BLOCKS = """\
```{python}
from IPython.display import display
from sendstats.report.viz.display import chart_bundle, table_bundle
import altair as alt, vl_convert
spec = alt.Chart(alt.Data(values=[{"g": "a", "n": 1}])).mark_bar().encode(x="g:N", y="n:Q")
svg = vl_convert.vegalite_to_svg(spec.to_dict())
display(chart_bundle(svg, "Bars for Camden: a is 1"), raw=True)
display(chart_bundle(svg, "Bars for Leeds: a is 1"), raw=True)
display(table_bundle("<table><tr><th>Area</th></tr><tr><td>Camden</td></tr></table>"), raw=True)
```
"""


def test_raw_block_charts_carry_their_own_alt_text_in_html(tmp_path: Path) -> None:
    qmd = write(tmp_path / "raw.qmd", RAW_BLOCKS)
    page = render_report(qmd, {}, tmp_path / "raw.html", engine="fallback").read_text()
    labels = re.findall(r'<svg role="img" aria-label="([^"]*)"', page)
    assert labels == ["Bars for Camden: a is 1", "Bars for Leeds: a is 1"]
    assert "<td>Camden</td>" in page
    assert "#{" not in page and "image(data" not in page  # the typst block is PDF-only


def test_chart_bundle_makes_svg_ids_unique_per_chart() -> None:
    from sendstats.report.viz.display import chart_bundle

    svg = '<svg><clipPath id="clip1"/><g clip-path="url(#clip1)"/></svg>'
    first, second = (chart_bundle(svg, alt)["text/markdown"] for alt in ("one", "two"))
    (id1,) = re.findall(r'id="([^"]+)"', first.split("```{=typst}")[0])
    (id2,) = re.findall(r'id="([^"]+)"', second.split("```{=typst}")[0])
    assert id1 != id2 and id1.endswith("-clip1") and f"url(#{id1})" in first
    assert 'alt: "one"' in first and '<svg role="img" aria-label="one">' in first


def test_raw_block_charts_carry_their_own_alt_text_in_pdf(tmp_path: Path) -> None:
    qmd = write(tmp_path / "raw.qmd", RAW_BLOCKS)
    data = render_report(qmd, {}, tmp_path / "raw.pdf", to="pdf", engine="fallback").read_bytes()
    assert b"/Alt(Bars for Camden: a is 1)" in data and b"/Alt(Bars for Leeds: a is 1)" in data


def test_navbar_links_are_relative_to_the_page(tmp_path: Path) -> None:
    from sendstats.render import site

    page = "<html><body>\n<p>x</p></body></html>"
    top = site.add_navbar(page, 0)
    assert '<a href="index.html">Local authorities</a>' in top
    deep = site.add_navbar(top, 1)
    assert deep.count('<nav class="site-nav"') == 1 and 'href="../methods.html"' in deep


def test_post_render_moves_quarto_pages_into_the_site_layout(tmp_path: Path) -> None:
    from sendstats.render import site

    out = tmp_path / "_site"
    write(out / "la" / "keep.html", "kept")
    profile = write(out / "reports" / "la_profile.html", "<body><p>Camden (DfE code 202)</p>")
    pdf = write(out / "reports" / "la_profile.pdf", "%PDF")
    index = write(out / "reports" / "index.html", "<body>index</body>")
    placed = site.post_render(out, [profile, pdf, index])
    assert [p.relative_to(out).as_posix() for p in placed] == [
        "la/202-camden.html",
        "la/202-camden.pdf",
        "index.html",
    ]
    assert 'href="../index.html"' in (out / "la" / "202-camden.html").read_text()
    assert (out / "la" / "keep.html").read_text() == "kept" and not (out / "reports").exists()


def test_private_copy_drops_project_steps_and_points_at_project_files(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "_quarto.yml").write_text(
        "project:\n  type: default\n  post-render: [tools/site.py]\n"
        "format:\n  html:\n    css: style.css\n    minimal: true\n"
    )
    write(tmp_path / "style.css", "body {}")
    qmd = write(tmp_path / "reports" / "la.qmd", "x\n")
    private_copy(qmd, tmp_path / "w0")
    config = yaml.safe_load((tmp_path / "w0" / "_quarto.yml").read_text())
    assert "post-render" not in config["project"]
    assert config["format"]["html"] == {"css": str(tmp_path / "style.css"), "minimal": True}


def test_engine_in_use_is_announced(
    tmp_path: Path, fake_quarto: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sendstats.render import publish

    assert publish.announce_engine("auto", "the profile of Camden") == "quarto"
    assert "rendering the profile of Camden with Quarto" in capsys.readouterr().err
    assert publish.announce_engine("fallback", "x") == "fallback"
    assert "fallback renderer" in capsys.readouterr().err


def test_data_folder_is_found_from_any_folder_of_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sendstats.core import config

    write(tmp_path / "_quarto.yml", "project: {}\n")
    (tmp_path / "data_sources").mkdir()
    (tmp_path / "reports").mkdir()
    monkeypatch.delenv("SENDSTATS_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path / "reports")
    assert config.data_dir() == tmp_path.resolve() / "data"
    monkeypatch.chdir(tmp_path.parent)
    assert config.data_dir() == tmp_path.parent.resolve() / "data"


def test_html_table_processing_none_keeps_html_tables_out_of_the_pdf(tmp_path: Path) -> None:
    import nbformat

    from sendstats.render.qmd import HTML_ONLY, notebook_blocks

    qmd = "```{python}\n#| html-table-processing: none\nx\n```\n\n```{python}\ny\n```\n"
    nb = parse_qmd(write(tmp_path / "t.qmd", qmd))
    raw = "```{=html}\n<table><tr><td>CELL</td></tr></table>\n```\n"
    raw += "```{=typst}\n#table(columns: 1, [TYPST])\n```\n"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": raw})]
    blocks = [b for b in notebook_blocks(nb, "pdf") if b.kind != "code"]  # echoed source
    assert [(b.kind, b.lang) for b in blocks] == [
        ("html", HTML_ONLY), ("raw", "typst"), ("html", ""), ("raw", "typst")
    ]  # fmt: skip
    pandoc = render._pandoc()
    assert pandoc is not None
    parts = [render._typst_part(pandoc, b, i, tmp_path) for i, b in enumerate(blocks)]
    # As in Quarto: the first cell's HTML table stays out of the PDF; the second's is converted.
    assert parts[0] == "" and "CELL" in parts[2] and "TYPST" in parts[1]
