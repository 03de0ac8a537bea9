"""Rule bma_weights: the BMA parameters on the fine grid, the path of each, who took part.

The fold ``all`` choices (rule bma_pooled, by station-held-out cross-validation) say which
path produces the parameters: the converged stations' parameters kriged (weights through
their centred log-ratio, a_k, b_k and log sigma as they are, one pooled correlation model;
smdownscale.kriging), or every cell its region's pooled BMA fit (the all-region fit where
its region has too few training stations), with bias terms at identity when the
cross-validation shrank them fully. ``weights_source`` says so per cell, ``kriging.csv``
per field and region, ``participation.csv`` per network; the report's captions include
``kriging_caption.rst``.
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.bma_pooled import chosen_parameters
from smdownscale.bma_report import (
    parameter_paths,
    participation,
    participation_sentence,
    paths_caption,
    variogram_sentence,
)
from smdownscale.bma_stations import parameter_columns, read_station_table
from smdownscale.config import run_grids
from smdownscale.grid import block_map
from smdownscale.kriging import SOURCE_MEANINGS, variogram_table
from smdownscale.netcdf import GridFileWriter, VarSpec
from smdownscale.rule_io import provenance, setup_logging

KIND = {
    "w": ("BMA weight of the {m} member", "1"),
    "a": ("BMA bias intercept a of the {m} member", "m3 m-3"),
    "b": ("BMA bias slope b of the {m} member", "1"),
}


def specs(members):
    out = []
    for name in parameter_columns(members):
        if name == "log_sigma":
            long, units = "natural log of the BMA spread sigma (sigma in m3 m-3)", "1"
        else:
            kind, m = name.split("_", 1)
            long, units = KIND[kind][0].format(m=m), KIND[kind][1]
        out.append(VarSpec(name, ("lat", "lon"), "f4", {"long_name": long, "units": units}))
        out.append(
            VarSpec(
                f"{name}_sd",
                ("lat", "lon"),
                "f4",
                {"long_name": f"standard deviation of {name}", "units": units},
            )
        )
    out.append(
        VarSpec(
            "sigma",
            ("lat", "lon"),
            "f4",
            {"long_name": "BMA spread sigma (exp of kriged log_sigma)", "units": "m3 m-3"},
        )
    )
    out.append(
        VarSpec(
            "weights_source",
            ("lat", "lon"),
            "i1",
            {
                "long_name": "how the BMA parameters of the cell were obtained",
                "flag_values": np.array(list(SOURCE_MEANINGS), dtype="i1"),
                "flag_meanings": " ".join(SOURCE_MEANINGS.values()),
            },
            fill_value=-1,
        )
    )
    return out


def plot_weights(path, out_png, members, stations, title, max_pixels=800) -> None:
    """Maps of every member's kriged weight (top) and its kriging SD (bottom), stations
    marked; the grid is strided to at most ``max_pixels`` per side."""
    with netCDF4.Dataset(path) as nc:
        lat = nc.variables["lat"][:]
        lon = nc.variables["lon"][:]
        step = max(1, int(np.ceil(max(lat.size, lon.size) / max_pixels)))
        extent = [lon[0], lon[-1], lat[-1], lat[0]]
        fig, axes = plt.subplots(
            2, len(members), figsize=(3.2 * len(members), 5.6), constrained_layout=True
        )
        for j, m in enumerate(members):
            for i, (name, cmap, vmax) in enumerate(
                ((f"w_{m}", "viridis", 1.0), (f"w_{m}_sd", "magma", None))
            ):
                ax = axes[i, j]
                field = np.ma.filled(nc.variables[name][::step, ::step], np.nan)
                im = ax.imshow(field, extent=extent, cmap=cmap, vmin=0, vmax=vmax)
                ax.scatter(stations.lon, stations.lat, s=8, c="white", edgecolors="black")
                ax.set_title(f"{'weight' if i == 0 else 'SD of the weight'} {m}", fontsize=9)
                ax.tick_params(labelsize=7)
                fig.colorbar(im, ax=ax, shrink=0.8)
        fig.suptitle(title, fontsize=9)
        fig.savefig(out_png, dpi=110)
        plt.close(fig)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    members = cfg["members"]["use"]
    coarse, fine = run_grids(cfg)
    blend = cfg["members"]["region_blend"]  # coarse cells, as the members' predictions
    posteriors = read_station_table(snakemake.input.posteriors)
    stations = posteriors[posteriors.converged.astype(bool)]
    with open(snakemake.input.selection) as fh:
        selection = json.load(fh)
    pooled = pd.read_csv(snakemake.input.pooled)
    pk = chosen_parameters(posteriors, pooled, selection, members, b["kriging"])
    fit = pk.fit
    log.info("variogram of %d stations: %s", pk.n_stations, json.dumps(fit.attrs(), default=str))
    log.info("parameters: %s", "kriged" if pk.kriged else f"pooled regional fits ({pk.reason})")
    with netCDF4.Dataset(snakemake.input.regions) as reg:
        labels = np.ma.filled(reg.variables["region"][:], -1).astype(np.int64)
    grid = pk.on_grid(
        fine,
        cell_regions=labels,
        dtype=np.float32,
        blend_cells=blend * block_map(fine, coarse).cell_size,
    )
    ensemble = b["ensemble"]
    used = selection["ensemble"] if ensemble == "bma" else ensemble
    attrs = provenance(cfg, "BMA parameters on the fine grid", [str(p) for p in snakemake.input])
    attrs.update(
        {
            "members": " ".join(members),
            "n_stations": pk.n_stations,
            "parameters": "ordinary kriging" if pk.kriged else f"pooled fits: {pk.reason}",
            "region_blend_coarse_cells": 0.0 if pk.kriged else float(blend),
            "bias_shrinkage_toward_identity": float(selection["shrinkage"]),
            "product_ensemble": used,
            "choices": " | ".join(selection["reasons"]),
            "variogram": json.dumps(fit.attrs(), default=str),
        }
    )
    counts = np.zeros(len(SOURCE_MEANINGS), dtype=np.int64)
    rows_per_block = 64
    with GridFileWriter(snakemake.output.weights, fine, None, specs(members), attrs) as out:
        for r0, r1 in grid.row_blocks(rows_per_block):
            fields, source = grid.block_with_source(r0, r1)
            rows = slice(r0, r1)
            for name, (mean, sd) in fields.items():
                out.write(name, mean, rows=rows)
                out.write(f"{name}_sd", sd, rows=rows)
            out.write("sigma", np.exp(fields["log_sigma"][0]), rows=rows)
            out.write("weights_source", source.astype("i1"), rows=rows)
            inside = labels[r0:r1] >= 0
            counts += np.bincount(
                source[inside].ravel().astype(np.int64), minlength=len(SOURCE_MEANINGS)
            )
    log.info(
        "regional cells by source: %s; %d cells near stations kriged directly",
        ", ".join(f"{SOURCE_MEANINGS[k]} {int(n)}" for k, n in enumerate(counts) if n),
        grid.n_refined,
    )
    title = (
        "kriged"
        if pk.kriged
        else f"pooled regional fits, blended across region borders (SD {blend:g} coarse cells)"
    )
    plot_weights(
        snakemake.output.weights, snakemake.output.figure, members, stations,
        f"BMA weights: {title}; product: {used}",
    )  # fmt: skip
    regions = sorted(int(r) for r in np.unique(labels) if r >= 0)
    paths = parameter_paths(members, regions, pk.kriged, pooled, "" if pk.kriged else pk.reason)
    names = parameter_columns(members)
    values = pk.station_values
    region_n = pooled.set_index("region").n_stations.to_dict()
    paths["training_stations_in_region"] = [int(region_n.get(r, 0)) for r in paths.region]
    paths["n_stations"] = pk.n_stations
    paths["station_mean"] = [
        float(np.mean(values[:, names.index(f)])) if pk.n_stations else np.nan for f in paths.field
    ]
    paths["station_sd"] = [
        float(np.std(values[:, names.index(f)], ddof=1)) if pk.n_stations > 1 else np.nan
        for f in paths.field
    ]
    paths["product_ensemble"] = used
    for k, v in fit.attrs().items():
        paths[k] = v
    for row in paths.groupby(["path", "fit"]).size().reset_index().itertuples():
        log.info("%d field-regions: %s (%s)", row[3], row.path, row.fit)
    with atomic_path(snakemake.output.summary) as tmp:
        paths.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.variogram) as tmp:
        variogram_table(fit).to_csv(tmp, index=False, float_format="%.6g")
    table = participation(
        pd.read_parquet(snakemake.input.stations, columns=["network", "station"]),
        pd.read_csv(snakemake.input.outside, dtype={"network": str, "station": str}),
        pd.read_parquet(snakemake.input.pairs, columns=["network", "station"]),
        read_station_table(snakemake.input.folds),
        posteriors,
    )
    with atomic_path(snakemake.output.participation) as tmp:
        table.to_csv(tmp, index=False)
    caption = (
        f"**What ran.** {paths_caption(paths, selection, ensemble, blend)} "
        f"{variogram_sentence(fit.attrs())} "
        f"**Stations.** {participation_sentence(table)}"
    )
    write_text_atomic(snakemake.output.caption, caption + "\n")
    log.info("caption: %s", caption)


if __name__ == "__main__":
    main(snakemake)
