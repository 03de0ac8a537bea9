# Reference-free error estimates (issue 17): the three-cornered hat of the products listed
# in uncertainty.tch_products, per fine cell over the run's days. Only with uncertainty.tch.


rule tch_uncertainty:
    """Each listed product's random-error SD per fine cell by the three-cornered hat."""
    input:
        unpack(tch_inputs),
    output:
        tch=f"{RUN}/uncertainty/tch.nc",
        figure=report(
            f"{RUN}/uncertainty/tch.png",
            caption="report/tch.rst",
            category="Uncertainty",
        ),
        table=f"{RUN}/uncertainty/tch_summary.csv",
    log:
        f"{LOGS}/tch_uncertainty.log",
    conda:
        "../envs/bayes.yaml"
    threads: 1
    resources:
        **job_resources("tch_uncertainty"),
    params:
        settings=settings("uncertainty", "members"),
    script:
        "../workflow_scripts/tch_uncertainty.py"
