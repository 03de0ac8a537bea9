# k-means regions on the multi-year mean coarse soil moisture (METHOD.md section 4).


rule regions:
    """Cluster coarse cells into regions; fine cells inherit their coarse cell's region."""
    input:
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
    output:
        coarse=f"{RUN}/regions/regions_coarse.nc",
        fine=f"{RUN}/regions/regions_fine.nc",
        figure=report(
            f"{RUN}/regions/regions.png",
            caption="report/regions.rst",
            category="Regions",
        ),
    log:
        f"{LOGS}/regions.log",
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        **job_resources("regions"),
    params:
        settings=settings("region", "grid", "regions"),
    script:
        "../workflow_scripts/regions.py"
