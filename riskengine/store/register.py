"""Funding checks and the limit register with its history (methods of the store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from riskengine.errors import InvalidInputError
from riskengine.store.database import _Database
from riskengine.store.tables import funding_checks, limit_history, limit_register
from riskengine.store.values import _date, _float, _new_id, _now, _row, _str

# Prebuilt statements: compiled once and cached by SQLAlchemy (a fresh ``insert().values(...)``
# per call costs more than the SQLite write itself).
_INSERT_CHECK = funding_checks.insert()
_INSERT_HISTORY = limit_history.insert()
_INSERT_REGISTER = limit_register.insert()
_PAIR = (limit_register.c.supplier_id == sa.bindparam("p_supplier"),
         limit_register.c.debtor_id == sa.bindparam("p_debtor"))
_SELECT_REGISTER = sa.select(limit_register).where(*_PAIR)
_LOCK_REGISTER = _SELECT_REGISTER.with_for_update()
_UPDATE_REGISTER = limit_register.update().where(*_PAIR)
# PostgreSQL: a pair's first row; a concurrent first insert makes it do nothing (and wait
# for that one to commit) instead of failing on the primary key
_INSERT_REGISTER_PG = (postgresql.insert(limit_register).on_conflict_do_nothing()
                       .returning(limit_register.c.supplier_id))  # a row: inserted


def _locked_row(conn: Connection, key: dict[str, str], values: dict[str, Any]
                ) -> tuple[Any, bool]:
    """The pair's register row, locked until the transaction ends, or insert ``values``.

    Returns ``(row before, inserted)``: ``(None, True)`` when this transaction made the
    pair's first row. SQLite: the transaction is ``BEGIN IMMEDIATE`` (one writer), so a
    plain select then insert cannot race. PostgreSQL: ``SELECT ... FOR UPDATE`` locks an
    existing row; for a new pair ``INSERT ... ON CONFLICT DO NOTHING`` either inserts or,
    when another transaction inserted the pair first, waits for it and inserts nothing,
    and the row is then locked and updated like any other.
    """
    old = conn.execute(_LOCK_REGISTER, key).mappings().first()
    if old is not None:
        return old, False
    row = {"supplier_id": key["p_supplier"], "debtor_id": key["p_debtor"], **values}
    if conn.dialect.name != "postgresql":
        conn.execute(_INSERT_REGISTER, row)
        return None, True
    if conn.execute(_INSERT_REGISTER_PG, row).first() is not None:
        return None, True
    return conn.execute(_LOCK_REGISTER, key).mappings().one(), False


def _action(old: float | None, new: float) -> str:
    if old is None:
        return "new"
    if new == old:
        return "unchanged"
    if new == 0.0:
        return "cancel"
    return "increase" if new > old else "decrease"


class _LimitRegister(_Database):
    """Funding checks, and the current limit per supplier-debtor pair with every change."""

    # -- funding checks ------------------------------------------------------------------

    def record_funding_check(self, *, supplier_id: str, debtor_id: str,
                             request: Mapping[str, Any], result: Mapping[str, Any],
                             limit_used: float, limit_source: str,
                             approved_outstanding: float, invoice_id: str | None = None,
                             as_of: Any = None, decision_id: int | None = None,
                             model_version: str | None = None,
                             policy_version: str | None = None,
                             input_hash: str | None = None) -> int:
        """Store one funding check (committed before returning); returns its id."""
        row = {
            "supplier_id": str(supplier_id), "debtor_id": str(debtor_id),
            "invoice_id": _str(invoice_id),
            "as_of": _date(as_of, "as_of", f"funding check of debtor {debtor_id}"),
            "amount": _float(request.get("amount")) or 0.0,
            "limit_used": float(limit_used), "limit_source": str(limit_source),
            "approved_outstanding": float(approved_outstanding),
            "approved": _float(result.get("approved")) or 0.0,
            "request": request, "result": result,
            "decision_id": decision_id, "model_version": model_version,
            "policy_version": policy_version, "input_hash": input_hash,
            "recorded_at": _now(),
        }
        with self._write() as conn:
            return _new_id(conn.execute(_INSERT_CHECK, row))

    def funding_checks(self, supplier_id: str, debtor_id: str, *, limit: int = 100
                       ) -> list[dict[str, Any]]:
        """Stored funding checks of a pair, newest first."""
        c = funding_checks.c
        q = (sa.select(funding_checks)
             .where(c.supplier_id == str(supplier_id), c.debtor_id == str(debtor_id))
             .order_by(c.id.desc()).limit(int(limit)))
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]

    # -- limit register ------------------------------------------------------------------

    def current_limit(self, supplier_id: str, debtor_id: str, as_of: Any = None
                      ) -> dict[str, Any] | None:
        """The register's limit of a supplier-debtor pair in force on ``as_of``, or None.

        Parameters
        ----------
        supplier_id, debtor_id : str
        as_of : date or ISO text, optional
            Day of the question (default today). Before the effective date of
            the last change the limit in force is the previous one (a decrease
            waits for its notice period; deliveries before it stay covered).

        Returns
        -------
        dict or None
            ``limit`` (in force), ``registered_limit`` (the latest set),
            ``previous_limit``, ``effective_date``, ``currency``,
            ``decision_id``, ``updated_at``; None when the pair has no limit.
        """
        with self._read() as conn:
            row = conn.execute(_SELECT_REGISTER, {"p_supplier": str(supplier_id),
                                                  "p_debtor": str(debtor_id)}).mappings().first()
        if row is None:
            return None
        day = _date(as_of, "as_of", f"limit of {supplier_id}/{debtor_id}") or dt.date.today()
        in_force = row["limit_amount"] if day >= row["effective_date"] else row["previous_limit"]
        return {"supplier_id": row["supplier_id"], "debtor_id": row["debtor_id"],
                "limit": float(in_force), "registered_limit": float(row["limit_amount"]),
                "previous_limit": float(row["previous_limit"]),
                "effective_date": row["effective_date"].isoformat(),
                "currency": row["currency"], "decision_id": row["decision_id"],
                "updated_at": row["updated_at"]}

    def set_limit(self, supplier_id: str, debtor_id: str, new_limit: float, *,
                  effective_date: Any = None, reason: str, changed_by: str,
                  currency: str | None = None, decision_id: int | None = None) -> dict[str, Any]:
        """Set a pair's limit in the register and append the change to its history.

        Parameters
        ----------
        supplier_id, debtor_id : str
        new_limit : float
            The new limit (>= 0; 0 cancels).
        effective_date : date or ISO text, optional
            When the new limit takes effect (default today). Until then
            :meth:`current_limit` answers the limit in force before.
        reason : str
            Why (committee minute, decision id, adverse event...).
        changed_by : str
            Who (user or system).
        currency : str, optional
        decision_id : int, optional
            The decision the change follows from.

        Returns
        -------
        dict
            The history row: ``action`` (``new``, ``increase``, ``decrease``,
            ``cancel``, ``unchanged``), ``old_limit``, ``new_limit``,
            ``effective_date``...

        Raises
        ------
        InvalidInputError
            A negative or non-finite limit, or an empty reason or author.
        """
        limit = _float(new_limit)
        if limit is None or limit < 0:
            raise InvalidInputError(
                f"limit of supplier {supplier_id!s} / debtor {debtor_id!s}: the new limit must "
                "be a finite number >= 0 (0 cancels the limit).",
                [{"table": "limit_register", "record": f"{supplier_id}/{debtor_id}",
                  "debtor_id": str(debtor_id), "column": "new_limit", "value": None,
                  "reason": "negative", "message": "the new limit must be >= 0"}])
        for name, text in (("reason", reason), ("changed_by", changed_by)):
            if not str(text or "").strip():
                raise InvalidInputError(
                    f"limit of supplier {supplier_id!s} / debtor {debtor_id!s}: {name} is "
                    "empty; every limit change records why and who.",
                    [{"table": "limit_history", "record": f"{supplier_id}/{debtor_id}",
                      "debtor_id": str(debtor_id), "column": name, "value": None,
                      "reason": "missing_value", "message": f"{name} is empty"}])
        eff = _date(effective_date, "effective_date",
                    f"limit of {supplier_id}/{debtor_id}") or dt.date.today()
        with self._write() as conn:
            return self._set_limit(conn, str(supplier_id), str(debtor_id), limit,
                                   effective_date=eff, reason=str(reason),
                                   changed_by=str(changed_by), currency=currency,
                                   decision_id=decision_id, now=_now())

    def _set_limit(self, conn: Connection, supplier_id: str, debtor_id: str, limit: float, *,
                   effective_date: dt.date, reason: str, changed_by: str,
                   currency: str | None, decision_id: int | None, now: str) -> dict[str, Any]:
        key = {"p_supplier": supplier_id, "p_debtor": debtor_id}
        values = {"limit_amount": limit, "previous_limit": 0.0,
                  "effective_date": effective_date, "currency": currency,
                  "decision_id": decision_id, "updated_at": now}
        old, inserted = _locked_row(conn, key, values)
        old_limit = None
        if old is not None:
            today = dt.date.fromisoformat(now[:10])
            # the limit in force when this change is made
            in_force = (old["limit_amount"] if today >= old["effective_date"]
                        else old["previous_limit"])
            old_limit = float(old["limit_amount"])
            values["previous_limit"] = float(in_force)
        if not inserted:
            conn.execute(_UPDATE_REGISTER, {**key, **values})
        hist = {"supplier_id": supplier_id, "debtor_id": debtor_id,
                "action": _action(old_limit, limit), "old_limit": old_limit,
                "new_limit": limit, "effective_date": effective_date, "reason": reason[:500],
                "changed_by": changed_by[:128], "decision_id": decision_id, "changed_at": now}
        hid = _new_id(conn.execute(_INSERT_HISTORY, hist))
        return _row({"id": hid, **hist})

    def history(self, supplier_id: str | None = None, debtor_id: str | None = None, *,
                limit: int = 1000) -> list[dict[str, Any]]:
        """Limit changes, oldest first, for a pair, a supplier, a debtor, or all."""
        c = limit_history.c
        q = sa.select(limit_history)
        if supplier_id is not None:
            q = q.where(c.supplier_id == str(supplier_id))
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        q = q.order_by(c.id).limit(int(limit))
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]

