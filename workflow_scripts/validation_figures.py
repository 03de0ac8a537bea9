"""Rule validation_figures: the report's figures, drawn by smdownscale.figures.

Maps of the coarse product, each member and the product for the 15th of each month of the
run; the product's sd and the kriged weights; station scatter plots and the time series of
the station with most evaluation days (with precipitation); distributions and monthly box
plots of the coarse product and the product; the metric tables; posterior weight intervals
per station; the pooled variogram and its fit. Large grids are strided, never loaded whole.
"""

import netCDF4
import numpy as np
import pandas as pd

from smdownscale import figures
from smdownscale.config import run_grids
from smdownscale.netcdf import file_days, read_cells, read_rows
from smdownscale.rule_io import setup_logging
from smdownscale.station_panels import station_panels
from smdownscale.taylor import taylor_diagram, taylor_statistics
from smdownscale.validation import ALL_NETWORKS, evaluation_pairs, station_products

SAMPLE_CELLS = 20_000  # grid cells per day sampled for the distributions


def read_day(path, name, day, step=1):
    with netCDF4.Dataset(path) as nc:
        i = file_days(nc).index(day)
        var = nc.variables[name]
        var.set_auto_mask(True)
        return np.ma.filled(np.ma.asarray(var[i, ::step, ::step], dtype=float), np.nan)


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    members = cfg["members"]["use"]
    coarse_grid, fine = run_grids(cfg)
    periods = snakemake.params.periods
    where = {d: p.id for p in periods for d in p.days}
    step = max(1, int(np.ceil(max(fine.shape) / 800)))
    lat, lon = fine.lat[::step], fine.lon[::step]
    ip = {p: i for i, p in enumerate(p.id for p in periods)}
    series = pd.read_parquet(snakemake.input.series)
    sites = series.drop_duplicates(["network", "station"])

    for day, out in zip(snakemake.params.map_days, snakemake.output.maps, strict=True):
        i = ip[where[day]]
        fields = {
            "coarse product": (
                read_day(snakemake.input.coarse[i], "sm", day),
                coarse_grid.lat,
                coarse_grid.lon,
            )
        }
        for m in members:
            fields[m] = (read_day(snakemake.input.members[i], f"sm_{m}", day, step), lat, lon)
        fields["product"] = (read_day(snakemake.input.products[i], "sm", day, step), lat, lon)
        fig = figures.map_panels(
            fields,
            f"Soil moisture on {day} (colours capped at bma.porosity)",
            vmax=cfg["bma"]["porosity"],
            stations=sites[["lon", "lat"]],
        )
        fig.savefig(out)
        log.info("maps of %s -> %s", day, out)

    day = snakemake.params.map_days[-1]
    i = ip[where[day]]
    with netCDF4.Dataset(snakemake.input.weights) as nc:
        weights = {
            m: np.ma.filled(nc.variables[f"w_{m}"][::step, ::step].astype(float), np.nan)
            for m in members
        }
    fig = figures.sd_and_weight_maps(
        read_day(snakemake.input.products[i], "sm_sd", day, step),
        weights,
        lat,
        lon,
        title=f"Product sd on {day} and the BMA member weights",
    )
    fig.savefig(snakemake.output.sd_weights)

    ev = series[(series.split == "eval") & series.complete]
    cols = {"coarse product": "coarse", "BMA held-out": "bma_heldout", "member mean": "mean"}
    figures.station_scatter(ev, cols).savefig(snakemake.output.scatter)

    station_panels(
        series,
        {"coarse": "coarse", "member mean": "mean", "product held-out": "product_heldout"},
    ).savefig(snakemake.output.stations)

    products = station_products(members)
    common = evaluation_pairs(series, list(products))
    stats = taylor_statistics(common, {label: col for col, label in products.items()})
    taylor_diagram(
        stats,
        f"Products against in situ, evaluation days, all networks ({len(common)} station-days "
        f"of {common[['network', 'station']].drop_duplicates().shape[0]} stations)",
    ).savefig(snakemake.output.taylor)

    busiest = ev.groupby(["network", "station"]).size().idxmax()
    one = series[(series.network == busiest[0]) & (series.station == busiest[1])].copy()
    r, c = int(one.fine_row.iloc[0]), int(one.fine_col.iloc[0])
    rain = []
    for path in snakemake.input.predictors:
        with netCDF4.Dataset(path) as nc:
            days = file_days(nc)
            vals = read_cells(nc.variables["precipitation"], [r], [c])[:, 0]
        rain.append(pd.Series(vals, index=pd.to_datetime(days)))
    rain = pd.concat(rain)
    one["precipitation"] = rain.reindex(pd.to_datetime(one.time)).to_numpy()
    fig = figures.station_timeseries(
        one,
        {"coarse": "coarse", "BMA held-out": "bma_heldout", "BMA in-sample": "bma_insample"},
        precip="precipitation",
        title=f"{busiest[0]} / {busiest[1]}",
    )
    fig.savefig(snakemake.output.timeseries)

    rng = np.random.default_rng(0)
    values = {"coarse product": [], "product": []}
    months = {"coarse product": [], "product": []}
    for cpath, ppath in zip(snakemake.input.coarse, snakemake.input.products, strict=True):
        for label, path in (("coarse product", cpath), ("product", ppath)):
            with netCDF4.Dataset(path) as nc:  # whole cube: files are chunked across days
                cube = read_rows(nc, "sm", slice(None))
                for k, d in enumerate(file_days(nc)):
                    v = cube[k].ravel()
                    v = v[np.isfinite(v)]
                    if v.size > SAMPLE_CELLS:
                        v = rng.choice(v, SAMPLE_CELLS, replace=False)
                    values[label].append(v)
                    months[label].append(np.full(v.size, d.month))
    figures.histograms_and_monthly_boxes(
        {k: np.concatenate(v) for k, v in values.items()},
        {k: np.concatenate(v) for k, v in months.items()},
    ).savefig(snakemake.output.distributions)

    table = pd.read_csv(snakemake.input.table)
    t = table[table.network == ALL_NETWORKS][
        ["subset", "product", "n", "n_stations", "r", "r_ci_low", "r_ci_high",
         *[c for c in ("r_boot_low", "r_boot_high") if c in table.columns],
         "rmse", "bias", "ubrmse"]
    ]  # fmt: skip
    figures.table_figure(
        t, "Station scores, evaluation days, all networks (Table 4)", "{:.4f}"
    ).savefig(snakemake.output.table4)
    het = pd.read_csv(snakemake.input.heterogeneity)
    het = het.pivot_table(index=["product", "grid"], columns=["statistic", "range"], values="mean")
    het.columns = [f"{a} {b}" for a, b in het.columns]
    figures.table_figure(
        het.reset_index(), "Heterogeneity: mean over days of CV and Moran's I", "{:.3f}"
    ).savefig(snakemake.output.heterogeneity)
    if snakemake.input.get("truth"):
        truth = pd.read_csv(snakemake.input.truth)[
            ["product", "n", "r", "rmse", "bias", "ubrmse", "within_cell", "coverage",
             "rmse_ratio", "filled_rmse", "edge_ratio"]
        ]  # fmt: skip
        figures.table_figure(
            truth, "Scores against the synthetic truth (evaluation days)", "{:.4f}"
        ).savefig(snakemake.output.truth)

    post = pd.read_csv(snakemake.input.posteriors)
    figures.weight_intervals(post, members).savefig(snakemake.output.weights)
    vario = pd.read_csv(snakemake.input.variogram)
    emp, model = vario[vario.kind == "empirical"], vario[vario.kind == "model"]
    figures.variogram_plot(
        emp.lag_km.to_numpy(),
        emp.gamma.to_numpy(),
        model.lag_km.to_numpy() if len(model) else None,
        model.gamma.to_numpy() if len(model) else None,
        title="Pooled normalised variogram of the station parameters and its fit",
        pairs=emp.pairs.to_numpy(),
    ).savefig(snakemake.output.variogram)
    log.info("figures written; product columns %s", list(station_products(members)))


if __name__ == "__main__":
    main(snakemake)
