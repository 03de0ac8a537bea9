"""Rule reference_scores: the product and the coarse product against a reference model.

The reference (``wildcards.reference``: ERA5-Land, GLDAS Noah; see
:mod:`smdownscale.reference_models`) on its own cells (:mod:`smdownscale.reference`): per
cell, R, MAE and bias of the product's ``sm`` and of the coarse product (repeated over its
block, then averaged the same way) against the reference over the run's days where both have
a value, and triple collocation of (product, coarse product, reference). Periods and blocks of rows
(whole reference rows) are streamed into per-cell sums. Writes the maps (NetCDF), a summary
table and a figure (issue 16, item 4).
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.config import run_grids
from smdownscale.grid import LatLonGrid, block_map
from smdownscale.netcdf import GridFileWriter, VarSpec, file_days, read_rows
from smdownscale.reference import (
    PairStats,
    TripleStats,
    reference_index,
    row_blocks,
    to_reference,
)
from smdownscale.reference_models import REFERENCE_MODELS
from smdownscale.rule_io import provenance, setup_logging

MIN_DAYS = 10
TC_MIN_DAYS = 30


def map_specs(ref: str) -> dict[str, tuple[str, str]]:
    """Map variable -> (long name, units) against the reference titled ``ref``."""
    return {
        "r_product": (f"R of the product's sm against {ref}", "1"),
        "r_coarse": (f"R of the coarse product against {ref}", "1"),
        "mae_product": (f"MAE of the product's sm against {ref}", "m3 m-3"),
        "mae_coarse": (f"MAE of the coarse product against {ref}", "m3 m-3"),
        "bias_product": (f"mean product minus {ref}", "m3 m-3"),
        "bias_coarse": (f"mean coarse product minus {ref}", "m3 m-3"),
        "tc_sd_product": ("triple-collocation error SD of the product", "m3 m-3"),
        "tc_sd_coarse": ("triple-collocation error SD of the coarse product", "m3 m-3"),
        "tc_sd_reference": (f"triple-collocation error SD of {ref}", "m3 m-3"),
    }


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    coarse_grid, fine = run_grids(cfg)
    coarse_blocks = block_map(fine, coarse_grid)
    model = REFERENCE_MODELS[snakemake.wildcards.reference]
    refda = model.read(list(snakemake.input.reference), fine.bbox)
    # the reference cells whose centre lies in the region
    lat, lon = refda["lat"].values, refda["lon"].values
    keep_lat = (lat > fine.south) & (lat < fine.north)
    keep_lon = (lon > fine.west) & (lon < fine.east)
    refda = refda.isel(lat=np.flatnonzero(keep_lat), lon=np.flatnonzero(keep_lon))
    rlat, rlon = refda["lat"].values, refda["lon"].values
    shape = (rlat.size, rlon.size)
    rows = reference_index(fine.lat, rlat, model.res, descending=True)
    cols = reference_index(fine.lon, rlon, model.res, descending=False)
    ref_days = pd.DatetimeIndex(refda["time"].values)
    product, coarse = PairStats(shape), PairStats(shape)
    triple = TripleStats(shape)
    n_days = 0
    chunks = row_blocks(rows, coarse_blocks, cfg["resources"]["chunk_rows"])
    for ppath, cpath in zip(snakemake.input.products, snakemake.input.coarse, strict=True):
        with netCDF4.Dataset(ppath) as pnc, netCDF4.Dataset(cpath) as cnc:
            days = pd.DatetimeIndex(file_days(pnc))
            have = ref_days.get_indexer(days)
            if (have < 0).all():
                continue
            sel = have >= 0
            ref = refda.values[have[sel]]
            for fr in chunks:  # whole reference rows (and coarse rows) per block
                cr = coarse_blocks.coarse_rows(fr)
                p_fine = read_rows(pnc, "sm", fr)[sel]
                c_fine = coarse_blocks.repeat(read_rows(cnc, "sm", cr)[sel], fr)
                p_ref = to_reference(p_fine, rows[fr], cols, shape)
                c_ref = to_reference(c_fine, rows[fr], cols, shape)
                product.add(p_ref, ref)
                coarse.add(c_ref, ref)
                triple.add(p_ref, c_ref, ref)
        n_days += int(sel.sum())
    sp, sc = product.scores(MIN_DAYS), coarse.scores(MIN_DAYS)
    tc, n_tc = triple.error_sd(TC_MIN_DAYS)
    fields = {
        "r_product": sp["r"], "r_coarse": sc["r"], "mae_product": sp["mae"],
        "mae_coarse": sc["mae"], "bias_product": sp["bias"], "bias_coarse": sc["bias"],
        "tc_sd_product": tc[0], "tc_sd_coarse": tc[1], "tc_sd_reference": tc[2],
    }  # fmt: skip
    grid = LatLonGrid.from_coords(rlat, rlon)
    specs = [VarSpec(k, ("lat", "lon"), "f4", {"long_name": v[0], "units": v[1]})
             for k, v in map_specs(model.title).items()]  # fmt: skip
    specs.append(VarSpec("n_days", ("lat", "lon"), "i4", {"long_name": "days compared"}))
    attrs = provenance(cfg, f"the product against {model.title} ({model.variable})",
                       [str(p) for p in snakemake.input])  # fmt: skip
    with GridFileWriter(snakemake.output.maps, grid, None, specs, attrs) as out:
        for k, v in fields.items():
            out.write(k, v.astype(np.float32))
        out.write("n_days", sp["n"].astype(np.int32))
    both = np.isfinite(sp["r"]) & np.isfinite(sc["r"])
    summary = {
        "days": n_days,
        "cells": int(np.isfinite(sp["r"]).sum()),
        "median_r_product": float(np.nanmedian(sp["r"])),
        "median_r_coarse": float(np.nanmedian(sc["r"])),
        "median_mae_product": float(np.nanmedian(sp["mae"])),
        "median_mae_coarse": float(np.nanmedian(sc["mae"])),
        "share_cells_r_product_above_coarse": float((sp["r"][both] > sc["r"][both]).mean())
        if both.any() else np.nan,
        "tc_cells": int(np.isfinite(tc[2]).sum()),
        **{f"median_tc_sd_{w}": median(tc[k]) for k, w in enumerate(("product", "coarse",
                                                                      "reference"))},
    }  # fmt: skip
    log.info("against %s: %s", model.title, json.dumps(summary))
    with atomic_path(snakemake.output.table) as tmp:
        pd.DataFrame([summary]).to_csv(tmp, index=False, float_format="%.6g")
    plot(fields, rlat, rlon, snakemake.output.figure, summary, model)


def median(v: np.ndarray) -> float:
    return float(np.nanmedian(v)) if np.isfinite(v).any() else np.nan


def plot(fields, lat, lon, png, summary, model) -> None:
    """R and MAE maps of the product and the coarse product against the reference."""
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.5), constrained_layout=True)
    h = model.res / 2
    extent = [lon[0] - h, lon[-1] + h, lat[-1] - h, lat[0] + h]
    for i, (kind, cmap, vmin, vmax) in enumerate(
        (("r", "viridis", 0, 1), ("mae", "magma", 0, None))
    ):
        both = np.concatenate([fields[f"{kind}_{w}"].ravel() for w in ("product", "coarse")])
        top = vmax if vmax is not None else float(np.nanpercentile(both, 98))
        for j, which in enumerate(("product", "coarse")):
            ax = axes[i, j]
            im = ax.imshow(fields[f"{kind}_{which}"], extent=extent, cmap=cmap, vmin=vmin,
                           vmax=top)  # fmt: skip
            med = summary[f"median_{kind}_{which}"]
            name = "product" if which == "product" else "coarse product"
            ax.set_title(f"{kind.upper()} of the {name} vs {model.title} (median {med:.3f})",
                         fontsize=8)  # fmt: skip
            ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=list(axes[i]), shrink=0.8)
    fig.suptitle(f"Against {model.title} ({model.variable}) on its {model.res:g} deg cells, "
                 f"{summary['days']} days", fontsize=9)  # fmt: skip
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(snakemake)
