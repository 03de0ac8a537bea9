"""Rule validate_truth: every product against the synthetic truth at every fine cell-day.

Only where the config provides a truth (the demo world, or ``paths.truth``), on the
evaluation days. Products: the coarse product repeated over its block (the baseline every
downscaler must beat), each member, the member mean, the product's ``sm`` and, with
insitu.enabled, the in-situ-trained ensemble's ``sm``. Besides the
scores on common cell-days, coverage, the scores on the coarse product's days, on the
cell-days the product fills (coarse gaps, predictors gap-filled or missing) and the
block-edge ratio (``smdownscale.validation.truth_scores``). The truth and a few masks are
held in memory; each product's evaluation days are read from its files when scored, one
product at a time.
"""

from collections.abc import Callable, Iterator, Mapping

import netCDF4
import numpy as np
import xarray as xr

from smdownscale.atomic import atomic_path
from smdownscale.config import bma_eval_dates, run_grids
from smdownscale.features import DAILY
from smdownscale.grid import block_map
from smdownscale.harmonise import GAP_BITS
from smdownscale.netcdf import file_days, read_rows
from smdownscale.rule_io import setup_logging
from smdownscale.validation import (
    TRUTH_COARSE,
    TRUTH_INSITU,
    TRUTH_MEAN,
    TRUTH_PRODUCT,
    filled_cell_days,
    truth_scores,
)


class LazyFields(Mapping):
    """label -> (time, lat, lon) evaluation-day stack, read from the files on every access."""

    def __init__(self, loaders: dict[str, Callable[[], np.ndarray]]):
        self._loaders = loaders

    def __getitem__(self, label: str) -> np.ndarray:
        return self._loaders[label]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


def eval_days_of(path, first, last):
    with netCDF4.Dataset(path) as nc:
        days = file_days(nc)
    keep = [i for i, d in enumerate(days) if first <= d <= last]
    return keep, [days[i] for i in keep]


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    members = cfg["members"]["use"]
    daily = [p for p in cfg["predictors"]["use"] if p in DAILY]
    coarse_grid, fine = run_grids(cfg)
    blocks = block_map(fine, coarse_grid)
    e0, e1 = bma_eval_dates(cfg)
    inp = snakemake.input
    insitu = list(inp.insitu) if "insitu" in inp.keys() else [None] * len(inp.products)
    periods, days = [], []
    for cpath, mpath, ppath, fpath, ipath in zip(
        inp.coarse, inp.members, inp.products, inp.predictors, insitu, strict=True
    ):
        idx, d = eval_days_of(ppath, e0, e1)
        if idx:
            periods.append((cpath, mpath, ppath, fpath, idx, ipath))
            days += d
    if not days:
        raise ValueError(f"no evaluation day ({e0}..{e1}, bma.eval_start/eval_end) in the run")

    def read(which: int, name: str) -> np.ndarray:
        parts = []
        for files in periods:
            with netCDF4.Dataset(files[which]) as nc:
                parts.append(read_rows(nc, name, slice(None))[files[4]])
        return np.concatenate(parts)

    def coarse() -> np.ndarray:
        return blocks.repeat(read(0, "sm"))

    def member_mean() -> np.ndarray:
        total = read(1, f"sm_{members[0]}").astype(np.float64)
        for m in members[1:]:
            total += read(1, f"sm_{m}")
        return (total / len(members)).astype(np.float32)

    loaders: dict[str, Callable[[], np.ndarray]] = {TRUTH_COARSE: coarse}
    loaders.update({m: (lambda m=m: read(1, f"sm_{m}")) for m in members})
    loaders[TRUTH_MEAN] = member_mean
    loaders[TRUTH_PRODUCT] = lambda: read(2, "sm")
    if "insitu" in inp.keys():
        loaders[TRUTH_INSITU] = lambda: read(5, "sm")

    gaps = []
    for cpath, _, _, fpath, idx, _ in periods:
        with netCDF4.Dataset(cpath) as nc:
            has = blocks.repeat(np.isfinite(read_rows(nc, "sm", slice(None))[idx]))
        with netCDF4.Dataset(fpath) as nc:
            flag = np.ma.filled(nc.variables["gap_flag"][idx], 0)
            values = {p: read_rows(nc, p, slice(None))[idx] for p in daily}
        gaps.append(filled_cell_days(has.astype(bool), flag, values, GAP_BITS))
    filled = np.concatenate(gaps)
    log.info(
        "%d evaluation days; %.1f %% of fine cell-days have no coarse value or a predictor "
        "gap-filled or missing (%s)",
        len(days),
        100 * float(filled.mean()),
        ", ".join(daily),
    )
    with xr.open_dataset(inp.truth) as world:
        truth = (
            world["sm_true"]
            .sel(
                time=np.array(days, dtype="datetime64[ns]"),
                lat=fine.lat,
                lon=fine.lon,
                method="nearest",
                tolerance=fine.res / 4,
            )  # fmt: skip
            .values.astype(np.float32)
        )
    table = truth_scores(LazyFields(loaders), truth, blocks, coarse=TRUTH_COARSE, filled=filled)
    for row in table.itertuples():
        log.info("%-42s R %.3f RMSE %.4f bias %+.4f within-cell r %s; coverage %.3f, RMSE "
                 "ratio to coarse %.3f, filled RMSE %.4f (n %d), edge ratio %.2f",
                 row.product, row.r, row.rmse, row.bias, row.within_cell, row.coverage,
                 row.rmse_ratio, row.filled_rmse, row.n_filled, row.edge_ratio)  # fmt: skip
    table.insert(1, "days", f"{days[0]}..{days[-1]} ({len(days)} days)")
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


if __name__ == "__main__":
    main(snakemake)
