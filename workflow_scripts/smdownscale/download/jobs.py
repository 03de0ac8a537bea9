"""What one download job does: make sure a raw file (or a catalogue) is there and verified.

:func:`ensure_file` is the whole policy of a download job:

1. a file already in place whose manifest record still matches it (size and modification
   time) is used as it is: no network, no re-reading;
2. a file in place without a matching record is verified (size and checksum from the
   catalogue, format check) and recorded, still without any network; if it fails it is
   deleted and fetched again;
3. in offline mode a missing file is an error naming it;
4. otherwise it is fetched (:func:`smdownscale.download.transfer.fetch`) and recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from .. import __version__, rawlayout
from ..config import run_grids
from ..progress import Progress
from .catalogue import (
    Entry,
    catalogue_entries,
    cmr_items,
    cmr_params,
    load_catalogue,
    write_catalogue,
)
from .cds import era5_land_request, retrieve_era5_land
from .credentials import (
    EARTHDATA_HELP,
    auth_failure_message,
    earthdata_credentials,
    request_auth,
)
from .crop import CROPS, CropInfo, crop_granule, crop_reader_check, cropped_products, read_crop_info
from .errors import DownloadError, NotFoundError, OfflineError, VerificationError
from .manifest import Record, make_record, read_record, write_record
from .plan import catalogue_candidates, catalogue_part, raw_dir, required_files
from .sources import CATALOGUED, PRODUCTS, format_check, granule_url, product_of
from .transfer import Expected, RetryPolicy, fetch, file_digests, verify_file

log = logging.getLogger(__name__)


def make_session() -> requests.Session:
    """An HTTP session (keeps Earthdata login cookies; reads ``~/.netrc``)."""
    s = requests.Session()
    s.headers["User-Agent"] = f"smdownscale/{__version__} (python-requests)"
    return s


def retry_policy(cfg: Mapping[str, Any]) -> RetryPolicy:
    d = cfg["download"]
    return RetryPolicy(
        attempts=d["retries"],
        backoff_s=d["backoff_s"],
        max_backoff_s=d["max_backoff_s"],
        timeout_s=d["timeout_s"],
    )


def _present(
    raw: Path, relpath: str, expected: Expected, check: Callable[[Path, Path], None] | None,
    logger: logging.Logger,
) -> Record | None:  # fmt: skip
    """The record of a file already in place (verified now unless its record still matches);
    None after deleting a file in place that fails verification.

    The job only runs for a file in place when Snakemake reruns it (e.g. its script
    changed; the output is update(), so it was kept): the file's modification time is then
    set to now, as if the job had written it, or every later run would rerun it again.
    """
    target = raw / relpath
    rec = read_record(raw, relpath)
    if rec is not None and rec.matches(target):
        os.utime(target)
        rec = dataclasses.replace(rec, mtime_ns=target.stat().st_mtime_ns)
        write_record(raw, rec)
        logger.info("%s: present and verified on %s; nothing to fetch", relpath, rec.fetched)
        return rec
    info = read_crop_info(target)
    try:
        if info is None:
            digests = verify_file(target, target, expected, check)
        else:
            digests = verify_crop(product_of(relpath).key, target, info, expected, check)
    except VerificationError as exc:
        logger.warning("%s is in place but fails verification (%s); deleting it", relpath, exc)
        target.unlink(missing_ok=True)
        return None
    os.utime(target)
    rec = make_record(
        raw,
        target,
        source="present",
        sha256=digests["sha256"],
        provider_checksum=str(expected.checksum or (info.provider_checksum if info else "")),
        **(_crop_fields(info) if info else {}),
    )
    write_record(raw, rec)
    logger.info("%s: present and verifies (%d bytes); recorded without fetching", relpath,
                rec.size)  # fmt: skip
    return rec


def _crop_fields(info: CropInfo) -> dict[str, Any]:
    return {
        "original_size": info.original_size,
        "original_sha256": info.original_sha256,
        "crop": info.describe(),
    }


def verify_crop(
    key: str,
    target: Path,
    info: CropInfo,
    expected: Expected,
    check: Callable[[Path, Path], None] | None,
) -> dict[str, str]:
    """Verify a crop found in place without a record: the original it names must be the
    provider's granule (size and checksum as the catalogue lists them) and the reader must
    take the crop. Returns its sha256."""
    if info.original != target.name:
        raise VerificationError(f"it is a crop of {info.original}, not of {target.name}")
    # a catalogue built from the files in place (download.catalogues: files) lists the crop
    if expected.size is not None and expected.size not in (
        info.original_size,
        target.stat().st_size,
    ):
        raise VerificationError(
            f"it is a crop of a {info.original_size}-byte file; the provider's is "
            f"{expected.size} bytes"
        )
    if expected.checksum is not None and info.provider_checksum != str(expected.checksum):
        raise VerificationError(
            f"it is a crop of a file with checksum {info.provider_checksum or 'unknown'}; "
            f"the provider's is {expected.checksum}"
        )
    try:
        if key in CROPS and check is not None:
            crop_reader_check(key, check)(target, target)
    except Exception as exc:  # readers raise ProductError, ValueError, OSError, HDF4Error
        raise VerificationError(f"the reader does not take it ({exc})") from None
    return file_digests(target, ["sha256"])


def ensure_file(
    relpath: str,
    cfg: Mapping[str, Any],
    raw: str | Path,
    *,
    catalogue: str | Path | None = None,
    session: requests.Session | None = None,
    env: Mapping[str, str] | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    logger: logging.Logger | None = None,
) -> Record:
    """Make sure the raw file ``relpath`` is in place and verified; returns its record."""
    logger = logger or log
    raw = Path(raw)
    product = product_of(relpath)
    entry: Entry | None = None
    if product.key in CATALOGUED:
        if catalogue is None:
            raise ValueError(f"{product.title} needs its catalogue to be fetched")
        entry = load_catalogue(catalogue).get(relpath)
        if entry is None:
            raise NotFoundError(
                f"{relpath}: the provider's catalogue {catalogue} does not list this granule "
                "(the provider does not have it); the workflow asks only for listed granules, "
                "so the catalogue is older than this request: delete it to fetch it anew"
            )
    expected = Expected(size=entry.size, checksum=entry.parsed_checksum()) if entry else Expected()
    check = format_check(product.key, cfg)
    target = raw / relpath
    if target.exists():
        rec = _present(raw, relpath, expected, check, logger)
        if rec is not None:
            return rec
    if cfg["offline"]:
        raise OfflineError(
            f"offline mode: {target} is missing; run once without offline=true to fetch it, "
            "or put the provider's file there"
        )
    template = cfg["download"]["urls"].get(product.key)
    fields = product.fields(relpath)
    name = entry.name if entry else fields.get("name", Path(relpath).name)
    url = granule_url(template, name, fields) if template else (entry.url if entry else "")
    if not url:
        raise DownloadError(
            f"{relpath}: no URL to fetch it from (the catalogue lists none: it was built from "
            "the files in place, download.catalogues: files); put the file back or set "
            f"download.urls.{product.key}"
        )
    auth, on_auth_failure = None, None
    if product.auth == "earthdata":
        creds = earthdata_credentials(env)
        auth = request_auth(creds, cfg["download"]["earthdata_hosts"])
        if creds.kind == "none":
            logger.warning("no Earthdata credentials found; the request will likely be refused. %s",
                           EARTHDATA_HELP)  # fmt: skip
        else:
            logger.info("authenticating with %s", creds.describe())

        def on_auth_failure(status: int) -> str:
            return auth_failure_message(url, status, creds)

    session = session or make_session()
    result = fetch(
        url,
        target,
        session=session,
        auth=auth,
        expected=expected,
        check=check,
        policy=retry_policy(cfg),
        on_auth_failure=on_auth_failure,
        sleep=sleep,
        logger=logger,
    )
    logger.info(
        "%s: %d bytes from %s in %.1f s (%d request(s), %d resume(s), %d retry(ies)); verified%s",
        relpath,
        result.size,
        result.url,
        result.elapsed_s,
        result.requests,
        result.resumed,
        result.retries,
        f" against the provider's {expected.checksum.algorithm}" if expected.checksum else "",
    )
    crop: dict[str, Any] = {}
    if product.key in cropped_products(cfg):
        info = crop_granule(
            product.key, target, raw, cfg, sha256=result.sha256,
            provider_checksum=str(expected.checksum or ""),
            check=crop_reader_check(product.key, check),
        )  # fmt: skip
        crop = _crop_fields(info)
        logger.info("%s: cropped on arrival to %s: %d of %d bytes kept (original %s)",
                    relpath, info.describe(), target.stat().st_size, info.original_size,
                    "kept in originals/" if cfg["download"]["crop"]["keep_originals"]
                    else "deleted")  # fmt: skip
    rec = make_record(
        raw,
        target,
        source="download",
        url=result.url,
        sha256=file_digests(target, ["sha256"])["sha256"] if crop else result.sha256,
        provider_checksum=str(expected.checksum or ""),
        requests=result.requests,
        **crop,
    )
    write_record(raw, rec)
    return rec


def make_catalogue(
    key: str,
    part: str,
    cfg: Mapping[str, Any],
    target: str | Path,
    *,
    session: requests.Session | None = None,
    logger: logging.Logger | None = None,
) -> int:
    """Query the provider's catalogue for one product and part (a year, or ``tiles``) and
    write it to ``target``; returns the number of granules found."""
    logger = logger or log
    product = CATALOGUED[key]
    if cfg["download"]["catalogues"] == "files":
        return catalogue_from_files(key, part, cfg, target, logger)
    if cfg["offline"]:
        raise OfflineError(
            f"offline mode: the catalogue {target} is missing (fetch it once online, or set "
            "download.catalogues: files to take the files in place)"
        )
    required = required_files(cfg)[key]
    wanted = {r for r in required if catalogue_part(key, r) == part}
    _, fine = run_grids(cfg)
    tiles = sorted(f"h{h:02d}v{v:02d}" for h, v in rawlayout.modis_tiles_for_bbox(fine.bbox))
    region_srtm = set(required) if key == "srtm" else set()

    def keep(rel: str) -> bool:
        """The region's granules of the catalogue's year (every day of it, not only the
        run's, so that the catalogue stays right when the run's dates change)."""
        if key == "srtm":
            return rel in region_srtm
        fields = product.fields(rel)
        return str(fields["year"]) == part and fields.get("tile", tiles[0]) in tiles

    params = cmr_params(product, part, tiles, fine.bbox)
    session = session or make_session()
    items = cmr_items(session, cfg["download"]["cmr_url"], params, retry_policy(cfg))
    # CMR pages of up to 2000 granules: a line every 30 s while a long listing comes in
    listing = Progress(f"{product.title} {part} catalogue", None, logger.info,
                       unit="granule records", start=False, end=False)  # fmt: skip
    entries = catalogue_entries(product, listing.iterate(items), keep)
    write_catalogue(target, product, part, params, entries)
    absent = sorted(wanted - set(entries))
    logger.info(
        "%s %s: %d granules listed; the run needs %d, of which %d exist",
        product.title, part, len(entries), len(wanted), len(wanted) - len(absent),
    )  # fmt: skip
    if absent:
        shown = ", ".join(absent[:10]) + (" ..." if len(absent) > 10 else "")
        logger.warning("%d granule(s) do not exist at the provider and are skipped: %s",
                       len(absent), shown)  # fmt: skip
    return len(entries)


def catalogue_from_files(
    key: str, part: str, cfg: Mapping[str, Any], target: str | Path, logger: logging.Logger
) -> int:
    """A catalogue of the files already in the raw folder (``download.catalogues: files``):
    no network; a granule not in place counts as absent."""
    raw = raw_dir(cfg)
    product = CATALOGUED[key]
    entries = {
        rel: Entry(name=Path(rel).name, url="", size=(raw / rel).stat().st_size, checksum=None)
        for rel in catalogue_candidates(cfg, key, part)
        if (raw / rel).is_file()
    }
    write_catalogue(target, product, part, [["files", str(raw)]], entries)
    wanted = {r for r in required_files(cfg)[key] if catalogue_part(key, r) == part}
    absent = sorted(wanted - set(entries))
    logger.info("%s %s: %d files in place (download.catalogues: files)", product.title, part,
                len(entries))  # fmt: skip
    if absent:
        shown = ", ".join(absent[:10]) + (" ..." if len(absent) > 10 else "")
        logger.warning("%d granule(s) the run would read are not in place and count as "
                       "absent: %s", len(absent), shown)  # fmt: skip
    return len(entries)


def ensure_era5_land(
    relpath: str,
    cfg: Mapping[str, Any],
    raw: str | Path,
    *,
    client: Any = None,
    logger: logging.Logger | None = None,
) -> Record:
    """One month of ERA5-Land daily statistics over the run's region (see :mod:`.cds`)."""
    logger = logger or log
    raw = Path(raw)
    target = raw / relpath
    check = format_check("era5_land", cfg)
    if target.exists():
        rec = _present(raw, relpath, Expected(), check, logger)
        if rec is not None:
            return rec
    if cfg["offline"]:
        raise OfflineError(f"offline mode: {target} is missing")
    settings = cfg["download"]["era5_land"]
    fields = PRODUCTS["era5_land"].fields(relpath)
    day: dt.date = fields["date"]
    _, fine = run_grids(cfg)
    request = era5_land_request(settings, day.year, day.month, fine.bbox)
    logger.info("requesting %s from the CDS (%s)", relpath, settings["dataset"])
    t0 = time.monotonic()
    digests = retrieve_era5_land(target, settings["dataset"], request, check, client=client)
    rec = make_record(
        raw, target, source="download", url=f"cds:{settings['dataset']}", sha256=digests["sha256"],
        requests=1,
    )  # fmt: skip
    write_record(raw, rec)
    logger.info("%s: %d bytes in %.1f s; verified", relpath, rec.size, time.monotonic() - t0)
    return rec


def relpath_in(raw: str | Path, path: str | Path) -> str:
    """``path`` relative to the raw folder (as a POSIX path)."""
    return Path(os.path.relpath(Path(path), Path(raw))).as_posix()
