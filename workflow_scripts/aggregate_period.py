"""Rule aggregate_period: coarse soil moisture beside the period's aggregated predictors."""

import netCDF4
import numpy as np
import xarray as xr

from smdownscale.config import run_grids
from smdownscale.grid import aggregate, block_factor
from smdownscale.harmonise import DAILY_PREDICTORS
from smdownscale.netcdf import write_dataset
from smdownscale.products.esa_cci import read_esa_cci, resolve_mask_flags
from smdownscale.rule_io import provenance, setup_logging


def aggregate_file(path, names, factor, method, min_frac, block_rows):
    """Aggregate variables of a fine-grid file to the coarse grid, a block of rows at a time."""
    with netCDF4.Dataset(path) as nc:
        out = {}
        for name in names:
            var = nc.variables[name]
            var.set_auto_mask(True)
            nlat = var.shape[-2]
            parts = []
            for r0 in range(0, nlat, block_rows):
                block = np.ma.filled(var[..., r0 : r0 + block_rows, :].astype("f8"), np.nan)
                parts.append(aggregate(block, factor, method, min_frac))
            out[name] = np.concatenate(parts, axis=-2).astype("f4")
    return out


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    period = snakemake.params.period
    coarse, fine = run_grids(cfg)
    factor = block_factor(fine, coarse)
    acfg = cfg["aggregation"]
    # blocks of whole coarse rows, about chunk_rows fine rows each
    block_rows = factor * max(1, cfg["resources"]["chunk_rows"] // factor)
    mask = resolve_mask_flags(cfg["esa_cci"]["mask_flags"])

    sm = xr.concat(
        [read_esa_cci(p, grid=coarse, mask_flags=mask) for p in snakemake.input.esa_cci], dim="time"
    )
    log.info(
        "ESA CCI (mask bits %d): %d of %d coarse cell-days valid",
        mask,
        n_valid := int(sm["sm"].notnull().sum()),
        sm["sm"].size,
    )
    if n_valid == 0:
        log.warning(
            "period %s has no valid coarse soil moisture in the region (all missing or flagged "
            "by mask bits %d): it gives no training samples",
            period.id,
            mask,
        )

    daily = aggregate_file(
        snakemake.input.predictors,
        list(DAILY_PREDICTORS),
        factor,
        acfg["method"],
        acfg["min_valid_fraction"],
        block_rows,
    )
    static = aggregate_file(
        snakemake.input.static,
        ["elevation"],
        factor,
        acfg["method"],
        acfg["min_valid_fraction"],
        block_rows,
    )
    ds = xr.Dataset(
        {
            "sm": sm["sm"]
            .astype("f4")
            .assign_attrs(
                standard_name="volume_fraction_of_condensed_water_in_soil",
                long_name="ESA CCI SM COMBINED, flagged cells removed",
                units="m3 m-3",
            ),
            "flag": sm["flag"],
        },
        coords={"time": sm["time"].values},
    )
    for name, values in daily.items():
        ds[name] = (
            ("time", "lat", "lon"),
            values,
            {**DAILY_PREDICTORS[name], "cell_methods": f"area: {acfg['method']} (fine -> coarse)"},
        )
        log.info(
            "%s: %d of %d coarse cell-days valid", name, int(np.isfinite(values).sum()), values.size
        )
    ds["elevation"] = (
        ("lat", "lon"),
        static["elevation"],
        {
            "long_name": "mean SRTM elevation",
            "units": "m",
            "cell_methods": f"area: {acfg['method']} (fine -> coarse)",
        },
    )
    ds.attrs.update(
        provenance(
            cfg,
            f"coarse soil moisture and predictors, period {period.id}",
            [str(p) for p in snakemake.input],
        )
    )
    ds.attrs["aggregation"] = (
        f"{acfg['method']}, minimum valid fraction {acfg['min_valid_fraction']}"
    )
    write_dataset(ds, snakemake.output[0], coarse)


if __name__ == "__main__":
    main(snakemake)
