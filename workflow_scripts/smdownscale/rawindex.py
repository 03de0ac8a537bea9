"""Where each raw granule of a run is: provider archives read in place, or the project layout.

Every product has a root folder and a layout (config ``archives``). In the ``project`` layout
(:mod:`smdownscale.rawlayout`) a granule's path is fixed, so the demo and the downloads can
write it. In the ``provider`` layout the root is a provider's tree (CEDA, LP DAAC, GES DISC),
read where it is: :class:`Archives` lists every file under the root
(:mod:`smdownscale.rawscan`, cached), reads what each is from its name
(:mod:`smdownscale.providerlayout`) and keeps, per granule, the newest file the workflow may
read (:func:`resolve`: highest version, then latest production time stamp). This happens
when the Snakefile is parsed, because Snakemake must know every job's input files before
any job runs; a granule the tree lacks then falls back to where the workflow itself would
write it (the demo's file, or the download into the project layout).

The rule ``index_raw`` records the resolved files of each period (and the static SRTM
tiles) in a table, :data:`COLUMNS`, with sizes and SHA-256 sums; the reading rules find
their files in it (:func:`read_index`, :func:`files_by_day`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import rawlayout, rawscan
from .atomic import write_text_atomic
from .calendar import composite_starts
from .config import run_grids, run_periods
from .providerlayout import (
    IMERG_VERSION,
    MODIS_COLLECTION,
    PRODUCTS,
    SMAP_CRID,
    SRTM_VERSION,
    TITLES,
    Found,
    Granule,
    demo_stamp,
    eligible,
    parse,
    period_granules,
    project_relpath,
    provider_relpath,
    static_granules,
)

COLUMNS = ("product", "day", "tile", "version", "produced", "path", "size", "sha256")


@dataclass(frozen=True)
class Archive:
    """A product's root folder and layout (``project`` or ``provider``)."""

    product: str
    root: str
    layout: str


def archive_settings(cfg: Mapping[str, Any], raw_dir: str) -> dict[str, Archive]:
    """Each product's archive: its own root and layout, else ``archives.root`` and
    ``archives.layout``, else the raw folder (``paths.raw``, default results/<run>/raw)."""
    a = cfg["archives"]
    return {
        p: Archive(
            p,
            os.path.normpath(a[p]["root"] or a["root"] or raw_dir),
            a[p]["layout"] or a["layout"],
        )
        for p in PRODUCTS
    }


@dataclass
class Resolution:
    """What the provider trees hold: the file used per granule and what was passed over."""

    chosen: dict[Granule, Found] = field(default_factory=dict)
    superseded: dict[Granule, list[Found]] = field(default_factory=dict)  # older, not used
    ineligible: list[Found] = field(default_factory=list)  # versions the run does not read
    problems: list[Found] = field(default_factory=list)  # folders contradicting names


def resolve(found: Iterable[Found], esa_cci_version: str, smap_crid: str = SMAP_CRID) -> Resolution:
    """Per granule the newest eligible file: highest version, then latest production."""
    out = Resolution()
    by_granule: dict[Granule, list[Found]] = {}
    for f in found:
        if f.problem:
            out.problems.append(f)
        if not eligible(f, esa_cci_version, smap_crid):
            out.ineligible.append(f)
            continue
        by_granule.setdefault(f.granule, []).append(f)
    for g, files in by_granule.items():
        files.sort(key=Found.rank)
        out.chosen[g] = files[-1]
        if len(files) > 1:
            out.superseded[g] = files[:-1]
    return out


def superseded_message(g: Granule, used: Found, older: Sequence[Found]) -> str:
    names = ", ".join(Path(f.path).name for f in older)
    return (
        f"{g.describe()}: {len(older) + 1} versions in the archive; using the newest, "
        f"{used.path}, not {names}"
    )


class Archives:
    """The run's archives, provider trees listed and resolved once (on construction).

    ``cache_path`` keeps the listings between parses (written only when ``write_cache``: the
    main process); ``demo`` says the workflow writes the raw files itself.
    """

    def __init__(
        self,
        cfg: Mapping[str, Any],
        raw_dir: str,
        cache_path: str | Path | None = None,
        write_cache: bool = True,
        demo: bool = False,
    ) -> None:
        self.raw_dir = os.path.normpath(raw_dir)
        self.settings = archive_settings(cfg, self.raw_dir)
        self.esa_cci_version = str(cfg["esa_cci"]["version"])
        self.smap_crid = str(cfg["smap"]["crid"])
        self.demo = demo
        self.listed: dict[str, tuple[int, int]] = {}  # root -> (files, folders listed afresh)
        found: list[Found] = []
        provider = {a.product for a in self.settings.values() if a.layout == "provider"}
        self.providers = sorted(provider, key=PRODUCTS.index)  # products read in place
        for root in sorted({a.root for a in self.settings.values() if a.product in provider}):
            files, listed = rawscan.list_files(root, cache_path, write=write_cache)
            self.listed[root] = (len(files), listed)
            for rel in files:
                f = parse(rel, root)
                if f is not None and self.settings[f.granule.product].root == root:
                    if f.granule.product in provider:
                        found.append(f)
        self.resolution = resolve(found, self.esa_cci_version, self.smap_crid)

    def relpath(self, g: Granule) -> str:
        """``g`` in the project layout, in the version the run reads."""
        return project_relpath(g, self.esa_cci_version, self.smap_crid)

    def layout(self, product: str) -> str:
        return self.settings[product].layout

    def found(self, g: Granule) -> Found | None:
        """The file a provider tree holds for ``g`` (None in the project layout)."""
        return self.resolution.chosen.get(g)

    def project_path(self, g: Granule) -> str:
        """Where the downloads put ``g``: the project layout under the raw folder."""
        return os.path.join(self.raw_dir, self.relpath(g))

    def written_path(self, g: Granule) -> str:
        """Where the demo writes ``g``: its product's layout under its root."""
        a = self.settings[g.product]
        if a.layout == "project":
            return os.path.join(a.root, self.relpath(g))
        version = {
            "esa_cci": self.esa_cci_version,
            "smap_l3": self.smap_crid,
            "imerg": IMERG_VERSION,
            "srtm": SRTM_VERSION,
        }.get(g.product, MODIS_COLLECTION)
        stamp = demo_stamp(g) if g.product in ("mod11a1", "mod13a2", "mcd43c3") else ""
        return os.path.join(a.root, provider_relpath(g, version, stamp))

    def path(self, g: Granule) -> str:
        """The file the run reads for ``g``: the provider tree's, else the one the workflow
        writes (demo) or downloads (real)."""
        f = self.found(g)
        if f is not None:
            return f.path
        return self.written_path(g) if self.demo else self.project_path(g)

    def found_elsewhere(self, granules: Iterable[Granule]) -> set[str]:
        """Project relpaths of the granules a provider tree holds (nothing to download)."""
        return {self.relpath(g) for g in granules if self.found(g)}

    def notes(self, granules: Iterable[Granule]) -> list[str]:
        """Messages about the granules: older versions passed over, folders that
        contradict names."""
        wanted = set(granules)
        out = [
            superseded_message(g, self.resolution.chosen[g], older)
            for g, older in sorted(self.resolution.superseded.items())
            if g in wanted
        ]
        out += [
            f"{f.path}: {f.problem}; read as its name says"
            for f in self.resolution.problems
            if f.granule in wanted
        ]
        return out

    def found_paths(self, granules: Iterable[Granule]) -> list[str]:
        """The provider trees' files of the granules."""
        return [f.path for g in granules if (f := self.found(g)) is not None]

    def summary(
        self, granules: Sequence[Granule], notes_path: str | Path | None = None, examples: int = 3
    ) -> list[str]:
        """What the provider trees give the run: per product the granules found, then the
        first few notes (older versions passed over, contradicting folders), all of them
        written to ``notes_path`` when there are any."""
        out = []
        for root, (files, listed) in self.listed.items():
            counts, lacking = [], False
            for product in self.providers:
                if self.settings[product].root != root:
                    continue
                mine = [g for g in granules if g.product == product]
                n = sum(1 for g in mine if self.found(g))
                lacking = lacking or n < len(mine)
                if mine:
                    counts.append(f"{TITLES[product]} {n:,} of {len(mine):,}")
            rest = "; the demo writes the others there" if self.demo and lacking else ""
            out.append(
                f"provider tree {root} ({files:,} files, {listed:,} folders listed anew) has "
                f"these of the run's granules: {', '.join(counts) or 'none'}{rest}"
            )
        notes = self.notes(granules)
        out += notes[:examples]
        if notes and notes_path is not None:
            write_text_atomic(notes_path, "\n".join(notes) + "\n")
            if len(notes) > examples:
                out.append(f"... and {len(notes) - examples} more such notes in {notes_path}")
        return out

    def other_versions(self, granules: Iterable[Granule]) -> dict[str, set[str]]:
        """Per product, versions found for the granules that the run does not read."""
        wanted = set(granules)
        out: dict[str, set[str]] = {}
        for f in self.resolution.ineligible:
            if f.granule in wanted:
                out.setdefault(f.granule.product, set()).add(f.version)
        return out


def run_granules(cfg: Mapping[str, Any]) -> list[Granule]:
    """Every granule a run reads: each period's (:func:`period_granules`) and the SRTM tiles."""
    _, fine = run_grids(cfg)
    tiles = rawlayout.modis_tiles_for_bbox(fine.bbox)
    out: dict[Granule, None] = {}
    for p in run_periods(cfg):
        target = cfg["grid"]["coarse_product"]
        for granules in period_granules(p.days, composite_starts(p.days), tiles, target).values():
            out.update(dict.fromkeys(granules))
    for granules in static_granules(rawlayout.srtm_tiles_for_bbox(fine.bbox)).values():
        out.update(dict.fromkeys(granules))
    return list(out)


def part_relpaths(cfg: Mapping[str, Any], part: str) -> set[str]:
    """The project-layout raw paths of the granules a part reads (a period's, by its id, or
    ``static``: the SRTM tiles), in the versions the run reads."""
    _, fine = run_grids(cfg)
    if part == "static":
        groups = static_granules(rawlayout.srtm_tiles_for_bbox(fine.bbox))
    else:
        (p,) = [p for p in run_periods(cfg) if p.id == part]
        tiles = rawlayout.modis_tiles_for_bbox(fine.bbox)
        target = cfg["grid"]["coarse_product"]
        groups = period_granules(p.days, composite_starts(p.days), tiles, target)
    version, crid = str(cfg["esa_cci"]["version"]), str(cfg["smap"]["crid"])
    return {project_relpath(g, version, crid) for gs in groups.values() for g in gs}


def summarise_granules(granules: Sequence[Granule], examples: int = 4) -> list[str]:
    """One line per product: how many, and the first few days and tiles."""
    by: dict[str, list[Granule]] = {}
    for g in granules:
        by.setdefault(g.product, []).append(g)
    lines = []
    for product in PRODUCTS:
        gs = sorted(by.get(product, []))
        if not gs:
            continue
        shown = ", ".join(
            " ".join(str(x) for x in (g.day, g.tile) if x is not None) for g in gs[:examples]
        )
        more = f" and {len(gs) - examples} more" if len(gs) > examples else ""
        lines.append(f"  {TITLES[product]}: {len(gs):,} missing: {shown}{more}")
    return lines


# ------------------------------------------------------------------------- the index table


@dataclass(frozen=True)
class IndexRow:
    product: str
    day: str  # ISO date, "" for SRTM
    tile: str  # "" for global files
    version: str
    produced: str  # production time stamp, "" when the name has none
    path: str
    size: int
    sha256: str


def index_rows(paths: Mapping[str, Sequence[str]], sha256: Callable[[str], str]) -> list[IndexRow]:
    """Rows for the files of each product (what their names say, size, ``sha256(path)``)."""
    rows = []
    for product, files in paths.items():
        for path in files:
            f = parse(str(path))
            if f is None or f.granule.product != product:
                raise ValueError(f"{path}: not a {TITLES[product]} file name")
            g = f.granule
            rows.append(
                IndexRow(
                    product,
                    "" if g.day is None else g.day.isoformat(),
                    g.tile or "",
                    f.version,
                    f.stamp,
                    str(path),
                    os.path.getsize(path),
                    sha256(str(path)),
                )
            )
    return sorted(rows, key=lambda r: (PRODUCTS.index(r.product), r.day, r.tile, r.path))


def write_index(path: str | Path, rows: Iterable[IndexRow]) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([getattr(r, c) for c in COLUMNS])
    return write_text_atomic(path, buf.getvalue())


def read_index(path: str | Path) -> list[IndexRow]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: not a raw index (columns {', '.join(COLUMNS)})")
        return [
            IndexRow(**{**r, "size": int(r["size"])})  # type: ignore[arg-type]
            for r in reader
        ]


def files_of(rows: Iterable[IndexRow], product: str) -> list[str]:
    return [r.path for r in rows if r.product == product]


def files_by_day(
    rows: Iterable[IndexRow], product: str, days: Sequence[dt.date]
) -> dict[dt.date, list[str]]:
    """A product's files grouped by day, every day of ``days`` with a list (empty where the
    index has none: a granule absent at the provider). A file of another day is an error."""
    out: dict[dt.date, list[str]] = {d: [] for d in days}
    for r in rows:
        if r.product != product:
            continue
        day = dt.date.fromisoformat(r.day)
        if day not in out:
            raise ValueError(
                f"{r.path}: a {TITLES[product]} file of {day}, none of the days asked for "
                f"({days[0]}..{days[-1]})"
            )
        out[day].append(r.path)
    return out
