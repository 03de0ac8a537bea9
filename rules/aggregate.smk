# Fine predictors -> coarse grid, beside the coarse soil moisture with its flags applied.


rule aggregate_period:
    """Coarse soil moisture and block-aggregated predictors for every day of a period."""
    input:
        index=f"{RUN}/raw_index/{{period}}.tsv",
        predictors=f"{RUN}/fine/predictors_{{period}}.nc",
        static=rules.harmonise_static.output[0],
    output:
        f"{RUN}/coarse/coarse_{{period}}.nc",
    log:
        f"{LOGS}/aggregate/{{period}}.log",
    conda:
        "../envs/geo.yaml"
    threads: 1
    resources:
        **job_resources("aggregate_period"),
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("region", "grid", "esa_cci", "smap", "aggregation"),
    script:
        "../workflow_scripts/aggregate_period.py"
