"""Error rows and their messages: the one place that turns a failing mask into rows.

Every check of :mod:`riskengine.validation` reports through an :class:`_Emitter`:
it marks the rows invalid, names each row (:class:`_Labels`: record, debtor,
subject, where) and builds its message from a sentence (the ``_*_sentence``
builders). :class:`_Errors` accumulates the rows of one table in the columns of
:data:`riskengine.contracts.schemas.ERROR_COLUMNS`; :func:`raise_if_errors` turns
error rows into an :class:`~riskengine.errors.InvalidInputError`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from riskengine.contracts import schemas
from riskengine.contracts.arrowtext import text_member
from riskengine.contracts.schemas import TableContract
from riskengine.errors import InvalidInputError

__all__ = ["raise_if_errors"]


_NOUN = {
    "debtors": "debtor record",
    "suppliers": "supplier record",
    "statements": "statement",
    "adverse_records": "adverse record",
    "invoices": "invoice",
    "exposures": "exposure",
    "relations": "relation",
    "insurer_limits": "insurer limit",
    "outcomes": "outcome",
    "fx_rates": "rate row",
}

# table -> (column naming the record in a sentence, template); None: no column.
_WHERE: dict[str, tuple[str | None, str]] = {
    "debtors": (None, "in the debtors table"),
    "suppliers": (None, "in the suppliers table"),
    "statements": ("period_end", "in the {} statement"),
    "adverse_records": ("record_id", "in adverse record {!r}"),
    "invoices": ("invoice_id", "in invoice {!r}"),
    "exposures": ("supplier_id", "in the exposure to supplier {!r}"),
    "relations": ("supplier_id", "in the relation with supplier {!r}"),
    "insurer_limits": ("policy_id", "in the insurer limit under policy {!r}"),
    "outcomes": ("default_date", "in the outcome dated {}"),
    "fx_rates": (None, "in the fx_rates table"),
}


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _text(s: pd.Series, pos: np.ndarray) -> list[str | None]:
    """Values of ``s`` at positions ``pos`` as strings (dates as YYYY-MM-DD), None if missing."""
    sub = s.iloc[pos]
    if pd.api.types.is_datetime64_any_dtype(sub.dtype):
        sub = sub.dt.strftime("%Y-%m-%d")
    return [None if _isna(v) else str(v) for v in sub.tolist()]


_Sentence = Callable[[str, str, Any, Any], str]


def _parse_sentence(name: str, rule: str, fix: str) -> _Sentence:
    return lambda s, w, v, x: f"{s}: {name} is {v!r} {w}; it must be {rule}. {fix}"


def _order_sentence(later: str, earlier: str, noun: str) -> _Sentence:
    return lambda s, w, v, x: (
        f"{s}: {later} {v} is before {earlier} {x} {w}; {later} must be on or after {earlier}. "
        f"Correct the dates or remove the {noun}."
    )


def _identity_sentence(
    total: str, left: str, op: str, right: str, pct: float, abs_tol: float
) -> _Sentence:
    return lambda s, w, v, x: (
        f"{s}: {total} is {x[0]} {w}, but {left} {op} {right} is {x[1]} ({x[2]} {op} {x[3]}); "
        f"the gap of {x[4]} exceeds the tolerance of {x[5]} ({pct:g}% of the larger side plus "
        f"{abs_tol:g}). Correct the statement or remove it."
    )


def _fixed_sentence(template: str, noun: str) -> _Sentence:
    """A ``str.format`` template with the fields ``s``, ``w``, ``v``, ``x`` and ``noun``."""
    return lambda s, w, v, x: template.format(s=s, w=w, v=v, x=x, noun=noun)


class _Lab(NamedTuple):
    record: list[str]
    debtor: list[str | None]
    subject: list[str]
    where: list[str]


class _Labels:
    """Readable names of the rows of one (coerced) table, built for error rows only."""

    def __init__(self, frame: pd.DataFrame, contract: TableContract) -> None:
        self.frame = frame
        self.table = contract.name
        self.key = contract.key
        self.noun = _NOUN.get(contract.name, "record")

    def _col(self, name: str, pos: np.ndarray) -> list[str | None]:
        if name in self.frame.columns:
            return _text(self.frame[name], pos)
        return [None] * len(pos)

    def at(self, pos: np.ndarray) -> _Lab:
        keys = [self._col(k, pos) for k in self.key]
        record = [
            " ".join(p if p is not None else "?" for p in row)
            if any(p is not None for p in row)
            else f"row {i}"
            for row, i in zip(zip(*keys, strict=True), pos.tolist(), strict=True)
        ]
        debtor = self._col("debtor_id", pos)
        if self.table == "suppliers":
            sid = self._col("supplier_id", pos)
            subject = [f"Supplier {s!r}" if s is not None else "Table 'suppliers'" for s in sid]
        elif "debtor_id" in self.frame.columns:
            subject = [
                f"Debtor {d!r}" if d is not None else f"Table '{self.table}'" for d in debtor
            ]
        else:
            subject = [f"Table '{self.table}', record {r!r}" for r in record]
        col, template = _WHERE.get(self.table, (None, ""))
        if col is None:
            where = [template or f"in {self.table} record {r!r}" for r in record]
        else:
            where = [
                template.format(v) if v is not None else f"in the {self.noun} at row {i}"
                for v, i in zip(self._col(col, pos), pos.tolist(), strict=True)
            ]
        return _Lab(record, debtor, subject, where)


class _Errors:
    """Accumulates the error rows of one table (with the row position, for ordering)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.rows: dict[str, list[Any]] = {c: [] for c in (*schemas.ERROR_COLUMNS, "_pos")}

    def add(
        self,
        pos: np.ndarray,
        lab: _Lab,
        column: str,
        values: list[str | None],
        reason: str,
        messages: list[str],
    ) -> None:
        n = len(pos)
        r = self.rows
        r["table"].extend([self.table] * n)
        r["record"].extend(lab.record)
        r["debtor_id"].extend(lab.debtor)
        r["column"].extend([column] * n)
        r["value"].extend(values)
        r["reason"].extend([reason] * n)
        r["message"].extend(messages)
        r["_pos"].extend(pos.tolist())

    def add_table(self, column: str, reason: str, message: str) -> None:
        for c, v in zip(
            schemas.ERROR_COLUMNS,
            (self.table, None, None, column, None, reason, message),
            strict=True,
        ):
            self.rows[c].append(v)
        self.rows["_pos"].append(-1)

    def __len__(self) -> int:
        return len(self.rows["_pos"])

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        df = df.sort_values("_pos", kind="stable") if len(df) else df
        return _error_frame(df.drop(columns="_pos"))


def _error_frame(df: pd.DataFrame | None = None) -> pd.DataFrame:
    if df is None or df.empty:
        df = pd.DataFrame({c: [] for c in schemas.ERROR_COLUMNS})
    return df.astype("str").reset_index(drop=True)[list(schemas.ERROR_COLUMNS)]


class _Emitter:
    """Turns a boolean mask into error rows and marks those rows invalid.

    ``sentence(s, w, v, x)`` builds one message from the subject ``s`` (e.g.
    ``Debtor 'D-1'``), where ``w`` (e.g. ``in the 2023-12-31 statement``), the
    offending value ``v`` and a per-row extra ``x``.
    """

    def __init__(
        self, frame: pd.DataFrame, labels: _Labels, errs: _Errors, row_ok: np.ndarray
    ) -> None:
        self.frame, self.labels, self.errs, self.row_ok = frame, labels, errs, row_ok

    def __call__(
        self,
        mask: np.ndarray,
        column: str,
        reason: str,
        sentence: _Sentence,
        *,
        values: Sequence[str | None] | None = None,
        raw: pd.Series | None = None,
        extra: list[Any] | None = None,
    ) -> None:
        pos = np.flatnonzero(mask)
        if pos.size == 0:
            return
        self.row_ok[pos] = False
        lab = self.labels.at(pos)
        if values is None:
            values = _text(raw if raw is not None else self.frame[column], pos)
        xs = extra if extra is not None else [""] * pos.size
        msgs = [
            sentence(s, w, v, x)
            for s, w, v, x in zip(lab.subject, lab.where, values, xs, strict=True)
        ]
        self.errs.add(pos, lab, column, list(values), reason, msgs)


def _rejection_rows(
    problems: pd.DataFrame, rejected: pd.Index, table_cause: pd.Series
) -> pd.DataFrame:
    """One ``debtor_rejected`` row per rejected debtor, naming its first problem (or the
    table rejected whole that took it down, ``table_cause``)."""
    if rejected.empty:
        return _error_frame()
    p = problems[text_member(problems["debtor_id"], rejected)]
    g = p.groupby("debtor_id", sort=False).agg(
        n=("reason", "size"),
        table=("table", "first"),
        reason=("reason", "first"),
        column=("column", "first"),
    )
    g = g.reindex(rejected)
    cause = table_cause.reindex(rejected)
    msgs = [
        f"Debtor {d!r} is rejected whole: {int(n)} problem{'s' if n > 1 else ''} in its records "
        f"(first: {r} in {t}.{c}). It is not rated on partial data; correct its records and send "
        f"the debtor again."
        if n == n
        else f"Debtor {d!r} is rejected whole because table '{tc}' was rejected (see its "
        f"table-level errors). It is not rated on partial data; fix the table and send it again."
        for d, n, t, r, c, tc in zip(
            rejected.tolist(),
            g["n"].tolist(),
            g["table"].tolist(),
            g["reason"].tolist(),
            g["column"].tolist(),
            cause.tolist(),
            strict=True,
        )
    ]
    ids = rejected.astype("str")
    return _error_frame(
        pd.DataFrame(
            {
                "table": "debtors",
                "record": ids,
                "debtor_id": ids,
                "column": "debtor_id",
                "value": ids,
                "reason": "debtor_rejected",
                "message": msgs,
            }
        )
    )


def raise_if_errors(errors: pd.DataFrame, *, shown: int = 3) -> None:
    """Raise :class:`InvalidInputError` when ``errors`` has any row.

    Parameters
    ----------
    errors : pandas.DataFrame
        Error rows (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`).
    shown : int, default 3
        How many problems the message quotes in full.

    Raises
    ------
    InvalidInputError
        Its message starts with the number of problems and quotes the first
        ``shown``; ``problems`` holds every error row as a dict (missing values
        as ``None``).
    """
    n = len(errors)
    if n == 0:
        return
    quoted = " ".join(f"({i}) {m}" for i, m in enumerate(errors["message"].head(shown).tolist(), 1))
    more = (
        f" ... and {n - shown} more; see the problems attribute for the full list."
        if n > shown
        else ""
    )
    problems = errors[list(schemas.ERROR_COLUMNS)].astype(object)
    records = problems.where(problems.notna(), None).to_dict("records")
    raise InvalidInputError(
        f"{n} problem{'s' if n > 1 else ''} in the input: {quoted}{more}",
        [{str(k): v for k, v in r.items()} for r in records],
    )
