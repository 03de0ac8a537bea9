"""Real-data acquisition: catalogues, resumable verified transfers, manifests, offline checks.

Every product is fetched into the raw layout of :mod:`smdownscale.rawlayout` (the same
paths the demo world writes), so everything downstream is identical for demo and real data.

- :mod:`.sources`      the products: file-name patterns, URLs (from config), format checks
- :mod:`.credentials`  NASA Earthdata credentials (``EARTHDATA_TOKEN`` or ``~/.netrc``)
- :mod:`.transfer`     HTTP transfers: temporary name, HTTP range resume, retries with
                       backoff on 429/5xx/timeouts, size/checksum/format verification, rename
- :mod:`.catalogue`    what a provider actually holds (NASA CMR granule search)
- :mod:`.manifest`     one record per raw file (URL, size, checksums, time)
- :mod:`.plan`         the raw files a configuration needs; offline check; size estimate
- :mod:`.cds`          ERA5-Land through the Copernicus Climate Data Store (``cdsapi``)
"""
