# Configuration, the run's calendar and grids, and the input functions shared by all stages.
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow_scripts"))

from smdownscale import (
    fingerprints,
    jobresources,
    providerlayout,
    rawindex,
    rawlayout,
    run_summary,
    runguard,
)
from smdownscale.atomic import write_text_atomic
from smdownscale.calendar import composite_starts
from smdownscale.config import (
    ConfigError,
    evaluation_problem,
    bma_train_dates,
    prepare_config,
    run_dates,
    run_grids,
    run_periods,
)
from smdownscale.download import groups as dlgroups
from smdownscale.download.catalogue import load_catalogue
from smdownscale.download.plan import (
    GLDAS_HOURS,
    catalogue_part,
    catalogue_parts,
    estimate,
    REFERENCES,
    footprint_line,
    offline_problems,
    required_files,
    station_file_help,
    station_files,
    summarise_missing,
)
from smdownscale.download.sources import CATALOGUED, PRODUCTS, template_problems
from smdownscale.formats import MEMBER_FORMAT

# Validation against config/schema/config.schema.yaml (draft-07) with defaults filled on
# every parse, including inside cluster jobs; each bad key is named in the error.
try:
    _resolved = prepare_config(config)
except ConfigError as e:
    raise WorkflowError(str(e)) from None
config.clear()
config.update(_resolved)
_problem = evaluation_problem(config)
if _problem:
    raise WorkflowError(_problem)

RUN = f"results/{config['run']}"
RAW = os.path.normpath(config["paths"]["raw"] or f"{RUN}/raw")
LOGS = f"{RUN}/logs"
PERIODS = {p.id: p for p in run_periods(config)}
COARSE_GRID, FINE_GRID = run_grids(config)
MODIS_TILES = rawlayout.modis_tiles_for_bbox(FINE_GRID.bbox)
SRTM_TILES = rawlayout.srtm_tiles_for_bbox(FINE_GRID.bbox)
IS_DEMO = config["source"] == "demo"
#: The coarse product the run downscales (its granules key: esa_cci or smap_l3).
TARGET = config["grid"]["coarse_product"]
# A run killed outright (SIGKILL) left its locks and its deleted outputs: repair both.
if workflow.is_main_process:
    for _m in runguard.repair_after_kill(os.getcwd(), RUN):
        logger.warning(_m)
# Every raw granule's file, found at parse (Snakemake needs every job's inputs before any
# job runs): products in the provider layout are looked up by name in their trees (listed
# recursively, the listing cached per folder), the newest version of a granule winning;
# the rest are where the demo writes or the downloads put them (smdownscale.rawindex).
ARCHIVES = rawindex.Archives(
    config,
    RAW,
    cache_path=f"{RUN}/raw_index/scan_cache.json",
    write_cache=workflow.is_main_process,
    demo=IS_DEMO,
)
STATIC_GRANULES = providerlayout.static_granules(SRTM_TILES)
# every granule of the run: at parse only needed to look up provider archives and, in
# the main process of a real run, to list what is missing
RUN_GRANULES = (
    rawindex.run_granules(config)
    if ARCHIVES.providers or (workflow.is_main_process and not IS_DEMO)
    else []
)
# project-layout paths of the granules that provider trees hold: never downloaded
ELSEWHERE = ARCHIVES.found_elsewhere(RUN_GRANULES)
if workflow.is_main_process:
    for _m in ARCHIVES.summary(RUN_GRANULES, f"{LOGS}/raw_archive_notes.txt"):
        logger.info(_m)
# Input content, not mtime alone, triggers reruns (smdownscale.fingerprints): a raw or
# station file whose content changed with its time kept gets the current time.
if workflow.is_main_process:
    _check = fingerprints.check(
        fingerprints.files_under(RAW, *station_files(config))
        + ARCHIVES.found_paths(RUN_GRANULES),
        f"{RUN}/input_fingerprints.json",
        emit=logger.info,
    )
    if _check.hashed_bytes > 2**30:
        logger.info(
            f"fingerprinted {_check.hashed} new or changed input file(s) "
            f"({_check.hashed_bytes / 2**30:.1f} GiB); later runs hash only changed files"
        )
    _warnings, _error = fingerprints.describe(_check)
    for _m in _warnings:
        logger.warning(_m)
    # the rules take downloaded files through their group's marker: a changed file
    # remakes what was made from it through the marker
    for _m in dlgroups.refresh_markers(
        f"{RUN}/{dlgroups.MARKER_DIR}", RAW, _check.digests
    ):
        logger.info(f"{_m}: a file it lists changed; what was made from it is remade")
    if _error:
        raise WorkflowError(_error)
# the true 1 km field for scoring: the demo world's own, or a configured one, or none
TRUTH = config["paths"]["truth"] or (f"{RUN}/truth/world_1km.nc" if IS_DEMO else None)
# What each job asks a cluster scheduler for, from the run's size (profiles/slurm).
JOB_REQUESTS = jobresources.requests(
    jobresources.RunSize.from_config(config, FINE_GRID, COARSE_GRID, PERIODS.values()),
    config["resources"],
)
# threads of the multi-threaded jobs (cpus_per_task on SLURM)
THREADS = config["resources"]["threads"]


def job_resources(rule):
    """A rule's ``resources``: mem_mb and runtime (minutes) of its cluster job, computed
    from the run's size (smdownscale.jobresources), some also from an input file's size
    once the job is ready; a retried job (--retries) asks ``attempt`` times as much."""
    r = JOB_REQUESTS.get(rule) or jobresources.default_request(config["resources"])
    if r.per_input is None:
        return {
            "mem_mb": lambda wildcards, attempt: r.at(attempt)["mem_mb"],
            "runtime": lambda wildcards, attempt: r.at(attempt)["runtime"],
        }

    def at(input, attempt):
        return r.at(attempt, os.path.getsize(input[r.per_input]) / 2**20)

    return {
        "mem_mb": lambda wildcards, input, attempt: at(input, attempt)["mem_mb"],
        "runtime": lambda wildcards, input, attempt: at(input, attempt)["runtime"],
    }


wildcard_constraints:
    period=r"\d{4}-\d{3}",


def settings(*sections):
    """The config sections a rule depends on, given as params so that changing them reruns
    the rule (Snakemake's params rerun trigger); scripts read the same values from config.
    """
    return {key: config[key] for key in sections}


def period(wildcards):
    """The Period named by a wildcards object or by its id string."""
    return PERIODS[wildcards if isinstance(wildcards, str) else wildcards.period]


def raw(relpath):
    return f"{RAW}/{relpath}"


def in_place(paths):
    """Real data: the raw files already in place, flagged before_update so that Snakemake
    reads them as they are instead of adding the download job whose update() output they
    are; the missing ones stay plain, to be fetched by their download rule.

    Snakemake keeps a record (.snakemake/metadata) only of the files its own jobs wrote. A
    file put in place by hand, or by another tool, as the output of a download job that
    never ran would be a job without a record: dry runs would list it as having "missing
    provenance/metadata" and the report would print "Missing metadata" for every such
    file. A file the workflow downloaded is read the same way: once in place, it is an
    input, and a newer file still remakes what was made from it (its modification time
    counts as any input's). The demo's raw files are its own rules' outputs: kept plain.
    """
    if IS_DEMO:
        return list(paths)
    return [before_update(p) if os.path.exists(p) else p for p in paths]


def period_granules(wildcards):
    """The granules a period reads, by product: its days' coarse target (ESA CCI or SMAP
    L3), MOD11A1 tiles, MCD43C3 and IMERG files, and the tiles of every 16-day MOD13A2
    composite holding one of its days (one composite when periods are the default 16 days,
    aligned with them)."""
    days = period(wildcards).days
    return providerlayout.period_granules(
        days, composite_starts(days), MODIS_TILES, TARGET
    )


def granule_paths(key, granules):
    """The files the run reads for granules of one product: a provider tree's where it has
    them, else the demo's; for real data the rest by download group (see group_inputs).
    """
    if IS_DEMO:
        return [ARCHIVES.path(g) for g in granules]
    paths, by_part = [], {}
    for g in granules:
        found = ARCHIVES.found(g)
        if found is not None:
            paths.append(found.path)
        else:
            by_part.setdefault(fetch_part(g), []).append(ARCHIVES.project_path(g))
    for part, group in by_part.items():
        paths += group_inputs(key, part, group)
    return paths


def index_inputs(wildcards):
    """The raw files index_raw records for a part (a period's, or the static SRTM tiles),
    named by its wildcards or its id."""
    part = wildcards if isinstance(wildcards, str) else wildcards.part
    if part == "static":
        return {"srtm": granule_paths("srtm", STATIC_GRANULES["srtm"])}
    return raw_period_files(part)


def part_granules(part):
    granules = STATIC_GRANULES if part == "static" else period_granules(part)
    return [g for gs in granules.values() for g in gs]


def demo_outputs(pid):
    """Where the demo writes a period's raw files (in its products' layouts), by product;
    MOD13A2 for the composites it writes with the period (period_composites)."""
    out = {
        key: [ARCHIVES.written_path(g) for g in granules]
        for key, granules in period_granules(pid).items()
    }
    composites = providerlayout.period_granules([], period_composites(pid), MODIS_TILES)
    out["mod13a2"] = [ARCHIVES.written_path(g) for g in composites["mod13a2"]]
    return out


#: the period holding each day of the run
_PERIOD_OF_DAY = {d: pid for pid, p in PERIODS.items() for d in p.days}
_RUN_START = min(p.start for p in PERIODS.values())
_COMPOSITES_OF = {}


def period_composites(wildcards):
    """The MOD13A2 composites that belong to a period: those whose first day within the
    run falls in it, so that each composite belongs to exactly one period (the demo writes
    it with that period, the downloads fetch it in that period's group)."""
    if not _COMPOSITES_OF:
        for s in composite_starts(list(_PERIOD_OF_DAY)):
            _COMPOSITES_OF.setdefault(_PERIOD_OF_DAY[max(s, _RUN_START)], []).append(s)
    return _COMPOSITES_OF.get(period(wildcards).id, [])


def fetch_part(granule):
    """The part a granule belongs to: ``static`` for SRTM tiles, else the period holding
    its day (a MOD13A2 composite: see period_composites)."""
    if granule.day is None:
        return "static"
    return _PERIOD_OF_DAY[max(granule.day, _RUN_START)]


_PERIOD_FILES = {}


def raw_period_files(wildcards):
    """Every raw file a period's harmonisation reads, by product; for real data by download
    group (see group_inputs). Kept once known: the readers' input functions ask again.
    """
    pid = wildcards if isinstance(wildcards, str) else wildcards.period
    if pid not in _PERIOD_FILES:
        _PERIOD_FILES[pid] = {
            key: granule_paths(key, granules)
            for key, granules in period_granules(pid).items()
        }
    return _PERIOD_FILES[pid]


def station_inputs():
    """Station archives: the demo world's, or the configured ISMN archives and CSV pairs."""
    if IS_DEMO:
        return {
            "ismn": [raw(DEMO_ISMN)],
            "csv_stations": [raw(p) for p, _ in DEMO_CSV],
            "csv_values": [raw(p) for _, p in DEMO_CSV],
        }
    s = config["stations"]
    return {
        "ismn": list(s["ismn"]),
        "csv_stations": [c["stations"] for c in s["csv"]],
        "csv_values": [c["values"] for c in s["csv"]],
    }


# the demo world's station files (relative to RAW)
DEMO_ISMN = "ismn/Data_demo_world.zip"
DEMO_CSV = [
    (f"stations_csv/{n['name']}_stations.csv", f"stations_csv/{n['name']}_values.csv")
    for n in config["demo"]["networks"]
    if n["format"] == "csv"
]


def all_outputs():
    out = [
        f"{RUN}/fine/static.nc",
        f"{RUN}/stations/stations.parquet",
    ]
    out += expand(f"{RUN}/fine/predictors_{{period}}.nc", period=PERIODS)
    out += expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS)
    out += [
        f"{RUN}/regions/regions_fine.nc",
        f"{RUN}/models/member_heldout_scores.csv",
        f"{RUN}/models/model_sources.csv",
        f"{RUN}/members/out_of_range.csv",
    ]
    out += expand(f"{RUN}/members/members_{{period}}.nc", period=PERIODS)
    out += [
        f"{RUN}/bma/weights.nc",
        f"{RUN}/bma/kriging.csv",
        f"{RUN}/bma/station_series.parquet",
    ]
    out += expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS)
    out += [f"{RUN}/validation/summary.json", f"{RUN}/validation/station_scores.csv"]
    out += [f"{FIGURES}/variogram.png"]
    out += [
        f"{RUN}/validation/reference_{ref}.nc"
        for ref in config["evaluation"]["reference_models"]
    ]
    if config["evaluation"]["drought"]:
        out += [f"{RUN}/validation/drought_summary.csv"]
    if config["evaluation"]["importance"]:
        out += [f"{RUN}/models/importance.csv", f"{RUN}/models/importance.png"]
    if config["uncertainty"]["tch"]:
        out += [f"{RUN}/uncertainty/tch.nc", f"{RUN}/uncertainty/tch.png"]
    if config["insitu"]["enabled"]:
        out += expand(f"{RUN}/insitu/sm_insitu_{{period}}.nc", period=PERIODS)
    if config["sensitivity"]["in_report"]:
        out += [
            f"{RUN}/sensitivity/sensitivity.csv",
            f"{RUN}/sensitivity/sensitivity.png",
        ]
    if not IS_DEMO:
        out.append(f"{RAW}/manifest.tsv")
    return out


def sensitivity_experiments():
    """The main run and the configured sensitivity experiments (config section
    sensitivity), in the order of the table."""
    from smdownscale.sensitivity import MAIN, experiments

    return [MAIN, *experiments(config)]


def experiment_regions(wildcards, which):
    """An experiment's regions file: its own for one_region, else the main run's."""
    from smdownscale.sensitivity import changes_regions, experiments

    if changes_regions(experiments(config).get(wildcards.experiment)):
        return f"{RUN}/sensitivity/{wildcards.experiment}/regions/regions_{which}.nc"
    return f"{RUN}/regions/regions_{which}.nc"


def sensitivity_score_inputs(wildcards):
    """What an experiment's scores read: its corrected members (the main run's for main),
    the coarse files, the stations and the truth where one exists."""
    from smdownscale.sensitivity import MAIN

    e = wildcards.experiment
    where = f"{RUN}/members" if e == MAIN else f"{RUN}/sensitivity/{e}/members"
    out = {
        "members": expand(f"{where}/members_{{period}}.nc", period=PERIODS),
        "coarse": expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        "stations": f"{RUN}/stations/stations.parquet",
        "regions": f"{RUN}/regions/regions_fine.nc",
    }
    if TRUTH:
        out["truth"] = TRUTH
    return out


def tch_inputs(wildcards):
    """The period files the hat reads (coarse products, members and products), and the
    truth where one exists, to say how far the hat is from it."""
    out = {
        "coarse": expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        "members": expand(f"{RUN}/members/members_{{period}}.nc", period=PERIODS),
        "products": expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS),
    }
    if TRUTH:
        out["truth"] = TRUTH
    return out


def era5_land_files():
    """The run's ERA5-Land month files (evaluation.reference_models), and their months."""
    rels = required_files(config, RAW).get("era5_land", [])
    months = [
        tuple(int(x) for x in Path(r).stem.split(".")[-1].split("-")) for r in rels
    ]
    return [raw(r) for r in rels], months


def gldas_noah_files():
    """The run's GLDAS Noah 3-hourly files (evaluation.reference_models), and their days."""
    rels = required_files(config, RAW).get("gldas_noah", [])
    days = {str(PRODUCTS["gldas_noah"].fields(r)["date"]) for r in rels}
    return [raw(r) for r in rels], sorted(days)


def reference_model_files(wildcards):
    """The raw files of the reference model ``wildcards.reference``."""
    files = {"era5_land": era5_land_files, "gldas_noah": gldas_noah_files}
    return files[wildcards.reference]()[0]


def terraclimate_files():
    """The run's TerraClimate PDSI year files (evaluation.drought), and their years."""
    rels = required_files(config, RAW).get("terraclimate", [])
    return [raw(r) for r in rels], [int(Path(r).stem.split("_")[-1]) for r in rels]


def drought_inputs(wildcards):
    """What the drought analysis reads: products, coarse products, PDSI years, and the
    ERA5-Land months where the reference comparison is on."""
    out = {
        "products": expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS),
        "coarse": expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        "terraclimate": terraclimate_files()[0],
    }
    if "era5_land" in config["evaluation"]["reference_models"]:
        out["era5_land"] = era5_land_files()[0]
    return out


def summary_inputs(wildcards):
    """What the validation summary reads (the truth scores only where a truth exists)."""
    out = {
        "series": f"{RUN}/bma/station_series.parquet",
        "table": f"{RUN}/validation/table4_stations.csv",
        "folds": f"{RUN}/bma/station_folds.csv",
        "posteriors": f"{RUN}/bma/posteriors_all.csv",
        "kriging": f"{RUN}/bma/kriging.csv",
        "heterogeneity": expand(
            f"{RUN}/validation/heterogeneity/{{period}}.csv", period=PERIODS
        ),
    }
    if TRUTH:
        out["truth"] = f"{RUN}/validation/truth_scores.csv"
    return out


def map_days():
    """The 15th of each month of the run (the days the report maps)."""
    days = [d for p in PERIODS.values() for d in p.days if d.day == 15]
    return days or [next(iter(PERIODS.values())).days[0]]


FIGURES = f"{RUN}/validation/figures"
FIGURE_CAPTIONS = {
    "sd_weights": "fig_sd_weights.rst",
    "scatter": "fig_scatter.rst",
    "taylor": "fig_taylor.rst",
    "timeseries": "fig_timeseries.rst",
    "stations": "fig_stations.rst",
    "distributions": "fig_distributions.rst",
    "table4": "table4.rst",
    "heterogeneity": "heterogeneity.rst",
    "weights": "fig_weight_intervals.rst",
    "variogram": "fig_variogram.rst",
}


def captioned(path, caption, **kwargs):
    """``path`` as a report item of category Figures with ``rules/report/<caption>``."""
    return report(path, caption=f"report/{caption}", category="Figures", **kwargs)


def figure_outputs():
    """Named outputs of the figure rule, each a captioned report item."""
    out = {
        "maps": [
            captioned(f"{FIGURES}/maps_{d}.png", "fig_maps.rst", subcategory="Maps")
            for d in map_days()
        ]
    }
    names = dict(FIGURE_CAPTIONS)
    if TRUTH:
        names["truth"] = "truth_scores.rst"
    for name, caption in names.items():
        out[name] = captioned(f"{FIGURES}/{name}.png", caption)
    return out


def figure_inputs(wildcards):
    out = {
        "series": f"{RUN}/bma/station_series.parquet",
        "coarse": expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        "members": expand(f"{RUN}/members/members_{{period}}.nc", period=PERIODS),
        "products": expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS),
        "predictors": expand(f"{RUN}/fine/predictors_{{period}}.nc", period=PERIODS),
        "weights": f"{RUN}/bma/weights.nc",
        "posteriors": f"{RUN}/bma/posteriors_all.csv",
        "variogram": f"{RUN}/bma/variogram.csv",
        "kriging_caption": f"{RUN}/bma/kriging_caption.rst",
        "table": f"{RUN}/validation/table4_stations.csv",
        "table4_caption": f"{RUN}/validation/table4_caption.rst",
        "heterogeneity": f"{RUN}/validation/heterogeneity.csv",
    }
    if TRUTH:
        out["truth"] = f"{RUN}/validation/truth_scores.csv"
    return out


def product_inputs(wildcards):
    """What a period's product reads: its members and predictors, the regions, and the
    BMA parameters and the choice BMA or member mean (ensemble bma) or the members'
    held-out scores (best, one member).
    """
    p = wildcards.period
    out = {
        "members": f"{RUN}/members/members_{p}.nc",
        "predictors": f"{RUN}/fine/predictors_{p}.nc",
        "regions": f"{RUN}/regions/regions_fine.nc",
        "static": f"{RUN}/fine/static.nc",
        "subcell": f"{RUN}/bma/subcell_fit.json",
    }
    ens = config["bma"]["ensemble"]
    if ens == "bma":
        out["weights"] = f"{RUN}/bma/weights.nc"
        out["selection"] = f"{RUN}/bma/selection_all.json"
    elif ens != "mean":
        out["scores"] = f"{RUN}/models/member_heldout_scores.csv"
    return out


def inner_deployment():
    """--sdm conda for the skill worlds' own Snakemake runs when this run uses conda."""
    ds = workflow.deployment_settings
    methods = {
        str(getattr(m, "value", m)) for m in (ds.deployment_method if ds else ())
    }
    return ["--sdm", "conda"] if "conda" in methods else []


def neighbour_periods(wildcards, before, after):
    """Ids of the run's periods from `before` periods before to `after` after this one
    (``wildcards``: a wildcards object or the period's id)."""
    ids = list(PERIODS)
    i = ids.index(wildcards if isinstance(wildcards, str) else wildcards.period)
    return ids[max(0, i - before) : i + after + 1]


def previous_period(wildcards):
    ids = list(PERIODS)
    i = ids.index(wildcards.period)
    return ids[i - 1] if i > 0 else None


def tuning_periods():
    start, end = tuning_dates()
    return [p for p, q in PERIODS.items() if q.end >= start and q.start <= end]


def tuning_dates():
    """The tuning sample's first and last day (the run's, unless configured)."""
    import datetime as dt

    t = config["members"]["tuning"]
    start, end = run_dates(config)
    return (
        dt.date.fromisoformat(t["start"]) if t["start"] else start,
        dt.date.fromisoformat(t["end"]) if t["end"] else end,
    )


# Hooks of the main process (not run by dry runs): the previous good outputs survive an
# interrupted or failed rerun (smdownscale.runguard), the resolved configuration is
# printed and stored beside the outputs, and a run that succeeds ends by saying where the
# product, the validation table and the report are (smdownscale.run_summary).
onstart:
    import yaml

    _text = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=None)
    logger.info(f"resolved configuration (also in {RUN}/run_config.yaml):\n{_text}")
    write_text_atomic(f"{RUN}/run_config.yaml", _text)
    runguard.claim(os.getcwd())
    _warnings, _notes = runguard.start(RUN)
    for _m in _warnings:
        logger.warning(_m)
    for _m in _notes:
        logger.info(_m)


onsuccess:
    runguard.finish(RUN, success=True)
    logger.info(
        run_summary.summary(
            RUN,
            list(PERIODS),
            run_summary.report_commands(
                RUN,
                Path(workflow.main_snakefile),
                Path.cwd(),
                [str(c) for c in workflow.overwrite_configfiles or ()],
            ),
            started=workflow.start_time,
        )
    )


onerror:
    _m = runguard.finish(RUN, success=False)
    if _m:
        logger.warning(_m)
