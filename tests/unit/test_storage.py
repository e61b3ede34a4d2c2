"""Writes under hostile or unlucky conditions: symbolic links, a full disk, a read-only folder,
and the temp files a killed run leaves behind (issue 18, items 7, 8, 11 and 14).

A full disk and a read-only folder are played by making the operating system calls that write
under one folder fail with ENOSPC or EROFS, so the tests run
anywhere and as any user (tests/diskfaults.py); tests/test_readonly.py also runs a real
read-only mount.
"""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from diskfaults import fail_writes_under, snapshot

from sendstats.core import io as sio
from sendstats.core import lock
from sendstats.core.io import (
    StorageError,
    atomic_write_bytes,
    atomic_write_text,
    is_our_temp_file,
    sweep_stale_temp_files,
    temp_path_in,
    write_parquet_atomic,
)
from sendstats.core.lock import data_lock

# ------------------------------------------------------------------ symbolic links (item 8)


@pytest.mark.parametrize("writer", ["text", "bytes", "parquet"])
def test_an_output_that_is_a_symlink_is_replaced_and_its_target_untouched(
    tmp_path: Path, writer: str
) -> None:
    target = tmp_path / "elsewhere" / "precious.txt"
    target.parent.mkdir()
    target.write_text("precious")
    out = tmp_path / "data" / "metrics" / "ehcp.parquet"
    out.parent.mkdir(parents=True)
    out.symlink_to(target)
    if writer == "text":
        atomic_write_text(out, "new")
    elif writer == "bytes":
        atomic_write_bytes(out, b"new")
    else:
        write_parquet_atomic(pl.DataFrame({"a": [1]}), out)
    assert target.read_text() == "precious"
    assert not out.is_symlink() and out.is_file()
    assert out.read_bytes() != b"precious"


def test_a_temp_file_swapped_for_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    with temp_path_in(tmp_path / "data") as tmp:
        tmp.unlink()
        tmp.symlink_to(target)
        with pytest.raises(StorageError, match="never writes through a link"):
            sio.open_for_write(tmp)
    assert target.read_text() == "precious"


# ------------------------------------------------------------------ disk full (item 7)


def test_disk_full_is_a_disk_error_and_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "tidy"
    folder.mkdir(parents=True)
    (folder / "table.parquet").write_bytes(b"the last good table")
    before = snapshot(tmp_path)
    fail_writes_under(monkeypatch, folder, errno.ENOSPC)
    for write in (
        lambda: atomic_write_bytes(folder / "table.parquet", b"new"),
        lambda: atomic_write_text(folder / "new.json", "{}"),
        lambda: write_parquet_atomic(pl.DataFrame({"a": [1]}), folder / "table.parquet"),
    ):
        with pytest.raises(
            StorageError, match=rf"disk full: no space left on the disk holding {folder}"
        ) as err:
            write()
        assert err.value.disk_full and not err.value.read_only and err.value.folder == folder
    monkeypatch.undo()
    assert snapshot(tmp_path) == before


def test_other_os_errors_are_not_disguised(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError), sio.writing_into(tmp_path, "testing"):
        raise IsADirectoryError(errno.EISDIR, "Is a directory")


# ------------------------------------------------------------------ read-only folder (item 11)


def test_read_only_data_folder_reads_without_a_lock_and_writing_says_why(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (data_dir / "manifest.json").write_text("{}")
    before = snapshot(data_dir)
    fail_writes_under(monkeypatch, data_dir, errno.EROFS)
    with data_lock(timeout=1) as path:
        assert path == data_dir / ".lock"
        assert (data_dir / "manifest.json").read_text() == "{}"
        with pytest.raises(StorageError, match=rf"cannot write into {data_dir} .*read-only") as err:
            atomic_write_text(data_dir / "manifest.json", "[]")
        assert err.value.read_only and "\n" not in str(err.value)
    monkeypatch.undo()
    assert snapshot(data_dir) == before


def test_a_lock_file_that_cannot_be_opened_in_a_writable_folder_stops_the_run(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running unlocked here could interleave with another run's writes: refuse, say what to fix.
    (data_dir / ".lock").write_text("")
    real_open = os.open

    def deny_lock(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if os.fspath(path) == str(data_dir / ".lock"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", deny_lock)
    with (
        pytest.raises(StorageError, match=r"cannot take the data lock .*\.lock .*can be written"),
        data_lock(timeout=1),
    ):
        pytest.fail("ran without the lock in a writable folder")


def test_missing_data_folder_on_a_read_only_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENDSTATS_DATA_DIR", str(tmp_path / "ro" / "data"))
    fail_writes_under(monkeypatch, tmp_path / "ro", errno.EROFS)
    with data_lock(timeout=1):
        pass
    with pytest.raises(StorageError, match="read-only"):
        atomic_write_text(tmp_path / "ro" / "data" / "x.txt", "x")


# ------------------------------------------------------------------ stale temp files (item 14)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_stale_temp_files_of_dead_runs_are_swept_and_nothing_else(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = data_dir / "raw" / "dfe_sen2" / "2025"
    raw.mkdir(parents=True)
    stale = [
        raw / ".caseload.csv.k2j4_x9a.part",
        data_dir / "raw" / ".downloads" / ".release.abcd1234.zip",
        data_dir / "raw" / ".downloads" / ".release.abcd1234.zip.ok",
        data_dir / "tidy" / ".dfe_sen2__ehcp.parquet.q1w2e3r4.tmp",
        data_dir / ".manifest.json.zzzzzzzz.tmp",
    ]
    kept = [
        raw / "caseload.csv",  # a cached file
        raw / "notes.part",  # not hidden: not a name sendstats makes
        raw / ".notes.part",  # no random part: not ours
        raw / ".mine.ABCDEFGH.part",  # upper case: never made by mkstemp
        data_dir / "tidy" / ".fresh.abcdefgh.tmp",  # touched lately: could be a live write
    ]
    for p in [*stale, *kept]:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
        _age(p, lock.STALE_AFTER + 60)
    _age(kept[-1], lock.STALE_AFTER - 60)
    outside = tmp_path / "precious.abcdefgh.part"
    outside.write_bytes(b"precious")
    link = raw / ".link.abcdefgh.part"
    link.symlink_to(outside)
    _age(link, lock.STALE_AFTER + 60)
    with data_lock(timeout=1):
        pass
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []
    assert link.is_symlink() and outside.read_bytes() == b"precious"
    assert f"removed {len(stale)} temp file(s) left in {data_dir}" in capsys.readouterr().err


def test_the_sweep_spares_files_younger_than_the_run(tmp_path: Path) -> None:
    young = tmp_path / ".t.csv.abcdefgh.part"
    young.write_bytes(b"x")
    assert sweep_stale_temp_files(tmp_path, before=time.time() - 60) == []
    assert sweep_stale_temp_files(tmp_path, before=time.time() + 1) == [young]


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        (".caseload.csv.abcd_123.part", True),
        (".tmp.abcdefgh.part", True),
        (".manifest.json.abcdefgh.tmp", True),
        (".release.abcdefgh.zip", True),
        (".release.abcdefgh.zip.ok", True),
        ("caseload.csv", False),
        (".caseload.csv.part", False),
        (".lock", False),
        (".build_state.json", False),
        (".x.abcdefg.part", False),
    ],
)
def test_names_of_our_temp_files(name: str, ours: bool) -> None:
    assert is_our_temp_file(name) is ours
