"""Atomic writes, the data-directory lock (across real processes) and the provenance manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import re
import socket
import stat
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from sendstats import __version__
from sendstats.acquire import manifest
from sendstats.acquire.fetch import FetchResult
from sendstats.acquire.manifest import ManifestError, load_manifest, record_inputs, record_output
from sendstats.core import config, lock
from sendstats.core.io import (
    LockTimeoutError,
    StorageError,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    sha256_file,
    write_parquet_atomic,
)
from sendstats.core.lock import data_lock, read_holder

SPAWN = mp.get_context("spawn")
WAIT = 60  # generous bound on waits between processes, so a bug fails instead of hanging


def _hold_lock(data_dir: str, locked: Any, release: Any) -> None:
    os.environ["SENDSTATS_DATA_DIR"] = data_dir
    with data_lock(timeout=WAIT):
        locked.set()
        release.wait(WAIT)


def _record_many(data_dir: str, tag: str, n: int) -> None:
    os.environ["SENDSTATS_DATA_DIR"] = data_dir
    for i in range(n):
        out = Path(data_dir) / "tidy" / f"{tag}_{i}.parquet"
        atomic_write_bytes(out, f"{tag}{i}".encode())
        record_output(out, step=f"step.{tag}", inputs=[], rows=i)


def _fake_input(
    data_dir: Path, route: str = "download", body: bytes = b"a,b\n1,2\n"
) -> FetchResult:
    path = data_dir / "raw" / "src_x" / "2025" / "t.csv"
    atomic_write_bytes(path, body)
    digest = hashlib.sha256(body).hexdigest()
    return FetchResult(
        "src_x",
        "2025",
        "t",
        path,
        digest,
        len(body),
        route,
        "https://example.org/t.csv",
    )


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1_000_000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1_000_000).hexdigest()


def test_atomic_writes_replace_and_are_readable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "out.txt"
    atomic_write_text(path, "first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    path.write_bytes(b"good old content")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"good old content"
    assert [p.name for p in tmp_path.iterdir()] == ["table.parquet"]


def test_write_parquet_atomic_round_trips(tmp_path: Path) -> None:
    df = pl.DataFrame({"la_code": ["E06000001", "E06000002"], "ehcplans": [105, 210]})
    path = tmp_path / "t.parquet"
    write_parquet_atomic(df, path)
    assert pl.read_parquet(path).equals(df)


def _holder_pid(data_dir: Path) -> int:
    return int(json.loads((data_dir / ".lock").read_text())["pid"])


def test_data_lock_is_reentrant_in_one_process(data_dir: Path) -> None:
    with data_lock(timeout=1) as outer, data_lock(timeout=1) as inner:
        assert outer == inner == data_dir / ".lock"
        holder = read_holder(data_dir / ".lock")
        assert holder is not None and holder.pid == os.getpid()
        assert holder.host == socket.gethostname() and "pytest" in holder.command
        since = dt.datetime.fromisoformat(holder.since)
        assert abs((dt.datetime.now(dt.UTC) - since).total_seconds()) < WAIT


def test_data_lock_makes_a_second_process_wait_and_names_the_holder(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold_lock, args=(str(data_dir), locked, release))
    holder.start()
    try:
        assert locked.wait(WAIT)
        who = rf"pid {holder.pid} on host {re.escape(socket.gethostname())}, `.+`, since 20\d\d-"
        with (
            pytest.raises(LockTimeoutError, match=rf"gave up after 0.3 s .*\({who}"),
            data_lock(timeout=0.3),
        ):
            pytest.fail("entered the lock while another process held it")
        err = capsys.readouterr().err
        assert (
            len(re.findall(rf"waiting for another sendstats run \({who}.*\) to finish", err)) == 1
        )
        assert "giving up after 0.3 s" in err
    finally:
        release.set()
        holder.join(WAIT)
    assert holder.exitcode == 0
    with data_lock(timeout=WAIT):
        assert _holder_pid(data_dir) == os.getpid()


def test_lock_timeout_is_stated_and_settable(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lock.lock_timeout() == lock.DEFAULT_TIMEOUT == 600
    monkeypatch.setenv("SENDSTATS_LOCK_TIMEOUT", "0.2")
    assert lock.lock_timeout() == 0.2
    locked, release = SPAWN.Event(), SPAWN.Event()
    holder = SPAWN.Process(target=_hold_lock, args=(str(data_dir), locked, release))
    holder.start()
    try:
        assert locked.wait(WAIT)
        with (
            pytest.raises(LockTimeoutError, match=r"gave up after 0.2 s .*SENDSTATS_LOCK_TIMEOUT"),
            data_lock(),
        ):
            pytest.fail("entered the lock while another process held it")
    finally:
        release.set()
        holder.join(WAIT)


def test_a_lock_file_of_an_older_version_still_names_the_pid(data_dir: Path) -> None:
    (data_dir / ".lock").write_text("4242")
    assert lock.read_holder(data_dir / ".lock") == lock.LockHolder(pid=4242)
    assert lock.LockHolder(pid=4242).describe() == "pid 4242"
    (data_dir / ".lock").write_text("garbage")
    assert lock.read_holder(data_dir / ".lock") is None


def test_symlink_at_the_lock_is_refused_and_its_target_untouched(
    data_dir: Path, tmp_path: Path
) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("precious")
    (data_dir / ".lock").symlink_to(target)
    with (
        pytest.raises(StorageError, match=r"\.lock is a symbolic link \(to .*precious.txt\)"),
        data_lock(timeout=1),
    ):
        pytest.fail("took a lock through a symbolic link")
    assert target.read_text() == "precious"
    assert (data_dir / ".lock").is_symlink()


def test_two_processes_do_not_lose_manifest_entries(data_dir: Path) -> None:
    procs = [SPAWN.Process(target=_record_many, args=(str(data_dir), t, 40)) for t in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join(WAIT)
    assert [p.exitcode for p in procs] == [0, 0]
    outputs = load_manifest()["outputs"]
    assert len(outputs) == 80
    assert outputs["tidy/b_7.parquet"]["rows"] == 7


def test_record_inputs_and_outputs(data_dir: Path) -> None:
    res = _fake_input(data_dir)
    record_inputs([res])
    out = data_dir / "tidy" / "src_x__t.parquet"
    write_parquet_atomic(pl.DataFrame({"a": [1, 2]}), out)
    record_output(out, step="tidy.src_x", inputs=[res.id], rows=2)
    data = json.loads(config.manifest_path().read_text())
    assert data["inputs"]["src_x/2025/t"] | {"when": None} == {
        "source": "src_x",
        "release": "2025",
        "file": "t",
        "filename": "t.csv",
        "url": "https://example.org/t.csv",
        "sha256": res.sha256,
        "bytes": res.bytes,
        "route": "download",
        "path": "raw/src_x/2025/t.csv",
        "when": None,
    }
    entry = data["outputs"]["tidy/src_x__t.parquet"]
    assert entry["inputs"] == ["src_x/2025/t"] and entry["rows"] == 2
    assert entry["sha256"] == sha256_file(out) and entry["sendstats_version"] == __version__
    assert entry["step"] == "tidy.src_x"


def test_cache_hit_keeps_the_original_route(data_dir: Path) -> None:
    record_inputs([_fake_input(data_dir, "archive")])
    record_inputs([_fake_input(data_dir, "cache")])
    entry = load_manifest()["inputs"]["src_x/2025/t"]
    assert entry["route"] == "archive" and "verified" in entry


def test_output_naming_an_unrecorded_input_is_refused(data_dir: Path) -> None:
    out = data_dir / "tidy" / "t.parquet"
    atomic_write_bytes(out, b"x")
    with pytest.raises(ManifestError, match="src_x/2025/never_fetched"):
        record_output(out, step="tidy", inputs=["src_x/2025/never_fetched"], rows=1)
    assert load_manifest()["outputs"] == {}


def test_output_must_exist_and_live_in_the_data_dir(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        record_output(data_dir / "tidy" / "missing.parquet", step="s", inputs=[], rows=None)
    outside = tmp_path / "elsewhere.parquet"
    outside.write_bytes(b"x")
    with pytest.raises(ManifestError, match="under the data directory"):
        record_output(outside, step="s", inputs=[], rows=None)


def test_corrupt_manifest_is_reported_with_its_path(data_dir: Path) -> None:
    config.manifest_path().write_text("{not json")
    with pytest.raises(ManifestError, match=str(config.manifest_path())):
        load_manifest()


def test_git_commit_is_a_hash_or_none() -> None:
    commit = manifest.git_commit()
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)
