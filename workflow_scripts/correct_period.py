"""Rule correct_period: each member plus its share of the coarse residual, spread smoothly.

``members/members_<period>.nc`` = ``members/raw/members_<period>.nc`` with every ``sm_<m>``
replaced by ``G[sm_<m> + share_m S[C - B_m]]`` (:func:`smdownscale.residual.correct`, then
the Gaussian ``G`` of ``members.smoothing_km``, :func:`smdownscale.smoothing.smooth_masked`),
then its detail below ``members.detail_split_km`` averaged over ``members.detail_days``
days of the period (:func:`smdownscale.detail.average_detail`); the other variables are
copied. Works through blocks of at most ``resources.chunk_rows``
rows and ``members.chunk_cells`` cell-days (read with a halo of rows for the smoothing),
with one chunk row of netCDF cache a variable, so memory is bounded by the block, not by
the region.
"""

import json

import netCDF4
import numpy as np

from smdownscale.config import run_grids
from smdownscale.detail import average_detail
from smdownscale.grid import block_map
from smdownscale.netcdf import (
    GridFileWriter,
    VarSpec,
    cube_block_rows,
    file_days,
    keep_one_chunk_row,
    read_rows,
)
from smdownscale.residual import correct
from smdownscale.rule_io import rule_config, setup_logging
from smdownscale.smoothing import halo_rows, sigma_cells, smooth_masked


def specs_of(nc):
    """The raw file's variables (dims, dtype, attributes, fill) as write specifications."""
    out = []
    for name, var in nc.variables.items():
        if var.dimensions[-2:] != ("lat", "lon") or name in ("lat_bnds", "lon_bnds"):
            continue
        attrs = {k: var.getncattr(k) for k in var.ncattrs() if k not in ("_FillValue",)}
        attrs.pop("grid_mapping", None)
        fill = var.getncattr("_FillValue") if "_FillValue" in var.ncattrs() else False
        out.append(VarSpec(name, var.dimensions, var.dtype.str[1:], attrs, fill_value=fill))
    return out


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg, _ = rule_config(snakemake)
    members = cfg["members"]["use"]
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    with open(snakemake.input.share) as f:
        shares = {m: float(v["share"]) for m, v in json.load(f).items()}
    km = float(cfg["members"]["smoothing_km"])
    sigma = sigma_cells(km, fine)
    split_km = float(cfg["members"]["detail_split_km"])
    window = int(cfg["members"]["detail_days"])
    split = sigma_cells(split_km, fine)
    # the smoothed rows the detail split reads must themselves be complete
    halo = halo_rows(sigma) + (halo_rows(split) if window > 1 else 0)
    with netCDF4.Dataset(snakemake.input.residual) as nc:
        residual = {m: read_rows(nc, f"r_{m}", slice(None)) for m in members}
        ndays = len(file_days(nc))
    keep_one_chunk_row(fine.nlon, ndays)  # not the whole region in netCDF's cache
    block = cube_block_rows(cfg["resources"]["chunk_rows"], cfg["members"]["chunk_cells"],
                            fine.nlon, ndays)  # fmt: skip
    with netCDF4.Dataset(snakemake.input.members) as raw:
        days = file_days(raw)
        attrs = {k: raw.getncattr(k) for k in raw.ncattrs() if k != "Conventions"}
        attrs["residual_share"] = json.dumps(shares)
        attrs["residual_correction"] = (
            "each member plus its share of the coarse residual (coarse value minus the "
            "member's block mean), interpolated bilinearly between coarse cell centres"
        )
        attrs["smoothing"] = (
            f"each corrected member smoothed by a Gaussian of {km:g} km standard deviation "
            f"({sigma[0]:.2f} x {sigma[1]:.2f} cells), over its predicted cells only"
            if km > 0
            else "none"
        )
        attrs["detail_averaging"] = (
            f"each member's detail below a Gaussian of {split_km:g} km standard deviation "
            f"averaged over a centred window of {window} days inside the period (cut at its "
            "ends); the smooth part is kept day by day"
            if window > 1
            else "none"
        )
        with GridFileWriter(
            snakemake.output[0], fine, days, specs_of(raw), attrs, snakemake.threads
        ) as out:
            for r0 in range(0, fine.nlat, block):
                rows = slice(r0, min(r0 + block, fine.nlat))
                for name in raw.variables:
                    if name not in out.variables:
                        continue
                    if name.startswith("sm_") and name[3:] in shares:
                        m = name[3:]
                        ext = slice(max(0, rows.start - halo), min(fine.nlat, rows.stop + halo))
                        values = average_detail(
                            smooth_masked(
                                correct(
                                    read_rows(raw, name, ext), residual[m], shares[m], blocks, ext
                                ),
                                sigma,
                            ),
                            split,
                            window,
                        )[..., rows.start - ext.start : rows.stop - ext.start, :]
                    else:
                        var = raw.variables[name]
                        var.set_auto_maskandscale(False)
                        values = np.asarray(var[..., rows, :])
                    out.write(name, values, rows=rows)
    log.info(
        "residual shares applied: %s; smoothing %s; detail averaging %s",
        shares,
        attrs["smoothing"],
        attrs["detail_averaging"],
    )


if __name__ == "__main__":
    main(snakemake)
