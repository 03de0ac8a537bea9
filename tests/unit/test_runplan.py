"""The run-time estimate and the new-region template (issue 14, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smdownscale import runplan
from smdownscale.configfile import check_files

REPO = Path(__file__).resolve().parents[2]


def test_the_template_is_a_valid_real_config():
    cfg = check_files([REPO / "config" / "templates" / "region.yaml"])
    assert cfg["source"] == "real" and cfg["run"] == "my_region"


def test_workload_of_the_demo():
    w = runplan.workload(check_files([REPO / "config" / "config.yaml"]))
    # 300 x 200 fine cells, 12 x 8 coarse cells, 128 days in 8 periods, 30 stations
    assert w.fine_cell_days == 300 * 200 * 128 and w.coarse_cell_days == 96 * 128
    assert (w.periods, w.stations, w.stations_known, w.folds) == (8, 30, True, 6)


def test_the_estimate_scales_with_the_work():
    costs = runplan.load_costs()
    w = runplan.Workload(10**6, 1000, 4, 20, False, 6)
    big = runplan.Workload(4 * 10**6, 4000, 4, 20, False, 6)
    a, b = runplan.estimate(w, costs), runplan.estimate(big, costs)
    assert b["predict_period"] == pytest.approx(4 * a["predict_period"])
    assert b["fit_period"] == pytest.approx(4 * a["fit_period"])
    assert (
        b["bma_posteriors"]
        == a["bma_posteriors"]
        == 20 * 6 * costs["per_station_fold"]["bma_posteriors"]
    )
    text = runplan.report(w, a, cores=2)
    assert "(assumed: 30; scales the BMA stage)" in text and "on 2 cores" in text


def test_measure_reads_a_runs_benchmarks(tmp_path):
    bench = tmp_path / "benchmarks" / "predict_period"
    bench.mkdir(parents=True)
    header = "s\th:m:s\tmax_rss\tcpu_time\n"
    (bench / "2010-097.tsv").write_text(header + "10.0\t0:00:10\t100\t5\n")
    (bench / "2010-113.tsv").write_text(header + "20.0\t0:00:20\t100\t5\n")
    (tmp_path / "benchmarks" / "bma_weights.tsv").write_text(header + "7.0\t0:00:07\t1\t1\n")
    t = runplan.measure(tmp_path)
    assert t.loc["predict_period", "mean"] == 15.0 and t.loc["predict_period", "count"] == 2
    assert t.loc["bma_weights", "sum"] == 7.0
    with pytest.raises(FileNotFoundError, match="no benchmark files"):
        runplan.measure(tmp_path / "none")
