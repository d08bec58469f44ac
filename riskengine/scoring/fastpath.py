"""Single-debtor fast path: the batch computation on one payload's numpy arrays.

The batch path (:meth:`riskengine.scoring.engine.Engine.decide`) pays pandas'
per-operation overhead (tens of microseconds) dozens of times and the fitted
scikit-learn ensemble's per-call overhead; on one debtor that is hundreds of
milliseconds. This module computes the *same* inputs of the engine's array core
directly from a parsed payload:

- statement features by the batch's kernel
  (:func:`riskengine.features.statement_ratios.statement_rows`) on the payload's statements
  as arrays (line items as rows, period ends as days, quality tiers), and the latest
  financials and rating basis by the batch's
  :func:`riskengine.scoring.financials.financial_inputs` on the latest statement's column;
- the adverse and payment features the overlay and the policy read, with the
  formulas of :mod:`riskengine.features.adverse` / :mod:`~riskengine.features.payments`
  for a single debtor (same operations in the same order, so the same floats);
- the input hash by the batch path's record functions
  (:func:`riskengine.scoring.records.column_records`, ``block_digests``, ``pair_bytes``)
  on the payload's one-debtor columns;
- validation's identity rule and the contracts' no-future dates (:meth:`FastEngine._check`);
- the past-due amount (Python scalars, the batch formulas);
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
import hashlib
import math
import struct
from collections.abc import Callable
from operator import itemgetter
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
from riskengine.scoring.financials import LATEST_ROWS, financial_inputs
from riskengine.scoring.hashing import DEBTOR_TABLES, column_kinds, encode_value
from riskengine.scoring.inputs import DebtorInputs, PairBytes, PairInputs
from riskengine.scoring.reasons import decision_of, reason_words
from riskengine.validation.identities import IDENTITIES, identity_gaps

__all__ = ["FastEngine", "Unsupported"]

FloatArray = npt.NDArray[np.float64]
_NAT = np.iinfo(np.int64).max
_TIER = {e: t for e, t in schemas.ADVERSE_SEVERITY_TIER.items()}
_QUALITY_TIER = schemas.STATEMENT_QUALITY_TIER
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
_NAN_BITS = 0x7FF8000000000000  # the canonical NaN of the input hash
_NAT_MIN = int(np.iinfo(np.int64).min)  # NaT in the input hash
_KIND_CODE = {"float": 0, "int": 0, "date": 1, "bool": 2}  # anything else: str (3)
_PACK_D = struct.Struct("<d").pack
_PACK_Q = struct.Struct("<q").pack
_PACK_I = struct.Struct("<I").pack
_NAN_B = struct.pack("<Q", _NAN_BITS)
_NAN_F: float = struct.unpack("<d", _NAN_B)[0]  # packs back to _NAN_B (bits kept)
_NONE_STR_B = struct.pack("<I", 0xFFFFFFFF)
_TRUE_B, _FALSE_B = struct.pack("<?", True), struct.pack("<?", False)


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


_get_items = itemgetter(*schemas.LINE_ITEMS)
_get_latest = itemgetter(*LATEST_ROWS[:5])  # the items of LATEST_ROWS (then age, tax flag)


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
        self.supported = (feats <= (_ADV_SUPPORTED | _PAY_SUPPORTED) and self.scorer is not None
                          and set(engine.feature_names) <= set(_st.FEATURE_NAMES))
        if self.supported:  # the model's rows of the statement kernel's output
            self.st_rows = np.array([_st.FEATURE_NAMES.index(n) for n in engine.feature_names])
        self.lookback_days = int(round(engine.lookback_years * 365.25))
        self.half_life_days = 2.0 * 365.25  # adverse_features' default half-life
        self.significant = float(engine.policy.knockouts.adverse_min_amount)
        self.products = set(engine.policy.product_names)
        self.ko_col = "adv_knockout" if engine.policy.knockouts.adverse_count_settled \
            else "adv_knockout_open"
        self.kinds = {name: column_kinds(c) for name, c in schemas.CONTRACTS.items()}
        self.pay_need = frozenset(feats) | {"pay_dilution"}
        self.adv_need = frozenset(feats)
        self._specs: dict[tuple[str, tuple[str, ...]],
                          tuple[list[tuple[int, int, int, Any]], list[str], Any]] = {}

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

        # statements: the batch's kernel (statement_rows) and financial_inputs on the
        # payload's arrays (items as rows, period ends as days, tiers)
        st_rows = [s.__dict__ for s in st_sorted]
        day_l = [_day(s.period_end) for s in st_sorted]
        last = -1  # the latest statement up to t (rows sorted by period end)
        for i, d in enumerate(day_l):
            if d <= t:
                last = i
        latest, fcur = np.full((len(LATEST_ROWS), 1), np.nan), ""
        if last >= 0:
            # items as rows (None: NaN), a statement per column
            items = np.array([_get_items(r) for r in st_rows], dtype=np.float64).T.copy()
            tier = np.array([_QUALITY_TIER[r["statement_type"]] for r in st_rows],
                            dtype=np.float64)
            links = np.array([last, last - 1, last - 2, min(last + 1, _st.MAX_YEARS)],
                             dtype=np.int64)[:, None]  # statement, lags, st_n_statements
            f = _st.statement_rows(items, np.array(day_l, dtype=np.int64), tier, links, t)
            st_X = f[self.st_rows].T
            r = st_rows[last]
            latest = np.array([*_get_latest(r), t - day_l[last],
                               r["statement_type"] == "tax_return"], dtype=np.float64)[:, None]
            fcur = str(r["currency"])
        else:
            st_X = np.full((1, len(eng.feature_names)), np.nan)
        money, basis = financial_inputs(latest, eng.overlay.max_statement_age_days)

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
        num = np.array([pay["pay_dilution"], pdue_s, float(req), _num(ex.annual_sales),
                        float(ex.supplier.ledger_total), _num(ex.insurer_limit)],
                       dtype=np.float64)
        obj = np.array([p.debtor.debtor_id, fcur, ex.supplier_id, ex.currency, product],
                       dtype=object)
        flag = np.array([adv["adv_insolvency"] > 0, pd_default, adv[self.ko_col] > 0, related],
                        dtype=bool)
        deb = DebtorInputs(
            debtor_id=obj[0:1], st_X=st_X, basis=basis, overlay_X=overlay_X,
            insolvency=flag[0:1], past_due_default=flag[1:2], knockout=flag[2:3],
            dilution=num[0:1], tnw=money[0], revenue=money[1], profit=money[2],
            fin_currency=obj[1:2], past_due_amount=num[1:2],
            digest=np.frombuffer(self._digest(p, st_rows), dtype=np.uint8).reshape(1, 32))
        pair = PairInputs(
            debtor_pos=np.zeros(1, dtype=np.int64), supplier_id=obj[2:3], currency=obj[3:4],
            requested=num[2:3],
            annual_sales=num[3:4], product=obj[4:5], supplier_ledger=num[4:5],
            supplier_currency=obj[3:4], related=flag[3:4], insurer_limit=num[5:6],
            terms=self._terms(p, product))
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

    # --- the input hash: the batch path's bytes, value by value -----------------------

    def _records(self, table: str, records: list[dict[str, Any]],
                 drop: tuple[str, ...] = ()) -> bytes:
        """The records' canonical bytes: :func:`encode_value` of every value, packed by
        precompiled :class:`struct.Struct` objects and joined once (the same bytes;
        tests/test_engine.py checks it).

        A run of adjacent float columns (the statement amounts) is packed by one
        call, None and every NaN as the canonical NaN (a float whose bytes are
        that bit pattern); a value that is not a float takes the value-by-value way.
        """
        spec = self._specs.get((table, drop))
        if spec is None:
            spec = self._record_spec(table, drop)
            self._specs[(table, drop)] = spec
        segments, names, getter = spec
        out: list[bytes] = []
        put = out.append
        for r in records:
            try:  # one C call per record; a record without a column reads None
                row = getter(r)
            except KeyError:
                row = tuple(r.get(c) for c in names)
            for kind, a, b, pack in segments:
                if kind == 4:  # a run of float columns: one pack (None and NaN: the NaN)
                    run = row[a:b]
                    try:
                        put(pack(*[_NAN_F if v is None or v != v else v for v in run]))
                        continue
                    except (TypeError, struct.error):  # not a float: value by value
                        pass
                    for v in run:
                        f = math.nan if v is None else float(v)
                        put(_NAN_B if f != f else _PACK_D(f))
                    continue
                v = row[a]
                if kind == 0:  # float / int
                    if v is None:
                        put(_NAN_B)
                    else:
                        f = float(v)
                        put(_NAN_B if f != f else _PACK_D(f))
                elif kind == 1:  # date
                    put(_PACK_Q(_NAT_MIN if v is None else v.toordinal() - _EPOCH_ORDINAL))
                elif kind == 2:  # bool
                    put(_TRUE_B if v else _FALSE_B)
                elif v is None:  # str
                    put(_NONE_STR_B)
                else:
                    e = str(v).encode("utf-8")
                    put(_PACK_I(len(e)))
                    put(e)
        return b"".join(out)

    def _record_spec(self, table: str, drop: tuple[str, ...]) -> tuple[
            list[tuple[int, int, int, Any]], list[str], Any]:
        """Segments of a table's records (kind, first column, end, packer), its column
        names and a getter of a record's values. Kinds: 0 float/int, 1 date, 2 bool,
        3 str, 4 a run of at least 4 float columns."""
        kinds = self.kinds[table]
        names = [c for c in schemas.CONTRACTS[table].names if c not in drop]
        getter = itemgetter(*names) if len(names) > 1 else (lambda r: (r[names[0]],))
        codes = [_KIND_CODE.get(kinds[c], 3) for c in names]
        exact = [kinds[c] == "float" for c in names]  # ints are converted one by one
        segments: list[tuple[int, int, int, Any]] = []
        i = 0
        while i < len(codes):
            j = i
            while j < len(codes) and exact[j]:
                j += 1
            if j - i >= 4:
                segments.append((4, i, j, struct.Struct(f"<{j - i}d").pack))
                i = j
                continue
            segments.append((codes[i], i, i + 1, None))
            i += 1
        return segments, names, getter

    def _digest(self, p: DebtorPayload, st_rows: list[dict[str, Any]]) -> bytes:
        drop = ("debtor_id",)
        adv = sorted((a.__dict__ for a in p.adverse_records), key=lambda r: r["record_id"])
        inv = sorted(({**v.__dict__, "supplier_id": p.exposure.supplier_id}
                      for v in p.invoices), key=lambda r: r["invoice_id"])
        tables = {"statements": st_rows, "adverse_records": adv, "invoices": inv}
        parts = [self._records("debtors", [p.debtor.__dict__])]
        for name in DEBTOR_TABLES:
            rows = tables[name]
            parts.append(struct.pack("<I", len(rows)))
            parts.append(self._records(name, rows, drop))
        return hashlib.sha256(b"".join(parts)).digest()

    def _terms(self, p: DebtorPayload, product: str) -> PairBytes:
        ex = p.exposure
        doc = b"".join([
            self._records("exposures", [{**ex.__dict__, "debtor_id": p.debtor.debtor_id}]),
            self._records("suppliers", [{**ex.supplier.__dict__, "supplier_id": ex.supplier_id,
                                         "currency": ex.currency}]),
            encode_value(ex.relation_type, "str"), encode_value(product, "str"),
            encode_value(ex.insurer_limit, "float")])
        return PairBytes(np.frombuffer(doc, dtype=np.uint8), np.zeros(1, dtype=np.int64),
                         np.array([len(doc)], dtype=np.int64))
