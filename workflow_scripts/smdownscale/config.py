"""Configuration: schema validation with defaults, semantic checks, and a digest.

The Snakefile calls :func:`prepare_config` on every parse (main process and every job), so
defaults never depend on where a job runs (Snakemake >= 9.5.1 no longer applies schema
defaults inside cluster jobs). A key given as ``null`` (or left empty in YAML) is an error
unless the schema allows null as a value (then null has the meaning the schema describes):
an empty value never silently becomes the demo's. Two exceptions say exactly what they do:
an empty *section* (``aggregation:`` with nothing under it) is an empty mapping, so its keys
take their defaults as if the section were absent; and a real run (``source: real``) must
name its ``run``, ``region.bbox`` and ``dates`` itself, since their defaults are the demo's.
Errors are collected and reported together, each naming the key, what is wrong and what the
key means.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .calendar import Period, periods_between
from .ease2 import Ease2Grid, ease2_region_grids
from .grid import GridError, LatLonGrid, region_grids
from .products.esa_cci import resolve_mask_flags
from .products.smap_target import resolve_surface_flags

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema" / "config.schema.yaml"


class ConfigError(ValueError):
    """An invalid configuration; the message lists every problem with its key."""


def load_schema(path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path) as f:
        return yaml.safe_load(f)


def _allows_null(schema: Mapping[str, Any]) -> bool:
    t = schema.get("type")
    return t == "null" or (isinstance(t, list) and "null" in t)


def _from_cli_string(value: str, schema: Mapping[str, Any]) -> Any:
    """Snakemake passes nested ``--config`` values as strings ('8', 'true', 'null'): give them
    the type the schema asks for, when the schema does not itself accept a string."""
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if not types or "string" in types:
        return value
    if value.strip().lower() in ("null", "none", "~"):
        return None
    if "integer" in types and value.strip().lstrip("+-").isdigit():
        return int(value)
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            return value
    if "boolean" in types and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _is_object(schema: Mapping[str, Any]) -> bool:
    t = schema.get("type")
    return t == "object" or (isinstance(t, list) and "object" in t)


def prune_nulls(cfg: Any, schema: Mapping[str, Any]) -> Any:
    """Normalise a raw configuration before validation (the module docstring's rules).

    An empty section (null where the schema wants an object without allowing null) becomes
    ``{}``; a null value anywhere else is kept, so that validation names it. Dates that YAML
    parsed from unquoted ``2010-04-07`` become ISO strings again, and command-line strings
    get the type the schema asks for (:func:`_from_cli_string`).
    """
    if isinstance(cfg, dt.date):
        return cfg.isoformat()
    if isinstance(cfg, str):
        return _from_cli_string(cfg, schema)
    if isinstance(cfg, list):
        return [prune_nulls(item, schema.get("items", {})) for item in cfg]
    if not isinstance(cfg, Mapping):
        return cfg
    props = schema.get("properties", {})
    out = {}
    for key, value in cfg.items():
        sub = props.get(key, {})
        value = prune_nulls(value, sub)
        if value is None and _is_object(sub) and not _allows_null(sub):
            value = {}
        out[key] = value
    return out


#: Keys a real run must give itself: their schema defaults describe the demo world.
REAL_RUN_REQUIRED = ("run", "region.bbox", "dates.start", "dates.end")


def _given(cfg: Mapping[str, Any], dotted: str) -> bool:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            return False
        node = node[part]
    return True


def missing_real_keys(raw: Mapping[str, Any]) -> list[str]:
    """The :data:`REAL_RUN_REQUIRED` keys a ``source: real`` configuration leaves out."""
    if raw.get("source") != "real":
        return []
    return [k for k in REAL_RUN_REQUIRED if not _given(raw, k)]


def _with_defaults(validator_class: type) -> type:
    """A validator that fills ``default`` values as it descends (the jsonschema FAQ recipe)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _with_defaults(jsonschema.Draft7Validator)


#: Keys that were renamed or replaced: old dotted key -> what to write instead.
RENAMED = {
    "bma.min_gain_se": "min_gain_confidence (a one-sided paired t-test across the held-out "
    "folds at this confidence, default 0.95, instead of a fixed number of standard errors)",
}


def _key(path: Iterator[Any]) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "<top level>"


def _describe(err: jsonschema.ValidationError) -> str:
    key = _key(iter(err.absolute_path))
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        where = "the top level" if key == "<top level>" else f"'{key}'"
        renamed = [
            f"'{e}' is now '{RENAMED[f'{key}.{e}']}'" for e in extra if f"{key}.{e}" in RENAMED
        ]
        return (
            f"unknown config key(s) {', '.join(repr(e) for e in extra)} in {where}; "
            + (f"{'; '.join(renamed)}; " if renamed else "")
            + f"allowed keys: {', '.join(allowed)}"
        )
    desc = err.schema.get("description", "")
    desc = " ".join(str(desc).split())
    if err.instance is None and err.validator == "type":
        default = err.schema.get("default")
        hint = (
            f"; delete the key to take its default {json.dumps(default)}"
            if "default" in err.schema
            else ""
        )
        msg = f"config key '{key}' is empty (null): give it a value{hint}"
        return f"{msg} ({desc})" if desc else msg
    msg = f"config key '{key}': {err.message}"
    return f"{msg} ({desc})" if desc else msg


def validate(cfg: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of ``cfg`` with defaults filled, or raise ConfigError listing all problems."""
    resolved = prune_nulls(copy.deepcopy(dict(cfg)), schema)
    validator = _DefaultingValidator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(resolved), key=lambda e: list(e.absolute_path))
    problems = [_describe(e) for e in errors]
    problems += [
        f"config key '{k}' is not given: a real run (source: real) must set it, since its "
        "default describes the demo world"
        for k in missing_real_keys(cfg)
    ]
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise ConfigError(f"invalid configuration ({len(problems)} problem(s)):\n{lines}")
    return resolved


def check_semantics(cfg: Mapping[str, Any]) -> None:
    """Checks a schema cannot express: date order, a bbox that holds a coarse cell, nesting."""
    problems = []
    start, end = run_dates(cfg)
    if end < start:
        problems.append(f"config key 'dates.end' ({end}) is before 'dates.start' ({start})")
    try:
        run_grids(cfg)
    except GridError as e:
        problems.append(f"config key 'region.bbox' / 'grid': {e}")
    unc = cfg["uncertainty"]
    known = {*cfg["members"]["use"], "coarse", "product"}
    if unc["tch"] and not set(unc["tch_products"]) <= known:
        problems.append(
            f"config key 'uncertainty.tch_products': {sorted(set(unc['tch_products']) - known)} "
            f"are not products of this run; choose from {sorted(known)}"
        )
    names = [n["name"] for n in cfg["demo"]["networks"]]
    if len(set(names)) != len(names):
        problems.append(f"config key 'demo.networks': network names repeat: {names}")
    if cfg["grid"]["coarse_product"] == "esa_cci" and cfg["grid"]["coarse_res_deg"] != 0.25:
        problems.append(
            f"config key 'grid.coarse_res_deg' is {cfg['grid']['coarse_res_deg']}, but the "
            "coarse product esa_cci is on a 0.25 deg grid: set it to 0.25"
        )
    try:
        resolve_mask_flags(cfg["esa_cci"]["mask_flags"])
    except ValueError as e:
        problems.append(f"config key 'esa_cci.mask_flags': {e}")
    try:
        resolve_surface_flags(cfg["smap"]["mask_surface_flags"])
    except ValueError as e:
        problems.append(f"config key 'smap.mask_surface_flags': {e}")
    stations = cfg["stations"]
    if cfg["source"] == "real" and not (stations["ismn"] or stations["csv"]):
        problems.append(
            "config key 'stations': source is 'real' but no station data is configured; list "
            "ISMN archives under 'stations.ismn' or CSV networks under 'stations.csv' (the BMA "
            "weights are learned from stations)"
        )
    problems += _bma_problems(cfg)
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def bma_train_dates(cfg: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """First and last weight-training day: ``bma.train_start/end``, else the run's dates."""
    start, end = run_dates(cfg)
    b = cfg["bma"]
    return (
        dt.date.fromisoformat(str(b["train_start"])) if b["train_start"] else start,
        dt.date.fromisoformat(str(b["train_end"])) if b["train_end"] else end,
    )


def bma_eval_dates(cfg: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """First and last evaluation day: ``bma.eval_start/end``, else the day after the weight
    training to the run's end (an empty window when training reaches the run's end)."""
    _, end = run_dates(cfg)
    _, train_end = bma_train_dates(cfg)
    b = cfg["bma"]
    return (
        dt.date.fromisoformat(str(b["eval_start"]))
        if b["eval_start"]
        else train_end + dt.timedelta(days=1),
        dt.date.fromisoformat(str(b["eval_end"])) if b["eval_end"] else end,
    )


def _bma_problems(cfg: Mapping[str, Any]) -> list[str]:
    b = cfg["bma"]
    problems = []
    if b["burn_in"] >= b["steps"]:
        problems.append(
            f"config key 'bma.burn_in' ({b['burn_in']}) must be below 'bma.steps' ({b['steps']})"
        )
    if b["min_acceptance"] >= b["max_acceptance"]:
        problems.append("config key 'bma.min_acceptance' must be below 'bma.max_acceptance'")
    if b["walkers"] < 2 * len(cfg["members"]["use"]):
        problems.append(
            f"config key 'bma.walkers' ({b['walkers']}) must be at least twice the number of "
            f"sampled parameters ({len(cfg['members']['use'])})"
        )
    if b["ensemble"] not in ("bma", "mean", "best") and b["ensemble"] not in cfg["members"]["use"]:
        problems.append(
            f"config key 'bma.ensemble' is '{b['ensemble']}', a member not in 'members.use' "
            f"{cfg['members']['use']}"
        )
    if b["ensemble"] == "bma" and len(cfg["members"]["use"]) < 2:
        problems.append("config key 'bma.ensemble' is 'bma' but 'members.use' lists one member")
    try:
        t0, t1 = bma_train_dates(cfg)
        start, end = run_dates(cfg)
        if t1 < t0:
            problems.append(f"config key 'bma.train_end' ({t1}) is before 'bma.train_start' ({t0})")
        elif t1 < start or t0 > end:
            problems.append(
                f"config keys 'bma.train_start/train_end' ({t0}..{t1}) do not overlap the run's "
                f"dates ({start}..{end}): no station pair could train the weights"
            )
        if t1 > end:
            problems.append(
                f"config key 'bma.train_end' ({t1}) is after the run's last day ({end}): set it "
                "to a day inside 'dates' and keep the days after it for evaluation"
            )
        e0, e1 = bma_eval_dates(cfg)
        if e0 <= e1 and e0 <= t1 and t0 <= e1:
            problems.append(
                f"config keys 'bma.eval_start/eval_end' ({e0}..{e1}) overlap the weight-training "
                f"days ({t0}..{t1}): evaluation must use days that did not train the weights"
            )
    except ValueError as e:
        problems.append(f"config key 'bma.train_start/train_end/eval_start/eval_end': {e}")
    return problems


def evaluation_problem(cfg: Mapping[str, Any]) -> str | None:
    """Why the run has no evaluation day, or None (the workflow's validation needs some)."""
    e0, e1 = bma_eval_dates(cfg)
    if e0 <= e1:
        return None
    start, end = run_dates(cfg)
    _, t1 = bma_train_dates(cfg)
    return (
        f"invalid configuration: no evaluation day in the run ({start}..{end}): the BMA weights "
        f"train up to {t1} ('bma.train_end', unset means the run's end) and 'bma.eval_start/"
        "eval_end' leave nothing after it, but the validation stage scores the product on days "
        "that did not train the weights; set 'bma.train_end' before the run's end"
    )


def prepare_config(cfg: Mapping[str, Any], schema_path: str | Path = SCHEMA_PATH) -> dict[str, Any]:
    """Validate, fill defaults and check a raw configuration; the workflow's single entry point."""
    resolved = validate(cfg, load_schema(schema_path))
    ev = resolved["evaluation"]
    ev["reference_models"] = reference_models(ev["reference_models"])
    check_semantics(resolved)
    return resolved


def region_count(cfg: Mapping[str, Any]) -> int:
    """The number of k-means regions the run uses: ``regions.k``, lowered so that each
    region has at least ``regions.min_cells`` of the grid's coarse cells (at least one)."""
    coarse, _ = run_grids(cfg)
    rcfg = cfg["regions"]
    return max(1, min(int(rcfg["k"]), coarse.nlat * coarse.nlon // int(rcfg["min_cells"])))


#: The gridded reference models an evaluation can compare the product with.
REFERENCE_MODELS = ("era5_land", "gldas_noah")


def reference_models(value: bool | list[str]) -> list[str]:
    """``evaluation.reference_models`` as a list of reference names: ``true`` (the switch
    of earlier versions) means ERA5-Land alone, ``false`` none."""
    if isinstance(value, bool):
        return ["era5_land"] if value else []
    return [r for r in REFERENCE_MODELS if r in value]


def digest(cfg: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the resolved configuration (for provenance)."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def run_dates(cfg: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    d = cfg["dates"]
    return dt.date.fromisoformat(str(d["start"])), dt.date.fromisoformat(str(d["end"]))


def run_periods(cfg: Mapping[str, Any]) -> list[Period]:
    start, end = run_dates(cfg)
    return periods_between(start, end, cfg["dates"]["period_days"])


def run_grids(cfg: Mapping[str, Any]) -> tuple[LatLonGrid | Ease2Grid, LatLonGrid]:
    """(coarse, fine) grids of the run's region: the target product's own grid (ESA CCI's
    0.25 deg lat/lon cells, or the EASE-Grid 2.0 36 km window of SMAP L3) covering the
    bbox, and the fine grid over the same cells."""
    bbox = tuple(cfg["region"]["bbox"])
    fine_res = cfg["grid"]["fine_res_deg"]
    if cfg["grid"].get("coarse_product", "esa_cci") == "smap_l3":  # partial configs: ESA CCI
        return ease2_region_grids(bbox, fine_res)
    return region_grids(bbox, cfg["grid"]["coarse_res_deg"], fine_res)
