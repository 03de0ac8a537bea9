"""Rule tch_uncertainty: each listed product's random-error SD by the three-cornered hat.

Products (``uncertainty.tch_products``): members by name, ``coarse`` (the coarse product
repeated over its block) and ``product`` (the product's sm). The fine grid is gone through in
blocks of whole coarse rows; per block, every period's days are added to the pair sums
(:class:`smdownscale.tch.PairSums`), so memory depends on the block, not on the run's length
or the region. Where a truth exists (the demo), the true error SD of each product on the same
cell-days is accumulated beside it, so the table says how far the hat is from the truth.
Writes ``tch.nc`` (``tch_sd_<product>``, ``tch_negative`` bit k = product k's variance came
out negative and was set to 0, ``tch_n_days``), a map per product and a summary table.
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.atomic import atomic_path
from smdownscale.config import run_grids
from smdownscale.grid import block_map
from smdownscale.netcdf import GridFileWriter, VarSpec, file_days, read_rows
from smdownscale.rule_io import provenance, setup_logging
from smdownscale.tch import PairSums, three_cornered_hat


def variable(product: str) -> tuple[str, str]:
    """(input key, variable) of a product in the period files."""
    if product == "coarse":
        return "coarse", "sm"
    if product == "product":
        return "products", "sm"
    return "members", f"sm_{product}"


def specs(products):
    out = [
        VarSpec(f"tch_sd_{p}", ("lat", "lon"), "f4",
                {"long_name": f"three-cornered-hat random-error SD of {p}", "units": "m3 m-3"})
        for p in products
    ]  # fmt: skip
    out.append(
        VarSpec(
            "tch_negative",
            ("lat", "lon"),
            "i2",
            {
                "long_name": "products whose error variance came out negative (set to 0)",
                "flag_masks": np.array([1 << k for k in range(len(products))], dtype="i2"),
                "flag_meanings": " ".join(f"{p}_negative" for p in products),
            },
        )
    )
    out.append(
        VarSpec("tch_n_days", ("lat", "lon"), "i4", {"long_name": "days with every product"})
    )
    return out


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    unc = cfg["uncertainty"]
    products = list(unc["tch_products"])
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    inp = snakemake.input
    files = {k: list(inp[k]) for k in ("coarse", "members", "products")}
    truth_path = inp.get("truth")
    truth = xr.open_dataset(truth_path)["sm_true"] if truth_path else None
    n_p = len(products)
    sd_all = {p: [] for p in products}
    true_all = {p: [] for p in products}
    counts = np.zeros(n_p, dtype=np.int64)
    attrs = provenance(cfg, "three-cornered-hat error SDs", [str(p) for p in snakemake.input])
    attrs["tch_products"] = " ".join(products)
    attrs["tch_min_days"] = unc["tch_min_days"]
    with GridFileWriter(snakemake.output.tch, fine, None, specs(products), attrs) as out:
        for rows in blocks.row_chunks(cfg["resources"]["chunk_rows"]):
            crows = blocks.coarse_rows(rows)
            shape = (rows.stop - rows.start, fine.nlon)
            sums = PairSums(n_p, shape)
            err = np.zeros((2, n_p, *shape))
            for i in range(len(files["members"])):
                stack = []
                for p in products:
                    key, name = variable(p)
                    with netCDF4.Dataset(files[key][i]) as nc:
                        if key == "coarse":
                            v = blocks.repeat(read_rows(nc, name, crows), rows)
                        else:
                            v = read_rows(nc, name, rows)
                        days = file_days(nc)
                    stack.append(v.astype(np.float64))
                stack = np.stack(stack)
                sums.add(stack)
                if truth is not None:
                    t = truth.sel(
                        time=np.array(days, dtype="datetime64[ns]"),
                        lat=fine.lat[rows],
                        lon=fine.lon,
                        method="nearest",
                        tolerance=fine.res / 4,
                    ).values.astype(np.float64)
                    ok = np.isfinite(stack).all(axis=0) & np.isfinite(t)
                    e = np.where(ok, stack - t, 0.0)
                    err[0] += e.sum(axis=1)
                    err[1] += (e * e).sum(axis=1)
            res = three_cornered_hat(sums, unc["tch_min_days"])
            flags = np.zeros(shape, dtype=np.int16)
            for k, p in enumerate(products):
                out.write(f"tch_sd_{p}", res.sd[k].astype(np.float32), rows=rows)
                flags |= (res.negative[k].astype(np.int16) << k).astype(np.int16)
                counts[k] += int(res.negative[k].sum())
                sd_all[p].append(res.sd[k].ravel())
                if truth is not None:
                    n = sums.n.astype(np.float64)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        var = (err[1, k] - err[0, k] ** 2 / n) / (n - 1)
                    true_sd = np.where(n >= unc["tch_min_days"], np.sqrt(var), np.nan)
                    true_all[p].append(true_sd.ravel())
            out.write("tch_negative", flags, rows=rows)
            out.write("tch_n_days", sums.n.astype(np.int32), rows=rows)
    rows_out = []
    for k, p in enumerate(products):
        sd = np.concatenate(sd_all[p])
        row = {
            "product": p,
            "cells": int(np.isfinite(sd).sum()),
            "median_tch_sd": float(np.nanmedian(sd)) if np.isfinite(sd).any() else np.nan,
            "negative_share": counts[k] / max(1, int(np.isfinite(sd).sum())),
        }
        if truth_path:
            true = np.concatenate(true_all[p])
            ok = np.isfinite(sd) & np.isfinite(true)
            row["median_true_error_sd"] = float(np.median(true[ok])) if ok.any() else np.nan
            row["r_tch_vs_true_across_cells"] = (
                float(np.corrcoef(sd[ok], true[ok])[0, 1]) if ok.sum() > 2 else np.nan
            )
        rows_out.append(row)
        log.info("three-cornered hat: %s", json.dumps(row, default=float))
    with atomic_path(snakemake.output.table) as tmp:
        pd.DataFrame(rows_out).to_csv(tmp, index=False, float_format="%.6g")
    plot(snakemake.output.tch, snakemake.output.figure, products)


def plot(path, png, products, max_pixels=800) -> None:
    """A map of every product's TCH error SD, one colour scale (strided to max_pixels)."""
    with netCDF4.Dataset(path) as nc:
        lat, lon = nc.variables["lat"][:], nc.variables["lon"][:]
        step = max(1, int(np.ceil(max(lat.size, lon.size) / max_pixels)))
        fields = [np.ma.filled(nc.variables[f"tch_sd_{p}"][::step, ::step], np.nan)
                  for p in products]  # fmt: skip
    finite = np.concatenate([f[np.isfinite(f)] for f in fields]) if fields else np.array([])
    vmax = float(np.percentile(finite, 98)) if finite.size else 1.0
    fig, axes = plt.subplots(1, len(products), figsize=(3.2 * len(products), 3.4),
                             constrained_layout=True, squeeze=False)  # fmt: skip
    extent = [lon[0], lon[-1], lat[-1], lat[0]]
    for ax, p, f in zip(axes[0], products, fields, strict=True):
        im = ax.imshow(f, extent=extent, cmap="magma", vmin=0, vmax=vmax)
        ax.set_title(f"TCH error SD: {p}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.8, label="m3 m-3")
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main(snakemake)
