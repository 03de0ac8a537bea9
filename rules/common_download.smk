# Real-data acquisition: the download groups (one download job per product and period),
# what the run would fetch, and the checks made before any job (offline mode, missing
# files). Input functions only; the rules are in rules/download.smk.


def fetched_marker(key, part):
    return str(dlgroups.marker_path(RUN, key, part))


def group_inputs(key, part, paths):
    """A download group's files as a job's inputs (``paths``: the files of the group that
    the job reads, in the project layout; a period may read part of another period's
    group), as group_state decided for the whole group."""
    state = group_state(key, part)
    marker = fetched_marker(key, part)
    if state == "marker":
        return [before_update(marker)]
    if state == "fetch":
        return [marker]
    return in_place([p for p in paths if os.path.exists(p)])


_GROUP_STATE = {}


def group_state(key, part):
    """How the rules take a download group, decided once per run over all its files:

    - ``marker``: its marker exists (its download job ran) and still matches the group
      (the same granules, every file it lists as present in place): the marker, as it
      is; the readers take the files it lists.
    - ``files``: no marker, and every file is in place (put there by hand or by another
      run; where the product's catalogue is there, every file it lists): the files, as
      they are, with no download job (in_place).
    - ``fetch``: otherwise the marker, made by the group's download job.

    A marker that no longer matches (a file gone; the run's granules changed with its
    dates, region or versions; a granule now in a provider tree) is deleted by the main
    process, dry runs included: it no longer says what is in place, and the group's job
    verifies the files in place by their records and fetches the rest when a job reads
    the group.
    """
    state = _GROUP_STATE.get((key, part))
    if state is None:
        state = _GROUP_STATE[(key, part)] = _decide_group(key, part)
    return state


def _decide_group(key, part):
    rels = group_rels(key, part)
    there = {r: os.path.exists(raw(r)) for r in rels}
    marker = fetched_marker(key, part)
    if os.path.exists(marker):
        try:
            status = dlgroups.read_marker(marker)
        except (OSError, ValueError):
            status = {}
        if status.keys() == there.keys() and all(
            there[r] for r, s in status.items() if s == "present"
        ):
            return "marker"
        if not workflow.is_main_process:
            return "marker"  # the main process decides (a cluster job's parse)
        logger.warning(
            f"{marker} no longer matches its download group (a file it lists is gone, or "
            "the run's granules changed): deleted; the group's download job runs again "
            "when a job reads it"
        )
        os.remove(marker)
        return "fetch"
    missing = [r for r, here in there.items() if not here]
    if missing and key in CATALOGUED:
        missing = [r for r in missing if _catalogue_lists(key, r) is not False]
    return "fetch" if missing else "files"


_CATALOGUES = {}


def _catalogue_lists(key, rel):
    """Whether the product's catalogue lists ``rel``: None while the catalogue is not there
    (before it is fetched: every granule counts as wanted)."""
    path = raw(f"catalogue/{key}/{catalogue_part(key, rel)}.json")
    if path not in _CATALOGUES:
        _CATALOGUES[path] = load_catalogue(path) if os.path.exists(path) else None
    listed = _CATALOGUES[path]
    return None if listed is None else rel in listed


def group_files(wildcards):
    """The raw files (relative to the raw folder) a download group fetches."""
    return group_rels(wildcards.key, wildcards.part)


_GROUP_RELS = {}


def group_rels(key, part):
    """The raw files (relative to the raw folder) of a download group: its product's
    granules that no provider tree holds and whose group it is (see fetch_part)."""
    if (key, part) in _GROUP_RELS:
        return _GROUP_RELS[(key, part)]
    if part == "static":
        granules = STATIC_GRANULES[key]
    elif key == "mod13a2":  # the composites whose first day in the run is the period's
        granules = providerlayout.period_granules(
            [], period_composites(part), MODIS_TILES
        )[key]
    else:
        granules = period_granules(part)[key]
    rels = [
        ARCHIVES.relpath(g)
        for g in granules
        if ARCHIVES.found(g) is None and fetch_part(g) == part
    ]
    _GROUP_RELS[(key, part)] = rels
    return rels


# the resource that bounds a product's connections to its provider host
CONNECTIONS = {
    "esa_cci": "ceda_connections",
    "smap_l3": "nsidc_connections",
    "mod11a1": "lpdaac_connections",
    "mod13a2": "lpdaac_connections",
    "mcd43c3": "lpdaac_connections",
    "srtm": "lpdaac_connections",
    "imerg": "gesdisc_connections",
}


def connection_resource(resource):
    """A download group's unit of ``resource`` (its product's provider host's)."""
    n = config["download"]["connections_per_group"]
    return lambda wildcards: n if CONNECTIONS[wildcards.key] == resource else 0


def group_catalogues(wildcards):
    """The catalogues a download group needs (one per year its files fall in; SRTM one),
    as catalogue part -> file."""
    key = wildcards.key
    if key not in CATALOGUED:
        return {}
    parts = dict.fromkeys(
        catalogue_part(key, r) for r in group_rels(key, wildcards.part)
    )
    return {p: raw(f"catalogue/{key}/{p}.json") for p in parts}


def required_downloads():
    """Raw paths (relative to RAW) of every file the run would download, by product: all
    the run needs except the granules provider archives hold."""
    return {
        key: [r for r in rels if r not in ELSEWHERE]
        for key, rels in required_files(config, RAW).items()
    }


def download_catalogue_files():
    """Every provider catalogue the run needs (one per product and year; SRTM one)."""
    return [
        raw(f"catalogue/{key}/{part}.json")
        for key, part in catalogue_parts(required_downloads())
    ]


_DOWNLOAD_TARGETS = {}


def download_targets(wildcards):
    """Every raw file the run downloads, by product: the products' download groups (their
    markers, or their files in place) and the evaluation references' files. An input
    function, so that only a DAG that holds download_manifest looks at every group."""
    if _DOWNLOAD_TARGETS:
        return _DOWNLOAD_TARGETS
    out = {
        key: in_place([raw(r) for r in rels])
        for key, rels in required_downloads().items()
        if key in REFERENCES
    }
    prefix = os.path.join(RAW, "")
    seen = set()
    for part in [*PERIODS, "static"]:
        for key, paths in index_inputs(part).items():
            for p in paths:
                if (p.startswith(prefix) or dlgroups.is_marker(p)) and p not in seen:
                    seen.add(p)
                    out.setdefault(key, []).append(p)
    _DOWNLOAD_TARGETS.update(out)
    return out


def missing_station_files():
    """User-supplied station files (ISMN archives, CSV networks) that are not in place."""
    return [p for p in station_files(config) if not os.path.exists(p)]


def check_offline():
    """Offline mode: stop before anything runs when a catalogue, raw file or station file
    is missing, naming them (the full list goes to the logs folder)."""
    missing = offline_problems(config, RAW, ELSEWHERE)
    if not missing:
        return
    listing = Path(LOGS) / "offline_missing.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text("\n".join(missing) + "\n")
    raise WorkflowError(
        f"offline mode (offline=true): {len(missing):,} file(s) the run needs are not in "
        f"place, so nothing was run:\n{summarise_missing(missing)}\nFull list: {listing}. "
        "Run without offline=true to fetch them (catalogues first: snakemake "
        "download_catalogues), or put them in place (for files placed by hand, "
        "download.catalogues: files takes the catalogues from them)."
    )


def download_command(target="download_manifest"):
    """The command line that runs ``target`` with this run's configuration."""
    files = " ".join(f"--configfile {f}" for f in workflow.overwrite_configfiles or [])
    return f"snakemake --profile profiles/default {files} {target}".replace("  ", " ")


def list_missing_raw():
    """Before any job: the granules the run needs that are neither in a provider archive
    nor in the raw folder (the full list in the logs folder), and how to fetch them."""
    lacking = [
        g
        for g in RUN_GRANULES
        if ARCHIVES.found(g) is None and not os.path.isfile(raw(project_relpath(g)))
    ]
    if not lacking:  # the common case, at one stat a granule
        return
    # documented absences (catalogues fetched: no granule at the provider) are not missing
    rows, available = estimate(config, RAW, ELSEWHERE)
    rels = {
        r
        for rs in available.files.values()
        for r in rs
        if r not in ELSEWHERE and not os.path.isfile(os.path.join(RAW, r))
    }
    granules = [g for g in lacking if project_relpath(g) in rels]
    if not granules:
        return
    listing = Path(LOGS) / "raw_missing.txt"
    listing.parent.mkdir(parents=True, exist_ok=True)
    listing.write_text(
        "".join(f"{g.describe()}\t{raw(project_relpath(g))}\n" for g in granules)
    )
    versions = ARCHIVES.other_versions(granules)
    other = "".join(
        f"\n  (the archive has {providerlayout.TITLES[k]} of other versions: "
        f"{', '.join(sorted(v))}; the run reads only the configured one)"
        for k, v in versions.items()
    )
    logger.warning(
        f"{len(granules):,} raw file(s) the run needs are not in place (list: "
        f"{listing}):\n"
        + "\n".join(rawindex.summarise_granules(granules))
        + other
        + f"\n{footprint_line(rows)}"
        + f"\nThis run downloads them into {RAW} (the project layout), where later runs find "
        f"them too (or put them in the provider trees of config archives and run again); "
        f"to fetch only them first: {download_command()}"
    )


def project_relpath(granule):
    return providerlayout.project_relpath(
        granule, config["esa_cci"]["version"], config["smap"]["crid"]
    )
