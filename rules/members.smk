# Per-period machine-learning members: tuning, fitting per (period, region) with the adaptive
# window and fallbacks, and daily predictions on the fine grid (METHOD.md sections 5-6).


rule tune_hyperparameters:
    """Grouped k-fold cross-validation of every member's grid on the tuning days."""
    input:
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=tuning_periods()),
    output:
        best=f"{RUN}/models/hyperparameters.json",
        table=report(
            f"{RUN}/models/tuning_cv.csv",
            caption="report/tuning.rst",
            category="Members",
        ),
    log:
        f"{LOGS}/tune_hyperparameters.log",
    benchmark:
        f"{RUN}/benchmarks/tune_hyperparameters.tsv"
    conda:
        "../envs/ml.yaml"
    threads: THREADS
    resources:
        **job_resources("tune_hyperparameters"),
    params:
        settings=settings("predictors", "members", "dates"),
    script:
        "../workflow_scripts/tune_hyperparameters.py"


rule fit_period:
    """Fit every member for each region of a period (own window, else a fallback)."""
    input:
        coarse=lambda w: [
            f"{RUN}/coarse/coarse_{p}.nc" for p in neighbour_periods(w, 2, 1)
        ],
        regions=rules.regions.output.coarse,
        hyperparameters=rules.tune_hyperparameters.output.best,
    output:
        models=f"{RUN}/models/models_{{period}}.pkl",
        meta=f"{RUN}/models/models_{{period}}.json",
    log:
        f"{LOGS}/fit_period/{{period}}.log",
    benchmark:
        f"{RUN}/benchmarks/fit_period/{{period}}.tsv"
    conda:
        "../envs/ml.yaml"
    threads: THREADS
    resources:
        **job_resources("fit_period"),
    params:
        period=lambda w: PERIODS[w.period],
        neighbours=lambda w: [PERIODS[p] for p in neighbour_periods(w, 2, 1)],
        settings=settings("predictors", "members"),
        # a new format of saved members refits them (older files cannot be loaded)
        member_format=MEMBER_FORMAT,
    script:
        "../workflow_scripts/fit_period.py"


rule predict_period:
    """Every member's daily soil moisture on the fine grid for the days of a period."""
    input:
        predictors=f"{RUN}/fine/predictors_{{period}}.nc",
        static=rules.harmonise_static.output[0],
        coarse=f"{RUN}/coarse/coarse_{{period}}.nc",
        regions=rules.regions.output.fine,
        models=rules.fit_period.output.models,
        meta=rules.fit_period.output.meta,
        previous=lambda w: (
            [f"{RUN}/models/models_{previous_period(w)}.pkl"]
            if previous_period(w)
            else []
        ),
    output:
        members=f"{RUN}/members/raw/members_{{period}}.nc",
        residual=f"{RUN}/members/raw/residual_{{period}}.nc",
    log:
        f"{LOGS}/predict_period/{{period}}.log",
    benchmark:
        f"{RUN}/benchmarks/predict_period/{{period}}.tsv"
    conda:
        "../envs/ml.yaml"
    threads: THREADS
    resources:
        **job_resources("predict_period"),
    params:
        period=lambda w: PERIODS[w.period],
        settings=settings("predictors", "members"),
        porosity=config["bma"]["porosity"],
    script:
        "../workflow_scripts/predict_period.py"


rule residual_share:
    """The share of the coarse residual each member takes, from the training stations."""
    input:
        stations=rules.harmonise_stations.output.table,
        regions=rules.regions.output.fine,
        members=expand(f"{RUN}/members/raw/members_{{period}}.nc", period=PERIODS),
        residuals=expand(f"{RUN}/members/raw/residual_{{period}}.nc", period=PERIODS),
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
    output:
        f"{RUN}/members/residual_share.json",
    log:
        f"{LOGS}/residual_share.log",
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        **job_resources("residual_share"),
    params:
        settings=settings("members", "dates"),
        # only the weight-training window of the bma section matters here
        train=[str(d) for d in bma_train_dates(config)],
    script:
        "../workflow_scripts/residual_share.py"


rule correct_period:
    """Each member plus its share of the coarse residual, spread smoothly (no block edges)."""
    input:
        members=rules.predict_period.output.members,
        residual=rules.predict_period.output.residual,
        share=rules.residual_share.output[0],
    output:
        f"{RUN}/members/members_{{period}}.nc",
    log:
        f"{LOGS}/correct_period/{{period}}.log",
    conda:
        "../envs/ml.yaml"
    threads: THREADS
    resources:
        **job_resources("correct_period"),
    params:
        settings=settings("members"),
    script:
        "../workflow_scripts/correct_period.py"


rule member_ranges:
    """Member predictions outside [0, porosity], per member and period."""
    input:
        members=expand(f"{RUN}/members/raw/members_{{period}}.nc", period=PERIODS),
    output:
        report(
            f"{RUN}/members/out_of_range.csv",
            caption="report/member_ranges.rst",
            category="Members",
        ),
    log:
        f"{LOGS}/member_ranges.log",
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        **job_resources("member_ranges"),
    params:
        periods=list(PERIODS),
    script:
        "../workflow_scripts/member_ranges.py"


rule member_scores:
    """The run's table of held-out scores per member, period and region, and fallbacks."""
    input:
        meta=expand(f"{RUN}/models/models_{{period}}.json", period=PERIODS),
    output:
        scores=report(
            f"{RUN}/models/member_heldout_scores.csv",
            caption="report/member_scores.rst",
            category="Members",
        ),
        sources=report(
            f"{RUN}/models/model_sources.csv",
            caption="report/model_sources.rst",
            category="Members",
        ),
    log:
        f"{LOGS}/member_scores.log",
    localrule: True
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    script:
        "../workflow_scripts/member_scores.py"


rule member_importance:
    """Permutation importance of every predictor for every member, per period and region,
    on the coarse cells each fit held out."""
    input:
        models=expand(rules.fit_period.output.models, period=PERIODS),
        coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        regions=rules.regions.output.coarse,
    output:
        table=f"{RUN}/models/importance.csv",
        treeshap=f"{RUN}/models/treeshap_xgb.csv",
        figure=report(
            f"{RUN}/models/importance.png",
            caption="report/importance.rst",
            category="Members",
        ),
    log:
        f"{LOGS}/member_importance.log",
    conda:
        "../envs/ml.yaml"
    threads: 1
    resources:
        **job_resources("member_importance"),
    params:
        periods=list(PERIODS.values()),
        neighbours=[
            [f"{RUN}/coarse/coarse_{p}.nc" for p in neighbour_periods(pid, 2, 1)]
            for pid in PERIODS
        ],
        settings=settings("predictors", "members", "regions"),
        repeats=config["evaluation"]["importance_repeats"],
    script:
        "../workflow_scripts/member_importance.py"
