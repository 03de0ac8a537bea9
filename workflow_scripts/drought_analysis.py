"""Rule drought_analysis: drought regions from TerraClimate PDSI and how the products follow
them (issue 16, item 5; :mod:`smdownscale.drought`).

Drought cells: PDSI <= -2 in more than 80 % of the run's months. The fine cells whose
centres fall in drought cells form the region; the monthly means of the product, the coarse
product (repeated over its block) and, with evaluation.reference_models, ERA5-Land over it
are correlated with the region's mean PDSI. Daily files are streamed into monthly sums.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.config import run_dates, run_grids
from smdownscale.drought import MonthlyMeans, correlation, drought_mask
from smdownscale.grid import block_map
from smdownscale.netcdf import file_days, read_rows
from smdownscale.products.era5_land import ERA5_LAND_RES, read_era5_land
from smdownscale.products.terraclimate import TERRACLIMATE_RES, read_terraclimate
from smdownscale.reference import reference_index, row_blocks
from smdownscale.rule_io import setup_logging

THRESHOLD, SHARE = -2.0, 0.8


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    coarse_grid, fine = run_grids(cfg)
    coarse_blocks = block_map(fine, coarse_grid)
    start, end = run_dates(cfg)
    pdsi = read_terraclimate(snakemake.input.terraclimate, fine.bbox)
    run_months = pd.period_range(start, end, freq="M").strftime("%Y-%m").tolist()
    t_months = pd.DatetimeIndex(pdsi["time"].values).strftime("%Y-%m")
    pdsi = pdsi.isel(time=np.flatnonzero(t_months.isin(run_months)))
    lat, lon = pdsi["lat"].values, pdsi["lon"].values
    mask = drought_mask(pdsi.values, THRESHOLD, SHARE)
    rows = reference_index(fine.lat, lat, TERRACLIMATE_RES, descending=True)
    cols = reference_index(fine.lon, lon, TERRACLIMATE_RES, descending=False)
    ok = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    region = ok & mask[np.maximum(rows, 0)][:, np.maximum(cols, 0)]
    log.info("%d of %d TerraClimate cells in drought (PDSI <= %g in > %d %% of %d months); "
             "%d fine cells", int(mask.sum()), mask.size, THRESHOLD, 100 * SHARE,
             pdsi.sizes["time"], int(region.sum()))  # fmt: skip
    means = MonthlyMeans()
    for k, m in enumerate(pd.DatetimeIndex(pdsi["time"].values).strftime("%Y-%m")):
        means.add("pdsi", m, pdsi.values[k][mask])
    era5_region = None
    if snakemake.input.get("era5_land"):
        era5 = read_era5_land(snakemake.input.era5_land, "swvl1", fine.bbox)
        er = reference_index(era5["lat"].values, lat, TERRACLIMATE_RES, descending=True)
        ec = reference_index(era5["lon"].values, lon, TERRACLIMATE_RES, descending=False)
        e_ok = (er[:, None] >= 0) & (ec[None, :] >= 0)
        era5_region = e_ok & mask[np.maximum(er, 0)][:, np.maximum(ec, 0)]
        for k, d in enumerate(pd.DatetimeIndex(era5["time"].values)):
            if d.strftime("%Y-%m") in run_months and start <= d.date() <= end:
                means.add("era5_land", d.strftime("%Y-%m"), era5.values[k][era5_region])
        log.info("ERA5-Land: %d of its %.1f deg cells in the region", int(era5_region.sum()),
                 ERA5_LAND_RES)  # fmt: skip
    if region.any():
        chunks = row_blocks(np.arange(fine.nlat), coarse_blocks, cfg["resources"]["chunk_rows"])
        for ppath, cpath in zip(snakemake.input.products, snakemake.input.coarse, strict=True):
            with netCDF4.Dataset(ppath) as pnc, netCDF4.Dataset(cpath) as cnc:
                months = [f"{d.year}-{d.month:02d}" for d in file_days(pnc)]
                for fr in chunks:  # sums over the region, one block of rows at a time
                    inside = region[fr]
                    if not inside.any():
                        continue
                    cr = coarse_blocks.coarse_rows(fr)
                    prod = read_rows(pnc, "sm", fr)
                    coarse = coarse_blocks.repeat(read_rows(cnc, "sm", cr), fr)
                    for k, m in enumerate(months):
                        means.add("product", m, prod[k][inside])
                        means.add("coarse", m, coarse[k][inside])
    names = ["product", "coarse"] + (["era5_land"] if era5_region is not None else [])
    series = pd.DataFrame({"month": run_months, "pdsi": means.series("pdsi", run_months)})
    for n in names:
        series[n] = means.series(n, run_months)
    summary = {"drought_cells": int(mask.sum()), "cells": int(mask.size),
               "fine_cells": int(region.sum()), "months": len(run_months)}  # fmt: skip
    for n in names:
        r, count = correlation(series[n].to_numpy(), series["pdsi"].to_numpy())
        summary[f"r_{n}_pdsi"], summary[f"n_{n}"] = r, count
    log.info("drought region: %s", summary)
    with atomic_path(snakemake.output.series) as tmp:
        series.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(snakemake.output.summary) as tmp:
        pd.DataFrame([summary]).to_csv(tmp, index=False, float_format="%.6g")
    plot(pdsi, mask, series, names, summary, snakemake.output.figure)


def plot(pdsi, mask, series, names, summary, png) -> None:
    """Left: mean PDSI with the drought cells outlined; right: the regional monthly series."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    lat, lon = pdsi["lat"].values, pdsi["lon"].values
    h = TERRACLIMATE_RES / 2
    extent = [lon[0] - h, lon[-1] + h, lat[-1] - h, lat[0] + h]
    im = ax.imshow(np.nanmean(pdsi.values, axis=0), extent=extent, cmap="BrBG", vmin=-6,
                   vmax=6)  # fmt: skip
    if mask.any():
        ax.contour(lon, lat, mask.astype(float), levels=[0.5], colors="red", linewidths=0.8)
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean PDSI")
    ax.set_title(f"Drought cells (red): {summary['drought_cells']} of {summary['cells']}",
                 fontsize=9)  # fmt: skip
    x = pd.to_datetime(series["month"])
    for n in names:
        r = summary[f"r_{n}_pdsi"]
        ax2.plot(
            x, series[n], marker="o", label=f"{n} (R with PDSI {r:.2f}, n {summary[f'n_{n}']})"
        )
    ax2.set_xticks(x, series["month"], rotation=30, fontsize=7)
    ax2.set_ylabel("regional mean soil moisture (m3 m-3)")
    tw = ax2.twinx()
    tw.plot(x, series["pdsi"], color="black", linestyle="--", marker="s", label="PDSI")
    tw.set_ylabel("regional mean PDSI")
    ax2.legend(fontsize=7, loc="upper left")
    ax2.set_title("Monthly means over the drought region", fontsize=9)
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(snakemake)
