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
- the adverse and payment features and the past-due amount by the batch path's array
  functions (:func:`riskengine.features.adverse.adverse_arrays`,
  :func:`riskengine.features.payments.payment_arrays`, the kernel of
  :func:`riskengine.scoring.financials.past_due`) on the payload's one-debtor arrays;
- the input hash by the batch's functions (:func:`riskengine.scoring.records.block_digests`,
  :func:`~riskengine.scoring.records.pair_bytes`) on the payload's one-debtor records
  (:mod:`riskengine.scoring.payload_hash`);
- validation's identity rule and the contracts' no-future dates (:meth:`FastEngine._check`);
- the PD through the fitted tree ensemble flattened into arrays
  (:class:`riskengine.model.flat_trees.FlatScorer`, the batch path's scorer).

Then the engine's array core (:func:`riskengine.scoring.core._decide_core`, passed in
by the engine: this module sits below :mod:`riskengine.scoring.engine` and never imports
it) decides, exactly as in a batch.
Anything the fast path does not cover (a payload that validation might reject
on a rule beyond the payload schema, an unknown product, a non-tree model) goes through the batch path instead, so the
answer is always the batch answer. ``tests/test_engine.py`` checks parity on
hundreds of synthetic debtors, through JSON round trips.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.contracts import schemas
from riskengine.contracts.dates import parse_date
from riskengine.contracts.payload import DebtorPayload
from riskengine.features import adverse as _adv
from riskengine.features import statements as _st
from riskengine.features.fx import (
    FxRates,
    currency_codes,
    missing_codes,
    pair_rates,
    revenue_in_record_currency,
    with_missing,
)
from riskengine.features.payments import PAYMENT_FEATURES, payment_arrays
from riskengine.features.significance import knockout_mask, significance_thresholds
from riskengine.features.units import size_in_unit
from riskengine.model.flat_trees import FlatScorer, Unsupported
from riskengine.policy.book import BookRest
from riskengine.policy.insurer import InsurerRows, match_rows
from riskengine.policy.limits import requested_limit
from riskengine.scoring.financials import (
    LATEST_ROWS,
    _past_due_kernel,
    default_past_due,
    financial_inputs,
)
from riskengine.scoring.inputs import DebtorInputs, PairInputs, SupplierInputs
from riskengine.scoring.payload_hash import payload_hashes
from riskengine.scoring.reasons import decision_of, reason_words
from riskengine.scoring.suppliers import SupplierBook, rating_codes
from riskengine.validation.identities import IDENTITIES, identity_gaps

__all__ = ["FastEngine", "SupplierBook", "Unsupported"]

FloatArray = npt.NDArray[np.float64]
_NAT = np.iinfo(np.int64).max
#: The identities' items (totals, left items, right items) and signs, for identity_gaps.
_IDENTITY_ITEMS = [str(i[k]) for k in (0, 1, 3) for i in IDENTITIES]
_IDENTITY_SIGN = np.array([[float(i[2])] for i in IDENTITIES])
_get_identity = itemgetter(*_IDENTITY_ITEMS)
#: The date columns of each payload table that must not lie after the reference date.
_NOT_FUTURE = {t: schemas.CONTRACTS[t].date_columns_not_future
               for t in ("debtors", "statements", "adverse_records", "invoices",
                         "insurer_limits")}
#: Positions in the closed vocabularies, as the batch's record arrays hold them.
_EVENT_CODE = {e: i for i, e in enumerate(schemas.ADVERSE_EVENT_TYPES)}
_STATUS_CODE = {e: i for i, e in enumerate(schemas.ADVERSE_STATUSES)}
_CURRENCY_CODE = {c: i for i, c in enumerate(schemas.CURRENCIES)}
_NO_DAY = _adv._NAT  # a missing date in the record arrays (int64 minimum)


# --- the pairs' suppliers ------------------------------------------------------------------


def _flag_value(v: bool | None) -> float:
    return math.nan if v is None else float(v)


def _payload_suppliers(p: DebtorPayload, book: SupplierBook) -> SupplierInputs:
    """The suppliers of a payload's pairs, one per pair (in :attr:`DebtorPayload.pairs`
    order), as :func:`riskengine.scoring.suppliers.supplier_inputs` gives them from the
    payload's frames."""
    sups = [ex.supplier for ex in p.pairs]
    ids = [ex.supplier_id for ex in p.pairs]
    hhi = [s.debtor_hhi if s.debtor_hhi is not None else book.debtor_hhi.get(i)
           for s, i in zip(sups, ids, strict=True)]
    # the texts and the numbers as rows of two small arrays (one numpy call per dtype)
    obj = np.array([ids, [s.sector_outlook for s in sups],
                    [s.goods_or_services for s in sups]], dtype=object).reshape(3, len(ids))
    num = np.array([[_flag_value(s.perishable) for s in sups],
                    [_flag_value(s.standardised_goods) for s in sups],
                    [_num(s.consignment_share) for s in sups],
                    [_num(s.credit_note_share) for s in sups],
                    [_num(h) for h in hhi]], dtype=np.float64).reshape(5, len(ids))
    return SupplierInputs(
        supplier_id=obj[0], sector_outlook=obj[1], goods_or_services=obj[2],
        perishable=num[0], standardised_goods=num[1], consignment_share=num[2],
        credit_note_share=num[3], debtor_hhi=num[4],
        rating=rating_codes([book.ratings.get(i) for i in ids]))


def _rated_suppliers(p: DebtorPayload) -> dict[str, Any]:
    """The payload's suppliers given with their own records, by id (first record)."""
    rated: dict[str, Any] = {}
    for ex in p.pairs:
        if ex.supplier.has_records and ex.supplier_id not in rated:
            rated[ex.supplier_id] = ex.supplier
    return rated


def _rated_field(p: DebtorPayload, name: str) -> list[Any]:
    """One field of each supplier rated alongside the payload's debtor (their order)."""
    return [getattr(info, name) for info in _rated_suppliers(p).values()]


def _supplier_payload(supplier_id: str, info: Any, currency: str,
                      fx_rates: Any = None) -> DebtorPayload:
    """A supplier given with its own records, as the payload of a debtor (its records, the
    call's ``fx_rates``; an exposure in the reporting ``currency`` that only completes the
    form: the core decides none of its pairs)."""
    return DebtorPayload.model_validate({
        "debtor": {"debtor_id": supplier_id, "name": info.name, "country": info.country,
                   "nace": info.nace, "legal_form": info.legal_form or "other",
                   "group_id": info.group_id},
        "statements": info.statements, "adverse_records": info.adverse_records,
        "fx_rates": fx_rates,
        "exposure": {"supplier_id": supplier_id, "currency": currency, "requested_limit": 0.0,
                     "supplier": {"name": info.name, "country": info.country,
                                  "nace": info.nace, "ledger_total": 0.0}}})


def _stack(parts: list[DebtorInputs]) -> DebtorInputs:
    """Several debtors' inputs as one (in order); no book rest yet (the caller sets it for
    every debtor at once)."""
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(DebtorInputs):
        values = [getattr(d, f.name) for d in parts]
        if f.name == "book_rest" or all(v is None for v in values):
            fields[f.name] = None
        elif f.name == "grade_override":  # "" keeps a debtor's model grade
            fields[f.name] = np.concatenate([
                np.full(d.debtor_id.shape[0], "", dtype=object) if v is None else v
                for d, v in zip(parts, values, strict=True)])
        elif f.name == "size_unconverted":  # None: every size feature converted
            fields[f.name] = np.concatenate([
                np.zeros(d.debtor_id.shape[0], dtype=bool) if v is None else v
                for d, v in zip(parts, values, strict=True)])
        else:
            fields[f.name] = np.concatenate(values)
    return DebtorInputs(**fields)


# --- the fast engine -----------------------------------------------------------------------


_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()
_QUALITY_TIER = schemas.STATEMENT_QUALITY_TIER
_get_items = itemgetter(*schemas.LINE_ITEMS)
_get_latest = itemgetter(*LATEST_ROWS[:5])  # the items of LATEST_ROWS (then age, tax flag)


def _day(d: Any) -> int:
    """Day number since 1970-01-01 of a ``datetime.date`` (None -> NaT marker)."""
    return _NAT if d is None else d.toordinal() - _EPOCH_ORDINAL


def _day_or_none(d: Any) -> int:
    """Day number of a ``datetime.date``; None -> the record arrays' missing date."""
    return _NO_DAY if d is None else d.toordinal() - _EPOCH_ORDINAL


def _num(v: Any) -> float:
    """A record's amount as a float (None -> NaN), as the batch frames hold it."""
    return math.nan if v is None else float(v)


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
        self.supported = (self.scorer is not None
                          and set(engine.feature_names) <= set(_st.FEATURE_NAMES))
        if self.supported:  # the model's rows of the statement kernel's output
            self.st_rows = np.array([_st.FEATURE_NAMES.index(n) for n in engine.feature_names])
        self.lookback_days = int(round(engine.lookback_years * 365.25))
        self.half_life_days = 2.0 * 365.25  # adverse_features' default half-life
        self.knockout = knockout_mask(engine.policy.knockouts.adverse_event_types)
        self.products = set(engine.policy.product_names)
        self.ko_col = "adv_knockout" if engine.policy.knockouts.adverse_count_settled \
            else "adv_knockout_open"
        adv_names, n_adv = _adv.ADVERSE_FEATURES, len(_adv.ADVERSE_FEATURES)
        # positions in the adverse rows followed by the payment rows of the array functions
        self.overlay_at = np.array([adv_names.index(f) if f in adv_names
                                    else n_adv + PAYMENT_FEATURES.index(f)
                                    for f in engine.overlay.features], dtype=np.intp)
        self.at_insolvency = adv_names.index("adv_insolvency")
        self.at_knockout = adv_names.index(self.ko_col)
        self.at_dilution = n_adv + PAYMENT_FEATURES.index("pay_dilution")
        #: :meth:`rates` by its key: (the rates object given, the vector in force)
        self._rates: dict[tuple[Any, ...], tuple[FxRates | None, FloatArray]] = {}

    def decide_payload(self, p: DebtorPayload, day: str, decided_at: str | None,
                       reference_date: Any, book_rest: BookRest | None = None,
                       fx: FxRates | None = None, supplier_book: SupplierBook | None = None,
                       grades: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Decision dicts of one parsed payload, one per pair (:attr:`DebtorPayload.pairs`
        order), all pairs in one core call (batch path when not covered); with
        ``book_rest``, capped against the rest of the book. The rates are the payload's
        ``fx_rates`` when it gives them, else ``fx`` (the store's).

        ``supplier_book``: what the caller knows of the pairs' suppliers beyond the payload
        (their own ratings and debtors' dispersion by supplier id, the register's); a
        supplier's records in the payload, and a ``debtor_hhi`` it gives, come first."""
        book = supplier_book or SupplierBook()
        if self.supported:
            try:
                deb, pair = self.inputs(p, day, reference_date, fx, book)
                deb = self._with_rated_suppliers(deb, p, day, reference_date, fx)
                if book_rest is not None:  # the suppliers rated alongside decide no pair
                    deb = dataclasses.replace(deb, book_rest=book_rest.with_debtors(
                        [p.debtor.nace, *_rated_field(p, "nace")],
                        [p.debtor.country, *_rated_field(p, "country")]))
            except Unsupported:
                pass
            else:
                assert self.scorer is not None
                deb = deb.with_grades(grades)
                col = self.decide_core(self.engine, deb, pair, day, decided_at, self.scorer)
                return [decision_of({k: v[i] for k, v in col.items()}, self.words).to_dict()
                        for i in range(len(col["debtor_id"]))]
        out: list[dict[str, Any]] = self.engine.score_payloads(
            [p], as_of=day, decided_at=decided_at, reference_date=reference_date,
            book_rest=book_rest, fx=fx, supplier_book=book, grades=grades)
        return out

    def rates(self, p: DebtorPayload, day: str, fx: FxRates | None) -> npt.NDArray[np.float64]:
        """The rates in force on ``day``: the payload's ``fx_rates`` when given, else
        ``fx``; :class:`Unsupported` when the payload's rows are not a rate table (the
        batch path reports them)."""
        # cached by what the vector depends on (the engine's policy is fixed): the payload's
        # rows (date, currency, rate) and the day, or the rates object given (kept in the
        # entry, so its id cannot be reused while cached; its arrays are read-only) and the
        # day; a refusal is never cached
        if p.fx_rates:
            key: tuple[Any, ...] = (tuple((r.date, r.currency, r.rate) for r in p.fx_rates),
                                    day)
        else:
            key = (id(fx), day)
        given = None if p.fx_rates else fx
        hit = self._rates.get(key)
        if hit is not None and hit[0] is given:
            return hit[1]
        base = self.engine.policy.book.currency
        if p.fx_rates:
            if any(r.currency == base and r.rate != 1.0 for r in p.fx_rates):
                raise Unsupported("a reporting-currency rate other than 1: the batch path "
                                  "reports it")
            fx = FxRates.from_rows(((r.date, r.currency, r.rate) for r in p.fx_rates), base)
        elif fx is None:
            fx = FxRates.empty(base)
        out: npt.NDArray[np.float64] = self.engine.rates_on(fx, day)
        if len(self._rates) >= 256:
            self._rates.clear()
        self._rates[key] = (given, out)
        return out

    def _with_rated_suppliers(self, deb: DebtorInputs, p: DebtorPayload, day: str,
                              reference_date: Any, fx: FxRates | None) -> DebtorInputs:
        """The payload's debtor followed by the suppliers given with their own records, each
        as a debtor of its own (the core rates them in the same call, as the batch path
        rates the debtors its frames add for them), at the call's rates (the payload's
        ``fx_rates``, else ``fx``)."""
        rated = _rated_suppliers(p)
        if not rated:
            return deb
        if p.debtor.debtor_id in rated:
            raise Unsupported("the supplier is the debtor: the batch path reports it")
        base = self.engine.policy.book.currency
        parts = [deb]
        for sid, info in rated.items():
            parts.append(self.inputs(_supplier_payload(sid, info, base, p.fx_rates), day,
                                     reference_date, fx, SupplierBook())[0])
        return _stack(parts)

    # --- inputs --------------------------------------------------------------------

    def inputs(self, p: DebtorPayload, day: str, reference_date: Any,
               fx: FxRates | None = None, book: SupplierBook | None = None
               ) -> tuple[DebtorInputs, PairInputs]:
        """The core's inputs for one payload (one debtor, its m pairs);
        :class:`Unsupported` when not covered."""
        eng = self.engine
        products, pair_num, pair_obj, pair_flag = self._pair_values(p)
        t = _day(dt.date.fromisoformat(day))
        rates = self.rates(p, day, fx)
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
        # the size features in the model's money unit: the batch path's one conversion
        st_X, unconverted = size_in_unit(st_X, eng.feature_names,
                                         currency_codes([fcur]), rates, eng.money_unit)
        money, basis = financial_inputs(latest, eng.overlay.max_statement_age_days)
        currencies = [ex.currency for ex in p.pairs]
        recent = [a.currency for a in p.adverse_records
                  if 0 <= t - _day(a.event_date) <= self.lookback_days
                  and self.knockout[_EVENT_CODE[a.event_type]]]
        invoiced = [v.currency for v in p.invoices]  # the past-due default adds them
        if missing_codes(rates, currencies, [fcur], recent, invoiced):
            raise Unsupported("a currency without a rate: the batch path reports it")

        # adverse and payment features, past due: the batch path's array functions
        values, pdue, open_bal = self._record_features(p, t, float(money[1][0]), fcur, rates)
        overlay_X = values[self.overlay_at].reshape(1, -1)
        pd_default = default_past_due(pdue, open_bal, eng.overlay)[0]
        # the insurer limit of each pair: the batch's matching (policy.insurer); a refused
        # row is the batch path's to report
        rows, pair_row = InsurerRows.empty(), None
        ins_records: list[dict[str, Any]] = []
        if p.insurer_limits:
            did = p.debtor.debtor_id
            ins_records = [{**r.__dict__, "debtor_id": did} for r in p.insurer_limits]
            rows = InsurerRows.from_records(ins_records)
            m = len(products)
            pair_row, problems = match_rows(
                rows, np.full(m, did, dtype=object),
                np.array([ex.supplier_id for ex in p.pairs], dtype=object),
                np.array(products, dtype=object),
                np.array([ex.currency for ex in p.pairs], dtype=object),
                np.array(pair_num[3::6], dtype=np.float64), eng.policy, rates)
            if problems:
                raise Unsupported("refused insurer limit: the batch path reports it")
        digest, terms = payload_hashes(  # the input hash: the batch's functions
            p, products, None if pair_row is None else (ins_records, pair_row))

        # the one-element debtor arrays and the m-element pair arrays as views of three
        # small arrays (one numpy call per dtype instead of one per input): the debtor's
        # values, then each pair's (a pair's field is a strided view)
        num = np.array([values[self.at_dilution], pdue[0], *pair_num], dtype=np.float64)
        obj = np.array([p.debtor.debtor_id, fcur, *pair_obj], dtype=object)
        flag = np.array([values[self.at_insolvency] > 0, pd_default,
                         values[self.at_knockout] > 0, *pair_flag], dtype=bool)
        deb = DebtorInputs(
            debtor_id=obj[0:1], st_X=st_X, basis=basis, overlay_X=overlay_X,
            insolvency=flag[0:1], past_due_default=flag[1:2], knockout=flag[2:3],
            dilution=num[0:1], tnw=money[0], revenue=money[1], profit=money[2],
            fin_currency=obj[1:2], past_due_amount=num[1:2], digest=digest,
            size_unconverted=unconverted)
        fx_base, fx_fin, fx_ledger, fx_cap = pair_rates(
            rates, obj[3::4], [fcur] * len(products), obj[3::4], eng.policy.capacity.currency)
        pair = PairInputs(
            debtor_pos=np.zeros(len(products), dtype=np.int64), supplier_id=obj[2::4],
            currency=obj[3::4], requested=num[2::6], annual_sales=num[3::6],
            product=obj[4::4], supplier_ledger=num[4::6], supplier_currency=obj[3::4],
            related=flag[3:], insurer_limit=num[5::6], terms=terms, protected=num[6::6],
            group_id=obj[5::4], current_limit=num[7::6], fx_base=fx_base, fx_fin=fx_fin,
            fx_ledger=fx_ledger, fx_capacity=fx_cap,
            supplier_pos=np.arange(len(products), dtype=np.int64),
            suppliers=_payload_suppliers(p, book or SupplierBook()), insurer_rows=rows,
            insurer_row=pair_row, rates=rates)
        return deb, pair

    def _pair_values(self, p: DebtorPayload
                     ) -> tuple[list[str], list[float], list[Any], list[bool]]:
        """Each pair's product, and its numbers, texts and flag one pair after another (the
        order of :meth:`inputs`' views); :class:`Unsupported` for an unknown product."""
        eng = self.engine
        dg = p.debtor.group_id
        days_basis = eng.policy.limits.credit_days_basis
        products: list[str] = []
        nums: list[float] = []
        objs: list[Any] = []
        flags: list[bool] = []
        for ex in p.pairs:
            product = eng.default_product if ex.product is None else ex.product
            if product not in self.products:
                raise Unsupported("unknown product: the batch path reports it")
            req = ex.requested_limit
            if req is None:
                req = requested_limit(float(ex.annual_sales or 0.0),
                                      float(ex.credit_days or 0), days_basis)
            products.append(product)
            nums += (float(req), _num(ex.annual_sales), float(ex.supplier.ledger_total),
                     _num(ex.insurer_limit), float(ex.approved_outstanding),
                     float(ex.approved_limit))
            objs += (ex.supplier_id, ex.currency, product, dg)
            flags.append(ex.relation_type is not None
                         or (dg is not None and dg == ex.supplier.group_id))
        return products, nums, objs, flags

    def _check(self, p: DebtorPayload, st_sorted: list[Any], reference_date: Any) -> None:
        """Validation rules beyond the payload schema, as validation has them: the
        accounting identities (:func:`~riskengine.validation.identities.identity_gaps`)
        and the contracts' dates that must not lie after the reference date."""
        if st_sorted:  # the identities' items of each statement, then items as rows
            items = np.array([_get_identity(s.__dict__) for s in st_sorted],
                             dtype=np.float64).T.reshape(3, len(IDENTITIES), len(st_sorted))
            if identity_gaps(items[0], items[1], _IDENTITY_SIGN, items[2])[3].any():
                raise Unsupported("identity broken: the batch path reports it")
        if reference_date is not None:
            ref = parse_date(reference_date, "reference_date").toordinal()
            for table, recs in (("debtors", [p.debtor]), ("statements", st_sorted),
                                ("adverse_records", p.adverse_records),
                                ("invoices", p.invoices),
                                ("insurer_limits", p.insurer_limits)):
                for c in _NOT_FUTURE[table]:
                    for r in recs:
                        d = getattr(r, c)
                        if d is not None and d.toordinal() > ref:
                            raise Unsupported("future date: the batch path reports it")

    def _record_features(self, p: DebtorPayload, t: int, revenue: float, revenue_cur: str,
                         rates: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """One payload's adverse then payment features (in the order of
        :data:`~riskengine.features.adverse.ADVERSE_FEATURES` and
        :data:`~riskengine.features.payments.PAYMENT_FEATURES`), its past-due amount and
        open balance: the payload's records as one debtor's arrays (day numbers,
        vocabulary positions) through the batch path's array functions."""
        adv, inv = p.adverse_records, p.invoices
        k, m = len(adv), len(inv)
        # the records' integers in one array: the adverse records' six rows, the invoices'
        # five, then the invoices' debtor bounds (0, m); each row a contiguous view
        ints = np.array([_day(a.event_date) for a in adv]
                        + [_EVENT_CODE[a.event_type] for a in adv]
                        + [_STATUS_CODE[a.status] for a in adv]
                        + [_day_or_none(a.settlement_date) for a in adv]
                        + [_CURRENCY_CODE[a.currency] for a in adv] + [0] * k
                        + [_day(v.issue_date) for v in inv] + [_day(v.due_date) for v in inv]
                        + [_day_or_none(v.paid_date) for v in inv]
                        + [_CURRENCY_CODE[v.currency] for v in inv] + [0] * m + [0, m],
                        dtype=np.int64)
        a_int = ints[:6 * k].reshape(6, k)
        i_int = ints[6 * k:6 * k + 5 * m].reshape(5, m)
        flt = np.array([float(a.amount) for a in adv] + [float(v.amount) for v in inv]
                       + [float(v.credit_note_amount) + float(v.disputed_amount) for v in inv]
                       + [revenue], dtype=np.float64)
        ko = self.engine.policy.knockouts
        thr = significance_thresholds(
            a_int[1], a_int[4], a_int[5], knockout=self.knockout,
            absolute=float(ko.adverse_min_amount), share=ko.adverse_min_revenue_share,
            revenue=flt[-1:], revenue_cur=[_CURRENCY_CODE.get(revenue_cur, -1)], rates=rates,
            currency=ko.currency)
        age = t - a_int[0]
        window = (age >= 0) & (age <= self.lookback_days)  # the kernel's look-back
        rev_rec = revenue_in_record_currency(
            a_int[5][window], 1, a_int[4][window], flt[-1:],
            [_CURRENCY_CODE.get(revenue_cur, -1)] if revenue_cur else None, rates)
        adv_out = _adv.adverse_arrays(a_int[5], 1, t, a_int[0], a_int[1], a_int[2], a_int[3],
                                      flt[:k], a_int[4], thr, rev_rec,
                                      self.lookback_days, self.half_life_days)
        amount = flt[k:k + m]
        pay_out = payment_arrays(ints[-2:], t, i_int[0], i_int[1], i_int[2],
                                 amount, flt[k + m:k + 2 * m], i_int[3], rates=rates)
        pdue, open_bal = _past_due_kernel()(i_int[4], i_int[0], i_int[1], i_int[2], amount, t,
                                            self.engine.overlay.days_past_due, 1, 1,
                                            with_missing(rates)[i_int[3]])
        return np.concatenate((adv_out[:, 0], pay_out[:, 0])), pdue, open_bal
