"""Rule aggregate_period: coarse soil moisture beside the period's aggregated predictors.

Predictors are aggregated from observed fine values only: cell-days that gap filling
supplied (``gap_flag``) are masked first, so ``min_valid_fraction`` counts real
observations and interpolated values never enter the training samples.
"""

from collections.abc import Callable

import netCDF4
import numpy as np
import xarray as xr

from smdownscale.config import run_grids
from smdownscale.grid import aggregate_blocked, block_map
from smdownscale.harmonise import DAILY_PREDICTORS, check_days, datetime64_days, observed_only
from smdownscale.netcdf import file_days, write_dataset
from smdownscale.products.targets import run_target
from smdownscale.rawindex import files_by_day, read_index
from smdownscale.rule_io import provenance, setup_logging

STATIC = {
    "elevation": {"long_name": "mean SRTM elevation", "units": "m"},
    "slope": {"long_name": "mean terrain slope of the fine cells", "units": "degree"},
}


def rows_reader(nc: netCDF4.Dataset, name: str, observed: bool) -> Callable[[slice], np.ndarray]:
    """A ``read_rows(rows)`` callback: rows of ``name`` as float64, NaN where missing (and,
    with ``observed``, where gap filling supplied the value)."""
    var = nc.variables[name]
    var.set_auto_mask(True)
    flag = nc.variables["gap_flag"] if observed else None
    if flag is not None:
        flag.set_auto_maskandscale(False)  # a bit field, always written: no fill to mask

    def read_rows(rows: slice) -> np.ndarray:
        values = np.ma.filled(var[..., rows, :].astype("f8"), np.nan)
        if flag is not None:
            values = observed_only(values, flag[..., rows, :], name)
        return values

    return read_rows


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    days = period.days
    coarse, fine = run_grids(cfg)
    blocks = block_map(fine, coarse)
    acfg = cfg["aggregation"]
    method, min_frac = acfg["method"], acfg["min_valid_fraction"]
    block_rows = cfg["resources"]["chunk_rows"]
    target = run_target(cfg)

    # the period's files as index_raw recorded them: one target image a day
    by_day = files_by_day(read_index(snakemake.input.index), target.key, days)
    lacking = [str(d) for d, files in by_day.items() if len(files) != 1]
    if lacking:
        raise ValueError(f"expected one {target.title} file a day; the index has not for {lacking}")
    files = [files[0] for files in by_day.values()]
    images = target.read(files, coarse, cfg)
    for path, day, image in zip(files, days, images, strict=True):
        check_days(path, datetime64_days(image["time"].values), [day])
    log.info(
        "%s product version(s): %s",
        target.title,
        ", ".join(sorted({im.attrs["product_version"] for im in images})),
    )
    sm = xr.concat(images, dim="time")
    n_valid = int(sm["sm"].notnull().sum())
    log.info("%s: %d of %d coarse cell-days valid", target.title, n_valid, sm["sm"].size)
    if n_valid == 0:
        log.warning(
            "period %s has no valid coarse soil moisture in the region (all missing or "
            "flagged): it gives no training samples",
            period.id,
        )

    def aggregate_all(nc, names, observed):
        return {
            name: aggregate_blocked(
                rows_reader(nc, name, observed=observed),
                blocks,
                method,
                min_frac,
                block_rows,
            ).astype("f4")
            for name in names
        }

    with netCDF4.Dataset(snakemake.input.predictors) as nc:
        check_days(snakemake.input.predictors, file_days(nc), days)
        daily = aggregate_all(nc, DAILY_PREDICTORS, observed=True)
    with netCDF4.Dataset(snakemake.input.static) as nc:
        static = aggregate_all(nc, STATIC, observed=False)

    ds = xr.Dataset(
        {
            "sm": sm["sm"]
            .astype("f4")
            .assign_attrs(
                standard_name="volume_fraction_of_condensed_water_in_soil",
                long_name=target.describe(cfg),
                units="m3 m-3",
            ),
            **{k: sm[k] for k in ("flag", "surface_flag") if k in sm},
        },
        coords={"time": sm["time"].values},
    )
    cell_methods = f"area: {method} (fine -> coarse)"
    for name, values in daily.items():
        ds[name] = (
            ("time", "lat", "lon"),
            values,
            {
                **DAILY_PREDICTORS[name],
                "cell_methods": cell_methods,
                "comment": "aggregated from observed fine values (gap-filled cells left out)",
            },
        )
        log.info(
            "%s: %d of %d coarse cell-days valid", name, int(np.isfinite(values).sum()), values.size
        )
    for name, values in static.items():
        ds[name] = (("lat", "lon"), values, {**STATIC[name], "cell_methods": cell_methods})
    ds.attrs.update(
        provenance(
            cfg,
            f"coarse soil moisture and predictors, period {period.id}",
            [*(str(p) for ps in by_day.values() for p in ps), *map(str, snakemake.input)],
        )
    )
    ds.attrs["aggregation"] = f"{method}, minimum valid fraction {min_frac}"
    write_dataset(ds, snakemake.output[0], coarse)


if __name__ == "__main__":
    main(snakemake)
