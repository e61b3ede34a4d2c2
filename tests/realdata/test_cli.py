"""The command line's terminal output and errors (issue 18 item 12, issue 19 "Terminal output").

User errors give one line naming what to fix and exit 2 (usage) or 1; internal errors keep
their traceback; a closed pipe ends quietly; ``compare`` and ``diff`` are readable in 100
columns; every subcommand's ``--help`` has a description and an example.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sendstats import cli
from sendstats.cli.compare import WIDTH, compare_table, format_change, format_value

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(built_root: Path) -> Iterator[Path]:
    """The data folder of a full offline build (the env points at it for the module)."""
    yield built_root / "data"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse's own exits (usage errors, --help)
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("diff", "dfe_sen2", "2019", "2025"), "release '2019' of dfe_sen2 is not in the built"),
        (("diff", "no_such_source", "1", "2"), "no release-aware tidy table for 'no_such_source'"),
        (("build", "--offline", "--as-of", "2001"), "before the first release of dfe_sen2"),
        (("build", "--as-of", "2023-13-01"), "'2023-13-01' is not a date"),
        (("la", "--list", "--date", "2020-02-30"), "'2020-02-30' is not a date"),
        (("compare", "Kent", "--group", ",,,"), "--group ',,,' names no LA"),
        (("compare", "Nowhere"), "no local authority matches: 'Nowhere'"),
        (("compare", "Kent", "--metric", "no_such_pct"), "unknown metric 'no_such_pct'"),
        (("diff", "dfe_sen2", "2023", "2025", "--limit", "0"), "'0' is not a whole number"),
    ],
)
def test_usage_errors_give_one_line_and_exit_2(
    built: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], expect: str
) -> None:
    code, _, err = _run(capsys, *args)
    assert code == 2
    assert expect in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"sendstats {args[0]}: error: ")


def test_missing_data_folder_names_the_folder_and_how_to_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(tmp_path / "nothing"))
    code, _, err = _run(capsys, "compare", "Kent")
    assert code == 2 and err.count("\n") == 1
    assert str(tmp_path / "nothing") in err and "SENDSTATS_DATA_DIR" in err
    assert "sendstats build --offline" in err
    monkeypatch.delenv("SENDSTATS_DATA_DIR")
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(capsys, "compare", "Kent")
    assert code == 2 and str(tmp_path / "data") in err and "./data" in err


def test_disk_errors_are_one_line_naming_the_path(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no" / "such" / "folder" / "k.csv"
    code, _, err = _run(
        capsys, "compare", "Kent", "--metric", "ehc_plans_count", "--csv", str(target)
    )
    assert code == 1 and err.count("\n") == 1
    assert str(target) in err and "No such file or directory" in err


def test_internal_errors_keep_their_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "la", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["la", "Kent"])


def test_closed_pipe_ends_quietly() -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head` that has already exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sendstats", "la", "--list"],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=120,
        )
    finally:
        os.close(write)
    assert done.returncode == 0
    assert done.stderr == ""


def test_every_subcommand_help_has_a_description_and_an_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = list(cli.COMMANDS)
    assert len(names) == 8
    for name in names:
        code, out, _ = _run(capsys, name, "--help")
        assert code == 0
        usage, _, rest = out.partition("\n\n")
        description = rest.split("\n\n")[0]
        assert usage.startswith(f"usage: sendstats {name}")
        assert len(description.split()) >= 8, name  # a sentence, not the options list
        assert "examples:\n  sendstats " in out or "examples:\n  SENDSTATS_" in out, name


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (-0.01, "pct", "0.0%"),
        (-0.04, "per_10k", "0.0"),
        (-2.3, "pct", "-2.3%"),
        (311_663_662.0, "gbp", "£311.7m"),
        (9_952_172_126.0, "gbp", "£9.95bn"),
        (675.4, "gbp", "£675"),
        (None, "count", "-"),
    ],
)
def test_values_are_compact_and_never_minus_zero(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (-0.02, "pct", "±0.0 pp"),
        (0.0, "count", "±0"),
        (-1.7, "pct", "-1.7 pp"),
        (914.0, "count", "+914"),
    ],
)
def test_changes_carry_their_sign_and_never_minus_zero(value: float, unit: str, text: str) -> None:
    assert format_change(value, unit) == text


def test_compare_groups_by_theme_with_titles_in_100_columns_for_many_las(built: Path) -> None:
    from sendstats import geography

    las = [la.la_name for la in geography.list_las(geography.get_la("886").valid_from or _today())]
    sample = {*las[::10], "Kent", "Isles of Scilly", "City of London", "Westmorland and Furness"}
    for name in sorted(sample):
        text = compare_table(name)
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= WIDTH, name
        assert "-0.0" not in text, name
        assert "ehc_plans_count" not in text  # titles, not ids
    kent = compare_table("Kent")
    headings = [h for h in kent.splitlines() if h and not h.startswith(" ")]
    assert "EHC plans: caseload, requests, timeliness" in headings
    assert "SEND Tribunal appeals" in headings
    assert "  EHC plans (January)" in kent  # a title, under its theme
    # No grade letter where the metric has no good direction (issue 19, item 6): Kent refuses
    # more requests than most LAs, which is 'top', not 'A'; timeliness has a direction.
    by_id = compare_table("Kent", ids=True).splitlines()
    refused = next(line for line in by_id if line.startswith("  requests_refused_pct "))
    assert " top " in refused and " A " not in refused
    timely = next(line for line in by_id if line.startswith("  plans_within_20_weeks_e"))
    assert any(f" {letter} " in timely for letter in "ABCD")
    # A % on fewer than 30 cases is marked; the legend says the rule once.
    scilly = compare_table("Isles of Scilly")
    assert "\u2020" in scilly.split("Latest period held")[0]
    assert "Small numbers:" in " ".join(scilly.split())


def _today() -> object:
    import datetime as dt

    return dt.date.today()


def test_diff_lists_largest_revisions_first_and_counts_suppressed_apart(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "diff", "dfe_sen2", "2023", "2025", "--limit", "5")
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    tidy = pl.read_parquet(built / "tidy" / "dfe_sen2__ehcp.parquet")
    keys = ["measure", "year", "geographic_level", "area_code"]
    old = tidy.filter(pl.col("release") == "2023").select(*keys, "value", "status")
    new = tidy.filter(pl.col("release") == "2025").select(*keys, "value", "status")
    both = old.join(new, on=keys, suffix="_new")
    revised = both.filter(
        (pl.col("status") == "ok")
        & (pl.col("status_new") == "ok")
        & ((pl.col("value") - pl.col("value_new")).abs() > 1e-9)
    )
    suppressed = both.filter((pl.col("status") == "ok") & (pl.col("status_new") != "ok"))
    assert f"{revised.height:,} revised" in out
    assert f"{suppressed.height:,} became suppressed or unavailable" in " ".join(out.split())
    assert suppressed.height > 0 and revised.height > 0
    # Largest first: Tower Hamlets' new plans 2022, 738 -> 309 (-58.1%), tops the list.
    listed = out.split("Largest revisions")[1].splitlines()[2]
    assert "Tower Hamlets" in listed and "-429 (-58.1%)" in listed
    changes = [
        abs(float(line.rsplit("(", 1)[1].rstrip("%)")))
        for line in out.split("Largest revisions")[1].split("\n\n")[0].splitlines()[2:]
    ]
    assert changes == sorted(changes, reverse=True)


def test_truncated_table_is_one_line_saying_to_rebuild(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(built, copy)
    table = copy / "tidy" / "dfe_sen2__ehcp.parquet"
    table.write_bytes(table.read_bytes()[:20_000])  # a copy cut short; the build is untouched
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(copy))
    code, _, err = _run(capsys, "diff", "dfe_sen2", "2023", "2025")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert str(copy) in err and "sendstats build --offline --force" in err


def test_report_says_when_it_built_the_data_first(
    built: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first `report` builds the data (seconds, silently before); a no-op build says nothing."""
    from sendstats.render import publish

    def render(query: str, out: Path, *, prepare: Any = None, **_: Any) -> Path:
        prepare()  # the build check the CLI hands the renderer
        return out / "la" / "page.html"

    monkeypatch.setattr(publish, "render_la_profile", render)
    (built / "metrics" / "adults.parquet").unlink()  # that step must run again
    code, _, err = _run(capsys, "report", "--la", "Leeds", "--offline")
    assert code == 0
    assert f"built 1 of 17 data steps into {built}" in err
    code, _, err = _run(capsys, "report", "--la", "Leeds", "--offline")
    assert code == 0 and "built" not in err
