"""One download over HTTP: redirect hops checked first, time limits, retries, checked content.

:func:`download` streams a URL into a temp file for :mod:`sendstats.acquire.fetch`:

- **Redirects** are followed by hand, one hop at a time, and each hop's target is checked
  (:func:`check_redirect`: https only, or plain http between loopback hosts; no hop from a
  public host to a loopback, private or link-local address) *before* it is requested.
- **Time**: connect and read timeouts per network operation; a minimum rate
  (``policy.min_rate`` bytes per second over each ``policy.rate_window`` seconds of the body);
  and an overall deadline (``policy.deadline``) for the whole download, every attempt and wait
  included. A watchdog thread shuts the connection down when the deadline passes, so a server
  that drips its headers one byte at a time is stopped as surely as one that drips its body.
- **Retries** of transient failures (connection errors, timeouts, a cut-off body, a body below
  the minimum rate, 408/425/429 and 5xx) run through :mod:`tenacity`: exponential backoff, a
  server's ``Retry-After`` honoured up to ``policy.max_delay``, and no wait that would end past
  the deadline.
- **Content**: an HTML ``Content-Type`` is refused before the body is read, the first bytes are
  checked as soon as they arrive and the complete file at the end
  (:mod:`sendstats.acquire.content`); more bytes than allowed stop the transfer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import ipaddress
import socket
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tenacity import RetryCallState, Retrying, retry_if_exception_type
from tqdm import tqdm

from sendstats.acquire.content import HEAD_BYTES, ContentError, check_head
from sendstats.acquire.download import (
    FetchError,
    HtmlInsteadOfFile,
    RetryPolicy,
    _TransientError,
    check_content,
)
from sendstats.core.io import open_for_write, writing_into

if TYPE_CHECKING:
    import httpx

_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RETRY_STATUS = frozenset({408, 425, 429})
_REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


# ---------------------------------------------------------------- URLs and hops


def _is_local(host: str | None) -> bool:
    return host in _LOCAL_HOSTS


def _is_internal(host: str | None) -> bool:
    """Tell if ``host`` is loopback, private, link-local or unspecified (or ``localhost``)."""
    if not host or _is_local(host) or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name: where it resolves is not known before the request
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_unspecified


def check_url(url: str, label: str) -> None:
    """Refuse a download URL that is not https (plain http only to a loopback host)."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_local(parts.hostname)):
        return
    raise FetchError(f"{label}: refusing {url}: downloads must use https://")


def check_redirect(origin: str, target: str, label: str) -> None:
    """Refuse a redirect hop before it is requested.

    ``origin`` is the declared URL the download started from. A hop must use https, or plain
    http between loopback hosts (a test server); it may not lead from a public host to a
    loopback, private or link-local address, nor carry credentials.

    Raises:
        FetchError: naming the hop and why it was refused.

    """
    start, hop = urlsplit(origin), urlsplit(target)
    why = ""
    if hop.scheme not in ("https", "http"):
        why = f"scheme {hop.scheme or '(none)'!r} is not https"
    elif hop.scheme == "http" and not (_is_local(start.hostname) and _is_local(hop.hostname)):
        why = "plain http (downloads must use https://)"
    elif _is_internal(hop.hostname) and not _is_internal(start.hostname):
        why = f"host {hop.hostname!r} is a local or private address"
    elif hop.username or hop.password:
        why = "the URL carries credentials"
    if why:
        raise FetchError(
            f"{label}: refusing the redirect from {origin} to {target}: {why}; it was not requested"
        )


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


# ---------------------------------------------------------------- the deadline


class Deadline:
    """The overall time limit of one download, enforced by a watchdog thread.

    Passed to httpx as the ``trace`` extension, it learns the socket of every connection the
    download opens; when the time is up the watchdog shuts them down, which ends any blocked
    read (headers or body) at once.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        """Return the seconds left (negative when past)."""
        return self.end - time.monotonic()

    def check(self) -> None:
        """Raise a transient error once the deadline has passed (the retry loop then stops)."""
        if self.remaining() <= 0:
            self.expired = True
            raise _TransientError(f"the deadline of {self.seconds:g} s passed")

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """Record each new connection's socket (httpcore trace callback)."""
        # The TLS stream wraps (and detaches) the TCP socket: keep both, shut down whichever
        # is live when the time is up.
        if event.endswith(("connect_tcp.complete", "start_tls.complete")):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sockets.append(sock)
                    if self.expired:
                        self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shutdown(sock)

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._timer.cancel()


# ---------------------------------------------------------------- one attempt


def _check_response(resp: httpx.Response, limit: int, label: str) -> None:
    status = resp.status_code
    if status in _RETRY_STATUS or status >= 500:
        raise _TransientError(f"HTTP {status} {resp.reason_phrase}", _retry_after(resp))
    if status != 200:
        raise FetchError(f"{label}: HTTP {status} {resp.reason_phrase} from {resp.url}")
    ctype = resp.headers.get("content-type", "").lower()
    if ctype.startswith(("text/html", "application/xhtml")):
        raise HtmlInsteadOfFile(
            f"{label}: {resp.url} served an HTML page (Content-Type {ctype}), not the data file "
            "(an error page, or a release page instead of the download link); refused"
        )
    length = resp.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise FetchError(
            f"{label}: {resp.url} announces {int(length)} bytes, larger than the declared "
            f"{limit}; refused without reading"
        )


def _check_head(head: bytes, kind: str, label: str, url: str) -> None:
    try:
        check_head(head, kind)
    except ContentError as exc:
        if exc.html:
            raise HtmlInsteadOfFile(
                f"{label}: {url} served an HTML page, not the data file ({exc}: an error page, "
                "or a release page instead of the download link); refused"
            ) from exc
        raise FetchError(f"{label}: {url} did not serve a {kind} file: {exc}; refused") from exc


class _Body:
    """Writes one response body, checking its size, rate, deadline and first bytes."""

    def __init__(self, limit: int, kind: str, label: str, policy: RetryPolicy, clock: Deadline):
        self.limit, self.kind, self.label = limit, kind, label
        self.policy, self.clock = policy, clock
        self.digest, self.size, self.head = hashlib.sha256(), 0, b""
        self.window_start, self.window_size = time.monotonic(), 0

    def take(self, chunk: bytes, url: str) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
            if len(self.head) >= HEAD_BYTES:
                _check_head(self.head, self.kind, self.label, url)
        self.size += len(chunk)
        if self.size > self.limit:
            raise FetchError(
                f"{self.label}: {url} sent more than the declared {self.limit} bytes; "
                "stopped reading and refused"
            )
        self.digest.update(chunk)
        self.clock.check()
        now = time.monotonic()
        if now - self.window_start >= self.policy.rate_window:
            got = self.size - self.window_size
            if got < self.policy.min_rate * (now - self.window_start):
                raise _TransientError(
                    f"too slow: {got} bytes in {now - self.window_start:.1f} s, under the "
                    f"minimum of {self.policy.min_rate:g} bytes/s"
                )
            self.window_start, self.window_size = now, self.size


def _write_body(resp: httpx.Response, tmp: Path, body: _Body, progress: bool) -> tuple[str, int]:
    url = str(resp.url)
    length = resp.headers.get("content-length", "")
    bar = tqdm(
        total=int(length) if length.isdigit() else None,
        desc=body.label,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        leave=False,
        disable=None if progress else True,
    )
    with bar, open_for_write(tmp) as out:
        for chunk in resp.iter_bytes():  # as the bytes arrive, so the rate is seen
            body.take(chunk, url)
            with writing_into(tmp.parent, f"downloading {body.label}"):
                out.write(chunk)
            bar.update(resp.num_bytes_downloaded - bar.n)
        with writing_into(tmp.parent, f"downloading {body.label}"):
            out.flush()
    if len(body.head) < HEAD_BYTES:
        _check_head(body.head, body.kind, body.label, url)
    check_content(tmp, body.kind, body.label, url)
    return body.digest.hexdigest(), body.size


def _attempt(
    client: httpx.Client,
    url: str,
    tmp: Path,
    limit: int,
    kind: str,
    label: str,
    policy: RetryPolicy,
    clock: Deadline,
    progress: bool,
) -> tuple[str, int]:
    """One attempt: follow the checked redirect hops, then stream the body into ``tmp``."""
    import httpx

    current = url
    for _ in range(policy.max_redirects + 1):
        clock.check()
        try:
            with client.stream(
                "GET", current, follow_redirects=False, extensions={"trace": clock.trace}
            ) as resp:
                location = resp.headers.get("location")
                if resp.status_code in _REDIRECT_STATUS and location:
                    target = str(resp.url.join(location))
                    check_redirect(url, target, label)
                    current = target
                    continue
                _check_response(resp, limit, label)
                body = _Body(limit, kind, label, policy, clock)
                return _write_body(resp, tmp, body, progress)
        except httpx.TransportError as exc:
            clock.check()
            raise _TransientError(f"{type(exc).__name__}: {exc or 'no detail'}") from exc
        except httpx.RequestError as exc:
            raise FetchError(f"{label}: {current}: {type(exc).__name__}: {exc}") from exc
    raise FetchError(
        f"{label}: {url}: TooManyRedirects: more than {policy.max_redirects} redirects; refused"
    )


# ---------------------------------------------------------------- retries


def download(
    client: httpx.Client,
    url: str,
    tmp: Path,
    *,
    limit: int,
    kind: str,
    label: str,
    policy: RetryPolicy,
    progress: bool,
) -> tuple[str, int]:
    """Stream ``url`` into ``tmp`` with checks and bounded retries; return (sha256, bytes).

    Raises:
        FetchError: a refused response or content, the deadline passed, or the retries used
            up (``HtmlInsteadOfFile`` for an HTML page).
        StorageError: the disk holding ``tmp`` is full.

    """
    check_url(url, label)
    clock = Deadline(policy.deadline)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = exc.retry_after if isinstance(exc, _TransientError) else None
        return min(after if after is not None else policy.backoff(state.attempt_number),
                   policy.max_delay)  # fmt: skip

    too_late: list[float] = []  # the wait that would have ended past the deadline

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.attempts:
            return True
        if clock.remaining() <= wait(state):
            too_late.append(wait(state))
            return True
        return False

    def tell(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        problem = exc.problem if isinstance(exc, _TransientError) else str(exc)
        print(
            f"{label}: {problem}; retry {state.attempt_number + 1}/{policy.attempts} in "
            f"{wait(state):.1f} s",
            file=sys.stderr,
        )

    retrying = Retrying(
        stop=stop,
        wait=wait,
        retry=retry_if_exception_type(_TransientError),
        before_sleep=tell,
        reraise=True,
    )
    with clock:
        try:
            return retrying(_attempt, client, url, tmp, limit, kind, label, policy, clock, progress)
        except _TransientError as exc:
            attempts = retrying.statistics.get("attempt_number", policy.attempts)
            if clock.expired or clock.remaining() <= 0:
                raise FetchError(
                    f"{label}: giving up on {url}: the download deadline of {policy.deadline:g} s "
                    f"passed ({attempts} attempt(s); last error: {exc.problem}); refused"
                ) from exc
            if too_late:
                raise FetchError(
                    f"{label}: giving up on {url} after {attempts} attempt(s): {exc.problem}, and "
                    f"a retry in {too_late[-1]:.1f} s would end past the deadline of "
                    f"{policy.deadline:g} s"
                ) from exc
            raise FetchError(
                f"{label}: giving up on {url} after {attempts} attempts; last error: {exc.problem}"
            ) from exc
