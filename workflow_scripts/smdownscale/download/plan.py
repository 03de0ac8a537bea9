"""The raw files a configuration needs, what is already there, and what is left to fetch.

:func:`required_files` lists, from the config alone (region -> MODIS and SRTM tiles, dates
-> days and 16-day composites), every raw file of every product, in the layout of
:mod:`smdownscale.rawlayout`. :func:`available_files` drops the granules that a fetched
catalogue shows the provider does not have (SRTM tiles over sea, MODIS outage days).
:func:`estimate` counts files and bytes per product (catalogue sizes where a catalogue is
there, typical sizes otherwise) and :func:`offline_problems` lists what an offline run
lacks. Run as a module from the repository's root it prints the estimate::

    PYTHONPATH=workflow_scripts python -m smdownscale.download.plan config/three_north.yaml

Several config files are merged as Snakemake merges ``--configfile`` files (``make plan
CONFIG="config/three_north.yaml config/paper_period.yaml"``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import rawlayout
from ..calendar import composite_starts
from ..config import run_grids, run_periods
from ..products.gldas import GLDAS_HOURS
from .catalogue import catalogue_relpath, load_catalogue
from .crop import kept_share
from .sources import CATALOGUED, PRODUCTS, era5_land, gldas_noah, terraclimate

#: Products in the order the estimate lists them.
ORDER = [
    "esa_cci", "smap_l3", "mod11a1", "mod13a2", "mcd43c3", "imerg", "srtm", "era5_land",
    "gldas_noah", "terraclimate",
]  # fmt: skip


def raw_dir(cfg: Mapping[str, Any]) -> Path:
    return Path(cfg["paths"]["raw"] or f"results/{cfg['run']}/raw")


def run_days(cfg: Mapping[str, Any]) -> list[dt.date]:
    return [d for p in run_periods(cfg) for d in p.days]


def required_files(cfg: Mapping[str, Any], raw: str | Path | None = None) -> dict[str, list[str]]:
    """Product key -> raw paths (relative to the raw folder ``raw``, default the run's) the
    run reads, before any catalogue says which exist."""
    periods = run_periods(cfg)
    _, fine = run_grids(cfg)
    tiles = rawlayout.modis_tiles_for_bbox(fine.bbox)
    days = [d for p in periods for d in p.days]
    composites = sorted({s for p in periods for s in composite_starts(p.days)})
    version = cfg["esa_cci"]["version"]
    target = (
        {"smap_l3": [rawlayout.smap_l3(d, cfg["smap"]["crid"]) for d in days]}
        if cfg["grid"]["coarse_product"] == "smap_l3"
        else {"esa_cci": [rawlayout.esa_cci(d, version) for d in days]}
    )
    out = {
        **target,
        "mod11a1": [rawlayout.modis_tile("MOD11A1", d, h, v) for d in days for h, v in tiles],
        "mod13a2": [rawlayout.modis_tile("MOD13A2", s, h, v) for s in composites for h, v in tiles],
        "mcd43c3": [rawlayout.mcd43c3(d) for d in days],
        "imerg": [rawlayout.imerg(d) for d in days],
        "srtm": [rawlayout.srtm(la, lo) for la, lo in rawlayout.srtm_tiles_for_bbox(fine.bbox)],
    }
    out.update(reference_files(cfg, raw))
    return out


REFERENCES = ("era5_land", "gldas_noah", "terraclimate")


def needed_references(cfg: Mapping[str, Any]) -> list[str]:
    """The references the switched-on evaluations read (none by default): the reference
    models listed in ``evaluation.reference_models`` (``true``: ERA5-Land) and, for the
    drought analysis, TerraClimate."""
    from ..config import reference_models

    ev = cfg["evaluation"]
    on = set(reference_models(ev["reference_models"]))
    if ev["drought"]:
        on.add("terraclimate")
    return [r for r in REFERENCES if r in on]


def reference_files(cfg: Mapping[str, Any], raw: str | Path | None = None) -> dict[str, list[str]]:
    """The evaluation references' raw paths: every file of a reference a switched-on
    evaluation reads; of one only listed under ``download.references``, every file when
    online and the files already in ``raw`` when offline (so that an offline run never asks
    for a reference nothing uses)."""
    needed = needed_references(cfg)
    listed = [r for r in REFERENCES if r in cfg["download"]["references"] and r not in needed]
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    out: dict[str, list[str]] = {}
    for key in REFERENCES:
        if key not in needed and key not in listed:
            continue
        rels = _reference_paths(key, run_days(cfg))
        if key in listed and cfg["offline"]:
            rels = [r for r in rels if (raw / r).is_file()]
        if rels:
            out[key] = rels
    return out


def _reference_paths(key: str, days: Sequence[dt.date]) -> list[str]:
    if key == "era5_land":
        return [era5_land(y, m) for y, m in sorted({(d.year, d.month) for d in days})]
    if key == "gldas_noah":
        return [gldas_noah(d, h) for d in sorted(set(days)) for h in GLDAS_HOURS]
    return [terraclimate(y) for y in sorted({d.year for d in days})]


def catalogue_part(key: str, relpath: str) -> str:
    """The catalogue holding a raw path: its year, or ``tiles`` for SRTM."""
    return "tiles" if key == "srtm" else str(PRODUCTS[key].fields(relpath)["year"])


def catalogue_parts(required: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(product, part) of every catalogue the required files need."""
    parts = []
    for key in ORDER:
        if key in CATALOGUED and required.get(key):
            parts += [
                (key, p) for p in dict.fromkeys(catalogue_part(key, r) for r in required[key])
            ]
    return parts


def catalogue_candidates(cfg: Mapping[str, Any], key: str, part: str) -> list[str]:
    """Every raw path a catalogue may list: the region's tiles on every day (or composite)
    of the catalogue's year, or the region's SRTM tiles; independent of the run's dates."""
    if key == "srtm":
        return required_files(cfg)["srtm"]
    _, fine = run_grids(cfg)
    tiles = rawlayout.modis_tiles_for_bbox(fine.bbox)
    year = int(part)
    days = [dt.date(year, 1, 1) + dt.timedelta(days=i) for i in range(366)]
    days = [d for d in days if d.year == year]
    if key == "mcd43c3":
        return [rawlayout.mcd43c3(d) for d in days]
    if key == "mod13a2":
        days = composite_starts(days)
    name = PRODUCTS[key].cmr.short_name  # type: ignore[union-attr]
    return [rawlayout.modis_tile(name, d, h, v) for d in days for h, v in tiles]


@dataclass
class Availability:
    """Per product: files to use, granules the provider lacks, catalogues not yet fetched."""

    files: dict[str, list[str]] = field(default_factory=dict)
    absent: dict[str, list[str]] = field(default_factory=dict)
    missing_catalogues: list[str] = field(default_factory=list)
    sizes: dict[str, int | None] = field(default_factory=dict)


def available_files(
    cfg: Mapping[str, Any],
    raw: str | Path | None = None,
    elsewhere: Collection[str] = frozenset(),
) -> Availability:
    """The required files minus the granules fetched catalogues show do not exist; a product
    whose catalogue is not there yet keeps every file (and the catalogue is listed). Files
    in ``elsewhere`` (raw paths of granules a provider archive holds: see
    :mod:`smdownscale.rawindex`) need no catalogue."""
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    req = required_files(cfg, raw)
    out = Availability()
    for key in ORDER:
        if key not in req:
            continue
        keep, absent = [], []
        if key not in CATALOGUED:
            keep = list(req[key])
        else:
            by_part: dict[str, list[str]] = {}
            keep = [rel for rel in req[key] if rel in elsewhere]
            for rel in req[key]:
                if rel in elsewhere:
                    continue
                by_part.setdefault(catalogue_part(key, rel), []).append(rel)
            for part, rels in by_part.items():
                cat_path = raw / catalogue_relpath(key, part)
                if not cat_path.is_file():
                    out.missing_catalogues.append(catalogue_relpath(key, part))
                    keep += rels
                    continue
                entries = load_catalogue(cat_path)
                for rel in rels:
                    if rel in entries:
                        keep.append(rel)
                        out.sizes[rel] = entries[rel].size
                    else:
                        absent.append(rel)
        out.files[key] = keep
        out.absent[key] = absent
    return out


@dataclass
class EstimateRow:
    product: str
    title: str
    files: int
    present: int
    absent: int
    to_fetch: int
    bytes_to_fetch: int
    bytes_exact: int  # the part of bytes_to_fetch that a catalogue lists exactly
    bytes_kept: int  # in the raw folder once fetched (crops estimated, files in place exact)


def estimate(
    cfg: Mapping[str, Any],
    raw: str | Path | None = None,
    elsewhere: Collection[str] = frozenset(),
) -> tuple[list[EstimateRow], Availability]:
    """Files and bytes per product: needed, present (in the raw folder or ``elsewhere``, a
    provider archive), documented absent, and left to fetch; and the bytes the raw folder
    holds once everything is fetched (files in place at their size, the others at their
    size or, when cropped on arrival, at the crop's estimated share of it)."""
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    av = available_files(cfg, raw, elsewhere)
    rows = []
    for key, rels in av.files.items():
        product = PRODUCTS[key]
        present = to_fetch = nbytes = exact = kept = 0
        share = kept_share(key, cfg)
        for rel in rels:
            if rel in elsewhere:  # read in the provider's tree, nothing kept in raw
                present += 1
                continue
            if (raw / rel).is_file():
                present += 1
                kept += (raw / rel).stat().st_size
                continue
            to_fetch += 1
            size = av.sizes.get(rel)
            if size is None:
                size = product.nominal_bytes()
            else:
                exact += size
            nbytes += size
            kept += round(size * share)
        rows.append(
            EstimateRow(
                key,
                product.title,
                len(rels),
                present,
                len(av.absent[key]),
                to_fetch,
                nbytes,
                exact,
                kept,
            )
        )
    return rows, av


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB"


def format_estimate(rows: Sequence[EstimateRow], av: Availability) -> str:
    head = (
        f"{'product':<13} {'files':>8} {'present':>8} {'absent':>7} {'to fetch':>9} "
        f"{'bytes':>12} {'kept':>11}  basis"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        basis = (
            "catalogue"
            if r.bytes_exact == r.bytes_to_fetch
            else ("typical size" if r.bytes_exact == 0 else "catalogue + typical size")
        )
        if r.to_fetch == 0:
            basis = ""
        lines.append(
            f"{r.product:<13} {r.files:>8,} {r.present:>8,} {r.absent:>7,} {r.to_fetch:>9,} "
            f"{_gb(r.bytes_to_fetch):>12} {_gb(r.bytes_kept):>11}  {basis}"
        )
    total_files = sum(r.to_fetch for r in rows)
    total_bytes = sum(r.bytes_to_fetch for r in rows)
    lines.append("-" * len(head))
    lines.append(
        f"{'total':<13} {sum(r.files for r in rows):>8,} {sum(r.present for r in rows):>8,} "
        f"{sum(r.absent for r in rows):>7,} {total_files:>9,} {_gb(total_bytes):>12} "
        f"{_gb(sum(r.bytes_kept for r in rows)):>11}"
    )
    lines.append(footprint_line(rows))
    if av.missing_catalogues:
        lines.append(
            f"{len(av.missing_catalogues)} catalogue(s) not fetched yet (e.g. "
            f"{av.missing_catalogues[0]}): their products count every granule at a typical "
            "size; `snakemake download_catalogues` fetches them (small CMR searches, no data)"
        )
    return "\n".join(lines)


def footprint_line(rows: Sequence[EstimateRow]) -> str:
    """One line: bytes to download, and bytes the raw folder keeps (crop on arrival)."""
    fetch = sum(r.bytes_to_fetch for r in rows)
    kept = sum(r.bytes_kept for r in rows)
    if not fetch:
        return f"nothing to download; the raw folder holds {_gb(kept)}"
    ratio = f", {fetch / max(kept, 1):,.1f}x less than downloaded" if kept < fetch else ""
    return (
        f"to download {_gb(fetch)}; the raw folder keeps {_gb(kept)} once fetched{ratio} "
        "(files in place at their size, crops on arrival at an estimated share: download.crop)"
    )


def station_files(cfg: Mapping[str, Any]) -> list[str]:
    """User-supplied station archives and CSV files of a real run."""
    s = cfg["stations"]
    return [*s["ismn"], *(c["stations"] for c in s["csv"]), *(c["values"] for c in s["csv"])]


def to_fetch(
    cfg: Mapping[str, Any],
    raw: str | Path | None = None,
    elsewhere: Collection[str] = frozenset(),
) -> dict[str, list[str]]:
    """Per product the raw paths the run needs that are neither in the raw folder nor in a
    provider archive (``elsewhere``), documented absences aside."""
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    av = available_files(cfg, raw, elsewhere)
    return {
        key: [r for r in rels if r not in elsewhere and not (raw / r).is_file()]
        for key, rels in av.files.items()
    }


def offline_problems(
    cfg: Mapping[str, Any],
    raw: str | Path | None = None,
    elsewhere: Collection[str] = frozenset(),
) -> list[str]:
    """Everything an offline run would have to fetch: catalogues, raw files (minus the
    documented absences and the files of provider archives, ``elsewhere``; evaluation
    references only where a switched-on evaluation reads them, see
    :func:`reference_files`), and user-supplied station files that are not there."""
    raw = Path(raw) if raw is not None else raw_dir(cfg)
    av = available_files(cfg, raw, elsewhere)
    from_files = cfg["download"]["catalogues"] == "files"
    # catalogues taken from the files in place are built offline, and what is not in place
    # is then absent rather than missing
    missing = [] if from_files else [str(raw / c) for c in av.missing_catalogues]
    for key, rels in av.files.items():
        if from_files and key in CATALOGUED:
            continue
        missing += [str(raw / r) for r in rels if r not in elsewhere and not (raw / r).is_file()]
    missing += [p for p in station_files(cfg) if not Path(p).exists()]
    return missing


def summarise_missing(missing: Sequence[str], examples: int = 3) -> str:
    """One line per folder kind with a count and a few examples."""
    groups: dict[str, list[str]] = {}
    for p in missing:
        parts = Path(p).parts
        key = next((x for x in parts if x in _FOLDERS), "station files (user-supplied)")
        groups.setdefault(key, []).append(p)
    lines = []
    for key, paths in groups.items():
        more = f" and {len(paths) - examples} more" if len(paths) > examples else ""
        lines.append(f"  {key}: {len(paths):,} missing, e.g. {', '.join(paths[:examples])}{more}")
    return "\n".join(lines)


_FOLDERS = {
    "catalogue", "esa_cci", "SPL3SMP", "MOD11A1", "MOD13A2", "MCD43C3", "IMERG", "SRTMGL3",
    "ERA5-Land", "GLDAS_NOAH025_3H", "TerraClimate",
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    from ..config import ConfigError
    from ..configfile import check_files

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "configfile",
        nargs="+",
        help="the workflow config file(s), merged as Snakemake does (later files win), e.g. "
        "config/three_north.yaml config/paper_period.yaml",
    )
    args = ap.parse_args(argv)
    from ..rawindex import Archives, run_granules

    try:
        cfg = check_files(args.configfile)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    elsewhere = Archives(cfg, str(raw_dir(cfg))).found_elsewhere(run_granules(cfg))
    rows, av = estimate(cfg, elsewhere=elsewhere)
    print(f"run '{cfg['run']}', raw folder {raw_dir(cfg)}")
    if elsewhere:
        print(f"{len(elsewhere):,} file(s) are in provider archives (config archives)")
    print(format_estimate(rows, av))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def station_file_help(path: str, cfg: Mapping[str, Any]) -> str:
    """How to get a missing user-supplied station file (nothing is downloaded for them)."""
    s = cfg["stations"]
    start, end = cfg["dates"]["start"], cfg["dates"]["end"]
    west, south, east, north = cfg["region"]["bbox"]
    if path in s["ismn"]:
        return (
            f"the ISMN archive {path} is not there. ISMN data need a free account and a manual "
            "download: register at https://ismn.earth, open the data viewer, select the "
            f"networks in {west}..{east} E, {south}..{north} N and the period {start}..{end}, "
            "choose the format 'ISMN standard format (Header+values)' (CEOP also reads), and "
            f"save the zip as {path} (or extract it into that folder). Or remove it from "
            "stations.ismn."
        )
    return (
        f"the station file {path} (stations.csv) is not there. CSV networks are supplied by "
        "the user (the Three-North paper's NZW, CERN and QXZ networks are not public: ask "
        "their operators); the columns are described in "
        "workflow_scripts/smdownscale/products/csv_stations.py, and a provider's own columns, "
        "units, flags and clock can be described in the network's stations.csv item (README "
        "'Station data'). Or remove the network from stations.csv."
    )
