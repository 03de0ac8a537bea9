"""Issue 13, configuration and run faults: each case one mutation or fault, one outcome.

Config files (items 7, 11, 14: empty values, a missing file, a YAML error, date logic), input
content changed under a kept modification time (item 6) and a full disk (item 10), plus the
configuration mistakes that already stopped with the key named.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from reliability_expect import Outcome, check, conversion, error, ok

from smdownscale import fingerprints
from smdownscale.atomic import DiskFullError, atomic_path
from smdownscale.config import ConfigError
from smdownscale.configfile import check_files

REPO = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def config_with(text: str) -> Callable[[Path], Callable[[], Any]]:
    """A case whose input is one config file of ``text`` (YAML)."""

    def build(tmp: Path) -> Callable[[], Any]:
        f = tmp / "my_region.yaml"
        f.write_text(text)
        return lambda: check_files([f])

    return build


def demo_with(overrides: str) -> Callable[[Path], Callable[[], Any]]:
    """A case whose input is the demo config with ``overrides`` (YAML) merged over it."""

    def build(tmp: Path) -> Callable[[], Any]:
        f = tmp / "over.yaml"
        f.write_text(overrides)
        return lambda: check_files([REPO / "config" / "config.yaml", f])

    return build


def missing_file(tmp: Path) -> Callable[[], Any]:
    return lambda: check_files([tmp / "my_regoin.yaml"])


REAL = (
    "source: real\nrun: r\nregion: {bbox: [110.0, 39.0, 111.0, 40.0]}\n"
    "dates: {start: '2010-04-07', end: '2010-05-30'}\nbma: {train_end: '2010-04-30'}\n"
    "stations: {csv: [{stations: s.csv, values: v.csv}]}\n"
)

CONFIG_CASES = {
    "genuine demo config": (demo_with("run: demo\n"), ok()),
    "genuine real config": (config_with(REAL), ok()),
    "missing config file": (missing_file, error(r"my_regoin.yaml does not exist")),
    "yaml: unclosed bracket": (
        config_with("run: x\nregion:\n  bbox: [1, 2\n"),
        error(r"my_region.yaml, line 4, column 1: not valid YAML"),
    ),
    "yaml: tab indentation": (
        config_with("run: x\n\tdates: 1\n"),
        error(r"line 2, column 1: not valid YAML: found character '\\t'"),
    ),
    "yaml: a list, not a mapping": (config_with("- run\n"), error(r"holds a list, not a mapping")),
    "null bbox": (
        demo_with("region: {bbox: null}\n"),
        error(r"'region.bbox' is empty \(null\): give it a value"),
    ),
    "empty dates": (
        demo_with("dates: {start: null}\n"),
        error(r"'dates.start' is empty \(null\)"),
    ),
    "null run": (config_with("run: null\n"), error(r"'run' is empty \(null\)")),
    "empty section takes its defaults": (demo_with("aggregation:\n"), ok()),
    "real run without bbox": (
        config_with(REAL.replace("region: {bbox: [110.0, 39.0, 111.0, 40.0]}\n", "")),
        error(r"'region.bbox' is not given: a real run \(source: real\) must set it"),
    ),
    "real run without dates": (
        config_with(REAL.replace("dates: {start: '2010-04-07', end: '2010-05-30'}\n", "")),
        error(r"'dates.start' is not given.*'dates.end' is not given"),
    ),
    "train_end after the run": (
        demo_with("bma: {train_end: '2010-09-30'}\n"),
        error(r"'bma.train_end' \(2010-09-30\) is after the run's last day \(2010-08-12\)"),
    ),
    "no evaluation day": (
        demo_with("bma: {train_end: '2010-08-12'}\n"),
        error(r"no evaluation day in the run \(2010-04-07..2010-08-12\)"),
    ),
    "end before start": (
        demo_with("dates: {start: '2010-05-01', end: '2010-04-01'}\n"),
        error(r"'dates.end' \(2010-04-01\) is before 'dates.start'"),
    ),
    "unknown key (typo)": (
        demo_with("grid: {fine_res: 0.01}\n"),
        error(r"unknown config key\(s\) 'fine_res' in 'grid'"),
    ),
    "a three-cornered-hat product the run does not make": (
        demo_with("uncertainty: {tch: true, tch_products: [coarse, rf, era5]}\n"),
        error(r"'uncertainty.tch_products': \['era5'\] are not products of this run"),
    ),
    "a three-cornered hat of two products": (
        demo_with("uncertainty: {tch: true, tch_products: [coarse, rf]}\n"),
        error(r"'uncertainty.tch_products': \['coarse', 'rf'\] is too short"),
    ),
    "a replaced key": (
        demo_with("bma: {min_gain_se: 1}\n"),
        error(r"'min_gain_se' in 'bma'; 'min_gain_se' is now 'min_gain_confidence \(a one-sided"),
    ),
    "bbox too short": (
        demo_with("region: {bbox: [110, 39, 111]}\n"),
        error(r"'region.bbox': \[110, 39, 111\] is too short"),
    ),
    "bbox without a coarse cell": (
        demo_with("region: {bbox: [110, 41, 113, 41]}\n"),
        error(r"config key 'region.bbox' / 'grid'"),
    ),
    "coarse grid not ESA CCI's": (
        demo_with("grid: {coarse_res_deg: 0.5}\n"),
        error(r"coarse product esa_cci is on a 0.25 deg grid"),
    ),
    "real run without stations": (
        config_with(REAL.replace("stations: {csv: [{stations: s.csv, values: v.csv}]}\n", "")),
        error(r"source is 'real' but no station data is configured"),
    ),
    "burn-in not below steps": (
        demo_with("bma: {steps: 500, burn_in: 500}\n"),
        error(r"'bma.burn_in' \(500\) must be below 'bma.steps' \(500\)"),
    ),
    "run leaving results/": (demo_with("run: ../elsewhere\n"), error(r"config key 'run'")),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_config(name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    build, outcome = CONFIG_CASES[name]
    check(outcome, build(tmp_path), caplog)
    if outcome.kind == "error":  # one message, for a person: the exception is a ConfigError
        with pytest.raises(ConfigError):
            build(tmp_path)()


# --- input content changed under a kept modification time (item 6) ---------------------


def _kept_time_copy(tmp: Path, same: bool) -> Callable[[], Any]:
    raw = tmp / "raw"
    raw.mkdir()
    f = raw / "MOD11A1.A2010097.h26v04.061.hdf"
    f.write_bytes(b"bad granule")
    record = tmp / "fp.json"
    fingerprints.check([f], record)
    src = tmp / "fixed.hdf"
    src.write_bytes(b"bad granule" if same else b"good granule")
    os.utime(src, ns=(10**18, 10**18))
    shutil.copy2(src, f)  # cp -a: content and old time

    def call() -> Any:
        result = fingerprints.check([f], record)
        for message in fingerprints.describe(result)[0]:
            logging.getLogger("smdownscale").info(message)
        return result

    return call


def _full_disk(tmp: Path) -> Callable[[], Any]:
    target = tmp / "product" / "sm_1km_2010-097.nc"

    def call() -> Any:
        with atomic_path(target) as part:
            part.write_bytes(b"half a file")
            raise OSError(errno.ENOSPC, "No space left on device")

    return call


FAULT_CASES: dict[str, tuple[Callable[[Path], Callable[[], Any]], Outcome]] = {
    "raw file replaced, time kept": (
        lambda t: _kept_time_copy(t, same=False),
        conversion(r"its content changed although its modification time did not"),
    ),
    "raw file copied again, same content": (lambda t: _kept_time_copy(t, same=True), ok()),
    "disk full while writing a product": (
        _full_disk,
        error(r"no space left on the disk holding .*sm_1km_2010-097.nc", DiskFullError),
    ),
}


@pytest.mark.parametrize("name", list(FAULT_CASES))
def test_fault(name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    build, outcome = FAULT_CASES[name]
    result = check(outcome, build(tmp_path), caplog)
    if name == "raw file replaced, time kept":
        assert len(result.changed) == 1  # and its time is now the current one
    if outcome.kind == "error":
        assert not list(tmp_path.rglob("*.part")) and not list(tmp_path.rglob("*.nc"))
