"""The fallback's executors: the in-process IPython shell and the batch's worker processes.

The shell replaces a Jupyter kernel for sendstats' own documents, so the first test runs one
document through both and requires the same outputs, in the same order.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from nbformat import NotebookNode

from sendstats.render.kernel import KernelSession
from sendstats.render.qmd import CellError, parse_qmd
from sendstats.render.shell import ShellSession
from sendstats.render.workers import WorkerPool

DOC = """\
---
title: Outputs
---

```{python}
#| tags: [parameters]
name = "none"
```

Inline: `{python} name.upper()`.

```{python}
print("before")
from IPython.display import HTML, display
display({"text/markdown": "**shown**", "text/plain": "<shown>"}, raw=True)
print("after", name)
print("more")
display(HTML("<b>html</b>"))
```

```{python}
import sys
print("to stderr", file=sys.stderr)
{"last": name}
```

```{python}
#| output: asis
print(f"## Heading for {name}")
x = 41
```

```{python}
x + 1
```
"""


def _doc(tmp_path: Path, text: str = DOC) -> NotebookNode:
    path = tmp_path / "doc.qmd"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return parse_qmd(path)


def _outputs(nb: NotebookNode) -> list[list[dict[str, Any]]]:
    """Each code cell's outputs without execution counts, consecutive streams merged."""
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        merged: list[dict[str, Any]] = []
        for output in cell.outputs:
            item = {k: v for k, v in output.items() if k != "execution_count"}
            last = merged[-1] if merged else None
            if last and item["output_type"] == "stream" and last.get("name") == item.get("name"):
                last["text"] += item["text"]
            else:
                merged.append(item)
        cells.append(merged)
    return cells


def test_shell_records_what_a_kernel_records(tmp_path: Path) -> None:
    nb = _doc(tmp_path)
    with ShellSession() as shell:
        mine = shell.run(nb, {"name": "leeds"}, tmp_path, 60)
    with KernelSession() as kernel:
        theirs = kernel.run(nb, {"name": "leeds"}, tmp_path, 60)
    assert _outputs(mine) == _outputs(theirs)
    # ... and those are the outputs the document asked for, in order.
    first = _outputs(mine)[2]
    assert [o["output_type"] for o in first] == ["stream", "display_data", "stream", "display_data"]
    assert first[0]["text"] == "before\n" and first[2]["text"] == "after leeds\nmore\n"
    assert first[1]["data"]["text/markdown"] == "**shown**"
    assert first[3]["data"]["text/html"] == "<b>html</b>"
    stderr = {"output_type": "stream", "name": "stderr", "text": "to stderr\n"}
    assert _outputs(mine)[3][0] == stderr
    assert _outputs(mine)[3][1]["data"]["text/plain"] == "{'last': 'leeds'}"
    assert _outputs(mine)[-1][0]["data"]["text/plain"] == "42"
    assert "Inline: LEEDS." in "".join(c.source for c in mine.cells if c.cell_type == "markdown")


def test_shell_starts_each_document_empty_and_puts_the_cwd_back(tmp_path: Path) -> None:
    (tmp_path / "here.txt").write_text("found", encoding="utf-8")
    nb = _doc(
        tmp_path,
        """\
        ```{python}
        print(globals().get("kept"), open("here.txt").read())
        kept = 1
        ```
        """,
    )
    before, streams = os.getcwd(), (sys.stdout, sys.stderr)
    with ShellSession() as shell:
        for _ in range(2):
            out = shell.run(nb, {}, tmp_path, 60)
            assert out.cells[0].outputs[0]["text"] == "None found\n"
    assert os.getcwd() == before
    assert (sys.stdout, sys.stderr) == streams


def test_shell_names_the_failing_cell_and_stops_at_the_timeout(tmp_path: Path) -> None:
    failing = _doc(tmp_path, "```{python}\n#| label: divide\n1 / 0\n```\n")
    with pytest.raises(CellError) as caught:
        ShellSession().run(failing, {}, tmp_path, 60)
    assert caught.value.cell == "cell 1 (line 1) 'divide'"
    assert caught.value.detail == "ZeroDivisionError: division by zero"
    slow = _doc(tmp_path, "```{python}\nimport time\ntime.sleep(30)\n```\n")
    with pytest.raises(CellError, match="the document ran past 1 s"):
        ShellSession().run(slow, {}, tmp_path, 1)


def test_inside_a_users_ipython_the_document_gets_a_kernel_not_their_shell() -> None:
    code = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance()\n"
        "from sendstats.render.shell import new_session\n"
        "print(type(new_session()).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "KernelSession"
    code = "from sendstats.render.shell import new_session\nprint(type(new_session()).__name__)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ShellSession"


def test_worker_pool_runs_documents_and_replaces_a_dead_worker(tmp_path: Path) -> None:
    nb = _doc(
        tmp_path,
        """\
        ```{python}
        #| tags: [parameters]
        how = "ok"
        ```

        ```{python}
        #| label: work
        import os
        os.write(1, b"stray bytes on the worker's stdout\\n")  # must not reach the pipe
        if how == "die":
            os._exit(3)
        if how == "raise":
            raise ValueError("bad input")
        print("pid", os.getpid())
        ```
        """,
    )
    with WorkerPool(1) as pool:
        first = pool.run(nb, {"how": "ok"}, tmp_path, 60)
        pid = first.cells[-1].outputs[-1]["text"]
        assert pid.startswith("pid ")
        with pytest.raises(CellError) as raised:
            pool.run(nb, {"how": "raise"}, tmp_path, 60)
        assert raised.value.cell.endswith("'work'")
        assert raised.value.detail == "ValueError: bad input"
        # The worker that raised is reused (one worker: the same process) ...
        assert pool.run(nb, {"how": "ok"}, tmp_path, 60).cells[-1].outputs[-1]["text"] == pid
        with pytest.raises(CellError, match=r"it died \(exit code 3\)"):
            pool.run(nb, {"how": "die"}, tmp_path, 60)
        # ... and a dead one is replaced by a new process.
        again = pool.run(nb, {"how": "ok"}, tmp_path, 60).cells[-1].outputs[-1]["text"]
        assert again.startswith("pid ") and again != pid
