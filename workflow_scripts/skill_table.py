"""Rule skill_table: every world's truth scores and held-out station scores in one table.

Writes ``results/skill/skill.csv`` (every column) and ``skill.md`` (the worlds and the
headline columns, to paste in the README); see ``smdownscale.skill``.
"""

import json
from pathlib import Path

import pandas as pd

from smdownscale.atomic import atomic_path
from smdownscale.rule_io import setup_logging
from smdownscale.skill import markdown_table, skill_table, worlds_markdown

LEGEND = """\
Truth columns, on the evaluation days against the world's true 1 km field: RMSE and bias
on the cell-days where the coarse product has a value, and that RMSE over the coarse
product's on the same cell-days (x coarse); R and within-cell r on the cell-days every
product has; coverage of the truth's cell-days; filled RMSE on the cell-days the product
fills (no coarse value, or a predictor gap-filled or missing); edge: block-edge ratio
(1 = no coarse-cell edges). Station columns (stn): the All row of all networks in Table 4
(held-out stations, evaluation days, station-days where every product has a value).
- = the product has no such score (best member, BMA held-out and in-sample exist only at
stations; the gridded product only on the grid).
"""


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    worlds, descriptions = {}, {}
    for world, truth, stations, run in zip(
        snakemake.params.worlds,
        snakemake.input.truth,
        snakemake.input.stations,
        snakemake.input.runs,
        strict=True,
    ):
        info = json.loads(Path(run).read_text())
        descriptions[world] = info
        if info["status"] != "ok":
            log.error("world %s: run failed (exit %s)", world, info["exit_code"])
            worlds[world] = None
            continue
        worlds[world] = (pd.read_csv(truth), pd.read_csv(stations))
    table = skill_table(worlds)
    with atomic_path(snakemake.output.csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    total = sum(d.get("wall_s", 0.0) for d in descriptions.values())
    text = (
        "## Worlds\n\n"
        + worlds_markdown(descriptions)
        + f"\nSum of the worlds' last wall times: {total / 60:.1f} min.\n\n## Skill\n\n"
        + markdown_table(table)
        + "\n"
        + LEGEND
    )
    with atomic_path(snakemake.output.md) as tmp:
        Path(tmp).write_text(text)
    log.info("%d worlds, %d rows\n%s", len(worlds), len(table), text)


if __name__ == "__main__":
    main(snakemake)
