# Real data (source: real): downloads write the raw layout of rawlayout.py, so that
# everything downstream is identical to the demo. A catalogue per product and year (NASA
# CMR) lists the granules the provider actually has, with sizes and checksums. One
# download job per product and period (or the static SRTM tiles): it fetches the group's
# granules its catalogue lists (no SRTM tile over the sea, no MODIS outage day), verifies
# every file and writes the group's marker, which the reading rules take (with one job per
# granule, the DAG of the paper's run held 77,615 download jobs; see
# smdownscale.download.groups). A file in place is verified without network and kept.
# Parallel transfers per provider host are bounded by the resources *_connections.
# All of them are local rules: on a cluster they run beside the main Snakemake process
# (compute nodes often have no internet), not as jobs.

if not IS_DEMO:
    _problems = template_problems(config["download"]["urls"])
    if _problems:
        raise WorkflowError("invalid configuration:\n  - " + "\n  - ".join(_problems))
    if config["offline"]:
        check_offline()
    if workflow.is_main_process:
        list_missing_raw()

    rule download_catalogue:
        """Which MOD11A1, MOD13A2 and MCD43C3 granules of a year the provider holds (NASA
        CMR), with their URLs, sizes and checksums."""
        output:
            mod11a1=f"{RAW}/catalogue/mod11a1/{{year}}.json",
            mod13a2=f"{RAW}/catalogue/mod13a2/{{year}}.json",
            mcd43c3=f"{RAW}/catalogue/mcd43c3/{{year}}.json",
        log:
            f"{LOGS}/download/catalogue/{{year}}.log",
        wildcard_constraints:
            year=r"\d{4}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            cmr_connections=1,
        params:
            bbox=config["region"]["bbox"],
            cmr=config["download"]["cmr_url"],
            catalogues=config["download"]["catalogues"],
        script:
            "../workflow_scripts/download_catalogue.py"

    rule download_catalogue_srtm:
        """Which SRTMGL3 tiles of the region exist (none over open sea), from NASA CMR."""
        output:
            srtm=f"{RAW}/catalogue/srtm/tiles.json",
        log:
            f"{LOGS}/download/catalogue/srtm.log",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            cmr_connections=1,
        params:
            bbox=config["region"]["bbox"],
            cmr=config["download"]["cmr_url"],
            catalogues=config["download"]["catalogues"],
        script:
            "../workflow_scripts/download_catalogue.py"

    rule download_catalogues:
        """Target: every catalogue of the run."""
        input:
            download_catalogue_files(),

    rule download_group:
        """Every raw file of one product (ESA CCI or SMAP L3, MOD11A1, MOD13A2, MCD43C3,
        IMERG, SRTMGL3) for one period (SRTM: the static part), fetched where missing,
        verified, and listed in the group's marker."""
        input:
            catalogues=lambda wildcards: [
                ancient(p) for p in group_catalogues(wildcards).values()
            ],
        output:
            fetched_marker("{key}", "{part}"),
        log:
            f"{LOGS}/download/{{key}}/{{part}}.log",
        wildcard_constraints:
            key="|".join(CONNECTIONS),
            part=r"static|\d{4}-\d{3}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=lambda wildcards: 3000 if wildcards.key == "mcd43c3" else 1500,
            lpdaac_connections=connection_resource("lpdaac_connections"),
            gesdisc_connections=connection_resource("gesdisc_connections"),
            ceda_connections=connection_resource("ceda_connections"),
            nsidc_connections=connection_resource("nsidc_connections"),
        params:
            files=group_files,
            catalogue_parts=lambda wildcards: list(group_catalogues(wildcards)),
        script:
            "../workflow_scripts/download_group.py"

    rule download_terraclimate:
        """One year of TerraClimate monthly PDSI, global (an evaluation reference, public)."""
        output:
            update(raw("TerraClimate/TerraClimate_PDSI_{year}.nc")),
        log:
            f"{LOGS}/download/TerraClimate/{{year}}.log",
        wildcard_constraints:
            year=r"\d{4}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            nkn_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_gldas_noah:
        """One day of GLDAS-2.1 Noah 3-hourly files, global or as the URL template subsets
        them (an evaluation reference; GES DISC, Earthdata login)."""
        output:
            update(
                expand(
                    raw(
                        "GLDAS_NOAH025_3H/{{year}}/GLDAS_NOAH025_3H.A{{ymd}}.{hhmm}.{{version}}.nc4"
                    ),
                    hhmm=GLDAS_HOURS,
                )
            ),
        log:
            f"{LOGS}/download/GLDAS_NOAH025_3H/{{year}}/{{ymd}}.{{version}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            ymd=r"\d{8}",
            version=r"\d{3}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1500,
            gesdisc_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_era5_land:
        """One month of ERA5-Land daily soil moisture over the region (an evaluation
        reference; Copernicus CDS through cdsapi and ~/.cdsapirc)."""
        output:
            update(raw("ERA5-Land/{year}/ERA5-Land.daily.{year}-{month}.nc")),
        log:
            f"{LOGS}/download/ERA5-Land/{{year}}-{{month}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            month=r"\d\d",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            cds_requests=1,
        params:
            bbox=config["region"]["bbox"],
            request=config["download"]["era5_land"],
        script:
            "../workflow_scripts/download_era5_land.py"

    rule download_manifest:
        """Every raw file of the run in one table: URL, size, checksums, when fetched."""
        input:
            unpack(download_targets),
        output:
            f"{RAW}/manifest.tsv",
        log:
            f"{LOGS}/download/manifest.log",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
        script:
            "../workflow_scripts/download_manifest.py"

    # User-supplied station archives that are not in place: a rule that explains how to
    # get them (ISMN needs a login and a manual download; nothing is fetched).
    for _i, _path in enumerate(missing_station_files()):

        rule:
            name:
                f"station_file_{_i}"
            output:
                _path,
            log:
                f"{LOGS}/station_file_{_i}.log",
            localrule: True
            conda:
                "../envs/acquire.yaml"
            threads: 1
            resources:
                mem_mb=200,
            params:
                explanation=station_file_help(_path, config),
            message:
                f"{_path} is a user-supplied station file and is missing"
            script:
                "../workflow_scripts/download_station_file.py"
