# Sensitivity experiments and ablations (issue 16; smdownscale/sensitivity.py): the member
# rules again, with the experiment a wildcard in their paths, so an experiment refits,
# re-predicts and re-corrects the members while everything it does not change (predictors,
# coarse files, regions unless one_region, hyperparameters, stations) comes from the main
# run. `snakemake sensitivity` runs them all and writes one table and one figure.

SENS = f"{RUN}/sensitivity/{{experiment}}"


wildcard_constraints:
    experiment=r"[a-z0-9_]+",


use rule regions as regions_experiment with:
    output:
        coarse=f"{SENS}/regions/regions_coarse.nc",
        fine=f"{SENS}/regions/regions_fine.nc",
        figure=f"{SENS}/regions/regions.png",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/regions.log",
    params:
        settings=settings("region", "grid", "regions"),
        experiment=lambda w: w.experiment,


use rule fit_period as fit_period_experiment with:
    input:
        coarse=lambda w: [
            f"{RUN}/coarse/coarse_{p}.nc" for p in neighbour_periods(w, 2, 1)
        ],
        regions=lambda w: experiment_regions(w, "coarse"),
        hyperparameters=rules.tune_hyperparameters.output.best,
    output:
        models=f"{SENS}/models/models_{{period}}.pkl",
        meta=f"{SENS}/models/models_{{period}}.json",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/fit_period/{{period}}.log",
    benchmark:
        f"{SENS}/benchmarks/fit_period/{{period}}.tsv"
    params:
        period=lambda w: PERIODS[w.period],
        neighbours=lambda w: [PERIODS[p] for p in neighbour_periods(w, 2, 1)],
        settings=settings("predictors", "members", "sensitivity"),
        member_format=MEMBER_FORMAT,
        experiment=lambda w: w.experiment,


use rule predict_period as predict_period_experiment with:
    input:
        predictors=f"{RUN}/fine/predictors_{{period}}.nc",
        static=rules.harmonise_static.output[0],
        coarse=f"{RUN}/coarse/coarse_{{period}}.nc",
        regions=lambda w: experiment_regions(w, "fine"),
        models=rules.fit_period_experiment.output.models,
        meta=rules.fit_period_experiment.output.meta,
        previous=lambda w: (
            [
                f"{RUN}/sensitivity/{w.experiment}/models/models_{previous_period(w)}.pkl"
            ]
            if previous_period(w)
            else []
        ),
    output:
        members=f"{SENS}/members/raw/members_{{period}}.nc",
        residual=f"{SENS}/members/raw/residual_{{period}}.nc",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/predict_period/{{period}}.log",
    benchmark:
        f"{SENS}/benchmarks/predict_period/{{period}}.tsv"
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("predictors", "members", "sensitivity"),
        porosity=config["bma"]["porosity"],
        experiment=lambda w: w.experiment,


use rule residual_share as residual_share_experiment with:
    input:
        stations=rules.harmonise_stations.output.table,
        regions=lambda w: experiment_regions(w, "fine"),
        members=expand(
            f"{RUN}/sensitivity/{{{{experiment}}}}/members/raw/members_{{period}}.nc",
            period=PERIODS,
        ),
        residuals=expand(
            f"{RUN}/sensitivity/{{{{experiment}}}}/members/raw/residual_{{period}}.nc",
            period=PERIODS,
        ),
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
    output:
        f"{SENS}/members/residual_share.json",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/residual_share.log",
    params:
        settings=settings("members", "dates", "sensitivity"),
        train=[str(d) for d in bma_train_dates(config)],
        experiment=lambda w: w.experiment,


use rule correct_period as correct_period_experiment with:
    input:
        members=rules.predict_period_experiment.output.members,
        residual=rules.predict_period_experiment.output.residual,
        share=rules.residual_share_experiment.output[0],
    output:
        f"{SENS}/members/members_{{period}}.nc",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/correct_period/{{period}}.log",
    params:
        settings=settings("members", "sensitivity"),
        experiment=lambda w: w.experiment,


rule sensitivity_scores:
    """One experiment's (or the main run's) members against the truth and at the stations
    on the evaluation days."""
    input:
        unpack(sensitivity_score_inputs),
    output:
        f"{RUN}/sensitivity/scores/{{experiment}}.csv",
    log:
        f"{LOGS}/sensitivity/{{experiment}}/scores.log",
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        **job_resources("sensitivity_scores"),
    params:
        experiment=lambda w: w.experiment,
        settings=settings("members", "dates", "bma", "sensitivity"),
    script:
        "../workflow_scripts/sensitivity_scores.py"


rule sensitivity_table:
    """Every experiment's scores beside the main run's: one table and one figure."""
    input:
        expand(
            f"{RUN}/sensitivity/scores/{{experiment}}.csv",
            experiment=sensitivity_experiments(),
        ),
    output:
        table=report(
            f"{RUN}/sensitivity/sensitivity.csv",
            caption="report/sensitivity.rst",
            category="Sensitivity",
        ),
        figure=report(
            f"{RUN}/sensitivity/sensitivity.png",
            caption="report/sensitivity.rst",
            category="Sensitivity",
        ),
    log:
        f"{LOGS}/sensitivity/table.log",
    localrule: True
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        settings=settings("sensitivity"),
    script:
        "../workflow_scripts/sensitivity_table.py"


rule sensitivity:
    """The sensitivity experiments and ablations (config section sensitivity)."""
    input:
        rules.sensitivity_table.output,
