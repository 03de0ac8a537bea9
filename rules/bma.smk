# Bayesian model averaging (METHOD.md sections 7-9): station-member pairs, spatial station
# folds, emcee posteriors per station and fold, kriged parameter maps, the held-out station
# series and the daily 1 km product.

BMA = f"{RUN}/bma"
FOLDS = [str(f) for f in range(1, config["bma"]["folds"] + 1)]


wildcard_constraints:
    fold=r"all|\d+",


rule bma_station_pairs:
    """Each station-day's in-situ value beside every member's prediction at its cell."""
    input:
        stations=rules.harmonise_stations.output.table,
        regions=rules.regions.output.fine,
        members=expand(f"{RUN}/members/members_{{period}}.nc", period=PERIODS),
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
    output:
        f"{BMA}/station_pairs.parquet",
    log:
        f"{LOGS}/bma_station_pairs.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        settings=settings("members", "bma"),
    script:
        "../workflow_scripts/bma_station_pairs.py"


rule bma_station_folds:
    """Stations taking part in the BMA, and their spatially grouped folds."""
    input:
        pairs=rules.bma_station_pairs.output[0],
    output:
        report(
            f"{BMA}/station_folds.csv",
            caption="report/station_folds.rst",
            category="BMA",
        ),
    log:
        f"{LOGS}/bma_station_folds.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_station_folds.py"


rule bma_posteriors:
    """emcee posteriors (weights, sigma) and bias terms of a fold's training stations."""
    input:
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
    output:
        f"{BMA}/posteriors_{{fold}}.csv",
    log:
        f"{LOGS}/bma_posteriors/{{fold}}.log",
    benchmark:
        f"{RUN}/benchmarks/bma_posteriors/{{fold}}.tsv"
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_posteriors.py"


rule bma_weights:
    """The stations' parameters kriged to the fine grid, with kriging SD."""
    input:
        posteriors=f"{BMA}/posteriors_all.csv",
        regions=rules.regions.output.fine,
    output:
        weights=f"{BMA}/weights.nc",
        summary=report(
            f"{BMA}/kriging.csv",
            caption="report/kriging.rst",
            category="BMA",
        ),
        variogram=f"{BMA}/variogram.csv",
        figure=report(
            f"{BMA}/weights.png",
            caption="report/weights.rst",
            category="BMA",
        ),
    log:
        f"{LOGS}/bma_weights.log",
    benchmark:
        f"{RUN}/benchmarks/bma_weights.tsv"
    conda:
        "../envs/bayes.yaml"
    threads: 2
    resources:
        mem_mb=3000,
    params:
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_weights.py"


rule bma_station_series:
    """BMA at every station from weights that never saw it, beside the alternatives."""
    input:
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
        posteriors=f"{BMA}/posteriors_all.csv",
        fold_posteriors=expand(f"{BMA}/posteriors_{{fold}}.csv", fold=FOLDS),
        scores=rules.member_scores.output.scores,
    output:
        f"{BMA}/station_series.parquet",
    log:
        f"{LOGS}/bma_station_series.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        settings=settings("bma", "dates"),
    script:
        "../workflow_scripts/bma_station_series.py"


rule bma_product:
    """Daily 1 km soil moisture of a period: the ensemble, its uncertainty and flags."""
    input:
        unpack(product_inputs),
    output:
        f"{RUN}/product/sm_1km_{{period}}.nc",
    log:
        f"{LOGS}/bma_product/{{period}}.log",
    benchmark:
        f"{RUN}/benchmarks/bma_product/{{period}}.tsv"
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_product.py"
