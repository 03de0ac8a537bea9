# Raw products. With source: demo the synthetic world writes them in the real formats, in
# the project's layout (rawlayout.py) or the providers' (providerlayout.py, config
# archives), so everything downstream is identical for demo and real data. With source:
# real, provider archives are read in place and rules/download.smk fetches what they lack
# into the project layout. index_raw records which file each rule reads.
# The demo writers are local rules: on a cluster they run beside the main Snakemake process.

DEMO = f"{RUN}/world"

if IS_DEMO:

    rule demo_world:
        """Simulate the synthetic world: true 1 km fields, the coarse product, stations."""
        output:
            world=f"{RUN}/truth/world_1km.nc",
            coarse=f"{DEMO}/coarse_observed.nc",
            sites=f"{DEMO}/station_sites.csv",
            observations=f"{DEMO}/station_observations.parquet",
        log:
            f"{LOGS}/demo_world.log",
        localrule: True
        conda:
            "../envs/geo.yaml"
        threads: 1
        resources:
            mem_mb=3000,
        params:
            settings=settings("demo", "region", "dates", "grid"),
        script:
            "../workflow_scripts/demo_world.py"

    if "era5_land" in config["evaluation"]["reference_models"]:

        rule demo_raw_era5_land:
            """The demo's ERA5-Land months, from the world's truth (evaluation reference)."""
            input:
                truth=rules.demo_world.output.world,
            output:
                era5_land_files()[0],
            log:
                f"{LOGS}/demo_raw_era5_land.log",
            localrule: True
            conda:
                "../envs/geo.yaml"
            threads: 1
            resources:
                mem_mb=2000,
            params:
                months=era5_land_files()[1],
                settings=settings("demo", "download"),
            script:
                "../workflow_scripts/demo_raw_era5_land.py"

    if "gldas_noah" in config["evaluation"]["reference_models"]:

        rule demo_raw_gldas_noah:
            """The demo's GLDAS Noah 3-hourly files, from the world's truth (evaluation
            reference)."""
            input:
                truth=rules.demo_world.output.world,
            output:
                gldas_noah_files()[0],
            log:
                f"{LOGS}/demo_raw_gldas_noah.log",
            localrule: True
            conda:
                "../envs/geo.yaml"
            threads: 1
            resources:
                mem_mb=2000,
            params:
                days=gldas_noah_files()[1],
                settings=settings("demo"),
            script:
                "../workflow_scripts/demo_raw_gldas_noah.py"

    if config["evaluation"]["drought"]:

        rule demo_raw_terraclimate:
            """The demo's TerraClimate PDSI years, from the world's truth (drought reference)."""
            input:
                truth=rules.demo_world.output.world,
            output:
                terraclimate_files()[0],
            log:
                f"{LOGS}/demo_raw_terraclimate.log",
            localrule: True
            conda:
                "../envs/geo.yaml"
            threads: 1
            resources:
                mem_mb=2000,
            params:
                years=terraclimate_files()[1],
                settings=settings("demo"),
            script:
                "../workflow_scripts/demo_raw_terraclimate.py"

    rule demo_raw_static:
        """Write the demo's SRTM tiles and station archives (ISMN zip, CSV networks)."""
        input:
            world=rules.demo_world.output.world,
            sites=rules.demo_world.output.sites,
            observations=rules.demo_world.output.observations,
        output:
            srtm=[ARCHIVES.written_path(g) for g in STATIC_GRANULES["srtm"]],
            ismn=raw(DEMO_ISMN),
            csv=[raw(p) for pair in DEMO_CSV for p in pair],
        log:
            f"{LOGS}/demo_raw_static.log",
        localrule: True
        conda:
            "../envs/geo.yaml"
        threads: 1
        resources:
            mem_mb=2000,
        params:
            settings=settings("demo", "region", "grid"),
        script:
            "../workflow_scripts/demo_raw_static.py"

    # One rule per period so that every raw file is a declared output (their names follow
    # the products' own date codes, which no single wildcard pattern can express).
    for _pid in PERIODS:

        rule:
            name:
                f"demo_raw_{_pid.replace('-', '_')}"
            input:
                world=rules.demo_world.output.world,
                coarse=rules.demo_world.output.coarse,
            output:
                **demo_outputs(_pid),
            log:
                f"{LOGS}/demo_raw/{_pid}.log",
            localrule: True
            conda:
                "../envs/geo.yaml"
            threads: 1
            resources:
                mem_mb=2000,
            params:
                period=PERIODS[_pid],
                composites=period_composites(_pid),
                settings=settings("demo", "region", "grid", "esa_cci", "smap"),
            script:
                "../workflow_scripts/demo_raw_period.py"


rule index_raw:
    """The raw files a period (or, as part static, the SRTM tiles) reads, one row each:
    product, day, tile, version, production time stamp, path, size and SHA-256; the
    reading rules take their files from it."""
    input:
        unpack(index_inputs),
    output:
        f"{RUN}/raw_index/{{part}}.tsv",
    log:
        f"{LOGS}/index_raw/{{part}}.log",
    wildcard_constraints:
        part=r"static|\d{4}-\d{3}",
    localrule: True
    conda:
        "../envs/geo.yaml"
    threads: 1
    resources:
        mem_mb=500,
    params:
        needed=lambda w: len(part_granules(w.part)),
        fingerprints=f"{RUN}/input_fingerprints.json",
    script:
        "../workflow_scripts/index_raw.py"
