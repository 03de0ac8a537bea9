"""Taylor diagram statistics and figure (smdownscale.taylor; issue 16, item 7)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from smdownscale.taylor import taylor_diagram, taylor_statistics


def pairs(seed=0, n=500):
    rng = np.random.default_rng(seed)
    y = 0.2 + 0.05 * rng.standard_normal(n)
    return pd.DataFrame(
        {
            "y": y,
            "same": y,
            "half": 0.2 + 0.5 * (y - 0.2),  # R 1, half the spread
            "offset": y + 0.1,  # a bias is not a centred difference
            "noisy": y + 0.05 * rng.standard_normal(n),
            "anti": 0.4 - y,
        }
    )


def test_known_points_and_the_law_of_cosines():
    df = pairs()
    df.loc[3, "noisy"] = np.nan
    products = {c: c for c in ("same", "half", "offset", "noisy", "anti")}
    st = taylor_statistics(df, products).set_index("product")
    assert st.loc["same", ["r", "sd_ratio", "crmsd"]].tolist() == pytest.approx([1, 1, 0])
    assert st.loc["half", ["r", "sd_ratio", "crmsd"]].tolist() == pytest.approx([1, 0.5, 0.5])
    assert st.loc["offset", "crmsd"] == pytest.approx(0, abs=1e-12)
    assert st.loc["anti", "r"] == pytest.approx(-1) and st.loc["anti", "crmsd"] == pytest.approx(2)
    assert st.loc["noisy", "n"] == 499
    for row in st.itertuples():  # E'^2 = 1 + s^2 - 2 s R
        assert row.crmsd**2 == pytest.approx(1 + row.sd_ratio**2 - 2 * row.sd_ratio * row.r)
    # about sqrt(2) of the reference's spread: the noise is as large as the signal
    assert st.loc["noisy", "sd_ratio"] == pytest.approx(np.sqrt(2), rel=0.1)


def test_the_diagram_draws_every_product_and_says_which_it_cannot():
    df = pairs()
    st = taylor_statistics(df, {"same": "same", "noisy": "noisy", "anti": "anti"})
    fig = taylor_diagram(st, "test")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "in situ" and labels[1].startswith("same: R 1.00, SD 1.00")
    assert labels[3] == "anti: not shown (R -1.00)"
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.tell() > 10_000
    few = taylor_statistics(df.head(2), {"same": "same"})
    assert np.isnan(few.r.iloc[0]) and few.n.iloc[0] == 2
