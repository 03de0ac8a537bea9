"""Rule bma_weights: the stations' BMA parameters kriged to the fine grid, with kriging SD.

Stations whose chains passed the diagnostics (fold ``all``) are kriged: weights through
their centred log-ratio (so the maps are non-negative and sum to one), a_k, b_k and
log sigma as they are, all with one pooled correlation model (smdownscale.kriging). With
too few stations or a failed variogram fit, every field is its region's station mean
(``weights_source`` says so per cell, and the product's quality flag carries it).
"""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import netCDF4
import numpy as np
import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import parameter_columns, parameter_kriging, usable_stations
from smdownscale.config import run_grids
from smdownscale.kriging import (
    SOURCE_ALL_STATIONS,
    SOURCE_KRIGED,
    SOURCE_REGION,
    variogram_table,
)
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
                {"long_name": f"kriging standard deviation of {name}", "units": units},
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
                "flag_values": np.array(
                    [SOURCE_KRIGED, SOURCE_REGION, SOURCE_ALL_STATIONS], dtype="i1"
                ),
                "flag_meanings": "kriged region_station_mean all_station_mean",
            },
            fill_value=-1,
        )
    )
    return out


def plot_weights(path, out_png, members, stations, max_pixels=800) -> None:
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
                ax.set_title(f"{'weight' if i == 0 else 'kriging SD'} {m}", fontsize=9)
                ax.tick_params(labelsize=7)
                fig.colorbar(im, ax=ax, shrink=0.8)
        fig.savefig(out_png, dpi=110)
        plt.close(fig)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    members = cfg["members"]["use"]
    _, fine = run_grids(cfg)
    stations = usable_stations(snakemake.input.posteriors)
    if stations.empty:
        raise ValueError(
            f"no station's BMA chain passed the diagnostics ({snakemake.input.posteriors}): "
            "the weights cannot be learned. Lengthen the chains (bma.steps), relax "
            "bma.min_ess / bma.min_chain_tau, lower bma.min_pairs, or choose another "
            "bma.ensemble (mean, best or a member)"
        )
    pk = parameter_kriging(stations, members, b["kriging"])
    fit = pk.fit
    if pk.kriged:
        log.info("kriging %d stations: %s", pk.n_stations, json.dumps(fit.attrs(), default=str))
    else:
        log.warning(
            "kriging fallback for every field (%d stations): %s; each cell takes its "
            "region's station mean",
            pk.n_stations,
            pk.reason,
        )
    with netCDF4.Dataset(snakemake.input.regions) as reg:
        labels = np.ma.filled(reg.variables["region"][:], -1).astype(np.int64)
    grid = pk.on_grid(fine, cell_regions=labels, dtype=np.float32)
    attrs = provenance(
        cfg, "BMA parameters kriged to the fine grid", [str(p) for p in snakemake.input]
    )
    attrs.update(
        {
            "members": " ".join(members),
            "n_stations": pk.n_stations,
            "kriging": "ordinary kriging" if pk.kriged else f"fallback: {pk.reason}",
            "variogram": json.dumps(fit.attrs(), default=str),
        }
    )
    counts = np.zeros(3, dtype=np.int64)
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
            counts += np.bincount(source.ravel().astype(np.int64), minlength=3)[:3]
    log.info(
        "cells kriged %d, region station mean %d, all-station mean %d; %d cells near "
        "stations kriged directly",
        *counts.tolist(),
        grid.n_refined,
    )
    plot_weights(snakemake.output.weights, snakemake.output.figure, members, stations)
    summary = pd.DataFrame(
        [
            {
                "field": name,
                "kriged": pk.kriged,
                "fallback_reason": reason or "",
                "n_stations": pk.n_stations,
                "station_mean": float(np.mean(pk.station_values[:, i])),
                "station_sd": float(np.std(pk.station_values[:, i], ddof=1))
                if pk.n_stations > 1
                else float("nan"),
                **fit.attrs(),
            }
            for i, (name, reason) in enumerate(pk.fallback.items())
        ]
    )
    with atomic_path(snakemake.output.summary) as tmp:
        summary.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.variogram) as tmp:
        variogram_table(fit).to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
