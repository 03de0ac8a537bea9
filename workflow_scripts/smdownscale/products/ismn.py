"""In-situ soil moisture from an ISMN archive, read through the ``ismn`` package.

:func:`read_ismn` takes an ISMN download as the network distributes it -- the ``.zip`` or the
folder it unpacks to, in the "Header+values" or the "CEOP separate files" format, whichever
``ismn.interface.ISMN_Interface`` recognises (the old one-file-per-station CEOP format is
refused by name, see :mod:`.ismn_format`) -- and returns the tidy station table of
:mod:`.stations`: daily UTC means of the accepted observations of every sensor of the
requested variable whose sensed layer ends no deeper than ``max_depth_m``.

Choices:

- Depth: a sensor is used when ``depth_to <= max_depth_m`` (its whole sensed layer lies in
  the top ``max_depth_m``). The default 0.1 m keeps the 0-5 cm and 5 cm probes that match a
  satellite's sensing depth; cosmic-ray probes (e.g. COSMOS, 0-0.19 m) need a larger value.
  Skipped sensors are logged as a WARNING and counted per network (:mod:`.station_tally`),
  and so is a network none of whose observations is accepted.
- Flags: an observation is used when every code of its ISMN flag is in ``accept_flags``
  (default ``("G",)``, "good"); ISMN writes combined flags such as ``"D03,D05"``. Values
  are already volumetric (m3 m-3) in ISMN files, so ``conversion`` is ``"none"``.
- Times in ISMN files are UTC (ISMN converts every network's clock to UTC; neither format has
  a time-zone field); days are UTC days. Observations repeating a timestamp of their sensor
  are averaged with the others and counted with a WARNING.
- Identity: network, station and sensor are taken from the data file's name
  (``<CSE>_<NETWORK>_<STATION>_<var>_<from>_<to>_<sensor>_<start>_<end>.stm``), the name ISMN
  itself parses. ``ismn`` instead calls the network after the archive's top folder, which is
  wrong for archives nested one level deeper (the ``format_header_values/`` test archive);
  and its metadata CSV cache turns numeric-looking station names into numbers.
- Metadata cache: ``ismn`` writes a metadata CSV (and a log) into ``python_metadata`` beside the
  archive unless told otherwise, which fails on a read-only archive and pollutes shared data.
  It is written to ``meta_dir/<archive name>-<fingerprint>`` when ``meta_dir`` is given (the
  fingerprint covers path, sizes and mtimes of the archive, so a changed archive gets a fresh
  cache), otherwise to a temporary directory removed afterwards.

About "2 potentially malformed file(s)" for ``Data_SMOSMANIA.zip``: that zip (from the
``ismn`` test data) holds ``format_header_values/SMOSMANIA/<file>.stm`` plus a stale cache of
an old ``ismn`` (``format_header_values/SMOSMANIA/python_metadata/metadata.npy``). ``ismn``
treats every folder two or more levels deep as a station folder and expects one
``*_static_variables.csv`` in each; neither ``SMOSMANIA/`` nor ``SMOSMANIA/python_metadata/``
has one, so it reports the two placeholders ``.../SMOSMANIA/*missing*`` and
``.../python_metadata/*missing*``. No data file is affected: the single ``.stm`` is read in
full. Missing static variables do not matter here (the table uses none of them), so this
reader logs such entries at INFO; a ``.stm`` file that ``ismn`` cannot read is an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import ismn
import pandas as pd

from .base import REDOWNLOAD, ProductError
from .ismn_format import READ_FORMATS, SENSOR_FILE_PARTS, check_data_file_names, name_parts
from .station_plausibility import check_volumetric
from .station_tally import StationTally
from .stations import (
    AggregationCounts,
    daily_aggregate,
    finalize_station_table,
    sensor_rows,
)

log = logging.getLogger(__name__)

ISMN_ADVICE = (
    "expected an ISMN download: a .zip or folder holding <NETWORK>/<STATION>/*.stm data files "
    f"in the {READ_FORMATS} format"
)
RANGE = (
    "ISMN values are m3 m-3 and ISMN flags implausible ones (C01-C03), so this file is not "
    "what it claims: download the archive again; if the values stay, leave this network out "
    "of stations.ismn"
)
_MISSING_CSV = "*missing*"


@dataclass(frozen=True)
class StmName:
    """The parts of an ISMN data file name."""

    network: str
    station: str
    variable_code: str
    depth_from: float
    depth_to: float
    sensor: str


def parse_stm_name(file_path: str | PurePosixPath) -> StmName:
    """Split ``<CSE>_<NET>_<STATION>_<var>_<from>_<to>_<sensor...>_<start>_<end>.stm``.

    The sensor part may itself contain underscores (newer ISMN files append sensor ids,
    e.g. ``Meter-5TM_1_1``); ValueError for a name with fewer than nine parts.
    """
    parts = name_parts(str(file_path))
    if len(parts) < SENSOR_FILE_PARTS:
        raise ValueError(f"not an ISMN data file name: {PurePosixPath(file_path).name}")
    return StmName(
        network=parts[1],
        station=parts[2],
        variable_code=parts[3],
        depth_from=float(parts[4]),
        depth_to=float(parts[5]),
        sensor="_".join(parts[6:-2]),
    )


def read_ismn(
    path: str | Path,
    variable: str = "soil_moisture",
    max_depth_m: float = 0.1,
    accept_flags: Sequence[str] = ("G",),
    meta_dir: str | Path | None = None,
    keep_rejected: bool = False,
    tally: StationTally | None = None,
) -> pd.DataFrame:
    """Daily tidy station table from an ISMN archive (zip or extracted folder).

    Parameters
    ----------
    path
        The ISMN ``.zip`` or the folder holding its network folders. Never written to.
    variable
        ``ismn`` variable name (``soil_moisture``; values must be in m3 m-3).
    max_depth_m
        Use sensors whose sensed layer ends at most this deep (``depth_to <= max_depth_m``).
    accept_flags
        ISMN flag codes an observation may carry and still be used.
    meta_dir
        Where ``ismn`` keeps its metadata cache (reused across calls); default: a temporary
        directory removed on return. Must not lie inside a folder archive.
    keep_rejected
        Keep days without accepted observations (``sm`` NaN, ``flag`` = the reasons).
    tally
        Where to count, per network, the sensors read and skipped and the observations
        accepted and rejected (a fresh one when None). Sensors skipped as too deep, networks
        without an accepted observation and repeated timestamps are logged as WARNINGs.

    Raises
    ------
    ProductError
        ``path`` missing, a corrupt zip, no ``<NETWORK>/<STATION>/*.stm`` in it, data files
        in ISMN's old one-file-per-station CEOP format or with names that are not ISMN's, a
        data file that ``ismn`` cannot read, or accepted values outside [0, 1] m3 m-3 (each
        named, with what to do).
    """
    archive = Path(path)
    stm_files = list_stm_files(archive)
    options = _Options(variable, max_depth_m, tuple(accept_flags), keep_rejected)
    tally = StationTally() if tally is None else tally
    if meta_dir is None:
        with tempfile.TemporaryDirectory(prefix="ismn-meta-") as tmp:
            return _read(archive, stm_files, options, Path(tmp), tally)
    meta_root = Path(meta_dir).resolve()
    if archive.is_dir() and meta_root.is_relative_to(archive.resolve()):
        raise ValueError(f"meta_dir {meta_root} must not lie inside the ISMN archive {archive}")
    meta_path = meta_root / f"{archive.name}-{archive_fingerprint(archive)}"
    return _read(archive, stm_files, options, meta_path, tally)


@dataclass(frozen=True)
class _Options:
    variable: str
    max_depth_m: float
    accept_flags: tuple[str, ...]
    keep_rejected: bool


def list_stm_files(archive: Path) -> list[str]:
    """The data files ``ismn`` will look at, as POSIX paths relative to the archive root.

    ``ismn`` reads ``.stm`` files in station folders: ``<NET>/<STATION>/`` (exactly two
    levels) in an extracted folder, any folder two or more levels deep in a zip. Their names
    must be per-sensor ISMN names (:func:`.ismn_format.check_data_file_names`: an archive of
    ISMN's old one-file-per-station CEOP format is refused, saying what to download instead).
    """
    if not archive.exists():
        raise ProductError(archive, "does not exist", ISMN_ADVICE)
    if archive.is_dir():
        files = sorted(p.relative_to(archive).as_posix() for p in archive.glob("*/*/*.stm"))
        elsewhere = [
            p.relative_to(archive).as_posix()
            for p in archive.rglob("*.stm")
            if len(p.relative_to(archive).parts) != 3
        ]
    elif zipfile.is_zipfile(archive):
        try:
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise ProductError(archive, f"unreadable zip archive: {err}", REDOWNLOAD) from err
        files = sorted(n for n in names if n.endswith(".stm") and len(PurePosixPath(n).parts) >= 3)
        elsewhere = [n for n in names if n.endswith(".stm") and n not in files]
    else:
        raise ProductError(archive, "is neither a zip archive nor a folder", ISMN_ADVICE)
    if not files:
        extra = f" (but {len(elsewhere)} elsewhere, e.g. {elsewhere[0]})" if elsewhere else ""
        raise ProductError(
            archive,
            f"not an ISMN archive: no <NETWORK>/<STATION>/*.stm data files{extra}",
            ISMN_ADVICE,
        )
    check_data_file_names(archive, files, ISMN_ADVICE)
    return files


def archive_fingerprint(archive: Path) -> str:
    """Short hash of the archive's resolved path, file names, sizes and mtimes, and ismn's
    version: a changed archive or package gets a fresh metadata cache."""
    digest = hashlib.sha256(f"{archive.resolve()}|ismn {ismn.__version__}".encode())
    files = [archive] if archive.is_file() else sorted(p for p in archive.rglob("*") if p.is_file())
    for f in files:
        st = f.stat()
        digest.update(f"|{f.relative_to(archive.parent)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _read(
    archive: Path, stm_files: list[str], opt: _Options, meta_path: Path, tally: StationTally
) -> pd.DataFrame:
    meta_path.mkdir(parents=True, exist_ok=True)
    with _quiet_ismn():
        iface = _open_interface(archive, meta_path)
    try:
        _report_ismn_log(archive, meta_path / f"{iface.root.name}.log")
        meta = _file_table(archive, iface.metadata)
        _check_all_read(archive, stm_files, meta)
        use = (meta["variable"] == opt.variable) & (meta["depth_to"] <= opt.max_depth_m + 1e-9)
        _report_skipped(archive, meta, opt, tally)
        pieces, counts = [], AggregationCounts()
        for idx, row in meta[use].iterrows():
            obs = _read_observations(iface, archive, int(idx), row, opt.variable)
            who = f"{row['network']}/{row['station']} (sensor {row['sensor']})"
            check_volumetric(f"{archive}/{row['file_path']}", who, obs, opt.accept_flags, RANGE)
            days, c = daily_aggregate(
                obs, accept_flags=opt.accept_flags, keep_rejected=opt.keep_rejected
            )
            counts += c
            tally.add_sensor(archive, row["network"], row["station"], row["sensor"], c)
            pieces.append(sensor_rows(days, **_constants(row)))
    finally:
        iface.close_files()
    log.info(
        "%s: %d %s sensor(s) read: %s", archive, int(use.sum()), opt.variable, counts.summary()
    )
    tally.warn_unused_networks(
        archive,
        "if those flags are acceptable, add them to stations.accept_flags "
        f"(now {list(opt.accept_flags)})",
    )
    return finalize_station_table(pieces)


@contextlib.contextmanager
def _quiet_ismn() -> Iterator[None]:
    """Silence ``ismn``'s prints, progress bars and INFO logs; send them to our DEBUG log.

    Swaps process-wide state (``sys.stdout``/``sys.stderr``, two loggers' levels, warning
    filters) for the duration: not for use from several threads at once.
    """
    loggers = [logging.getLogger(n) for n in ("ismn", "ismn_meta_collector")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    buffer = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
            lg.propagate = False
        with (
            contextlib.redirect_stdout(buffer),
            contextlib.redirect_stderr(buffer),
            warnings.catch_warnings(),
        ):
            # ismn 1.5.4 calls DataFrame.set_index(..., inplace=True), deprecated in pandas 3.1
            warnings.filterwarnings("ignore", message="The inplace keyword", module="ismn")
            yield
    finally:
        for lg, (level, propagate) in zip(loggers, saved, strict=True):
            lg.setLevel(level)
            lg.propagate = propagate
        if buffer.getvalue().strip():
            log.debug("ismn says:\n%s", buffer.getvalue().strip())


def _open_interface(archive: Path, meta_path: Path) -> ismn.interface.ISMN_Interface:
    from ismn.interface import ISMN_Interface

    try:
        return ISMN_Interface(archive, meta_path=meta_path, temp_root=meta_path, parallel=False)
    except Exception as err:  # ismn raises bare Exceptions/TypeErrors on foreign archives
        raise ProductError(
            archive, f"the ismn package cannot index it: {err!r}", ISMN_ADVICE
        ) from err


def _report_ismn_log(archive: Path, log_file: Path) -> None:
    """Explain the "potentially malformed file(s)" that ismn lists at the end of its log."""
    if not log_file.is_file():
        return
    text = log_file.read_text(errors="replace")
    if "Summary: Erroneous Files" not in text:
        return
    block = text.rsplit("Summary: Erroneous Files", 1)[1]
    entries = [ln.strip() for ln in block.splitlines() if ln.strip() and "-----" not in ln]
    no_csv = [e for e in entries if e.endswith(_MISSING_CSV)]
    other = [e for e in entries if not e.endswith(_MISSING_CSV)]
    if no_csv:
        log.info(
            "%s: ismn reports %d folder(s) without a static-variables CSV (harmless: static "
            "variables are not used): %s",
            archive,
            len(no_csv),
            no_csv,
        )
    if other:
        log.warning("%s: ismn could not read: %s (details in %s)", archive, other, log_file)


def _file_table(archive: Path, metadata: pd.DataFrame) -> pd.DataFrame:
    """One row per data file ismn indexed: file path, name parts, variable, depths, coords."""
    rows = []
    for idx, m in metadata.iterrows():
        file_path = str(m[("file_path", "val")])
        try:
            name = parse_stm_name(file_path)
        except ValueError as err:
            raise ProductError(f"{archive}/{file_path}", str(err), ISMN_ADVICE) from err
        rows.append(
            {
                "idx": idx,
                "file_path": file_path,
                "network": name.network,
                "folder_network": str(m[("network", "val")]),
                "station": name.station,
                "sensor": name.sensor,
                "variable": str(m[("variable", "val")]),
                "depth_from": float(m[("variable", "depth_from")]),
                "depth_to": float(m[("variable", "depth_to")]),
                "lat": float(m[("latitude", "val")]),
                "lon": float(m[("longitude", "val")]),
            }
        )
    table = pd.DataFrame(rows).set_index("idx").drop_duplicates("file_path")
    return _disambiguate_sensors(table)


def _disambiguate_sensors(table: pd.DataFrame) -> pd.DataFrame:
    """Suffix ``#2``, ``#3``... to repeated network/station/sensor/depth combinations."""
    key = ["network", "station", "sensor", "depth_from", "depth_to"]
    nth = table.groupby(key, sort=False).cumcount()
    if (nth > 0).any():
        table = table.copy()
        table.loc[nth > 0, "sensor"] = table["sensor"] + "#" + (nth + 1).astype(str)
        log.warning(
            "same sensor and depth twice at a station; renamed: %s",
            list(table.loc[nth > 0, "file_path"]),
        )
    return table


def _check_all_read(archive: Path, stm_files: list[str], meta: pd.DataFrame) -> None:
    """ProductError naming the .stm files that ismn skipped as unreadable."""
    skipped = sorted(set(stm_files) - set(meta["file_path"]))
    if skipped:
        raise ProductError(
            archive,
            f"{len(skipped)} ISMN data file(s) the ismn package cannot read: {skipped}",
            REDOWNLOAD,
        )


def _report_skipped(archive: Path, meta: pd.DataFrame, opt: _Options, tally: StationTally) -> None:
    """Log the files not read: other variables (INFO), sensors too deep (WARNING, counted)."""
    other_var = meta["variable"] != opt.variable
    deep = ~other_var & (meta["depth_to"] > opt.max_depth_m + 1e-9)
    if other_var.any():
        log.info("%s: %d file(s) of other variables skipped", archive, int(other_var.sum()))
    cols = ["network", "station", "sensor", "depth_from", "depth_to"]
    tally.skip_too_deep(archive, meta.loc[deep, cols], opt.max_depth_m)
    renamed = meta["folder_network"] != meta["network"]
    if renamed.any():
        log.info(
            "%s: network taken from file names (%s), not from the archive's top folder (%s)",
            archive,
            sorted(set(meta.loc[renamed, "network"])),
            sorted(set(meta.loc[renamed, "folder_network"])),
        )


def _read_observations(
    iface: ismn.interface.ISMN_Interface, archive: Path, idx: int, row: pd.Series, variable: str
) -> pd.DataFrame:
    """One data file's observations as (time, sm, flag)."""
    try:
        with _quiet_ismn():
            data = iface.read_ts(idx)
        obs = pd.DataFrame(
            {
                "time": pd.DatetimeIndex(data.index).astype("datetime64[ns]"),
                "sm": pd.to_numeric(data[variable], errors="raise").to_numpy("float64"),
                "flag": data[f"{variable}_flag"].to_numpy(dtype=object),
            }
        )
    except Exception as err:
        raise ProductError(
            f"{archive}/{row['file_path']}", f"unreadable ISMN data file: {err!r}", REDOWNLOAD
        ) from err
    if obs["time"].isna().any():
        raise ProductError(f"{archive}/{row['file_path']}", "unparseable timestamps", REDOWNLOAD)
    return obs


def _constants(row: pd.Series) -> dict[str, object]:
    return {
        "network": row["network"],
        "station": row["station"],
        "lat": row["lat"],
        "lon": row["lon"],
        "depth_from": row["depth_from"],
        "depth_to": row["depth_to"],
        "sensor": row["sensor"],
        "source_units": "m3 m-3",
        "conversion": "none",
    }
