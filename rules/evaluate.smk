# Validation (METHOD.md section 10): station scores on the evaluation days (Table 4),
# heterogeneity (Table S3), scores against a synthetic truth where one exists, the summary.

VAL = f"{RUN}/validation"


rule validate_stations:
    """Every product against the stations on the evaluation days: Table 4 and per station."""
    input:
        **(
            {"insitu": f"{RUN}/insitu/heldout.parquet"}
            if config["insitu"]["enabled"]
            else {}
        ),
        series=rules.bma_station_series.output.series,
        paths=rules.bma_station_series.output.paths,
        participation=rules.bma_weights.output.participation,
        selection=f"{RUN}/bma/selection_all.json",
        subcell=f"{RUN}/bma/subcell_fit.json",
    output:
        table=report(
            f"{VAL}/table4_stations.csv",
            caption="report/table4.rst",
            category="Validation",
        ),
        stations=report(
            f"{VAL}/station_scores.csv",
            caption="report/station_scores.rst",
            category="Validation",
        ),
        by_time=report(
            f"{VAL}/table4_by_month_and_season.csv",
            caption="report/table4_time.rst",
            category="Validation",
        ),
        caption=f"{VAL}/table4_caption.rst",
    log:
        f"{LOGS}/validate_stations.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("validate_stations"),
    params:
        settings=settings("members", "bma"),
        bootstrap={
            k: v for k, v in config["evaluation"].items() if k.startswith("bootstrap")
        },
    script:
        "../workflow_scripts/validate_stations.py"


rule heterogeneity_period:
    """Daily CV and Moran's I of the coarse product, each member and the product."""
    input:
        coarse=f"{RUN}/coarse/coarse_{{period}}.nc",
        members=f"{RUN}/members/members_{{period}}.nc",
        product=f"{RUN}/product/sm_1km_{{period}}.nc",
    output:
        f"{VAL}/heterogeneity/{{period}}.csv",
    log:
        f"{LOGS}/heterogeneity_period/{{period}}.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("heterogeneity_period"),
    params:
        settings=settings("members"),
    script:
        "../workflow_scripts/heterogeneity_period.py"


if TRUTH:

    rule validate_truth:
        """Every product against the synthetic truth at every fine cell of the evaluation days:
        common-cell scores, coverage, scores on the coarse product's days and on filled
        cell-days, block-edge ratio."""
        input:
            **(
                {
                    "insitu": expand(
                        f"{RUN}/insitu/sm_insitu_{{period}}.nc", period=PERIODS
                    )
                }
                if config["insitu"]["enabled"]
                else {}
            ),
            truth=TRUTH,
            coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
            members=expand(f"{RUN}/members/members_{{period}}.nc", period=PERIODS),
            products=expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS),
            predictors=expand(f"{RUN}/fine/predictors_{{period}}.nc", period=PERIODS),
        output:
            report(
                f"{VAL}/truth_scores.csv",
                caption="report/truth_scores.rst",
                category="Validation",
            ),
        log:
            f"{LOGS}/validate_truth.log",
        conda:
            "../envs/bayes.yaml"
        threads: 1
        resources:
            **job_resources("validate_truth"),
        params:
            settings=settings("members", "bma", "predictors"),
        script:
            "../workflow_scripts/validate_truth.py"


rule validation_summary:
    """Headline figures as JSON, and the heterogeneity table (means over the days)."""
    input:
        unpack(summary_inputs),
    output:
        summary=f"{VAL}/summary.json",
        heterogeneity=report(
            f"{VAL}/heterogeneity.csv",
            caption="report/heterogeneity.rst",
            category="Validation",
        ),
    log:
        f"{LOGS}/validation_summary.log",
    localrule: True
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        settings=settings("members", "bma"),
    script:
        "../workflow_scripts/validation_summary.py"


rule validation_figures:
    """The report's figures: maps, sd and weights, stations, distributions, tables."""
    input:
        unpack(figure_inputs),
    output:
        **figure_outputs(),
    log:
        f"{LOGS}/validation_figures.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("validation_figures"),
    params:
        periods=list(PERIODS.values()),
        map_days=map_days(),
        settings=settings("members", "bma"),
    script:
        "../workflow_scripts/validation_figures.py"


if config["evaluation"]["reference_models"]:

    rule reference_scores:
        """The product and the coarse product against a reference model (ERA5-Land, GLDAS
        Noah) on its own cells: R, MAE and bias maps, triple collocation."""
        input:
            products=expand(f"{RUN}/product/sm_1km_{{period}}.nc", period=PERIODS),
            coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
            reference=reference_model_files,
        output:
            maps=f"{VAL}/reference_{{reference}}.nc",
            table=f"{VAL}/reference_{{reference}}.csv",
            figure=report(
                f"{VAL}/figures/reference_{{reference}}.png",
                caption="report/reference_model.rst",
                category="Validation",
            ),
        log:
            f"{LOGS}/reference_scores_{{reference}}.log",
        wildcard_constraints:
            reference="|".join(config["evaluation"]["reference_models"]),
        conda:
            "../envs/bayes.yaml"
        threads: 1
        resources:
            **job_resources("reference_scores"),
        params:
            settings=settings("evaluation"),
        script:
            "../workflow_scripts/reference_scores.py"


if config["evaluation"]["drought"]:

    rule drought_analysis:
        """Drought regions from TerraClimate PDSI and the products' monthly means over them,
        correlated with PDSI."""
        input:
            unpack(drought_inputs),
        output:
            series=f"{VAL}/drought_series.csv",
            summary=f"{VAL}/drought_summary.csv",
            figure=report(
                f"{VAL}/figures/drought.png",
                caption="report/drought.rst",
                category="Validation",
            ),
        log:
            f"{LOGS}/drought_analysis.log",
        conda:
            "../envs/bayes.yaml"
        threads: 1
        resources:
            **job_resources("drought_analysis"),
        params:
            settings=settings("evaluation"),
        script:
            "../workflow_scripts/drought_analysis.py"
