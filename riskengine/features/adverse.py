"""Adverse records -> severity, recency and knock-out features, as of a date.

The input is the ``adverse_records`` table of :mod:`riskengine.contracts.schemas` (an
interbank register such as Tiresias: bounced cheques, payment orders, unpaid
bills, enforcement, insolvency). The severity of an event type comes from
:data:`~riskengine.contracts.schemas.ADVERSE_SEVERITY_TIER`; nothing here re-decides it.

Point in time
-------------
A record exists from its ``event_date``; one dated after ``as_of`` is ignored.
A record counts as *settled* only if its status is ``settled`` **and** its
``settlement_date`` is on or before ``as_of``; otherwise it is still open at
``as_of``. Only records inside the look-back window
``as_of - lookback_years * 365.25 days <= event_date <= as_of`` are used, for
every feature (seed 003: "recent, e.g. the last four years"; the register
itself keeps payment orders three years).

The seed's knock-out (seed 003, DOMAIN.md §3.1)
-----------------------------------------------
``adv_knockout`` is 1 when the debtor has at least one record that is
**serious** (event type in ``knockout_types``; by default
:data:`~riskengine.contracts.schemas.SERIOUS_EVENT_TYPES`: bounced cheque, payment
order, unpaid bill of exchange; the shipped policy adds auctions and seizures)
**and recent** (inside the look-back) **and of significant amount**: ``amount``
strictly greater than the absolute threshold ``significant_amount`` ("a bounced
cheque of 1,000 is not serious"; the register does not even record payment
orders of 1,000 or less) **or** than ``revenue_share`` of the debtor's latest
annual revenue (what a large firm shrugs off is serious for a small one). With
``rates`` the threshold is in a currency of its own (the policy's
``knockouts.currency``) and a record's amount and the revenue are compared with it
at the rates of :mod:`riskengine.features.fx`; without, in the record's currency
(the relative test only where the revenue is in it too):
:func:`significance_thresholds`. Settled records **still count**: the register only
annotates a paid item, it does not erase the fact that the cheque bounced.
``adv_knockout_open`` is the same test restricted to records still open at
``as_of``, so that a credit policy may choose the milder reading. A mortgage
pre-notation (tier 0) never enters any adverse feature; it is counted in
``adv_n_tier0`` / ``adv_amount_tier0`` only.

Monotonicity
------------
Adding one record (in one currency) never lowers a count, an amount, a
recency-weighted sum, the maximum tier or a flag; ``adv_days_since_serious``
can only fall (or go from NaN, "none", to a number). ``adv_knockout`` and
``adv_insolvency`` are therefore monotone in the set of records.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator, TransformerMixin

from riskengine.contracts.arrowtext import strictly_increasing
from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import (
    ADVERSE_EVENT_TYPES,
    ADVERSE_SEVERITY_TIER,
    ADVERSE_STATUSES,
    CURRENCIES,
    INSOLVENCY_EVENT_TYPES,
    SERIOUS_EVENT_TYPES,
)
from riskengine.errors import InvalidInputError
from riskengine.features.fx import currency_codes, revenue_in_record_currency
from riskengine.features.significance import (
    knockout_mask,
    significance_thresholds,
)

__all__ = [
    "ADVERSE_FEATURES",
    "ESTIMATOR_CHECK_EXEMPTIONS",
    "FILL_VALUES",
    "AdverseFeatures",
    "adverse_arrays",
    "RecordTableTransformer",
    "adverse_features",
    "feature_directions",
]

DAYS_PER_YEAR = 365.25
N_TIERS = 5
_COLUMNS = ("record_id", "debtor_id", "event_type", "event_date", "amount", "currency",
            "status", "settlement_date")  # fmt: skip

#: Output columns, in order.
ADVERSE_FEATURES: tuple[str, ...] = (
    *(f"adv_n_tier{t}" for t in range(N_TIERS)),
    *(f"adv_amount_tier{t}" for t in range(N_TIERS)),
    "adv_n_adverse",
    "adv_amount_adverse",
    "adv_n_open",
    "adv_n_settled",
    "adv_amount_open",
    "adv_amount_settled",
    "adv_weighted_count",
    "adv_weighted_amount",
    "adv_amount_to_revenue",
    "adv_max_tier",
    "adv_days_since_serious",
    "adv_n_serious_significant",
    "adv_insolvency",
    "adv_knockout",
    "adv_knockout_open",
    "adv_mixed_currency",
)

#: Value of each feature for a debtor with no record in the look-back: 0 for
#: counts, amounts, flags and the maximum tier; NaN for the days since the last
#: serious event (there is none, and 0 would mean "today").
FILL_VALUES: dict[str, float] = {
    name: (np.nan if name == "adv_days_since_serious" else 0.0) for name in ADVERSE_FEATURES
}

# --- vocabulary lookups, by position in ADVERSE_EVENT_TYPES ---------------------
_TIER = np.array([ADVERSE_SEVERITY_TIER[e] for e in ADVERSE_EVENT_TYPES], dtype=np.int64)
_INSOLVENCY = np.array([e in INSOLVENCY_EVENT_TYPES for e in ADVERSE_EVENT_TYPES])
_SETTLED_CODE = ADVERSE_STATUSES.index("settled")
#: Tier from which an event counts as serious for ``adv_days_since_serious``.
SERIOUS_TIER = 2


def feature_directions() -> dict[str, int]:
    """Expected sign of each feature's effect on the PD.

    Returns
    -------
    dict of str to int
        ``+1`` raises the PD, ``-1`` lowers it, ``0`` no expected effect
        (tier-0 mortgage pre-notations, the mixed-currency marker).
    """
    out = {name: 1 for name in ADVERSE_FEATURES}
    out.update(adv_n_tier0=0, adv_amount_tier0=0, adv_mixed_currency=0, adv_days_since_serious=-1)
    return out


# --- shared helpers (also used by payments and concentration) -------------------


def _bad_input(table: str, record: Any, debtor_id: Any, column: str, value: Any,
               reason: str, message: str) -> InvalidInputError:  # fmt: skip
    problem = {"table": table, "record": record, "debtor_id": debtor_id, "column": column,
               "value": value, "reason": reason, "message": message}  # fmt: skip
    return InvalidInputError(message, [problem])


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (f"Table {table!r} lacks column(s) {missing}; it needs {list(columns)}. "
               "Validate it against riskengine.contracts.schemas first.")  # fmt: skip
        raise _bad_input(table, None, None, missing[0], None, "missing_column", msg)


def _as_day(as_of: Any) -> np.int64:
    """``as_of`` as a day number (:func:`riskengine.contracts.dates.as_of_day`)."""
    return np.int64(as_of_day(as_of))


def _day_numbers(frame: pd.DataFrame, column: str, table: str) -> np.ndarray:
    """A date column as int64 day numbers; NaT becomes the int64 minimum."""
    s = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        msg = (f"{table}.{column} has dtype {s.dtype}, not datetime64; parse the dates "
               "(riskengine.validation does it) before computing features.")  # fmt: skip
        raise _bad_input(table, None, None, column, str(s.dtype), "not_date", msg)
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    return s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").view(np.int64)


_NAT = np.iinfo(np.int64).min


def _sort_order(values: pd.Index) -> np.ndarray:
    """Positions that sort ``values`` (strings) ascending; arrow-backed when possible."""
    arr = getattr(values.array, "_pa_array", None)
    if arr is not None:
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        n = len(arr)
        if n < 2 or pc.all(pc.less_equal(arr.slice(0, n - 1), arr.slice(1))).as_py():
            return np.arange(n)
        return np.asarray(pc.sort_indices(arr), dtype=np.int64)
    if values.is_monotonic_increasing:
        return np.arange(len(values))
    return np.argsort(np.asarray(values.astype(str)), kind="stable")


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """Codes and uniques of arrow-backed strings already sorted, else None.

    Portfolios written by riskengine are sorted by ``debtor_id``: one Arrow
    pass checks it, and the codes then follow from where the value changes
    (no hashing). The result equals a sorted :func:`pandas.factorize`: codes
    ``0..k-1`` in ascending order of the values, the uniques ascending. None
    when the values are not arrow-backed, have a missing value or are not
    sorted; the caller then factorizes.
    """
    arr = getattr(values.array, "_pa_array", None)
    n = len(values)
    if arr is None or n < 2:
        return None
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if arr.null_count:
        return None
    head, tail = arr.slice(0, n - 1), arr.slice(1)
    if not pc.all(pc.less_equal(head, tail)).as_py():
        return None
    change = np.asarray(pc.not_equal(head, tail), dtype=bool)
    codes = np.empty(n, dtype=np.int64)
    codes[0] = 0
    np.cumsum(change, out=codes[1:])
    starts = np.flatnonzero(change) + 1
    first = np.concatenate([np.zeros(1, dtype=np.int64), starts])
    return codes, pd.Index(values.array.take(first))


def _positions(values: pd.Series | pd.Index, index: pd.Index) -> np.ndarray:
    """Position of each value in ``index`` (unique), -1 when absent.

    Categorical values are looked up once per category; arrow-backed strings
    go through :func:`pyarrow.compute.index_in` (about 3x faster than
    :meth:`pandas.Index.get_indexer` on millions of strings).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories if isinstance(values, pd.Series) else values.categories
        codes = values.cat.codes if isinstance(values, pd.Series) else values.codes
        return np.append(_positions(cats, index), -1)[np.asarray(codes)]
    va = getattr(values.array, "_pa_array", None)
    ia = getattr(index.array, "_pa_array", None)
    if va is not None and ia is not None:
        ia = ia.combine_chunks() if isinstance(ia, pa.ChunkedArray) else ia
        found = pc.index_in(va, value_set=ia).fill_null(-1)
        return np.asarray(found, dtype=np.int64)
    return np.asarray(index.get_indexer(values), dtype=np.int64)


@dataclass(frozen=True)
class _Rows:
    """The records of ``frame`` at positions ``keep``, read column by column.

    Avoids copying whole frames (identifiers are strings): a column is taken
    only when a feature needs it, and error messages look the record up.
    """

    frame: pd.DataFrame
    keep: np.ndarray
    table: str
    id_column: str

    def __len__(self) -> int:
        return len(self.keep)

    def series(self, column: str) -> pd.Series:
        return self.frame[column].iloc[self.keep]

    def error(self, i: int, column: str, value: Any, reason: str, text: str) -> InvalidInputError:
        """An error about the ``i``-th kept record, naming it and its debtor."""
        pos = int(self.keep[i])
        rec = self.frame[self.id_column].iloc[pos]
        deb = self.frame["debtor_id"].iloc[pos] if "debtor_id" in self.frame else None
        msg = f"{self.table} record {rec!r} (debtor {deb!r}): {text}"
        return _bad_input(self.table, rec, deb, column, value, reason, msg)

    def numbers(self, column: str) -> np.ndarray:
        """A money column as float64; NaN or negative values raise."""
        s = self.frame[column]
        full = (s.to_numpy() if s.dtype == np.float64  # a view: no copy before the gather
                else s.to_numpy(dtype=np.float64, na_value=np.nan))  # fmt: skip
        x = full[self.keep]
        bad = ~(x >= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v = float(x[i])
            reason = "negative" if v < 0 else "missing_value"
            raise self.error(i, column, v, reason, f"{column} is {v!r}; it must be a "
                             "number >= 0 in the record's currency. Correct the record.")  # fmt: skip
        return x

    def days(self, column: str) -> np.ndarray:
        return _day_numbers(self.frame, column, self.table)[self.keep]

    def vocab(self, column: str, vocab: tuple[str, ...]) -> np.ndarray:
        """Position of each value in a closed vocabulary; an unknown value raises."""
        s = self.frame[column]
        if isinstance(s.dtype, pd.CategoricalDtype):
            lookup = np.append(pd.Index(list(vocab)).get_indexer(s.cat.categories), -1)
            codes = lookup[s.cat.codes.to_numpy()[self.keep]]
        else:
            # look the whole column up, then keep: no gather of the strings themselves
            codes = _positions(s, pd.Index(list(vocab), dtype="str"))[self.keep]
        codes = codes.astype(np.int64, copy=False)
        bad = codes < 0
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            v = s.iloc[int(self.keep[i])]
            reason = "unknown_currency" if column == "currency" else "unknown_category"
            shown = f"{list(vocab)[:12]}{'...' if len(vocab) > 12 else ''}"
            raise self.error(i, column, v, reason, f"{column} {v!r} is not one of {shown} "
                             f"({int(bad.sum())} record(s) affected). Correct the value or "
                             "drop the record.")  # fmt: skip
        return codes

    def ids(self, column: str = "debtor_id") -> tuple[np.ndarray, pd.Index]:
        """Integer codes of an identifier column and its sorted unique values.

        A ``category`` column is encoded from its codes (no string hashing:
        the fast path, many times faster on millions of rows); arrow strings
        already sorted (as riskengine writes portfolios) are coded from their
        runs (:func:`_sorted_codes`); anything else goes through
        :func:`pandas.factorize`.
        """
        s = self.frame[column]
        fast = _sorted_codes(s) if len(self.keep) >= 4096 else None
        if fast is not None:  # sorted strings: codes from the runs, no hashing
            full, cats = fast
            codes = full[self.keep]
            if (codes[1:] >= codes[:-1]).all():  # kept rows in order: still sorted
                change = codes[1:] != codes[:-1]
                new = np.empty(len(codes), dtype=np.int64)
                new[0] = 0
                np.cumsum(change, out=new[1:])
                first = np.concatenate([np.zeros(1, dtype=np.int64), np.flatnonzero(change) + 1])
                return new, cats[codes[first]].rename(column)
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy()[self.keep].astype(np.int64)
            cats = s.cat.categories
        elif fast is not None:
            codes = fast[0][self.keep]
            cats = fast[1]
        else:
            raw, uniq = pd.factorize(s.iloc[self.keep])
            codes, cats = raw.astype(np.int64, copy=False), pd.Index(uniq)
        if len(codes) and codes.min() < 0:
            i = int(np.flatnonzero(codes < 0)[0])
            raise self.error(i, column, None, "missing_value", f"no {column}; every record "
                             f"must name its {column}.")  # fmt: skip
        return _compact_sorted(codes, cats, column)


def _compact_sorted(codes: np.ndarray, cats: pd.Index, name: str) -> tuple[np.ndarray, pd.Index]:
    """Re-code so that only used values remain, in ascending order."""
    used = np.flatnonzero(np.bincount(codes, minlength=len(cats)) > 0)
    kept = cats[used]
    order = _sort_order(kept)
    new = np.full(len(cats), -1, dtype=np.int64)
    new[used[order]] = np.arange(len(used))
    uniques = kept if (order == np.arange(len(order))).all() else kept[order]
    if uniques.dtype != "str":
        uniques = uniques.astype("str")
    return new[codes], uniques.rename(name)


# --- the feature function --------------------------------------------------------


def adverse_features(
    records: pd.DataFrame,
    as_of: Any,
    *,
    lookback_years: float = 4.0,
    half_life_years: float = 2.0,
    significant_amount: float | Mapping[str, float] = 1000.0,
    revenue: pd.Series | None = None,
    knockout_types: Sequence[str] = SERIOUS_EVENT_TYPES,
    revenue_share: float = 0.0,
    revenue_currency: pd.Series | None = None,
    rates: np.ndarray | None = None,
    threshold_currency: str | None = None,
) -> pd.DataFrame:
    """Severity, recency and knock-out features of adverse records, as of a date.

    Parameters
    ----------
    records : pandas.DataFrame
        The ``adverse_records`` table (columns of
        :data:`riskengine.contracts.schemas.ADVERSE_RECORDS`). Not modified. A
        ``category`` ``debtor_id`` skips string hashing (fastest).
    as_of : date-like
        The date of the assessment; records dated after it are ignored.
    lookback_years : float, default 4.0
        Window of recent records (seed 003: "the last four years"), in years
        of 365.25 days, both ends inclusive.
    half_life_years : float, default 2.0
        Half-life of the recency weight ``0.5 ** (age_years / half_life)``.
    significant_amount : float or mapping of currency to float, default 1000.0
        A serious record is significant when its amount is **strictly
        greater** than this (seed 003: a bounced cheque of 1,000 is not
        serious): in ``threshold_currency`` with ``rates``, else in the
        record's currency. A mapping (without ``rates``) gives one threshold
        per ISO currency; a serious record in a currency it lacks is an error.
    revenue : pandas.Series, optional
        Annual revenue by ``debtor_id`` (the latest statement's), in
        ``revenue_currency`` (default: the records' currency).
    knockout_types : sequence of str, default SERIOUS_EVENT_TYPES
        The event types whose significant records knock out.
    revenue_share : float, default 0
        A serious record is also significant above this share of ``revenue``
        (0: the absolute threshold only).
    revenue_currency : pandas.Series, optional
        ISO code of each debtor's ``revenue``.
    rates : numpy.ndarray, optional
        Rates in force over ``CURRENCIES`` (:meth:`riskengine.features.fx.FxRates.at`):
        amounts are compared with the threshold through them
        (:func:`significance_thresholds`); a serious record in a currency without a
        rate is an error (``missing_fx_rate``).
    threshold_currency : str, optional
        The currency of ``significant_amount`` (with ``rates``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``debtor_id`` (sorted), one row per debtor with at least
        one record in the look-back, columns :data:`ADVERSE_FEATURES` (float).
        Reindex onto all debtors with :data:`FILL_VALUES`.

    Raises
    ------
    InvalidInputError
        Missing columns, undated records, unknown event type, status or
        currency, negative or missing amounts, no threshold for a currency.

    Notes
    -----
    - Tiers are those of :data:`~riskengine.contracts.schemas.ADVERSE_SEVERITY_TIER`;
      "adverse" means tier >= 1 (mortgage pre-notations, tier 0, are counted in
      ``adv_n_tier0``/``adv_amount_tier0`` only). Open/settled counts and
      amounts, recency-weighted sums and amount/revenue cover adverse records.
    - ``adv_days_since_serious``: days from the latest record of tier >= 2
      (serious, enforcement or insolvency) to ``as_of``; NaN when none.
    - ``adv_insolvency``: 1 if a bankruptcy filing or insolvency declaration in
      the look-back is still open at ``as_of`` (a settled one, e.g. a
      dismissed petition, does not set it but stays in ``adv_n_tier4``).
    - ``adv_knockout`` / ``adv_knockout_open``: see the module docstring.
    - Amounts are summed in the records' currency. A debtor with records in
      more than one currency gets ``adv_mixed_currency = 1`` and NaN amount
      features (amounts in different currencies do not add); counts, tiers
      and flags are unaffected.
    - ``adv_amount_to_revenue`` = adverse amount / revenue, the revenue (in the
      latest statement's currency, ``revenue_currency``) converted into the records'
      currency at ``rates``, the rates in force on the decision date (one rate per
      currency and decision, as the capacity's conversion: docs/POLICY.md
      "Currencies"); NaN when revenue is not given, missing, zero or negative,
      amounts are mixed-currency, or a rate is missing (never a ratio of two
      currencies). Invariant to the currency unit.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({
    ...     "record_id": ["r1", "r2"], "debtor_id": ["D1", "D2"],
    ...     "event_type": ["bounced_cheque", "bounced_cheque"],
    ...     "event_date": pd.to_datetime(["2023-06-01", "2023-06-01"]),
    ...     "amount": [1000.0, 5000.0], "currency": ["EUR", "EUR"],
    ...     "status": ["open", "open"],
    ...     "settlement_date": pd.to_datetime([None, None])})
    >>> adverse_features(recs, "2024-06-01")["adv_knockout"].to_dict()
    {'D1': 0.0, 'D2': 1.0}
    """
    if not lookback_years > 0 or not half_life_years > 0:
        raise ValueError("lookback_years and half_life_years must be > 0, got "
                         f"{lookback_years!r} and {half_life_years!r}.")  # fmt: skip
    table = "adverse_records"
    _require_columns(records, _COLUMNS, table)
    day = _as_day(as_of)
    event = _day_numbers(records, "event_date", table)
    if (event == _NAT).any():
        i = int(np.flatnonzero(event == _NAT)[0])
        raise _Rows(records, np.arange(len(records)), table, "record_id").error(
            i, "event_date", None, "missing_value", "no event_date; every register entry is dated.")
    lookback_days = int(round(lookback_years * DAYS_PER_YEAR))
    age_all = day - event
    keep = np.flatnonzero((age_all >= 0) & (age_all <= lookback_days))
    rows = _Rows(records, keep, table, "record_id")
    etype = rows.vocab("event_type", ADVERSE_EVENT_TYPES)
    status = rows.vocab("status", ADVERSE_STATUSES)
    cur = rows.vocab("currency", CURRENCIES)
    amount = rows.numbers("amount")
    settle = rows.days("settlement_date")
    code, index = rows.ids()
    n = len(index)

    rev = np.full(n, np.nan) if revenue is None else _revenue_on(revenue, index)
    rev_cur = None if revenue_currency is None else currency_codes(
        revenue_currency.reindex(index).to_numpy(dtype=object))
    thr = significance_thresholds(
        etype, cur, code, knockout=knockout_mask(knockout_types), absolute=significant_amount,
        share=revenue_share, revenue=rev, revenue_cur=rev_cur, rates=rates,
        currency=threshold_currency)
    no_thr = np.isnan(thr)
    if no_thr.any():
        i = int(np.flatnonzero(no_thr)[0])
        c = CURRENCIES[cur[i]]
        if rates is not None:
            raise rows.error(i, "currency", c, "missing_fx_rate", f"no {c} rate is in force "
                             f"on the decision date; add it to fx_rates.")  # fmt: skip
        raise rows.error(i, "currency", c, "unknown_currency", f"currency {c!r} has no "
                         "threshold in significant_amount; add one for that currency.")  # fmt: skip
    rev_rec = revenue_in_record_currency(code, n, cur, rev, rev_cur, rates)
    out = adverse_arrays(code, n, int(day), event[keep], etype, status, settle, amount, cur,
                         thr, rev_rec, lookback_days, half_life_years * DAYS_PER_YEAR)
    return pd.DataFrame(out.T, index=index, columns=list(ADVERSE_FEATURES), copy=False)


def _revenue_on(revenue: pd.Series, index: pd.Index) -> np.ndarray:
    """``revenue.reindex(index)`` as floats (NaN where absent); its index must be unique.

    An arrow-backed index already distinct and sorted (as
    :func:`riskengine.features.latest_revenue` gives it) is looked up with one
    Arrow hash lookup (:func:`_positions`) instead of pandas' uniqueness check and
    indexer, which convert every id to a Python string first.
    """
    values = revenue.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = getattr(revenue.index.array, "_pa_array", None)
    if len(values) and arr is not None and strictly_increasing(arr):
        pos = _positions(index, revenue.index)
        return np.where(pos >= 0, values[pos], np.nan)
    if not revenue.index.is_unique:
        raise ValueError("revenue must have one value per debtor_id (its index has duplicates).")
    return revenue.reindex(index).to_numpy(dtype=np.float64, na_value=np.nan)


# --- the array function (one debtor or many) -------------------------------------

_J = {name: j for j, name in enumerate(ADVERSE_FEATURES)}
(_J_N_ADVERSE, _J_AMOUNT_ADVERSE, _J_N_OPEN, _J_N_SETTLED, _J_AMOUNT_OPEN, _J_AMOUNT_SETTLED,
 _J_WEIGHTED_COUNT, _J_WEIGHTED_AMOUNT, _J_AMOUNT_TO_REVENUE, _J_MAX_TIER, _J_DAYS_SERIOUS,
 _J_N_SIGNIFICANT, _J_INSOLVENCY, _J_KNOCKOUT, _J_KNOCKOUT_OPEN, _J_MIXED) = (
    _J[name] for name in ADVERSE_FEATURES[2 * N_TIERS:])
#: Rows of the amount features (NaN for a debtor with records in several currencies).
_AMOUNT_ROWS = np.array([j for name, j in _J.items() if "amount" in name], dtype=np.int64)
_N_FEATURES = len(ADVERSE_FEATURES)


def adverse_arrays(code: Any, n: int, day: int, event: Any, etype: Any, status: Any,
                   settle: Any, amount: Any, cur: Any, thr: Any, revenue: Any,
                   lookback_days: int, half_life_days: float) -> Any:
    """:data:`ADVERSE_FEATURES` of ``n`` debtors from their records' arrays.

    The computation of :func:`adverse_features` (which checks and extracts the arrays
    of a table) and of the single-debtor path (which builds one debtor's arrays from
    its payload), in one compiled pass over the records.

    Parameters
    ----------
    code : int64 array
        The debtor (``0..n-1``) of each record, in any order.
    n : int
        Number of debtors.
    day : int
        ``as_of`` as a day number (days since 1970-01-01).
    event, settle : int64 arrays
        Event and settlement day numbers (settlement: int64 minimum when none).
    etype, status, cur : int64 arrays
        Positions in ``ADVERSE_EVENT_TYPES``, ``ADVERSE_STATUSES``, ``CURRENCIES``.
    amount : float64 array
        Amounts (>= 0) in the record's currency.
    thr : float64 array
        Per record, the amount above which it knocks out, in its currency
        (:func:`significance_thresholds`; ``inf``: its type never does).
    revenue : float64 array
        Each debtor's revenue (NaN when unknown), for ``adv_amount_to_revenue``.
    lookback_days : int
        Records with ``0 <= day - event <= lookback_days`` are used; others are skipped.
    half_life_days : float
        Half-life of the recency weight.

    Returns
    -------
    ndarray of shape (len(ADVERSE_FEATURES), n)
        One row per feature; a debtor without a record in the look-back has
        :data:`FILL_VALUES`.
    """
    out: Any = _kernel()(code, n, day, event, etype, status, settle, amount, cur, thr, revenue,
                         lookback_days, half_life_days)
    return out


def _adverse_pass(code: Any, n: int, day: int, event: Any, etype: Any, status: Any,
                  settle: Any, amount: Any, cur: Any, thr: Any, revenue: Any,
                  lookback_days: int, half_life_days: float
                  ) -> Any:  # pragma: no cover - compiled
    """The kernel of :func:`adverse_arrays`: sums in record order from 0.0."""
    big = np.iinfo(np.int64).max
    out = np.zeros((_N_FEATURES, n))
    count = np.zeros(n, dtype=np.int64)
    serious_age = np.full(n, big, dtype=np.int64)
    lo = np.full(n, big, dtype=np.int64)
    hi = np.full(n, -1, dtype=np.int64)
    for i in range(code.shape[0]):
        age = day - event[i]
        if age < 0 or age > lookback_days:
            continue
        g, e, a = code[i], etype[i], amount[i]
        tier = _TIER[e]
        settled = status[i] == _SETTLED_CODE and settle[i] != _NAT and settle[i] <= day
        count[g] += 1
        out[tier, g] += 1.0
        out[N_TIERS + tier, g] += a
        if tier >= 1:
            if settled:
                out[_J_N_SETTLED, g] += 1.0
                out[_J_AMOUNT_SETTLED, g] += a
            else:
                out[_J_N_OPEN, g] += 1.0
                out[_J_AMOUNT_OPEN, g] += a
            w = np.exp2(-age / half_life_days)
            out[_J_WEIGHTED_COUNT, g] += w
            out[_J_WEIGHTED_AMOUNT, g] += w * a
        if tier >= SERIOUS_TIER and age < serious_age[g]:
            serious_age[g] = age
        if a > thr[i]:
            out[_J_N_SIGNIFICANT, g] += 1.0
            out[_J_KNOCKOUT, g] = 1.0
            if not settled:
                out[_J_KNOCKOUT_OPEN, g] = 1.0
        if _INSOLVENCY[e] and not settled:
            out[_J_INSOLVENCY, g] = 1.0
        lo[g] = min(lo[g], cur[i])
        hi[g] = max(hi[g], cur[i])
    for g in range(n):
        if count[g] == 0:  # FILL_VALUES
            out[_J_DAYS_SERIOUS, g] = np.nan
            continue
        amount_adverse = out[N_TIERS + 1, g]
        for t in range(2, N_TIERS):
            amount_adverse += out[N_TIERS + t, g]
        out[_J_AMOUNT_ADVERSE, g] = amount_adverse
        out[_J_N_ADVERSE, g] = out[1, g] + out[2, g] + out[3, g] + out[4, g]
        for t in range(N_TIERS):
            if out[t, g] > 0:
                out[_J_MAX_TIER, g] = float(t)
        out[_J_DAYS_SERIOUS, g] = np.nan if serious_age[g] == big else float(serious_age[g])
        if hi[g] > lo[g]:
            out[_J_MIXED, g] = 1.0
            for j in _AMOUNT_ROWS:
                out[j, g] = np.nan
        rev = revenue[g]
        out[_J_AMOUNT_TO_REVENUE, g] = out[_J_AMOUNT_ADVERSE, g] / rev if rev > 0 else np.nan
    return out


@functools.cache
def _kernel() -> Any:
    """:func:`_adverse_pass` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_adverse_pass)


def warm_up() -> None:
    """Compile (or load from the disk cache) the adverse kernel now."""
    z = np.zeros(1, dtype=np.int64)
    f = np.zeros(1)
    adverse_arrays(z, 1, 0, z, z, z, z, f, z, np.full(1, np.inf), f, 1, 1.0)


# --- scikit-learn transformer ----------------------------------------------------

_NOT_AN_ARRAY = ("transform reads a typed record table (identifiers, dates, closed vocabularies, "
                 "named columns); the check feeds a random numeric array, which is rejected")  # fmt: skip
_PER_DEBTOR = ("the output has one row per debtor, not one per input row, so row-wise "
               "invariances of samples do not apply")  # fmt: skip
_STATELESS_FIT = ("fit learns nothing and does not read X (stateless, requires_fit=False); the "
                  "table is checked when transform reads it")  # fmt: skip
#: scikit-learn estimator checks that cannot apply to the feature transformers
#: of :mod:`riskengine.features` (adverse, payments, concentration), each with
#: the reason. Every other check of ``check_estimator`` runs and passes.
ESTIMATOR_CHECK_EXEMPTIONS: dict[str, str] = {
    "check_complex_data": _STATELESS_FIT,
    "check_estimator_sparse_tag": _STATELESS_FIT,
    "check_estimators_empty_data_messages": _STATELESS_FIT,
    "check_fit1d": _STATELESS_FIT,
    "check_n_features_in": "input width is a table schema, not a feature count; " + _STATELESS_FIT,
    "check_n_features_in_after_fitting": "input width is a table schema, not a feature count; "
    + _STATELESS_FIT,
    "check_dict_unchanged": _NOT_AN_ARRAY,
    "check_dtype_object": _NOT_AN_ARRAY,
    "check_estimators_dtypes": _NOT_AN_ARRAY,
    "check_estimators_pickle": _NOT_AN_ARRAY + " (pickling itself works; tested separately)",
    "check_f_contiguous_array_estimator": _NOT_AN_ARRAY,
    "check_fit2d_predict1d": _NOT_AN_ARRAY,
    "check_fit_idempotent": _NOT_AN_ARRAY,
    "check_fit_score_takes_y": _NOT_AN_ARRAY,
    "check_pipeline_consistency": _NOT_AN_ARRAY + " (Pipeline use is tested separately)",
    "check_transformer_data_not_an_array": _NOT_AN_ARRAY,
    "check_transformer_preserve_dtypes": _NOT_AN_ARRAY + "; output is always float64",
    "check_transformers_unfitted_stateless": _NOT_AN_ARRAY,
    "check_transformer_general": _NOT_AN_ARRAY + "; " + _PER_DEBTOR,
    "check_methods_sample_order_invariance": _PER_DEBTOR,
    "check_methods_subset_invariance": _PER_DEBTOR,
}



def _table(X: Any, name: str) -> pd.DataFrame:
    """The table ``name`` from a portfolio mapping, or ``X`` itself if a frame."""
    if isinstance(X, Mapping):
        if name not in X:
            raise ValueError(f"The portfolio has no {name!r} table (it has {sorted(X)}).")
        return X[name]
    if isinstance(X, pd.DataFrame):
        return X
    raise TypeError(f"Expected the {name!r} DataFrame or a portfolio mapping of DataFrames, "
                    f"got {type(X).__name__}.")  # fmt: skip


class RecordTableTransformer(TransformerMixin, BaseEstimator):
    """Base of the stateless feature transformers over record tables.

    ``fit`` learns nothing and returns ``self``; ``transform`` (in the subclass)
    takes the record table, or a portfolio mapping holding it, and returns one
    row per debtor; ``get_feature_names_out`` gives the subclass's
    ``feature_names``. The input is a typed table with named columns, not a
    numeric array: the estimator-check exemptions say why per check.
    """

    feature_names: tuple[str, ...] = ()

    def fit(self, X: Any, y: Any = None) -> Any:
        """Learn nothing; return ``self``."""
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The output column names."""
        return np.asarray(self.feature_names, dtype=object)

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = True
        tags.input_tags.string = True
        tags.input_tags.allow_nan = True
        return tags


class AdverseFeatures(RecordTableTransformer):
    """scikit-learn transformer around :func:`adverse_features`.

    Stateless: ``fit`` learns nothing and returns ``self``; ``transform``
    takes the ``adverse_records`` frame (or a portfolio mapping holding it)
    and returns one row per debtor with records in the look-back.

    Parameters
    ----------
    as_of : date-like
        Assessment date (required at transform time; no clock is read).
    lookback_years, half_life_years, significant_amount
        As in :func:`adverse_features`.
    """

    feature_names = ADVERSE_FEATURES

    def __init__(
        self,
        as_of: Any = None,
        *,
        lookback_years: float = 4.0,
        half_life_years: float = 2.0,
        significant_amount: float | Mapping[str, float] = 1000.0,
    ) -> None:
        self.as_of = as_of
        self.lookback_years = lookback_years
        self.half_life_years = half_life_years
        self.significant_amount = significant_amount

    def transform(self, X: Any, revenue: pd.Series | None = None) -> pd.DataFrame:
        """Compute the features (see :func:`adverse_features`)."""
        return adverse_features(
            _table(X, "adverse_records"),
            self.as_of,
            lookback_years=self.lookback_years,
            half_life_years=self.half_life_years,
            significant_amount=self.significant_amount,
            revenue=revenue,
        )

