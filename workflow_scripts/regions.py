"""Rule regions: k-means regions on the run's multi-year mean coarse soil moisture."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from smdownscale.config import region_count, run_grids
from smdownscale.netcdf import GridFileWriter, VarSpec, write_dataset
from smdownscale.regions import NO_REGION, fine_regions, kmeans_regions
from smdownscale.rule_io import provenance, rule_config, setup_logging

FEATURES = {  # config name -> (coarse variable, statistic over all days)
    "sm_std": ("sm", "std"),
    "elevation": ("elevation", "static"),
    "ndvi_mean": ("ndvi", "mean"),
    "lst_mean": ("lst", "mean"),
}


def multi_year_statistics(paths, extra):
    """Mean and SD of coarse sm over all days, plus the extra features, one file at a time."""
    n = s = s2 = None
    sums = {}
    counts = {}
    static = {}
    for path in paths:
        with xr.open_dataset(path) as ds:
            sm = ds["sm"].values.astype("f8")
            ok = np.isfinite(sm)
            add = (ok.sum(0), np.where(ok, sm, 0).sum(0), np.where(ok, sm * sm, 0).sum(0))
            n, s, s2 = add if n is None else (n + add[0], s + add[1], s2 + add[2])
            for name in extra:
                var, stat = FEATURES[name]
                if stat == "static":
                    static[name] = ds[var].values
                elif stat == "mean":
                    v = ds[var].values
                    sums[name] = sums.get(name, 0) + np.nansum(v, 0)
                    counts[name] = counts.get(name, 0) + np.isfinite(v).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
        sd = np.sqrt(np.maximum(s2 / n - mean * mean, 0))
        feats = {name: sums[name] / counts[name] for name in sums}
    feats.update(static)
    if "sm_std" in extra:
        feats["sm_std"] = sd
    return mean, n, feats


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg, _ = rule_config(snakemake)
    rcfg = cfg["regions"]
    coarse, fine = run_grids(cfg)
    extra = [f for f in rcfg["features"] if f != "sm_mean"]
    mean, n_days, feats = multi_year_statistics(snakemake.input.coarse, extra)
    k = region_count(cfg)
    if k < rcfg["k"]:
        log.info("k = %d regions asked, %d used: the grid's %d coarse cells give each of %d "
                 "regions at least regions.min_cells = %d", rcfg["k"], k, coarse.size, k,
                 rcfg["min_cells"])  # fmt: skip
    labels = kmeans_regions(mean, k, rcfg["seed"], extra=feats or None)
    for c in range(k):
        cells = labels == c
        log.info(
            "region %d: %d coarse cells, mean sm %.3f m3 m-3",
            c,
            int(cells.sum()),
            float(np.nanmean(mean[cells])),
        )
    log.info(
        "%d coarse cells without a multi-year mean (no region)", int((labels == NO_REGION).sum())
    )

    attrs = provenance(cfg, "k-means regions of the coarse grid", list(snakemake.input.coarse))
    flag = {
        "long_name": "region (k-means cluster, 0 = driest)",
        "units": "1",
        "valid_min": 0,
        "valid_max": k - 1,
        "comment": "-1: no region",
    }
    ds = xr.Dataset(
        {
            "region": (("lat", "lon"), labels, flag),
            "sm_mean": (
                ("lat", "lon"),
                mean.astype("f4"),
                {"long_name": "multi-year mean coarse soil moisture", "units": "m3 m-3"},
            ),
            "n_days": (
                ("lat", "lon"),
                n_days.astype("i4"),
                {"long_name": "days with a valid coarse value", "units": "1"},
            ),
        },
        attrs={**attrs, "features": " ".join(rcfg["features"]), "k": k},
    )
    write_dataset(ds, snakemake.output.coarse, coarse)
    fine_labels = fine_regions(labels, fine, coarse)
    spec = VarSpec("region", ("lat", "lon"), "i2", flag, fill_value=-32768)
    with GridFileWriter(snakemake.output.fine, fine, None, [spec], attrs) as out:
        out.write("region", fine_labels)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    extent = (coarse.west, coarse.east, coarse.south, coarse.north)
    im = axes[0].imshow(
        np.ma.masked_less(labels, 0),
        extent=extent,
        cmap="tab10",
        vmin=-0.5,
        vmax=9.5,
        interpolation="nearest",
    )
    axes[0].set_title(f"Regions (k = {k}, 0 = driest)")
    fig.colorbar(im, ax=axes[0], ticks=range(k), shrink=0.8)
    im = axes[1].imshow(mean, extent=extent, cmap="YlGnBu", interpolation="nearest")
    axes[1].set_title("Multi-year mean coarse soil moisture")
    fig.colorbar(im, ax=axes[1], label="m3 m-3", shrink=0.8)
    for ax in axes:
        ax.set_xlabel("longitude (deg E)")
        ax.set_ylabel("latitude (deg N)")
    fig.savefig(snakemake.output.figure, dpi=110)


if __name__ == "__main__":
    main(snakemake)
