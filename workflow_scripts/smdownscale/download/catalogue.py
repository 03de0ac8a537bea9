"""What a provider actually holds: granule catalogues from NASA's CMR.

MODIS, MCD43C3 and SRTM file names carry a production time stamp, so their URLs must be
looked up; and not every granule exists (SRTM has no tile over open sea, MODIS has outage
days). One CMR granule search per product and year (SRTM: one for the region) answers both:
the catalogue maps each raw path the provider has to its URL, size and checksum. The
download groups (:mod:`.groups`) fetch only the granules it lists and verify them against
its sizes and checksums.

A catalogue file is JSON: ``{"product", "part", "query", "created", "entries": {relpath:
{"name", "url", "size", "checksum"}}}``.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

from ..atomic import write_text_atomic
from .manifest import now_utc
from .sources import CATALOGUED, Product
from .transfer import Checksum, RetryPolicy, get_json

log = logging.getLogger(__name__)
PAGE_SIZE = 2000


@dataclass(frozen=True)
class Entry:
    """One granule the provider has: its file name, URL, size (bytes) and checksum."""

    name: str
    url: str
    size: int | None
    checksum: str | None  # "md5:<hex>" etc.

    def parsed_checksum(self) -> Checksum | None:
        if not self.checksum:
            return None
        algorithm, _, value = self.checksum.partition(":")
        return Checksum(algorithm, value)


def cmr_params(product: Product, part: str, tiles: Sequence[str], bbox: Sequence[float]) -> list:
    """CMR granule-search parameters for one catalogue (``part`` is a year or ``tiles``)."""
    q = product.cmr
    assert q is not None
    params: list[tuple[str, str]] = [
        ("short_name", q.short_name),
        ("version", q.version),
        ("page_size", str(PAGE_SIZE)),
        ("sort_key", "start_date"),
    ]
    if q.by in ("tile", "time"):
        year = int(part)
        # composites and 16-day albedo windows overlap the year's edges; names decide later
        params.append(("temporal", f"{year - 1}-12-15T00:00:00Z,{year + 1}-01-15T23:59:59Z"))
    if q.by == "tile":
        params.append(("options[readable_granule_name][pattern]", "true"))
        params += [("readable_granule_name[]", f"*.{t}.*") for t in tiles]
    if q.by == "bbox":
        w, s, e, n = bbox
        params.append(("bounding_box", f"{w},{s},{e},{n}"))
    return params


def cmr_items(
    session: requests.Session,
    cmr_url: str,
    params: list,
    policy: RetryPolicy | None = None,
) -> Iterator[dict[str, Any]]:
    """Every UMM-G item of a granule search, page by page (CMR-Search-After)."""
    after = None
    seen = 0
    while True:
        headers = {"Accept": "application/vnd.nasa.cmr.umm_results+json"}
        if after:
            headers["CMR-Search-After"] = after
        body, resp_headers = get_json(
            session, cmr_url, params=params, headers=headers, policy=policy
        )
        items = body.get("items", [])
        yield from items
        seen += len(items)
        after = resp_headers.get("CMR-Search-After")
        if not items or not after or seen >= int(body.get("hits", seen)):
            return


def _files_of(item: Mapping[str, Any]) -> Iterator[tuple[str, str, int | None, str | None]]:
    """(name, url, size, checksum) of the data files of one UMM-G item."""
    umm = item.get("umm", item)
    info = {}
    for a in umm.get("DataGranule", {}).get("ArchiveAndDistributionInformation", []) or []:
        size = a.get("SizeInBytes")  # "Size" with a "SizeUnit" is rounded: not a check
        ck = a.get("Checksum") or {}
        checksum = None
        if ck.get("Value") and ck.get("Algorithm"):
            try:
                checksum = str(Checksum.parse(ck["Algorithm"], ck["Value"]))
            except ValueError:
                checksum = None
        info[a.get("Name")] = (int(size) if size is not None else None, checksum)
    for link in umm.get("RelatedUrls", []) or []:
        url = link.get("URL", "")
        if link.get("Type") != "GET DATA" or not url.startswith(("https://", "http://")):
            continue
        name = url.rstrip("/").rsplit("/", 1)[-1]
        size, checksum = info.get(name, (None, None))
        yield name, url, size, checksum


def catalogue_entries(
    product: Product,
    items: Iterable[Mapping[str, Any]],
    keep: Callable[[str], bool] | None = None,
) -> dict[str, Entry]:
    """Raw path -> entry for the product's files among CMR items (latest production wins).

    ``keep`` restricts to the raw paths of interest (the catalogue's year, the region's
    tiles); it should not depend on the run's dates, so that a catalogue stays right when
    the dates change within its year.
    """
    assert product.provider_name is not None and product.to_relpath is not None
    out: dict[str, Entry] = {}
    for item in items:
        for name, url, size, checksum in _files_of(item):
            m = product.provider_name.fullmatch(name)
            if not m:
                continue
            rel = product.to_relpath(m)
            if keep is not None and not keep(rel):
                continue
            if rel in out and out[rel].name >= name:
                continue  # a reprocessed granule has a later production time stamp
            out[rel] = Entry(name=name, url=url, size=size, checksum=checksum)
    return dict(sorted(out.items()))


def write_catalogue(
    path: str | Path, product: Product, part: str, query: list, entries: Mapping[str, Entry]
) -> Path:
    doc = {
        "product": product.key,
        "part": part,
        "query": [list(p) for p in query],
        "created": now_utc(),
        "entries": {rel: asdict(e) for rel, e in entries.items()},
    }
    return write_text_atomic(path, json.dumps(doc, indent=1) + "\n")


@functools.lru_cache(maxsize=256)
def _load(path: str, mtime_ns: int) -> dict[str, Entry]:
    doc = json.loads(Path(path).read_text())
    return {rel: Entry(**e) for rel, e in doc["entries"].items()}


def load_catalogue(path: str | Path) -> dict[str, Entry]:
    """Raw path -> entry of a catalogue file (cached while the file is unchanged)."""
    p = Path(path)
    return _load(str(p), p.stat().st_mtime_ns)


def catalogue_relpath(product_key: str, part: str | int) -> str:
    """Where a catalogue lives, relative to the raw folder."""
    if product_key not in CATALOGUED:
        raise ValueError(f"{product_key} has no catalogue")
    return f"catalogue/{product_key}/{part}.json"
