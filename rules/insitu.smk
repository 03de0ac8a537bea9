# In-situ-trained ensembles (issue 17, item 3; METHOD.md section 11): members trained on the
# stations, with the coarse product at the station as a feature; a configuration of the same
# workflow (insitu.enabled), scored in Table 4 beside the coarse-trained products.


if config["insitu"]["enabled"]:

    rule insitu_samples:
        """The station-days the in-situ-trained members learn from: in-situ value, the
        predictors at the station's fine cell and the coarse product interpolated there.
        """
        input:
            stations=rules.harmonise_stations.output.table,
            regions=rules.regions.output.fine,
            static=rules.harmonise_static.output[0],
            predictors=expand(f"{RUN}/fine/predictors_{{period}}.nc", period=PERIODS),
            coarse=expand(f"{RUN}/coarse/coarse_{{period}}.nc", period=PERIODS),
        output:
            f"{RUN}/insitu/samples.parquet",
        log:
            f"{LOGS}/insitu_samples.log",
        conda:
            "../envs/ml.yaml"
        threads: 1
        resources:
            **job_resources("insitu_samples"),
        params:
            settings=settings("predictors", "bma"),
        script:
            "../workflow_scripts/insitu_samples.py"

    rule insitu_fit:
        """The in-situ-trained members on every station, and their cross-validation over
        sites (grouped by site, stratified by soil texture class) with each station's
        held-out series."""
        input:
            **(
                {"texture": config["insitu"]["texture"]}
                if config["insitu"]["texture"]
                else {}
            ),
            samples=rules.insitu_samples.output[0],
        output:
            models=f"{RUN}/insitu/models.pkl",
            heldout=f"{RUN}/insitu/heldout.parquet",
            folds=f"{RUN}/insitu/folds.csv",
            scores=f"{RUN}/insitu/cv_scores.csv",
        log:
            f"{LOGS}/insitu_fit.log",
        conda:
            "../envs/ml.yaml"
        threads: THREADS
        resources:
            **job_resources("insitu_fit"),
        params:
            settings=settings("insitu", "members", "predictors"),
        script:
            "../workflow_scripts/insitu_fit.py"

    rule insitu_predict_period:
        """The in-situ-trained ensemble's daily 1 km soil moisture (members' mean) and its
        spread for the days of a period."""
        input:
            predictors=f"{RUN}/fine/predictors_{{period}}.nc",
            static=rules.harmonise_static.output[0],
            coarse=f"{RUN}/coarse/coarse_{{period}}.nc",
            regions=rules.regions.output.fine,
            models=rules.insitu_fit.output.models,
        output:
            f"{RUN}/insitu/sm_insitu_{{period}}.nc",
        log:
            f"{LOGS}/insitu_predict_period/{{period}}.log",
        conda:
            "../envs/ml.yaml"
        threads: THREADS
        resources:
            **job_resources("insitu_predict_period"),
        params:
            period=lambda w: PERIODS[w.period],
            settings=settings("insitu", "members", "predictors"),
            porosity=config["bma"]["porosity"],
        script:
            "../workflow_scripts/insitu_predict_period.py"
