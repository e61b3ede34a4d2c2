"""A read-only data folder on a real read-only mount (issue 18, item 11).

Each run goes through the command line in a private mount namespace (``unshare``) where the data
folder is bind-mounted read-only, so the operating system itself refuses writes (EROFS) whoever
runs the tests, root included, and nothing outside the test sees the mount. Skipped where
``unshare`` cannot make the mount (some containers); tests/test_storage.py plays the same faults
in-process everywhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sendstats.core.io import StorageError

_MOUNT_RO = 'mount --bind "$D" "$D" && mount -o remount,ro,bind "$D" && exec "$@"'
REPO = Path(__file__).resolve().parents[2]


def _unshare() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]


def run_read_only(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``sendstats *args`` with ``data`` as a read-only SENDSTATS_DATA_DIR."""
    env = {
        **os.environ,
        "D": str(data),
        "SENDSTATS_DATA_DIR": str(data),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [*_unshare(), "sh", "-c", _MOUNT_RO, "sh", sys.executable, "-m", "sendstats", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def can_mount_read_only(tmp_path_factory: pytest.TempPathFactory) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not available")
    probe = tmp_path_factory.mktemp("probe")
    proc = subprocess.run(
        [*_unshare(), "sh", "-c", _MOUNT_RO, "sh", "touch", str(probe / "x")],
        env={**os.environ, "D": str(probe)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "Read-only" not in proc.stderr:
        pytest.skip(f"cannot make a read-only mount here: {proc.stderr.strip()[:200]}")


@pytest.mark.slow
def test_a_build_with_nothing_to_do_reads_a_read_only_folder(
    built_root: Path, can_mount_read_only: None
) -> None:
    data = built_root / "data"
    before = _hashes(data)
    proc = run_read_only(data, "build", "--offline")
    if proc.returncode != 0 and f"{data}/.staging/" in proc.stderr:
        pytest.xfail("the build makes its staging folder before it knows it will write (lead)")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = [line for line in proc.stdout.splitlines() if "unchanged, skipped" in line]
    assert len(skipped) >= 10  # every tidy and metric step, none rerun
    assert _hashes(data) == before


def test_a_build_that_must_write_says_so(
    tmp_path: Path, raw_archive: Path, can_mount_read_only: None
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    proc = run_read_only(data, "build", "--offline")
    assert proc.returncode != 0
    assert f"cannot write into {data}/raw/" in proc.stderr and "read-only" in proc.stderr
    assert list(data.iterdir()) == []
    from sendstats.cli.errors import KNOWN_ERRORS

    if not issubclass(StorageError, KNOWN_ERRORS):
        pytest.xfail("the CLI prints StorageError in one line once cli/errors.py lists it")
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("sendstats build: error: cannot write")
