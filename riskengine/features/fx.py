"""Dated exchange rates: the rate in force per currency and day, and conversions.

A rate is the number of units of the **reporting currency** (the policy's ``[book]
currency``) per ONE unit of a currency (the synthetic manifest's ``fx_rates`` have
the same meaning: EUR per unit). The rate *in force* on a day is the latest one dated
on or before it; a currency with no such row has no rate (NaN here: the callers turn
it into a ``missing_fx_rate`` error row, never into a silent refusal or a silent 1).
The reporting currency's rate is 1 on every day.

Conversions go through the reporting currency: an amount in currency ``a`` is
``amount x rate[a] / rate[b]`` units of ``b``. The engine converts with the rates in
force on the decision's ``as_of`` (:meth:`FxRates.at`), one vector per call, indexed
by the position of a currency in :data:`riskengine.contracts.schemas.CURRENCIES`.

Pure arrays: no I/O. The rates come from the portfolio's ``fx_rates`` table or its
manifest (:mod:`riskengine.io.portfolio`), a payload's ``fx_rates`` list, or the
store's ``fx_rates`` table (:mod:`riskengine.store.fx`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import CURRENCIES
from riskengine.errors import InvalidInputError

__all__ = ["CURRENCY_CODE", "FxRates", "currency_codes", "convert", "pair_rates",
           "missing_codes", "revenue_in_record_currency", "with_missing"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Position of each ISO code in :data:`~riskengine.contracts.schemas.CURRENCIES`.
CURRENCY_CODE: dict[str, int] = {c: i for i, c in enumerate(CURRENCIES)}
_INDEX = pd.Index(list(CURRENCIES), dtype="str")
_SHIFT = np.int64(1) << 40  # code * _SHIFT + day: one sorted key (days fit in 40 bits)


def currency_codes(values: Any) -> IntArray:
    """Position of each currency in ``CURRENCIES``; -1 for a missing, empty or unknown one.

    Examples
    --------
    >>> currency_codes(["EUR", "GBP", "", None, "XXX"]).tolist()
    [0, 2, -1, -1, -1]
    """
    arr = np.asarray(values, dtype=object).reshape(-1)
    if arr.size <= 8:
        return np.array([CURRENCY_CODE.get(v, -1) if isinstance(v, str) else -1
                         for v in arr.tolist()], dtype=np.int64)
    text = pd.Series(arr, dtype=object).where(pd.notna(arr), "")
    return np.asarray(_INDEX.get_indexer(text.astype("str")), dtype=np.int64)


def _bad(record: str, column: str, value: Any, reason: str, message: str
         ) -> InvalidInputError:
    return InvalidInputError(message, [{"table": "fx_rates", "record": record,
                                        "debtor_id": None, "column": column,
                                        "value": None if value is None else str(value),
                                        "reason": reason, "message": message}])


@dataclass(frozen=True)
class FxRates:
    """Dated rates into the reporting currency ``base`` (sorted by currency, then day).

    Attributes
    ----------
    base : str
        The reporting currency (rate 1 on every day).
    code : numpy.ndarray of int64
        Currency of each row (position in ``CURRENCIES``).
    day : numpy.ndarray of int64
        Day number (days since 1970-01-01) from which the row's rate is in force.
    rate : numpy.ndarray of float64
        Units of ``base`` per one unit of the currency (> 0).
    """

    base: str
    code: IntArray
    day: IntArray
    rate: FloatArray
    _by_day: dict[int, FloatArray] = field(default_factory=dict, init=False, repr=False,
                                           compare=False)
    """:meth:`at` by day number (the rows never change: the arrays are read-only)."""

    def __post_init__(self) -> None:
        for a in (self.code, self.day, self.rate):
            a.setflags(write=False)
        if self.base not in CURRENCY_CODE:
            raise _bad("", "currency", self.base, "unknown_currency",
                       f"reporting currency {self.base!r} is not an ISO 4217 code of "
                       "riskengine.contracts.schemas.CURRENCIES; correct policy [book] currency.")

    # --- construction --------------------------------------------------------------

    @classmethod
    def from_arrays(cls, currency: Any, day: Any, rate: Any, base: str) -> FxRates:
        """Rows given as arrays of ISO codes, day numbers and rates, in any order.

        Raises
        ------
        InvalidInputError
            An unknown currency, a rate that is not > 0, two rows of one currency on
            one day, or a row of ``base`` whose rate is not 1 (naming the row).
        """
        codes = currency_codes(currency)
        days = np.asarray(day, dtype=np.int64).reshape(-1)
        rates = np.asarray(rate, dtype=np.float64).reshape(-1)
        cur = np.asarray(currency, dtype=object).reshape(-1)

        def label(i: int) -> str:
            return f"{np.datetime64(int(days[i]), 'D')} {cur[i]}"

        bad = np.flatnonzero(codes < 0)
        if bad.size:
            i = int(bad[0])
            raise _bad(label(i), "currency", cur[i], "unknown_currency",
                       f"fx_rates row {label(i)!r}: currency is not an ISO 4217 code of "
                       "riskengine.contracts.schemas.CURRENCIES. Correct or remove the row.")
        bad = np.flatnonzero(~(rates > 0) | ~np.isfinite(rates))
        if bad.size:
            i = int(bad[0])
            raise _bad(label(i), "rate", rates[i], "not_positive",
                       f"fx_rates row {label(i)!r}: rate must be a finite number > 0 (units "
                       f"of {base} per one unit). Correct or remove the row.")
        base_code = CURRENCY_CODE.get(base, -1)
        bad = np.flatnonzero((codes == base_code) & (rates != 1.0))
        if bad.size:
            i = int(bad[0])
            raise _bad(label(i), "rate", rates[i], "base_rate_not_one",
                       f"fx_rates row {label(i)!r}: the reporting currency {base} is worth 1 "
                       f"{base}; give 1 or remove the row.")
        key = codes * _SHIFT + days
        order = np.argsort(key, kind="stable")
        key = key[order]
        dup = np.flatnonzero(key[1:] == key[:-1])
        if dup.size:
            i = int(order[dup[0]])
            raise _bad(label(i), "date", None, "duplicate_key",
                       f"fx_rates row {label(i)!r} appears twice; keep one rate per currency "
                       "and day.")
        return cls(base, codes[order], days[order], rates[order])

    @classmethod
    def from_frame(cls, frame: pd.DataFrame | None, base: str) -> FxRates:
        """A (validated) ``fx_rates`` table: ``date``, ``currency``, ``rate``."""
        if frame is None or not len(frame):
            return cls.empty(base)
        days = frame["date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        return cls.from_arrays(frame["currency"].to_numpy(dtype=object), days.view(np.int64),
                               frame["rate"].to_numpy(dtype=np.float64), base)

    @classmethod
    def from_mapping(cls, rates: Mapping[str, Any], day: Any, base: str) -> FxRates:
        """One rate per currency, all dated ``day`` (a manifest's ``fx_rates``)."""
        cur = list(rates)
        return cls.from_arrays(cur, [as_of_day(day)] * len(cur),
                               [float(rates[c]) for c in cur], base)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, str, float]], base: str) -> FxRates:
        """Rows ``(date, currency, rate)`` (a payload's ``fx_rates`` list, the store's)."""
        got = list(rows)
        return cls.from_arrays([r[1] for r in got], [as_of_day(r[0]) for r in got],
                               [float(r[2]) for r in got], base)

    @classmethod
    def empty(cls, base: str) -> FxRates:
        """No rate but the reporting currency's (one value per currency, kept)."""
        got = _EMPTY.get(base)
        if got is None:
            z = np.zeros(0, dtype=np.int64)
            got = _EMPTY[base] = cls(base, z, z.copy(), np.zeros(0))
        return got

    def __len__(self) -> int:
        return int(self.code.size)

    # --- lookups -------------------------------------------------------------------

    def in_force(self, codes: Any, days: Any) -> FloatArray:
        """The rate in force of each (currency code, day): the latest row dated on or
        before the day; NaN without one (or for code -1); 1 for the reporting currency.

        Examples
        --------
        >>> fx = FxRates.from_rows([("2026-01-01", "GBP", 1.15), ("2026-03-01", "GBP", 1.2)],
        ...                        "EUR")
        >>> days = [as_of_day(d) for d in ("2025-12-31", "2026-02-01", "2026-03-01")]
        >>> fx.in_force([2, 2, 2], days).tolist()
        [nan, 1.15, 1.2]
        """
        c = np.asarray(codes, dtype=np.int64).reshape(-1)
        d = np.broadcast_to(np.asarray(days, dtype=np.int64), c.shape)
        out = np.full(c.shape, np.nan)
        if self.code.size:
            key = self.code * _SHIFT + self.day
            at = np.searchsorted(key, c * _SHIFT + d, side="right") - 1
            ok = (at >= 0) & (c >= 0)
            hit = ok & (self.code[np.maximum(at, 0)] == c)
            out[hit] = self.rate[at[hit]]
        out[c == CURRENCY_CODE[self.base]] = 1.0
        return out

    def at(self, day: Any) -> FloatArray:
        """The rates in force on ``day`` as one vector over ``CURRENCIES`` (NaN: none;
        read-only, computed once per day)."""
        d = as_of_day(day)
        got = self._by_day.get(d)
        if got is None:
            n = len(CURRENCIES)
            got = self.in_force(np.arange(n, dtype=np.int64), np.full(n, d))
            got.setflags(write=False)
            if len(self._by_day) >= 64:
                self._by_day.clear()
            self._by_day[d] = got
        return got

    def mapping_at(self, day: Any) -> dict[str, float]:
        """The rates in force on ``day`` by ISO code (currencies without one left out)."""
        return {c: v for c, v in zip(CURRENCIES, self.at(day).tolist(), strict=True)
                if math.isfinite(v)}

    def rows(self) -> list[tuple[str, str, float]]:
        """The rows as ``(YYYY-MM-DD, currency, rate)``, by currency then date."""
        return [(str(np.datetime64(int(d), "D")), CURRENCIES[int(c)], float(r))
                for c, d, r in zip(self.code.tolist(), self.day.tolist(), self.rate.tolist(),
                                   strict=True)]


_EMPTY: dict[str, FxRates] = {}


_NAN1 = np.array([np.nan])
_WITH_MISSING: dict[bytes, FloatArray] = {}


def with_missing(rates: Any) -> FloatArray:
    """``rates`` followed by NaN, so that currency code -1 (none) indexes NaN.

    Read-only; one array per distinct rates vector (cached by the vector's bytes, its
    value: never stale), since every conversion of a decision indexes the same one.

    Examples
    --------
    >>> with_missing(np.array([1.0, 0.5]))[[1, -1]].tolist()
    [0.5, nan]
    """
    r = np.asarray(rates, dtype=np.float64).reshape(-1)
    key = r.tobytes()
    got = _WITH_MISSING.get(key)
    if got is None:
        got = np.concatenate((r, _NAN1))
        got.setflags(write=False)
        if len(_WITH_MISSING) >= 256:
            _WITH_MISSING.clear()
        _WITH_MISSING[key] = got
    return got


def convert(amount: Any, from_codes: Any, to_codes: Any, rates: FloatArray) -> FloatArray:
    """``amount`` in the ``from`` currencies as units of the ``to`` currencies:
    ``amount x rates[from] / rates[to]`` (``rates``: a vector of :meth:`FxRates.at`).
    NaN where either rate is missing; an amount already in the target currency is
    returned exactly (no division round trip).

    Examples
    --------
    Seed-style book in EUR, a GBP pair on statements in EUR (1 GBP = 1.20 EUR):
    TNW 120,000 EUR is 100,000 GBP.

    >>> rates = FxRates.from_rows([("2026-01-01", "GBP", 1.2)], "EUR").at("2026-06-30")
    >>> convert([120_000.0, 5.0], [0, 2], [2, 2], rates).tolist()
    [100000.0, 5.0]
    """
    a = np.asarray(amount, dtype=np.float64)
    f = np.asarray(from_codes, dtype=np.int64)
    t = np.asarray(to_codes, dtype=np.int64)
    ext = with_missing(rates)  # code -1 -> NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(f == t, a, a * ext[f] / ext[t])
    return np.asarray(out, dtype=np.float64)


def pair_rates(rates: FloatArray, pair: Any, statement: Any, ledger: Any, policy: str
               ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The rates each pair's decision converts with (both paths build them here).

    Parameters
    ----------
    rates : numpy.ndarray
        :meth:`FxRates.at` of the decision date.
    pair, statement, ledger : array-like of str
        Per pair, the ISO codes of the pair (its limit), of its debtor's latest
        statement (``""``: none; then 1) and of its supplier's ledger.
    policy : str
        The currency of the policy's no-financials limits (``capacity.currency``).

    Returns
    -------
    base, fin, led, cap : numpy.ndarray
        Units of the reporting currency per one unit of the pair's currency, and units
        of the pair's currency per one unit of the statement's, the ledger's and the
        policy's currency. NaN where a rate is missing (the callers refuse the pair's
        debtor first: :func:`riskengine.validation.fx.reject_missing_rates`).
    """
    p = currency_codes(pair)
    f = currency_codes(statement)
    m = p.shape[0]
    base = with_missing(rates)[p]  # rate[pair]: base per unit
    # one conversion (elementwise) of one unit from the statement's, the ledger's and the
    # policy's currency into the pair's
    src = np.concatenate((np.where(f < 0, p, f), currency_codes(ledger),
                          np.full(m, CURRENCY_CODE.get(policy, -1), dtype=np.int64)))
    per_unit = convert(np.full(3 * m, 1.0), src, np.concatenate((p, p, p)), rates)
    fin = np.where(f < 0, 1.0, per_unit[:m])
    return base, fin, per_unit[m:2 * m], per_unit[2 * m:]


def revenue_in_record_currency(code: Any, n: int, cur: Any, revenue: Any,
                               revenue_cur: Any, rates: np.ndarray | None) -> np.ndarray:
    """Each debtor's revenue in the currency of its adverse records (the denominator of
    ``adv_amount_to_revenue``), converted at ``rates`` (the decision date's).

    ``code``, ``cur``: the debtor and currency of each record in the look-back. A debtor
    whose records are in several currencies has no adverse amount (NaN) whatever its
    revenue; one without records keeps its revenue (unused). ``revenue_cur`` None: the
    revenue is in the records' currency (unchanged). No rate of either currency
    (``rates`` None, or NaN): NaN, so the ratio is missing rather than a ratio of two
    currencies.

    Examples
    --------
    Revenue RON 4,970,000 and records in EUR at 4.97 RON per EUR (0.2012 EUR per RON):
    EUR 1,000,000.

    >>> C = CURRENCY_CODE
    >>> rates = FxRates.from_rows([("2026-01-01", "RON", 1 / 4.97)], "EUR").at("2026-06-30")
    >>> revenue_in_record_currency([0], 1, [C["EUR"]], [4_970_000.0], [C["RON"]], rates)
    array([1000000.])
    """
    rev = np.asarray(revenue, dtype=np.float64).reshape(-1)
    if revenue_cur is None:
        return rev
    rc = np.asarray(revenue_cur, dtype=np.int64).reshape(-1)
    rec = rc.copy()  # the records' currency per debtor (no record: the revenue's own)
    c = np.asarray(code, dtype=np.int64).reshape(-1)
    rec[c] = np.asarray(cur, dtype=np.int64).reshape(-1)[:c.size]
    if rates is None:
        return np.where(rec == rc, rev, np.nan)
    return convert(rev, rc, rec, rates)


def missing_codes(rates: FloatArray, *codes: Any) -> list[str]:
    """The currencies among ``codes`` (ISO text) without a rate in ``rates``, sorted."""
    out: set[str] = set()
    for values in codes:
        flat = values if type(values) is list else np.asarray(values, dtype=object).reshape(
            -1).tolist()
        for c in set(map(str, flat)):
            if c and (c not in CURRENCY_CODE
                      or not math.isfinite(float(rates[CURRENCY_CODE[c]]))):
                out.add(c)
    return sorted(out)
