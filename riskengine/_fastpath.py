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
from typing import Any

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


class FlatTrees:
    """A fitted ``HistGradientBoostingClassifier`` (binary) as flat node arrays.

    Scores equal the estimator's on float64 input: the raw score is
    ``baseline + tree_0 + tree_1 + ...`` added in that order (as
    scikit-learn's ``_raw_predict`` adds them).
    """

    def __init__(self, estimator: Any) -> None:
        predictors = estimator._predictors
        if any(len(it) != 1 for it in predictors):
            raise Unsupported("only binary classifiers are flattened")
        trees = [it[0] for it in predictors]
        if any(bool(t.nodes["is_categorical"].any()) for t in trees):
            raise Unsupported("categorical splits are not flattened")
        sizes = np.array([len(t.nodes) for t in trees])
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        nodes = np.concatenate([t.nodes for t in trees])
        tree_of = np.repeat(np.arange(len(trees)), sizes)
        self.n_trees = len(trees)
        self.root = offset.astype(np.intp)
        self.feature = nodes["feature_idx"].astype(np.intp)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        self.leaf = nodes["is_leaf"].astype(bool)
        base = offset[tree_of]
        self.left = np.where(self.leaf, np.arange(len(nodes)), nodes["left"] + base).astype(np.intp)
        self.right = np.where(self.leaf, np.arange(len(nodes)),
                              nodes["right"] + base).astype(np.intp)
        self.value = nodes["value"].astype(np.float64)
        self.depth = int(nodes["depth"].max())
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        # (feature, tree) pairs: the trees whose score can change with the feature
        split = ~self.leaf
        pairs = np.unique(np.stack([self.feature[split], tree_of[split]], axis=1), axis=0)
        self.pair_feature = pairs[:, 0].astype(np.intp)
        self.pair_tree = pairs[:, 1].astype(np.intp)
        self.pair_root = self.root[self.pair_tree]

    def _leaves(self, a: FloatArray, start: npt.NDArray[np.intp],
                sub_feature: npt.NDArray[np.intp] | None = None,
                sub_value: FloatArray | None = None) -> npt.NDArray[np.intp]:
        """Leaf reached from nodes ``start`` by row ``a``; entry k of the walk sees
        feature ``sub_feature[k]`` replaced by ``sub_value[k]`` when given."""
        node = start
        for _ in range(self.depth):
            f = self.feature[node]
            x = a[f]
            if sub_feature is not None and sub_value is not None:
                x = np.where(f == sub_feature, sub_value, x)
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        return node

    def tree_values(self, a: FloatArray) -> FloatArray:
        """Value of every tree for one row ``a``."""
        out: FloatArray = self.value[self._leaves(a, self.root)]
        return out

    def decision_function(self, A: FloatArray) -> FloatArray:
        """Raw log-odds score of each row of ``A`` (shape ``(rows, features)``)."""
        vals = np.stack([self.tree_values(a) for a in A]) if A.shape[0] else \
            np.empty((0, self.n_trees))
        return self._sum(vals)

    def _sum(self, vals: FloatArray) -> FloatArray:
        full = np.concatenate([np.full((vals.shape[0], 1), self.baseline), vals], axis=1)
        out: FloatArray = np.cumsum(full, axis=1)[:, -1]
        return out

    def substituted(self, a: FloatArray, reference: FloatArray) -> tuple[float, FloatArray]:
        """Score of ``a`` and of ``a`` with each feature j set to ``reference[j]``.

        Only the trees that split on feature j are evaluated again for row j;
        every row is then summed in the estimator's order, so each score equals
        the estimator's score of the substituted row.
        """
        base = self.tree_values(a)
        p = a.shape[0]
        sub_leaves = self._leaves(a, self.pair_root, self.pair_feature,
                                  reference[self.pair_feature])
        vals = np.broadcast_to(base, (p + 1, self.n_trees)).copy()
        vals[self.pair_feature + 1, self.pair_tree] = self.value[sub_leaves]
        scores = self._sum(vals)
        return float(scores[0]), scores[1:]


class FlatScorer:
    """PD and reason codes of a :class:`~riskengine.model.pd_model.PDModel` on flat trees.

    The reason codes follow :func:`riskengine.model.explain.reason_codes`
    (reference substitution, stable descending order, positive impacts only).
    """

    def __init__(self, model: Any, top_k: int) -> None:
        if getattr(model, "family", None) != "hgb":
            raise Unsupported("the fast scorer needs the gradient-boosting family")
        self.model = model
        self.trees = FlatTrees(model.estimator_)
        self.top_k = top_k
        self.reference = np.asarray(model.reference_, dtype=np.float64)
        self.names = [str(c) for c in model.feature_names_in_]

    def prepare(self, A: FloatArray) -> FloatArray:
        """The model's input preparation: inf -> NaN, then its history fill."""
        A = np.where(np.isinf(A), np.nan, A)
        out: FloatArray = self.model._fill(A)
        return out

    def __call__(self, A: FloatArray) -> tuple[FloatArray, list[list[dict[str, Any]]]]:
        A = self.prepare(np.asarray(A, dtype=np.float64))
        n, p = A.shape
        k = min(self.top_k, p)
        pds = np.empty(n)
        out: list[list[dict[str, Any]]] = []
        for i in range(n):  # one debtor at a time: this path serves single payloads
            base, sub = self.trees.substituted(A[i], self.reference)
            pd_all = self.model._pd_from_score(np.concatenate([[base], sub]))
            pds[i] = pd_all[0]
            impact = base - sub
            pd_delta = pd_all[0] - pd_all[1:]
            order = np.argsort(-impact, kind="stable")[:k]
            codes = []
            for j in order.tolist():
                if not impact[j] > 0:
                    continue
                v = A[i, j]
                miss = bool(np.isnan(v))
                ref = float(self.reference[j])
                codes.append({"feature": self.names[j], "value": None if miss else float(v),
                              "reference": ref,
                              "direction": "missing" if miss else
                              ("higher" if v > ref else "lower"),
                              "impact": float(impact[j]), "pd_delta": float(pd_delta[j])})
            out.append(codes)
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
