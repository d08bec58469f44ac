"""Single-debtor fast path: the batch computation on one payload's numpy arrays.

The batch path (:meth:`riskengine.scoring.engine.Engine.decide`) pays pandas'
per-operation overhead (tens of microseconds) dozens of times and the fitted
scikit-learn ensemble's per-call overhead; on one debtor that is hundreds of
milliseconds. This module computes the *same* inputs of the engine's array core
directly from a parsed payload:

- statement features by :func:`_statement_row`: the formulas of the statement
  pipeline (:func:`riskengine.features.statements._compute`) on the payload's
  sorted rows, as Python floats in the same order of operations (so the same
  floats; ``tests/test_fastpath_statements.py`` checks them bit for bit);
- the adverse and payment features the overlay and the policy read, with the
  formulas of :mod:`riskengine.features.adverse` / :mod:`~riskengine.features.payments`
  for a single debtor (same operations in the same order, so the same floats);
- the input hash by the batch's functions (:func:`riskengine.scoring.records.block_digests`,
  :func:`~riskengine.scoring.records.pair_bytes`) on the payload's one-debtor records
  (:mod:`riskengine.scoring.payload_hash`);
- validation's identity rule and the contracts' no-future dates (:meth:`FastEngine._check`);
- the past-due amount and the rating basis (Python scalars, the batch formulas);
- the PD through the fitted tree ensemble flattened into arrays
  (:class:`riskengine.model.flat_trees.FlatScorer`, the batch path's scorer).

Then the engine's array core (:func:`riskengine.scoring.core._decide_core`, passed in
by the engine: this module sits below :mod:`riskengine.scoring.engine` and never imports
it) decides, exactly as in a batch.
Anything the fast path does not cover (a payload that validation might reject
on a rule beyond the payload schema, an overlay feature it does not compute, an
unknown product, a non-tree model) goes through the batch path instead, so the
answer is always the batch answer. ``tests/test_engine.py`` checks parity on
hundreds of synthetic debtors, through JSON round trips.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.contracts import schemas
from riskengine.contracts.dates import parse_date
from riskengine.contracts.payload import DebtorPayload
from riskengine.features import payments as _pay
from riskengine.features import statements as _st
from riskengine.model.flat_trees import FlatScorer, Unsupported
from riskengine.policy.limits import requested_limit
from riskengine.scoring.inputs import DebtorInputs, PairInputs
from riskengine.scoring.payload_hash import payload_hashes
from riskengine.scoring.reasons import decision_of, reason_words
from riskengine.validation.identities import IDENTITIES, identity_gaps

__all__ = ["FastEngine", "Unsupported"]

FloatArray = npt.NDArray[np.float64]
_NAT = np.iinfo(np.int64).max
_TIER = {e: t for e, t in schemas.ADVERSE_SEVERITY_TIER.items()}
#: The identities' items (totals, left items, right items) and signs, for identity_gaps.
_IDENTITY_ITEMS = [str(i[k]) for k in (0, 1, 3) for i in IDENTITIES]
_IDENTITY_SIGN = np.array([[float(i[2])] for i in IDENTITIES])
_ADV_SUPPORTED = {*(f"adv_n_tier{t}" for t in range(5)), "adv_n_adverse", "adv_n_open",
                  "adv_n_settled", "adv_weighted_count", "adv_max_tier", "adv_knockout",
                  "adv_knockout_open", "adv_insolvency", "adv_n_serious_significant"}
_PAY_SUPPORTED = {"pay_n_invoices", "pay_n_observed", "pay_dbt_mean", "pay_dbt_wmean",
                  *(f"pay_share_late_{d}" for d in _pay.LATE_DAYS), "pay_dilution",
                  "pay_open_balance", "pay_overdue_balance", "pay_balance_over_90",
                  "pay_overdue_share", "pay_share_over_90", "pay_cross_aging",
                  "pay_mixed_currency"}


# --- the fast engine -----------------------------------------------------------------------


_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


def _w(mask: bool, w: float) -> float:
    """``mask * w`` of numpy (bool times float64): ``w``, or ``0.0 * w``."""
    return w if mask else 0.0 * w


def _ratio(a: float, b: float) -> float:
    """``a / b`` as numpy divides float64 (errors ignored): 0/0 and NaN/0 -> NaN, x/0 -> inf."""
    if b == 0.0:
        if a == 0.0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _day(d: Any) -> int:
    """Day number since 1970-01-01 of a ``datetime.date`` (None -> NaT marker)."""
    return _NAT if d is None else d.toordinal() - _EPOCH_ORDINAL


def _num(v: Any) -> float:
    """A record's amount as a float (None -> NaN), as the batch frames hold it."""
    return math.nan if v is None else float(v)


def _div(num: float, den: float, scale: float = 1.0) -> float:
    """One entry of :func:`riskengine.features.statements._ratios`: ``num / den * scale``
    where ``den > 0``, NaN otherwise (``den`` NaN, 0 or negative)."""
    return num / den * scale if den > 0 else math.nan


def _near(gap: float, years: float) -> bool:
    """:func:`riskengine.features.statements._near` on one gap (NaN -> False)."""
    return abs(gap - years * _st._YEAR_DAYS) <= _st._LAG_TOLERANCE_DAYS


def _trend_row(row: dict[str, Any] | None) -> tuple[float, ...]:
    """The trend bases of one earlier statement (all NaN without one): revenue,
    total assets, liabilities / assets, ROA, current ratio, EBITDA margin
    (:func:`riskengine.features.statements._trend_bases` with the EBITDA fallback
    of ``_items``)."""
    if row is None:
        return (math.nan,) * 6
    rev, ta = _num(row["revenue"]), _num(row["total_assets"])
    ebitda = _num(row["ebitda"])
    if ebitda != ebitda:
        ebitda = _num(row["ebit"]) + _num(row["depreciation_amortization"])
    return (rev, ta, _div(_num(row["total_liabilities"]), ta), _div(_num(row["net_income"]), ta),
            _div(_num(row["current_assets"]), _num(row["current_liabilities"])),
            _div(ebitda, rev))


#: The statement kernel's features of one row that need ``np.log``.
_LOG_FEATURES = ("st_log_total_assets", "st_log_revenue")
_TREND_KEYS = ("liabilities_to_assets", "roa", "current_ratio", "ebitda_margin")


def _statement_row(rows: list[dict[str, Any]], day_l: list[int], last: int,
                   need_log: bool = True) -> dict[str, float]:
    """The statement kernel's features of row ``last`` of one debtor's sorted rows.

    :func:`riskengine.features.statements._compute` with ``rows=[last]``,
    ``lag1=[last - 1]``, ``lag2=[last - 2]`` (-1 when absent) and
    ``n_statements=[min(last + 1, 5)]``, written on Python floats: every value
    is the same IEEE operation on the same operands in the same order (a
    quotient where the denominator is > 0, else NaN; the identity fallbacks
    where an item is missing), so the floats are identical; the logarithms are
    numpy's (one call for both). ``tests/test_fastpath_statements.py`` checks
    the two bit for bit on hundreds of debtors.
    """
    r = rows[last]
    c = {k: _num(r[k]) for k in schemas.LINE_ITEMS}
    if c["gross_profit"] != c["gross_profit"]:
        c["gross_profit"] = c["revenue"] - c["cost_of_sales"]
    ebitda, ebit = c["ebitda"], c["ebit"]
    if ebitda != ebitda:
        c["ebitda"] = ebit + c["depreciation_amortization"]
    if ebit != ebit:  # from the EBITDA as given (the kernel fills EBIT first)
        c["ebit"] = ebitda - c["depreciation_amortization"]
    if c["equity"] != c["equity"]:
        c["equity"] = c["total_assets"] - c["total_liabilities"]
    ca = c["current_assets"]
    c["_working_capital"] = ca - c["current_liabilities"]
    c["_quick_assets"] = ca - c["inventory"]
    f = {name: _div(c[a], c[b], sc) for name, a, b, sc in _st._RATIO_SPECS}
    eq, interest = c["equity"], c["interest_expense"]
    ta, rev = c["total_assets"], c["revenue"]
    f["st_negative_equity"] = math.nan if eq != eq else float(eq <= 0)
    f["st_no_interest"] = math.nan if interest != interest else float(interest == 0)
    logs = [math.nan, math.nan]
    if need_log and (ta > 0 or rev > 0):
        pos = [v for v in (ta, rev) if v > 0]
        got = np.log(np.array(pos, dtype=np.float64)).tolist()
        if ta > 0:
            logs[0] = got[0]
        if rev > 0:
            logs[1] = got[-1]
    f["st_log_total_assets"], f["st_log_revenue"] = logs

    # earlier statements: lag 1 ~1 year back; the 2-year comparator is lag 2 if ~2
    # years back, else lag 1 if it is ~2 years back (a missing year)
    d = float(day_l[last])
    gap1 = d - float(day_l[last - 1]) if last >= 1 else math.nan
    gap2 = d - float(day_l[last - 2]) if last >= 2 else math.nan
    idx1 = last - 1 if _near(gap1, 1.0) else -1
    idx2 = last - 2 if _near(gap2, 2.0) else (last - 1 if _near(gap1, 2.0) else -1)
    p1 = _trend_row(rows[idx1] if idx1 >= 0 else None)
    p2 = _trend_row(rows[idx2] if idx2 >= 0 else None)
    f["st_revenue_growth_1y"] = _div(rev, p1[0]) - 1.0
    f["st_revenue_growth_2y"] = _div(rev, p2[0]) - 1.0
    f["st_total_assets_growth_1y"] = _div(ta, p1[1]) - 1.0
    for i, key in enumerate(_TREND_KEYS):
        cur = f[f"st_{key}"]
        f[f"st_{key}_delta_1y"] = cur - p1[2 + i]
        f[f"st_{key}_delta_2y"] = cur - p2[2 + i]
    z2 = f["_z2_equity_to_liabilities"]
    z2 = z2 + 6.56 * f["st_working_capital_to_assets"]
    z2 = z2 + 3.26 * f["st_retained_earnings_to_assets"]
    z2 = z2 + 6.72 * f["st_ebit_to_assets"]
    f["st_altman_z2"] = z2
    f["st_quality_tier"] = float(schemas.STATEMENT_QUALITY_TIER[r["statement_type"]])
    f["st_n_statements"] = float(min(last + 1, 5))
    return f


#: Features :func:`_statement_row` gives (with the age the caller adds).
_STATEMENT_ROW_FEATURES = frozenset(n for n in _statement_row(
    [{**dict.fromkeys(schemas.LINE_ITEMS, 1.0), "statement_type": schemas.STATEMENT_TYPES[0]}],
    [0], 0) if not n.startswith("_")) | {"st_statement_age_days"}

_NO_FIN = {"equity": math.nan, "revenue": math.nan, "net_income": math.nan,
           "total_assets": math.nan, "age_days": math.nan}


class FastEngine:
    """The engine's single-payload path (see the module docstring).

    Parameters
    ----------
    engine : riskengine.scoring.engine.Engine
        The engine this path serves (its model, policy and overlay; its batch path
        for payloads this path does not cover).
    decide_core : callable
        The engine's array core, ``decide_core(engine, debtor_inputs, pair_inputs,
        as_of, decided_at, scorer)`` -> decision columns.
    """

    def __init__(self, engine: Any, decide_core: Callable[..., dict[str, list[Any]]]) -> None:
        self.engine = engine
        self.decide_core = decide_core
        self.words = reason_words(engine.overlay)  # the overlay's words of the reasons
        try:
            self.scorer: FlatScorer | None = FlatScorer(engine.pd_model, engine.reason_top_k)
        except Unsupported:
            self.scorer = None
        feats = set(engine.overlay.features)
        st_names = set(engine.feature_names)
        self.supported = (feats <= (_ADV_SUPPORTED | _PAY_SUPPORTED) and self.scorer is not None
                          and st_names <= _STATEMENT_ROW_FEATURES)
        self.st_need = bool(st_names & set(_LOG_FEATURES))
        self.lookback_days = int(round(engine.lookback_years * 365.25))
        self.half_life_days = 2.0 * 365.25  # adverse_features' default half-life
        self.significant = float(engine.policy.knockouts.adverse_min_amount)
        self.products = set(engine.policy.product_names)
        self.ko_col = "adv_knockout" if engine.policy.knockouts.adverse_count_settled \
            else "adv_knockout_open"
        self.pay_need = frozenset(feats) | {"pay_dilution"}
        self.adv_need = frozenset(feats)

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
                col = self.decide_core(self.engine, deb, pair, day, decided_at, self.scorer)
                return decision_of({k: v[0] for k, v in col.items()}, self.words).to_dict()
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

        # statements: the pipeline's kernel on Python floats (_statement_row)
        st_rows = [s.__dict__ for s in st_sorted]
        day_l = [_day(s.period_end) for s in st_sorted]
        last = -1  # the latest statement up to t (rows sorted by period end)
        for i, d in enumerate(day_l):
            if d <= t:
                last = i
        fin = _NO_FIN
        stype, fcur = "", ""
        if last >= 0:
            f = _statement_row(st_rows, day_l, last, self.st_need)
            f["st_statement_age_days"] = float(t - day_l[last])
            st_X = np.array([[f[name] for name in eng.feature_names]], dtype=np.float64)
            r = st_rows[last]
            eq = r["equity"]
            if eq is None:
                ta, tl = r["total_assets"], r["total_liabilities"]
                eq = math.nan if ta is None or tl is None else ta - tl
            fin = {"equity": float(eq), "revenue": float(r["revenue"]),
                   "net_income": math.nan if r["net_income"] is None else float(r["net_income"]),
                   "total_assets": math.nan if r["total_assets"] is None
                   else float(r["total_assets"]),
                   "age_days": float(t - day_l[last])}
            stype, fcur = str(r["statement_type"]), str(r["currency"])
        else:
            st_X = np.full((1, len(eng.feature_names)), np.nan)
        # rating_basis and past_due of the batch path, on Python scalars (the same
        # comparisons; the sums add in record order from 0.0, as np.bincount does)
        fresh = fin["age_days"] <= eng.overlay.max_statement_age_days
        has_rev = not math.isnan(fin["revenue"])
        if fresh and has_rev and stype != "tax_return" and stype != "" \
                and fin["total_assets"] > 0:
            basis_code = 0
        elif fresh and has_rev and stype == "tax_return":
            basis_code = 1
        else:
            basis_code = 2

        adv = self._adverse(p, t)
        pay = self._payments(p, t)
        values = {**adv, **pay}
        overlay_X = np.array([[values[f] for f in eng.overlay.features]], dtype=np.float64)

        dpd = eng.overlay.days_past_due
        pdue_s = bal_s = 0.0
        for v in p.invoices:
            paid_day = _day(v.paid_date)
            is_open = _day(v.issue_date) <= t and paid_day > t
            amount = float(v.amount)
            pdue_s += amount if is_open and t - _day(v.due_date) > dpd else 0.0
            bal_s += amount if is_open else 0.0
        ov = eng.overlay
        pd_default = pdue_s > ov.materiality_absolute and pdue_s > ov.materiality_relative * bal_s

        req = ex.requested_limit
        if req is None:
            req = float(requested_limit(float(ex.annual_sales or 0.0), float(ex.credit_days or 0),
                                        eng.policy.limits.credit_days_basis))
        dg, sg = p.debtor.group_id, ex.supplier.group_id
        related = ex.relation_type is not None or (dg is not None and dg == sg)
        # the one-element arrays of the core's inputs as views of four small arrays (one
        # numpy call per dtype instead of one per input)
        num = np.array([pay["pay_dilution"], fin["equity"], fin["revenue"], fin["net_income"],
                        pdue_s, float(req), _num(ex.annual_sales),
                        float(ex.supplier.ledger_total), _num(ex.insurer_limit)],
                       dtype=np.float64)
        obj = np.array([p.debtor.debtor_id, fcur, ex.supplier_id, ex.currency, product],
                       dtype=object)
        flag = np.array([adv["adv_insolvency"] > 0, pd_default, adv[self.ko_col] > 0, related],
                        dtype=bool)
        ints = np.array([basis_code, 0], dtype=np.int64)
        digest, terms = payload_hashes(p, product)  # the input hash: the batch's functions
        deb = DebtorInputs(
            debtor_id=obj[0:1], st_X=st_X, basis=ints[0:1], overlay_X=overlay_X,
            insolvency=flag[0:1], past_due_default=flag[1:2], knockout=flag[2:3],
            dilution=num[0:1], tnw=num[1:2], revenue=num[2:3], profit=num[3:4],
            fin_currency=obj[1:2], past_due_amount=num[4:5],
            digest=digest)
        pair = PairInputs(
            debtor_pos=ints[1:2], supplier_id=obj[2:3], currency=obj[3:4], requested=num[5:6],
            annual_sales=num[6:7], product=obj[4:5], supplier_ledger=num[7:8],
            supplier_currency=obj[3:4], related=flag[3:4], insurer_limit=num[8:9],
            terms=terms)
        return deb, pair

    def _check(self, p: DebtorPayload, st_sorted: list[Any], reference_date: Any) -> None:
        """Validation rules beyond the payload schema, as validation has them: the
        accounting identities (:func:`~riskengine.validation.identities.identity_gaps`)
        and the contracts' dates that must not lie after the reference date."""
        if st_sorted:
            items = np.array([[getattr(s, c) for s in st_sorted] for c in _IDENTITY_ITEMS],
                             dtype=np.float64).reshape(3, len(IDENTITIES), len(st_sorted))
            if identity_gaps(items[0], items[1], _IDENTITY_SIGN, items[2])[3].any():
                raise Unsupported("identity broken: the batch path reports it")
        if reference_date is not None:
            ref = _day(parse_date(reference_date, "reference_date"))
            for table, recs in (("debtors", [p.debtor]), ("statements", st_sorted),
                                ("adverse_records", p.adverse_records),
                                ("invoices", p.invoices)):
                for c in schemas.CONTRACTS[table].date_columns_not_future:
                    if any(_day(getattr(r, c)) > ref for r in recs
                           if getattr(r, c) is not None):
                        raise Unsupported("future date: the batch path reports it")

    def _adverse(self, p: DebtorPayload, t: int) -> dict[str, float]:
        """The adverse features the engine reads, for one debtor's few records.

        Counts are integers (exact in any order); the recency-weighted count is
        the batch path's sum: ``exp2(-age / half_life)`` with numpy, added in
        record order from 0.0 (as ``np.bincount`` adds weights).
        """
        kept = []
        ages = []
        for a in p.adverse_records:
            age = t - _day(a.event_date)
            if 0 <= age <= self.lookback_days:
                kept.append(a)
                ages.append(age)
        n_tier = [0, 0, 0, 0, 0]
        n_open = n_settled = n_sig = n_sig_open = n_insolv_open = 0
        adverse: list[bool] = []
        for a in kept:
            tier = _TIER[a.event_type]
            n_tier[tier] += 1
            sd = _day(a.settlement_date)
            settled = a.status == "settled" and sd != _NAT and sd <= t
            is_adverse = tier >= 1
            adverse.append(is_adverse)
            if is_adverse:
                if settled:
                    n_settled += 1
                else:
                    n_open += 1
            if a.event_type in schemas.SERIOUS_EVENT_TYPES and \
                    float(a.amount) > self.significant:
                n_sig += 1
                n_sig_open += not settled
            if a.event_type in schemas.INSOLVENCY_EVENT_TYPES and not settled:
                n_insolv_open += 1
        out = {f"adv_n_tier{k}": float(n_tier[k]) for k in range(5)}
        need = self.adv_need  # only what the engine reads (same formulas)
        if "adv_n_adverse" in need:
            out["adv_n_adverse"] = float(sum(n_tier[1:]))
        if "adv_n_open" in need:
            out["adv_n_open"] = float(n_open)
        if "adv_n_settled" in need:
            out["adv_n_settled"] = float(n_settled)
        if "adv_weighted_count" in need:
            weight = np.exp2(-np.array(ages, dtype=np.int64) / self.half_life_days).tolist()
            acc = 0.0
            for is_adverse, w in zip(adverse, weight, strict=True):
                acc += (1.0 if is_adverse else 0.0) * w
            out["adv_weighted_count"] = acc
        if "adv_max_tier" in need:
            out["adv_max_tier"] = float(max([k for k in range(5) if n_tier[k] > 0],
                                            default=0))
        if "adv_n_serious_significant" in need:
            out["adv_n_serious_significant"] = float(n_sig)
        out["adv_insolvency"] = float(n_insolv_open > 0)
        out["adv_knockout"] = float(n_sig > 0)
        out["adv_knockout_open"] = float(n_sig_open > 0)
        return out

    _PAY_BALANCE = frozenset({"pay_open_balance", "pay_overdue_balance", "pay_balance_over_90",
                              "pay_overdue_share", "pay_share_over_90", "pay_cross_aging"})

    def _payments(self, p: DebtorPayload, t: int) -> dict[str, float]:
        """The payment features the engine reads (the overlay's and ``pay_dilution``).

        The formulas of :func:`riskengine.features.payments.payment_features` for one
        debtor on Python scalars: every sum adds ``mask * weight`` in invoice order from
        0.0 (as ``np.bincount`` adds its weights), every quotient is IEEE division with
        numpy's 0/0 -> NaN and x/0 -> inf (:func:`_ratio`).
        """
        lookback = 365  # payment_features' default (pay_dbt_trend is not computed here)
        start = t - lookback
        kept = []
        for v in p.invoices:
            issue = _day(v.issue_date)
            if issue > t:
                continue
            paid_d = _day(v.paid_date)
            paid = paid_d != _NAT and paid_d <= t
            if issue > start or not paid or paid_d > start:
                kept.append((v, issue, paid_d, paid))
        if not kept:
            return {k: float(v) for k, v in _pay.FILL_VALUES.items()}
        need = self.pay_need  # only what the engine reads (same formulas)
        late_days = [d for d in _pay.LATE_DAYS if f"pay_share_late_{d}" in need]
        n_obs = n_inv = s_dbt = s_dbt_amt = s_amt = invoiced = dil = 0.0
        bal = over = over90 = 0.0
        n_late = [0.0] * len(late_days)
        for v, issue, paid_d, paid in kept:
            due = _day(v.due_date)
            amount = float(v.amount)
            diluted = float(v.credit_note_amount) + float(v.disputed_amount)
            overdue = not paid and due < t
            sample = (paid and paid_d > start) or overdue
            dbt = max((paid_d if paid else t) - due, 0)
            issued = issue > start
            n_obs += 1.0 if sample else 0.0
            n_inv += 1.0 if issued else 0.0
            s_dbt += _w(sample, float(dbt))
            s_dbt_amt += _w(sample, dbt * amount)
            s_amt += _w(sample, amount)
            for i, d in enumerate(late_days):
                n_late[i] += 1.0 if sample and dbt > d else 0.0
            invoiced += _w(issued, amount)
            dil += _w(issued, diluted)
            bal += _w(not paid, amount)
            over += _w(overdue, amount)
            over90 += _w(not paid and t - issue > _pay.AGED_DAYS, amount)
        out: dict[str, float] = {}
        if "pay_n_invoices" in need:
            out["pay_n_invoices"] = n_inv
        out["pay_n_observed"] = n_obs
        if "pay_dbt_mean" in need:
            out["pay_dbt_mean"] = _ratio(s_dbt, n_obs)
        if "pay_dbt_wmean" in need:
            out["pay_dbt_wmean"] = _ratio(s_dbt_amt, s_amt)
        for d, n in zip(late_days, n_late, strict=True):
            out[f"pay_share_late_{d}"] = _ratio(n, n_obs)
        out["pay_dilution"] = dil / invoiced if invoiced > 0 else math.nan
        if need & self._PAY_BALANCE:
            out["pay_open_balance"] = bal
            out["pay_overdue_balance"] = over
            out["pay_balance_over_90"] = over90
            out["pay_overdue_share"] = over / bal if bal > 0 else math.nan
            share90 = over90 / bal if bal > 0 else math.nan
            out["pay_share_over_90"] = share90
            out["pay_cross_aging"] = float(share90 > _pay.CROSS_AGING_SHARE)
        mixed = len({v.currency for v, *_ in kept}) > 1
        out["pay_mixed_currency"] = float(mixed)
        if mixed:
            for k in _pay._MONEY:
                out[k] = math.nan
        return out
