"""The closing lines of a successful run: where the product, report and table are (issue 14)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from smdownscale.run_summary import report_commands, summary


def test_report_commands_from_the_repository_and_from_elsewhere(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "Snakefile").write_text("")
    assert report_commands("results/demo", repo / "Snakefile", repo, []) == [
        "make report",
        "snakemake --report results/demo/report.html",
    ]
    assert report_commands("results/nc", repo / "Snakefile", repo, ["my region.yaml"]) == [
        "make report CONFIG='my region.yaml'",
        "snakemake --configfile 'my region.yaml' --report results/nc/report.html",
    ]
    work = tmp_path / "work"
    assert report_commands("results/tiny", repo / "Snakefile", work, ["/c/tiny.yaml"]) == [
        f"snakemake -s {repo / 'Snakefile'} --directory {work} --configfile /c/tiny.yaml "
        "--report results/tiny/report.html"
    ]


def test_summary_names_what_exists_and_how_to_build_the_report(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Path("results/tiny")
    for rel in ("product/sm_1km_2010-097.nc", "product/sm_1km_2010-113.nc",
                "validation/table4_stations.csv", "validation/summary.json"):  # fmt: skip
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_text("x")
    text = summary(run, ["2010-097", "2010-113"], ["make report CONFIG=t.yaml"])
    assert text.splitlines() == [
        "run 'tiny' done; where its results are:",
        "  product (daily 1 km soil moisture, CF NetCDF): results/tiny/product/ "
        "(2 of 2 period file(s): sm_1km_2010-097.nc .. sm_1km_2010-113.nc)",
        "  validation table (Table 4: products against stations): "
        "results/tiny/validation/table4_stations.csv",
        "  headline figures (JSON): results/tiny/validation/summary.json",
        "  report: not built yet; build it with `make report CONFIG=t.yaml`",
    ]
    report = run / "report.html"
    report.write_text("<html>")
    old = dt.datetime(2020, 1, 1).timestamp()
    os.utime(report, (old, old))
    text = summary(run, ["2010-097"], ["a", "b"], started=dt.datetime(2021, 1, 1))
    assert text.splitlines()[-1] == (
        "  report: results/tiny/report.html is from an earlier run; rebuild it with `a` or `b`"
    )
    assert summary(run, ["2010-097"], ["a"], started=dt.datetime(2019, 1, 1)).endswith(
        "  report: results/tiny/report.html"
    )
    # a run of part of the DAG: what it did not remake is said to be older
    table = run / "validation/table4_stations.csv"
    os.utime(table, (old, old))
    text = summary(run, ["2010-097"], ["a"], started=dt.datetime(2021, 1, 1))
    assert "table4_stations.csv (from an earlier run)" in text
    assert "sm_1km_2010-097.nc)" in text and "summary.json\n" in text  # made after the start


def test_a_partial_run_says_the_product_is_not_made(tmp_path):
    text = summary(tmp_path / "results" / "r", ["2010-097"], ["make report"])
    assert "  product: not made by this run (it goes to" in text
    assert "validation table" not in text
