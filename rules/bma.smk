# Bayesian model averaging (METHOD.md sections 7-9): station-member pairs, spatial station
# folds, emcee posteriors per station and fold, pooled regional fits and the choices held-out
# stations support (per fold), the parameter maps, the held-out station series and the
# daily 1 km product.

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
        **job_resources("bma_station_pairs"),
    params:
        settings=settings("members", "bma"),
    script:
        "../workflow_scripts/bma_station_pairs.py"


rule bma_station_folds:
    """Stations taking part in the BMA (pairs needed by sampling interval), and their folds."""
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
    localrule: True
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
        **job_resources("bma_posteriors"),
    params:
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_posteriors.py"


rule bma_pooled:
    """A fold's pooled regional BMA, and the choices station-held-out CV supports."""
    input:
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
        posteriors=f"{BMA}/posteriors_{{fold}}.csv",
    output:
        pooled=f"{BMA}/pooled_{{fold}}.csv",
        selection=f"{BMA}/selection_{{fold}}.json",
    log:
        f"{LOGS}/bma_pooled/{{fold}}.log",
    benchmark:
        f"{RUN}/benchmarks/bma_pooled/{{fold}}.tsv"
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("bma_pooled"),
    params:
        settings=settings("members", "bma"),
    script:
        "../workflow_scripts/bma_pooled.py"


rule bma_weights:
    """The BMA parameters on the fine grid (kriged or pooled), their paths, who took part."""
    input:
        posteriors=f"{BMA}/posteriors_all.csv",
        pooled=f"{BMA}/pooled_all.csv",
        selection=f"{BMA}/selection_all.json",
        regions=rules.regions.output.fine,
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
        stations=rules.harmonise_stations.output.table,
        outside=rules.harmonise_stations.output.dropped,
    output:
        weights=f"{BMA}/weights.nc",
        summary=report(
            f"{BMA}/kriging.csv",
            caption="report/kriging.rst",
            category="BMA",
        ),
        participation=report(
            f"{BMA}/participation.csv",
            caption="report/participation.rst",
            category="BMA",
        ),
        caption=f"{BMA}/kriging_caption.rst",
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
    threads: THREADS
    resources:
        **job_resources("bma_weights"),
    params:
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_weights.py"


rule subcell_fit:
    """The sub-cell detail correction: the product's error at the training stations on the
    predictors' detail within the coarse cell, kept only if it wins at held-out stations.
    """
    input:
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
        predictors=expand(f"{RUN}/fine/predictors_{{period}}.nc", period=PERIODS),
        static=f"{RUN}/fine/static.nc",
    output:
        fit=f"{BMA}/subcell_fit.json",
        table=report(
            f"{BMA}/subcell_fit.csv",
            caption="report/subcell.rst",
            category="BMA",
        ),
        stations=f"{BMA}/subcell_stations.parquet",
    log:
        f"{LOGS}/subcell_fit.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("subcell_fit"),
    params:
        settings=settings("bma", "predictors"),
    script:
        "../workflow_scripts/subcell_fit.py"


rule bma_station_series:
    """BMA at every station from weights that never saw it, beside the alternatives."""
    input:
        pairs=rules.bma_station_pairs.output[0],
        folds=rules.bma_station_folds.output[0],
        posteriors=f"{BMA}/posteriors_all.csv",
        pooled=f"{BMA}/pooled_all.csv",
        selection=f"{BMA}/selection_all.json",
        fold_posteriors=expand(f"{BMA}/posteriors_{{fold}}.csv", fold=FOLDS),
        fold_pooled=expand(f"{BMA}/pooled_{{fold}}.csv", fold=FOLDS),
        fold_selections=expand(f"{BMA}/selection_{{fold}}.json", fold=FOLDS),
        scores=rules.member_scores.output.scores,
        subcell=rules.subcell_fit.output.stations,
    output:
        series=f"{BMA}/station_series.parquet",
        paths=f"{BMA}/heldout_paths.csv",
    log:
        f"{LOGS}/bma_station_series.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("bma_station_series"),
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
    threads: THREADS
    resources:
        **job_resources("bma_product"),
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("bma"),
    script:
        "../workflow_scripts/bma_product.py"
