"""`snakemake sensitivity` on the tiny world, after its main run: each experiment refits,
re-predicts and re-corrects the members, the main run's outputs are reused, and the table
and figure compare every experiment with the main run."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
import xarray as xr
from workflow_run import CONFIG, snakemake

pytestmark = pytest.mark.workflow

EXTRA = CONFIG.with_name("tiny_sensitivity.yaml")
EXPERIMENTS = ["without_lst", "samples50_r0", "samples50_r1", "one_region", "no_window"]


@pytest.fixture(scope="module")
def sensitivity(tiny_run, tmp_path_factory):
    """The experiments run in a copy of the tiny run's folder (write times kept, so its
    outputs stay up to date), which other tests compare with as it is."""
    work = tmp_path_factory.mktemp("sens") / "wf"
    shutil.copytree(tiny_run[0].parents[1], work, symlinks=True)
    run_dir = work / tiny_run[0].relative_to(tiny_run[0].parents[1])
    plan = snakemake(work, (CONFIG, EXTRA), "-n", "sensitivity")
    assert plan.returncode == 0, plan.stderr[-3000:]
    res = snakemake(work, (CONFIG, EXTRA), "--cores", "2", "sensitivity", timeout=900)
    if res.returncode != 0:
        logs = "\n".join(
            p.read_text()[-2000:] for p in (run_dir / "logs" / "sensitivity").rglob("*.log")
        )
        pytest.fail(f"snakemake sensitivity failed:\n{res.stderr[-4000:]}\n{logs}")
    return run_dir, plan.stdout + plan.stderr


def test_experiments_rerun_the_members_and_reuse_the_main_run(sensitivity):
    _, plan = sensitivity
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.M))
    n = len(EXPERIMENTS)
    assert jobs["fit_period_experiment"] == str(2 * n)
    assert jobs["predict_period_experiment"] == str(2 * n)
    assert jobs["correct_period_experiment"] == str(2 * n)
    assert jobs["residual_share_experiment"] == str(n)
    assert jobs["regions_experiment"] == "1"  # one_region only
    assert jobs["sensitivity_scores"] == str(n + 1)  # and the main run's
    for main_rule in ("harmonise_predictors", "aggregate_period", "regions", "fit_period",
                      "predict_period", "correct_period", "tune_hyperparameters"):  # fmt: skip
        assert main_rule not in jobs, f"{main_rule} reran"


def test_each_experiment_changed_what_it_says(sensitivity):
    run_dir, _ = sensitivity
    sens = run_dir / "sensitivity"
    meta = json.loads((sens / "without_lst" / "models" / "models_2010-097.json").read_text())
    assert "lst" not in meta["predictors"]
    regions = xr.open_dataset(sens / "one_region" / "regions" / "regions_coarse.nc")["region"]
    assert int(regions.max()) == 0
    assert int(xr.open_dataset(run_dir / "regions" / "regions_coarse.nc")["region"].max()) == 1
    log = run_dir / "logs" / "sensitivity" / "samples50_r0" / "fit_period" / "2010-097.log"
    found = re.search(r"(\d+) of (\d+) coarse cell-days with a value removed", log.read_text())
    assert found and int(found[1]) == pytest.approx(0.5 * int(found[2]), rel=0.15)
    a, b = (xr.open_dataset(sens / f"samples50_r{k}" / "members" / "members_2010-113.nc")
            for k in (0, 1))  # fmt: skip
    assert float(abs(a["sm_rf"] - b["sm_rf"]).mean()) > 0  # repeats draw other samples


def test_table_and_figure_compare_every_experiment_with_the_main_run(sensitivity):
    run_dir, _ = sensitivity
    table = pd.read_csv(run_dir / "sensitivity" / "sensitivity.csv")
    groups = ["main", "without_lst", "samples50", "one_region", "no_window"]
    assert list(dict.fromkeys(table["group"])) == groups
    assert set(table["member"]) == {"rf", "mlr", "svr", "xgb", "member mean"}
    assert len(table) == len(groups) * 5
    assert (table.loc[table.group == "samples50", "repeats"] == 2).all()
    assert table["truth_x_coarse"].between(0.3, 2.0).all()
    assert (table["stn_n"] > 0).all() and table["stn_rmse"].between(0, 0.3).all()
    # the main run's row is the main run's own validation
    truth = pd.read_csv(run_dir / "validation" / "truth_scores.csv").set_index("product")
    main = table[table.group == "main"].set_index("member")
    assert main.loc["rf", "truth_x_coarse"] == pytest.approx(truth.loc["rf", "rmse_ratio"],
                                                             rel=1e-4)  # fmt: skip
    assert (run_dir / "sensitivity" / "sensitivity.png").stat().st_size > 10_000
