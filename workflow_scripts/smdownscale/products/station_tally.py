"""What the station readers used and left out, counted per source file and network.

Every station reader (:mod:`.ismn`, :mod:`.csv_stations`) adds each sensor it aggregated and
each sensor it skipped as too deep to a :class:`StationTally`. The tally warns as it counts
(sensors skipped as too deep; a sensor whose observations repeat a timestamp; a network none
of whose observations was accepted), and :meth:`StationTally.frame` is the table that the
rule ``harmonise_stations`` writes beside the station table (``stations/station_checks.csv``),
one row per source file and network:

===================== =====================================================================
column                meaning
===================== =====================================================================
source                the ISMN archive or the CSV values file
network               network name
sensors               sensors read (of the variable, no deeper than ``max_depth_m``)
sensors_too_deep      sensors skipped: their sensed layer ends below ``max_depth_m``
observations          observations of the sensors read
accepted              observations used (finite, every flag code accepted)
rejected_by_flag      why the others were not, e.g. ``D05: 5, U: 736`` (empty when none)
duplicate_timestamps  observations repeating a timestamp of their sensor (all averaged)
station_days          station-sensor-days with accepted observations
===================== =====================================================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from .stations import AggregationCounts

log = logging.getLogger(__name__)

TALLY_COLUMNS = [
    "source",
    "network",
    "sensors",
    "sensors_too_deep",
    "observations",
    "accepted",
    "rejected_by_flag",
    "duplicate_timestamps",
    "station_days",
]


@dataclass
class NetworkTally:
    """One network of one source file."""

    sensors: int = 0
    sensors_too_deep: int = 0
    counts: AggregationCounts = field(default_factory=AggregationCounts)


class StationTally:
    """Counts per (source, network); see the module doc."""

    def __init__(self) -> None:
        self.networks: dict[tuple[str, str], NetworkTally] = {}

    def _get(self, source: object, network: str) -> NetworkTally:
        return self.networks.setdefault((str(source), network), NetworkTally())

    def add_network(self, source: object, network: str) -> None:
        """Count a network of ``source`` even if it has no sensor (a row of zeros)."""
        self._get(source, network)

    def add_sensor(
        self, source: object, network: str, station: str, sensor: str, counts: AggregationCounts
    ) -> None:
        """Count one aggregated sensor; WARNING when its observations repeat timestamps."""
        entry = self._get(source, network)
        entry.sensors += 1
        entry.counts += counts
        if counts.n_duplicate_times:
            log.warning(
                "%s: station %s/%s (sensor %s): %d observation(s) repeat a timestamp "
                "(first at %s UTC); each is counted in its day's mean: remove the repeated "
                "rows, or flag the ones not to use",
                source,
                network,
                station,
                sensor,
                counts.n_duplicate_times,
                counts.first_duplicate_time,
            )

    def skip_too_deep(self, source: object, deep: pd.DataFrame, max_depth_m: float) -> None:
        """Count and WARN about sensors skipped for ending deeper than ``max_depth_m``.

        ``deep``: one row per sensor with network, station, sensor, depth_from, depth_to.
        """
        if deep.empty:
            return
        for network, n in deep["network"].value_counts(sort=False).items():
            self._get(source, str(network)).sensors_too_deep += int(n)
        names = [
            f"{r.network}/{r.station}/{r.sensor} {r.depth_from:g}-{r.depth_to:g} m"
            for r in deep.itertuples()
        ]
        log.warning(
            "%s: %d sensor(s) skipped, their sensed layer ends below stations.max_depth_m = "
            "%g m: %s (raise max_depth_m to use them, if they sense the surface layer)",
            source,
            len(deep),
            max_depth_m,
            names,
        )

    def warn_unused_networks(self, source: object, hint: str) -> list[str]:
        """WARNING for each network of ``source`` with sensors read but no observation
        accepted (naming the rejecting flags and ``hint``); returns those networks."""
        unused = []
        for (src, network), entry in self.networks.items():
            c = entry.counts
            if src != str(source) or entry.sensors == 0 or c.n_accepted > 0:
                continue
            unused.append(network)
            log.warning(
                "%s: network %s: none of its %d observation(s) of %d sensor(s) is accepted "
                "(rejected: %s), so it contributes no station: %s",
                src,
                network,
                c.n_obs,
                entry.sensors,
                c.by_flag() or "no observations",
                hint,
            )
        return unused

    def frame(self) -> pd.DataFrame:
        """One row per source and network, columns :data:`TALLY_COLUMNS`."""
        rows = [
            {
                "source": src,
                "network": network,
                "sensors": e.sensors,
                "sensors_too_deep": e.sensors_too_deep,
                "observations": e.counts.n_obs,
                "accepted": e.counts.n_accepted,
                "rejected_by_flag": e.counts.by_flag(),
                "duplicate_timestamps": e.counts.n_duplicate_times,
                "station_days": e.counts.n_days,
            }
            for (src, network), e in sorted(self.networks.items())
        ]
        return pd.DataFrame(rows, columns=TALLY_COLUMNS)
