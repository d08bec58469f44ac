"""Accounting identities of financial statements, checked within a tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts import schemas
from riskengine.validation.errors import _Emitter, _Errors, _identity_sentence, _Labels

__all__ = ["IDENTITIES", "check_identities", "identity_gaps"]


#: Statement identities ``(total, left, sign, right)``: ``total = left + sign * right``.
IDENTITIES: tuple[tuple[str, str, int, str], ...] = (
    ("total_assets", "total_liabilities", 1, "equity"),
    ("ebit", "ebitda", -1, "depreciation_amortization"),
    ("gross_profit", "revenue", -1, "cost_of_sales"),
)


def identity_gaps(t: Any, a: Any, sign: Any, b: Any, rel_tol: float = 0.02,
                  abs_tol: float = 1.0) -> tuple[Any, Any, Any, Any]:
    """The identity ``t = a + sign * b`` on arrays of 1..n statements (the rule of
    :func:`check_identities`, for a book and for one payload alike).

    Returns the right-hand side, the gap ``|t - rhs|``, the tolerance
    ``rel_tol * max(|t|, |rhs|) + abs_tol`` and where the identity is broken (the gap
    exceeds the tolerance; a NaN item compares False: skipped).
    """
    rhs = a + sign * b
    tol = rel_tol * np.maximum(np.abs(t), np.abs(rhs)) + abs_tol
    gap = np.abs(t - rhs)
    with np.errstate(invalid="ignore"):
        bad = gap > tol
    return rhs, gap, tol, bad


def _identity_checks(frame: pd.DataFrame, emit: _Emitter, rel_tol: float, abs_tol: float) -> None:
    if rel_tol < 0 or abs_tol < 0:
        raise ValueError(f"rel_tol and abs_tol must be >= 0, got {rel_tol} and {abs_tol}.")
    for total, left, sign, right in IDENTITIES:
        if not {total, left, right} <= set(frame.columns):
            continue
        t, a, b = (
            pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            for c in (total, left, right)
        )
        rhs, gap, tol, bad = identity_gaps(t, a, sign, b, rel_tol, abs_tol)
        op = "+" if sign > 0 else "-"
        extra = [
            (f"{ti:,.2f}", f"{ri:,.2f}", f"{ai:,.2f}", f"{bi:,.2f}", f"{gi:,.2f}", f"{ki:,.2f}")
            for ti, ri, ai, bi, gi, ki in zip(
                t[bad], rhs[bad], a[bad], b[bad], gap[bad], tol[bad], strict=True
            )
        ]
        pct = rel_tol * 100
        emit(
            bad,
            total,
            "identity_broken",
            _identity_sentence(total, left, op, right, pct, abs_tol),
            values=[
                f"{ti!r} vs {ri!r}"
                for ti, ri in zip(t[bad].tolist(), rhs[bad].tolist(), strict=True)
            ],
            extra=extra,
        )


def check_identities(
    statements: pd.DataFrame, *, rel_tol: float = 0.02, abs_tol: float = 1.0
) -> pd.DataFrame:
    """Check the accounting identities of financial statements.

    Parameters
    ----------
    statements : pandas.DataFrame
        Statements with numeric line items (as returned by :func:`validate_table`);
        non-numeric cells are treated as missing. Not modified.
    rel_tol : float, default 0.02
        Relative tolerance, as a fraction of the larger magnitude of the two
        sides.
    abs_tol : float, default 1.0
        Absolute tolerance in the statement's currency unit, for rounding of
        items reported in whole units.

    Returns
    -------
    pandas.DataFrame
        Error rows (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`) with reason
        ``identity_broken``, one per broken identity, naming the debtor, the
        period and the amounts.

    Notes
    -----
    The identities are :data:`IDENTITIES`: ``total_assets = total_liabilities +
    equity``, ``ebit = ebitda - depreciation_amortization`` and ``gross_profit
    = revenue - cost_of_sales``. One holds when ``|total - rhs| <= rel_tol *
    max(|total|, |rhs|) + abs_tol``. An identity is skipped for a row when any
    of its three items is missing (a tax return has no balance sheet) and for
    the whole table when a column is absent. ``rel_tol`` is unit free;
    ``abs_tol`` is in the unit the amounts are written in, and the default of
    one unit absorbs the rounding of items reported in whole units (of
    currency, or of thousands if the statement is in thousands).

    Examples
    --------
    >>> import pandas as pd
    >>> st = pd.DataFrame({"debtor_id": ["D-1"], "period_end": pd.to_datetime(["2023-12-31"]),
    ...                    "total_assets": [1000.0], "total_liabilities": [600.0],
    ...                    "equity": [300.0]})
    >>> check_identities(st).loc[0, "message"][:60]
    "Debtor 'D-1': total_assets is 1,000.00 in the 2023-12-31 sta"
    """
    frame = statements.reset_index(drop=True)
    errs = _Errors(schemas.STATEMENTS.name)
    emit = _Emitter(
        frame, _Labels(frame, schemas.STATEMENTS), errs, np.ones(len(frame), dtype=bool)
    )
    _identity_checks(frame, emit, rel_tol, abs_tol)
    return errs.frame()
