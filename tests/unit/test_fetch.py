"""Fetch: cache, raw archives and downloads against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Literal

import pytest
from httpserver import Reply, ScriptedServer, redirect, refused_url

from sendstats.acquire import fetch
from sendstats.acquire.catalog import PinnedFile
from sendstats.acquire.fetch import (
    ChecksumMismatch,
    Fetcher,
    FetchError,
    OfflineMiss,
    RetryPolicy,
    UnsafeArchiveMember,
    resolve_pinned,
)
from sendstats.acquire.manifest import load_manifest
from sendstats.core.io import sha256_file

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01, connect_timeout=2, read_timeout=2)
SRC, REL = "test_src", "2025"
OLD_BODY = b"la_code,ehcplans\nE06000001,100\n"
BODY = b"la_code,ehcplans\nE06000001,105\nE06000002,210\n"

pytestmark = pytest.mark.usefixtures("offline_web")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pin(
    url: str,
    body: bytes,
    *,
    member: str | None = None,
    name: str = "table",
    fmt: Literal["csv", "txt"] = "csv",
) -> PinnedFile:
    return PinnedFile(
        name=name,
        filename=f"{name}.{fmt}",
        url=url,
        member=member,
        sha256=sha(body),
        bytes=len(body),
        format=fmt,
    )


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def snapshot(root: Path) -> dict[str, str]:
    """Every file under root (hidden temp files included) with its sha256.

    The data lock file is left out: it records who took the lock last, which every run does.
    """
    return {
        str(p.relative_to(root)): sha256_file(p)
        for p in sorted(root.rglob("*"))
        if p.is_file() and p != root / ".lock"
    }


@pytest.fixture
def previous(server: ScriptedServer, data_dir: Path) -> dict[str, str]:
    """A cache holding the previously pinned version of the file (recorded in the manifest)
    and a sibling file; returns the snapshot every failed fetch must leave unchanged."""
    folder = data_dir / "raw" / SRC / REL
    folder.mkdir(parents=True)
    (folder / "table.csv").write_bytes(OLD_BODY)
    (folder / "other.csv").write_bytes(b"other\n")
    assert resolve_pinned(SRC, REL, pin(server.url("/old"), OLD_BODY)).route == "cache"
    return snapshot(data_dir)


def assert_unchanged(data_dir: Path, before: dict[str, str]) -> None:
    assert snapshot(data_dir) == before
    assert load_manifest()["inputs"][f"{SRC}/{REL}/table"]["sha256"] == sha(OLD_BODY)


def test_download_then_cache(server: ScriptedServer, data_dir: Path) -> None:
    url = server.script("/table.csv", Reply(body=BODY, headers={"Content-Type": "text/csv"}))
    first = resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert first.route == "download"
    assert first.path == data_dir / "raw" / SRC / REL / "table.csv"
    assert first.path.read_bytes() == BODY
    second = resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert second.route == "cache"
    assert server.hits["/table.csv"] == 1
    entry = load_manifest()["inputs"][f"{SRC}/{REL}/table"]
    assert (entry["route"], entry["sha256"], entry["url"]) == ("download", sha(BODY), url)
    assert "verified" in entry
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["table.csv"]


def test_connection_refused_retries_then_fails(data_dir: Path, previous: dict[str, str]) -> None:
    with pytest.raises(FetchError, match=r"after 3 attempts; last error: ConnectError"):
        resolve_pinned(SRC, REL, pin(refused_url(), BODY), policy=FAST)
    assert_unchanged(data_dir, previous)


def test_slow_headers_hit_the_read_timeout(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str]
) -> None:
    url = server.script("/slow.csv", Reply(body=BODY, delay_headers=5))
    policy = replace(FAST, attempts=2, read_timeout=0.2)
    with pytest.raises(FetchError, match="after 2 attempts; last error: ReadTimeout"):
        resolve_pinned(SRC, REL, pin(url, BODY), policy=policy)
    assert server.hits["/slow.csv"] == 2
    assert_unchanged(data_dir, previous)


def test_body_cut_off_is_retried(server: ScriptedServer) -> None:
    url = server.script("/cut.csv", Reply(body=BODY, cut_after=10), Reply(body=BODY))
    assert resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST).path.read_bytes() == BODY
    assert server.hits["/cut.csv"] == 2


def test_body_always_cut_off_fails(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str]
) -> None:
    url = server.script("/cut.csv", Reply(body=BODY, cut_after=10))
    with pytest.raises(FetchError, match="RemoteProtocolError"):
        resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert server.hits["/cut.csv"] == FAST.attempts
    assert_unchanged(data_dir, previous)


def test_server_errors_then_success(server: ScriptedServer) -> None:
    url = server.script("/t.csv", Reply(status=500), Reply(status=503), Reply(body=BODY))
    assert resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST).route == "download"
    assert server.hits["/t.csv"] == 3


def test_server_errors_are_bounded(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str]
) -> None:
    url = server.script("/t.csv", Reply(status=503))
    with pytest.raises(FetchError, match="after 3 attempts; last error: HTTP 503"):
        resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert server.hits["/t.csv"] == 3
    assert_unchanged(data_dir, previous)


def test_429_retry_after_is_honoured_and_capped(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.script(
        "/t.csv", Reply(status=429, headers={"Retry-After": "3600"}), Reply(body=BODY)
    )
    assert resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST).route == "download"
    assert server.hits["/t.csv"] == 2
    assert "HTTP 429 Too Many Requests; retry 2/3 in 0.0 s" in capsys.readouterr().err


def test_not_found_is_not_retried(server: ScriptedServer) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        resolve_pinned(SRC, REL, pin(server.url("/missing.csv"), BODY), policy=FAST)
    assert server.hits["/missing.csv"] == 1


@pytest.mark.parametrize("ctype", ["text/html; charset=utf-8", "text/csv"])
def test_html_page_is_refused(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str], ctype: str
) -> None:
    page = b"<!DOCTYPE html><html>Busy</html>"  # shorter than the file
    url = server.script("/t.csv", Reply(body=page, headers={"Content-Type": ctype}))
    with pytest.raises(FetchError, match="served an HTML page"):
        resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert server.hits["/t.csv"] == 1
    assert_unchanged(data_dir, previous)


def test_redirect_chain_is_followed(server: ScriptedServer) -> None:
    server.script("/a", redirect("/b", 301))
    server.script("/b", redirect("/c", 302))
    server.script("/c", redirect(server.url("/final.csv"), 307))
    server.script("/final.csv", Reply(body=BODY))
    result = resolve_pinned(SRC, REL, pin(server.url("/a"), BODY), policy=FAST)
    assert result.path.read_bytes() == BODY
    assert [server.hits[p] for p in ("/a", "/b", "/c", "/final.csv")] == [1, 1, 1, 1]


def test_redirect_loop_fails(server: ScriptedServer) -> None:
    server.script("/loop", redirect("/loop"))
    with pytest.raises(FetchError, match="TooManyRedirects"):
        resolve_pinned(SRC, REL, pin(server.url("/loop"), BODY), policy=FAST)


@pytest.mark.parametrize("announce", [True, False])
def test_body_larger_than_declared_is_refused(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str], announce: bool
) -> None:
    big = BODY + b"E06000003,1\n" * 50_000
    url = server.script("/big.csv", Reply(body=big, content_length=announce))
    with pytest.raises(FetchError, match=r"(larger|more) than the declared"):
        resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert server.hits["/big.csv"] == 1
    assert_unchanged(data_dir, previous)


def test_checksum_mismatch_shows_both_hashes(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str]
) -> None:
    other = BODY.replace(b"105", b"999")
    url = server.script("/t.csv", Reply(body=other))
    with pytest.raises(ChecksumMismatch) as err:
        resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert (err.value.expected, err.value.got) == (sha(BODY), sha(other))
    assert sha(BODY) in str(err.value) and sha(other) in str(err.value)
    assert server.hits["/t.csv"] == 1
    assert_unchanged(data_dir, previous)


def test_zip_members_are_extracted_from_one_download(
    server: ScriptedServer, data_dir: Path
) -> None:
    caseload, guidance = BODY, b"Data guidance\n"
    archive = make_zip({"data/caseload.csv": caseload, "data-guidance/data-guidance.txt": guidance})
    url = server.script(
        "/release.zip", Reply(body=archive, headers={"Content-Type": "application/zip"})
    )
    a = pin(url, caseload, member="data/caseload.csv", name="caseload")
    b = pin(url, guidance, member="data-guidance/data-guidance.txt", name="guidance", fmt="txt")
    with Fetcher(progress=False, policy=FAST) as fetcher:
        results = [fetcher.resolve(SRC, REL, p) for p in (a, b)]
    assert [r.path.read_bytes() for r in results] == [caseload, guidance]
    assert server.hits["/release.zip"] == 1
    assert list((data_dir / "raw" / ".downloads").iterdir()) == []


@pytest.mark.parametrize("member", ["../escape.csv", "/abs/escape.csv", "data/../../escape.csv"])
def test_zip_member_escaping_its_folder_is_refused(
    server: ScriptedServer, tmp_path: Path, data_dir: Path, previous: dict[str, str], member: str
) -> None:
    url = server.script("/evil.zip", Reply(body=make_zip({member: BODY})))
    with pytest.raises(UnsafeArchiveMember, match="escapes its folder"):
        resolve_pinned(SRC, REL, pin(url, BODY, member=member), policy=FAST)
    assert not list(tmp_path.rglob("escape.csv"))
    assert_unchanged(data_dir, previous)


def test_safe_member_of_a_zip_holding_escaping_entries(
    server: ScriptedServer, tmp_path: Path
) -> None:
    url = server.script(
        "/mixed.zip", Reply(body=make_zip({"../escape.csv": b"x", "data/t.csv": BODY}))
    )
    result = resolve_pinned(SRC, REL, pin(url, BODY, member="data/t.csv"), policy=FAST)
    assert result.path.read_bytes() == BODY
    assert not list(tmp_path.rglob("escape.csv"))


def test_zip_member_checksum_mismatch(
    server: ScriptedServer, data_dir: Path, previous: dict[str, str]
) -> None:
    url = server.script("/r.zip", Reply(body=make_zip({"data/t.csv": BODY.upper()})))
    with pytest.raises(ChecksumMismatch, match=sha(BODY.upper())):
        resolve_pinned(SRC, REL, pin(url, BODY, member="data/t.csv"), policy=FAST)
    assert_unchanged(data_dir, previous)


def test_html_instead_of_zip_is_refused_once_per_run(server: ScriptedServer) -> None:
    url = server.script("/release-page", Reply(body=b"<html><body>Release page</body></html>"))
    a = pin(url, BODY, member="data/a.csv", name="a")
    b = pin(url, BODY, member="data/b.csv", name="b")
    with Fetcher(progress=False, policy=FAST) as fetcher:
        for p in (a, b):
            with pytest.raises(FetchError, match="served an HTML page"):
                fetcher.resolve(SRC, REL, p)
    assert server.hits["/release-page"] == 1


def test_plain_http_elsewhere_is_refused() -> None:
    with pytest.raises(FetchError, match="must use https"):
        resolve_pinned(SRC, REL, pin("http://example.org/t.csv", BODY), policy=FAST)


def test_offline_never_touches_the_network(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.script("/t.csv", Reply(body=BODY))
    with pytest.raises(OfflineMiss):
        resolve_pinned(SRC, REL, pin(url, BODY), offline=True)
    monkeypatch.setenv("SENDSTATS_OFFLINE", "1")
    with pytest.raises(OfflineMiss, match="offline mode forbids downloading"):
        fetch.download_to_cache(url, None, sha(BODY), len(BODY), tmp_path / "t.csv")
    assert server.hits["/t.csv"] == 0
    assert load_manifest()["inputs"] == {}
    assert not (tmp_path / "t.csv").exists()


def test_offline_miss_names_what_and_where(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(OfflineMiss) as err:
        fetch.resolve_file("dfe_sen2", "2025", "caseload", offline=True)
    text = str(err.value)
    for part in ("dfe_sen2 release 2025, file caseload (caseload.csv)", "offline mode"):
        assert part in text
    assert str(data_dir / "raw" / "dfe_sen2" / "2025" / "caseload.csv") in text
    assert str(tmp_path / "empty_archive") in text


def test_offline_miss_without_archive_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SENDSTATS_ARCHIVE")
    monkeypatch.setenv("SENDSTATS_OFFLINE", "1")
    with pytest.raises(OfflineMiss, match=r"raw archives .*: none \(set SENDSTATS_ARCHIVE\)"):
        fetch.resolve_file("dfe_sen2", "2022", "data_guidance")


def test_archive_is_searched_by_content(
    server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    (archive / "deep" / "er").mkdir(parents=True)
    (archive / "decoy.bin").write_bytes(bytes(len(BODY)))  # same size, other content
    (archive / "deep" / "er" / "renamed.dat").write_bytes(BODY)
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(archive))
    url = server.script("/t.csv", Reply(status=500))
    result = resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST)
    assert (result.route, result.path.read_bytes()) == ("archive", BODY)
    assert server.hits["/t.csv"] == 0
    # The decoy was read first (hashed as it was copied) and discarded: nothing else is left.
    assert list(result.path.parent.iterdir()) == [result.path]


def test_damaged_cache_file_is_replaced(server: ScriptedServer, data_dir: Path) -> None:
    dest = data_dir / "raw" / SRC / REL / "table.csv"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(BODY.replace(b"1", b"7"))  # same size, wrong bytes
    url = server.script("/t.csv", Reply(body=BODY))
    assert resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST).route == "download"
    assert dest.read_bytes() == BODY


def test_update_pins_keeps_new_file_aside_and_prints_the_diff(
    server: ScriptedServer, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.script("/t.csv", Reply(body=OLD_BODY), Reply(body=BODY))
    old_pin = pin(url, OLD_BODY)
    cached = resolve_pinned(SRC, REL, old_pin, policy=FAST).path
    root = tmp_path / "project"
    (root / "data_sources").mkdir(parents=True)
    yaml_path = root / "data_sources" / f"{SRC}.yaml"
    yaml_path.write_text(
        f"# pins are reviewed\nid: {SRC}\nreleases:\n- release: '{REL}'\n  files:\n"
        f"  - name: table\n    url: {url}\n"
        f"    sha256: {old_pin.sha256}\n    bytes: {old_pin.bytes}\n"
        f"  - name: other\n    sha256: {sha(b'x')}\n    bytes: 1\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SENDSTATS_PROJECT_ROOT", str(root))

    new = resolve_pinned(SRC, REL, old_pin, update_pins=True, policy=FAST)
    assert new.pin_changed and (new.previous_sha256, new.sha256) == (sha(OLD_BODY), sha(BODY))
    assert new.path == cached.parent / ".pending" / sha(BODY) / "table.csv"
    assert cached.read_bytes() == OLD_BODY  # the pinned file is untouched
    assert load_manifest()["inputs"][f"{SRC}/{REL}/table"]["sha256"] == sha(OLD_BODY)

    diff = fetch.format_pin_diff([new])
    assert f"-    sha256: {sha(OLD_BODY)}" in diff and f"+    sha256: {sha(BODY)}" in diff
    assert f"-    bytes: {len(OLD_BODY)}\n" in diff and f"+    bytes: {len(BODY)}\n" in diff
    assert diff.startswith(f"--- a/data_sources/{SRC}.yaml\n+++ b/data_sources/{SRC}.yaml")
    assert yaml_path.read_text(encoding="utf-8").count(sha(OLD_BODY)) == 1  # not written
    fetch.write_pin_updates([new])
    text = yaml_path.read_text(encoding="utf-8")
    assert text.startswith("# pins are reviewed") and sha(BODY) in text and sha(b"x") in text

    promoted = resolve_pinned(SRC, REL, pin(url, BODY), offline=True)
    assert (promoted.route, promoted.path) == ("cache", cached)
    assert cached.read_bytes() == BODY


def test_update_pins_failure_leaves_the_pinned_file(server: ScriptedServer, data_dir: Path) -> None:
    url = server.script("/t.csv", Reply(body=BODY), Reply(body=b"<html>maintenance</html>"))
    cached = resolve_pinned(SRC, REL, pin(url, BODY), policy=FAST).path
    before = snapshot(data_dir)
    with pytest.raises(FetchError, match="HTML"):
        resolve_pinned(SRC, REL, pin(url, BODY), update_pins=True, policy=FAST)
    assert snapshot(data_dir) == before and cached.read_bytes() == BODY


def test_download_to_cache_low_level(server: ScriptedServer, tmp_path: Path) -> None:
    url = server.script("/t.csv", Reply(body=BODY))
    dest = tmp_path / "out" / "t.csv"
    dest.parent.mkdir()
    assert fetch.download_to_cache(url, None, sha(BODY), len(BODY), dest, policy=FAST) == dest
    with pytest.raises(ChecksumMismatch):
        fetch.download_to_cache(url, None, sha(b"other"), len(BODY), tmp_path / "out" / "u.csv")
    assert sorted(p.name for p in dest.parent.iterdir()) == ["t.csv"]


@pytest.mark.parametrize("member", ["../x", "/x", "a/../../x", "C:\\x", "a\\..\\x", ""])
def test_check_member_name(member: str) -> None:
    with pytest.raises(UnsafeArchiveMember):
        fetch.check_member_name(member)


def test_check_member_name_accepts_release_paths() -> None:
    fetch.check_member_name("supporting-files/sen2_dmo_dco.csv")
    fetch.check_member_name("data/./caseload.csv")
