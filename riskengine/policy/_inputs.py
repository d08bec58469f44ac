"""Input coercion shared by the policy modules (private).

Every function turns a scalar or array-like into a 1-d numpy array of length
``n`` and refuses bad values with an :class:`~riskengine.errors.InvalidInputError`
naming the column, the row position and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.errors import InvalidInputError
from riskengine.model.master_scale import GRADES, grade_index
from riskengine.policy.credit_policy import CreditPolicy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_SMALL = 16
"""Arrays up to this length are checked on Python floats (cheaper than numpy calls)."""


_F8 = np.dtype(np.float64)
_I8 = np.dtype(np.int64)


def _small(x: Any, n: int, dtype: np.dtype[Any]) -> bool:
    """Whether ``x`` is already a small 1-d numpy array of ``n`` elements of ``dtype``."""
    return (type(x) is np.ndarray and x.ndim == 1 and x.shape[0] == n and n <= _SMALL
            and x.dtype == dtype)


def size(x: Any) -> int:
    """``np.size(x)`` (an array's own size without the call)."""
    return x.size if type(x) is np.ndarray else int(np.size(x))


@dataclass(frozen=True, slots=True)
class PolicyTables:
    """Lookup arrays of one credit policy, built once (the policy is frozen).

    Each grade table is indexed by grade index ``1`` ... ``11`` (entry 0 is NaN),
    each product table by product code; the arrays are read-only.
    """

    tnw_fraction: FloatArray
    revenue_fraction: FloatArray
    no_financials_limit: FloatArray
    ledger_share: FloatArray
    insured_fraction: FloatArray
    premium_rate: FloatArray
    service_commission: FloatArray
    discount_rate: FloatArray
    recourse: BoolArray
    requires_insurance: BoolArray
    await_insurer: BoolArray
    commission_surcharge: FloatArray
    advance_rate: FloatArray
    product_lookup: Mapping[str, int]
    supplier_limit_share: FloatArray
    insurer_policy: npt.NDArray[np.object_]
    """By product code: the first declared insurance policy covering it (None: none)."""
    has_insurer_policy: BoolArray


def _frozen(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
    a.setflags(write=False)
    return a


def _grade_table(values: tuple[float, ...]) -> FloatArray:
    # the same array GradeTable.lookup builds on every call
    return _frozen(np.asarray((math.nan, *values), dtype=np.float64))


_TABLES: dict[int, tuple[CreditPolicy, PolicyTables]] = {}


def policy_tables(policy: CreditPolicy) -> PolicyTables:
    """The :class:`PolicyTables` of ``policy`` (cached per policy object)."""
    hit = _TABLES.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]
    cp = policy.capacity
    covered_by = np.asarray([next((q.policy_id for q in policy.insurance.policies
                                   if p.name in q.products), None)
                             for p in policy.products], dtype=object)
    tables = PolicyTables(
        tnw_fraction=_grade_table(cp.tnw_fraction.values),
        revenue_fraction=_grade_table(cp.revenue_fraction.values),
        no_financials_limit=_grade_table(cp.no_financials_limit.values),
        ledger_share=_grade_table(policy.concentration.ledger_share.values),
        insured_fraction=_grade_table(policy.cover.insured_fraction.values),
        premium_rate=_grade_table(policy.cover.premium_rate.values),
        service_commission=_grade_table(policy.fees.service_commission.values),
        discount_rate=_grade_table(policy.fees.discount_rate.values),
        recourse=_frozen(policy.product_table("recourse")),
        requires_insurance=_frozen(policy.product_table("requires_insurance")),
        await_insurer=_frozen(policy.product_table("await_insurer").astype(bool)),
        commission_surcharge=_frozen(policy.product_table("commission_surcharge")),
        advance_rate=_frozen(policy.advance_rate_matrix()),
        product_lookup={name: i for i, name in enumerate(policy.product_names)},
        supplier_limit_share=_grade_table(policy.supplier.recourse_limit_share),
        insurer_policy=_frozen(covered_by),
        has_insurer_policy=_frozen(np.asarray([c is not None for c in covered_by], dtype=bool)),
    )
    if len(_TABLES) >= 64:  # many policies (tests): keep the cache small
        _TABLES.clear()
    _TABLES[id(policy)] = (policy, tables)  # the strong reference keeps the id unique
    return tables


def bad_input(table: str, column: str, pos: int, value: Any, reason: str, message: str) -> (
        InvalidInputError):
    """An error naming the row position, the column and the value."""
    if isinstance(value, np.generic):
        value = value.item()
    return InvalidInputError(
        f"{table} row {pos}: {column} = {value!r}: {message}",
        [{"table": table, "record": str(pos), "debtor_id": "", "column": column,
          "value": str(value), "reason": reason, "message": message}],
    )


def length(columns: Mapping[str, Any], required: tuple[str, ...], table: str) -> int:
    """Common length of the array-like columns (scalars broadcast)."""
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInputError(
            f"{table}: required column {missing[0]!r} is missing; give it "
            f"(required: {', '.join(required)}).",
            [{"table": table, "record": "", "debtor_id": "", "column": m, "value": "",
              "reason": "missing_column", "message": "required column missing"} for m in missing],
        )
    sizes = set()
    for v in columns.values():
        if type(v) is np.ndarray:
            if v.ndim > 0:
                sizes.add(v.size)
        elif np.ndim(v) > 0:
            sizes.add(np.size(v))
    if len(sizes) > 1:
        raise InvalidInputError(
            f"{table}: columns have different lengths {sorted(sizes)}; give arrays of one "
            "length (or scalars, which apply to every row).", [])
    return sizes.pop() if sizes else 1


def floats(x: Any, n: int, column: str, table: str, *, negative: bool = False) -> FloatArray:
    """Float array of length ``n``; NaN kept; negative refused unless allowed."""
    if _small(x, n, _F8):
        ok = True
        for v in x.tolist():
            if v == math.inf or v == -math.inf or (not negative and v < 0):
                ok = False
                break
        if ok:
            return x
    elif type(x) is float and n <= _SMALL and not (
            x == math.inf or x == -math.inf or (not negative and x < 0)):
        return np.full(n, x)  # a scalar that passes: a small array, no broadcast
    arr = np.asarray(x, dtype=np.float64)
    arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)
    if not negative:
        neg = arr < 0
        if neg.any():
            pos = int(np.flatnonzero(neg)[0])
            raise bad_input(table, column, pos, float(arr[pos]), "negative",
                            "money amounts here cannot be negative; correct the record.")
    if np.isinf(arr).any():
        pos = int(np.flatnonzero(np.isinf(arr))[0])
        raise bad_input(table, column, pos, float(arr[pos]), "not_numeric",
                        "infinite amount; give a finite number.")
    return arr


def factorize(values: Any) -> tuple[IntArray, list[Any]]:
    """Codes of a 1-d array's values in order of first appearance and the distinct
    values; a missing value (None, NaN, ``pd.NA``, ``NaT``) gets -1.

    ``pandas.factorize`` with its NA sentinel; a few values (one debtor's pairs) are
    coded by a dict, which gives the same codes without pandas' fixed cost.

    Examples
    --------
    >>> codes, uniques = factorize(["b", None, "a", "b"])
    >>> codes.tolist(), uniques
    ([0, -1, 1, 0], ['b', 'a'])
    """
    arr = np.asarray(values).reshape(-1)
    if arr.dtype.kind not in "iub":  # numbers keep their dtype (pandas hashes them fast)
        arr = arr.astype(object)
    if arr.size > _SMALL:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        return codes.astype(np.int64, copy=False), uniques.tolist()
    seen: dict[Any, int] = {}
    out = []
    for v in arr.tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append(-1)
        else:
            out.append(seen.setdefault(v, len(seen)))
    return np.asarray(out, dtype=np.int64), list(seen)


def flags(x: Any, n: int) -> BoolArray:
    """Boolean array of length ``n``."""
    if type(x) is bool and n <= _SMALL:
        return np.full(n, x)
    arr = np.asarray(x, dtype=bool)
    return np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)


def grades(x: Any, n: int, column: str = "grade", table: str = "pairs") -> IntArray:
    """Grade index 1 ... 11 from grade strings or integer indices."""
    if _small(x, n, _I8):
        lst = x.tolist()
        if not lst or (min(lst) >= 1 and max(lst) <= len(GRADES)):
            return x
    arr = np.asarray(x)
    if arr.dtype.kind in "iu":
        idx = arr.astype(np.int64, copy=False)
        if idx.size and (idx.min() < 1 or idx.max() > len(GRADES)):
            bad = (idx < 1) | (idx > len(GRADES))
            pos = int(np.flatnonzero(bad.reshape(-1))[0])
            raise bad_input(table, column, pos, int(idx.reshape(-1)[pos]), "unknown_category",
                            f"a grade index is 1 ... {len(GRADES)} (D = {len(GRADES)}); "
                            "unrated rows have no grade: decide them apart.")
    else:
        idx = grade_index(arr)
    return np.broadcast_to(idx, (n,)) if idx.ndim == 0 else idx.reshape(-1)


def products(x: Any, n: int, policy: CreditPolicy, table: str = "pairs") -> IntArray:
    """Product code (position in ``policy.products``) from names or codes."""
    if _small(x, n, _I8):
        lst = x.tolist()
        if not lst or (min(lst) >= 0 and max(lst) < len(policy.products)):
            return x
    arr = np.asarray(x)
    names = policy.product_names
    if arr.dtype.kind in "iu":
        codes = arr.astype(np.int64, copy=False)
        if codes.size and (codes.min() < 0 or codes.max() >= len(names)):
            pos = int(np.flatnonzero(((codes < 0) | (codes >= len(names))).reshape(-1))[0])
            raise bad_input(table, "product", pos, int(codes.reshape(-1)[pos]),
                            "unknown_category", f"product codes are 0 ... {len(names) - 1} "
                            f"({', '.join(names)}).")
    else:
        flat = arr.astype(str).reshape(-1)
        uniq, inverse = np.unique(flat, return_inverse=True)
        lookup = {name: i for i, name in enumerate(names)}
        for u in uniq:
            if str(u) not in lookup:
                pos = int(np.flatnonzero(flat == u)[0])
                raise bad_input(table, "product", pos, str(u), "unknown_category",
                                f"not a product of policy {policy.version}; use one of "
                                f"{', '.join(names)}.")
        codes = np.asarray([lookup[str(u)] for u in uniq], dtype=np.int64)[inverse]
        codes = codes.reshape(arr.shape)
    return np.broadcast_to(codes, (n,)) if codes.ndim == 0 else codes.reshape(-1)


def dates(x: Any, n: int) -> npt.NDArray[np.datetime64]:
    """``datetime64[D]`` array of length ``n`` (strings, dates, numpy or pandas values)."""
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    arr = np.asarray(x)
    if arr.dtype.kind == "O" and arr.ndim == 0:
        arr = np.asarray(np.datetime64(x, "D"))
    arr = arr.astype("datetime64[D]")
    return np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr.reshape(-1)
