"""What each job asks a cluster scheduler for, from the size of the run (issue 15).

On SLURM every job states its memory (``mem_mb``) and wall time (``runtime``, minutes)
before it starts and is killed when it exceeds them. One constant per rule is either
wasteful on the demo or too small for the Three-North region (150 times the demo's fine
cells, 250 periods), so each rule's request here grows with what its job handles, read
from the resolved config: the fine cells of the region (one day's fields, or a period's
cube where a job holds one), the blocks the scripts work through (``resources.chunk_rows``,
``members.chunk_cells``, ``bma.chunk_cells``: memory stays flat in the region there), the
members' coarse samples (coarse cells x the four-period window), the tuning work (grid
points x folds x samples) and the MCMC work (walkers x steps). Two requests also grow with
an input file, evaluated when the job is about to start: prediction with the fitted models
it unpickles, and the BMA posteriors with the station pairs (a real run's stations are not
known when the workflow is parsed).

The coefficients come from the demo's benchmarks (``results/demo/benchmarks``: a period's
harmonisation 10 s and 280 MB, fitting 25 s and 420 MB, prediction 18 s and 550 MB, a
fold's posteriors 115-200 s, tuning 66 s) and ``tests/benchmarks`` at the Three-North size
(a period's harmonisation 80 s and < 1 GiB, file reading aside). Requests add a margin (x2
time, x1.5 memory) and have floors (:data:`MIN_MEM_MB`, :data:`MIN_MINUTES`).
``resources.mem_scale`` and ``resources.runtime_scale`` multiply every request (a slower
cluster, a tighter partition), and a retried job (``--retries``) asks ``attempt`` times as
much. Threads (``cpus_per_task`` on SLURM) are the rules' own ``threads``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .config import bma_eval_dates, run_dates
from .netcdf import CHUNK_CELLS, chunk_nested
from .tiling import cube_blocks

MB = 2**20
#: Floors: an interpreter with the science stack loaded; SLURM's usual time granularity.
MIN_MEM_MB = 1000
MIN_MINUTES = 10
#: Memory (MB) of a rule script with Python, numpy, xarray, netCDF4 and scikit-learn loaded.
BASE_MB = 600
#: A MODIS 1 km tile as the harmonisation tasks hold it (float32, 1200 x 1200), and about
#: the fine columns (1 km) one spans; the halo of a block (harmonise_days.halo_cells).
TILE_MB = 1200 * 1200 * 4 / 2**20
TILE_COLS = 1000
HALO_CELLS = 11
#: Margins on the estimates: wall time x2 (a shared node, slower disks), memory x1.5.
TIME_MARGIN = 2.0
MEM_MARGIN = 1.5


@dataclass(frozen=True)
class RunSize:
    """The quantities of a run that its jobs' memory and time grow with."""

    fine_cells: int
    fine_rows: int
    fine_cols: int
    coarse_cells: int
    period_days: int  # the longest period
    run_days: int
    eval_days: int  # the evaluation window (the synthetic truth is held for it)
    periods: int
    members: int
    predictors: int
    chunk_rows: int
    chunk_cols: int  # harmonisation's blocks (resources.chunk_cols)
    member_chunk_cells: int  # cell-days per block of prediction and correction
    product_chunk_cells: int  # cell-days per block of the product
    tuning_work: int  # grid points x folds x samples
    mcmc_work: int  # walkers x steps
    blocks_in_flight: int = 2  # dask tasks held at once (resources.dask, smdownscale/blockrun.py)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], fine, coarse, periods: Iterable) -> RunSize:
        """From the resolved config, its (fine, coarse) grids and its periods."""
        periods = list(periods)
        members = list(cfg["members"]["use"])
        tuning = cfg["members"]["tuning"]
        points = sum(_grid_points(tuning["grids"].get(m) or {}) for m in members)
        (eval_start, eval_end), (run_start, run_end) = bma_eval_dates(cfg), run_dates(cfg)
        eval_days = (min(eval_end, run_end) - max(eval_start, run_start)).days + 1
        return cls(
            fine_cells=fine.size,
            fine_rows=fine.nlat,
            fine_cols=fine.nlon,
            coarse_cells=coarse.size,
            period_days=max(p.ndays for p in periods),
            run_days=sum(p.ndays for p in periods),
            eval_days=max(0, eval_days),
            periods=len(periods),
            members=len(members),
            predictors=len(cfg["predictors"]["use"]),
            chunk_rows=cfg["resources"]["chunk_rows"],
            chunk_cols=cfg["resources"]["chunk_cols"],
            member_chunk_cells=cfg["members"]["chunk_cells"],
            product_chunk_cells=cfg["bma"]["chunk_cells"],
            tuning_work=points * tuning["folds"] * tuning["max_samples"],
            mcmc_work=cfg["bma"]["walkers"] * cfg["bma"]["steps"],
            blocks_in_flight=cfg["resources"]["dask"]["blocks_in_flight"],
        )

    @property
    def day_mb(self) -> float:
        """One float32 field on the fine grid."""
        return self.fine_cells * 4 / MB

    @property
    def cube_mb(self) -> float:
        """One float32 variable of the longest period on the fine grid."""
        return self.day_mb * self.period_days

    @property
    def cell_days(self) -> int:
        """Fine cell-days of the longest period."""
        return self.fine_cells * self.period_days

    @property
    def samples(self) -> int:
        """Coarse cell-days a period's members are fitted on (the window: four periods)."""
        return self.coarse_cells * self.period_days * 4


def _grid_points(grid: Mapping[str, list]) -> int:
    return math.prod(len(v) for v in grid.values())


@dataclass(frozen=True)
class Request:
    """A job's request at its first attempt, ``mem_mb`` and ``runtime`` (minutes), and what
    it adds per MB of its named input ``per_input`` (if any)."""

    mem_mb: int
    runtime: int
    per_input: str | None = None
    mem_mb_per_input_mb: float = 0.0
    minutes_per_input_mb: float = 0.0

    def at(self, attempt: int = 1, input_mb: float = 0.0) -> dict[str, int]:
        """``{"mem_mb", "runtime"}`` of the given attempt with ``input_mb`` MB of input."""
        mem = self.mem_mb + self.mem_mb_per_input_mb * input_mb
        minutes = self.runtime + self.minutes_per_input_mb * input_mb
        return {"mem_mb": _round_mb(mem * attempt), "runtime": math.ceil(minutes * attempt)}


def _round_mb(mb: float) -> int:
    """Up to the next 100 MB, at least :data:`MIN_MEM_MB`."""
    return max(MIN_MEM_MB, 100 * math.ceil(round(mb, 6) / 100))


def estimates(size: RunSize) -> dict[str, tuple[float, float]]:
    """Rule name -> (peak memory in MB, wall seconds) of its job, before the margins."""
    s = size
    day, cube, cd = s.day_mb, s.cube_mb, s.cell_days
    # blocks the scripts work through (never more than the whole period)
    rows_mb = min(s.chunk_rows, s.fine_rows) * s.fine_cols * s.period_days * 4 / MB
    # harmonisation's blocks: resources.chunk_rows x resources.chunk_cols cells (nested
    # with the output chunks: netcdf.chunk_nested) and a halo (one IMERG cell, 1 km) on
    # every side, a day (band_mb) or every day (block_mb); blocks shorter than a chunk
    # leave a row of chunks of a block's width waiting in the writer (writer_mb, five
    # variables)
    block_rows = min(chunk_nested(s.chunk_rows), s.fine_rows)
    block_cols = min(chunk_nested(s.chunk_cols), s.fine_cols)
    band_mb = (
        min(block_rows + 2 * HALO_CELLS, s.fine_rows)
        * min(block_cols + 2 * HALO_CELLS, s.fine_cols)
        * 4
        / MB
    )
    block_mb = block_rows * block_cols * s.period_days * 4 / MB
    writer_mb = 0.0
    if block_rows % CHUNK_CELLS and block_rows < s.fine_rows:
        waiting = min(CHUNK_CELLS, s.fine_rows) * min(max(block_cols, CHUNK_CELLS), s.fine_cols)
        writer_mb = 5 * waiting * s.period_days * 4 / MB
    tiles_across = block_cols / TILE_COLS + 1
    member_block_mb = min(s.member_chunk_cells, cd) * 8 / MB  # float64 per cell-day
    # prediction's blocks: resources.chunk_rows rows (nested with the chunks) by as many
    # columns as members.chunk_cells allows; the writer holds a row of chunks one block
    # wide (every member, float32, and the subset index)
    p_rows, p_cols = cube_blocks(s.chunk_rows, s.member_chunk_cells, s.fine_rows, s.period_days)
    p_cols = min(p_cols, s.fine_cols)
    predict_block_mb = p_rows * p_cols * s.period_days * 8 / MB
    predict_wait_mb = (
        min(max(p_rows, CHUNK_CELLS), s.fine_rows)
        * min(max(p_cols, CHUNK_CELLS), s.fine_cols)
        * s.period_days
        * (4 * s.members + 1)
        / MB
    )
    # the product also keeps to resources.chunk_rows (cube_block_rows)
    row_block_cd = s.chunk_rows * s.fine_cols * s.period_days
    product_block_mb = min(s.product_chunk_cells, row_block_cd, cd) * 8 / MB
    # values a job reads when it goes through every period's members
    all_members = cd * s.periods * s.members
    return {
        # per task in flight a block of a day (its fields, the MODIS tiles across the
        # block that its rows touch, two rows of tiles where it crosses their edge) and
        # the last few blocks' tile indexes, then the gap filling of four variables a
        # block of every day at a time; 3 s per day of reading
        "harmonise_predictors": (
            BASE_MB
            + s.blocks_in_flight * (16 * band_mb + 2 * tiles_across * TILE_MB)
            + 8 * band_mb
            + 8 * block_mb
            + writer_mb,
            60 + 3 * s.period_days + 1e-5 * cd,
        ),
        "harmonise_static": (BASE_MB + 16 * day, 60 + 2e-6 * s.fine_cells),
        # the station archives (ISMN zips of a large region: hundreds of MB)
        "harmonise_stations": (BASE_MB + 1000, 900),
        # every predictor and the coarse product, float64, in blocks of rows
        "aggregate_period": (BASE_MB + 4 * (s.predictors + 2) * rows_mb, 60 + 5e-6 * cd),
        "regions": (
            BASE_MB + 6 * day,
            60 + 2e-6 * s.fine_cells + 1e-5 * s.coarse_cells * s.run_days,
        ),
        # the samples with their features, and the forests and boosters grown on them
        "tune_hyperparameters": (BASE_MB + 400e-6 * s.tuning_work, 60 + 4e-4 * s.tuning_work),
        "fit_period": (
            BASE_MB + 320 * s.samples * (s.predictors + 4) / MB,
            60 + 4e-3 * s.samples,
        ),
        # a block per task in flight: features and every member's output (the models: per
        # MB of their file), and the chunks waiting in the writer
        "predict_period": (
            BASE_MB
            + predict_block_mb * (s.predictors + s.members + 4) * s.blocks_in_flight
            + predict_wait_mb,
            60 + 2e-5 * cd,
        ),
        "residual_share": (BASE_MB, 60 + 1e-5 * s.coarse_cells * s.run_days),
        "correct_period": (
            BASE_MB + member_block_mb * (2 * s.members + 2) + 8 * day,
            60 + 5e-6 * cd,
        ),
        "member_ranges": (BASE_MB + 2 * cube, 60 + 5e-8 * all_members),
        # every period's members at the stations' cells only
        "bma_station_pairs": (BASE_MB, 60 + 2 * s.periods),
        # one emcee run per station (and per MB of station pairs, below)
        "bma_posteriors": (BASE_MB, 60),
        "bma_pooled": (BASE_MB, 120 + 5e-4 * s.mcmc_work),
        "bma_station_series": (BASE_MB, 120 + 1e-3 * s.mcmc_work),
        # a band of rows of one predictor's period (float32 read, float64 sums) at a time
        "subcell_fit": (BASE_MB + 4 * rows_mb, 60 + 5e-7 * cd * s.periods * (s.predictors + 1)),
        # kriging every parameter in blocks of 64 rows
        "bma_weights": (
            BASE_MB + 64 * s.fine_cols * 8 * 60 / MB + 4 * day,
            120 + 1e-5 * s.fine_cells,
        ),
        # a block of the members, weights and flags (no whole-region field), and the
        # sub-cell correction (a feature's detail and the sum, float32)
        "bma_product": (
            BASE_MB + product_block_mb * (3 * s.members + 7),
            60 + 1e-5 * cd,
        ),
        # one product's period cube at a time, its mask, the coarse field repeated
        "heterogeneity_period": (BASE_MB + 4 * cube, 60 + 5e-6 * cd),
        "validate_stations": (BASE_MB, 60),
        # the truth and masks of the evaluation days, one product's days at a time
        "validate_truth": (
            BASE_MB + 5 * day * s.eval_days,
            60 + 5e-6 * s.fine_cells * s.eval_days * (s.members + 2),
        ),
        # an experiment's members, the coarse product and their mean on the evaluation days
        "sensitivity_scores": (
            BASE_MB + (s.members + 3) * day * s.eval_days,
            60 + 5e-6 * s.fine_cells * s.eval_days * (s.members + 2),
        ),
        # one period's coarse training stack and models at a time; shuffled predictions of
        # the held-out tenth of the samples, every member, predictor and repeat
        "member_importance": (
            BASE_MB + 3 * s.coarse_cells * s.period_days * 4 * (s.predictors + 1) * 8 / MB,
            60 + 2e-4 * s.periods * s.samples * 0.1 * s.members * s.predictors,
        ),
        # one period's product and coarse cubes at a time, float64, and the per-cell sums
        "reference_scores": (BASE_MB + 6 * cube, 60 + 2e-6 * cd * s.periods),
        "drought_analysis": (BASE_MB + 6 * cube, 60 + 1e-6 * cd * s.periods),
        # blocks of rows of every listed product (float64) and their pair sums
        "tch_uncertainty": (
            BASE_MB + 4 * rows_mb * (s.members + 2),
            60 + 3e-7 * s.fine_cells * s.run_days * (s.members + 2),
        ),
        # maps of single days, strided grids; whole cubes for the distributions
        "validation_figures": (BASE_MB + 3 * cube, 120 + 2e-8 * all_members),
        # a whole demo world run by its own Snakemake on the node (make skill)
        "skill_world": (4000, 1800),
        # in-situ-trained ensembles: the predictors at the stations' cells, period by period,
        # with the period's coarse stack; the station-days are not known from the config,
        # so the fit gets an allowance (the demo: 30 stations, 3,300 station-days, 1-2 min)
        "insitu_samples": (
            BASE_MB + 3 * s.coarse_cells * s.period_days * 8 / MB,
            60 + 2 * s.periods,
        ),  # fmt: skip
        "insitu_fit": (BASE_MB + 0.5 * s.run_days, 60 + 0.5 * s.run_days),
        "insitu_predict_period": (
            BASE_MB + member_block_mb * (s.predictors + s.members + 6),
            60 + 2e-5 * cd,
        ),
    }


#: Per MB of a named input: (rule, input, MB of memory, seconds at the demo's MCMC work).
#: The models are unpickled whole (about three times their file); the demo's 0.1 MB of
#: station pairs took 200 s of emcee at 32 walkers x 1500 steps.
PER_INPUT_MB = {
    "predict_period": ("models", 3.0, 0.0),
    "insitu_predict_period": ("models", 3.0, 0.0),
    "bma_posteriors": ("pairs", 20.0, 2100.0),
}


def requests(size: RunSize, resources: Mapping[str, Any] | None = None) -> dict:
    """Rule name -> :class:`Request` for every rule :func:`estimates` knows (other rules,
    small tables, take :func:`default_request`). ``resources`` is the config's section:
    ``mem_scale`` and ``runtime_scale`` multiply every request, ``mem_mb_harmonise``
    (unless null) replaces the harmonisation and aggregation jobs' memory."""
    res = dict(resources or {})
    mem_scale = res.get("mem_scale", 1.0)
    runtime_scale = res.get("runtime_scale", 1.0)
    mcmc = size.mcmc_work / (32 * 1500)
    out = {}
    for rule, (mem, seconds) in estimates(size).items():
        extra = {}
        if rule in PER_INPUT_MB:
            name, mb, s = PER_INPUT_MB[rule]
            extra = dict(
                per_input=name,
                mem_mb_per_input_mb=mb * MEM_MARGIN * mem_scale,
                minutes_per_input_mb=s * mcmc * TIME_MARGIN * runtime_scale / 60,
            )
        out[rule] = _request(mem, seconds, mem_scale, runtime_scale, **extra)
    if res.get("mem_mb_harmonise") is not None:
        for rule in HARMONISE_RULES:
            out[rule] = replace(out[rule], mem_mb=res["mem_mb_harmonise"])
    return out


#: The rules whose memory ``resources.mem_mb_harmonise`` sets when it is given.
HARMONISE_RULES = ("harmonise_static", "harmonise_predictors", "aggregate_period")


def default_request(resources: Mapping[str, Any] | None = None) -> Request:
    """Rules whose jobs read and write small tables."""
    res = dict(resources or {})
    return _request(BASE_MB, 60, res.get("mem_scale", 1.0), res.get("runtime_scale", 1.0))


def _request(mem: float, seconds: float, mem_scale: float, runtime_scale: float, **extra):
    minutes = max(MIN_MINUTES, math.ceil(seconds * TIME_MARGIN * runtime_scale / 60))
    return Request(_round_mb(mem * MEM_MARGIN * mem_scale), minutes, **extra)
