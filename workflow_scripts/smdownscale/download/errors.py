"""Errors of the acquisition stage; every message says what to do, none holds a credential."""

from __future__ import annotations


class DownloadError(RuntimeError):
    """A file could not be fetched (after retries where retrying makes sense)."""


class AuthError(DownloadError):
    """The provider refused the credentials (or none were given); says how to set them."""


class NotFoundError(DownloadError):
    """The provider has no file at the URL (HTTP 404/410)."""


class VerificationError(DownloadError):
    """A fetched file failed its size, checksum or format check; it was not kept."""


class OfflineError(DownloadError):
    """Offline mode is on and a file would need the network."""


class RetryableError(DownloadError):
    """A transient failure (429, 5xx, timeout, dropped connection): try again after a pause.

    ``retry_after_s`` is the server's Retry-After, when it sent one; ``progress`` tells
    whether bytes were received before the failure (retries are counted without progress).
    """

    def __init__(self, message: str, retry_after_s: float | None = None, progress: bool = False):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.progress = progress
