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


def covers(lat, lon, bbox, half: float) -> bool:
    """Whether cell centres ``lat``, ``lon`` (cells ``2 half`` wide) cover ``bbox`` (west,
    south, east, north)."""
    west, south, east, north = (float(v) for v in bbox)
    return not (
        min(lat) > south + half
        or max(lat) < north - half
        or min(lon) > west + half
        or max(lon) < east - half
    )


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


#: Leading bytes of the formats a product file may turn out to be, and what to call them.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x0e\x03\x13\x01", "an HDF4 file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 / NetCDF-4 file"),
    (b"CDF\x01", "a NetCDF-3 file"),
    (b"CDF\x02", "a NetCDF-3 file"),
    (b"CDF\x05", "a NetCDF-3 file"),
    (b"PK\x03\x04", "a zip archive"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"\x1f\x8b", "a gzip file"),
    (b"II*\x00", "a TIFF / GeoTIFF image"),
    (b"MM\x00*", "a TIFF / GeoTIFF image"),
    (b"II+\x00", "a BigTIFF / GeoTIFF image"),
    (b"MM\x00+", "a BigTIFF / GeoTIFF image"),
    (b"%PDF", "a PDF document"),
)


def sniff(path: str | Path) -> str:
    """What a file is by its first bytes: ``"empty"``, ``"an HTML page"`` (a login or error
    page saved in place of the data), one of the formats above, or ``"unknown"``."""
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in text:
        return "an HTML page"
    return "unknown"


def not_readable(path: str | Path, expected: str, detail: str) -> ProductError:
    """The error for a file the ``expected`` format's library cannot open: what the file
    really is (by :func:`sniff`) and what to do; ``detail`` is the library's own words."""
    kind = sniff(path)
    problem = f"is not a readable {expected} file"
    if kind == "empty":
        return ProductError(path, f"{problem}: it is empty", REDOWNLOAD)
    if kind == "an HTML page":
        return ProductError(
            path,
            f"{problem}: it is an HTML page (a login or error page saved in place of the data)",
            "check the login (Earthdata credentials) or the URL, then delete it and download "
            "it again",
        )
    if kind == "unknown" or expected in kind:
        return ProductError(path, f"{problem} ({detail}): it is cut short or damaged", REDOWNLOAD)
    return ProductError(
        path,
        f"{problem}: it is {kind}",
        "another format saved under this name: delete it and download the file again",
    )
