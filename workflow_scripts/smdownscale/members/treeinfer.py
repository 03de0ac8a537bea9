"""Tree-ensemble inference: packed trees walked by a compiled kernel, shared by rf and xgb.

A :class:`TreeTable` holds any ensemble of axis-aligned regression trees (scikit-learn's
forest through :func:`.treeconvert.from_sklearn`, an XGBoost booster through
:func:`.treeconvert.from_xgboost`) as one table of nodes, and predicts the sum of its
trees' leaf values plus a base score.

Layout. Each node is stored as four ``uint32``: the first child, the feature, the split
threshold as an order-preserving integer key, and padding. Siblings are adjacent
(depth-first, children allocated in pairs), so a row goes to ``child + (key(x) >= key(t))``.
A leaf is its own child with the largest key, so walking a tree is exactly ``depth`` steps
with no test for leaves. Leaf values are float64 and summed in float64. For the walk the
nodes are packed, when the table is built or loaded, into one ``uint64`` each (:func:`node_words`:
``(child << fbits | feature) << 32 | key``, ``fbits`` the bits of a feature index): one
8-byte load a step instead of three loads from a 16-byte node, and twice the nodes in cache.

Exactness. Both libraries compare in float32: XGBoost sends a row left when
``x < split_condition`` (float32); scikit-learn when ``float32(x) <= threshold`` (float64),
which is the same as ``x < c`` for ``c`` the next float32 above the largest float32 not
above the threshold (:func:`sklearn_split_condition`). Features are rounded to float32 once,
-0 is made +0, and the float32 bits are mapped to unsigned keys that order as the floats do
(sign bit set for positives, all bits flipped for negatives), so the integer comparison
sends every row to the same leaf as the library. Leaf values are summed in float64, so
predictions differ from scikit-learn's by ~1e-15 and from XGBoost's by its float32
summation (up to ~2e-6 m3 m-3 for 1000 trees and wet soils). At fitting time
:func:`.treeconvert.check_against` compares the table with the float64 sum of the values
at the leaves the library itself reports (``apply``, ``pred_leaf``) on the training rows,
so a converter that no longer matches its library fails loudly instead of predicting
wrong.
Rows must be finite (callers zero-fill invalid rows and discard their outputs).

The kernel is compiled once per process (~0.8 s), not cached on disk: numba's cache
fails at import where no cache directory is writable, and concurrent jobs on shared
storage can read each other's half-written cache files.

Speed. Rows go in blocks of :data:`BLOCK_ROWS`; for each group of trees of at most
:data:`NODE_BUDGET` nodes (one core's share of cache), each tree is walked for eight rows
at a time (eight independent chains of loads keep the core busy). Measured on this
machine (AMD EPYC, AVX-512, 2 cores; 1 M spatially smooth rows, 6 features), against
XGBoost 3.2's own predictor on the same trees:

===============================================  =========  ==============  ============
model                                            this table  XGBoost         scikit-learn
===============================================  =========  ==============  ============
forest: 100 trees, depth 13, 751,660 nodes         0.51 s     1.75 s (groups)   3.96 s
boosted: 300 trees, depth 6, 34,726 nodes          0.73 s     1.47 s            --
===============================================  =========  ==============  ============

The 8-byte node words came later: on one core of this machine (Intel Xeon, AVX-512; 1 M
independent rows) they cut the walk from 1.06 to 0.83 s for the forest and from 1.38 to
1.10 s for the boosted trees, with every group size of 2^13-2^15 nodes; keys are made by one
compiled pass (:func:`float_keys`) instead of five numpy passes. Through ``predict`` on two
cores (standardisation included; ``bench_predict.py --layout field``) the models of the
table now take 0.43 s and 0.59 s. Walking two trees at once for the same rows (one update of
the sums) was measured 10 % faster for the boosted trees only and not adopted.

Most of the gain is in the indices: with signed indices the compiled code checks every
array access for a negative index (numba's wraparound), which doubled the time of the same
kernel (1.31 s and 0.91 s); unsigned indices remove the checks. Also measured and rejected:
sixteen chains instead of eight (no faster), AVX-512 gathers over rows (2.05 s for the
boosted trees; gathers are slow on this core), comparing every node of a depth-6 tree at
once as a 63-bit mask (8.8 s), and groups of 2^13-2^16 nodes (2^14 within 1 % of the best).
Earlier, with XGBoost's predictor: ONNX Runtime 1.7x slower, sorting rows by quantised
features 8 % faster for the forest only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, uint64

from .base import FittedMember
from .bitcast import float_bits

#: Tree nodes walked per group (2^14 nodes: 128 KiB of node words, 128 KiB of leaf values).
NODE_BUDGET = 1 << 14
#: Rows walked together through a group of trees (their keys stay in the L1 cache).
BLOCK_ROWS = 512
#: Training rows on which every conversion is checked against the library's own leaves.
CHECK_ROWS = 2000
#: Key of a leaf: no finite feature's key reaches it, so a leaf is its own child.
LEAF_KEY = np.uint32(0xFFFFFFFF)


class TreeTableError(ValueError):
    """A tree ensemble cannot be converted or does not reproduce its library."""


# --------------------------------------------------------------------------- keys
@njit(nogil=True, boundscheck=False)
def _keys_into(z, keys):  # pragma: no cover - compiled
    for i in range(z.size):
        x = np.float32(z[i]) + np.float32(0.0)  # -0 + 0 = +0
        b = float_bits(x)
        if x != x:  # NaN
            keys[i] = 0
        elif b >> np.uint32(31):
            keys[i] = ~b
        else:
            keys[i] = b | np.uint32(0x80000000)


def float_keys(Z: np.ndarray) -> np.ndarray:
    """Order-preserving uint32 keys of ``float32(Z)`` (same shape, C order).

    ``key(a) >= key(b)`` iff ``float32(a) >= float32(b)`` for finite values; -0 and +0 get the
    same key. NaN has no place in the order: it gets key 0, so it goes left at every split.
    One compiled pass (the numpy form took five passes, ~0.06 s per million six-feature rows).
    """
    Z = np.asarray(Z)
    if Z.dtype not in (np.float32, np.float64):
        Z = Z.astype(np.float64)
    z = np.ascontiguousarray(Z).reshape(-1)
    keys = np.empty(z.size, dtype=np.uint32)
    _keys_into(z, keys)
    return keys.reshape(Z.shape)


def sklearn_split_condition(threshold: np.ndarray) -> np.ndarray:
    """Float32 conditions ``c`` with ``x < c`` iff ``float32(x) <= threshold`` (float64)."""
    threshold = np.asarray(threshold, dtype=np.float64)
    t32 = threshold.astype(np.float32)
    below = np.where(
        t32.astype(np.float64) > threshold, np.nextafter(t32, np.float32(-np.inf)), t32
    )
    return np.nextafter(below, np.float32(np.inf))


# --------------------------------------------------------------------------- kernel
@njit(nogil=True, inline="always", boundscheck=False)
def _child(keys, words, fbits, r, i):  # pragma: no cover - compiled
    """The node row ``r`` goes to from node ``i`` (unsigned indices: no wraparound checks)."""
    w = words[i]
    link = w >> uint64(32)
    feature = link & ((uint64(1) << fbits) - uint64(1))
    return (link >> fbits) + uint64(keys[r, feature] >= (w & uint64(0xFFFFFFFF)))


@njit(nogil=True, boundscheck=False)
def _walk(keys, words, fbits, values, roots, depths, groups, block, out):  # pragma: no cover
    """Add every tree's leaf value to ``out`` (float64 (n,)) for rows ``keys`` (uint32 (n, p))."""
    n = uint64(keys.shape[0])
    step = uint64(block)
    fb = uint64(fbits)
    for g in range(groups.size - 1):
        for b0 in range(0, keys.shape[0], block):
            r0 = uint64(b0)
            r1 = min(n, r0 + step)
            for t in range(groups[g], groups[g + 1]):
                root = uint64(roots[t])
                depth = depths[t]
                r = r0
                while r + uint64(8) <= r1:
                    i0 = root
                    i1 = root
                    i2 = root
                    i3 = root
                    i4 = root
                    i5 = root
                    i6 = root
                    i7 = root
                    for _ in range(depth):
                        i0 = _child(keys, words, fb, r, i0)
                        i1 = _child(keys, words, fb, r + uint64(1), i1)
                        i2 = _child(keys, words, fb, r + uint64(2), i2)
                        i3 = _child(keys, words, fb, r + uint64(3), i3)
                        i4 = _child(keys, words, fb, r + uint64(4), i4)
                        i5 = _child(keys, words, fb, r + uint64(5), i5)
                        i6 = _child(keys, words, fb, r + uint64(6), i6)
                        i7 = _child(keys, words, fb, r + uint64(7), i7)
                    out[r] += values[i0]
                    out[r + uint64(1)] += values[i1]
                    out[r + uint64(2)] += values[i2]
                    out[r + uint64(3)] += values[i3]
                    out[r + uint64(4)] += values[i4]
                    out[r + uint64(5)] += values[i5]
                    out[r + uint64(6)] += values[i6]
                    out[r + uint64(7)] += values[i7]
                    r += uint64(8)
                while r < r1:
                    i0 = root
                    for _ in range(depth):
                        i0 = _child(keys, words, fb, r, i0)
                    out[r] += values[i0]
                    r += uint64(1)


def node_words(nodes: np.ndarray, n_features: int) -> tuple[np.ndarray, int]:
    """The walk's form of the nodes: one uint64 each, ``(child << fbits | feature) << 32 |
    key``, and ``fbits`` (the bits a feature index takes)."""
    fbits = max(1, int(n_features - 1).bit_length())
    child = nodes[:, 0].astype(np.uint64)
    if nodes.shape[0] and int(child.max()) >= 1 << (32 - fbits):
        raise TreeTableError(
            f"{nodes.shape[0]} nodes of {n_features} features do not fit the 64-bit node words"
        )
    link = (child << np.uint64(fbits)) | nodes[:, 1].astype(np.uint64)
    return (link << np.uint64(32)) | nodes[:, 2].astype(np.uint64), fbits


# --------------------------------------------------------------------------- the table
def _sibling_order(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, int]:
    """Old node ids in the new order (depth-first, left first, children allocated in pairs)
    and the tree's depth."""
    order = [0]
    stack = [(0, 0)]
    depth = 0
    while stack:
        node, d = stack.pop()
        depth = max(depth, d)
        if left[node] != -1:
            order += (int(left[node]), int(right[node]))
            stack += ((int(right[node]), d + 1), (int(left[node]), d + 1))
    return np.asarray(order, dtype=np.int64), depth


@dataclass(frozen=True)
class TreeTable:
    """An ensemble of regression trees, packed for :func:`_walk`.

    Attributes:
        nodes: uint32 (n_nodes, 4): first child (a leaf: itself), feature, threshold key, 0.
        values: float64 (n_nodes,): leaf values (0 at split nodes).
        roots, depths: int64 (n_trees,): each tree's root node and depth.
        groups: int64 (n_groups + 1,): tree index bounds of the node-budget groups.
        base: added to every prediction.
        n_features: the number of features the trees split on (at most).
        words, fbits: the nodes as the walk reads them (:func:`node_words`; built on
            construction, not serialised).
    """

    nodes: np.ndarray
    values: np.ndarray
    roots: np.ndarray
    depths: np.ndarray
    groups: np.ndarray
    base: float
    n_features: int
    words: np.ndarray = field(init=False, repr=False, compare=False)
    fbits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        words, fbits = node_words(self.nodes, self.n_features)
        object.__setattr__(self, "words", words)  # frozen: set once, here
        object.__setattr__(self, "fbits", fbits)

    @classmethod
    def from_trees(
        cls,
        trees: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        n_features: int,
        base: float = 0.0,
        budget: int = NODE_BUDGET,
    ) -> TreeTable:
        """Pack ``trees``: per tree ``(left, right, feature, condition, value)`` arrays over
        its nodes (children -1 at leaves); a row goes right iff ``float32(x) >= condition``
        (float32), and a leaf's ``value`` is added to the prediction."""
        nodes, values, roots, depths, sizes = [], [], [], [], []
        offset = 0
        for left, right, feature, condition, value in trees:
            left = np.asarray(left, dtype=np.int64)
            right = np.asarray(right, dtype=np.int64)
            order, depth = _sibling_order(left, right)
            if order.size != left.size:
                raise TreeTableError(f"tree {len(roots)} has unreachable nodes")
            new_id = np.empty_like(order)
            new_id[order] = np.arange(order.size)
            leaf = left[order] == -1
            inner = np.flatnonzero(~leaf)
            feat = np.asarray(feature, dtype=np.int64)[order]
            if inner.size and (feat[inner].min() < 0 or feat[inner].max() >= n_features):
                raise TreeTableError(
                    f"tree {len(roots)} splits on a feature outside 0..{n_features - 1}"
                )
            packed = np.zeros((order.size, 4), dtype=np.uint32)
            packed[:, 0] = offset + np.arange(order.size)
            packed[inner, 0] = offset + new_id[left[order[inner]]]
            packed[inner, 1] = feat[inner]
            packed[:, 2] = LEAF_KEY
            packed[inner, 2] = float_keys(np.asarray(condition, dtype=np.float32)[order[inner]])
            vals = np.where(leaf, np.asarray(value, dtype=np.float64)[order], 0.0)
            nodes.append(packed)
            values.append(vals)
            roots.append(offset)
            depths.append(depth)
            sizes.append(order.size)
            offset += order.size
        if not roots:
            raise TreeTableError("the ensemble has no trees")
        if offset >= 2**32:
            raise TreeTableError(f"{offset} nodes do not fit 32-bit node indices")
        return cls(
            nodes=np.ascontiguousarray(np.concatenate(nodes)),
            values=np.concatenate(values),
            roots=np.asarray(roots, dtype=np.int64),
            depths=np.asarray(depths, dtype=np.int64),
            groups=np.asarray(group_bounds(sizes, budget), dtype=np.int64),
            base=float(base),
            n_features=int(n_features),
        )

    @property
    def n_trees(self) -> int:
        return int(self.roots.size)

    @property
    def n_nodes(self) -> int:
        return int(self.values.size)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Sum of the leaf values plus ``base`` for finite rows ``Z`` (n, p): float64 (n,)."""
        Z = np.asarray(Z)
        if Z.ndim != 2 or Z.shape[1] != self.n_features:
            raise TreeTableError(
                f"the trees take {self.n_features} features, got an array of shape {Z.shape}"
            )
        out = np.full(Z.shape[0], self.base, dtype=np.float64)
        if Z.shape[0]:
            _walk(
                float_keys(Z),
                self.words,
                self.fbits,
                self.values,
                self.roots,
                self.depths,
                self.groups,
                BLOCK_ROWS,
                out,
            )
        return out

    def to_state(self) -> dict[str, Any]:
        """The table as plain arrays and numbers (for pickling inside a member)."""
        return {
            "nodes": self.nodes,
            "values": self.values,
            "roots": self.roots,
            "depths": self.depths,
            "groups": self.groups,
            "base": self.base,
            "n_features": self.n_features,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TreeTable:
        return cls(**state)


def group_bounds(sizes: Sequence[int], budget: int = NODE_BUDGET) -> list[int]:
    """Bounds of consecutive tree groups of at most ``budget`` nodes (at least one tree)."""
    bounds = [0]
    total = 0
    for i, k in enumerate(sizes):
        if i > bounds[-1] and total + k > budget:
            bounds.append(i)
            total = 0
        total += k
    bounds.append(len(sizes))
    return bounds


# --------------------------------------------------------------------------- members
class PackedTreesMember(FittedMember):
    """A member whose fast path walks its trees packed in a :class:`TreeTable`.

    ``_fit_model`` returns ``table.to_state()`` as the fast state."""

    thread_rows = True

    def _prepare(self) -> None:
        self._table = TreeTable.from_state(self.fast_state)

    def _predict_fast(self, Z: np.ndarray) -> np.ndarray:
        return self._table.predict(Z)
