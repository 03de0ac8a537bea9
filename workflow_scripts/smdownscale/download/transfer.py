"""HTTP transfers that never leave a file that looks finished but is not.

:func:`fetch` downloads a URL to a hidden partial name beside the target
(:func:`smdownscale.atomic.partial_name`), resumes it with an HTTP ``Range`` request after a
dropped connection or a timeout, retries with exponential backoff on 429 and 5xx (honouring
``Retry-After``), verifies size, checksum (when the provider publishes one) and format (the
file opens as the product it claims to be), and only then renames it to its name. A file
that fails verification is deleted, never renamed. The partial file is kept across failed
attempts (and across killed jobs, since its name is the same every time), which is what
makes resuming possible; :func:`smdownscale.atomic.atomic_path` deletes it on error, so it
is not used here.

Bodies are requested with ``Accept-Encoding: identity`` so that byte offsets are those of the
file. Retries are counted per attempt that made no progress: a slow server that drops the
connection every few megabytes still finishes, a server that answers 503 forever does not.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import http.client
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3

from ..atomic import disk_full_error, partial_name
from ..progress import Progress
from .credentials import redact_url
from .errors import (
    AuthError,
    DownloadError,
    NotFoundError,
    RetryableError,
    VerificationError,
)

log = logging.getLogger(__name__)

#: Statuses worth retrying: timeouts, rate limits and server-side failures.
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")
_NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
)
#: What reading a body can raise when the connection drops or stalls.
_STREAM_ERRORS = (
    *_NETWORK_ERRORS,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts without progress, backoff and the socket timeout."""

    attempts: int = 6
    backoff_s: float = 2.0
    max_backoff_s: float = 300.0
    timeout_s: float = 60.0

    def delay(self, failures: int, retry_after_s: float | None) -> float:
        """Seconds to wait before the next attempt (the server's Retry-After if it sent one)."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.max_backoff_s)
        return min(self.backoff_s * 2 ** max(failures - 1, 0), self.max_backoff_s)


@dataclass(frozen=True)
class Checksum:
    """A provider's published checksum (``algorithm`` as hashlib names it: md5, sha256, ...)."""

    algorithm: str
    value: str

    @classmethod
    def parse(cls, algorithm: str, value: str) -> Checksum:
        name = algorithm.lower().replace("-", "").replace("_", "")
        if name not in hashlib.algorithms_available:
            raise ValueError(f"unknown checksum algorithm {algorithm!r}")
        return cls(name, value.strip().lower())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


@dataclass(frozen=True)
class Expected:
    """What the provider says the file is: its size in bytes and checksum, when known."""

    size: int | None = None
    checksum: Checksum | None = None


@dataclass
class FetchResult:
    """A completed, verified transfer."""

    path: Path
    url: str
    size: int
    sha256: str
    requests: int
    resumed: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    checksum: Checksum | None = None
    notes: list[str] = field(default_factory=list)


#: A format check: raises (ProductError, ValueError, OSError, ...) unless the file at the
#: first argument is the product the target name (second argument) claims it is.
FormatCheck = Callable[[Path, Path], None]


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds; None when absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - now).total_seconds(), 0.0)


def file_digests(path: Path, algorithms: list[str]) -> dict[str, str]:
    """Hex digests of a file for each hashlib algorithm, in one pass."""
    hashes = {a: hashlib.new(a) for a in dict.fromkeys(algorithms)}
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            for h in hashes.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashes.items()}


def looks_like_html(path: Path) -> bool:
    """Whether a file starts like an HTML page (a login or error page served instead of data)."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml version")) and (
        b"<html" in head or b"<!doctype html" in head
    )


def verify_file(
    path: Path, target: Path, expected: Expected, check: FormatCheck | None
) -> dict[str, str]:
    """Size, checksum and format checks of a downloaded file; its digests (sha256 and the
    provider's algorithm). Raises :class:`VerificationError` naming the failed check."""
    size = path.stat().st_size
    if size == 0:
        raise VerificationError(f"{target.name}: the file is empty")
    if looks_like_html(path):
        raise VerificationError(
            f"{target.name}: received an HTML page instead of the file (a login page when "
            "credentials are missing or wrong, or an error page when the URL has moved)"
        )
    if expected.size is not None and size != expected.size:
        raise VerificationError(
            f"{target.name}: {size} bytes, but the provider lists {expected.size} bytes"
        )
    algorithms = ["sha256"] + ([expected.checksum.algorithm] if expected.checksum else [])
    digests = file_digests(path, algorithms)
    if expected.checksum and digests[expected.checksum.algorithm] != expected.checksum.value:
        raise VerificationError(
            f"{target.name}: {expected.checksum.algorithm} checksum "
            f"{digests[expected.checksum.algorithm]} is not the provider's "
            f"{expected.checksum.value}"
        )
    if check is not None:
        try:
            check(path, target)
        except Exception as exc:  # readers raise ProductError, ValueError, OSError, HDF4Error
            raise VerificationError(
                f"{target.name}: not a valid file of its product: {exc}"
            ) from None
    return digests


def _parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    m = _CONTENT_RANGE.match(value or "")
    if not m:
        return None
    total = None if m.group(3) == "*" else int(m.group(3))
    return int(m.group(1)), int(m.group(2)), total


def _unsatisfiable_total(value: str | None) -> int | None:
    m = re.match(r"bytes\s+\*/(\d+)", value or "")
    return int(m.group(1)) if m else None


@dataclass
class _Attempt:
    appended: int = 0
    total: int | None = None
    complete: bool = False


def _transfer_once(
    session: requests.Session,
    url: str,
    part: Path,
    auth: requests.auth.AuthBase | None,
    policy: RetryPolicy,
    on_auth_failure: Callable[[int], str] | None,
    binary: bool,
    chunk_bytes: int,
    on_bytes: Callable[[int], object] | None = None,
) -> _Attempt:
    """One GET (resuming from the partial file's size); appends to it. Raises
    :class:`RetryableError` for transient failures, other :class:`DownloadError` for final ones.
    """
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    attempt = _Attempt()
    try:
        resp = session.get(
            url,
            headers=headers,
            auth=auth,
            stream=True,
            timeout=(policy.timeout_s, policy.timeout_s),
            allow_redirects=True,
        )
    except _NETWORK_ERRORS as exc:
        raise RetryableError(f"no response ({type(exc).__name__})") from None
    with resp:
        status = resp.status_code
        if status in (401, 403):
            raise AuthError(
                on_auth_failure(status)
                if on_auth_failure
                else f"{redact_url(url)}: access refused (HTTP {status})"
            )
        if status in (404, 410):
            raise NotFoundError(f"{redact_url(url)}: the provider has no such file (HTTP {status})")
        if status == 416:
            total = _unsatisfiable_total(resp.headers.get("Content-Range"))
            if total is not None and total == offset:
                attempt.total, attempt.complete = total, True
                return attempt
            part.unlink(missing_ok=True)
            raise RetryableError("the partial file does not fit the server's file; restarting")
        if status in RETRY_STATUS:
            raise RetryableError(
                f"HTTP {status}", retry_after_s=retry_after_seconds(resp.headers.get("Retry-After"))
            )
        if status >= 400 or status not in (200, 206):
            raise DownloadError(f"{redact_url(url)}: unexpected HTTP {status}")
        if status == 206:
            rng = _parse_content_range(resp.headers.get("Content-Range"))
            if rng is None or rng[0] != offset:
                part.unlink(missing_ok=True)
                raise RetryableError("the server resumed at another offset; restarting")
            attempt.total = rng[2]
            mode = "ab"
        else:
            if offset:
                log.info("the server ignored the range request; downloading from the start")
            offset = 0
            length = resp.headers.get("Content-Length")
            attempt.total = int(length) if length and length.isdigit() else None
            mode = "wb"
        ctype = resp.headers.get("Content-Type", "").lower()
        if binary and offset == 0 and ctype.startswith("text/html"):
            # the Earthdata login page comes back as 200 text/html when credentials are missing
            if on_auth_failure is not None:
                raise AuthError(on_auth_failure(status))
            raise DownloadError(
                f"{redact_url(resp.url)} answered with an HTML page instead of the file "
                "(an error page, or the URL has moved: check download.urls)"
            )
        try:
            with open(part, mode) as f:
                # read1: every byte that arrived is written, even when the connection then
                # drops (a buffered read of a whole block would lose them)
                while block := resp.raw.read1(chunk_bytes, decode_content=False):
                    f.write(block)
                    attempt.appended += len(block)
                    if on_bytes is not None:
                        on_bytes(len(block))
        except _STREAM_ERRORS as exc:
            raise RetryableError(
                f"connection lost after {offset + attempt.appended} bytes ({type(exc).__name__})",
                progress=attempt.appended > 0,
            ) from None
    size = offset + attempt.appended
    if attempt.total is not None and size < attempt.total:
        raise RetryableError(
            f"connection closed after {size} of {attempt.total} bytes",
            progress=attempt.appended > 0,
        )
    if attempt.total is not None and size > attempt.total:
        part.unlink(missing_ok=True)
        raise RetryableError(f"received {size} bytes, more than the {attempt.total} announced")
    attempt.total = size
    attempt.complete = True
    return attempt


def fetch(
    url: str,
    target: str | Path,
    *,
    session: requests.Session,
    auth: requests.auth.AuthBase | None = None,
    expected: Expected | None = None,
    check: FormatCheck | None = None,
    policy: RetryPolicy | None = None,
    on_auth_failure: Callable[[int], str] | None = None,
    binary: bool = True,
    sleep: Callable[[float], Any] = time.sleep,
    chunk_bytes: int = 1 << 20,
    logger: logging.Logger | None = None,
) -> FetchResult:
    """Download ``url`` to ``target`` atomically, resumably, with retries and verification.

    ``expected`` holds the provider's size and checksum when known; ``check`` is the
    product's format check; ``on_auth_failure(status)`` builds the message of an
    :class:`AuthError` (how to set credentials). Returns the verified :class:`FetchResult`;
    raises :class:`AuthError`, :class:`NotFoundError`, :class:`VerificationError` (the bad
    file is deleted) or :class:`DownloadError` (retries exhausted; the partial file is kept
    for the next attempt to resume).
    """
    target = Path(target)
    expected = expected or Expected()
    policy = policy or RetryPolicy()
    logger = logger or log
    target.parent.mkdir(parents=True, exist_ok=True)
    part = partial_name(target)
    t0 = time.monotonic()
    failures = retries = requests_made = resumed = 0
    fresh_retry = False
    if part.exists():
        logger.info("resuming %s from %d bytes left by an earlier attempt", target.name,
                    part.stat().st_size)  # fmt: skip
    # a line every 30 s while a big file streams in (the caller logs the end)
    have = part.stat().st_size if part.exists() else 0
    left = None if expected.size is None else max(expected.size - have, 0)
    progress = Progress(
        target.name, left, logger.info, unit="bytes", step=1.0, start=False, end=False
    )
    while True:
        offset = part.stat().st_size if part.exists() else 0
        if expected.size is not None and offset > expected.size:
            part.unlink()
            offset = 0
        if expected.size is not None and 0 < offset == expected.size:
            complete = True  # an earlier attempt received every byte; only verification is left
        else:
            complete = False
            if offset:
                resumed += 1
            requests_made += 1
            try:
                _transfer_once(
                    session, url, part, auth, policy, on_auth_failure, binary, chunk_bytes,
                    progress.advance,
                )  # fmt: skip
                complete = True
            except OSError as exc:  # a full disk: no partial file to resume from
                full = disk_full_error(exc, target, part)
                if full is None:
                    raise
                part.unlink(missing_ok=True)
                raise full from exc
            except RetryableError as exc:
                failures = 0 if exc.progress else failures + 1
                if failures > policy.attempts:
                    raise DownloadError(
                        f"{redact_url(url)}: gave up after {policy.attempts + 1} attempts "
                        f"without progress (last: {exc}); run the job again to resume"
                    ) from None
                retries += 1
                wait = policy.delay(max(failures, 1), exc.retry_after_s)
                logger.warning("%s: %s; retrying in %.1f s", target.name, exc, wait)
                sleep(wait)
        if not complete:
            continue
        try:
            digests = verify_file(part, target, expected, check)
        except VerificationError:
            part.unlink(missing_ok=True)
            if resumed and not fresh_retry:
                # a resumed file can be spliced from two versions: one clean download decides
                fresh_retry = True
                logger.warning("%s failed verification after resuming; downloading it anew",
                               target.name)  # fmt: skip
                continue
            raise
        os.replace(part, target)
        size = target.stat().st_size
        return FetchResult(
            path=target,
            url=redact_url(url),
            size=size,
            sha256=digests["sha256"],
            requests=requests_made,
            resumed=resumed,
            retries=retries,
            elapsed_s=time.monotonic() - t0,
            checksum=expected.checksum,
        )


def get_json(
    session: requests.Session,
    url: str,
    params: Any = None,
    headers: dict[str, str] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    logger: logging.Logger | None = None,
) -> tuple[Any, requests.structures.CaseInsensitiveDict]:
    """GET a JSON document with the same retry rules as :func:`fetch`: (body, headers)."""
    policy = policy or RetryPolicy()
    logger = logger or log
    failures = 0
    while True:
        try:
            resp = session.get(url, params=params, headers=headers, timeout=policy.timeout_s)
        except _NETWORK_ERRORS as exc:
            err: RetryableError | None = RetryableError(f"no response ({type(exc).__name__})")
        else:
            if resp.status_code in RETRY_STATUS:
                err = RetryableError(
                    f"HTTP {resp.status_code}",
                    retry_after_s=retry_after_seconds(resp.headers.get("Retry-After")),
                )
            elif resp.status_code != 200:
                raise DownloadError(
                    f"{redact_url(url)}: HTTP {resp.status_code}: {resp.text[:300].strip()}"
                )
            else:
                try:
                    return resp.json(), resp.headers
                except ValueError:
                    raise DownloadError(f"{redact_url(url)}: the answer is not JSON") from None
        failures += 1
        if failures > policy.attempts:
            raise DownloadError(f"{redact_url(url)}: gave up after {failures} attempts ({err})")
        wait = policy.delay(failures, err.retry_after_s)
        logger.warning("%s: %s; retrying in %.1f s", redact_url(url), err, wait)
        sleep(wait)
