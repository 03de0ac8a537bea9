"""Cluster jobs' memory and wall time from the run's size (smdownscale.jobresources)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from smdownscale.config import prepare_config, run_grids, run_periods
from smdownscale.jobresources import (
    HARMONISE_RULES,
    MIN_MEM_MB,
    MIN_MINUTES,
    RunSize,
    default_request,
    estimates,
    requests,
)

REPO = Path(__file__).resolve().parents[2]


def size_of(name: str, **overrides) -> RunSize:
    path = REPO / name
    cfg = yaml.safe_load(path.read_text())
    for key, value in overrides.items():
        section, _, sub = key.partition("__")
        cfg.setdefault(section, {})[sub] = value
    cfg = prepare_config(cfg)
    coarse, fine = run_grids(cfg)
    return RunSize.from_config(cfg, fine, coarse, run_periods(cfg))


@pytest.fixture(scope="module")
def sizes() -> dict[str, RunSize]:
    return {
        "tiny": size_of("tests/workflow/tiny.yaml"),
        "demo": size_of("config/config.yaml"),
        "three_north": size_of("config/three_north.yaml"),
    }


def test_sizes_read_from_the_config(sizes):
    tiny, tn = sizes["tiny"], sizes["three_north"]
    assert (tiny.fine_rows, tiny.fine_cols, tiny.coarse_cells) == (50, 100, 8)
    assert (tiny.period_days, tiny.run_days, tiny.periods) == (16, 24, 2)
    assert tiny.eval_days == 8  # 2010-04-23 .. 04-30, after train_end
    assert tn.fine_cells == 1675 * 5475 and tn.periods == 253
    assert tn.eval_days == 730  # 2009-2010
    # tiny tuning: (rf 2 + mlr 1 + svr 2 + xgb 1) points x 4 folds x 2000 samples
    assert tiny.tuning_work == 6 * 4 * 2000


def test_small_runs_ask_for_the_floors(sizes):
    for rule, r in requests(sizes["tiny"]).items():
        if rule not in ("skill_world", "harmonise_stations"):
            assert (r.mem_mb, r.runtime) == (MIN_MEM_MB, MIN_MINUTES), rule


def test_requests_grow_with_the_region_where_the_work_does(sizes):
    demo, tn = requests(sizes["demo"]), requests(sizes["three_north"])
    for rule in ("harmonise_predictors", "aggregate_period", "fit_period", "bma_product"):
        assert tn[rule].mem_mb > demo[rule].mem_mb, rule
    for rule in ("harmonise_predictors", "fit_period", "predict_period", "bma_product"):
        assert tn[rule].runtime > 2 * demo[rule].runtime, rule
    # a Three-North period: hours, not days; a few GB, not tens
    for rule in ("harmonise_predictors", "fit_period", "predict_period", "bma_product"):
        assert tn[rule].runtime <= 240 and tn[rule].mem_mb <= 8000, rule


def test_blocked_memory_is_flat_in_the_number_of_days_and_periods(sizes):
    """Prediction works through blocks of cell-days: a longer run (more periods) asks the
    same; only the block (members.chunk_cells) moves it."""
    short = requests(size_of("config/config.yaml"))["predict_period"]
    longer = size_of("config/config.yaml", dates__end="2010-12-31")
    assert longer.periods > sizes["demo"].periods
    assert requests(longer)["predict_period"].mem_mb == short.mem_mb
    bigger = size_of("config/three_north.yaml", members__chunk_cells=8_000_000)
    assert (
        requests(bigger)["predict_period"].mem_mb
        > requests(sizes["three_north"])["predict_period"].mem_mb
    )


def test_prediction_product_and_harmonisation_keep_to_the_blocks_of_rows(sizes):
    """predict_period and bma_product hold at most resources.chunk_rows rows of a period
    (blocks of rows and columns; cube_block_rows), harmonise_predictors blocks of that many
    rows of a day (tiling.grid_blocks): a taller region asks the same, fewer rows ask less
    (prediction: its blocks are bounded by members.chunk_cells; below)."""
    tn = sizes["three_north"]
    taller = RunSize(
        **{**tn.__dict__, "fine_rows": 4 * tn.fine_rows, "fine_cells": 4 * tn.fine_cells}
    )
    narrow = size_of("config/three_north.yaml", resources__chunk_rows=4)
    base, tall, few = requests(tn), requests(taller), requests(narrow)
    for rule in ("predict_period", "bma_product", "harmonise_predictors"):
        assert tall[rule].mem_mb == base[rule].mem_mb, rule
    for rule in ("bma_product", "harmonise_predictors"):
        assert few[rule].mem_mb < base[rule].mem_mb, rule


def test_harmonisation_keeps_to_its_blocks_of_columns(sizes):
    """harmonise_predictors works in blocks of resources.chunk_cols columns as well
    (tiling.grid_blocks): a wider region asks the same, narrower blocks less."""
    tn = sizes["three_north"]
    assert tn.fine_cols > tn.chunk_cols  # Three-North is wider than one block
    wider = RunSize(
        **{**tn.__dict__, "fine_cols": 4 * tn.fine_cols, "fine_cells": 4 * tn.fine_cells}
    )
    narrow = size_of("config/three_north.yaml", resources__chunk_cols=512)
    base = requests(tn)["harmonise_predictors"].mem_mb
    assert requests(wider)["harmonise_predictors"].mem_mb == base
    assert requests(narrow)["harmonise_predictors"].mem_mb < base
    # prediction works in blocks of rows and columns too: flat in the width, less with
    # smaller blocks
    predict = requests(tn)["predict_period"].mem_mb
    assert requests(wider)["predict_period"].mem_mb == predict
    smaller = size_of("config/three_north.yaml", members__chunk_cells=200_000)
    assert requests(smaller)["predict_period"].mem_mb < predict


def test_scales_attempts_and_inputs(sizes):
    tn = sizes["three_north"]
    base = requests(tn)
    scaled = requests(tn, {"mem_scale": 2.0, "runtime_scale": 3.0})
    r, s = base["fit_period"], scaled["fit_period"]
    assert abs(s.mem_mb - 2 * r.mem_mb) <= 100  # rounded up to 100 MB, minutes
    assert abs(s.runtime - 3 * r.runtime) <= 3
    # a retried job asks twice as much
    assert r.at(2) == {"mem_mb": 2 * r.mem_mb, "runtime": 2 * r.runtime}
    # prediction: three times the fitted models' file in memory, with the margin
    p = base["predict_period"]
    assert p.per_input == "models"
    assert p.at(1, 1000)["mem_mb"] == p.mem_mb + 4500
    # posteriors: time per MB of station pairs, doubled by twice the MCMC work
    q = base["bma_posteriors"]
    assert q.per_input == "pairs" and q.at(1, 1.0)["runtime"] > q.runtime
    demo = requests(sizes["demo"])["bma_posteriors"]
    assert q.minutes_per_input_mb == pytest.approx(2 * demo.minutes_per_input_mb)


def test_harmonisation_memory_can_be_set(sizes):
    out = requests(sizes["three_north"], {"mem_mb_harmonise": 12000})
    for rule in HARMONISE_RULES:
        assert out[rule].mem_mb == 12000
    assert (
        requests(sizes["three_north"], {"mem_mb_harmonise": None})["harmonise_predictors"].mem_mb
        != 12000
    )
    assert default_request({"mem_scale": 3.0}).mem_mb == 2700  # 600 MB x 1.5 x 3


def test_every_cluster_rule_has_an_estimate():
    """Rules that ask job_resources("<rule>") name themselves and are estimated."""
    named = {}
    for path in (REPO / "rules").glob("*.smk"):
        text = path.read_text()
        for m in re.finditer(r"(?ms)^ *rule (\w+):\n(.*?)(?=^ *rule \w+:|\Z)", text):
            for asked in re.findall(r'job_resources\("(\w+)"\)', m[2]):
                named[m[1]] = asked
    assert named, "no rule asks job_resources"
    assert all(rule == asked for rule, asked in named.items())
    missing = set(named) - set(estimates(size_of("tests/workflow/tiny.yaml")))
    assert not missing


def test_the_slurm_profile():
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1  # a job killed for memory or time asks more next time
    # the partition and account are the user's (command line or a copy of the profile)
    assert not any("slurm_" in r for r in profile["default-resources"])
    # Snakemake reads profiles/default after it, whose values win: shared keys agree
    default = yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())
    assert {k: default[k] for k in set(default) & set(profile)} == {
        k: profile[k] for k in set(default) & set(profile)
    }
