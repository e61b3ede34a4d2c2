"""Spreadsheets read by one calamine path, within stated limits (issue 18 item 4, issue 16).

The grids of every held .ods equal pandas' odf reader (odfpy) as oracle; a small .ods that
describes a huge sheet (``number-rows-repeated="40000000"``) is refused quickly, in a child
process whose peak memory is measured; so are sheets too wide, and zips that decompress
beyond the limit.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from sendstats.sources import grids
from sendstats.sources.readers import RawInputError

REPO = Path(__file__).resolve().parents[2]


def _held_ods(raw_archive: Path) -> list[Path]:
    return sorted(raw_archive.rglob("*.ods"))


def _oracle(path: Path) -> dict[str, list[list[str]]]:
    """pandas' odf reader (odfpy), NaN as "" (what the DSG reader was written against)."""
    sheets = pd.read_excel(path, sheet_name=None, header=None, engine="odf", dtype=str)
    return {
        name: [["" if pd.isna(v) else str(v) for v in row] for row in frame.itertuples(index=False)]
        for name, frame in sheets.items()
    }


def test_every_held_ods_reads_as_pandas_odf_reader(raw_archive: Path) -> None:
    files = _held_ods(raw_archive)
    assert len(files) == 7
    for path in files:
        oracle = _oracle(path)
        ours = grids.read_ods_text(path, list(oracle))
        for sheet, expected in oracle.items():
            got = ours[sheet]
            assert len(got) == len(expected), (path.name, sheet)
            for r, (a, b) in enumerate(zip(got, expected, strict=True)):
                if a == b:
                    continue
                # The one known difference: a whole percentage pandas wrote as "0.0" (calamine
                # gives no cell types); only the tribunal tables have one, read elsewhere.
                assert "dedicated-schools-grant" not in path.name, (path.name, sheet, r)
                assert len(a) == len(b)
                for x, y in zip(a, b, strict=True):
                    assert x == y or float(x) == float(y), (path.name, sheet, r, x, y)


def test_esfa_files_lack_the_mimetype_entry_and_are_read_without_changing_them(
    raw_archive: Path,
) -> None:
    path = raw_archive / "high_needs" / "dedicated-schools-grant_2024_07_20.ods"
    with zipfile.ZipFile(path) as book:
        assert "mimetype" not in book.namelist()
    before = path.read_bytes()
    grid = grids.read_ods_text(path, ["Allocations_summary"])["Allocations_summary"]
    assert grid[4][0] == "ENGLAND" and path.read_bytes() == before


def _bomb(raw_archive: Path, tmp_path: Path, attribute: str, tag: str) -> Path:
    """A held DSG .ods whose first data row (or cell) is repeated 40,000,000 times."""
    src = raw_archive / "high_needs" / "dedicated-schools-grant.ods"
    with zipfile.ZipFile(src) as book:
        members = [(info, book.read(info)) for info in book.infolist()]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        for info, body in members:
            if info.filename == "content.xml":
                # the 6th row of the first sheet holds text; repeat it (or its first cell)
                rows = [m.start() for m in re.finditer(rb"<table:" + tag.encode() + rb"[ >]", body)]
                at = rows[5] + len(b"<table:" + tag.encode())
                body = body[:at] + f' table:{attribute}="40000000"'.encode() + body[at:]
            book.writestr(info, body, compress_type=zipfile.ZIP_DEFLATED)
    path = tmp_path / "bomb.ods"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize(
    ("attribute", "tag", "what"),
    [("number-rows-repeated", "table-row", "rows"), ("number-columns-repeated", "table-cell", "")],
)
def test_small_ods_describing_a_huge_sheet_is_refused_fast_in_bounded_memory(
    raw_archive: Path, tmp_path: Path, attribute: str, tag: str, what: str
) -> None:
    path = _bomb(raw_archive, tmp_path, attribute, tag)
    assert path.stat().st_size < 200_000
    with pytest.raises(RawInputError, match=f"40,000,000 {what}|limit") as err:
        grids.read_ods_text(path, ["Allocations_2324"])
    assert "limit is" in str(err.value) and str(path) in str(err.value)
    # The same read in a child process: it must end quickly, refused, in well under 1 GB.
    code = (
        "import re, sys; from pathlib import Path; from sendstats.sources import grids\n"
        "try:\n    grids.read_ods_text(Path(sys.argv[1]), ['Allocations_2324'])\n"
        "except Exception as exc:\n"
        # VmHWM, the peak resident memory of this process image: ru_maxrss would carry the
        # parent's peak over the fork (pytest's own, in a long run).
        "    status = Path('/proc/self/status').read_text()\n"
        "    peak = re.search(r'VmHWM:\\s+(\\d+) kB', status).group(1)\n"
        "    print(type(exc).__name__, peak); raise SystemExit(3)\n"
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    elapsed = time.monotonic() - start
    name, peak_kb = done.stdout.split()
    assert done.returncode == 3 and name == "RawInputError", done.stderr
    assert elapsed < 30
    assert int(peak_kb) < 600_000  # KB: the child's peak memory never came near a gigabyte


def test_zip_decompressing_beyond_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grids, "MAX_DECOMPRESSED_BYTES", 1_000_000)
    path = tmp_path / "big.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/worksheets/sheet1.xml", b" " * 2_000_000)
    with pytest.raises(RawInputError, match="decompresses to more than 1,000,000 bytes"):
        grids.read_grids(path)


def test_limits_are_far_above_the_held_files(raw_archive: Path) -> None:
    for path in _held_ods(raw_archive):
        with zipfile.ZipFile(path) as book:
            extents = grids.ods_extent(book.read("content.xml"))
        for rows, cols, cells in extents.values():
            assert rows * 100 < grids.MAX_ROWS and cols * 20 < grids.MAX_COLS
            assert cells * 100 < grids.MAX_CELLS
