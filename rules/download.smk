# Real data (source: real): one download rule per product, writing the raw layout of
# rawlayout.py, so that everything downstream is identical to the demo. A catalogue per
# product and year (checkpoint download_catalogue, NASA CMR) lists the granules the
# provider actually has: harmonisation asks only for those (no SRTM tile over the sea, no
# MODIS outage day), and downloads check sizes and checksums against it. Outputs are
# update(): a rerun never deletes a file in place; the job verifies it without network.
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

    checkpoint download_catalogue:
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

    checkpoint download_catalogue_srtm:
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
        """Target: every catalogue of the run (after it, a dry run lists every download)."""
        input:
            download_catalogue_files(),

    rule download_esa_cci:
        """One ESA CCI SM COMBINED daily image (CEDA archive, public)."""
        output:
            update(
                raw(
                    "esa_cci/{year}/ESACCI-SOILMOISTURE-L3S-SSMV-COMBINED-{ymd}000000-fv{version}.nc"
                )
            ),
        log:
            f"{LOGS}/download/esa_cci/{{year}}/{{ymd}}-fv{{version}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            ymd=r"\d{8}",
            version=r"\d\d\.\d",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            ceda_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_smap_l3:
        """One SMAP L3 radiometer daily file (SPL3SMP, NSIDC DAAC, Earthdata login)."""
        output:
            update(raw("SPL3SMP/{year}/SMAP_L3_SM_P_{ymd}_{crid}_{counter}.h5")),
        log:
            f"{LOGS}/download/SPL3SMP/{{year}}/{{ymd}}_{{crid}}_{{counter}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            ymd=r"\d{8}",
            crid=r"R\d{5}",
            counter=r"\d{3}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            nsidc_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_mod11a1:
        """One MOD11A1 v061 tile-day (LP DAAC, Earthdata login)."""
        input:
            catalogue=ancient(f"{RAW}/catalogue/mod11a1/{{year}}.json"),
        output:
            update(raw("MOD11A1/{year}/MOD11A1.A{yyyyddd}.h{h}v{v}.061.hdf")),
        log:
            f"{LOGS}/download/MOD11A1/{{year}}/A{{yyyyddd}}.h{{h}}v{{v}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            yyyyddd=r"\d{7}",
            h=r"\d\d",
            v=r"\d\d",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            lpdaac_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_mod13a2:
        """One MOD13A2 v061 16-day composite tile (LP DAAC, Earthdata login)."""
        input:
            catalogue=ancient(f"{RAW}/catalogue/mod13a2/{{year}}.json"),
        output:
            update(raw("MOD13A2/{year}/MOD13A2.A{yyyyddd}.h{h}v{v}.061.hdf")),
        log:
            f"{LOGS}/download/MOD13A2/{{year}}/A{{yyyyddd}}.h{{h}}v{{v}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            yyyyddd=r"\d{7}",
            h=r"\d\d",
            v=r"\d\d",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            lpdaac_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_mcd43c3:
        """One MCD43C3 v061 daily 0.05 deg albedo file (LP DAAC, Earthdata login)."""
        input:
            catalogue=ancient(f"{RAW}/catalogue/mcd43c3/{{year}}.json"),
        output:
            update(raw("MCD43C3/{year}/MCD43C3.A{yyyyddd}.061.hdf")),
        log:
            f"{LOGS}/download/MCD43C3/{{year}}/A{{yyyyddd}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            yyyyddd=r"\d{7}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=3000,
            lpdaac_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_imerg:
        """One GPM IMERG Final daily file (GES DISC, Earthdata login)."""
        output:
            update(
                raw(
                    "IMERG/{year}/3B-DAY.MS.MRG.3IMERG.{ymd}-S000000-E235959.{version}.nc4"
                )
            ),
        log:
            f"{LOGS}/download/IMERG/{{year}}/{{ymd}}.{{version}}.log",
        wildcard_constraints:
            year=r"\d{4}",
            ymd=r"\d{8}",
            version=r"V\d\d[A-Z]?",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1500,
            gesdisc_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

    rule download_srtm:
        """One SRTMGL3 v003 1 x 1 deg elevation tile (LP DAAC, Earthdata login)."""
        input:
            catalogue=ancient(f"{RAW}/catalogue/srtm/tiles.json"),
        output:
            update(raw("SRTMGL3/{tile}.SRTMGL3.hgt.zip")),
        log:
            f"{LOGS}/download/SRTMGL3/{{tile}}.log",
        wildcard_constraints:
            tile=r"[NS]\d\d[EW]\d{3}",
        localrule: True
        conda:
            "../envs/acquire.yaml"
        threads: 1
        resources:
            mem_mb=1000,
            lpdaac_connections=1,
        script:
            "../workflow_scripts/download_granule.py"

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
            **download_targets(),
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
