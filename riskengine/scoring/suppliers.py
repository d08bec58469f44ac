"""The pairs' suppliers for the core: their inputs from a suppliers frame, and their terms.

:func:`supplier_inputs` builds :class:`~riskengine.scoring.inputs.SupplierInputs` from a
validated ``suppliers`` frame (the batch path, and the payload's frames), with the
dispersion of each supplier's debtors and the ratings known from outside the call.
:func:`supplier_terms` is what the core reads of them, pair by pair: the supplier's own
rating (rated as a debtor in the same call, else the one given), its assessment
(:func:`riskengine.policy.supplier.assess_suppliers`) and its assessed grade. One
computation for 1..n pairs; the single path calls the same functions on one payload's
suppliers. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.features.fx import currency_codes
from riskengine.model.master_scale import GRADES, UNRATED
from riskengine.policy._inputs import factorize
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.supplier import assess_suppliers, assessed_grade, debtor_hhi
from riskengine.scoring.frames import _positions
from riskengine.scoring.inputs import PairInputs, SupplierInputs

__all__ = ["SupplierBook", "supplier_inputs", "rating_codes", "SupplierTerms", "supplier_terms", "NO_SUPPLIERS",
           "book_dispersion", "SUPPLIER_BOOK_COLUMNS"]

#: Columns of the ``supplier_book`` frame an engine call may be given (not an input
#: contract; like ``pair_terms``): per supplier, the dispersion of its debtors over the
#: whole book (``debtor_hhi``, NaN unknown) and its own rating known from outside the call
#: (``rating``: grade text, or missing). The batch job computes it over the whole book;
#: a payload gives its own; without it, a call computes the dispersion over its own pairs.
SUPPLIER_BOOK_COLUMNS: tuple[str, ...] = ("supplier_id", "debtor_hhi", "rating")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_GRADE_INDEX = {g: i + 1 for i, g in enumerate(GRADES)}


def rating_codes(grades: Any) -> IntArray:
    """Grade index of each grade text (``"1"`` ... ``"D"``: 1 ... 11; None, NaN or
    anything else: 0, no rating)."""
    codes, uniques = factorize(grades)
    lookup = np.array([_GRADE_INDEX.get(str(u), 0) for u in uniques] + [0],
                      dtype=np.int64)
    out: IntArray = lookup[codes]
    return out


def book_dispersion(exposures: pd.DataFrame, suppliers: pd.DataFrame,
                    rates: FloatArray | None = None) -> pd.Series:
    """The dispersion of each supplier's debtors over a book: the HHI of its limits in force
    (``exposures.approved_limit``) over its debtors
    (:func:`riskengine.policy.supplier.debtor_hhi`), every pair's limit converted into the
    reporting currency at ``rates`` (amounts in two currencies are never added as they
    are; the HHI of shares does not depend on the currency they are counted in).

    Parameters
    ----------
    exposures : pandas.DataFrame
        ``supplier_id, debtor_id, currency, approved_limit`` of every pair of the book, as
        read (not validated): a row whose ids, currency or limit are not well formed (a
        missing id, a limit that is not a finite number >= 0) is left out; validation
        reports it.
    suppliers : pandas.DataFrame
        ``supplier_id, currency`` (the first row of an id counts).
    rates : numpy.ndarray, optional
        The rates in force on the decision date over ``CURRENCIES``
        (:meth:`riskengine.features.fx.FxRates.at`). A supplier with a pair in a currency
        without a rate has no dispersion (unknown, not a guess on part of its book).
        None: only the pairs in the supplier's ledger currency count.

    Returns
    -------
    pandas.Series
        By supplier id, sorted; a supplier without a positive limit is absent.
    """
    need = {"supplier_id", "debtor_id", "currency", "approved_limit"}
    if not need <= set(exposures.columns) or not {"supplier_id", "currency"} <= set(
            suppliers.columns):
        return pd.Series([], index=pd.Index([], dtype="str", name="supplier_id"),
                         dtype=np.float64, name="debtor_hhi")
    sid = suppliers["supplier_id"]
    ok = sid.notna().to_numpy()
    cur = pd.Series(suppliers["currency"].astype("str").to_numpy(dtype=object)[ok],
                    index=pd.Index(sid[ok].astype("str")))
    cur = cur[~cur.index.duplicated()]
    pos = _positions(exposures["supplier_id"], pd.Index(cur.index))
    ex_cur = exposures["currency"].astype("str").to_numpy(dtype=object)
    limit = pd.to_numeric(exposures["approved_limit"], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        keep = ((pos >= 0) & exposures["debtor_id"].notna().to_numpy()
                & np.isfinite(limit) & (limit >= 0))
    if rates is None:
        keep &= ex_cur == cur.to_numpy(dtype=object)[np.maximum(pos, 0)]
        amount = limit
        unknown: list[str] = []
    else:
        rate = np.append(np.asarray(rates, dtype=np.float64), np.nan)[currency_codes(ex_cur)]
        amount = limit * rate
        no_rate = keep & ~np.isfinite(rate)
        unknown = pd.unique(exposures["supplier_id"].astype("str").to_numpy(
            dtype=object)[no_rate]).tolist()
        keep &= np.isfinite(rate)
    ex = exposures[keep]
    out = debtor_hhi(ex["supplier_id"].astype("str").to_numpy(dtype=object),
                     ex["debtor_id"].astype("str").to_numpy(dtype=object), amount[keep]
                     ).dropna()
    return out.drop(unknown, errors="ignore") if unknown else out


def _flag(s: pd.Series) -> FloatArray:
    return s.astype("boolean").astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def supplier_inputs(frame: pd.DataFrame, hhi: Mapping[str, float] | pd.Series | None = None,
                    ratings: Mapping[str, Any] | pd.Series | None = None) -> SupplierInputs:
    """The :class:`SupplierInputs` of a validated ``suppliers`` frame, in its row order.

    Parameters
    ----------
    frame : pandas.DataFrame
        Validated suppliers (:data:`riskengine.contracts.schemas.SUPPLIERS`: an absent
        assessment column is all-missing).
    hhi : mapping or Series, optional
        Debtor dispersion by supplier id (:func:`riskengine.policy.supplier.debtor_hhi`);
        absent: unknown.
    ratings : mapping or Series, optional
        Grade text by supplier id: each supplier's own rating known from outside the call.
    """
    n = len(frame)
    ids = frame["supplier_id"].astype("str").to_numpy(dtype=object)

    def text(name: str) -> npt.NDArray[np.object_]:
        if name not in frame.columns:
            return np.full(n, None, dtype=object)
        return frame[name].astype(object).where(frame[name].notna(), None).to_numpy(
            dtype=object)

    def num(name: str) -> FloatArray:
        if name not in frame.columns:
            return np.full(n, np.nan)
        return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)

    def flag(name: str) -> FloatArray:
        return _flag(frame[name]) if name in frame.columns else np.full(n, np.nan)

    def by_id(values: Mapping[str, Any] | pd.Series | None, fill: Any) -> Any:
        if values is None or n == 0:
            return np.full(n, fill, dtype=object)
        series = values if isinstance(values, pd.Series) else pd.Series(dict(values),
                                                                        dtype=object)
        series.index = series.index.astype("str")
        pos = _positions(pd.Series(ids, dtype="str"), pd.Index(series.index))
        out = np.full(n, fill, dtype=object)
        out[pos >= 0] = series.to_numpy(dtype=object)[pos[pos >= 0]]
        return out

    return SupplierInputs(
        supplier_id=ids, sector_outlook=text("sector_outlook"),
        goods_or_services=text("goods_or_services"), perishable=flag("perishable"),
        standardised_goods=flag("standardised_goods"),
        consignment_share=num("consignment_share"), credit_note_share=num("credit_note_share"),
        debtor_hhi=by_id(hhi, np.nan).astype(np.float64),
        rating=rating_codes(by_id(ratings, None)))


@dataclass(frozen=True)
class SupplierBook:
    """What a caller knows of suppliers beyond a payload, by supplier id: their own ratings
    (grade text) and the dispersion of their debtors (HHI), e.g. the register's."""

    ratings: Mapping[str, str | None] = field(default_factory=dict)
    debtor_hhi: Mapping[str, float | None] = field(default_factory=dict)

    def frame(self, supplier_ids: list[str]) -> pd.DataFrame:
        """The ``supplier_book`` frame of these suppliers (missing: None / NaN)."""
        hhi = [self.debtor_hhi.get(s) for s in supplier_ids]
        return pd.DataFrame({
            "supplier_id": pd.Series(supplier_ids, dtype="str"),
            "debtor_hhi": pd.Series([np.nan if h is None else float(h) for h in hhi],
                                    dtype=np.float64),
            "rating": pd.Series([self.ratings.get(s) for s in supplier_ids], dtype=object)})


NO_SUPPLIERS = SupplierInputs(
    supplier_id=np.empty(0, dtype=object), sector_outlook=np.empty(0, dtype=object),
    goods_or_services=np.empty(0, dtype=object), perishable=np.empty(0),
    standardised_goods=np.empty(0), consignment_share=np.empty(0),
    credit_note_share=np.empty(0), debtor_hhi=np.empty(0), rating=np.empty(0, dtype=np.int64))
"""No supplier known beyond its id (pairs without ``suppliers``)."""


@dataclass(frozen=True, slots=True)
class SupplierTerms:
    """What the core reads of each pair's supplier (length ``m``).

    ``rating``: the supplier's own grade index (0: not rated); ``grade``: after the
    assessment's notches (0: not rated); ``notches``, ``flags``: its assessment;
    ``credit_note_share``, ``consignment_share``, ``debtor_hhi``: NaN when not known.
    """

    rating: IntArray
    grade: IntArray
    notches: IntArray
    flags: npt.NDArray[np.uint32]
    credit_note_share: FloatArray
    consignment_share: FloatArray
    debtor_hhi: FloatArray


def _ids_at(ids: Any, debtor_id: Any) -> IntArray:
    """Position of each id among the call's (distinct) debtor ids, -1 when absent (a dict:
    no index to build for the one debtor of a single decision; a chunk's 100,000 ids take
    about 10 ms)."""
    at = {d: i for i, d in enumerate(np.asarray(debtor_id, dtype=object).tolist())}
    out: IntArray = np.fromiter((at.get(x, -1) for x in np.asarray(ids, dtype=object).tolist()),
                                dtype=np.int64, count=len(ids))
    return out


def supplier_terms(policy: CreditPolicy, debtor_id: npt.NDArray[np.object_],
                   grade: npt.NDArray[Any], pairs: PairInputs) -> SupplierTerms:
    """Each pair's supplier: its rating (as a debtor rated in the same call, ``grade`` of
    ``debtor_id``, when rated there; else the one given in ``pairs.suppliers``), its
    assessment and its assessed grade. Computed once per supplier, taken per pair."""
    m = pairs.debtor_pos.shape[0]
    sup = pairs.suppliers if pairs.suppliers is not None else NO_SUPPLIERS
    if pairs.supplier_pos is None or pairs.suppliers is None:
        pos = np.full(m, -1, dtype=np.int64)
    else:
        pos = pairs.supplier_pos
    s = sup.supplier_id.shape[0]
    # the suppliers rated as debtors in this call
    given = sup.rating.copy()
    if s and len(debtor_id):
        at = _ids_at(sup.supplier_id, debtor_id)
        in_call = np.where(at >= 0, grade[np.maximum(at, 0)], UNRATED)
        rated_here = (at >= 0) & (in_call != UNRATED)
        if rated_here.any():
            given = np.where(rated_here, rating_codes(in_call), given)
    # pairs whose supplier is not in `suppliers` (no supplier record): by id as a debtor
    rating = np.zeros(m, dtype=np.int64)
    known = pos >= 0
    rating[known] = given[pos[known]]
    if (~known).any() and len(debtor_id):
        at = _ids_at(pairs.supplier_id[~known], debtor_id)
        g = np.where(at >= 0, grade[np.maximum(at, 0)], UNRATED)
        rating[~known] = np.where((at >= 0) & (g != UNRATED), rating_codes(g), 0)
    if s:
        a = assess_suppliers({"sector_outlook": sup.sector_outlook,
                              "goods_or_services": sup.goods_or_services,
                              "perishable": sup.perishable,
                              "standardised_goods": sup.standardised_goods,
                              "consignment_share": sup.consignment_share,
                              "credit_note_share": sup.credit_note_share,
                              "debtor_hhi": sup.debtor_hhi}, policy)
        take = np.maximum(pos, 0)
        every = bool(known.all())  # every pair has its supplier record (the usual case)

        def per_pair(x: npt.NDArray[Any], fill: Any) -> Any:
            return x[take] if every else np.where(known, x[take], fill)

        notches = per_pair(a.notches, 0).astype(np.int64)
        flags = per_pair(a.flags, 0).astype(np.uint32)
        credit = per_pair(sup.credit_note_share, np.nan).astype(np.float64)
        consignment = per_pair(sup.consignment_share, np.nan).astype(np.float64)
        hhi = per_pair(sup.debtor_hhi, np.nan).astype(np.float64)
    else:
        notches = np.zeros(m, dtype=np.int64)
        flags = np.zeros(m, dtype=np.uint32)
        credit, consignment, hhi = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    return SupplierTerms(rating, assessed_grade(rating, notches), notches, flags, credit,
                         consignment, hhi)
