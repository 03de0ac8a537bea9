"""Rule member_scores: the run's held-out scores and model sources as two tables."""

import json

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    scores, sources = [], []
    for path in snakemake.input.meta:
        with open(path) as f:
            meta = json.load(f)
        for rec in meta["regions"]:
            sources.append({k: v for k, v in rec.items() if k != "scores"})
            for member, s in (rec.get("scores") or {}).items():
                scores.append(
                    {
                        "period": meta["period"],
                        "region": rec["region"],
                        "model": "own",
                        "member": member,
                        **s,
                    }
                )
        if meta.get("pooled"):
            for member, s in meta["pooled"]["scores"].items():
                scores.append(
                    {
                        "period": meta["period"],
                        "region": "all",
                        "model": "pooled",
                        "member": member,
                        **s,
                    }
                )
    columns = ["period", "region", "model", "member", "n", "r", "rmse"]
    columns += [c for c in ("split", "ks_p", "split_draws") if any(c in s for s in scores)]
    scores = pd.DataFrame(scores, columns=columns)
    if "split_draws" in scores and (scores["split"] == "ks_stratified").any():
        ks = scores.drop_duplicates(["period", "region", "model"])
        log.info("KS-checked splits: %d fits, draws median %d max %d, p below 0.05 after all "
                 "draws in %d", len(ks), ks.split_draws.median(), ks.split_draws.max(),
                 int((ks.ks_p <= 0.05).sum()))  # fmt: skip
    sources = pd.DataFrame(sources)
    counts = sources["source"].value_counts().to_dict()
    log.info("model sources over %d period-regions: %s", len(sources), counts)
    if not scores.empty:
        summary = scores.groupby("member")[["r", "rmse"]].median()
        log.info("median held-out scores per member:\n%s", summary.to_string())
    with atomic_path(snakemake.output.scores) as tmp:
        scores.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(snakemake.output.sources) as tmp:
        sources.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)
