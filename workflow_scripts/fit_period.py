"""Rule fit_period: every member for each region of a period, with window and fallbacks.

Each member is fitted on every subset of the predictors that drops optional (gappy)
predictors (``members.optional_predictors``), so a cell-day without LST is predicted by a
model fitted without it (:mod:`smdownscale.members.subsets`).

The previous period's "own model" status is recomputed here from the same coarse files with
the same deterministic selection, so a period's fit never waits for the previous fit.
"""

import json
import pickle

import numpy as np
import xarray as xr

from smdownscale.atomic import atomic_path, write_text_atomic
from smdownscale.config import region_count
from smdownscale.members import fit_member
from smdownscale.members.subsets import fit_subsets, predictor_subsets, subset_label
from smdownscale.rule_io import rule_config, setup_logging
from smdownscale.sensitivity import removed_samples
from smdownscale.training import load_coarse_stack, period_selections, window_settings
from smdownscale.windows import fallback_counts, heldout_mask, model_source


def score(y, pred):
    ok = np.isfinite(pred)
    if ok.sum() < 3:
        return {"n": int(ok.sum()), "r": None, "rmse": None}
    y, pred = y[ok], pred[ok]
    r = float(np.corrcoef(y, pred)[0, 1]) if np.std(pred) > 0 and np.std(y) > 0 else None
    return {"n": int(ok.sum()), "r": r, "rmse": float(np.sqrt(np.mean((pred - y) ** 2)))}


def fit_all(sel, members, hyper, mcfg, subsets, names, log, label, threads=1):
    """Fit every member (on each predictor subset) on a selection minus its held-out cells;
    score on the held-out."""
    held, split = heldout_mask(sel.coords, sel.y, mcfg)
    if split["split"] == "ks_stratified":
        log.info("%s: held-out cells drawn %d time(s), KS p %.3f", label, split["split_draws"],
                 split["ks_p"])  # fmt: skip
    fitted, scores = {}, {}
    for name in members:

        def fit(X, y, name=name):
            return fit_member(
                name,
                X,
                y,
                hyper[name]["params"],
                mcfg["seed"],
                max_samples=mcfg["svr_max_samples"] if name == "svr" else None,
                n_jobs=threads,
            )

        fm, counts = fit_subsets(
            fit, name, sel.X[~held], sel.y[~held], subsets, mcfg["min_samples_per_predictor"]
        )
        if name == members[0]:
            log.info(
                "%s: samples per predictor subset %s",
                label,
                {subset_label(names, subsets[int(i)]): n for i, n in counts.items()},
            )
        fitted[name] = fm
        scores[name] = {
            **(
                score(sel.y[held], fm.predict(sel.X[held]))
                if held.any()
                else {"n": 0, "r": None, "rmse": None}
            ),
            **split,
        }
        log.info(
            "%s %s: trained on %d, held-out R %s RMSE %s (n %d)",
            label,
            name,
            int((~held).sum()),
            _fmt(scores[name]["r"]),
            _fmt(scores[name]["rmse"]),
            scores[name]["n"],
        )
    return fitted, scores


def _fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg, exp = rule_config(snakemake)
    mcfg = cfg["members"]
    names = cfg["predictors"]["use"]
    members = mcfg["use"]
    period = snakemake.params.period
    neighbours = snakemake.params.neighbours
    days, sm, feats = load_coarse_stack(snakemake.input.coarse, names)
    if exp is not None:
        removed = removed_samples(days, sm.shape[1:], exp, mcfg["seed"])
        log.info("sensitivity experiment %s: %s; %d of %d coarse cell-days with a value "
                 "removed", exp.name, exp.describe(), int((removed & np.isfinite(sm)).sum()),
                 int(np.isfinite(sm).sum()))  # fmt: skip
        sm = np.where(removed, np.nan, sm)
    with xr.open_dataset(snakemake.input.regions) as ds:
        labels = ds["region"].values
    with open(snakemake.input.hyperparameters) as f:
        hyper = json.load(f)["members"]
    k = region_count(cfg)
    subsets = predictor_subsets(names, mcfg["optional_predictors"])
    window = window_settings(mcfg, names)

    def selections(p):
        return period_selections(days, sm, feats, labels, p, k, mcfg, names)

    own, pooled = selections(period)
    i = [p.id for p in neighbours].index(period.id)
    if i > 0:  # the previous period of the run: did its regions have their own models?
        prev_own, _ = selections(neighbours[i - 1])
        previous_has_own = {c: prev_own[c].criterion_met for c in range(k)}
    else:
        previous_has_own = dict.fromkeys(range(k), False)

    bundle = {
        "period": period.id,
        "predictors": list(names),
        "members": list(members),
        "subsets": [subset_label(names, s) for s in subsets],
        "regions": {},
        "pooled": None,
    }

    def fit(sel, label):
        return fit_all(sel, members, hyper, mcfg, subsets, names, log, label, snakemake.threads)

    records, sources = [], []
    for c in range(k):
        src = model_source(own[c], previous_has_own[c], pooled)
        sources.append(src)
        rec = {"period": period.id, **src.as_record()}
        log.info("region %d: %s (%s)", c, src.source, src.reason)
        if src.source == "own":
            bundle["regions"][c], rec["scores"] = fit(own[c], f"region {c}")
        records.append(rec)
    pooled_record = None
    if any(r["source"] == "pooled" for r in records):
        bundle["pooled"], scores = fit(pooled, "all regions")
        pooled_record = {"n": pooled.n, "level": pooled.level, "scores": scores}
    counts = fallback_counts(sources)
    log.info("period %s model sources: %s", period.id, counts)
    if not bundle["regions"] and bundle["pooled"] is None:
        log.warning(
            "period %s: no region has a model of its own or a pooled one; regions "
            "served by the previous period's models only, the rest stay missing",
            period.id,
        )
    with atomic_path(snakemake.output.models) as tmp, open(tmp, "wb") as f:
        pickle.dump(bundle, f, protocol=pickle.HIGHEST_PROTOCOL)
    write_text_atomic(
        snakemake.output.meta,
        json.dumps(
            {
                "period": period.id,
                "predictors": list(names),
                "members": list(members),
                "min_samples": window["min_samples"],
                "subsets": bundle["subsets"],
                "regions": records,
                "pooled": pooled_record,
                "source_counts": counts,
            },
            indent=2,
            default=_json_default,
        ),
    )


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value)}")


if __name__ == "__main__":
    main(snakemake)
