"""Insurer limits as state (issue 16; DOMAIN.md §6): which insurer limit covers each pair,
the amount in force on the as-of date, the pools its pairs share, and the requests to send.

The rule (docs/POLICY.md "Insurer limits"), for 1..n pairs at once:

1. **Which limit.** A row of ``insurer_limits`` applies to the pairs of its debtor whose
   product its insurance policy covers (``[insurance.policies]``): a row with a
   ``supplier_id`` to that pair only, a row without one to every such pair of the debtor
   that has no row of its own. A row under a policy the credit policy does not declare
   (``unknown_policy``), two rows that would apply to one pair (``ambiguous_insurer_limit``)
   and a row in another currency than a pair it applies to with no rate of either in
   force on the decision date (``missing_fx_rate``) are refused: the engine rejects the
   debtor with error rows (nothing is guessed). With the rates a row in another currency
   is converted (its pool shared in its own currency, :attr:`PairCover.to_pool`).
2. **The amount in force** on the as-of date (:func:`pool_caps`): a ``granted`` or
   ``partial`` limit from its ``effective_date`` (else its decision date, else at once);
   a ``reduced`` or ``cancelled`` one keeps the limit before (``previous_granted_amount``)
   until its effective date (the decision date + ``insurance.notice_days`` when not
   given), then the new one (0 when cancelled) but never less than what was delivered
   and approved before the notice (``approved_outstanding``, up to the limit before:
   deliveries made before the notice stay covered, ICISA; Atradius). Without the limit
   before, the new amount applies at once (no cover is assumed). ``requested``,
   ``pending`` and ``refused`` grant nothing.
3. **The basis** of each pair's cover: ``insurer_limit`` where an insurer limit is in
   force (or kept on deliveries); else ``discretionary`` where the policy's
   discretionary cover applies (a product an insurance policy covers, the grade at most
   ``discretionary_max_grade``, a pair in any currency with a rate, no insurer
   decision against the debtor: not refused, reduced or cancelled; the cap converted
   from ``discretionary_currency`` into the pair's); else ``none``.
4. **Pools.** A debtor-level limit is one amount for all the pairs it applies to, as is
   a debtor's discretionary cap: :func:`covered` shares each pool among its pairs by
   :func:`riskengine.policy.book.allocate` (approved outstanding first, then pro rata).
   Cover per pair = its share (at most its approved limit) x the cover percentage
   (:func:`riskengine.policy.cover.insurance_cover`); above it the factor is uninsured.

The legacy ``insurer_limit`` of a payload's exposure is a pair-level ``granted`` limit at
``cover.indemnity`` whose insurer and policy are not known. Pure numpy/pandas: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.decision import COVER_BASES
from riskengine.contracts.schemas import CURRENCIES, INSURER_STATUSES
from riskengine.features.fx import CURRENCY_CODE, convert, currency_codes
from riskengine.policy import _inputs as inp
from riskengine.policy.book import allocate
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["COVER_BASES", "InsurerRows", "PairCover", "RowProblem", "match_rows", "pool_caps",
           "covered", "request_reasons", "REQUEST_COLUMNS", "insurer_requests",
           "request_columns"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: :data:`~riskengine.contracts.decision.COVER_BASES`: code ``i`` is ``COVER_BASES[i]``.
_STATUS = {s: i for i, s in enumerate(INSURER_STATUSES)}
_GRANTED, _PARTIAL, _REDUCED, _CANCELLED, _REFUSED = (
    _STATUS[s] for s in ("granted", "partial", "reduced", "cancelled", "refused"))
_LEGACY = -2  # pair_row of a pair covered by its exposure's legacy insurer_limit
_NAT = np.datetime64("NaT", "D")


_NO_ROWS: dict[type, Any] = {}


@dataclass(frozen=True)
class InsurerRows:
    """The ``insurer_limits`` rows a batch (or one payload) knows, as arrays of length k."""

    insurer_id: npt.NDArray[np.object_]
    policy_id: npt.NDArray[np.object_]
    debtor_id: npt.NDArray[np.object_]
    supplier_id: npt.NDArray[np.object_]   # None: a debtor-level limit
    currency: npt.NDArray[np.object_]
    granted: FloatArray
    previous: FloatArray
    cover_pct: FloatArray
    status: npt.NDArray[np.int8]           # code into INSURER_STATUSES
    decision_day: npt.NDArray[np.datetime64]
    effective_day: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @classmethod
    def empty(cls) -> InsurerRows:
        """No rows (one shared value: its arrays hold nothing to change)."""
        got = _NO_ROWS.get(cls)
        if got is None:
            o = np.zeros(0, dtype=object)
            f = np.zeros(0)
            d = np.zeros(0, dtype="datetime64[D]")
            got = _NO_ROWS[cls] = cls(o, o, o, o, o, f, f, f, np.zeros(0, dtype=np.int8), d, d)
        return got

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | None) -> InsurerRows:
        """The rows of a validated ``insurer_limits`` frame (contract columns)."""
        if frame is None or not len(frame):
            return cls.empty()

        def text(name: str) -> npt.NDArray[np.object_]:
            return frame[name].astype(object).where(frame[name].notna(), None).to_numpy(
                dtype=object)

        def num(name: str) -> FloatArray:
            if name not in frame.columns:
                return np.full(len(frame), np.nan)
            return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)

        def day(name: str) -> npt.NDArray[np.datetime64]:
            return frame[name].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")

        status = pd.Categorical(frame["status"].astype(str),
                                categories=INSURER_STATUSES).codes.astype(np.int8)
        return cls(text("insurer_id"), text("policy_id"), text("debtor_id"),
                   text("supplier_id"), text("currency"), num("granted_amount"),
                   num("previous_granted_amount"), num("cover_pct"), status,
                   day("decision_date"), day("effective_date"))

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> InsurerRows:
        """The rows of record dicts (a payload's ``insurer_limits`` with ``debtor_id``)."""
        if not records:
            return cls.empty()

        def days(name: str) -> npt.NDArray[np.datetime64]:
            return np.array([_NAT if r.get(name) is None else np.datetime64(r[name], "D")
                             for r in records], dtype="datetime64[D]")

        def nums(name: str) -> FloatArray:
            return np.array([np.nan if r.get(name) is None else float(r[name])
                             for r in records], dtype=np.float64)

        def texts(name: str) -> npt.NDArray[np.object_]:
            return np.array([r.get(name) for r in records] + [None], dtype=object)[:-1]

        return cls(texts("insurer_id"), texts("policy_id"), texts("debtor_id"),
                   texts("supplier_id"), texts("currency"), nums("granted_amount"),
                   nums("previous_granted_amount"), nums("cover_pct"),
                   np.array([_STATUS[r["status"]] for r in records], dtype=np.int8),
                   days("decision_date"), days("effective_date"))


@dataclass(frozen=True, slots=True)
class RowProblem:
    """An ``insurer_limits`` row the engine refuses (step 1): its position, field, reason."""

    row: int
    column: str
    reason: str
    message: str


def _declared(policy: CreditPolicy) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(p.insurer_id, p.policy_id): p.products for p in policy.insurance.policies}


def match_rows(rows: InsurerRows, debtor_id: npt.NDArray[np.object_],
               supplier_id: npt.NDArray[np.object_], product: npt.NDArray[np.object_],
               currency: npt.NDArray[np.object_], legacy: FloatArray, policy: CreditPolicy,
               rates: FloatArray | None = None) -> tuple[IntArray, list[RowProblem]]:
    """Step 1: the row that applies to each pair, and the rows refused.

    Parameters
    ----------
    rows : InsurerRows
    debtor_id, supplier_id, product, currency : numpy.ndarray
        The pairs (product names).
    legacy : numpy.ndarray
        The pairs' legacy ``insurer_limit`` (NaN: none).
    policy : CreditPolicy
    rates : numpy.ndarray, optional
        The rates in force on the decision date over ``CURRENCIES``
        (:meth:`riskengine.features.fx.FxRates.at`). A row in another currency than a
        pair it applies to is converted at them (:func:`pool_caps`); without a rate of
        either currency it is refused (``missing_fx_rate``). None: no rates, so such a
        row is always refused.

    Returns
    -------
    pair_row : numpy.ndarray of int
        Per pair the position of its row in ``rows``, -1 without one, -2 for the legacy
        limit of its exposure.
    problems : list of RowProblem
        The refused rows (their debtors are to be rejected whole).

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> rows = InsurerRows.from_records([
    ...     {"insurer_id": "INS00", "policy_id": "INS00-WT1", "debtor_id": "D1",
    ...      "supplier_id": None, "currency": "EUR", "granted_amount": 50_000.0,
    ...      "cover_pct": 0.9, "status": "granted"}])
    >>> obj = lambda *v: np.array(v, dtype=object)
    >>> pair_row, bad = match_rows(rows, obj("D1", "D1", "D2"), obj("S1", "S2", "S1"),
    ...     obj("non_recourse", "recourse", "non_recourse"), obj("EUR", "EUR", "EUR"),
    ...     np.full(3, np.nan), load_policy())
    >>> pair_row.tolist(), bad
    ([0, -1, -1], [])
    """
    m = debtor_id.shape[0]
    out = np.full(m, -1, dtype=np.int64)
    has_legacy = np.isfinite(legacy)
    out[has_legacy] = _LEGACY
    problems: list[RowProblem] = []
    k = len(rows)
    if k == 0:
        return out, problems
    declared = _declared(policy)
    known = np.zeros(k, dtype=bool)
    ex_parts: list[IntArray] = []
    prod_parts: list[npt.NDArray[np.object_]] = []
    for (ins_id, pol_id), covers in declared.items():  # a few policies, a few products
        mine = np.flatnonzero((rows.insurer_id == ins_id) & (rows.policy_id == pol_id))
        known[mine] = True
        for prod in covers:  # the known rows, one per product their policy covers
            ex_parts.append(mine)
            prod_parts.append(np.full(mine.size, prod, dtype=object))
    names = ", ".join(f"{i}/{p}" for i, p in declared) or "none"
    for r in np.flatnonzero(~known).tolist():
        problems.append(RowProblem(
            r, "policy_id", "unknown_policy",
            f"the insurance policy is not one of the credit policy's ([insurance.policies]: "
            f"{names}); declare it or correct the insurer limit"))
    ex = np.concatenate([np.zeros(0, dtype=np.int64), *ex_parts])
    prods = np.concatenate([np.zeros(0, dtype=object), *prod_parts])
    row_is_pair = pd.notna(rows.supplier_id)
    pair_level = row_is_pair[ex]
    ambiguous: set[int] = set()

    def index(cols: list[np.ndarray], sel: npt.NDArray[np.bool_]) -> tuple[pd.MultiIndex, IntArray]:
        mi = pd.MultiIndex.from_arrays([c[sel] for c in cols])
        dup = mi.duplicated(keep=False)
        for r in ex[sel][dup].tolist():
            ambiguous.add(int(r))
        return mi[~dup], ex[sel][~dup]

    p_idx, p_rows = index([rows.debtor_id[ex], rows.supplier_id[ex], prods], pair_level)
    d_idx, d_rows = index([rows.debtor_id[ex], prods], ~pair_level)
    hit = np.full(m, -1, dtype=np.int64)
    if len(p_idx) and m:
        at = p_idx.get_indexer(pd.MultiIndex.from_arrays([debtor_id, supplier_id, product]))
        hit = np.where(at >= 0, p_rows[np.maximum(at, 0)], -1)
    if len(d_idx) and m:
        at = d_idx.get_indexer(pd.MultiIndex.from_arrays([debtor_id, product]))
        hit = np.where((hit < 0) & (at >= 0), d_rows[np.maximum(at, 0)], hit)
    both = (hit >= 0) & has_legacy
    for r in np.unique(hit[both]).tolist():
        ambiguous.add(int(r))
    for r in sorted(ambiguous):
        problems.append(RowProblem(
            r, "policy_id", "ambiguous_insurer_limit",
            "another insurer limit applies to the same pairs (one per pair, or one per "
            "debtor and policy product); keep one"))
    matched = hit >= 0
    if matched.any():
        # a limit in another currency than a pair it covers is converted at the rates in
        # force on the decision date (pool_caps); refused only when one of them is missing
        r_cur = rows.currency[np.maximum(hit, 0)]
        other = matched & (r_cur != currency)
        if other.any():
            ext = np.append(np.full(len(CURRENCIES), np.nan) if rates is None
                            else np.asarray(rates, dtype=np.float64), np.nan)
            convertible = np.isfinite(ext[currency_codes(r_cur)]) & np.isfinite(
                ext[currency_codes(currency)])
            for r in np.unique(hit[other & ~convertible]).tolist():
                problems.append(RowProblem(
                    int(r), "currency", "missing_fx_rate",
                    "another currency than a pair it covers, and no rate of it is in force "
                    "on the decision date (fx_rates: the latest rate dated on or before it), "
                    "so the limit cannot be converted into the pair's currency; add the rate"))
    out = np.where(matched, hit, out)
    return out, problems


@dataclass(frozen=True)
class PairCover:
    """Each pair's cover basis, pool and percentage (:func:`pool_caps`), arrays of m pairs.

    Attributes
    ----------
    basis : numpy.ndarray of int8
        Code into :data:`COVER_BASES`.
    pool : numpy.ndarray of int
        The pool (code ``0 ... p-1``) whose cap the pair shares.
    cap : numpy.ndarray
        The ``p`` pools' caps in force (money).
    pct : numpy.ndarray
        Share of a covered loss the insurer pays (0 where ``none``).
    policy_id : numpy.ndarray of object
        The insurance policy of the cover, or the one to ask (None: not known).
    status : numpy.ndarray of object
        The applied row's status (None: no row; ``granted`` for a legacy limit).
    to_pool : numpy.ndarray, optional
        Units of the pool's currency (its insurer limit's, the discretionary cap's) per
        one unit of the pair's currency, at the rates in force on the decision date;
        exactly 1 where they are the same currency. None: 1 for every pair.
    """

    basis: npt.NDArray[np.int8]
    pool: IntArray
    cap: FloatArray
    pct: FloatArray
    policy_id: npt.NDArray[np.object_]
    status: npt.NDArray[np.object_]
    to_pool: FloatArray | None = None

    def basis_names(self) -> npt.NDArray[np.object_]:
        return np.asarray(COVER_BASES, dtype=object)[self.basis]

    def factors(self) -> FloatArray:
        """:attr:`to_pool`, or ones."""
        if self.to_pool is None:
            return np.ones(self.pool.shape[0])
        return self.to_pool

    def pair_caps(self) -> FloatArray:
        """Each pair's pool cap in the pair's currency (0 where the basis is ``none``)."""
        f = self.factors()
        cap = self.cap[self.pool] if self.pool.size else np.zeros(0)
        return np.where(self.basis < 2, np.where(f == 1.0, cap, cap / f), 0.0)


def pool_caps(rows: InsurerRows, pair_row: IntArray, legacy: FloatArray, *,
              product: IntArray, currency: npt.NDArray[np.object_], debtor: IntArray,
              grade: IntArray, protected: FloatArray, as_of: np.datetime64,
              policy: CreditPolicy, rates: FloatArray | None = None) -> PairCover:
    """Steps 2 and 3: each pair's basis, the pools and their caps in force on ``as_of``.

    Parameters
    ----------
    rows, pair_row, legacy
        As :func:`match_rows` gives them.
    product : numpy.ndarray of int
        Product codes (positions in ``policy.products``).
    currency : numpy.ndarray of object
    debtor : numpy.ndarray of int
        A code per debtor (its pairs share its discretionary cap).
    grade : numpy.ndarray of int
        Grade index 1 ... 11 (0: unrated; no discretionary cover).
    protected : numpy.ndarray
        Approved outstanding: the deliveries kept covered after a reduction's notice.
    as_of : numpy.datetime64
    policy : CreditPolicy
    rates : numpy.ndarray, optional
        The rates in force on ``as_of`` over ``CURRENCIES``
        (:meth:`riskengine.features.fx.FxRates.at`): an insurer limit and the
        discretionary cap in another currency than the pair are converted into it
        (:attr:`PairCover.to_pool`). None: no conversion (a pair gets discretionary
        cover only in ``discretionary_currency``).
    """
    ins = policy.insurance
    m = pair_row.shape[0]
    tables = inp.policy_tables(policy)
    insured = tables.requires_insurance[product]
    covered_by, has_policy = tables.insurer_policy, tables.has_insurer_policy
    k = len(rows)
    st = rows.status
    if k:
        # step 2: the rows' amounts in force (NaN: no limit in force)
        day = np.asarray(as_of).astype("datetime64[D]")
        notice = np.timedelta64(ins.notice_days, "D")
        cut = (st == _REDUCED) | (st == _CANCELLED)
        eff = np.where(np.isnat(rows.effective_day),
                       np.where(cut, rows.decision_day + notice, rows.decision_day),
                       rows.effective_day)
        started = np.isnat(eff) | (eff <= day)
        new = np.where(st == _CANCELLED, np.where(np.isnan(rows.granted), 0.0, rows.granted),
                       rows.granted)
        prev = np.where(cut, rows.previous, np.nan)
        grants = (st == _GRANTED) | (st == _PARTIAL)
        amount = np.full(k, np.nan)
        amount = np.where(grants & started, rows.granted, amount)
        amount = np.where(cut & ~started, np.where(np.isnan(prev), new, prev), amount)
        amount = np.where(cut & started, new, amount)
    else:  # no insurer row: no amount in force (step 2 has nothing to do)
        amount = np.empty(0)
    # pools: a debtor-level row's pairs share it, a pair-level row is its pair's own
    has_row = pair_row >= 0
    r = np.maximum(pair_row, 0)
    row_amount = np.where(has_row, amount[r] if k else np.nan, np.nan)
    legacy_pair = pair_row == _LEGACY
    row_amount = np.where(legacy_pair, legacy, row_amount)
    in_force = insured & np.isfinite(row_amount)
    blocked = has_row & ((st[r] == _REFUSED) | (st[r] == _REDUCED) | (st[r] == _CANCELLED)) \
        if k else np.zeros(m, dtype=bool)
    # the pairs' and pools' currencies; a rate per currency (NaN: none; None: no rates,
    # then only the same currency converts)
    pair_code = currency_codes(currency) if m else np.zeros(0, dtype=np.int64)
    disc_code = CURRENCY_CODE.get(ins.discretionary_currency, -1)
    disc_ok = _to(pair_code, np.full(m, disc_code, dtype=np.int64), rates)
    disc = (insured & ~in_force & ~blocked & (ins.discretionary_cap > 0)
            & (grade >= 1) & (grade <= ins.discretionary_max_grade)
            & np.isfinite(disc_ok)
            & has_policy[product])
    basis = np.where(in_force, 0, np.where(disc, 1, 2)).astype(np.int8)
    # pool keys: rows (k), legacy pairs and discretionary debtors after them
    key = np.full(m, -1, dtype=np.int64)
    key[in_force & has_row] = pair_row[in_force & has_row]
    lp = (in_force & legacy_pair).nonzero()[0]
    key[lp] = k + np.arange(lp.size)
    dk = (basis == 1).nonzero()[0]
    dcodes, duniq = inp.factorize(debtor[dk]) if dk.size else (np.zeros(0, np.int64), [])
    key[dk] = k + lp.size + dcodes
    none = (basis == 2).nonzero()[0]
    key[none] = k + lp.size + len(duniq) + np.arange(none.size)
    n_pools = k + lp.size + len(duniq) + none.size
    cap = np.zeros(n_pools)
    cap[:k] = np.where(np.isnan(amount), 0.0, amount)
    cap[k:k + lp.size] = legacy[lp]
    cap[k + lp.size:k + lp.size + len(duniq)] = ins.discretionary_cap
    pool_code = np.empty(n_pools, dtype=np.int64)
    pool_code[:k] = currency_codes(rows.currency) if k else pool_code[:0]
    pool_code[k:k + lp.size] = pair_code[lp]
    pool_code[k + lp.size:k + lp.size + len(duniq)] = disc_code
    pool_code[k + lp.size + len(duniq):] = pair_code[none]
    to_pool = _to(pair_code, pool_code[key], rates)
    # deliveries made before a reduction's notice stay covered, up to the limit before
    # (the pairs' approved outstanding counted in the limit's currency)
    if k:
        run_off = cut & started & np.isfinite(prev)
        if run_off.any():
            rows_of = key[(basis == 0) & has_row]
            out_by_row = np.bincount(rows_of, (np.where(np.isnan(protected), 0.0, protected)
                                               * to_pool)[(basis == 0) & has_row], minlength=k)
            kept = np.minimum(prev, out_by_row)
            cap[:k] = np.where(run_off, np.maximum(cap[:k], kept), cap[:k])
    basis = np.where((basis == 0) & (cap[key] <= 0), 2, basis).astype(np.int8)  # nothing left
    pct = np.zeros(m)
    pct = np.where((basis == 0) & has_row, rows.cover_pct[r] if k else 0.0, pct)
    pct = np.where((basis == 0) & legacy_pair, policy.cover.indemnity, pct)
    pct = np.where(basis == 1, ins.discretionary_cover_pct, pct)
    nothing = np.full(m, None, dtype=object)
    row_policy = rows.policy_id[r] if k else nothing
    policy_id = np.where(has_row, row_policy, covered_by[product] if m else nothing)
    policy_id = np.where(legacy_pair | ~insured, nothing, policy_id).astype(object)
    names = np.asarray(INSURER_STATUSES, dtype=object)
    status = np.where(has_row, names[st[r]] if k else nothing, nothing)
    status = np.where(legacy_pair, "granted", status).astype(object)
    return PairCover(basis, key, cap, pct, policy_id, status, to_pool)


def _to(pair_code: IntArray, pool_code: IntArray, rates: FloatArray | None) -> FloatArray:
    """Units of each pool's currency per one unit of its pair's: exactly 1 in the same
    currency, NaN without a rate (:func:`riskengine.features.fx.convert`)."""
    ones = np.full(pair_code.shape[0], 1.0)
    if rates is None:
        return np.where(pair_code == pool_code, 1.0, np.nan)
    return convert(ones, pair_code, pool_code, rates)


def covered(cover: PairCover, approved: FloatArray, protected: FloatArray) -> FloatArray:
    """Step 4: each pair's covered part of its approved limit, its pool shared by
    :func:`riskengine.policy.book.allocate` (at most the approved limit; 0 where ``none``).

    Examples
    --------
    A debtor-level limit of 30,000 over two pairs approved 20,000 each, one with 10,000
    delivered: that one keeps its 10,000 first, the other 20,000 are shared 10 : 20.

    >>> pc = PairCover(np.zeros(2, np.int8), np.zeros(2, np.int64), np.array([30_000.0]),
    ...                np.full(2, 0.9), np.array(["P", "P"], object), np.array(["granted"] * 2,
    ...                object))
    >>> covered(pc, np.array([20_000.0, 20_000.0]), np.array([10_000.0, 0.0])).round(2).tolist()
    [16666.67, 13333.33]
    """
    amount = np.where(cover.basis < 2, np.maximum(approved, 0.0), 0.0)
    f = cover.factors()
    same = f == 1.0
    if same.all():
        # a pool's one pair keeps exactly the cap (the shares' arithmetic is not exact)
        out: FloatArray = np.minimum(allocate(amount, protected, cover.pool, cover.cap),
                                     cover.cap[cover.pool])
        return out
    # pools shared in their own currency (an insurer limit or the discretionary cap in
    # another currency than some of its pairs), each share back in its pair's currency
    share = np.minimum(allocate(amount * f, protected * f, cover.pool, cover.cap),
                       cover.cap[cover.pool])
    out = np.minimum(np.where(same, share, share / f), amount)
    return out


#: Columns of ``insurer_requests`` (rerate's output and ``GET /v1/insurer-requests``).
REQUEST_COLUMNS: tuple[str, ...] = (
    "debtor_id", "supplier_id", "insurer_id", "policy_id", "currency", "product",
    "approved_limit", "insured_limit", "insured_amount", "cover_basis", "amount_requested",
    "reason")


def request_reasons(status: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Why a pair's limit is asked for, by the status of the insurer limit applied to it:
    ``no_insurer_limit`` (none), ``awaiting_insurer`` (requested, pending),
    ``above_granted`` (granted, partial, reduced: the limit exceeds it), ``refused``,
    ``cancelled``."""
    return _mapped(status, _REQUEST_REASON, "no_insurer_limit")


_REQUEST_REASON = {"requested": "awaiting_insurer", "pending": "awaiting_insurer",
                   "granted": "above_granted", "partial": "above_granted",
                   "reduced": "above_granted", "refused": "refused", "cancelled": "cancelled"}


def _mapped(values: Any, table: Mapping[Any, Any], default: Any) -> npt.NDArray[np.object_]:
    """``table[v]`` of each value (``default`` for a missing or unknown one), looked up once
    per distinct value."""
    codes, uniques = inp.factorize(values)
    lookup = np.asarray([*(table.get(u, default) for u in uniques), default], dtype=object)
    out: npt.NDArray[np.object_] = lookup[codes]  # code -1 (missing): the trailing default
    return out


def insurer_requests(pairs: pd.DataFrame | Mapping[str, Any], policy: CreditPolicy
                     ) -> pd.DataFrame:
    """The request loop's list (issue 16): the pairs whose limit exceeds what is insured,
    with what to ask the insurer for.

    Parameters
    ----------
    pairs : pandas.DataFrame or mapping of column to array-like
        Decision rows of pairs (:data:`~riskengine.contracts.decision.DECISION_FIELDS`;
        at least ``debtor_id, supplier_id, currency, product, approved_limit,
        insured_limit, insured_amount, cover_basis, insurer_policy_id, insurer_status,
        limit_before_insurer``).
    policy : CreditPolicy
        Which products are insured, and the insurer of each insurance policy.

    Returns
    -------
    pandas.DataFrame
        :data:`REQUEST_COLUMNS`, one row per pair of an insured product whose limit
        before any hold for the insurer (``limit_before_insurer``: what the factor
        would approve) exceeds its insured limit; ``amount_requested`` is that limit (the
        insurer grants a limit, not an increment), ``reason`` from the insurer limit's
        status (:func:`request_reasons`). Sorted by debtor, then supplier.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> d = pd.DataFrame({"debtor_id": ["D1", "D2"], "supplier_id": ["S1", "S1"],
    ...     "currency": "EUR", "product": "non_recourse", "approved_limit": [80_000.0, 5_000.0],
    ...     "insured_limit": [50_000.0, 5_000.0], "insured_amount": [45_000.0, 3_000.0],
    ...     "cover_basis": ["insurer_limit", "discretionary"],
    ...     "insurer_policy_id": "INS00-WT1", "insurer_status": ["granted", None],
    ...     "limit_before_insurer": [80_000.0, 5_000.0]})
    >>> r = insurer_requests(d, load_policy())
    >>> r[["debtor_id", "insurer_id", "amount_requested", "reason"]].values.tolist()
    [['D1', 'INS00', 80000.0, 'above_granted']]
    """
    return pd.DataFrame(request_columns(pairs, policy), columns=list(REQUEST_COLUMNS))


def request_columns(pairs: pd.DataFrame | Mapping[str, Any], policy: CreditPolicy
                    ) -> dict[str, npt.NDArray[Any]]:
    """:func:`insurer_requests` as columns (:data:`REQUEST_COLUMNS` -> arrays, the rows
    sorted by debtor, then supplier) without a frame: the service's request path, whose
    one debtor seldom has a request to send."""
    def col(name: str) -> npt.NDArray[np.object_]:
        return np.asarray(pairs[name], dtype=object).reshape(-1)

    def num(name: str) -> FloatArray:
        try:  # numbers and None (NaN) as they come from decisions
            return np.asarray(pairs[name], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            return np.asarray(pd.to_numeric(col(name), errors="coerce"), dtype=np.float64)

    insured = [p.name for p in policy.products if p.requires_insurance]
    before, approved = num("limit_before_insurer"), num("approved_limit")
    wanted = np.nan_to_num(np.where(np.isnan(before), approved, before), nan=0.0)
    have = np.nan_to_num(num("insured_limit"), nan=0.0)
    product = col("product").astype(str)
    at = np.flatnonzero(np.isin(product, insured) & (wanted > have * (1.0 + 1e-9) + 1e-6))
    insurer_of = {p.policy_id: p.insurer_id for p in policy.insurance.policies}
    pol = col("insurer_policy_id")[at]
    known = inp.factorize(pol)[0] >= 0
    out: dict[str, npt.NDArray[Any]] = {
        "debtor_id": col("debtor_id")[at].astype(str),
        "supplier_id": col("supplier_id")[at].astype(str),
        "insurer_id": _mapped(pol, insurer_of, None),
        "policy_id": np.where(known, pol, np.asarray(None, dtype=object)),
        "currency": col("currency")[at].astype(str),
        "product": product[at],
        "approved_limit": approved[at],
        "insured_limit": have[at],
        "insured_amount": np.nan_to_num(num("insured_amount")[at], nan=0.0),
        "cover_basis": col("cover_basis")[at].astype(str),
        "amount_requested": wanted[at],
        "reason": request_reasons(col("insurer_status")[at]),
    }
    if at.size < 2:
        return out
    order = np.lexsort((out["supplier_id"], out["debtor_id"]))  # stable: pairs in order
    return {k: v[order] for k, v in out.items()}
