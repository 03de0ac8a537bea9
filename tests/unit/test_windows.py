import datetime as dt

import numpy as np
import pytest

from smdownscale.calendar import Period
from smdownscale.windows import (
    SampleSelection,
    Window,
    WindowError,
    cell_distance,
    cell_groups,
    day_distance,
    day_offsets,
    fallback_counts,
    heldout_split,
    model_source,
    select_pooled,
    select_samples,
)

NDAYS = 4  # period length in these tests
MAXD = 3  # days stacked on each side


def stack(ny: int = 11, nx: int = 11, p: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All-missing sm and all-valid predictors for the period +-3 days, and day offsets."""
    offsets = np.arange(-MAXD, NDAYS + MAXD)
    t = offsets.size
    sm = np.full((t, ny, nx), np.nan)
    pred = np.random.default_rng(0).normal(size=(t, ny, nx, p))
    return sm, pred, offsets


def centre_labels(ny: int = 11, nx: int = 11) -> np.ndarray:
    """Region 1 is the 3 x 3 block in the middle, region 0 everything else."""
    labels = np.zeros((ny, nx), dtype=np.int16)
    labels[4:7, 4:7] = 1
    return labels


def t_of(offsets: np.ndarray, off: int) -> int:
    return int(np.flatnonzero(offsets == off)[0])


def test_day_offsets_and_distance():
    period = Period(dt.date(2010, 4, 7), dt.date(2010, 4, 7), dt.date(2010, 4, 22))
    days = [dt.date(2010, 4, 4), dt.date(2010, 4, 7), dt.date(2010, 4, 22), dt.date(2010, 4, 25)]
    off = day_offsets(days, period)
    np.testing.assert_array_equal(off, [-3, 0, 15, 18])
    np.testing.assert_array_equal(day_distance(off, period.ndays), [3, 0, 0, 3])


def test_cell_distance_is_chebyshev():
    mask = np.zeros((7, 7), dtype=bool)
    mask[3, 3] = True
    d = cell_distance(mask)
    assert d[3, 3] == 0 and d[2, 2] == 1 and d[1, 5] == 2 and d[0, 0] == 3 and d[3, 6] == 3


def test_plenty_of_samples_uses_level_0():
    sm, pred, off = stack()
    sm[:] = 0.2  # everything valid, also outside the period and region
    labels = centre_labels()
    sel = select_samples(sm, pred, off, NDAYS, labels, region=1)
    assert sel.criterion_met and sel.level == 0 and sel.window == Window(0, 0)
    assert sel.n == 9 * NDAYS and sel.counts == (36,)
    assert sel.min_samples == 16  # 8 x 2 predictors
    t, r, c = sel.coords.T
    assert ((off[t] >= 0) & (off[t] < NDAYS)).all()
    assert (labels[r, c] == 1).all()
    np.testing.assert_array_equal(sel.X, pred[t, r, c])
    np.testing.assert_array_equal(sel.y, sm[t, r, c])


def test_samples_two_days_outside_stop_at_level_2():
    sm, pred, off = stack()
    labels = centre_labels()
    # the region has data only 2 days before the period (and 3 days after: not needed)
    sm[t_of(off, -2), 4:7, 4:7] = 0.3
    sm[t_of(off, NDAYS + 2), 4:7, 4:7] = 0.3  # 3 days after (last period day is NDAYS - 1)
    sel = select_samples(sm, pred, off, NDAYS, labels, region=1, min_samples=9)
    assert sel.criterion_met
    assert sel.level == 2 and sel.window == Window(days_added=2, cells_added=2)
    assert sel.counts == (0, 0, 9)
    assert sel.n == 9 and set(off[sel.coords[:, 0]]) == {-2}


def test_samples_two_cells_away_stop_at_level_2():
    sm, pred, off = stack()
    labels = centre_labels()
    inside = (off >= 0) & (off < NDAYS)
    ring2 = np.zeros((11, 11), dtype=bool)
    ring2[2:9, 2:9] = True
    ring2[3:8, 3:8] = False  # cells at Chebyshev distance exactly 2 from the centre block
    ring3 = np.zeros((11, 11), dtype=bool)
    ring3[1:10, 1:10] = True
    ring3[2:9, 2:9] = False
    for t in np.flatnonzero(inside):
        sm[t][ring2] = 0.25
        sm[t][ring3] = 0.25  # more data one step further: must not be used
    sel = select_samples(sm, pred, off, NDAYS, labels, region=1)
    assert sel.level == 2 and sel.window == Window(2, 2) and sel.criterion_met
    assert sel.n == ring2.sum() * NDAYS
    r, c = sel.coords[:, 1], sel.coords[:, 2]
    assert ring2[r, c].all()


def test_hopeless_case_reaches_limits_without_meeting_criterion():
    sm, pred, off = stack()
    labels = centre_labels()
    sm[t_of(off, 0), 0, 0] = 0.2  # one far-away sample, beyond max_cells=3
    sel = select_samples(sm, pred, off, NDAYS, labels, region=1, max_days=1, max_cells=3)
    assert not sel.criterion_met
    assert sel.level == 3 and sel.window == Window(days_added=1, cells_added=3)
    assert sel.n == 0 and sel.X.shape == (0, 2) and sel.counts == (0, 0, 0, 0)


def test_invalid_predictor_or_unlabelled_cell_is_not_a_sample():
    sm, pred, off = stack()
    labels = centre_labels()
    t0 = t_of(off, 0)
    sm[t0, 4:7, 4:7] = 0.2
    pred[t0, 4, 4, 1] = np.nan
    labels[6, 6] = -1
    sel = select_samples(sm, pred, off, NDAYS, labels, region=1, min_samples=1)
    assert sel.level == 0 and sel.n == 7
    cells = {(int(r), int(c)) for r, c in sel.coords[:, 1:]}
    assert (4, 4) not in cells and (6, 6) not in cells


def test_input_errors_are_clear():
    sm, pred, off = stack()
    labels = centre_labels()
    with pytest.raises(WindowError, match="region 5 has no cells"):
        select_samples(sm, pred, off, NDAYS, labels, region=5)
    with pytest.raises(WindowError, match="repeated days"):
        select_samples(sm, pred, np.zeros_like(off), NDAYS, labels, region=1)
    with pytest.raises(WindowError, match="predictors must be"):
        select_samples(sm, pred[:, :5], off, NDAYS, labels, region=1)


def test_pooled_selection_uses_all_regions_and_widens_only_in_time():
    sm, pred, off = stack()
    labels = centre_labels()
    sm[t_of(off, 1), 0:2, :] = 0.2  # 22 samples in region 0 only
    pooled = select_pooled(sm, pred, off, NDAYS, labels)
    assert pooled.region is None and pooled.level == 0 and pooled.n == 22
    sm[:] = np.nan
    sm[t_of(off, -1), 0, :] = 0.2
    pooled = select_pooled(sm, pred, off, NDAYS, labels, min_samples=5)
    assert pooled.window == Window(1, 0) and pooled.n == 11


def selection(n: int, min_samples: int = 16, met: bool | None = None) -> SampleSelection:
    return SampleSelection(
        X=np.zeros((n, 2)),
        y=np.zeros(n),
        coords=np.zeros((n, 3), dtype=np.int64),
        region=1,
        level=0 if n >= min_samples else 5,
        window=Window(0, 0) if n >= min_samples else Window(3, 5),
        min_samples=min_samples,
        criterion_met=n >= min_samples if met is None else met,
    )


def test_model_source_fallback_chain_in_order():
    ok, bad = selection(40), selection(3)
    pool_ok, pool_bad = selection(500), selection(10)
    # own wins even when every fallback is available
    s = model_source(ok, previous_has_own=True, pooled=pool_ok)
    assert s.source == "own" and not s.is_fallback and s.n == 40
    # previous comes before pooled
    s = model_source(bad, previous_has_own=True, pooled=pool_ok)
    assert s.source == "previous" and "previous period" in s.reason
    assert s.window == Window(3, 5) and s.n == 3
    # pooled when there is no previous own model
    s = model_source(bad, previous_has_own=False, pooled=pool_ok)
    assert s.source == "pooled" and s.pooled_n == 500 and s.has_model
    # none when the pool also fails, or is unavailable
    s = model_source(bad, previous_has_own=False, pooled=pool_bad)
    assert s.source == "none" and not s.has_model and "10 < 16" in s.reason
    assert model_source(bad, previous_has_own=False, pooled=None).source == "none"
    rec = s.as_record()
    assert rec["source"] == "none" and rec["days_added"] == 3 and rec["cells_added"] == 5
    decisions = [
        model_source(ok, False, None),
        model_source(bad, True, None),
        model_source(bad, False, pool_ok),
        s,
        s,
    ]
    assert fallback_counts(decisions) == {"own": 1, "previous": 1, "pooled": 1, "none": 2}


def test_model_source_from_real_selections():
    sm, pred, off = stack()
    labels = centre_labels()
    sm[t_of(off, 0), 0, :] = 0.2  # region 0 has 11 samples; region 1 none within reach
    own = select_samples(sm, pred, off, NDAYS, labels, region=1, min_samples=5, max_cells=2)
    pooled = select_pooled(sm, pred, off, NDAYS, labels, min_samples=5)
    assert not own.criterion_met and pooled.criterion_met
    assert model_source(own, False, pooled).source == "pooled"


def test_heldout_split_by_cells():
    rng = np.random.default_rng(3)
    rows, cols = np.divmod(np.arange(200), 20)  # 200 cells
    days = 7
    coords = np.stack(
        [np.repeat(np.arange(days), 200), np.tile(rows, days), np.tile(cols, days)], axis=1
    )
    coords = coords[rng.permutation(coords.shape[0])]
    held = heldout_split(coords, fraction=0.1, seed=11)
    groups = cell_groups(coords)
    held_cells = set(groups[held])
    train_cells = set(groups[~held])
    assert not held_cells & train_cells
    assert len(held_cells) == 20  # 10 % of 200 cells
    assert held.sum() == 20 * days  # all days of a held-out cell
    np.testing.assert_array_equal(held, heldout_split(coords, fraction=0.1, seed=11))
    assert not np.array_equal(held, heldout_split(coords, fraction=0.1, seed=12))
    # the draw does not depend on the order of the samples
    order = rng.permutation(coords.shape[0])
    np.testing.assert_array_equal(heldout_split(coords[order], 0.1, 11), held[order])
    with pytest.raises(WindowError, match="fraction"):
        heldout_split(coords, fraction=1.0)
    # a single cell cannot be split
    assert not heldout_split(np.array([[0, 1, 1], [1, 1, 1]])).any()


def test_ks_stratified_split_redraws_until_the_distributions_agree():
    from scipy.stats import ks_2samp

    from smdownscale.windows import heldout_mask, ks_heldout_split

    rng = np.random.default_rng(0)
    n_cells, n_days = 60, 20
    cells = np.arange(n_cells)
    level = np.sort(rng.uniform(0.05, 0.4, n_cells))  # cells from dry to wet
    coords = np.column_stack([
        np.tile(np.arange(n_days), n_cells), np.repeat(cells // 10, n_days),
        np.repeat(cells % 10, n_days),
    ])  # fmt: skip
    y = np.repeat(level, n_days) + 0.01 * rng.standard_normal(n_cells * n_days)
    mask, p, draws = ks_heldout_split(coords, y, 0.1, seed=3)
    held_cells = np.unique(coords[mask][:, 1] * 10 + coords[mask][:, 2])
    assert held_cells.size == 6  # whole cells, a tenth of them
    assert p > 0.05 and p == ks_2samp(y[mask], y[~mask]).pvalue and draws >= 1
    # stratified: held-out cells come from across the range, not one end
    assert level[held_cells].min() < 0.2 < level[held_cells].max()
    # same seed, same split; config dispatch
    again, _, _ = ks_heldout_split(coords, y, 0.1, seed=3)
    np.testing.assert_array_equal(mask, again)
    m, info = heldout_mask(coords, y, {"heldout_split": "ks_stratified", "heldout_fraction": 0.1,
                                       "seed": 3})  # fmt: skip
    np.testing.assert_array_equal(m, mask)
    assert info["split"] == "ks_stratified" and info["split_draws"] == draws
    _, info = heldout_mask(coords, y, {"heldout_split": "cells", "heldout_fraction": 0.1,
                                       "seed": 3})  # fmt: skip
    assert info == {"split": "cells", "ks_p": None, "split_draws": 1}
    # an impossible request keeps the best draw and says how many were tried
    _, p2, d2 = ks_heldout_split(coords, y, 0.1, seed=3, alpha=1.0, max_draws=5)
    assert d2 == 5 and 0 <= p2 <= 1
