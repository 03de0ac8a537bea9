"""Shared pieces of the product readers."""

from __future__ import annotations

import datetime as dt
import re
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


def day_from_name(
    path: str | Path, pattern: re.Pattern[str], product: str, example: str
) -> dt.date:
    """The day (``YYYYMMDD``, the pattern's first group) in a product file's name.

    Raises :class:`ProductError` naming the file when the name is not the product's.
    """
    m = pattern.search(Path(path).name)
    if not m:
        raise ProductError(path, f"file name is not {product} name", f"expected {example}")
    return dt.datetime.strptime(m.group(1), "%Y%m%d").date()
