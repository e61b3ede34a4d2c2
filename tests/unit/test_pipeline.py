"""The step table and per-step code fingerprints: what reruns when which code changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sendstats.core import config
from sendstats.pipeline import build


def test_step_table_declares_every_read_and_orders_by_it() -> None:
    from sendstats.acquire import catalog
    from sendstats.pipeline import table

    names = [s.name for s in table.STEPS]
    assert len(set(names)) == len(names)
    assert len({s.writes for s in table.STEPS}) == len(names)
    order = [s.name for s in table.ordered(table.STEPS)]
    for step in table.STEPS:
        assert all(order.index(a) < order.index(step.name) for a in step.after)
        for source in step.sources:
            catalog.get_source(source)  # declared
        assert callable(build.resolve(step.function))
        assert step.schema is None or build.resolve(step.schema) is not None
    with pytest.raises(ValueError, match="unknown steps"):
        table.ordered((table.step_named(table.STEPS, "metrics:rates"),))


def _fingerprints(edit: str | None) -> dict[str, str]:
    """Every step's code fingerprint, with one module's text edited (a comment appended)."""
    from sendstats.pipeline import fingerprint, table

    target = config.PACKAGE_DIR.joinpath(*edit.split(".")[1:]).with_suffix(".py") if edit else None

    def read(path: Path) -> bytes:
        data = path.read_bytes()
        return data + b"\n# edited\n" if path == target else data

    return {s.name: fingerprint.code_fingerprint(s.function, read) for s in table.STEPS}


@pytest.mark.parametrize(
    "module",
    [
        "sendstats.report.figures.la",
        "sendstats.report.profile",
        "sendstats.report.sections.high_needs",
        "sendstats.render.document",
        "sendstats.cli",
    ],
)
def test_editing_a_figure_report_or_narrative_reruns_no_data_step(module: str) -> None:
    assert _fingerprints(module.replace("sendstats.cli", "sendstats.cli.__init__")) == (
        _fingerprints(None)
    )


def test_editing_one_reader_changes_only_its_own_steps_code() -> None:
    before = _fingerprints(None)
    after = _fingerprints("sendstats.sources.moj_send_tribunal")
    assert [k for k in before if before[k] != after[k]] == ["tidy:moj_send_tribunal__appeals"]
    rates = _fingerprints("sendstats.metrics.rates")
    assert [k for k in before if before[k] != rates[k]] == ["metrics:rates"]
    geography = _fingerprints("sendstats.geography.crosswalk")
    changed = {k for k in before if before[k] != geography[k]}
    assert {"tidy:dfe_sen2__ehcp", "tidy:ons_population__population"} <= changed


def test_every_source_has_the_one_shape() -> None:
    import importlib
    import inspect

    from sendstats.pipeline import table

    for step in table.STEPS:
        if not step.sources:
            continue
        module_name, function = step.function.split(":")
        assert function == "tidy", step.name
        module = importlib.import_module(module_name)
        assert callable(module.required_files) and module.required_files()
        assert list(inspect.signature(module.tidy).parameters) == ["paths"], step.name


def test_editing_a_source_layout_reruns_that_source_only() -> None:
    from sendstats.pipeline import fingerprint, table

    layout = config.PACKAGE_DIR / "sources" / "layouts" / "dfe_sen2.yaml"

    def read(path: Path) -> bytes:
        return path.read_bytes() + (b"\n# edited\n" if path == layout else b"")

    before = _fingerprints(None)
    after = {s.name: fingerprint.code_fingerprint(s.function, read) for s in table.STEPS}
    assert [k for k in before if before[k] != after[k]] == ["tidy:dfe_sen2__ehcp"]


def test_a_broken_layout_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sendstats.sources import layouts

    (tmp_path / "x.yaml").write_text("- not\n- a mapping\n", encoding="utf-8")
    monkeypatch.setattr(layouts, "LAYOUTS_DIR", tmp_path)
    layouts.load_layout.cache_clear()
    with pytest.raises(layouts.LayoutError, match=r"x\.yaml: a layout is a mapping"):
        layouts.load_layout("x")
    layouts.load_layout.cache_clear()
