"""Config files: a missing file or a YAML error is named with file and line (issue 13, 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smdownscale.config import ConfigError
from smdownscale.configfile import check_files, load_file, main

REPO = Path(__file__).resolve().parents[2]


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=rf"config file {tmp_path}/nope.yaml does not exist"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="is a folder"):
        load_file(tmp_path)


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("run: x\nregion:\n  bbox: [1, 2\n", "line 4, column 1", "expected ',' or ']'"),
        (
            "run: x\n\tdates: 1\n",
            "line 2, column 1",
            "found character '\\t' that cannot start any token",
        ),
        ("run: 'x\n", "line 2, column 1", "found unexpected end of stream"),
        ("a: 1\n a: 2\n", "line 2, column 3", "mapping values are not allowed here"),
    ],
)
def test_a_yaml_error_is_named_with_file_and_line(tmp_path, text, where, what):
    f = tmp_path / "my.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_file(f)
    assert f"config file {f}, {where}: not valid YAML: " in str(info.value)
    assert what in str(info.value)


def test_not_a_mapping_and_empty_files(tmp_path):
    f = tmp_path / "list.yaml"
    f.write_text("- run\n- demo\n")
    with pytest.raises(ConfigError, match="holds a list, not a mapping"):
        load_file(f)
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    assert load_file(tmp_path / "empty.yaml") == {}


def test_files_are_merged_and_validated_like_snakemake(tmp_path):
    over = tmp_path / "over.yaml"
    over.write_text("run: other\nregion: {bbox: null}\n")
    with pytest.raises(ConfigError, match="'region.bbox' is empty"):
        check_files([REPO / "config" / "config.yaml", over])
    over.write_text("run: other\n")
    cfg = check_files([REPO / "config" / "config.yaml", over])
    assert cfg["run"] == "other" and cfg["bma"]["train_end"] == "2010-06-30"


def test_the_command_line_says_ok_or_one_error(tmp_path, capsys):
    assert main([str(REPO / "config" / "config.yaml")]) == 0
    assert "config ok: run 'demo' (demo), 2010-04-07..2010-08-12" in capsys.readouterr().out
    assert main([str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err.startswith(f"error: config file {tmp_path}/nope.yaml")
    # make report: the run's name alone (results/<run>/report.html), later files winning
    over = tmp_path / "over.yaml"
    over.write_text("run: north_china\n")
    assert main(["--run-name", str(REPO / "config" / "config.yaml"), str(over)]) == 0
    assert capsys.readouterr().out == "north_china\n"
    assert main(["--run-name"]) == 2


def test_make_run_stops_on_a_bad_config_before_snakemake(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: x\nregion:\n  bbox: [1, 2\n")
    res = subprocess.run(
        [sys.executable, "-m", "smdownscale.configfile", str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "workflow_scripts")},
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"config file {bad}, line 4, column 1: not valid YAML" in res.stderr
