"""Rule harmonise_static: SRTM tiles -> elevation (and slope) on the fine grid."""

from smdownscale.config import run_grids
from smdownscale.netcdf import GridFileWriter, VarSpec
from smdownscale.products.srtm import slope_aspect, srtm_to_grid
from smdownscale.rawindex import files_of, read_index
from smdownscale.rule_io import provenance, setup_logging


def main(snakemake) -> None:
    log = setup_logging(snakemake)
    cfg = snakemake.config
    _, fine = run_grids(cfg)
    # the tiles index_raw recorded (those that exist: none over open sea), as paths:
    # srtm_to_grid reads them one at a time (bounded memory)
    tiles = files_of(read_index(snakemake.input.index), "srtm")
    elevation = srtm_to_grid(tiles, fine)
    slope, _ = slope_aspect(elevation, fine)
    log.info(
        "elevation from %d SRTM tiles: %.1f %% of cells, %.0f..%.0f m",
        len(tiles),
        100 * (elevation == elevation).mean(),
        float(elevation[elevation == elevation].min()),
        float(elevation[elevation == elevation].max()),
    )
    specs = [
        VarSpec(
            "elevation",
            ("lat", "lon"),
            "f4",
            {
                "standard_name": "height_above_mean_sea_level",
                "long_name": "mean SRTMGL3 elevation of the cell",
                "units": "m",
            },
        ),
        VarSpec(
            "slope",
            ("lat", "lon"),
            "f4",
            {"long_name": "terrain slope from the cell-mean elevation", "units": "degree"},
        ),
    ]
    read = [*tiles, str(snakemake.input.index)]
    attrs = provenance(cfg, "fine-grid static predictors", read)
    with GridFileWriter(snakemake.output[0], fine, None, specs, attrs) as out:
        out.write("elevation", elevation)
        out.write("slope", slope)


if __name__ == "__main__":
    main(snakemake)
