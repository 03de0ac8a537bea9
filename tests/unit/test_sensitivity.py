"""Sensitivity experiments: naming, the config each runs with, sample removal, scores."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from smdownscale.config import prepare_config
from smdownscale.members import fit_member
from smdownscale.sensitivity import (
    MAIN,
    Experiment,
    experiment_config,
    experiments,
    removed_samples,
    station_scores,
    summarise,
)


@pytest.fixture
def cfg():  # four regions on the demo's 96 coarse cells, so that one_region changes them
    return prepare_config({"run": "t", "source": "demo", "regions": {"k": 4, "min_cells": 20}})


def test_the_configured_experiments_in_table_order(cfg):
    exps = experiments(cfg)
    names = cfg["predictors"]["use"]
    assert list(exps)[: len(names)] == [f"without_{p}" for p in names]
    assert "samples10_r0" in exps and "samples50_r2" in exps and "samples50_r3" not in exps
    assert list(exps)[-2:] == ["one_region", "no_window"]
    assert exps["samples30_r1"] == Experiment("samples30_r1", "samples", fraction=0.3, repeat=1)
    assert exps["samples30_r1"].group == exps["samples30_r0"].group == "samples30"
    cfg["sensitivity"].update(leave_out=[], sample_removal_percent=[], ablations=["no_window"])
    assert list(experiments(cfg)) == ["no_window"]
    cfg["sensitivity"]["ablations"] = ["one_region", "no_window"]
    cfg["regions"]["min_cells"] = 100  # one region already: nothing for one_region to change
    assert list(experiments(cfg)) == ["no_window"]
    cfg["sensitivity"]["leave_out"] = ["slope"]
    cfg["predictors"]["use"] = ["lst", "ndvi"]
    with pytest.raises(ValueError, match="sensitivity.leave_out.*'slope'"):
        experiments(cfg)


def test_each_experiment_changes_only_its_own_setting(cfg):
    before = repr(cfg)
    without = experiment_config(cfg, experiments(cfg)["without_lst"])
    assert "lst" not in without["predictors"]["use"]
    assert "lst" not in without["members"]["optional_predictors"]
    assert without["predictors"]["use"] == [p for p in cfg["predictors"]["use"] if p != "lst"]
    assert experiment_config(cfg, experiments(cfg)["one_region"])["regions"]["k"] == 1
    flat = experiment_config(cfg, experiments(cfg)["no_window"])["members"]
    assert flat["window_max_days"] == 0 and flat["window_max_cells"] == 0
    assert experiment_config(cfg, experiments(cfg)["samples20_r0"]) == cfg
    assert experiment_config(cfg, None) == cfg
    assert repr(cfg) == before  # the main config is never changed


def test_sample_removal_takes_the_stated_share_of_every_day_seeded():
    days = [dt.date(2010, 4, 7) + dt.timedelta(days=i) for i in range(20)]
    e0 = Experiment("samples30_r0", "samples", fraction=0.3, repeat=0)
    e1 = Experiment("samples30_r1", "samples", fraction=0.3, repeat=1)
    r = removed_samples(days, (8, 10), e0, 42)
    assert r.shape == (20, 8, 10) and (r.sum(axis=(1, 2)) == 24).all()
    assert np.array_equal(r, removed_samples(days, (8, 10), e0, 42))
    # a day removes the same cells whichever files (periods) load it
    assert np.array_equal(r[5:], removed_samples(days[5:], (8, 10), e0, 42))
    assert not np.array_equal(r, removed_samples(days, (8, 10), e1, 42))
    assert not np.array_equal(r[0], r[1])
    assert not removed_samples(days, (8, 10), None, 42).any()
    assert not removed_samples(days, (8, 10), Experiment("no_window", "no_window"), 42).any()


def _held_out_rmse(member, X, y, cols):
    fm = fit_member(member, X[:1500][:, cols], y[:1500], {}, seed=0)
    return float(np.sqrt(np.mean((fm.predict(X[1500:][:, cols]) - y[1500:]) ** 2)))


@pytest.mark.parametrize("member", ["rf", "mlr"])
def test_leaving_out_a_predictor_without_signal_changes_nothing(member, cfg):
    """Known answer: a pure-noise predictor's removal costs nothing (the forest even gains,
    its splits no longer wasted on noise); removing the one that carries the signal does."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 3))
    y = 0.25 + 0.06 * X[:, 0] + 0.02 * X[:, 1] + rng.normal(0, 0.01, 2000)
    cfg["predictors"]["use"] = ["lst", "ndvi", "albedo"]  # albedo: the noise column
    cfg["members"]["optional_predictors"] = []

    def cols(exp):
        use = experiment_config(cfg, exp)["predictors"]["use"]
        return [cfg["predictors"]["use"].index(p) for p in use]

    exps = experiments(cfg)
    full = _held_out_rmse(member, X, y, cols(None))
    no_noise = _held_out_rmse(member, X, y, cols(exps["without_albedo"]))
    no_signal = _held_out_rmse(member, X, y, cols(exps["without_lst"]))
    assert no_noise <= 1.03 * full
    assert no_signal > 2 * full


def test_station_scores_compare_members_on_common_days():
    pairs = pd.DataFrame(
        {"y": [0.2, 0.3, 0.25, 0.1], "a": [0.21, 0.29, np.nan, 0.12], "b": [0.2, 0.3, 0.2, 0.1]}
    )
    s = station_scores(pairs, ["a", "b"])
    assert s["a"]["stn_n"] == s["b"]["stn_n"] == 3
    assert s["b"]["stn_rmse"] == pytest.approx(0.0)
    assert s["a"]["stn_rmse"] == pytest.approx(np.sqrt((0.01**2 * 2 + 0.02**2) / 3))


def test_summary_averages_repeats_and_keeps_their_range():
    rows = []
    for exp, group, rmse in [(MAIN, MAIN, 0.05), ("samples50_r0", "samples50", 0.06),
                             ("samples50_r1", "samples50", 0.08)]:  # fmt: skip
        desc = "main run" if exp == MAIN else f"50 % removed (repeat {exp[-1]})"
        rows.append({"experiment": exp, "group": group, "description": desc, "member": "rf",
                     "truth_x_coarse": rmse * 10, "stn_rmse": rmse})  # fmt: skip
    s = summarise(pd.DataFrame(rows)).set_index("group")
    assert list(s.index) == [MAIN, "samples50"]
    assert s.loc["samples50", "repeats"] == 2
    assert s.loc["samples50", "stn_rmse"] == pytest.approx(0.07)
    assert (s.loc["samples50", "stn_rmse_min"], s.loc["samples50", "stn_rmse_max"]) == (0.06, 0.08)
    assert s.loc["samples50", "description"] == "50 % removed"
