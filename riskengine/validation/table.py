"""One table: every check of a table against its contract, in order.

:func:`_check_table` coerces the columns and runs the column, id, key and
date-order checks, keeping every row (unparseable cells missing) with its
validity; :func:`validate_table` returns the clean rows and the error rows, and
:func:`riskengine.validation.portfolio.validate_portfolio` adds the cross-table
checks on top.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts.schemas import TableContract
from riskengine.validation.columns import (
    _check_column,
    _check_dates,
    _coerce,
    _empty_column,
    _finalise,
    _reference,
    _table_level,
)
from riskengine.validation.errors import _Emitter, _Errors, _Labels
from riskengine.validation.insurer import _insurer_checks
from riskengine.validation.keys import _check_ids, _check_key, _CodeCache, _member

__all__ = ["validate_table"]


@dataclass
class _Checked:
    contract: TableContract
    frame: pd.DataFrame  # every row, canonical columns, unparseable cells missing
    row_ok: np.ndarray
    table_ok: bool
    present: frozenset[str]
    errors: _Errors
    labels: _Labels
    cache: _CodeCache

    def member(self, column: str, values: pd.Series | pd.Index) -> np.ndarray:
        """Whether each row's ``column`` is in ``values`` (missing: False)."""
        return _member(*self.cache.codes(column), values)


def _check_table(df: pd.DataFrame, contract: TableContract, ref: pd.Timestamp | None) -> _Checked:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"Table '{contract.name}' must be a pandas DataFrame, not {type(df).__name__}."
        )
    n = len(df)
    errs = _Errors(contract.name)
    _table_level(df, contract, errs)
    table_ok = len(errs) == 0
    first: dict[str, int] = {}
    for j, name in enumerate(df.columns):
        first.setdefault(str(name), j)
    coerced = {
        c.name: _coerce(df.iloc[:, first[c.name]], c) for c in contract.columns if c.name in first
    }
    frame = pd.DataFrame(
        {
            c.name: coerced[c.name].values if c.name in coerced else _empty_column(c, n)
            for c in contract.columns
        },
        index=pd.RangeIndex(n),
    )
    labels = _Labels(frame, contract)
    row_ok = np.ones(n, dtype=bool)
    emit = _Emitter(frame, labels, errs, row_ok)
    for col in contract.columns:
        if col.name in coerced:
            raw = df.iloc[:, first[col.name]].reset_index(drop=True)
            _check_column(col, coerced[col.name], raw, contract, ref, emit)
    present = frozenset(first)
    cache = _CodeCache(frame)
    _check_ids(contract, present, emit, cache)
    _check_key(frame, contract, present, emit, cache)
    _check_dates(frame, contract, present, emit)
    if contract.name == "insurer_limits":
        _insurer_checks(frame, present, emit)
    return _Checked(contract, frame, row_ok, table_ok, present, errs, labels, cache)


def validate_table(
    df: pd.DataFrame, contract: TableContract, *, reference_date: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check one table against its contract and split it into clean rows and error rows.

    Parameters
    ----------
    df : pandas.DataFrame
        The table as read (any dtypes; strings are parsed). Not modified.
    contract : TableContract
        Its declared contract, e.g. ``riskengine.contracts.schemas.STATEMENTS``.
    reference_date : date-like, optional
        The extraction date: records dated after it are ``future_date`` errors.
        ``None`` (default) skips that check; the shell passes today's date.

    Returns
    -------
    clean : pandas.DataFrame
        The valid rows with canonical dtypes, columns in contract order, a fresh
        ``RangeIndex``. Empty when a table-level problem (missing or extra
        column) was found.
    errors : pandas.DataFrame
        One row per problem, columns :data:`riskengine.contracts.schemas.ERROR_COLUMNS`,
        all of dtype ``str`` (missing where not applicable). Every problem is
        reported, not only the first.

    Notes
    -----
    Accounting identities are not checked here: see :func:`check_identities`.
    The module docstring lists the reason codes and canonical dtypes.

    Examples
    --------
    >>> import pandas as pd
    >>> from riskengine.contracts.schemas import RELATIONS
    >>> df = pd.DataFrame({"supplier_id": ["S-1", "S-1"], "debtor_id": ["D-1", "D-2"],
    ...                    "relation_type": ["parent", "cousin"]})
    >>> clean, errors = validate_table(df, RELATIONS)
    >>> len(clean), errors.loc[0, "reason"]
    (1, 'unknown_category')
    >>> errors.loc[0, "message"][:52]
    "Debtor 'D-2': relation_type is 'cousin' in the relat"
    """
    checked = _check_table(df, contract, _reference(reference_date))
    frame = checked.frame
    if not checked.table_ok:
        frame = frame.iloc[:0]
    elif not checked.row_ok.all():
        frame = frame[checked.row_ok]
    return _finalise(frame, contract), checked.errors.frame()
