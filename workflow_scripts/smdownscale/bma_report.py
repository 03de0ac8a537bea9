"""What the BMA stage did, as tables and caption text (METHOD.md section 8: "the report says,
per field and region, which path ran").

- :func:`parameter_paths`: per parameter field and region, the path that produced it:
  ``kriged`` (station parameters kriged), ``pooled`` (the region's pooled fit),
  ``pooled_all_regions`` (the all-region pooled fit, for a region with too few training
  stations) or ``identity`` (bias terms at a = 0, b = 1: full shrinkage).
- :func:`participation`: per network, how many stations took part and why the others did
  not (outside the region's box, in no region, no day with every member, too few pairs,
  failed chain diagnostics).
- :func:`paths_caption`, :func:`participation_sentence`, :func:`heldout_sentence`: the
  sentences the report's captions include, so that a caption never says "kriged" when the
  pooled fit ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .bma_pooled import ALL_REGIONS
from .bma_stations import KEY, parameter_columns

PATHS = ("kriged", "pooled", "pooled_all_regions", "identity")


def parameter_paths(
    members: Sequence[str],
    regions: Sequence[int],
    kriged: bool,
    pooled: pd.DataFrame,
    reason: str = "",
) -> pd.DataFrame:
    """One row per parameter field and region: ``path``, the fit it came from and its value.

    ``pooled``: the pooled-fit table (region, identity_bias, shrinkage and the field
    columns with ``_sd``); ``regions``: the region labels of the grid; ``reason``: why the
    fields are not kriged (empty when they are).
    """
    rows = []
    by_region = {int(r.region): r for r in pooled.itertuples(index=False)}
    for name in parameter_columns(members):
        bias = name.startswith(("a_", "b_"))
        for region in regions:
            own = int(region) in by_region
            fit = by_region.get(int(region), by_region.get(ALL_REGIONS))
            if kriged:
                path, source, value, sd = "kriged", "station parameters", np.nan, np.nan
            else:
                assert fit is not None
                source = f"region {int(region)}" if own else "all regions"
                value, sd = getattr(fit, name), getattr(fit, f"{name}_sd")
                if bias and bool(fit.identity_bias):
                    path = "identity"
                else:
                    path = "pooled" if own else "pooled_all_regions"
            rows.append(
                {
                    "field": name,
                    "region": int(region),
                    "path": path,
                    "kriged": path == "kriged",
                    "fallback_reason": "" if kriged else reason,
                    "fit": source,
                    "value": value,
                    "sd": sd,
                    "shrinkage": np.nan if fit is None else float(fit.shrinkage),
                }
            )
    return pd.DataFrame(rows)


def participation(
    stations: pd.DataFrame,
    outside: pd.DataFrame,
    pairs_stations: pd.DataFrame,
    folds: pd.DataFrame,
    posteriors: pd.DataFrame,
) -> pd.DataFrame:
    """Per network: stations, why those that do not train do not, and who trains.

    Args:
        stations: the harmonised station table (network, station; one row per record).
        outside: stations dropped for lying outside the region's box (network, station).
        pairs_stations: stations in the station-member pairs (inside a region).
        folds: the folds table (network, station, takes_part, interval_days,
            min_pairs_required).
        posteriors: the all-station posterior table (network, station, converged).
    """
    keys = lambda t: set(map(tuple, t[KEY].astype(str).drop_duplicates().to_numpy()))  # noqa: E731
    in_box = keys(stations)
    out_box = keys(outside) if len(outside) else set()
    in_region = keys(pairs_stations)
    with_pair = keys(folds)
    taking = keys(folds[folds.takes_part.astype(bool)])
    converged = keys(posteriors[posteriors.converged.astype(bool)]) if len(posteriors) else set()
    flagged = keys(posteriors[~posteriors.converged.astype(bool)]) if len(posteriors) else set()
    networks = sorted({k[0] for k in in_box | out_box})
    rows = []
    for net in networks:

        def count(s: set, net: str = net) -> int:
            return sum(1 for k in s if k[0] == net)

        sel = folds[folds.network.astype(str) == net]
        rows.append(
            {
                "network": net,
                "stations": count(in_box | out_box),
                "outside_region_box": count(out_box - in_box),
                "in_no_region": count(in_box - in_region),
                "no_day_with_every_member": count(in_region - with_pair),
                "too_few_pairs": count(with_pair - taking),
                "taking_part": count(taking),
                "failed_diagnostics": count(flagged & taking),
                "converged": count(converged & taking),
                "interval_days": float(sel.interval_days.iloc[0]) if len(sel) else np.nan,
                "min_pairs_required": int(sel.min_pairs_required.iloc[0]) if len(sel) else -1,
            }
        )
    return pd.DataFrame(rows)


def participation_sentence(table: pd.DataFrame) -> str:
    """One sentence per network: who took part, and why the others did not."""
    parts = []
    for r in table.itertuples(index=False):
        why = []
        for col, text in (
            ("outside_region_box", "outside the region's box"),
            ("in_no_region", "in no region"),
            ("no_day_with_every_member", "no day with every member"),
            ("too_few_pairs", f"fewer than {r.min_pairs_required} training pairs"),
        ):
            n = int(getattr(r, col))
            if n:
                why.append(f"{n} {text}")
        every = "" if np.isnan(r.interval_days) else f" (sampled every {r.interval_days:g} d)"
        text = f"{r.network}{every}: {r.taking_part} of {r.stations} stations took part"
        if why:
            text += " (not: " + ", ".join(why) + ")"
        if r.failed_diagnostics:
            text += f"; {r.failed_diagnostics} chains failed the diagnostics (not kriged)"
        parts.append(text)
    return "; ".join(parts) + "."


def paths_caption(
    paths: pd.DataFrame, selection: Mapping[str, Any], ensemble: str, blend: float = 0.0
) -> str:
    """What produced the parameter fields and the product, as caption sentences; ``blend``
    is the SD (coarse cells) of the Gaussian mixing pooled values across region borders."""
    counts = paths.groupby("path").size()
    fields = paths.field.nunique()
    regions = paths.region.nunique()
    if bool(paths.kriged.all()):
        what = f"All {fields} parameter fields were kriged from the stations' posteriors."
    else:
        share = ", ".join(f"{k} {int(v)}" for k, v in counts.items())
        what = (
            f"No field was kriged: each of the {fields} fields in each of the {regions} "
            f"regions came from a pooled regional BMA fit ({share} field-regions; "
            f"'identity' = bias terms a = 0, b = 1)."
        )
        if blend > 0 and regions > 1:
            what += (
                f" Near region borders the regions' values were mixed with Gaussian weights "
                f"of SD {blend:g} coarse cells, as the members' predictions are."
            )
    text = [what]
    text += [sentence(r) for r in selection.get("reasons", [])]
    if ensemble == "bma" and selection.get("ensemble") == "mean":
        text.append("The product's sm is therefore the member mean, not BMA.")
    return " ".join(text)


def sentence(text: str) -> str:
    """``text`` with a capital first letter and a full stop."""
    text = str(text).strip().rstrip(".")
    return text[:1].upper() + text[1:] + "." if text else ""


def variogram_sentence(fit: Mapping[str, Any]) -> str:
    """The variogram fit (``VariogramFit.attrs()``) in one sentence: method, range, sill,
    nugget, R2, station pairs, or why there is none."""
    n = fit.get("variogram_n_stations", 0)
    if fit.get("variogram_method", "none") == "none":
        return f"No variogram of the {n} stations' parameters: {fit.get('variogram_failure')}."
    text = (
        f"Variogram ({fit['variogram_method']}, {fit['variogram_family']}): {n} stations, "
        f"{fit['variogram_n_pairs']} station pairs, length scale "
        f"{fit['variogram_len_scale_km']:.4g} km, sill 1 (normalised), nugget fraction "
        f"{fit['variogram_nugget_fraction']:.3g}, R2 {fit['variogram_r2']:.3g}"
    )
    if fit.get("variogram_note"):
        text += f"; the configured prior range was used because {fit['variogram_note']}"
    return text + "."


def heldout_sentence(folds: pd.DataFrame) -> str:
    """How the held-out BMA values were produced, from the per-fold choices (columns fold,
    path, shrinkage, ensemble)."""
    n = len(folds)
    kriged = int((folds.path == "kriged").sum())
    identity = int((folds.shrinkage == 1.0).sum())
    mean = int((folds.ensemble == "mean").sum())
    if kriged == 0:
        how = (
            f"from the pooled regional BMA fits of the other folds' stations in all {n} "
            f"folds (bias terms at identity in {identity} of {n})"
        )
    else:
        how = (
            f"from kriged station parameters in {kriged} of {n} folds and pooled regional "
            f"fits in the others (bias terms at identity in {identity} of {n})"
        )
    return (
        f"'BMA held-out' values come {how}; 'product held-out' is BMA or the member mean as "
        f"each fold's own cross-validation chose (member mean in {mean} of {n} folds)."
    )
