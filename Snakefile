# Daily 1 km soil moisture from ESA CCI by machine-learning members fused with Bayesian
# model averaging. The file tree reads as the DAG: rules/<stage>.smk -> workflow_scripts/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


# Validates the config against config/schema/config.schema.yaml and fills its defaults.
include: "rules/common.smk"
include: "rules/acquire.smk"
include: "rules/harmonise.smk"
include: "rules/aggregate.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
