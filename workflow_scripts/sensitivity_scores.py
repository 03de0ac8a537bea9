"""Rule sensitivity_scores: one experiment's members (or the main run's) scored against the
truth and at the stations, on the evaluation days (smdownscale.sensitivity).

Truth (demo, or ``paths.truth``): each member's and the member mean's RMSE on the cell-days
where the coarse product has a value, over the coarse product's on the same cell-days, and R
(``smdownscale.validation.truth_scores``). Stations inside the regions: the member values at
each station's fine cell against its daily in-situ value, on the station-days where every
member has one.
"""

import netCDF4
import numpy as np
import pandas as pd
import xarray as xr

from smdownscale.atomic import atomic_path
from smdownscale.bma_stations import daily_station_values, station_day_frame
from smdownscale.config import bma_eval_dates, run_grids
from smdownscale.grid import block_map, repeat_blocks
from smdownscale.netcdf import file_days, read_cells, read_rows, sites_in_regions
from smdownscale.rule_io import setup_logging
from smdownscale.sensitivity import MAIN, MEMBER_MEAN, SCORES, experiments, station_scores
from smdownscale.validation import truth_scores


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    name = snakemake.params.experiment
    exp = None if name == MAIN else experiments(cfg)[name]
    members = cfg["members"]["use"]
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    e0, e1 = bma_eval_dates(cfg)
    inp = snakemake.input

    obs = daily_station_values(pd.read_parquet(inp.stations))
    sites = sites_in_regions(obs.drop_duplicates(["network", "station"]), inp.regions)
    fields = {m: [] for m in ["coarse", *members]}
    pieces, days = [], []
    for mpath, cpath in zip(inp.members, inp.coarse, strict=True):
        with netCDF4.Dataset(mpath) as nc:
            mdays = file_days(nc)
            idx = [i for i, d in enumerate(mdays) if e0 <= d <= e1]
            if not idx:
                continue
            at = {m: read_cells(nc.variables[f"sm_{m}"], sites.fine_row, sites.fine_col)[idx]
                  for m in members}  # fmt: skip
            if "truth" in inp.keys():
                for m in members:
                    fields[m].append(read_rows(nc, f"sm_{m}", slice(None))[idx])
        if "truth" in inp.keys():
            with netCDF4.Dataset(cpath) as nc:
                cdays = file_days(nc)
                fields["coarse"].append(
                    repeat_blocks(read_rows(nc, "sm", slice(None))[[cdays.index(mdays[i])
                                                                     for i in idx]], blocks)
                )  # fmt: skip
        sel = [mdays[i] for i in idx]
        days += sel
        pieces.append(station_day_frame(sites, sel, at))
    if not days:
        raise ValueError(f"no evaluation day ({e0}..{e1}, bma.eval_start/eval_end) in the run")
    pairs = obs.merge(pd.concat(pieces, ignore_index=True), on=["network", "station", "time"])
    pairs[MEMBER_MEAN] = pairs[members].mean(axis=1, skipna=False)
    stn = station_scores(pairs, [*members, MEMBER_MEAN])

    truth = {}
    if "truth" in inp.keys():
        stack = {k: np.concatenate(v) for k, v in fields.items()}
        stack[MEMBER_MEAN] = np.mean([stack[m] for m in members], axis=0, dtype=np.float64)
        with xr.open_dataset(inp.truth) as world:
            t = (
                world["sm_true"]
                .sel(time=np.array(days, dtype="datetime64[ns]"), lat=fine.lat, lon=fine.lon,
                     method="nearest", tolerance=fine.res / 4)
                .values.astype(np.float32)
            )  # fmt: skip
        scored = truth_scores(stack, t, blocks, coarse="coarse").set_index("product")
        for m in [*members, MEMBER_MEAN]:
            row = scored.loc[m]
            truth[m] = {"truth_rmse": row["rmse_vs_coarse_days"],
                        "truth_x_coarse": row["rmse_ratio"], "truth_r": row["r"]}  # fmt: skip
    rows = []
    for m in [*members, MEMBER_MEAN]:
        rows.append({
            "experiment": name,
            "group": exp.group if exp else MAIN,
            "description": exp.describe() if exp else "main run",
            "member": m,
            **{c: np.nan for c in SCORES},
            **truth.get(m, {}),
            **stn[m],
        })  # fmt: skip
    table = pd.DataFrame(rows)
    for row in table.itertuples():
        log.info("%s %-12s truth x coarse %s R %s; stations n %d R %.3f RMSE %.4f",
                 name, row.member, f"{row.truth_x_coarse:.3f}", f"{row.truth_r:.3f}",
                 row.stn_n, row.stn_r, row.stn_rmse)  # fmt: skip
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
