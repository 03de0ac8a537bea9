# Daily 1 km soil moisture from ESA CCI by machine-learning members fused with Bayesian
# model averaging. The file tree reads as the DAG: rules/<stage>.smk -> workflow_scripts/.
from snakemake.utils import min_version

min_version("9.0")


import sys

sys.path.insert(0, f"{workflow.basedir}/workflow_scripts")
from smdownscale.configfile import ConfigError, load_file

# The demo is the default; a --configfile replaces it (rather than being merged over it),
# so keys a user leaves out take the schema's defaults, not the demo's values. (Snakemake
# reads --configfile files itself, before this code: `make run CONFIG=...` checks them
# first, with file and line; the default file is checked here.)
if not workflow.overwrite_configfiles:
    try:
        load_file(f"{workflow.basedir}/config/config.yaml")
    except ConfigError as e:
        raise WorkflowError(str(e)) from None

    configfile: "config/config.yaml"


# Validates the config against config/schema/config.schema.yaml and fills its defaults.
include: "rules/common.smk"
include: "rules/common_download.smk"
include: "rules/acquire.smk"
include: "rules/download.smk"
include: "rules/harmonise.smk"
include: "rules/aggregate.smk"
include: "rules/regions.smk"
include: "rules/members.smk"
include: "rules/bma.smk"
include: "rules/evaluate.smk"
include: "rules/uncertainty.smk"
include: "rules/insitu.smk"
include: "rules/sensitivity.smk"
include: "rules/skill.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
