import pandas as pd

from smdownscale.products.stations import select_surface_sensors


def test_deeper_sensors_are_dropped_and_listed_once():
    table = pd.DataFrame(
        {
            "network": ["N"] * 4,
            "station": ["a", "a", "b", "b"],
            "sensor": ["s1", "s1", "s2", "s3"],
            "depth_from": [0.0, 0.0, 0.1, 0.0],
            "depth_to": [0.05, 0.05, 0.2, 0.1],
            "time": pd.to_datetime(["2010-01-01", "2010-01-02", "2010-01-01", "2010-01-01"]),
            "sm": [0.1, 0.2, 0.3, 0.4],
        }
    )
    kept, dropped = select_surface_sensors(table, 0.1)
    assert kept["sensor"].tolist() == ["s1", "s1", "s3"]  # 0.1 m bottom is still surface
    assert dropped[["station", "sensor", "depth_to"]].values.tolist() == [["b", "s2", 0.2]]
