# Skill across worlds (issue 12; METHOD.md section 10): the whole workflow on the demo and
# other demo worlds, each scored against its own true 1 km field and at held-out stations,
# gathered into one table. `make skill` runs the target `skill`.
#
# A world is config/config.yaml with config/skill/<world>.yaml merged over it; the world
# file sets run: skill/<world>, so its results live under results/skill/<world>/. Each
# world runs as a Snakemake subprocess of this same workflow (one world at a time on two
# cores; more cores run worlds side by side), which decides itself what is out of date:
# `make skill` forces the skill_world jobs so that every world is brought up to date.

SKILL = "results/skill"
SKILL_WORLDS = sorted(
    p.stem for p in Path(workflow.basedir, "config/skill").glob("*.yaml")
)


wildcard_constraints:
    world=r"[A-Za-z0-9_-]+",


rule skill_world:
    """Run the workflow on one world; copy its truth scores and Table 4 beside run.json."""
    input:
        base=f"{workflow.basedir}/config/config.yaml",
        world=f"{workflow.basedir}/config/skill/{{world}}.yaml",
    output:
        truth=f"{SKILL}/{{world}}/skill/truth_scores.csv",
        stations=f"{SKILL}/{{world}}/skill/table4_stations.csv",
        run=f"{SKILL}/{{world}}/skill/run.json",
    log:
        rule=f"{SKILL}/{{world}}/skill/skill_world.log",
        workflow=f"{SKILL}/{{world}}/skill/snakemake.log",
    conda:
        "../envs/bayes.yaml"
    threads: 2
    resources:
        **job_resources("skill_world"),
    params:
        snakemake=[sys.executable, "-m", "snakemake"],
        snakefile=workflow.main_snakefile,
        profile="profiles/default",
        extra=inner_deployment(),
    script:
        "../workflow_scripts/skill_world.py"


rule skill_table:
    """Every world's truth and held-out station scores in one table (csv and markdown)."""
    input:
        truth=expand(rules.skill_world.output.truth, world=SKILL_WORLDS),
        stations=expand(rules.skill_world.output.stations, world=SKILL_WORLDS),
        runs=expand(rules.skill_world.output.run, world=SKILL_WORLDS),
    output:
        csv=f"{SKILL}/skill.csv",
        md=f"{SKILL}/skill.md",
    log:
        f"{SKILL}/logs/skill_table.log",
    localrule: True
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        worlds=SKILL_WORLDS,
    script:
        "../workflow_scripts/skill_table.py"


rule skill:
    """The multi-world skill table (make skill)."""
    input:
        rules.skill_table.output,
