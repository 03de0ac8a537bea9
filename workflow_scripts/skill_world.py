"""Rule skill_world: run the whole workflow on one skill world, in a Snakemake subprocess.

The world is the demo config with ``config/skill/<world>.yaml`` merged over it (two
``--configfile`` files; the world file sets ``run: skill/<world>``, so its results live
under ``results/skill/<world>/``). The inner run decides itself what is out of date. Its
output goes to the rule's second log; its truth scores and Table 4 are copied beside a
``run.json`` (world, command, status, wall time). A failed world is recorded as failed
(empty tables, exit code and the log's tail in ``run.json``) so the other worlds still
make the table.
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

from smdownscale.atomic import atomic_path
from smdownscale.config import prepare_config
from smdownscale.configfile import load_file, merge_configs
from smdownscale.rule_io import setup_logging
from smdownscale.skill import world_description


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    world = snakemake.wildcards.world
    files = [snakemake.input.base, snakemake.input.world]
    cfg = prepare_config(merge_configs(*(load_file(f) for f in files)))
    if cfg["run"] != f"skill/{world}":
        raise ValueError(f"{files[1]} must set run: skill/{world} (it sets {cfg['run']!r})")
    run_dir = Path("results") / cfg["run"]
    cmd = [
        *snakemake.params.snakemake,
        "--snakefile",
        snakemake.params.snakefile,
        "--profile",
        snakemake.params.profile,
        "--configfile",
        *files,
        "--cores",
        str(snakemake.threads),
        "--nolock",  # the outer run holds the working directory's lock
        *snakemake.params.extra,
    ]
    log.info("world %s: %s", world, " ".join(cmd))
    t0 = time.monotonic()
    with open(snakemake.log.workflow, "w") as out:
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.monotonic() - t0
    info = {"world": world, **world_description(cfg), "command": cmd, "exit_code": rc,
            "wall_s": round(wall, 1), "status": "ok" if rc == 0 else "failed"}  # fmt: skip
    if rc == 0:
        for key in ("truth", "stations"):
            src = run_dir / "validation" / Path(snakemake.output[key]).name
            with atomic_path(snakemake.output[key]) as tmp:
                shutil.copyfile(src, tmp)
        log.info("world %s done in %.1f min", world, wall / 60)
    else:
        tail = Path(snakemake.log.workflow).read_text().splitlines()[-40:]
        info["log_tail"] = tail
        for key in ("truth", "stations"):
            Path(snakemake.output[key]).write_text("")
        log.error("world %s FAILED (exit %d) after %.1f min; last lines of %s:\n%s", world, rc,
                  wall / 60, snakemake.log.workflow, "\n".join(tail))  # fmt: skip
    with atomic_path(snakemake.output.run) as tmp:
        Path(tmp).write_text(json.dumps(info, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main(snakemake)
