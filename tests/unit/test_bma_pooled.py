"""The pooled BMA fallback and the choices held-out stations support (smdownscale.bma_pooled):
a wet-patch station whose bias terms the old region-mean transfer spread, the shrinkage
toward identity chosen by station-held-out CV, kriged or pooled, BMA or the member mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from smdownscale import bma
from smdownscale.bma_pooled import (
    ALL_REGIONS,
    PooledSettings,
    cross_validate,
    fit_pooled,
    gain_evidence,
    gain_test,
    paired_gain,
    region_values,
    required_t,
    shrink_to_identity,
    wins,
)
from smdownscale.kriging import SOURCE_POOLED, SOURCE_POOLED_ALL, SOURCE_POOLED_ALL_IDENTITY

MEMBERS = ("rf", "mlr", "svr", "xgb")
COLS = [f"f_{m}" for m in MEMBERS]


def world(
    n_stations=8,
    n_days=60,
    wet=(),
    wet_offset=0.15,
    bias=(0.0, 0.0, 0.0, 0.0),
    noise=(0.02, 0.04, 0.04, 0.04),
    anti=False,
    station_sd=0.0,
    n_folds=4,
    regions=None,
    seed=0,
):
    """Training pairs of ``n_stations`` stations: the cell's true soil moisture ``t``, the
    in-situ value ``y = t + sensor noise`` (+ ``wet_offset`` at the ``wet`` stations, an
    irrigated field the members cannot see; plus a per-station offset of SD ``station_sd``)
    and members ``t + bias_k + noise_k``. With ``anti`` the members' errors cancel in pairs
    (rf = -mlr, svr = -xgb), so the member mean is exactly ``t``."""
    rng = np.random.default_rng(seed)
    days = np.arange(n_days)
    frames = []
    for s in range(n_stations):
        level = 0.15 + 0.04 * rng.standard_normal()
        t = level + 0.05 * np.sin(days / 9.0 + s) + 0.02 * rng.standard_normal(n_days)
        offset = wet_offset if s in wet else 0.0
        if station_sd:
            offset += station_sd * rng.standard_normal()
        y = t + 0.01 * rng.standard_normal(n_days) + offset
        frame = pd.DataFrame(
            {
                "network": "NET",
                "station": f"s{s}",
                "time": pd.Timestamp("2010-04-01") + pd.to_timedelta(days, "D"),
                "y": y,
                "lon": 110.0 + 0.1 * s,
                "lat": 40.0,
                "region": 0 if regions is None else regions[s],
                "fold": s % n_folds + 1,
            }
        )
        e = [noise[k] * rng.standard_normal(n_days) for k in range(4)]
        if anti:
            e = [e[0], -e[0], e[2], -e[2]]
        for k, m in enumerate(MEMBERS):
            frame[f"f_{m}"] = t + bias[k] + e[k]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def station_parameters(pairs: pd.DataFrame) -> dict[str, tuple]:
    """Each station's own bias terms and EM weights: what the station posteriors hold."""
    out = {}
    for station, grp in pairs.groupby("station"):
        a, b, _ = bma.fit_bias(grp.y.to_numpy(), grp[COLS].to_numpy())
        w, _ = bma.em_estimate(grp.y.to_numpy(), a + b * grp[COLS].to_numpy())
        out[station] = (a, b, w)
    return out


def region_mean_transfer(pairs: pd.DataFrame) -> np.ndarray:
    """The old fallback, held out: every held-out station takes the arithmetic mean of the
    training stations' own parameters (a_k, b_k, w_k) of its region."""
    pred = np.full(len(pairs), np.nan)
    for g in pairs.fold.unique():
        held = (pairs.fold == g).to_numpy()
        params = station_parameters(pairs[~held])
        a, b, w = (np.mean([p[i] for p in params.values()], axis=0) for i in range(3))
        pred[held] = (w * (a + b * pairs.loc[held, COLS].to_numpy())).sum(axis=1)
    return pred


def rmse(pred, y, mask=None):
    mask = np.ones(len(y), bool) if mask is None else mask
    return float(np.sqrt(np.mean((pred[mask] - y[mask]) ** 2)))


# --------------------------------------------------------------------------- the wet patch
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_region_mean_of_station_bias_terms_hurts_and_the_pooled_fallback_does_not(seed):
    # one station in an irrigated patch (+0.15 m3/m3 that no member sees), seven ordinary
    pairs = world(wet=(0,), seed=seed)
    y = pairs.y.to_numpy()
    ordinary = (pairs.station != "s0").to_numpy()
    member_mean = pairs[COLS].mean(axis=1).to_numpy()
    old = region_mean_transfer(pairs)
    # the old transfer carries a seventh of the wet station's offset to every ordinary
    # station: held out, it is clearly worse than simply averaging the members
    assert rmse(old, y, ordinary) > 1.3 * rmse(member_mean, y, ordinary)
    assert np.mean(old[ordinary] - y[ordinary]) > 0.015  # wet bias carried to dry stations

    sel = cross_validate(pairs, MEMBERS, PooledSettings())
    # CV keeps the bias terms (near) identity: shrinking them protects the held-out stations
    assert sel.shrinkage >= 0.75 and sel.path == "pooled"
    chosen = sel.predictions["BMA (chosen)"]
    assert rmse(chosen, y, ordinary) < 0.8 * rmse(old, y, ordinary)
    assert rmse(chosen, y, ordinary) < 1.05 * rmse(member_mean, y, ordinary)
    assert abs(np.mean(chosen[ordinary] - y[ordinary])) < 0.01
    # the unshrunk pooled fit would have carried the wet bias too
    assert sel.score("pooled s=0") > sel.score(f"pooled s={sel.shrinkage:g}")


def test_a_bias_all_stations_share_is_kept_by_the_pooled_fit():
    # every member 0.05 too dry everywhere: the bias terms carry real, transferable signal
    pairs = world(bias=(-0.05,) * 4, seed=3)
    sel = cross_validate(pairs, MEMBERS, PooledSettings())
    assert sel.shrinkage == 0.0 and sel.ensemble == "bma"
    assert sel.score("BMA (chosen)") < 0.5 * sel.score("member mean")


def test_shrink_to_identity():
    a, b = np.array([0.1, -0.2]), np.array([0.5, 1.5])
    np.testing.assert_allclose(shrink_to_identity(a, b, 0.0), (a, b))
    np.testing.assert_allclose(shrink_to_identity(a, b, 1.0), ([0, 0], [1, 1]))
    np.testing.assert_allclose(shrink_to_identity(a, b, 0.25), (0.75 * a, 0.75 * b + 0.25))


# --------------------------------------------------------------------------- kriged or pooled
def test_kriging_is_used_only_when_it_clearly_beats_the_pooled_fit_held_out():
    # every station has its own offset (SD 0.04): a map that knew them would win every fold
    pairs = world(station_sd=0.04, seed=1)
    stations = pairs.groupby(["network", "station"], as_index=False)[
        ["lon", "lat", "region"]
    ].first()
    truth = (pairs.y - pairs[COLS].mean(axis=1)).groupby(pairs.station).mean()

    def parameters(n, a, b, w):
        out = {f"w_{m}": np.full(n, w[k]) for k, m in enumerate(MEMBERS)}
        out.update({f"a_{m}": np.broadcast_to(a, n) for m in MEMBERS})
        out.update({f"b_{m}": np.full(n, b[k]) for k, m in enumerate(MEMBERS)})
        out["log_sigma"] = np.full(n, np.log(0.02))
        return out

    def oracle(train_keys, held):  # knows each held-out station's own offset
        return parameters(len(held), truth[held.station].to_numpy(), [1.0] * 4, [0.25] * 4)

    def region_mean(train_keys, held):  # the old transfer, posing as a kriged map
        params = station_parameters(pairs.merge(train_keys, on=["network", "station"]))
        a, b, w = (np.mean([p[i] for p in params.values()], axis=0) for i in range(3))
        out = parameters(len(held), 0.0, b, w)
        out.update({f"a_{m}": np.full(len(held), a[k]) for k, m in enumerate(MEMBERS)})
        return out

    good = cross_validate(pairs, MEMBERS, PooledSettings(), oracle, stations)
    assert good.path == "kriged" and good.kriged_share == 1.0
    assert good.score("kriged") < 0.8 * good.score(f"pooled s={good.shrinkage:g}")
    bad = cross_validate(pairs, MEMBERS, PooledSettings(), region_mean, stations)
    assert bad.path == "pooled" and "kriging does not win" in " ".join(bad.reasons)
    none = cross_validate(pairs, MEMBERS, PooledSettings(), lambda k, h: None, stations)
    assert none.path == "pooled" and "could be kriged" in " ".join(none.reasons)
    # a gain in a single fold (one wet station the map knows) is not clear enough
    wet = world(wet=(0,), seed=1)

    def knows_the_wet_station(train_keys, held):
        offset = np.where(held.station.to_numpy() == "s0", 0.15, 0.0)
        return parameters(len(held), offset, [1.0] * 4, [0.25] * 4)

    one = cross_validate(wet, MEMBERS, PooledSettings(), knows_the_wet_station, stations)
    assert one.score("kriged") < one.score(f"pooled s={one.shrinkage:g}")
    assert one.path == "pooled" and "needed t >" in " ".join(one.reasons)
    assert (
        cross_validate(
            wet,
            MEMBERS,
            PooledSettings(min_gain_confidence=0.5),
            knows_the_wet_station,
            stations,
        ).path
        == "kriged"
    )


# --------------------------------------------------------------------------- earn its place
def test_bma_falls_back_to_the_member_mean_when_it_does_not_beat_it():
    # errors cancel in pairs: the member mean is the truth, BMA can at best tie
    pairs = world(anti=True, noise=(0.05, 0.05, 0.05, 0.05), seed=4)
    sel = cross_validate(pairs, MEMBERS, PooledSettings())
    assert sel.score("BMA (chosen)") >= sel.score("member mean")
    assert sel.ensemble == "mean" and "product is the member mean" in sel.reasons[-1]
    kept = cross_validate(pairs, MEMBERS, PooledSettings(fallback_to_mean=False))
    assert kept.ensemble == "bma" and "BMA is kept" in kept.reasons[-1]
    # one member far better than the rest: BMA earns its place
    good = cross_validate(world(noise=(0.005, 0.05, 0.05, 0.05), seed=4), MEMBERS,
                          PooledSettings())  # fmt: skip
    assert good.ensemble == "bma" and good.score("BMA (chosen)") < 0.7 * good.score("member mean")
    assert good.to_dict()["ensemble"] == "bma" and good.to_dict()["scores"]


def test_a_small_gain_within_its_standard_error_does_not_earn_the_place():
    # equally good members: BMA (with partly shrunk bias terms) is a little better held out,
    # but by less than the gain's standard error across the folds
    pairs = world(noise=(0.03,) * 4, seed=0)
    strict = cross_validate(pairs, MEMBERS, PooledSettings())
    loose = cross_validate(pairs, MEMBERS, PooledSettings(min_gain_confidence=0.5))
    assert strict.score("BMA (chosen)") < strict.score("member mean")
    assert strict.ensemble == "mean" and "standard error" in strict.reasons[-1]
    assert loose.ensemble == "bma"


def test_paired_gain_and_its_standard_error():
    y = np.zeros(6)
    groups = np.array([1, 1, 2, 2, 3, 3])
    simple = np.array([0.2, 0.2, 0.1, 0.1, 0.3, 0.3])
    better = np.zeros(6)
    gain, se = paired_gain(simple, better, y, groups)
    assert gain == pytest.approx(np.mean(simple**2))
    per_group = np.array([0.04, 0.01, 0.09])
    expected = np.sqrt(np.sum((per_group - gain) ** 2) / 9 * 3 / 2)
    assert se == pytest.approx(expected)
    # three groups: 2 df; the gain's t is gain / se
    t = gain / se
    assert wins(gain, se, 3, 0.5) and not wins(-gain, se, 3, 0.5)
    assert wins(gain, se, 3, float(stats.t.cdf(t, 2)) - 1e-6)
    assert not wins(gain, se, 3, float(stats.t.cdf(t, 2)) + 1e-6)
    assert wins(gain, np.nan, 3, 0.99)  # no spread to test: any gain
    assert np.isnan(paired_gain(simple, better, y, np.ones(6))[1])


def test_the_gain_must_pass_a_one_sided_t_test_across_the_folds():
    # the critical values of Student's t: 2.353 (3 df), 2.132 (4 df), 1.645 (infinite)
    assert required_t(4, 0.95) == pytest.approx(2.3534, abs=1e-4)
    assert required_t(5, 0.95) == pytest.approx(2.1318, abs=1e-4)
    assert required_t(100000, 0.95) == pytest.approx(1.6449, abs=1e-3)
    assert required_t(5, 0.5) == 0.0 and required_t(1, 0.95) == 0.0
    # a gain of 2 SE: clear with many folds, noise with four
    assert wins(2.0, 1.0, 60, 0.95) and not wins(2.0, 1.0, 4, 0.95)
    assert "t 2.00, needed t > 2.35 (one-sided 95%, 3 df)" in gain_evidence(2.0, 1.0, 4, 0.95)
    with pytest.raises(bma.BMAError, match="min_gain_confidence must be in"):
        PooledSettings(min_gain_confidence=1.0)


def test_a_gain_carried_by_few_stations_fails_the_station_test():
    # 4 folds of 6 stations; the complex candidate is much better at one station of each
    # fold and a little worse at the others: every fold gains about the same (a clear
    # fold-level t), but across the 24 stations the gain is a few outliers
    stations = np.repeat(np.arange(24), 10)
    folds = stations % 4
    y = np.zeros(stations.size)
    simple = np.full(stations.size, 0.05)
    complex_ = np.where(stations < 4, 0.0, 0.051) + 0.0005 * (stations % 3)
    gain, se_f = paired_gain(simple, complex_, y, folds)
    assert gain > 0 and wins(gain, se_f, 4, 0.95)  # the folds alone would take it
    won, said = gain_test(simple, complex_, y, folds, stations, 0.95)
    assert not won
    assert "over folds:" in said and "over stations:" in said and "(23 df)" in said
    # a gain every station shares passes both
    shared = np.full(stations.size, 0.04) + 0.001 * (stations % 5)
    assert gain_test(simple, shared, y, folds, stations, 0.95)[0]


def test_a_single_training_group_cannot_validate_anything():
    pairs = world(n_stations=1, seed=5)
    sel = cross_validate(pairs, MEMBERS, PooledSettings())
    assert (
        sel.shrinkage == 1.0
        and sel.ensemble == "mean"
        and "nothing to validate" in (sel.reasons[0])
    )
    # two stations in one fold: leave-one-station-out instead of the folds
    two = cross_validate(world(n_stations=2, n_folds=1, seed=5), MEMBERS, PooledSettings())
    assert two.cv_groups == "single stations" and two.n_groups == 2


# --------------------------------------------------------------------------- the final fits
def test_pooled_fit_per_region_with_all_region_fallback_and_identity():
    regions = [0, 0, 0, 1, 1, 0, 0, 0]  # region 1 has two stations: below the minimum
    pairs = world(n_days=30, regions=regions, seed=6)
    sampler = bma.SamplerSettings(walkers=16, steps=400, burn_in=100, thin=2, min_ess=50,
                                  min_chain_tau=5)  # fmt: skip
    settings = PooledSettings(min_region_stations=3)
    table = fit_pooled(pairs, MEMBERS, 1.0, settings, sampler, seed=1)
    assert sorted(table.region) == [ALL_REGIONS, 0]
    assert table.set_index("region").n_stations.to_dict() == {ALL_REGIONS: 8, 0: 6}
    w = table[[f"w_{m}" for m in MEMBERS]].to_numpy()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-9)
    assert (table[[f"a_{m}" for m in MEMBERS]].to_numpy() == 0).all()
    assert (table[[f"b_{m}" for m in MEMBERS]].to_numpy() == 1).all()
    assert (table[[f"a_{m}_sd" for m in MEMBERS]].to_numpy() == 0).all()
    assert table.identity_bias.all() and table.converged.all()
    values = region_values(table, MEMBERS)
    mean, sd, source = values.lookup(np.array([0, 1, -1]), (3,))
    assert list(source) == [2, SOURCE_POOLED_ALL_IDENTITY, SOURCE_POOLED_ALL_IDENTITY]
    i = list(values.fields).index("w_rf")
    assert mean[i, 1] == pytest.approx(table.set_index("region").loc[ALL_REGIONS, "w_rf"])
    # partial shrinkage: bias terms between the least-squares fit and identity
    half = fit_pooled(pairs, MEMBERS, 0.5, settings, sampler, seed=1).set_index("region")
    a0, b0, _ = bma.fit_bias(pairs.y.to_numpy(), pairs[COLS].to_numpy())
    assert half.loc[ALL_REGIONS, "b_rf"] == pytest.approx(0.5 * b0[0] + 0.5)
    assert half.loc[ALL_REGIONS, "a_rf"] == pytest.approx(0.5 * a0[0])
    assert half.loc[0, "source"] == SOURCE_POOLED
    assert half.loc[ALL_REGIONS, "source"] == SOURCE_POOLED_ALL


def test_em_estimate_agrees_with_the_posterior_mode():
    rng = np.random.default_rng(0)
    F = rng.normal(0.2, 0.05, (2000, 4))
    y = np.where(rng.random(2000) < 0.7, F[:, 1], F[:, 2]) + rng.normal(0, 0.01, 2000)
    w_em, s_em = bma.em_estimate(y, F)
    w_map, s_map = bma.map_estimate(y, F, sigma_scale=10.0)
    np.testing.assert_allclose(w_em, w_map, atol=5e-3)
    assert s_em == pytest.approx(s_map, rel=1e-2)
    assert w_em[1] == pytest.approx(0.7, abs=0.05)
