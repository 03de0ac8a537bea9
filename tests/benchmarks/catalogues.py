"""Provider catalogues of the real sizes for a configuration, without NASA's CMR.

A real run's download jobs (one per product and period) fetch what the catalogues list
(MOD11A1 tiles x days, MOD13A2 composites, MCD43C3 days, SRTM tiles); with the files in
place, the rules read them. To time those DAGs (issue 15, item 5) without querying CMR,
:func:`write_catalogues` writes, for each catalogue the run needs, what
``make_catalogue`` would write from CMR's answer: every granule of the region of the
catalogue's year (the region's SRTM tiles), each with a provider file name carrying a
production time stamp, an LP DAAC URL, a size about the product's ``nominal_mb`` and an MD5
checksum. The entries go through the workflow's own code (:func:`catalogue_entries` on
UMM-G items, :func:`write_catalogue`), so the files are in exactly the format the workflow
reads. Every granule is listed (no outage day, no tile over sea): the largest DAG.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from smdownscale.config import run_grids
from smdownscale.download.catalogue import (
    catalogue_entries,
    catalogue_relpath,
    cmr_params,
    write_catalogue,
)
from smdownscale.download.plan import (
    catalogue_candidates,
    catalogue_parts,
    raw_dir,
    required_files,
)
from smdownscale.download.sources import CATALOGUED, Product
from smdownscale.rawlayout import modis_tiles_for_bbox

#: Where LP DAAC's cloud archive serves the catalogued products (CMR's "GET DATA" links).
LPDAAC = "https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected"


def _digest(name: str) -> bytes:
    return hashlib.blake2b(name.encode(), digest_size=16).digest()


def provider_name(relpath: str) -> str:
    """The provider's file name of a raw path: MODIS and MCD43C3 names gain a production
    time stamp (``YYYYDDDHHMMSS``, a day of the 2021-22 collection 6.1 reprocessing, fixed
    per granule); SRTM tiles keep their name."""
    name = Path(relpath).name
    if not name.endswith(".hdf"):
        return name
    d = _digest(name)
    made = dt.datetime(2021, 6, 1) + dt.timedelta(seconds=int.from_bytes(d[:4]) % (365 * 86400))
    return f"{name.removesuffix('.hdf')}.{made:%Y%j%H%M%S}.hdf"


def granule_size(product: Product, name: str) -> int:
    """A plausible size in bytes: the product's nominal size x 0.6 to 1.4, fixed per name."""
    f = 0.6 + 0.8 * int.from_bytes(_digest(name)[4:8]) / 2**32
    return int(product.nominal_bytes() * f)


def umm_item(product: Product, relpath: str) -> dict[str, Any]:
    """The UMM-G item CMR returns for one granule (the fields the catalogue reads, and the
    links it must skip: direct S3 access and the browse image)."""
    assert product.cmr is not None
    name = provider_name(relpath)
    stem = name.removesuffix(".zip").removesuffix(".hdf")
    folder = f"{LPDAAC}/{product.cmr.short_name}.{product.cmr.version}/{stem}"
    return {
        "meta": {"concept-id": f"G{int.from_bytes(_digest(name)[8:12])}-LPCLOUD"},
        "umm": {
            "GranuleUR": f"{product.cmr.short_name}.{product.cmr.version}:{stem}",
            "DataGranule": {
                "ArchiveAndDistributionInformation": [
                    {
                        "Name": name,
                        "SizeInBytes": granule_size(product, name),
                        "Size": round(granule_size(product, name) / 2**20, 2),
                        "SizeUnit": "MB",
                        "Checksum": {
                            "Value": hashlib.md5(name.encode()).hexdigest(),
                            "Algorithm": "MD5",
                        },
                    },
                    {"Name": f"{stem}.jpg", "SizeInBytes": 40_000},
                ]
            },
            "RelatedUrls": [
                {"URL": f"{folder}/{name}", "Type": "GET DATA"},
                {"URL": f"s3://lp-prod-protected/{name}", "Type": "GET DATA VIA DIRECT ACCESS"},
                {"URL": f"{folder}/{stem}.jpg", "Type": "GET RELATED VISUALIZATION"},
            ],
        },
    }


def write_catalogues(
    cfg: Mapping[str, Any],
    raw: str | Path | None = None,
    absent: Collection[str] = frozenset(),
) -> list[Path]:
    """Write every catalogue the run of ``cfg`` (prepared) needs into the raw folder ``raw``
    (default the run's, relative to the working directory); returns their paths.

    A catalogue lists the region's granules of its whole year, as the one CMR answers
    (``make_catalogue`` keeps every day of the year, not only the run's); raw paths in
    ``absent`` are left out, as granules the provider does not have.
    """
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    _, fine = run_grids(cfg)
    tiles = sorted(f"h{h:02d}v{v:02d}" for h, v in modis_tiles_for_bbox(fine.bbox))
    written = []
    for key, part in catalogue_parts(required_files(cfg, raw)):
        product = CATALOGUED[key]
        items = (
            umm_item(product, rel)
            for rel in catalogue_candidates(cfg, key, part)
            if rel not in absent
        )
        entries = catalogue_entries(product, items)
        query = cmr_params(product, part, tiles, fine.bbox)
        written.append(write_catalogue(raw / catalogue_relpath(key, part), product, part,
                                       query, entries))  # fmt: skip
    return written


def job_counts(stdout: str) -> dict[str, int]:
    """Rule -> jobs of a dry run's first "Job stats" table (``snakemake -n``, with or
    without ``--quiet rules``); the table's ``total`` under the key ``total``."""
    counts: dict[str, int] = {}
    lines = iter(stdout.splitlines())
    for line in lines:
        if line.startswith("Job stats"):
            break
    for line in lines:
        fields = line.split()
        if len(fields) == 2 and fields[1].isdigit():
            counts[fields[0]] = int(fields[1])
            if fields[0] == "total":
                break
    return counts


def planned_downloads(stdout: str) -> list[str]:
    """The download groups a dry run (``snakemake -n``, not quiet) would run, as
    ``product/part.tsv`` (their markers' last two path parts), sorted."""
    return sorted(
        "/".join(Path(line.split("output: ", 1)[1]).parts[-2:])
        for block in stdout.split("\n\n")
        if "rule download_group" in block
        for line in block.splitlines()
        if "output: " in line
    )
