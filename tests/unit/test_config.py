import copy
from pathlib import Path

import pytest
import yaml

from smdownscale.config import (
    ConfigError,
    digest,
    evaluation_problem,
    load_schema,
    prepare_config,
    region_count,
    run_periods,
)

REPO = Path(__file__).resolve().parents[2]


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_demo_config_fills_defaults():
    cfg = prepare_config(load("config.yaml"))
    assert cfg["aggregation"] == {"method": "mean", "min_valid_fraction": 0.5}
    assert cfg["predictors"]["lst_qc"] == "good"
    assert [n["name"] for n in cfg["demo"]["networks"]] == [
        "DEMO-HOURLY",
        "DEMO-5DAY",
        "DEMO-10DAY",
    ]
    assert len(run_periods(cfg)) == 8


def test_three_north_config_validates():
    cfg = prepare_config(load("three_north.yaml"))
    assert cfg["source"] == "real"
    assert cfg["region"]["bbox"] == [73.4, 33.5, 127.8, 50.2]
    assert len(run_periods(cfg)) == 11 * 23  # 2003-2013, 23 periods a year


def test_empty_config_is_the_demo():
    cfg = prepare_config({})
    assert cfg["run"] == "demo" and cfg["grid"]["fine_res_deg"] == 0.01


def test_null_is_an_error_unless_the_schema_allows_it():
    # an empty value never silently becomes the default (the demo's bbox, dates, ...)
    with pytest.raises(
        ConfigError,
        match=r"'region.bbox' is empty \(null\): give it a value; delete the key to take "
        r"its default \[110.0, 39.0, 113.0, 41.0\]",
    ):
        prepare_config({"region": {"bbox": None}})
    with pytest.raises(ConfigError, match=r"'dates.start' is empty \(null\)"):
        prepare_config({"dates": {"start": None, "end": "2010-05-01"}})
    with pytest.raises(ConfigError, match=r"'grid.fine_res_deg' is empty \(null\)"):
        prepare_config({"grid": {"fine_res_deg": None}})
    # an empty section is an empty mapping: its keys take their defaults as if absent
    assert prepare_config({"aggregation": None})["aggregation"]["method"] == "mean"
    # a key whose schema allows null keeps it, with the meaning the schema gives it
    assert prepare_config({"paths": {"raw": None}})["paths"]["raw"] is None


def test_a_real_run_names_its_region_dates_and_run():
    with pytest.raises(ConfigError) as info:
        prepare_config({"source": "real", "stations": {"csv": []}})
    for key in ("run", "region.bbox", "dates.start", "dates.end"):
        assert f"config key '{key}' is not given: a real run" in str(info.value)


def test_unquoted_yaml_dates_are_accepted():
    cfg = prepare_config(yaml.safe_load("dates: {start: 2010-04-07, end: 2010-05-01}"))
    assert cfg["dates"]["start"] == "2010-04-07"


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key\(s\) 'fine_res' in 'grid'"):
        prepare_config({"grid": {"fine_res": 0.01}})


def test_run_may_hold_folders_but_never_leave_results():
    assert prepare_config({"run": "skill/demo"})["run"] == "skill/demo"
    for bad in ("../demo", "skill/../demo", "skill//demo", "/demo", "skill/.x", "skill/"):
        with pytest.raises(ConfigError, match="run"):
            prepare_config({"run": bad})


def test_out_of_range_value_is_named_with_its_meaning():
    with pytest.raises(ConfigError) as e:
        prepare_config({"aggregation": {"min_valid_fraction": 1.5}, "demo": {"seed": -1}})
    msg = str(e.value)
    assert "2 problem(s)" in msg
    assert "'aggregation.min_valid_fraction': 1.5 is greater than the maximum of 1" in msg
    assert "Fraction of a coarse cell's fine cells that must be valid" in msg
    assert "'demo.seed': -1 is less than the minimum of 0" in msg


def test_bad_enum_and_date():
    with pytest.raises(ConfigError, match="'aggregation.method': 'median' is not one of"):
        prepare_config({"aggregation": {"method": "median"}})
    with pytest.raises(ConfigError, match="'dates.end': '2010-02-30' is not a 'date'"):
        prepare_config({"dates": {"end": "2010-02-30"}})


def test_bbox_without_coarse_cell():
    with pytest.raises(ConfigError, match="holds no coarse cell"):
        prepare_config({"region": {"bbox": [110, 41, 113, 41]}})


def test_end_before_start():
    with pytest.raises(ConfigError, match="'dates.end' .* is before 'dates.start'"):
        prepare_config({"dates": {"start": "2010-05-01", "end": "2010-04-01"}})


def test_every_schema_key_has_default_and_description():
    def walk(node, path):
        for key, sub in node.get("properties", {}).items():
            here = f"{path}.{key}" if path else key
            assert "description" in sub or sub.get("type") == "object", here
            assert "default" in sub, f"{here} has no default"
            if sub.get("type") == "object":
                walk(sub, here)

    walk(load_schema(), "")


def test_snakemake_validator_accepts_resolved_configs(tmp_path):
    snakemake_utils = pytest.importorskip("snakemake.utils")
    for name in ("config.yaml", "three_north.yaml"):
        cfg = prepare_config(load(name))
        snakemake_utils.validate(copy.deepcopy(cfg), str(REPO / "config/schema/config.schema.yaml"))


def test_digest_changes_with_config():
    a = prepare_config({})
    b = prepare_config({"demo": {"seed": 1}})
    assert digest(a) != digest(b) and digest(a) == digest(prepare_config({}))


def test_semantic_checks_catch_values_that_would_fail_later():
    with pytest.raises(ConfigError, match=r"'esa_cci.mask_flags': 128 is not an ESA CCI flag bit"):
        prepare_config({"esa_cci": {"mask_flags": [128]}})
    with pytest.raises(ConfigError, match="coarse product esa_cci is on a 0.25 deg grid"):
        prepare_config({"grid": {"coarse_res_deg": 0.5}})
    with pytest.raises(ConfigError, match="source is 'real' but no station data is configured"):
        prepare_config(
            {
                "source": "real",
                "run": "r",
                "region": {"bbox": [110.0, 39.0, 111.0, 40.0]},
                "dates": {"start": "2010-04-07", "end": "2010-04-30"},
            }
        )
    assert prepare_config({"esa_cci": {"mask_flags": ["dense_vegetation", 1]}})


def test_null_inside_list_items_is_named():
    nets = [
        {
            "name": "A",
            "n_stations": 2,
            "sampling": "hourly",
            "units": "m3 m-3",
            "format": "ismn",
            "bias_sd": None,
        }
    ]
    with pytest.raises(ConfigError, match=r"'demo.networks\[0\].bias_sd' is empty \(null\)"):
        prepare_config({"demo": {"networks": nets}})
    del nets[0]["bias_sd"]
    assert prepare_config({"demo": {"networks": nets}})["demo"]["networks"][0]["bias_sd"] == 0.02


def test_command_line_strings_take_the_schema_type():
    cfg = prepare_config(
        {
            "dates": {"period_days": "8"},
            "gapfill": {"enabled": "true", "max_days": "2"},
            "aggregation": {"min_valid_fraction": "0.7"},
            "grid": "null",
            "run": "null",
        }
    )
    assert cfg["dates"]["period_days"] == 8 and cfg["gapfill"]["enabled"] is True
    assert cfg["gapfill"]["max_days"] == 2
    assert cfg["aggregation"]["min_valid_fraction"] == 0.7
    assert cfg["grid"]["fine_res_deg"] == 0.01  # 'null' took the default
    assert cfg["run"] == "null"  # a string key keeps the string
    with pytest.raises(ConfigError, match="'dates.period_days': 'eight' is not of type"):
        prepare_config({"dates": {"period_days": "eight"}})


@pytest.mark.parametrize(
    "bma, message",
    [
        ({"steps": 500, "burn_in": 500}, "'bma.burn_in' (500) must be below 'bma.steps' (500)"),
        ({"ensemble": "mlp"}, "'bma.ensemble' is 'mlp', a member not in 'members.use'"),
        ({"train_start": "2010-07-01", "train_end": "2010-05-01"}, "is before 'bma.train_start'"),
        ({"train_start": "2012-01-01", "train_end": "2012-12-31"}, "do not overlap the run's"),
        ({"walkers": 8, "n_members": 5}, "'bma.walkers' (8) must be at least twice"),
        ({"train_end": "2010-09-30"}, "'bma.train_end' (2010-09-30) is after the run's last day"),
        (
            {"train_end": "2010-06-30", "eval_start": "2010-06-01"},
            "overlap the weight-training days (2010-04-07..2010-06-30)",
        ),
    ],
)
def test_bma_settings_that_cannot_work_are_named(bma, message):
    cfg = load("config.yaml")
    cfg["members"]["use"] = ["rf", "mlr", "svr", "xgb", "mlp"][: bma.pop("n_members", 4)]
    cfg["bma"] = bma
    with pytest.raises(ConfigError) as e:
        prepare_config(cfg)
    assert message in str(e.value)


def test_a_run_without_evaluation_days_is_named_before_any_job():
    cfg = load("config.yaml")
    assert evaluation_problem(prepare_config(cfg)) is None
    cfg["bma"]["train_end"] = None  # trains on every day: nothing left to evaluate
    message = evaluation_problem(prepare_config(cfg))
    assert "no evaluation day in the run (2010-04-07..2010-08-12)" in message
    assert "set 'bma.train_end' before the run's end" in message


def test_reference_models_take_a_list_or_the_old_switch():
    def refs(value):
        return prepare_config({"evaluation": {"reference_models": value}})["evaluation"][
            "reference_models"
        ]

    assert refs(True) == ["era5_land"] and refs(False) == [] and refs([]) == []
    assert refs(["gldas_noah", "era5_land"]) == ["era5_land", "gldas_noah"]
    assert prepare_config({})["evaluation"]["reference_models"] == []
    with pytest.raises(
        ConfigError, match=r"'evaluation.reference_models\[0\]': 'gldas' is not one of"
    ):
        prepare_config({"evaluation": {"reference_models": ["gldas"]}})


def test_regions_need_enough_coarse_cells_each():
    demo = prepare_config({})  # 8 x 12 coarse cells, k 7 asked
    assert demo["regions"]["k"] == 7 and region_count(demo) == 1
    assert region_count(prepare_config({"regions": {"min_cells": 30}})) == 3  # 96 // 30
    assert region_count(prepare_config({"regions": {"k": 2, "min_cells": 1}})) == 2
    paper = prepare_config(load("three_north.yaml"))
    assert region_count(paper) == 7  # 218 x 67 coarse cells keep the paper's seven
