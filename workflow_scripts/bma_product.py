"""Rule bma_product: the daily 1 km soil moisture of a period, with uncertainty and flags.

``sm`` is the configured ensemble (``bma.ensemble``): the BMA mean with the weights and bias
terms of ``bma/weights.nc`` (kriged, or pooled regional fits; ``sm_sd`` the BMA predictive
sd, between-member spread plus sigma), the equal-weight member mean (``sm_sd`` the
between-member sd), the best member per period and region by held-out RMSE, or one member
(``sm_sd`` its held-out RMSE). With ``bma`` configured, the member mean is used instead when
the station-held-out cross-validation found BMA no better (``bma/selection_all.json``,
``bma.fallback_to_mean``); the global attributes say which ran and why. Clipped to
[0, bma.porosity]; ``quality_flag`` records gap-filled predictors, missing predictions,
parameters not kriged, model fallbacks, clipping, and cell-days predicted by the members
fitted without an optional predictor (LST under cloud). Works through blocks of at most
``resources.chunk_rows`` rows and ``bma.chunk_cells`` cell-days, so memory does not grow
with the region.
"""

import json

import netCDF4
import numpy as np
import pandas as pd

from smdownscale.bma import (
    best_member_table,
    bma_moments,
    chosen_member,
    clip_physical,
    equal_weight,
)
from smdownscale.config import run_grids
from smdownscale.features import STATIC
from smdownscale.grid import block_map
from smdownscale.harmonise import check_days
from smdownscale.netcdf import (
    GridFileWriter,
    VarSpec,
    cube_block_rows,
    file_days,
    keep_one_chunk_row,
    read_rows,
)
from smdownscale.prediction import SOURCE_CODES
from smdownscale.rule_io import provenance, setup_logging
from smdownscale.subcell import DetailModel, background, coarse_means, detail

#: quality_flag bits.
FLAGS = {
    "predictors_gap_filled": 1,
    "no_prediction": 2,
    "parameters_pooled": 4,
    "model_from_fallback": 8,
    "clipped_at_zero": 16,
    "clipped_at_porosity": 32,
    "predicted_without_some_predictors": 64,
}
SM = "volume_fraction_of_condensed_water_in_soil"


def var_specs(porosity: float, ensemble: str, sd_meaning: str):
    return [
        VarSpec(
            "sm",
            ("time", "lat", "lon"),
            "f4",
            {
                "standard_name": SM,
                "long_name": f"surface soil moisture, {ensemble} ensemble of the members",
                "units": "m3 m-3",
                "valid_min": np.float32(0.0),
                "valid_max": np.float32(porosity),
                "ancillary_variables": "sm_sd quality_flag",
            },
        ),
        VarSpec(
            "sm_sd",
            ("time", "lat", "lon"),
            "f4",
            {
                "standard_name": f"{SM} standard_error",
                "long_name": f"uncertainty of sm: {sd_meaning}",
                "units": "m3 m-3",
            },
        ),
        VarSpec(
            "quality_flag",
            ("time", "lat", "lon"),
            "i1",  # CF 1.8 has no unsigned types; six bits fit
            {
                "standard_name": "quality_flag",
                "long_name": "quality flags of sm",
                "flag_masks": np.array(list(FLAGS.values()), dtype="i1"),
                "flag_meanings": " ".join(FLAGS),
            },
            fill_value=False,
        ),
    ]


class SubcellDetail:
    """The sub-cell detail correction of one period (``smdownscale.subcell``), row by row:
    each feature's coarse-cell means are computed once (bands of ``band`` rows) and made
    finite (:func:`~smdownscale.subcell.background`), then every block of rows gets
    ``sum coef * detail``, a detail being the feature minus those means interpolated
    between the coarse cell centres (:func:`~smdownscale.subcell.detail`)."""

    def __init__(self, model: DetailModel, pred, static, blocks, band: int):
        self.model, self.blocks = model, blocks
        self.files = {v: static if v in STATIC else pred for v in model.features}
        self.means = {
            v: background(
                coarse_means(lambda rows, v=v: read_rows(self.files[v], v, rows), blocks, band)
            )
            for v in model.features
        }

    def rows(self, rows: slice) -> np.ndarray:
        """The correction of the rows ``rows``: (time, rows, lon), or (rows, lon) when every
        feature is static (float32, 0 where a detail is missing)."""
        return self.model.add(
            detail(read_rows(self.files[v], v, rows), self.means[v], self.blocks, rows)
            for v in self.model.features
        )


SD_MEANING = {
    "bma": "BMA predictive standard deviation (weighted member spread and sigma)",
    "mean": "standard deviation between the members",
    "best": "held-out RMSE of the chosen member in its period and region",
}


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    b = cfg["bma"]
    ens = b["ensemble"]
    requested, why = ens, ""
    if ens == "bma":
        with open(snakemake.input.selection) as fh:
            selection = json.load(fh)
        why = " | ".join(selection["reasons"])
        if selection["ensemble"] == "mean":
            ens = "mean"
            log.warning("BMA did not beat the member mean under station-held-out CV: %s", why)
    members = cfg["members"]["use"]
    period = snakemake.params.period
    _, fine = run_grids(cfg)
    ndays = period.ndays
    keep_one_chunk_row(fine.nlon, ndays)  # not the whole region in netCDF's cache

    choice = {}  # region -> (member index, rmse) for best / single-member ensembles
    if ens not in ("bma", "mean"):
        scores = pd.read_csv(snakemake.input.scores, dtype={"period": str})
        scores = scores[scores.period == period.id]
        table = (
            best_member_table(scores, members)
            if ens == "best"
            else scores[scores.member == ens][["region", "member", "rmse"]]
        )
        for row in table.itertuples():
            choice[int(row.region)] = (members.index(row.member), float(row.rmse))
            log.info("region %d: member %s (held-out RMSE %.4f)", row.region, row.member, row.rmse)

    attrs = provenance(
        cfg,
        f"daily 1 km surface soil moisture ({ens} ensemble), period {period.id}",
        [str(p) for p in snakemake.input],
    )
    attrs.update({"ensemble": ens, "members": " ".join(members), "period": period.id})
    if requested != ens:
        attrs["ensemble_requested"] = requested
    if why:
        attrs["ensemble_choice"] = why
    with open(snakemake.input.subcell) as fh:
        subcell = json.load(fh)["all"]
    model = DetailModel.from_dict(subcell["model"]) if subcell["applied"] else None
    if model is not None and ens != "mean":  # fitted to the member mean's error only
        model = None
        subcell["reason"] = (
            f"fitted to the member mean's error, and the product is the {ens} ensemble"
        )
    attrs["subcell_correction"] = (
        "sub-cell detail calibrated at stations: "
        + (
            ", ".join(f"{c:+.4g} x {v}" for v, c in zip(model.features, model.coef, strict=True))
            + "; "
            if model
            else "not applied: "
        )
        + subcell["reason"]
    )
    log.info("%s", attrs["subcell_correction"])
    with netCDF4.Dataset(snakemake.input.members) as mem:  # how the members were made final
        for key in ("residual_share", "residual_correction", "smoothing"):
            if key in mem.ncattrs():
                attrs[f"members_{key}"] = mem.getncattr(key)
    specs = var_specs(b["porosity"], ens, SD_MEANING.get(ens, SD_MEANING["best"]))
    block = cube_block_rows(cfg["resources"]["chunk_rows"], b["chunk_cells"], fine.nlon, ndays)
    counts = dict.fromkeys(["cells", "missing", "low", "high", "param_fallback"], 0)
    weights = None
    if ens == "bma":
        weights = netCDF4.Dataset(snakemake.input.weights)
    try:
        with (
            netCDF4.Dataset(snakemake.input.members) as mem,
            netCDF4.Dataset(snakemake.input.predictors) as pred,
            netCDF4.Dataset(snakemake.input.static) as static,
            netCDF4.Dataset(snakemake.input.regions) as reg,
            GridFileWriter(
                snakemake.output[0], fine, period.days, specs, attrs, snakemake.threads
            ) as out,
        ):
            check_days(snakemake.input.members, file_days(mem), period.days)
            check_days(snakemake.input.predictors, file_days(pred), period.days)
            sub = None
            if model is not None:
                coarse_grid, _ = run_grids(cfg)
                blocks = block_map(fine, coarse_grid)
                sub = SubcellDetail(model, pred, static, blocks, block)
            for r0 in range(0, fine.nlat, block):
                rows = slice(r0, min(r0 + block, fine.nlat))
                f = np.stack([read_rows(mem, f"sm_{m}", rows) for m in members], axis=-1)
                labels = np.ma.filled(reg.variables["region"][rows, :], -1)
                source = np.ma.filled(mem.variables["model_source"][rows, :], -1)
                flag = np.zeros(f.shape[:3], dtype=np.int8)
                gaps = np.ma.filled(pred.variables["gap_flag"][:, rows, :], 0)
                flag[gaps != 0] |= FLAGS["predictors_gap_filled"]
                subset = np.ma.filled(mem.variables["predictor_set"][:, rows, :], -1)
                flag[subset > 0] |= FLAGS["predicted_without_some_predictors"]
                flag[:, (source != SOURCE_CODES["own"]) & (labels >= 0)] |= FLAGS[
                    "model_from_fallback"
                ]
                if ens == "bma":
                    w, a, bb = (
                        np.stack([read_rows(weights, f"{k}_{m}", rows) for m in members], -1)[None]
                        for k in ("w", "a", "b")
                    )
                    sigma = read_rows(weights, "sigma", rows)[None]
                    mean, sd = bma_moments(w, a, bb, sigma, f)
                    wsrc = np.ma.filled(weights.variables["weights_source"][rows, :], -1)
                    fallback = wsrc > 0
                    flag[:, fallback] |= FLAGS["parameters_pooled"]
                    counts["param_fallback"] += int(fallback.sum()) * ndays
                elif ens == "mean":
                    mean, sd = equal_weight(f)
                else:
                    mean, sd = chosen_member(f, labels, choice)
                if sub is not None:
                    mean = mean + sub.rows(rows)
                missing = ~np.isfinite(mean)
                mean, low, high = clip_physical(mean, b["porosity"])
                sd = np.where(missing, np.nan, sd)
                flag[missing] |= FLAGS["no_prediction"]
                flag[low] |= FLAGS["clipped_at_zero"]
                flag[high] |= FLAGS["clipped_at_porosity"]
                inside = np.broadcast_to(labels >= 0, mean.shape)
                counts["cells"] += int(inside.sum())
                counts["missing"] += int((missing & inside).sum())
                counts["low"] += int(low.sum())
                counts["high"] += int(high.sum())
                out.write("sm", mean, rows=rows)
                out.write("sm_sd", sd, rows=rows)
                out.write("quality_flag", flag, rows=rows)
    finally:
        if weights is not None:
            weights.close()
    log.info(
        "period %s, ensemble %s: %d regional cell-days, %d without a value; clipped at 0: "
        "%d, at porosity %.2f: %d; cell-days with pooled (not kriged) parameters: %d",
        period.id,
        ens,
        counts["cells"],
        counts["missing"],
        counts["low"],
        b["porosity"],
        counts["high"],
        counts["param_fallback"],
    )


if __name__ == "__main__":
    main(snakemake)
