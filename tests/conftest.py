"""Shared fixtures: paths to the real product files kept outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ../shared/realdata beside the repository (never copied into it: ISMN's terms forbid it).
REALDATA = Path(os.environ.get("SMDOWNSCALE_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real-data folder; tests using it are skipped, with the reason, when it is absent."""
    if not REALDATA.is_dir():
        pytest.skip(
            f"real product files not found at {REALDATA} (set SMDOWNSCALE_REALDATA to the "
            "shared/realdata folder to run the reader conformance tests)"
        )
    return REALDATA
