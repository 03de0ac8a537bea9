# Raw products -> daily predictor cubes on the fine grid; stations -> one tidy table.
# The rules reading raw files take them from the period's raw index (rule index_raw, whose
# inputs they are): a new or changed raw file remakes the index and so what reads it, and
# the DAG lists each of the paper run's 86,000 raw files once, not once per reader.


rule harmonise_static:
    """Elevation (SRTM block mean) on the fine grid."""
    input:
        index=f"{RUN}/raw_index/static.tsv",
    output:
        f"{RUN}/fine/static.nc",
    log:
        f"{LOGS}/harmonise_static.log",
    conda:
        "../envs/geo.yaml"
    threads: 1
    resources:
        **job_resources("harmonise_static"),
    params:
        settings=settings("region", "grid"),
    script:
        "../workflow_scripts/harmonise_static.py"


rule harmonise_predictors:
    """LST, NDVI, albedo and precipitation for every day of a period on the fine grid."""
    input:
        index=f"{RUN}/raw_index/{{period}}.tsv",
    output:
        f"{RUN}/fine/predictors_{{period}}.nc",
    log:
        f"{LOGS}/harmonise_predictors/{{period}}.log",
    benchmark:
        f"{RUN}/benchmarks/harmonise_predictors/{{period}}.tsv"
    conda:
        "../envs/geo.yaml"
    threads: THREADS
    resources:
        **job_resources("harmonise_predictors"),
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("region", "grid", "predictors", "gapfill"),
    script:
        "../workflow_scripts/harmonise_predictors.py"


rule harmonise_stations:
    """In-situ networks -> daily station table with fine/coarse cell indices."""
    input:
        **station_inputs(),
    output:
        table=f"{RUN}/stations/stations.parquet",
        dropped=f"{RUN}/stations/stations_outside_region.csv",
        checks=report(
            f"{RUN}/stations/station_checks.csv",
            caption="report/station_checks.rst",
            category="Stations",
        ),
    log:
        f"{LOGS}/harmonise_stations.log",
    conda:
        "../envs/geo.yaml"
    threads: 1
    resources:
        **job_resources("harmonise_stations"),
    params:
        settings=settings("region", "grid", "dates", "stations"),
    script:
        "../workflow_scripts/harmonise_stations.py"
