"""The paper's rerun (scaling issue, item 7): ``config/paper_period.yaml`` over
``config/three_north.yaml`` is one laptop-sized period of the paper, and the data versions
that README "Rerunning the paper" names are those the config and the code pin."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from pathlib import Path

import pytest

from smdownscale import providerlayout, rawlayout
from smdownscale.config import (
    ConfigError,
    bma_eval_dates,
    bma_train_dates,
    load_schema,
    prepare_config,
    run_grids,
    run_periods,
)
from smdownscale.configfile import check_files, load_file, merge_configs
from smdownscale.download import plan
from smdownscale.download.sources import PRODUCTS, gldas_noah
from smdownscale.products import cci_identity, gldas, modis_metadata
from smdownscale.products.base import ProductError

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "config" / "three_north.yaml"
PERIOD = REPO / "config" / "paper_period.yaml"
README = REPO / "README.md"

#: Bytes a laptop run may download. The period's estimate uses the typical sizes of
#: download/sources.py, some of them rough (IMERG, ERA5-Land, TerraClimate); 10 GB leaves
#: more than twice the estimate for them and still fits the free disk of an ordinary laptop
#: beside the run's own outputs (a 2 x 2 deg region: 40,000 fine cells).
LAPTOP_BYTES = 10e9
#: And at most this share of the whole paper's downloads, estimated by the same code.
LAPTOP_SHARE = 0.01


@pytest.fixture(scope="module")
def paper() -> dict:
    return prepare_config(merge_configs(load_file(PAPER)))


@pytest.fixture(scope="module")
def period() -> dict:
    """The two files merged as Snakemake merges --configfile files, then validated."""
    return prepare_config(merge_configs(load_file(PAPER), load_file(PERIOD)))


def test_make_run_resolves_the_same_config(period):
    """`make run CONFIG="three_north.yaml paper_period.yaml"` checks the files this way."""
    assert check_files([PAPER, PERIOD]) == period


def test_the_overlay_changes_only_where_and_when(paper, period):
    """Every data version, product, predictor, method and station network stays the
    paper's: the overlay names only the run, the region, the dates and the day windows."""
    changed = {k for k in paper.keys() | period.keys() if paper.get(k) != period.get(k)}
    assert changed == {"run", "region", "dates", "members", "bma"}
    assert period["run"] != paper["run"]  # its own results/<run>/ folder
    members = {k for k in paper["members"] if paper["members"][k] != period["members"][k]}
    assert members == {"tuning"}
    tuning = {
        k
        for k in paper["members"]["tuning"]
        if paper["members"]["tuning"][k] != period["members"]["tuning"][k]
    }
    assert tuning == {"start", "end"}
    bma = {k for k in paper["bma"] if paper["bma"][k] != period["bma"][k]}
    assert bma == {"train_start", "train_end", "eval_start", "eval_end"}
    assert period["dates"]["period_days"] == paper["dates"]["period_days"]
    assert period["source"] == "real"


def test_exactly_one_whole_period_of_the_evaluation_years(paper, period):
    periods = run_periods(period)
    assert len(periods) == 1, f"{len(periods)} periods: {', '.join(map(str, periods))}"
    (p,) = periods
    assert p.ndays == period["dates"]["period_days"]  # not clipped: a whole period
    assert (str(p.start), str(p.end)) == (period["dates"]["start"], period["dates"]["end"])
    assert p in run_periods(paper)  # the same period, day for day, as in the paper's run
    e0, e1 = bma_eval_dates(paper)
    assert e0 <= p.start and p.end <= e1, "the period lies in the paper's evaluation years"


def test_the_region_is_a_small_grid_aligned_part_of_the_paper(paper, period):
    west, south, east, north = period["region"]["bbox"]
    pw, ps, pe, pn = paper["region"]["bbox"]
    assert pw <= west < east <= pe and ps <= south < north <= pn
    coarse, fine = run_grids(period)
    assert coarse.bbox == fine.bbox == (west, south, east, north)  # on the 0.25 deg edges
    assert (east - west) * (north - south) <= 2.5 * 2.5
    paper_coarse, _ = run_grids(paper)
    assert paper_coarse.west <= coarse.west and coarse.east <= paper_coarse.east
    assert paper_coarse.south <= coarse.south and coarse.north <= paper_coarse.north


def test_training_tuning_and_evaluation_days_apart_inside_the_period(period):
    (p,) = run_periods(period)
    days = set(p.days)

    def window(first: dt.date, last: dt.date) -> set[dt.date]:
        assert first in days and last in days, f"{first}..{last} ends outside the period {p}"
        return {d for d in days if first <= d <= last}

    train = window(*bma_train_dates(period))
    evaluation = window(*bma_eval_dates(period))
    tuning = window(
        *(dt.date.fromisoformat(period["members"]["tuning"][k]) for k in ("start", "end"))
    )
    assert train and evaluation and tuning
    assert not train & evaluation
    assert not tuning & evaluation, "evaluation days tune nothing"
    assert train | evaluation == days


def test_the_split_is_checked_by_the_workflow(period):
    """prepare_config refuses the overlay's windows when they overlap (so the assertions
    above are the workflow's own rule, not only this test's)."""
    bad = merge_configs(
        load_file(PAPER), load_file(PERIOD), {"bma": {"eval_start": period["bma"]["train_end"]}}
    )
    with pytest.raises(ConfigError, match="overlap the weight-training"):
        prepare_config(bad)


def test_the_downloads_are_laptop_sized(tmp_path, paper, period, capsys):
    """An empty raw folder and no catalogues: every file to fetch, at typical sizes."""
    rows, av = plan.estimate(period, raw=tmp_path)
    with capsys.disabled():
        print("\n" + plan.format_estimate(rows, av))
    by = {r.product: r for r in rows}
    (p,) = run_periods(period)
    tiles = rawlayout.modis_tiles_for_bbox(run_grids(period)[1].bbox)
    assert len(tiles) == 1
    daily = {"esa_cci", "mod11a1", "mcd43c3", "imerg"}
    assert all(by[k].files == p.ndays * (len(tiles) if k == "mod11a1" else 1) for k in daily)
    assert by["mod13a2"].files == 1  # the period is one MOD13A2 composite
    files = sum(r.to_fetch for r in rows)
    nbytes = sum(r.bytes_to_fetch for r in rows)
    assert files < 100
    assert nbytes < LAPTOP_BYTES, f"{nbytes / 1e9:.1f} GB"
    paper_rows, _ = plan.estimate(paper, raw=tmp_path)
    paper_bytes = sum(r.bytes_to_fetch for r in paper_rows)
    assert nbytes < LAPTOP_SHARE * paper_bytes, f"{nbytes / paper_bytes:.2%} of the paper's"


def test_plan_takes_the_two_files(capsys):
    """`make plan CONFIG="three_north.yaml paper_period.yaml"` passes both to the plan."""
    assert plan.main([str(PAPER), str(PERIOD)]) == 0
    assert "run 'three_north_2010_177'" in capsys.readouterr().out


# ------------------------------------------------------------------------- pinned versions


def readme_versions() -> dict[str, str]:
    """Product -> version of the data-versions table in README "Rerunning the paper"."""
    text = README.read_text(encoding="utf-8")
    m = re.search(r"^## Rerunning the paper\n(.*?)^## ", text, re.S | re.M)
    assert m, 'README has no section "## Rerunning the paper"'
    rows = re.findall(r"^\| ([^|`]+?) \| `([^`]+)` \|", m.group(1), re.M)
    return dict(rows)


def default_of(func, name: str) -> str:
    return inspect.signature(func).parameters[name].default


def schema_url(key: str) -> str:
    return load_schema()["properties"]["download"]["properties"]["urls"]["properties"][key][
        "default"
    ]


def code_versions(paper: dict) -> dict[str, str]:
    """Each product's version as the config and code pin it, after checking that every
    place in the code that names it agrees."""
    modis = modis_metadata.COLLECTION
    assert providerlayout.MODIS_COLLECTION == modis
    assert default_of(rawlayout.modis_tile, "collection") == modis
    assert default_of(rawlayout.mcd43c3, "collection") == modis
    assert {PRODUCTS[k].cmr.version for k in ("mod11a1", "mod13a2", "mcd43c3")} == {modis}
    imerg = providerlayout.IMERG_VERSION
    assert default_of(rawlayout.imerg, "version") == imerg
    assert f"/GPM_3IMERGDF.{imerg[1:3]}/" in paper["download"]["urls"]["imerg"]
    assert f"/GPM_3IMERGDF.{imerg[1:3]}/" in schema_url("imerg")
    gldas_version = default_of(gldas.gldas_name, "version")
    assert default_of(gldas_noah, "version") == gldas_version
    assert f"GLDAS_NOAH025_3H.{gldas_version[1]}.{gldas_version[2]}/" in schema_url("gldas_noah")
    assert "v{version}" in paper["download"]["urls"]["esa_cci"]
    return {
        "ESA CCI SM COMBINED daily": paper["esa_cci"]["version"],
        "MOD11A1, MOD13A2": modis,
        "MCD43C3": modis,
        "GPM IMERG Final daily": imerg,
        "SRTMGL3": PRODUCTS["srtm"].cmr.version,
        "ERA5-Land daily statistics": paper["download"]["era5_land"]["dataset"],
        "GLDAS-2.1 Noah 3-hourly": gldas_version,
        "TerraClimate PDSI": "none",
    }


def test_readme_names_the_versions_the_config_and_code_pin(paper):
    assert readme_versions() == code_versions(paper)


def test_three_north_comment_names_the_versions_the_code_pins(paper):
    text = PAPER.read_text(encoding="utf-8")
    m = re.search(r"^# Data versions.*?\n(?=[^#])", text, re.S | re.M)
    assert m, "config/three_north.yaml has no '# Data versions' comment block"
    block = m.group(0)
    versions = code_versions(paper)
    for product in ("MOD11A1, MOD13A2", "GPM IMERG Final daily", "SRTMGL3"):
        assert versions[product] in block, product
    assert f"GLDAS-2.1 Noah {versions['GLDAS-2.1 Noah 3-hourly']}" in block
    assert "esa_cci.version" in block and "download.urls.imerg" in block


@pytest.mark.parametrize(
    "product, name",
    [
        ("MOD11A1", "MOD11A1.A2010177.h26v05.006.hdf"),
        ("MOD13A2", "MOD13A2.A2010177.h26v05.006.hdf"),
        ("MCD43C3", "MCD43C3.A2010177.006.hdf"),
    ],
)
def test_readers_refuse_another_modis_collection(product, name):
    with pytest.raises(ProductError, match=f"collection 006, but it was read as {product}"):
        modis_metadata.check_granule(name, {}, product)


class _Attrs:
    def __init__(self, **attrs: str) -> None:
        self.attrs = attrs

    def ncattrs(self) -> list[str]:
        return list(self.attrs)

    def getncattr(self, name: str) -> str:
        return self.attrs[name]


def test_esa_cci_reader_refuses_another_version_than_the_config(paper):
    version = paper["esa_cci"]["version"]
    name = Path(rawlayout.esa_cci(dt.date(2010, 7, 1), version)).name
    claim = cci_identity.parse_name(name)
    ok = _Attrs(product_version=version)
    assert cci_identity.check_version(name, ok, claim, version, False) == version
    with pytest.raises(ProductError, match="config esa_cci.version"):
        cci_identity.check_version(name, _Attrs(product_version="08.1"), claim, version, False)


def test_provider_trees_offer_only_the_pinned_imerg_major_version():
    day = "20100701"
    for version, ok in (("V06B", False), ("V07A", True), ("V07B", True)):
        name = f"3B-DAY.MS.MRG.3IMERG.{day}-S000000-E235959.{version}.nc4"
        granule, found, stamp = providerlayout.parse_name(name)
        assert (
            providerlayout.eligible(providerlayout.Found(granule, found, stamp, name), "04.5") is ok
        )
