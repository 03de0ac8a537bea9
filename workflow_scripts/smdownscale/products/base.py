"""Shared pieces of the product readers."""

from __future__ import annotations

from pathlib import Path


class ProductError(ValueError):
    """A file that is missing, unreadable, or not the product it claims to be.

    Messages name the file and say what to do (re-download, check the product or version).
    """

    def __init__(self, path: str | Path, problem: str, advice: str = "") -> None:
        self.path = str(path)
        msg = f"{path}: {problem}"
        if advice:
            msg += f" ({advice})"
        super().__init__(msg)


REDOWNLOAD = "the file is incomplete or corrupt: delete it and download it again"
