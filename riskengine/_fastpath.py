"""Single-debtor fast path: the batch computation on one payload's numpy arrays.

The batch path (:meth:`riskengine.engine.Engine.decide`) pays pandas'
per-operation overhead (tens of microseconds) dozens of times and the fitted
scikit-learn ensemble's per-call overhead; on one debtor that is hundreds of
milliseconds. This module computes the *same* inputs of the engine's array core
directly from a parsed payload:

- statement features through the statement pipeline's own kernel
  (:func:`riskengine.features.statements._compute`) on the payload's sorted rows;
- the adverse and payment features the overlay and the policy read, with the
  formulas of :mod:`riskengine.features.adverse` / :mod:`~riskengine.features.payments`
  for a single debtor (same operations in the same order, so the same floats);
- the past-due kernel, the rating basis and the canonical input document
  shared with the batch path;
- the PD through the fitted tree ensemble flattened into arrays and evaluated
  level by level for all trees at once (the trees' values summed in the
  order scikit-learn sums them), then the model's own calibration, anchoring
  and floor; reason codes by the reference substitution of
  :mod:`riskengine.model.explain` on those flattened trees.

Then :func:`riskengine.engine._decide_core` decides, exactly as in a batch.
Anything the fast path does not cover (a payload that validation might reject
on a rule beyond the payload schema, an overlay feature it does not compute, an
unknown product, a non-tree model) goes through the batch path instead, so the
answer is always the batch answer. ``tests/test_engine.py`` checks parity on
hundreds of synthetic debtors, through JSON round trips.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from riskengine import schemas
from riskengine.decision import Decision
from riskengine.engine import (
    DebtorInputs,
    Engine,
    PairInputs,
    _canon_strings,
    _decide_core,
    _kinds,
    debtor_doc,
    default_past_due,
    json_string,
    pair_doc,
    past_due_arrays,
    rating_basis,
)
from riskengine.features import payments as _pay
from riskengine.features import statements as _st
from riskengine.payload import DebtorPayload
from riskengine.policy.limits import requested_limit

__all__ = ["FlatTrees", "FastEngine"]

FloatArray = npt.NDArray[np.float64]
_NAT = np.iinfo(np.int64).max
_TIER = {e: t for e, t in schemas.ADVERSE_SEVERITY_TIER.items()}
_IDENTITIES = (("total_assets", "total_liabilities", 1, "equity"),
               ("ebit", "ebitda", -1, "depreciation_amortization"),
               ("gross_profit", "revenue", -1, "cost_of_sales"))
_ADV_SUPPORTED = {*(f"adv_n_tier{t}" for t in range(5)), "adv_n_adverse", "adv_n_open",
                  "adv_n_settled", "adv_weighted_count", "adv_max_tier", "adv_knockout",
                  "adv_knockout_open", "adv_insolvency", "adv_n_serious_significant"}
_PAY_SUPPORTED = {"pay_n_invoices", "pay_n_observed", "pay_dbt_mean", "pay_dbt_wmean",
                  *(f"pay_share_late_{d}" for d in _pay.LATE_DAYS), "pay_dilution",
                  "pay_open_balance", "pay_overdue_balance", "pay_balance_over_90",
                  "pay_overdue_share", "pay_share_over_90", "pay_cross_aging",
                  "pay_mixed_currency"}


class Unsupported(Exception):
    """The fast path does not cover this case: use the batch path."""


# --- flattened tree ensemble -------------------------------------------------------------

#: Rows scored per block (keeps the (pairs, rows) work arrays in the CPU cache).
_BLOCK_ROWS = 2048
#: Largest table of one tree (codes); deeper trees fall back to scikit-learn.
_MAX_TABLE = 1 << 16


class FlatTrees:
    """A fitted ``HistGradientBoostingClassifier`` (binary) as lookup tables.

    Every tree is a function of the few features it splits on. Each feature's
    value is first binned once against the sorted thresholds of *all* trees on
    it (``x <= t_k`` exactly as the tree tests it; NaN is its own bin). A tree
    then maps each of its features' bins to a small digit (its own thresholds
    on that feature, plus NaN), the digits make one mixed-radix code, and the
    code indexes a table of the tree's leaf values, filled at load time by
    walking the tree once per code. Scoring ``n`` rows is a handful of numpy
    gathers over ``(trees, n)`` arrays; no Python loop over rows or trees.

    Reason codes need the score with one feature set to its reference: for each
    (tree, feature) pair the table of the tree with that feature's digit
    replaced by the reference's digit is also precomputed, so a substituted
    tree value is one more gather.

    Scores equal the estimator's on float64 input: the raw score is
    ``baseline + tree_0 + tree_1 + ...`` added in that order (as
    scikit-learn's ``_raw_predict`` adds them; a cumulative sum, never a
    pairwise one).

    Parameters
    ----------
    estimator : HistGradientBoostingClassifier
        Fitted, binary, numerical splits only.
    reference : ndarray of shape (p,), optional
        Reference value of each feature (reason codes); default all 0.
    """

    def __init__(self, estimator: Any, reference: FloatArray | None = None) -> None:
        predictors = estimator._predictors
        if any(len(it) != 1 for it in predictors):
            raise Unsupported("only binary classifiers are flattened")
        trees = [it[0].nodes for it in predictors]
        if any(bool(t["is_categorical"].any()) for t in trees):
            raise Unsupported("categorical splits are not flattened")
        n_feat = int(getattr(estimator, "n_features_in_", 0)) or 1 + max(
            (int(t["feature_idx"].max()) for t in trees), default=0)
        ref = np.zeros(n_feat) if reference is None else np.asarray(reference, np.float64)
        self.n_trees = len(trees)
        self.n_features = n_feat
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        split = [~t["is_leaf"].astype(bool) for t in trees]
        # global thresholds per feature (the bins every tree's digits derive from)
        all_f = np.concatenate([t["feature_idx"][s] for t, s in zip(trees, split, strict=True)]
                               + [np.empty(0, np.int64)]).astype(np.intp)
        all_t = np.concatenate([t["num_threshold"][s] for t, s in zip(trees, split, strict=True)]
                               + [np.empty(0)]).astype(np.float64)
        used = np.unique(all_f)
        self.used = used  # features some tree splits on
        self.row_of = np.full(n_feat + 1, len(used), dtype=np.intp)  # unused -> zero row
        self.row_of[used] = np.arange(len(used))
        self.cuts = [np.unique(all_t[all_f == j]) for j in used]
        slots = max((len(np.unique(t["feature_idx"][s])) for t, s in
                     zip(trees, split, strict=True)), default=0)
        self.n_slots = slots
        # per slot: the row of the bins, the offset of its digit*stride table
        self.slot_row = np.full((slots, self.n_trees), len(used), dtype=np.intp)
        self.slot_off = np.zeros((slots, self.n_trees), dtype=np.intp)
        ds_parts: list[npt.NDArray[np.intp]] = [np.zeros(1, dtype=np.intp)]  # dummy: 0
        ds_len = 1
        tab_parts: list[FloatArray] = []
        tab_off = np.zeros(self.n_trees, dtype=np.intp)
        tab_len = 0
        pair_tree: list[int] = []
        pair_feat: list[int] = []
        sub_parts: list[FloatArray] = []
        diff_parts: list[FloatArray] = []
        absmax = abs(self.baseline)
        for ti, (nodes, s) in enumerate(zip(trees, split, strict=True)):
            feats = np.unique(nodes["feature_idx"][s]).astype(np.intp)
            local = [np.unique(nodes["num_threshold"][s & (nodes["feature_idx"] == j)])
                     for j in feats]
            radix = np.array([len(c) + 2 for c in local], dtype=np.intp)
            stride = np.concatenate([[1], np.cumprod(radix)[:-1]]).astype(np.intp)
            size = int(np.prod(radix)) if len(radix) else 1
            if size > _MAX_TABLE:
                raise Unsupported("a tree with too many split combinations to tabulate")
            for si, j in enumerate(feats.tolist()):
                r = int(self.row_of[j])
                gidx = np.searchsorted(self.cuts[r], local[si])  # positions of local cuts
                nbins = len(self.cuts[r]) + 2
                digit = np.searchsorted(gidx, np.arange(nbins), side="left")
                digit[-1] = len(local[si]) + 1  # the NaN bin
                self.slot_row[si, ti] = r
                self.slot_off[si, ti] = ds_len
                ds_parts.append((digit * stride[si]).astype(np.intp))
                ds_len += nbins
            # leaf value of every code: walk the tree on the digits
            codes = np.arange(size, dtype=np.intp)
            digits = (codes[None, :] // stride[:, None]) % radix[:, None] if len(radix) \
                else np.zeros((0, size), dtype=np.intp)
            values = self._walk(nodes, feats, local, digits)
            tab_off[ti] = tab_len
            tab_parts.append(values)
            tab_len += size
            absmax += float(np.abs(nodes["value"]).max())
            for si, j in enumerate(feats.tolist()):
                r = int(self.row_of[j])
                rb = int(self._bin(np.array([ref[j]]), r)[0])
                gidx = np.searchsorted(self.cuts[r], local[si])
                ref_digit = len(local[si]) + 1 if rb == len(self.cuts[r]) + 1 else \
                    int(np.searchsorted(gidx, rb, side="left"))
                sub_digits = digits.copy()
                sub_digits[si] = ref_digit
                sub_codes = (sub_digits * stride[:, None]).sum(axis=0)
                sub = values[sub_codes]
                sub_parts.append(sub)
                diff_parts.append(values - sub)
                pair_tree.append(ti)
                pair_feat.append(j)
        self.ds = np.concatenate(ds_parts)
        self.table = np.concatenate(tab_parts) if tab_parts else np.zeros(0)
        self.table_off = tab_off
        # (tree, feature) pairs sorted by feature: their substituted tables
        pt = np.asarray(pair_tree, dtype=np.intp)
        pf = np.asarray(pair_feat, dtype=np.intp)
        order = np.lexsort((pt, pf))
        self.pair_tree, self.pair_feature = pt[order], pf[order]
        sizes = np.array([len(sub_parts[q]) for q in order.tolist()], dtype=np.intp)
        self.pair_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.sub_table = np.concatenate([sub_parts[q] for q in order.tolist()] + [np.zeros(0)])
        self.diff_table = np.concatenate([diff_parts[q] for q in order.tolist()] + [np.zeros(0)])
        self.pair_base = self.pair_off - self.table_off[self.pair_tree]
        # features with pairs and the first pair of each
        self.pair_features, self.pair_start = np.unique(self.pair_feature, return_index=True)
        self.pair_stop = np.append(self.pair_start[1:], len(self.pair_feature))
        # bound on the rounding error of a sequential sum of the ensemble (both orders)
        self.tolerance = 16.0 * (self.n_trees + 2) * np.finfo(np.float64).eps * absmax

    @staticmethod
    def _walk(nodes: Any, feats: npt.NDArray[np.intp], local: list[FloatArray],
              digits: npt.NDArray[np.intp]) -> FloatArray:
        """Leaf value of the tree for every column of tree-local ``digits``."""
        leaf = nodes["is_leaf"].astype(bool)
        slot = np.zeros(len(nodes), dtype=np.intp)
        cut = np.zeros(len(nodes), dtype=np.intp)
        nan_digit = np.array([len(c) + 1 for c in local], dtype=np.intp)
        for si, j in enumerate(feats.tolist()):
            here = ~leaf & (nodes["feature_idx"] == j)
            slot[here] = si
            cut[here] = np.searchsorted(local[si], nodes["num_threshold"][here])
        miss_left = nodes["missing_go_to_left"].astype(bool)
        left = nodes["left"].astype(np.intp)
        right = nodes["right"].astype(np.intp)
        cols = np.arange(digits.shape[1])
        node = np.zeros(digits.shape[1], dtype=np.intp)
        for _ in range(int(nodes["depth"].max()) + 1):
            if leaf[node].all():
                break
            d = digits[slot[node], cols] if len(feats) else np.zeros_like(node)
            go_left = np.where(d == nan_digit[slot[node]] if len(feats) else False,
                               miss_left[node], d <= cut[node])
            node = np.where(leaf[node], node, np.where(go_left, left[node], right[node]))
        out: FloatArray = nodes["value"][node].astype(np.float64)
        return out

    def _bin(self, x: FloatArray, r: int) -> npt.NDArray[np.intp]:
        """Global bin of values of the feature in row ``r``: ``#cuts < x``, NaN last."""
        cuts = self.cuts[r]
        b = np.searchsorted(cuts, x, side="left")
        out: npt.NDArray[np.intp] = np.where(np.isnan(x), len(cuts) + 1, b).astype(np.intp)
        return out

    def bins(self, A: FloatArray) -> npt.NDArray[np.intp]:
        """Bins of the split features, shape ``(len(used) + 1, n)`` (last row zeros)."""
        n = A.shape[0]
        out = np.zeros((len(self.used) + 1, n), dtype=np.intp)
        for r, j in enumerate(self.used.tolist()):
            out[r] = self._bin(A[:, j], r)
        return out

    def codes(self, B: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """Table index of every tree for every row, shape ``(trees, n)``."""
        idx = np.empty((self.n_trees, B.shape[1]), dtype=np.intp)
        idx[:] = self.table_off[:, None]
        for s in range(self.n_slots):
            part = np.take(B, self.slot_row[s], axis=0)
            part += self.slot_off[s][:, None]
            idx += self.ds[part]
        return idx

    def _sum(self, vals: FloatArray) -> FloatArray:
        """Sequential sum ``baseline + v_0 + v_1 + ...`` of each column of ``vals``.

        Both branches add in the same order (a running sum, never pairwise), so
        a column's sum does not depend on how many columns there are.
        """
        if vals.shape[1] <= 32:
            full = np.empty((vals.shape[0] + 1, vals.shape[1]))
            full[0] = self.baseline
            full[1:] = vals
            small: FloatArray = np.cumsum(full, axis=0)[-1]
            return small
        out = np.full(vals.shape[1], self.baseline)
        for row in vals:
            out += row
        return out

    def decision_function(self, A: FloatArray) -> FloatArray:
        """Raw log-odds score of each row of ``A`` (shape ``(rows, features)``)."""
        A = np.asarray(A, dtype=np.float64)
        out = np.empty(A.shape[0])
        for lo in range(0, A.shape[0], _BLOCK_ROWS):
            blk = A[lo:lo + _BLOCK_ROWS]
            out[lo:lo + blk.shape[0]] = self._sum(self.table[self.codes(self.bins(blk))])
        return out


class ReasonArrays(NamedTuple):
    """Top reason codes of a block of rows as flat arrays, one entry per code.

    Entries are ordered by row, then by decreasing impact (ties: feature order).
    """

    row: npt.NDArray[np.intp]
    feature: npt.NDArray[np.intp]
    impact: FloatArray
    sub_score: FloatArray


def top_reasons(trees: FlatTrees, A: FloatArray, k: int
                ) -> tuple[FloatArray, ReasonArrays]:
    """Raw scores and the top ``k`` positive reference-substitution impacts of each row.

    ``impact[i, j] = s(a_i) - s(a_i with feature j at its reference)`` with both
    scores summed exactly as the estimator sums them. Every impact is first
    bounded cheaply (the per-tree differences summed in any order, within
    :attr:`FlatTrees.tolerance` of the exact value); only the features that can
    reach a row's top ``k`` are then summed exactly. A feature that changes no
    tree's value has impact exactly 0 and never gives a code.
    """
    n = A.shape[0]
    scores = np.empty(n)
    rows_out: list[npt.NDArray[np.intp]] = []
    feats_out: list[npt.NDArray[np.intp]] = []
    subs_out: list[FloatArray] = []
    tol = trees.tolerance
    nf = len(trees.pair_features)
    for lo in range(0, n, _BLOCK_ROWS):
        blk = A[lo:lo + _BLOCK_ROWS]
        m = blk.shape[0]
        idx = trees.codes(trees.bins(blk))
        vals = trees.table[idx]
        base = trees._sum(vals)
        scores[lo:lo + m] = base
        if nf == 0:
            continue
        local = np.take(idx, trees.pair_tree, axis=0)  # index into the pair tables
        local += trees.pair_base[:, None]
        diff = trees.diff_table[local]
        approx = np.add.reduceat(diff, trees.pair_start, axis=0)  # (features, m)
        if nf > k:
            kth = -np.partition(-approx, k - 1, axis=0)[k - 1]
            cand = (approx > -tol) & (approx >= kth - 2.0 * tol)
        else:
            cand = approx > -tol
        cols: list[npt.NDArray[np.intp]] = []
        fis: list[int] = []
        for fi in np.flatnonzero(cand.any(axis=1)).tolist():
            rows = np.flatnonzero(cand[fi])
            a, b = int(trees.pair_start[fi]), int(trees.pair_stop[fi])
            near0 = np.abs(approx[fi, rows]) <= tol
            if near0.any():  # exactly 0 when no tree's value moves: then no code
                moved = (diff[a:b][:, rows[near0]] != 0).any(axis=0)
                keep = np.ones(rows.size, dtype=bool)
                keep[near0] = moved
                rows = rows[keep]
            if rows.size:
                cols.append(rows)
                fis.append(fi)
        if not cols:
            continue
        all_rows = np.concatenate(cols)
        sub_vals = np.take(vals, all_rows, axis=1)
        at = 0
        for fi, rows in zip(fis, cols, strict=True):
            a, b = int(trees.pair_start[fi]), int(trees.pair_stop[fi])
            span = np.arange(at, at + rows.size)
            sub_vals[trees.pair_tree[a:b][:, None], span] = \
                trees.sub_table[local[a:b][:, rows]]
            feats_out.append(np.full(rows.size, trees.pair_features[fi], np.intp))
            at += rows.size
        rows_out.append(all_rows + lo)
        subs_out.append(trees._sum(sub_vals))
    if rows_out:
        row = np.concatenate(rows_out)
        feat = np.concatenate(feats_out)
        sub = np.concatenate(subs_out)
        imp = scores[row] - sub
        pos = imp > 0
        row, feat, imp, sub = row[pos], feat[pos], imp[pos], sub[pos]
        order = np.lexsort((feat, -imp, row))
        row, feat, imp, sub = row[order], feat[order], imp[order], sub[order]
        first = np.searchsorted(row, row, side="left")
        keep = np.arange(row.size) - first < k
        row, feat, imp, sub = row[keep], feat[keep], imp[keep], sub[keep]
    else:
        row = feat = np.empty(0, np.intp)
        imp = sub = np.empty(0)
    return scores, ReasonArrays(row, feat, imp, sub)


class FlatScorer:
    """PD and reason codes of a :class:`~riskengine.model.pd_model.PDModel` on flat trees.

    The reason codes follow :func:`riskengine.model.explain.reason_codes`
    (reference substitution, stable descending order, positive impacts only);
    ``tests/test_engine.py`` checks both against the reference on hundreds of
    debtors. One code path for one row and for a million.
    """

    def __init__(self, model: Any, top_k: int) -> None:
        if getattr(model, "family", None) != "hgb":
            raise Unsupported("the fast scorer needs the gradient-boosting family")
        self.model = model
        self.reference = np.asarray(model.reference_, dtype=np.float64)
        self.trees = FlatTrees(model.estimator_, self.reference)
        self.top_k = top_k
        self.names = [str(c) for c in model.feature_names_in_]
        self.fill_mask = np.asarray(model.fill_mask_, dtype=bool)

    def prepare(self, A: FloatArray) -> FloatArray:
        """The model's input preparation: inf -> NaN, then its history fill."""
        A = np.where(np.isinf(A), np.nan, A)
        out: FloatArray = self.model._fill(A)
        return out

    def explain(self, A: FloatArray) -> tuple[FloatArray, FloatArray, ReasonArrays, FloatArray]:
        """PDs, prepared rows, reason arrays and each code's PD change."""
        A = self.prepare(np.asarray(A, dtype=np.float64))
        k = min(self.top_k, A.shape[1])
        scores, rs = top_reasons(self.trees, A, k)
        pds = self.model._pd_from_score(scores)
        pd_sub = self.model._pd_from_score(rs.sub_score)
        return pds, A, rs, pds[rs.row] - pd_sub

    def __call__(self, A: FloatArray) -> tuple[FloatArray, list[list[dict[str, Any]]]]:
        pds, A, rs, pd_delta = self.explain(A)
        out: list[list[dict[str, Any]]] = [[] for _ in range(A.shape[0])]
        values = A[rs.row, rs.feature]
        refs = self.reference[rs.feature]
        for i, j, v, ref, imp, dp in zip(rs.row.tolist(), rs.feature.tolist(),
                                         values.tolist(), refs.tolist(), rs.impact.tolist(),
                                         pd_delta.tolist(), strict=True):
            miss = v != v
            out[i].append({"feature": self.names[j], "value": None if miss else v,
                           "reference": ref,
                           "direction": "missing" if miss else
                           ("higher" if v > ref else "lower"),
                           "impact": imp, "pd_delta": dp})
        return pds, out


# --- the fast engine -----------------------------------------------------------------------


_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


def _day(d: Any) -> int:
    """Day number since 1970-01-01 of a ``datetime.date`` (None -> NaT marker)."""
    return _NAT if d is None else d.toordinal() - _EPOCH_ORDINAL


def _value(v: Any, kind: str) -> str:
    """One canonical JSON value, as :func:`riskengine.engine.canonical_rows` writes it.

    numpy's shortest float repr equals Python's ``repr(float)`` (tests check it).
    """
    if v is None:
        return "null"
    if kind in ("float", "int"):
        f = float(v)
        return "null" if f != f else repr(f)
    if kind == "date":
        return '"' + v.isoformat() + '"'
    if kind == "bool":
        return "true" if v else "false"
    return json_string(v)


class FastEngine:
    """The engine's single-payload path (see the module docstring).

    Parameters
    ----------
    engine : Engine
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            self.scorer: FlatScorer | None = FlatScorer(engine.pd_model, engine.reason_top_k)
        except Unsupported:
            self.scorer = None
        feats = set(engine.overlay.features)
        self.supported = feats <= (_ADV_SUPPORTED | _PAY_SUPPORTED) and self.scorer is not None
        self.lookback_days = int(round(engine.lookback_years * 365.25))
        self.half_life_days = 2.0 * 365.25  # adverse_features' default half-life
        self.significant = float(engine.policy.knockouts.adverse_min_amount)
        self.products = set(engine.policy.product_names)
        self.ko_col = "adv_knockout" if engine.policy.knockouts.adverse_count_settled \
            else "adv_knockout_open"
        self.kinds = {name: _kinds(c) for name, c in schemas.CONTRACTS.items()}

    def decide_one(self, p: DebtorPayload, day: str, decided_at: str | None,
                   reference_date: Any) -> dict[str, Any]:
        """Decision dict of one parsed payload (batch path when not covered)."""
        if self.supported:
            try:
                deb, pair = self.inputs(p, day, reference_date)
            except Unsupported:
                pass
            else:
                assert self.scorer is not None
                col = _decide_core(self.engine, deb, pair, day, decided_at, self.scorer)
                return Decision(**{k: v[0] for k, v in col.items()}).to_dict()
        return self.engine.score_payloads([p], as_of=day, decided_at=decided_at,
                                          reference_date=reference_date)[0]

    # --- inputs --------------------------------------------------------------------

    def inputs(self, p: DebtorPayload, day: str, reference_date: Any
               ) -> tuple[DebtorInputs, PairInputs]:
        """The core's inputs for one payload; :class:`Unsupported` when not covered."""
        eng = self.engine
        ex = p.exposure
        product = ex.product if ex.product is not None else eng.default_product
        if product not in self.products:
            raise Unsupported("unknown product: the batch path reports it")
        t = _day(dt.date.fromisoformat(day))
        st_sorted = sorted(p.statements, key=lambda s: s.period_end)
        self._check(p, st_sorted, reference_date)

        # statements: the pipeline's kernel on the sorted rows
        st_rows = [s.__dict__ for s in st_sorted]
        days = np.array([_day(s.period_end) for s in st_sorted], dtype=np.int64)
        eligible = np.flatnonzero(days <= t)
        assert self.scorer is not None
        p_feats = len(eng.feature_names)
        st_X = np.full((1, p_feats), np.nan)
        fin = {"equity": math.nan, "revenue": math.nan, "net_income": math.nan,
               "total_assets": math.nan, "age_days": math.nan}
        stype, fcur = "", ""
        if eligible.size:
            last = int(eligible[-1])
            cols = {item: np.array([np.nan if r[item] is None else float(r[item])
                                    for r in st_rows], dtype=np.float64)
                    for item in schemas.LINE_ITEMS}
            tier = np.array([float(schemas.STATEMENT_QUALITY_TIER[r["statement_type"]])
                             for r in st_rows])
            f = _st._compute(cols, days, np.array([last]),
                             np.array([last - 1 if last >= 1 else -1]),
                             np.array([last - 2 if last >= 2 else -1]),
                             np.array([float(min(last + 1, 5))]), tier)
            f["st_statement_age_days"] = np.array([float(t - days[last])])
            st_X[0] = [f[name][0] for name in eng.feature_names]
            r = st_rows[last]
            eq = r["equity"]
            if eq is None:
                ta, tl = r["total_assets"], r["total_liabilities"]
                eq = math.nan if ta is None or tl is None else ta - tl
            fin = {"equity": float(eq), "revenue": float(r["revenue"]),
                   "net_income": math.nan if r["net_income"] is None else float(r["net_income"]),
                   "total_assets": math.nan if r["total_assets"] is None
                   else float(r["total_assets"]),
                   "age_days": float(t - days[last])}
            stype, fcur = str(r["statement_type"]), str(r["currency"])
        basis = rating_basis(np.array([stype], dtype=object), np.array([fin["total_assets"]]),
                             np.array([fin["revenue"]]), np.array([fin["age_days"]]),
                             eng.overlay.max_statement_age_days)

        adv = self._adverse(p, t)
        pay = self._payments(p, t)
        values = {**adv, **pay}
        overlay_X = np.array([[values[f] for f in eng.overlay.features]], dtype=np.float64)

        inv = p.invoices
        pdue, bal = past_due_arrays(
            np.zeros(len(inv), dtype=np.int64),
            np.array([_day(v.issue_date) for v in inv], dtype=np.int64),
            np.array([_day(v.due_date) for v in inv], dtype=np.int64),
            np.array([_day(v.paid_date) for v in inv], dtype=np.int64),
            np.array([float(v.amount) for v in inv], dtype=np.float64),
            t, eng.overlay.days_past_due, 1)

        deb = DebtorInputs(
            debtor_id=np.array([p.debtor.debtor_id], dtype=object), st_X=st_X, basis=basis,
            overlay_X=overlay_X, insolvency=np.array([adv["adv_insolvency"] > 0]),
            past_due_default=default_past_due(pdue, bal, eng.overlay),
            knockout=np.array([adv[self.ko_col] > 0]),
            dilution=np.array([pay["pay_dilution"]]),
            tnw=np.array([fin["equity"]]), revenue=np.array([fin["revenue"]]),
            profit=np.array([fin["net_income"]]), fin_currency=np.array([fcur], dtype=object),
            past_due_amount=pdue, doc=[self._debtor_doc(p, st_rows)])

        req = ex.requested_limit
        if req is None:
            req = float(requested_limit(float(ex.annual_sales or 0.0), float(ex.credit_days or 0),
                                        eng.policy.limits.credit_days_basis))
        dg, sg = p.debtor.group_id, ex.supplier.group_id
        related = ex.relation_type is not None or (dg is not None and dg == sg)
        pair = PairInputs(
            debtor_pos=np.zeros(1, dtype=np.int64),
            supplier_id=np.array([ex.supplier_id], dtype=object),
            currency=np.array([ex.currency], dtype=object),
            requested=np.array([float(req)]),
            annual_sales=np.array([math.nan if ex.annual_sales is None
                                   else float(ex.annual_sales)]),
            product=np.array([product], dtype=object),
            supplier_ledger=np.array([float(ex.supplier.ledger_total)]),
            supplier_currency=np.array([ex.currency], dtype=object),
            related=np.array([related]),
            insurer_limit=np.array([math.nan if ex.insurer_limit is None
                                    else float(ex.insurer_limit)]),
            doc=[self._pair_doc(p, product)])
        return deb, pair

    def _check(self, p: DebtorPayload, st_sorted: list[Any], reference_date: Any) -> None:
        """Validation rules beyond the payload schema: identities, future dates."""
        for s in st_sorted:
            for total, left, sign, right in _IDENTITIES:
                tv, a, b = getattr(s, total), getattr(s, left), getattr(s, right)
                if tv is None or a is None or b is None:
                    continue
                rhs = a + sign * b
                if abs(tv - rhs) > 0.02 * max(abs(tv), abs(rhs)) + 1.0:
                    raise Unsupported("identity broken: the batch path reports it")
        if reference_date is not None:
            ref = _day(dt.date.fromisoformat(str(np.datetime64(str(reference_date)[:10], "D"))))
            dates = [p.debtor.incorporation_date, *(s.period_end for s in st_sorted)]
            for a in p.adverse_records:
                dates += [a.event_date, a.settlement_date]
            for v in p.invoices:
                dates += [v.issue_date, v.paid_date]
            if any(d is not None and _day(d) > ref for d in dates):
                raise Unsupported("future date: the batch path reports it")

    def _adverse(self, p: DebtorPayload, t: int) -> dict[str, float]:
        recs = p.adverse_records
        event = np.array([_day(a.event_date) for a in recs], dtype=np.int64)
        age_all = t - event
        keep = np.flatnonzero((age_all >= 0) & (age_all <= self.lookback_days))
        kept = [recs[i] for i in keep.tolist()]
        age = age_all[keep]
        tier = np.array([_TIER[a.event_type] for a in kept], dtype=np.int64)
        settle = np.array([_day(a.settlement_date) for a in kept], dtype=np.int64)
        status_settled = np.array([a.status == "settled" for a in kept], dtype=bool)
        settled = status_settled & (settle != _NAT) & (settle <= t)
        amount = np.array([float(a.amount) for a in kept], dtype=np.float64)
        serious = np.array([a.event_type in schemas.SERIOUS_EVENT_TYPES for a in kept],
                           dtype=bool)
        insolv = np.array([a.event_type in schemas.INSOLVENCY_EVENT_TYPES for a in kept],
                          dtype=bool)
        adverse = tier >= 1
        weight = np.exp2(-age / self.half_life_days)
        code = np.zeros(len(kept), dtype=np.int64)

        def total(mask: np.ndarray, w: np.ndarray | None = None) -> float:
            weights = mask.astype(np.float64) if w is None else mask * w
            return float(np.bincount(code, weights=weights, minlength=1)[0])

        n_tier = np.bincount(tier, minlength=5).astype(np.float64)
        significant = serious & (amount > self.significant)
        out = {f"adv_n_tier{k}": float(n_tier[k]) for k in range(5)}
        out["adv_n_adverse"] = float(n_tier[1:].sum())
        out["adv_n_open"] = total(adverse & ~settled)
        out["adv_n_settled"] = total(adverse & settled)
        out["adv_weighted_count"] = total(adverse, weight)
        out["adv_max_tier"] = float(((n_tier > 0) * np.arange(5)).max())
        out["adv_n_serious_significant"] = total(significant)
        out["adv_insolvency"] = float(total(insolv & ~settled) > 0)
        out["adv_knockout"] = float(total(significant) > 0)
        out["adv_knockout_open"] = float(total(significant & ~settled) > 0)
        return out

    def _payments(self, p: DebtorPayload, t: int) -> dict[str, float]:
        lookback = 365  # payment_features' default (pay_dbt_trend is not computed here)
        invs = p.invoices
        issue_all = np.array([_day(v.issue_date) for v in invs], dtype=np.int64)
        paid_all = np.array([_day(v.paid_date) for v in invs], dtype=np.int64)
        start = t - lookback
        known = issue_all <= t
        paid_ok_all = (paid_all != _NAT) & (paid_all <= t)
        relevant = known & ((issue_all > start) | ~paid_ok_all | (paid_all > start))
        keep = np.flatnonzero(relevant)
        if keep.size == 0:
            return {k: float(v) for k, v in _pay.FILL_VALUES.items()}
        kept = [invs[i] for i in keep.tolist()]
        issue, paid_d, paid = issue_all[keep], paid_all[keep], paid_ok_all[keep]
        due = np.array([_day(v.due_date) for v in kept], dtype=np.int64)
        amount = np.array([float(v.amount) for v in kept], dtype=np.float64)
        diluted = np.array([float(v.credit_note_amount) for v in kept], dtype=np.float64) + \
            np.array([float(v.disputed_amount) for v in kept], dtype=np.float64)
        code = np.zeros(keep.size, dtype=np.int64)

        def total(mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
            weights = mask.astype(np.float64) if w is None else mask * w
            return np.bincount(code, weights=weights, minlength=1)

        open_ = ~paid
        overdue = open_ & (due < t)
        obs = np.where(paid, paid_d, t)
        sample = (paid & (paid_d > start)) | overdue
        dbt = np.maximum(obs - due, 0)
        issued = issue > start
        f: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            n_obs = total(sample).astype(np.float64)
            f["pay_n_invoices"] = total(issued).astype(np.float64)
            f["pay_n_observed"] = n_obs
            f["pay_dbt_mean"] = total(sample, dbt.astype(np.float64)) / n_obs
            f["pay_dbt_wmean"] = total(sample, dbt * amount) / total(sample, amount)
            for d in _pay.LATE_DAYS:
                f[f"pay_share_late_{d}"] = total(sample & (dbt > d)) / n_obs
            invoiced = total(issued, amount)
            f["pay_dilution"] = np.where(invoiced > 0, total(issued, diluted) / invoiced, np.nan)
            bal = total(open_, amount)
            f["pay_open_balance"] = bal
            f["pay_overdue_balance"] = total(overdue, amount)
            f["pay_balance_over_90"] = total(open_ & (t - issue > _pay.AGED_DAYS), amount)
            f["pay_overdue_share"] = np.where(bal > 0, f["pay_overdue_balance"] / bal, np.nan)
            share90 = np.where(bal > 0, f["pay_balance_over_90"] / bal, np.nan)
            f["pay_share_over_90"] = share90
            f["pay_cross_aging"] = (share90 > _pay.CROSS_AGING_SHARE).astype(np.float64)
        mixed = len({v.currency for v in kept}) > 1
        f["pay_mixed_currency"] = np.array([float(mixed)])
        out = {k: float(v[0]) for k, v in f.items()}
        if mixed:
            for k in _pay._MONEY:
                out[k] = math.nan
        return out

    # --- canonical documents ----------------------------------------------------------

    def _rows(self, table: str, records: list[dict[str, Any]], drop: tuple[str, ...] = ()
              ) -> list[str]:
        kinds = self.kinds[table]
        names = [c for c in schemas.CONTRACTS[table].names if c not in drop]
        return ["[" + ",".join([_value(r.get(c), kinds[c]) for c in names]) + "]"
                for r in records]

    def _debtor_doc(self, p: DebtorPayload, st_rows: list[dict[str, Any]]) -> str:
        drop = ("debtor_id",)
        adv = sorted((a.__dict__ for a in p.adverse_records), key=lambda r: r["record_id"])
        inv = sorted(({**v.__dict__, "supplier_id": p.exposure.supplier_id}
                      for v in p.invoices), key=lambda r: r["invoice_id"])
        tables = {
            "statements": "[" + ",".join(self._rows("statements", st_rows, drop)) + "]",
            "adverse_records": "[" + ",".join(self._rows("adverse_records", adv, drop)) + "]",
            "invoices": "[" + ",".join(self._rows("invoices", inv, drop)) + "]",
        }
        return debtor_doc(self._rows("debtors", [p.debtor.__dict__])[0], tables)

    def _pair_doc(self, p: DebtorPayload, product: str) -> str:
        ex = p.exposure
        exp_row = self._rows("exposures", [{**ex.__dict__, "debtor_id": p.debtor.debtor_id}])[0]
        sup_row = self._rows("suppliers", [{**ex.supplier.__dict__, "supplier_id": ex.supplier_id,
                                            "currency": ex.currency}])[0]
        il = _value(ex.insurer_limit, "float")
        return pair_doc(exp_row, sup_row, _canon_strings([ex.relation_type])[0],
                        _canon_strings([product])[0], il)
