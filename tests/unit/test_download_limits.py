"""Downloads that drip, lead elsewhere, serve pages or meet a full disk (issue 18: 5, 7, 9, 10).

Every server is on 127.0.0.1: the scripted server of tests/httpserver.py for drips (it controls
the socket byte by byte), pytest-httpserver for redirects. Every loop and wait is bounded: each
test states the longest it may take, and a drip ends by itself after its bytes.
"""

from __future__ import annotations

import errno
import hashlib
import io
import shutil
import socket
import ssl
import subprocess
import time
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from diskfaults import fail_writes_under, snapshot
from httpserver import Reply, ScriptedServer, tls_header_drip
from pytest_httpserver import HTTPServer
from werkzeug import Response

from sendstats.acquire import http
from sendstats.acquire.catalog import PinnedFile
from sendstats.acquire.fetch import FetchError, HtmlInsteadOfFile, RetryPolicy, resolve_pinned
from sendstats.acquire.http import check_redirect
from sendstats.core.io import StorageError

SRC, REL = "test_src", "2025"
BODY = b"la_code,ehcplans\nE06000001,105\nE06000002,210\n"
# Fast retries and short limits, so a misbehaving server fails a test in seconds, not minutes.
FAST = RetryPolicy(
    attempts=2,
    base_delay=0.001,
    max_delay=0.01,
    connect_timeout=2,
    read_timeout=2,
    deadline=30,
    min_rate=0,
    rate_window=0.5,
)

pytestmark = pytest.mark.usefixtures("offline_web")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pin(url: str, body: bytes = BODY, *, member: str | None = None) -> PinnedFile:
    return PinnedFile(
        name="table",
        filename="table.csv",
        url=url,
        member=member,
        sha256=sha(body),
        bytes=len(body),
        format="csv",
    )


@pytest.fixture
def web() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.clear()
        srv.stop()


@pytest.fixture
def previous(data_dir: Path) -> dict[str, bytes]:
    """A cache holding an earlier file and a manifest; every failure below must keep them."""
    folder = data_dir / "raw" / SRC / REL
    folder.mkdir(parents=True)
    (folder / "other.csv").write_bytes(b"la_code,x\nE06000001,1\n")
    (data_dir / "manifest.json").write_text('{"format": 1, "inputs": {}, "outputs": {}}\n')
    return snapshot(data_dir)


# ------------------------------------------------------------------ item 5: slow drips


def test_a_slow_drip_body_is_cut_off_by_the_minimum_rate(
    server: ScriptedServer, data_dir: Path, previous: dict[str, bytes]
) -> None:
    # 1 byte every 0.05 s is 20 bytes/s: under a 1 KB/s minimum over each 0.5 s window.
    url = server.script("/drip.csv", Reply(body=BODY * 20, drip=0.05))
    policy = replace(FAST, min_rate=1024, rate_window=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"after 2 attempts; last error: too slow: \d+ bytes in"):
        resolve_pinned(SRC, REL, pin(url, BODY * 20), policy=policy)
    assert time.monotonic() - started < 10
    assert server.hits["/drip.csv"] == 2
    assert snapshot(data_dir) == previous


def test_a_slow_drip_body_is_stopped_by_the_deadline(
    server: ScriptedServer, data_dir: Path, previous: dict[str, bytes]
) -> None:
    # No minimum rate: only the overall deadline (1 s) can stop a 45 s drip.
    url = server.script("/drip.csv", Reply(body=BODY * 20, drip=0.05))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"the download deadline of 1 s passed"):
        resolve_pinned(SRC, REL, pin(url, BODY * 20), policy=replace(FAST, deadline=1))
    assert time.monotonic() - started < 5
    assert server.hits["/drip.csv"] == 1  # no retry after the deadline
    assert snapshot(data_dir) == previous


def test_drip_fed_headers_are_stopped_by_the_deadline(
    server: ScriptedServer, data_dir: Path, previous: dict[str, bytes]
) -> None:
    # Each header byte arrives well within the read timeout, so only the watchdog ends it.
    pad = {"X-Pad": "p" * 600}
    url = server.script("/slow-head.csv", Reply(body=BODY, headers=pad, drip_headers=0.05))
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"the download deadline of 1 s passed"):
        resolve_pinned(SRC, REL, pin(url), policy=replace(FAST, deadline=1))
    assert time.monotonic() - started < 5
    assert snapshot(data_dir) == previous


@pytest.fixture(scope="module")
def loopback_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not available to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", key]
    subprocess.run(
        [
            "openssl",
            *args,
            "-out",
            cert,
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_drip_fed_headers_over_https_are_stopped_by_the_deadline(
    loopback_cert: tuple[str, str], tmp_path: Path
) -> None:
    # Over TLS the socket the watchdog must shut down is the TLS one, not the TCP one it wraps.
    cert, key = loopback_cert
    client = httpx.Client(
        verify=ssl.create_default_context(cafile=cert),
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        timeout=httpx.Timeout(2),
    )
    started = time.monotonic()
    with (
        tls_header_drip(cert, key) as url,
        client,
        pytest.raises(FetchError, match=r"the download deadline of 1 s passed"),
    ):
        http.download(
            client,
            url,
            tmp_path / "t.csv",
            limit=1000,
            kind="csv",
            label="t",
            policy=replace(FAST, deadline=1),
            progress=False,
        )
    assert time.monotonic() - started < 5


def test_no_retry_waits_past_the_deadline(
    server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    url = server.script("/busy.csv", Reply(status=503, headers={"Retry-After": "30"}))
    policy = replace(FAST, attempts=4, max_delay=60, deadline=2)
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"a retry in 30.0 s would end past the deadline of 2 s"):
        resolve_pinned(SRC, REL, pin(url), policy=policy)
    assert time.monotonic() - started < 2
    assert server.hits["/busy.csv"] == 1
    assert "retry" not in capsys.readouterr().err


def test_a_fast_download_meets_the_limits(server: ScriptedServer) -> None:
    url = server.script("/t.csv", Reply(body=BODY))
    policy = replace(FAST, deadline=5, min_rate=1024, rate_window=0.5)
    assert resolve_pinned(SRC, REL, pin(url), policy=policy).path.read_bytes() == BODY


# ------------------------------------------------------------------ item 7: disk full


def test_disk_full_while_copying_from_the_archive_is_a_disk_error(
    server: ScriptedServer,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    previous: dict[str, bytes],
) -> None:
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "held.csv").write_bytes(BODY)
    monkeypatch.setenv("SENDSTATS_ARCHIVE", str(archive))
    url = server.script("/t.csv", Reply(body=BODY))
    fail_writes_under(monkeypatch, data_dir / "raw", errno.ENOSPC)
    folder = data_dir / "raw" / SRC / REL
    with pytest.raises(
        StorageError, match=rf"disk full: no space left on the disk holding {folder}"
    ):
        resolve_pinned(SRC, REL, pin(url), policy=FAST)
    monkeypatch.undo()
    assert server.hits["/t.csv"] == 0  # never taken for "not in the archive"
    assert snapshot(data_dir) == previous


def test_disk_full_while_downloading_is_a_disk_error_and_not_retried(
    server: ScriptedServer,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    previous: dict[str, bytes],
) -> None:
    url = server.script("/t.csv", Reply(body=BODY))
    fail_writes_under(monkeypatch, data_dir / "raw", errno.ENOSPC)
    with pytest.raises(StorageError, match=r"disk full: .* while downloading test_src 2025/table"):
        resolve_pinned(SRC, REL, pin(url), policy=FAST)
    monkeypatch.undo()
    assert server.hits["/t.csv"] == 1
    assert snapshot(data_dir) == previous


# ------------------------------------------------------------------ item 9: content


@pytest.mark.parametrize(
    "page",
    [
        b"<!-- generated 2025-06-12 -->\n<!DOCTYPE html><html><body>Busy</body></html>",
        b"\xef\xbb\xbf\n\n   <!--x--><html>",
        b"la_code,ehcplans\n<script>location='/login'</script>\n",
    ],
)
def test_a_page_is_refused_when_no_pin_protects(
    server: ScriptedServer, data_dir: Path, page: bytes
) -> None:
    url = server.script("/t.csv", Reply(body=page, headers={"Content-Type": "text/csv"}))
    with pytest.raises(HtmlInsteadOfFile, match="served an HTML page"):
        resolve_pinned(SRC, REL, pin(url), update_pins=True, policy=FAST)
    assert not (data_dir / "raw" / SRC / REL / ".pending").exists()


def test_a_page_inside_a_release_zip_is_refused(server: ScriptedServer, data_dir: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("data/table.csv", b"<!-- moved -->\n<html>moved</html>")
    url = server.script("/r.zip", Reply(body=buf.getvalue()))
    with pytest.raises(HtmlInsteadOfFile, match=r"zip member 'data/table\.csv' served an HTML"):
        resolve_pinned(SRC, REL, pin(url, member="data/table.csv"), update_pins=True, policy=FAST)
    assert not (data_dir / "raw" / SRC / REL / ".pending").exists()


# ------------------------------------------------------------------ item 10: redirects


def _redirect(web: HTTPServer, path: str, location: str) -> None:
    web.expect_request(path).respond_with_response(
        Response(status=302, headers={"Location": location})
    )


def _requested(web: HTTPServer) -> list[str]:
    return [request.path for request, _ in web.log]


def test_a_redirect_to_a_host_not_allowed_is_never_requested(
    web: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # evil.example resolves to this loopback server, so a request to it would show in the log.
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == "evil.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    web.expect_request("/steal.csv").respond_with_data(BODY)
    _redirect(web, "/t.csv", f"http://evil.example:{web.port}/steal.csv")
    with pytest.raises(FetchError, match=r"refusing the redirect .* plain http .* not requested"):
        resolve_pinned(SRC, REL, pin(web.url_for("/t.csv")), policy=FAST)
    assert _requested(web) == ["/t.csv"]


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("ftp://127.0.0.1/t.csv", "scheme 'ftp' is not https"),
        ("file:///etc/passwd", "scheme 'file' is not https"),
        ("http://user:pw@127.0.0.1/t.csv", "carries credentials"),
    ],
)
def test_a_redirect_to_another_scheme_is_refused_before_any_request(
    web: HTTPServer, location: str, why: str
) -> None:
    _redirect(web, "/t.csv", location)
    with pytest.raises(FetchError, match=why):
        resolve_pinned(SRC, REL, pin(web.url_for("/t.csv")), policy=FAST)
    assert _requested(web) == ["/t.csv"]


def test_checked_hops_between_loopback_hosts_are_followed(web: HTTPServer) -> None:
    _redirect(web, "/a", "/b")
    _redirect(web, "/b", f"http://localhost:{web.port}/final.csv")
    web.expect_request("/final.csv").respond_with_data(BODY, content_type="text/csv")
    assert resolve_pinned(SRC, REL, pin(web.url_for("/a")), policy=FAST).route == "download"
    assert _requested(web) == ["/a", "/b", "/final.csv"]


@pytest.mark.parametrize(
    ("origin", "target", "why"),
    [
        ("https://pub.example/a", "http://pub.example/b", "plain http"),
        ("https://pub.example/a", "https://127.0.0.1/b", "local or private"),
        ("https://pub.example/a", "https://localhost/b", "local or private"),
        ("https://pub.example/a", "https://10.1.2.3/b", "local or private"),
        ("https://pub.example/a", "https://192.168.0.1/b", "local or private"),
        ("https://pub.example/a", "https://169.254.169.254/latest", "local or private"),
        ("https://pub.example/a", "https://[::1]/b", "local or private"),
        ("https://pub.example/a", "https://u:p@cdn.example/b", "credentials"),
        ("https://pub.example/a", "javascript:alert(1)", "scheme"),
        ("http://127.0.0.1/a", "http://pub.example/b", "plain http"),
        ("https://pub.example/a", "https://cdn.example/b.csv", ""),
        ("http://127.0.0.1:8/a", "http://localhost:9/b", ""),
    ],
)
def test_check_redirect(origin: str, target: str, why: str) -> None:
    if not why:
        check_redirect(origin, target, "t")
        return
    with pytest.raises(FetchError, match=why):
        check_redirect(origin, target, "t")
