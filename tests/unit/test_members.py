import dataclasses
import json
import pickle

import numpy as np
import pytest
import xgboost as xgb
from sklearn.ensemble import RandomForestRegressor

from smdownscale.members import (
    MEMBERS,
    FittedMember,
    MemberError,
    fit_member,
    load_member,
    load_models,
    member_class,
    predict_members,
    save_member,
)
from smdownscale.members.base import standardise, stratified_subsample
from smdownscale.members.treeconvert import (
    check_against,
    from_sklearn,
    from_xgboost,
    xgboost_leaf_sum,
)
from smdownscale.members.treeinfer import (
    TreeTable,
    TreeTableError,
    float_keys,
    group_bounds,
    node_words,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NAMES = ["rf", "mlr", "svr", "xgb", "mlp"]
#: Small but realistic settings, so the whole module runs in seconds.
FAST_PARAMS = {
    "rf": {"n_estimators": 25},
    "xgb": {"n_estimators": 60, "learning_rate": 0.2},
    "mlp": {"hidden_layer_sizes": (16,), "max_iter": 300},
    "svr": {"C": 3.0, "epsilon": 0.005},
    "mlr": {},
}


def coarse_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Coarse cell-days: LST [K], NDVI, albedo, elevation [m], precipitation [mm/d]; SM."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.normal(300.0, 8.0, n),
            rng.beta(2.0, 3.0, n),
            rng.uniform(0.1, 0.35, n),
            rng.gamma(2.0, 700.0, n),
            rng.exponential(2.0, n),
        ]
    )
    y = (
        0.25
        - 0.006 * (X[:, 0] - 300.0)
        + 0.12 * X[:, 1] ** 1.5
        - 0.4 * (X[:, 2] - 0.2)
        + 0.02 * np.sin(X[:, 3] / 500.0)
        + 0.03 * np.log1p(X[:, 4])
    )
    return X, np.clip(y + rng.normal(0.0, 0.01, n), 0.02, 0.55)


def random_inputs(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Rows spread over +-4 sd of the training features (beyond their range), with NaN and
    inf in some rows."""
    rng = np.random.default_rng(seed)
    Q = X.mean(axis=0) + X.std(axis=0) * rng.uniform(-4.0, 4.0, (n, X.shape[1]))
    Q[rng.random(n) < 0.05, rng.integers(0, X.shape[1])] = np.nan
    Q[3, 1] = np.inf
    Q[4, :] = np.nan
    return Q


@pytest.fixture(scope="module")
def data():
    return coarse_like(1500, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    # svr: a cap below n, so its subsample (and seed) matter
    return {
        name: fit_member(
            name, X, y, FAST_PARAMS[name], seed=7, max_samples=1000 if name == "svr" else None
        )
        for name in NAMES
    }


# ------------------------------------------------------------------ registry and errors
def test_registry_has_the_five_members():
    assert set(MEMBERS) == {"rf", "mlr", "svr", "xgb", "mlp"}
    for name, cls in MEMBERS.items():
        assert issubclass(cls, FittedMember)
        assert cls.name == name
        assert cls.long_name and cls.long_name != FittedMember.long_name
        assert cls.param_names == tuple(cls.defaults)
        with pytest.raises(TypeError):
            cls.defaults["x"] = 1  # read-only
    assert MEMBERS["mlr"].param_names == ()
    assert {"C", "epsilon", "gamma"} <= set(MEMBERS["svr"].param_names)
    assert {"n_estimators", "max_depth", "min_samples_leaf"} <= set(MEMBERS["rf"].param_names)
    assert {"n_estimators", "max_depth", "learning_rate"} <= set(MEMBERS["xgb"].param_names)
    assert {"hidden_layer_sizes", "alpha"} <= set(MEMBERS["mlp"].param_names)


def test_unknown_member_name_is_a_clear_error(data):
    X, y = data
    with pytest.raises(MemberError, match=r"unknown member 'gbm'.*mlp, mlr, rf, svr, xgb"):
        fit_member("gbm", X, y, {}, seed=0)
    with pytest.raises(MemberError, match="unknown member"):
        member_class("RF")


def test_unknown_hyperparameter_is_named(data):
    X, y = data
    with pytest.raises(MemberError, match=r"'n_trees'.*member 'rf'.*n_estimators"):
        fit_member("rf", X, y, {"n_trees": 10}, seed=0)
    with pytest.raises(MemberError, match=r"'alpha'.*member 'mlr'.*none"):
        fit_member("mlr", X, y, {"alpha": 1.0}, seed=0)


def test_invalid_training_data_is_refused(data):
    X, y = data
    Xn = X.copy()
    Xn[5, 2] = np.nan
    with pytest.raises(MemberError, match="finite"):
        fit_member("mlr", Xn, y, {}, seed=0)
    with pytest.raises(MemberError, match="shape|X \\(n, p\\)"):
        fit_member("mlr", X, y[:-1], {}, seed=0)


# ------------------------------------------------------------------ fast == naive
@pytest.mark.parametrize("name", NAMES)
def test_fast_predict_equals_naive(fitted, data, name):
    member = fitted[name]
    Q = random_inputs(data[0], 3000, seed=11)
    fast = member.predict(Q, block_rows=701)  # several blocks, a ragged last one
    naive = member.predict_naive(Q)
    assert fast.dtype == np.float32 and fast.shape == (3000,)
    invalid = ~np.isfinite(Q).all(axis=1)
    assert invalid.sum() > 50
    np.testing.assert_array_equal(np.isnan(fast), invalid)
    np.testing.assert_array_equal(np.isnan(naive), invalid)
    assert np.abs(fast - naive)[~invalid].max() <= 1e-5
    # predictions vary (a constant output would pass the comparison trivially)
    assert np.nanstd(fast) > 0.01


@pytest.mark.parametrize("C", [1.0, 100.0])
def test_svr_fast_kernel_is_accurate_for_large_dual_coefficients(data, C):
    X, y = data
    params = {"C": C, "epsilon": 0.001, "gamma": 0.5}
    member = fit_member("svr", X, y, params, seed=0, max_samples=800)
    assert member.meta["n_support"] > 700
    assert np.abs(member.model.dual_coef_).sum() > 300  # large coefficients of both signs
    Q = random_inputs(X, 4000, seed=3)
    assert np.nanmax(np.abs(member.predict(Q) - member.predict_naive(Q))) <= 1e-5


@pytest.mark.parametrize("name", ["rf", "xgb"])
def test_trees_evaluated_in_groups_sum_to_the_whole_model(fitted, data, name):
    member = fitted[name]
    Q = random_inputs(data[0], 2000, seed=5)
    whole = member.predict(Q)
    table = member._table
    sizes = np.diff(np.append(table.roots, table.n_nodes))
    member._table = dataclasses.replace(table, groups=np.asarray(group_bounds(sizes, 200)))
    try:
        assert member._table.groups.size > 6
        grouped = member.predict(Q)
    finally:
        member._prepare()
    np.testing.assert_allclose(grouped, whole, atol=2e-6)
    assert np.nanmax(np.abs(grouped - member.predict_naive(Q))) <= 1e-5


def test_group_bounds_respect_the_budget_and_keep_big_trees_whole():
    assert group_bounds([3, 3, 3, 3], 6) == [0, 2, 4]
    assert group_bounds([10, 1, 1], 4) == [0, 1, 3]  # a tree above the budget is a group
    assert group_bounds([5], 1) == [0, 1]


def rows_at_thresholds(rng, features, thresholds, p):
    """Float64 rows putting each feature on its threshold and just around it: the float64
    threshold and its float64 neighbours, its float32 rounding and the float32 neighbours,
    and the float64 midpoints between those float32 values (which round either way)."""
    t = np.asarray(thresholds, dtype=np.float64)
    t32 = t.astype(np.float32)
    up32, down32 = np.nextafter(t32, np.float32(np.inf)), np.nextafter(t32, np.float32(-np.inf))
    probes = [
        t,
        np.nextafter(t, np.inf),
        np.nextafter(t, -np.inf),
        t32.astype(np.float64),
        up32.astype(np.float64),
        down32.astype(np.float64),
        (t32.astype(np.float64) + up32.astype(np.float64)) / 2,
        (t32.astype(np.float64) + down32.astype(np.float64)) / 2,
    ]
    rows = np.repeat(rng.normal(size=(1, p)), len(probes) * t.size, axis=0)
    for k, v in enumerate(probes):
        rows[k * t.size + np.arange(t.size), features] = v
    return rows


def test_sklearn_trees_convert_exactly_at_split_thresholds():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 3))
    t = Z[:, 0] + np.sin(3 * Z[:, 1]) + 0.1 * rng.normal(size=400)
    forest = RandomForestRegressor(5, random_state=0).fit(Z, t)
    table = from_sklearn(forest.estimators_, Z)
    for est in forest.estimators_:
        inner = est.tree_.feature >= 0
        rows = rows_at_thresholds(rng, est.tree_.feature[inner], est.tree_.threshold[inner], 3)
        np.testing.assert_allclose(table.predict(rows), forest.predict(rows), rtol=0, atol=1e-12)


def test_xgboost_trees_convert_exactly_at_split_conditions():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(500, 3)).astype(np.float32)
    t = Z[:, 0] - np.cos(2 * Z[:, 2]) + 0.1 * rng.normal(size=500)
    booster = xgb.train(
        {"max_depth": 4, "eta": 0.3, "base_score": 0.7, "nthread": 1},
        xgb.DMatrix(Z, label=t),
        num_boost_round=8,
    )
    table = from_xgboost(booster, Z)
    assert table.base == pytest.approx(0.7)
    for tree in json_model(booster)["trees"]:
        inner = np.asarray(tree["left_children"]) != -1
        rows = rows_at_thresholds(
            rng,
            np.asarray(tree["split_indices"])[inner],
            np.asarray(tree["split_conditions"], dtype=np.float32)[inner],
            3,
        )
        # the same leaves as XGBoost reports, summed in float64
        np.testing.assert_allclose(
            table.predict(rows), xgboost_leaf_sum(booster, rows), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            table.predict(rows), booster.predict(xgb.DMatrix(rows)), rtol=0, atol=2e-6
        )


def test_xgboost_member_with_many_trees_on_wet_soils_fits_and_agrees():
    # XGBoost sums its trees in float32: with 1000 trees and values near 0.55 its own
    # predict drifts ~1e-6 from the exact leaf sum, which the fit-time check must accept
    X, y = coarse_like(1500, seed=4)
    member = fit_member(
        "xgb", X, y + 0.3, {"n_estimators": 1000, "learning_rate": 0.1}, seed=0, n_jobs=1
    )
    Q = random_inputs(X, 3000, seed=6)
    fast, naive = member.predict(Q), member.predict_naive(Q)
    assert np.nanmax(np.abs(fast - naive)) <= 1e-5
    assert np.nanmean(fast) > 0.45


def json_model(booster):
    return json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]


def test_float_keys_order_as_the_floats():
    rng = np.random.default_rng(3)
    v = np.concatenate(
        [
            rng.normal(0, 1e3, 500),
            rng.normal(0, 1e-30, 50),
            [0.0, -0.0, np.inf, -np.inf, 1e-45, -1e-45, 3.4e38, -3.4e38],
        ]
    ).astype(np.float32)
    k = float_keys(v)
    assert k.dtype == np.uint32
    a, b = np.meshgrid(np.arange(v.size), np.arange(v.size))
    np.testing.assert_array_equal(k[a] >= k[b], v[a] >= v[b])
    assert float_keys(np.array([-0.0]))[0] == float_keys(np.array([0.0]))[0]
    # float64 input is rounded to float32 first, as the libraries do
    x = np.float64(1.0) + 1e-12
    assert float_keys(np.array([x]))[0] == float_keys(np.array([1.0]))[0]
    assert float_keys(np.array([[np.nan, -np.nan]])).tolist() == [[0, 0]]  # left everywhere
    h = v[np.abs(v) < 6e4].astype(np.float16)  # other float dtypes: their float32 keys
    np.testing.assert_array_equal(float_keys(h), float_keys(h.astype(np.float32)))


def test_node_words_pack_child_feature_and_key_and_refuse_what_does_not_fit():
    nodes = np.array([[1, 5, 0x80000000, 0], [2**26 - 1, 0, 7, 0]], dtype=np.uint32)
    words, fbits = node_words(nodes, n_features=6)
    assert fbits == 3 and words.dtype == np.uint64
    assert [int(w) & 0xFFFFFFFF for w in words] == [0x80000000, 7]
    assert [int(w) >> 32 for w in words] == [1 << 3 | 5, (2**26 - 1) << 3]
    assert node_words(nodes[:1], n_features=1)[1] == 1
    with pytest.raises(TreeTableError, match="do not fit"):
        node_words(np.array([[2**29, 0, 0, 0]], dtype=np.uint32), n_features=6)


def test_tree_table_handles_stumps_and_checks_its_inputs():
    # a single leaf, and a stump on feature 1
    trees = [
        (np.array([-1]), np.array([-1]), np.array([0]), np.array([0.0]), np.array([0.5])),
        (
            np.array([1, -1, -1]),
            np.array([2, -1, -1]),
            np.array([1, 0, 0]),
            np.array([0.25, 0, 0], dtype=np.float32),
            np.array([0.0, -1.0, 1.0]),
        ),
    ]
    table = TreeTable.from_trees(trees, n_features=2, base=10.0)
    assert table.n_trees == 2 and list(table.depths) == [0, 1]
    Z = np.array([[5.0, 0.0], [5.0, 0.25], [-5.0, 0.2500001], [0.0, -1e30]])
    np.testing.assert_array_equal(table.predict(Z), [9.5, 11.5, 11.5, 9.5])
    assert table.predict(np.zeros((0, 2))).shape == (0,)
    with pytest.raises(TreeTableError, match="2 features"):
        table.predict(np.zeros((3, 3)))
    with pytest.raises(TreeTableError, match="feature outside"):
        TreeTable.from_trees(trees, n_features=1)
    with pytest.raises(TreeTableError, match="no trees"):
        TreeTable.from_trees([], n_features=2)
    with pytest.raises(TreeTableError, match="differ by 0.001 .* leaves the library"):
        check_against(table, Z, table.predict(Z) + np.array([0, 0, 1e-3, 0]))
    assert check_against(table, Z, table.predict(Z)) == 0.0
    state = pickle.loads(pickle.dumps(table.to_state()))
    np.testing.assert_array_equal(TreeTable.from_state(state).predict(Z), table.predict(Z))


def test_xgboost_converter_refuses_what_it_cannot_reproduce():
    Z = np.random.default_rng(0).normal(size=(200, 2))
    booster = xgb.train(
        {"objective": "reg:logistic", "nthread": 1},
        xgb.DMatrix(Z, label=(Z[:, 0] > 0).astype(float)),
        num_boost_round=2,
    )
    with pytest.raises(TreeTableError, match="reg:squarederror"):
        from_xgboost(booster, Z)


# ------------------------------------------------------------------ recovering a known truth
def test_members_recover_a_linear_truth():
    rng = np.random.default_rng(2)
    a, b = 0.3, np.array([-0.004, 0.15, -0.3, 1e-5, 0.01])
    X = np.column_stack(
        [
            rng.normal(300, 8, 2400),
            rng.uniform(0, 0.9, 2400),
            rng.uniform(0.1, 0.35, 2400),
            rng.uniform(0, 4000, 2400),
            rng.exponential(2.0, 2400),
        ]
    )
    signal = a + X @ b
    y = signal + rng.normal(0.0, 0.002, 2400)
    train, test = slice(0, 2000), slice(2000, None)
    mlr = fit_member("mlr", X[train], y[train], {}, seed=0)
    a_hat, b_hat = mlr.coefficients()
    assert a_hat == pytest.approx(a, abs=0.01)
    np.testing.assert_allclose(b_hat, b, rtol=0.02)
    sd = signal.std()
    limits = {"mlr": 0.01, "svr": 0.12, "mlp": 0.15, "xgb": 0.25, "rf": 0.3}
    for name, limit in limits.items():
        m = fit_member(name, X[train], y[train], FAST_PARAMS[name], seed=0)
        rmse = np.sqrt(np.mean((m.predict(X[test]) - signal[test]) ** 2))
        assert rmse < limit * sd, (name, rmse / sd)


# ------------------------------------------------------------------ determinism
@pytest.mark.parametrize("name", NAMES)
def test_fitting_is_deterministic_given_the_seed(fitted, data, name):
    X, y = data
    cap = 1000 if name == "svr" else None
    Q = random_inputs(X, 500, seed=9)
    again = fit_member(name, X, y, FAST_PARAMS[name], seed=7, max_samples=cap)
    np.testing.assert_array_equal(again.predict(Q), fitted[name].predict(Q))
    other = fit_member(name, X, y, FAST_PARAMS[name], seed=8, max_samples=cap)
    differs = not np.array_equal(other.predict(Q), fitted[name].predict(Q), equal_nan=True)
    assert differs == MEMBERS[name].stochastic  # svr through its subsample


# ------------------------------------------------------------------ serialisation
@pytest.mark.parametrize("name", NAMES)
def test_serialisation_round_trips_exactly(fitted, data, name, tmp_path):
    member = fitted[name]
    Q = random_inputs(data[0], 800, seed=4)
    back = FittedMember.from_bytes(member.to_bytes())
    assert type(back) is type(member)
    assert back.params == member.params and back.meta == member.meta
    assert back.n_train == member.n_train
    np.testing.assert_array_equal(back.x_mean, member.x_mean)
    np.testing.assert_array_equal(back.x_sd, member.x_sd)
    np.testing.assert_array_equal(back.predict(Q), member.predict(Q))
    if name == "rf":  # saved forests keep only the converted booster
        assert back.model is None
        with pytest.raises(MemberError, match="not kept in saved members"):
            back.predict_naive(Q)
    else:
        np.testing.assert_allclose(back.predict_naive(Q), member.predict_naive(Q), atol=1e-12)
    path = save_member(member, tmp_path / "m" / f"{name}.pkl")
    np.testing.assert_array_equal(load_member(path).predict(Q), member.predict(Q))
    # members pickled inside other objects (a period's model bundle) round-trip too
    bundle = pickle.loads(pickle.dumps({"region": {name: member}}))
    np.testing.assert_array_equal(bundle["region"][name].predict(Q), member.predict(Q))


def test_saved_forest_is_about_the_size_of_its_packed_trees(fitted, data):
    member = fitted["rf"]
    packed = member._table.nodes.nbytes + member._table.values.nbytes
    assert packed == 24 * member.meta["n_nodes"]
    assert len(member.to_bytes()) < 1.05 * packed + 10_000
    assert len(pickle.dumps(member)) < 1.05 * packed + 10_000
    # the fitted member itself still has its reference forest
    Q = random_inputs(data[0], 100, seed=2)
    assert np.isfinite(member.predict_naive(Q)).any()


def test_from_bytes_refuses_foreign_data():
    with pytest.raises(MemberError, match="not a serialised member"):
        FittedMember.from_bytes(pickle.dumps([1, 2]))
    with pytest.raises(MemberError, match="format 'other' cannot be loaded.*refit"):
        FittedMember.from_bytes(pickle.dumps({"format": "other"}))


def test_members_of_an_older_format_name_the_remedy(fitted):
    state = fitted["xgb"].__getstate__()
    old = pickle.dumps({**state, "format": "smdownscale-member/1"})
    member = object.__new__(type(fitted["xgb"]))
    with pytest.raises(MemberError, match="member/1.*cannot be loaded.*delete the period's"):
        member.__setstate__(pickle.loads(old))


def test_a_models_file_of_an_older_format_is_named(fitted, tmp_path):
    class Old:
        """Pickles as an xgb member of format 1 (what the previous version wrote)."""

        def __reduce__(self):
            state = {**fitted["xgb"].__getstate__(), "format": "smdownscale-member/1"}
            return (_rebuild_member, (type(fitted["xgb"]), state))

    path = tmp_path / "models_2010-04-07.pkl"
    path.write_bytes(pickle.dumps({"members": ["xgb"], "models": {0: {"xgb": Old()}}}))
    with pytest.raises(MemberError, match=r"models_2010-04-07.pkl: .*member/1.*rerun"):
        load_models(path)
    good = tmp_path / "good.pkl"
    good.write_bytes(pickle.dumps({"models": {0: {"xgb": fitted["xgb"]}}}))
    assert load_models(good)["models"][0]["xgb"].name == "xgb"


def _rebuild_member(cls, state):
    member = object.__new__(cls)
    member.__setstate__(state)
    return member


# ------------------------------------------------------------------ SVR subsample
def test_svr_training_set_is_capped_and_recorded(fitted, data):
    X, y = data
    meta = fitted["svr"].meta
    assert meta["max_samples"] == 1000 and meta["n_fit"] == 1000
    assert fitted["svr"].n_train == X.shape[0]
    assert 0 < meta["n_support"] <= 1000
    default = fit_member("svr", *coarse_like(3500, seed=3), {}, seed=0)
    assert default.meta["max_samples"] == 3000 and default.meta["n_fit"] == 3000
    small = fit_member("svr", X[:400], y[:400], {}, seed=0)
    assert small.meta["n_fit"] == 400 and small.meta["max_samples"] == 3000


def test_stratified_subsample_covers_the_quantiles():
    rng = np.random.default_rng(0)
    y = rng.lognormal(-1.5, 0.6, 10_000)  # skewed, like soil moisture
    idx = stratified_subsample(y, 1234, seed=3)
    assert idx.size == 1234 and np.unique(idx).size == 1234
    assert np.all(np.diff(idx) > 0)
    deciles = np.quantile(y, np.linspace(0, 1, 11)[1:-1])
    counts = np.bincount(np.searchsorted(deciles, y[idx], side="right"), minlength=10)
    assert counts.min() >= 123 and counts.max() <= 124
    np.testing.assert_array_equal(stratified_subsample(y, 1234, seed=3), idx)
    assert not np.array_equal(stratified_subsample(y, 1234, seed=4), idx)
    np.testing.assert_array_equal(stratified_subsample(y, 20_000, seed=3), np.arange(10_000))
    np.testing.assert_array_equal(stratified_subsample(y, None, seed=3), np.arange(10_000))


# ------------------------------------------------------------------ prediction plumbing
def test_standardisation_is_stored_and_used(fitted, data):
    X, _ = data
    m = fitted["mlr"]
    np.testing.assert_allclose(m.x_mean, X.mean(axis=0))
    np.testing.assert_allclose(m.x_sd, X.std(axis=0))
    Z, valid = standardise(np.array([[np.nan] * 5, m.x_mean]), m.x_mean, m.x_sd)
    assert valid.tolist() == [False, True]
    np.testing.assert_array_equal(Z, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_standardise_is_numpys_clip_and_scale_bit_for_bit(dtype):
    """The compiled pass gives exactly ``(clip(x, lo, hi) - mean) / sd`` as numpy computes it,
    with rows holding NaN, +-inf or values that overflow once standardised zero-filled."""
    rng = np.random.default_rng(5)
    X = (rng.normal(size=(3000, 4)) * [8.0, 0.2, 700.0, 2.0] + [300.0, 0.4, 1400.0, 1.0]).astype(
        dtype
    )
    X[rng.integers(0, 3000, 40), rng.integers(0, 4, 40)] = np.nan
    X[1, 0], X[2, 3], X[3, 2] = np.inf, -np.inf, np.finfo(dtype).max
    mean, sd = np.array([301.0, 0.41, 1390.0, 1.1]), np.array([7.9, 0.21, 1e-300, 2.2])
    lo, hi = np.array([290.0, 0.1, 100.0, 0.0]), np.array([310.0, 0.7, 3000.0, 5.0])
    for bounds in ((lo, hi), ()):
        with np.errstate(all="ignore"):
            expect = ((np.clip(X, *bounds) if bounds else X) - mean) / sd
        ok = np.isfinite(X).all(axis=1) & np.isfinite(expect).all(axis=1)
        expect[~ok] = 0.0
        Z, valid = standardise(X, mean, sd, *bounds)
        assert Z.dtype == np.float64
        np.testing.assert_array_equal(valid, ok)
        assert np.array_equal(Z, expect)
    assert valid[1:4].tolist() == [False, False, False] and valid.sum() > 2900


def test_constant_feature_does_not_break_fitting(data):
    X, y = data
    Xc = X.copy()
    Xc[:, 3] = 1200.0
    m = fit_member("svr", Xc, y, {}, seed=0)
    assert m.x_sd[3] == 1.0
    assert np.isfinite(m.predict(Xc[:50])).all()


def test_predict_checks_shapes_and_handles_empty_input(fitted):
    m = fitted["rf"]
    with pytest.raises(MemberError, match="5 features"):
        m.predict(np.zeros((3, 4)))
    assert m.predict(np.zeros((0, 5))).shape == (0,)
    with pytest.raises(MemberError, match="float32"):
        m.predict(np.zeros((3, 5)), out=np.zeros(3))


def test_predict_members_matches_each_member(fitted, data):
    members = [fitted[n] for n in ("rf", "mlr", "svr", "xgb")]
    Q = random_inputs(data[0], 1000, seed=6).astype(np.float32)
    out = predict_members(members, Q, block_rows=333)
    assert out.shape == (4, 1000) and out.dtype == np.float32
    for row, m in zip(out, members, strict=True):
        np.testing.assert_allclose(row, m.predict(Q), atol=1e-7)


def test_block_size_does_not_change_predictions(fitted, data):
    Q = random_inputs(data[0], 2000, seed=8)
    for name in NAMES:
        m = fitted[name]
        np.testing.assert_allclose(m.predict(Q, block_rows=97), m.predict(Q), atol=1e-7)


@pytest.mark.parametrize("name", ["mlr", "svr", "rf"])
def test_features_are_clamped_to_the_training_range(name):
    """A 1 km feature beyond every coarse training value predicts as the range's end: no
    unbounded extrapolation (MLR gave -0.8 and 13.7 m3 m-3 before)."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (400, 2))
    y = 0.1 + 0.2 * X[:, 0] + 0.05 * X[:, 1]
    member = fit_member(name, X, y, {}, 0)
    np.testing.assert_array_equal(member.x_min, X.min(axis=0))
    np.testing.assert_array_equal(member.x_max, X.max(axis=0))
    far = np.array([[50.0, 0.5], [-50.0, 0.5], [np.inf, 0.5]])
    edge = np.array([[X[:, 0].max(), 0.5], [X[:, 0].min(), 0.5], [0.0, 0.5]])
    got = member.predict(far)
    np.testing.assert_allclose(got[:2], member.predict(edge)[:2], atol=1e-6)
    assert np.isnan(got[2])  # non-finite features still predict nothing
    np.testing.assert_allclose(member.predict_naive(far)[:2], got[:2], atol=1e-5)
    assert 0.0 < got[0] < 0.4 and 0.0 < got[1] < 0.4
