"""The audit tables (issue 7): the inputs behind every decision, officers' overrides."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from riskengine.errors import InvalidInputError
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.overrides import DIRECTIONS as _DIRECTIONS
from riskengine.policy.overrides import MAX_REASON_LENGTH as _MAX_REASON
from riskengine.policy.overrides import MIN_REASON_LENGTH as _MIN_REASON
from riskengine.store.driver import insert_row, select_rows
from riskengine.store.register import _LimitRegister
from riskengine.store.tables import inputs, limit_history, override_reviews, overrides
from riskengine.store.values import _date, _float, _new_id, _now, _period, _row, _str, jsonable

# PostgreSQL: two writers of one payload at once (no BEGIN IMMEDIATE there): the second
# inserts nothing instead of failing on the primary key
_INSERT_INPUT_PG = (postgresql.insert(inputs).on_conflict_do_nothing()
                    .returning(inputs.c.input_hash))  # a row: inserted


_STATUSES = ("applied", "pending")


class _AuditTrail(_LimitRegister):
    """Inputs and overrides (an override may also set the pair's limit in the register)."""

    # -- inputs (issue 7: every decision traceable to its inputs) -------------------------

    def record_inputs(self, input_hash: str, payload_json: str | Mapping[str, Any]) -> bool:
        """Keep the inputs (the payload) behind a decision's ``input_hash``.

        Parameters
        ----------
        input_hash : str
            The decision's ``input_hash``.
        payload_json : str or mapping
            The payload (``examples/debtor.json`` form) as JSON text or a dict;
            a dict is stored as canonical JSON (sorted keys, no blanks).

        Returns
        -------
        bool
            True when stored, False when the hash was already there (the table
            is append-only: the first payload is kept).

        Raises
        ------
        InvalidInputError
            An empty hash, or text that is not a JSON object.
        """
        key = str(input_hash or "").strip()
        text = _payload_text(key, payload_json)
        with self._write() as conn:
            return _insert_inputs(conn, key, text)

    def inputs_for(self, input_hash: str) -> dict[str, Any] | None:
        """The payload recorded under ``input_hash`` (a dict), or None."""
        c = inputs.c
        with self._read() as conn:
            text = conn.execute(sa.select(c.payload).where(
                c.input_hash == str(input_hash))).scalar()
        if text is None:
            return None
        out: dict[str, Any] = json.loads(text)
        return out

    # -- overrides (issue 7: append-only, EBA GL/2017/16 override monitoring) ------------

    def record_override(self, *, debtor_id: str, reason: str, officer: str, direction: str,
                        notches: int, flagged: bool, supplier_id: str | None = None,
                        decision_id: int | None = None, input_hash: str | None = None,
                        original_grade: str | None = None, new_grade: str | None = None,
                        original_limit: float | None = None, new_limit: float | None = None,
                        currency: str | None = None, limit_change: str = "none",
                        flag_reasons: Sequence[str] = (), model_version: str | None = None,
                        policy_version: str | None = None, update_register: bool = False,
                        effective_date: Any = None, policy: CreditPolicy | None = None,
                        knockout: bool = False, as_of: Any = None, status: str = "applied",
                        policy_limit: float | None = None, policy_cap: float | None = None,
                        terms: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append one override (committed before returning).

        The rules are applied by :func:`riskengine.policy.overrides.check_override`
        (call :func:`riskengine.policy.overrides.apply_override`); the store refuses
        only what no override may lack: a debtor, an officer, a reason of
        :data:`riskengine.policy.overrides.MIN_REASON_LENGTH` characters, a known
        direction (also SQL CHECK constraints).

        Parameters
        ----------
        update_register : bool, default False
            Also apply ``new_limit`` to the pair's register entry in the same
            transaction, by the register's one rule (:meth:`apply_limit`, source
            ``override:<id>``, history reason ``override <id>: <reason>``,
            ``changed_by`` the officer). Needs ``supplier_id`` and ``new_limit``.
        effective_date : date-like, optional
            When that register change takes effect; default the policy's rule
            (an increase at once, a cut after ``limits.notice_days``, at once
            with ``knockout``).
        policy : CreditPolicy, optional
            The notice rule (default the shipped policy).
        knockout : bool
            The overridden decision follows a knock-out event.
        as_of : date-like, optional
            Date of the override for the register's ordering (default today).
        status : str
            ``applied`` (in force at once) or ``pending`` (waits for an approver,
            :meth:`review_override`; never moves the register before that).
        policy_limit, policy_cap, terms : optional
            What the policy grants at the override's grade, its cap, and the terms of
            the re-run (limit, cover, advance, fees) (issue 18).

        Returns
        -------
        dict
            The stored row (``id``, ``created_at``, ...) plus ``register_change``:
            the limit-history row, or None.

        Raises
        ------
        InvalidInputError
            A missing debtor, officer or reason, or an unknown direction.
        """
        record = f"override of debtor {debtor_id!s}"
        text = str(reason or "").strip()
        who = str(officer or "").strip()
        for column, bad, message in (
                ("debtor_id", not str(debtor_id or "").strip(), "debtor_id is missing"),
                ("officer", not who, "the officer's identity is missing"),
                ("reason", len(text) < _MIN_REASON,
                 f"the reason is shorter than {_MIN_REASON} characters"),
                ("direction", direction not in _DIRECTIONS,
                 f"direction {direction!r} is not one of {_DIRECTIONS}")):
            if bad:
                raise InvalidInputError(
                    f"{record}: {message}; every override records who, why and what.",
                    [{"table": "overrides", "record": record, "debtor_id": str(debtor_id),
                      "column": column, "value": None, "reason": "missing_value",
                      "message": message}])
        eff = _date(effective_date, "effective_date", record)
        day = _date(as_of, "as_of", record) or dt.date.today()
        now = _now()
        row = {
            "debtor_id": str(debtor_id), "supplier_id": _str(supplier_id),
            "decision_id": decision_id, "input_hash": _str(input_hash),
            "original_grade": _str(original_grade), "new_grade": _str(new_grade),
            "original_limit": _float(original_limit), "new_limit": _float(new_limit),
            "currency": _str(currency), "notches": int(notches), "direction": str(direction),
            "limit_change": str(limit_change), "reason": text[:_MAX_REASON],
            "officer": who[:128], "flagged": bool(flagged),
            "flag_reasons": [str(r) for r in flag_reasons],
            "model_version": _str(model_version), "policy_version": _str(policy_version),
            "created_at": now, "status": status if status in _STATUSES else "pending",
            "policy_limit": _float(policy_limit), "policy_cap": _float(policy_cap),
            "terms": None if terms is None else jsonable(dict(terms)),
        }
        change: dict[str, Any] | None = None
        sid, lim = _str(supplier_id), _float(new_limit)
        with self._write() as conn:
            oid = _new_id(conn.execute(overrides.insert(), row))
            if update_register and row["status"] == "applied" and sid and lim is not None:
                outcome = self._apply_limit(
                    conn, sid, str(debtor_id), lim, as_of=day, source=f"override:{oid}",
                    policy=policy, knockout=knockout, outstanding=None, effective_date=eff,
                    reason=f"override {oid}: {text}"[:500], changed_by=who[:128],
                    currency=_str(currency), decision_id=decision_id, now=now)
                change = _history_of(conn, int(outcome["history_id"]))
                change["register"] = outcome
        return {"id": oid, **_row(row), "register_change": change}

    def overrides(self, debtor_id: str | None = None, since: Any = None, until: Any = None
                  ) -> list[dict[str, Any]]:
        """Stored overrides, oldest first, for a debtor or all, within a period.

        Parameters
        ----------
        debtor_id : str, optional
        since, until : date, datetime or ISO text, optional
            ``created_at`` (UTC) from ``since`` and up to ``until``, both
            inclusive; a date means the whole day.
        """
        c, r = overrides.c, override_reviews.c
        q = sa.select(overrides, r.verdict, r.approver, r.comment.label("review_comment"),
                      r.created_at.label("reviewed_at")).select_from(
            overrides.outerjoin(override_reviews, r.override_id == c.id))
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        lo, hi, hi_inclusive = _period(since, until)
        if lo is not None:
            q = q.where(c.created_at >= lo)
        if hi is not None:
            q = q.where(c.created_at <= hi if hi_inclusive else c.created_at < hi)
        with self._read() as conn:
            rows = [_row(x) for x in conn.execute(q.order_by(c.id)).mappings()]
        for x in rows:
            x["flagged"] = bool(x["flagged"])
            verdict = x.pop("verdict")
            if x["status"] == "pending" and verdict is not None:
                x["status"] = verdict
        return rows

    def override(self, override_id: int) -> dict[str, Any] | None:
        """One override (as :meth:`overrides` gives it), or None."""
        c, r = overrides.c, override_reviews.c
        q = sa.select(overrides, r.verdict, r.approver, r.comment.label("review_comment"),
                      r.created_at.label("reviewed_at")).select_from(
            overrides.outerjoin(override_reviews, r.override_id == c.id)).where(
            c.id == int(override_id))
        with self._read() as conn:
            found = conn.execute(q).mappings().first()
        if found is None:
            return None
        x = _row(found)
        x["flagged"] = bool(x["flagged"])
        verdict = x.pop("verdict")
        if x["status"] == "pending" and verdict is not None:
            x["status"] = verdict
        return x

    def review_override(self, override_id: int, *, verdict: str, approver: str,
                        comment: str | None = None, policy: CreditPolicy | None = None,
                        knockout: bool = False, as_of: Any = None) -> dict[str, Any]:
        """Record an approver's verdict on a pending override (four eyes, issue 18); an
        approval moves the register as the override would have (same transaction).

        The rules (:func:`riskengine.policy.overrides.check_review`) are the caller's;
        the store refuses a second review of one override (unique constraint) and a
        review of an override that is not pending.

        Returns
        -------
        dict
            The review row, plus ``register_change`` (the limit-history row, or None).
        """
        record = f"review of override {override_id}"
        o = self.override(int(override_id))
        if o is None or o["status"] != "pending" or verdict not in ("approved", "rejected"):
            why = ("no such override" if o is None else
                   f"the override is {o['status']}, not pending" if o["status"] != "pending"
                   else f"verdict {verdict!r} is not approved or rejected")
            raise InvalidInputError(f"{record}: {why}.", [
                {"table": "override_reviews", "record": record, "debtor_id": None,
                 "column": "override_id", "value": None, "reason": "invalid_value",
                 "message": why}])
        now = _now()
        row = {"override_id": int(override_id), "verdict": verdict, "approver": str(approver)[:64],
               "comment": None if comment is None else str(comment)[:2000], "created_at": now}
        day = _date(as_of, "as_of", record) or dt.date.today()
        try:
            with self._write() as conn:
                rid = _new_id(conn.execute(override_reviews.insert(), row))
                change = self._approved_change(conn, o, verdict, approver, policy, knockout,
                                               day, now)
        except sa.exc.IntegrityError:  # reviewed meanwhile (one review per override)
            raise InvalidInputError(f"{record}: the override was reviewed meanwhile.", [
                {"table": "override_reviews", "record": record, "debtor_id": None,
                 "column": "override_id", "value": None, "reason": "duplicate_key",
                 "message": "the override was reviewed meanwhile"}]) from None
        return {"id": rid, **row, "register_change": change}

    def _approved_change(self, conn: Connection, o: Mapping[str, Any], verdict: str,
                         approver: str, policy: CreditPolicy | None, knockout: bool,
                         day: dt.date, now: str) -> dict[str, Any] | None:
        """An approved override's register change (None for a rejection or no limit)."""
        sid, lim = _str(o.get("supplier_id")), _float(o.get("new_limit"))
        if verdict != "approved" or o.get("limit_change") == "none" or not sid or lim is None:
            return None
        oid = int(o["id"])
        outcome = self._apply_limit(
            conn, sid, str(o["debtor_id"]), lim, as_of=day, source=f"override:{oid}",
            policy=policy, knockout=knockout, outstanding=None, effective_date=None,
            reason=(f"override {oid}: {o['reason']} (approved by {approver})")[:500],
            changed_by=str(o["officer"])[:128], currency=_str(o.get("currency")),
            decision_id=o.get("decision_id"), now=now)
        change = _history_of(conn, int(outcome["history_id"]))
        change["register"] = outcome
        return change


def _history_of(conn: Connection, history_id: int) -> dict[str, Any]:
    row = conn.execute(sa.select(limit_history).where(
        limit_history.c.id == history_id)).mappings().one()
    return _row(row)


def _payload_text(input_hash: str, payload: str | Mapping[str, Any] | BaseModel) -> str:
    """The JSON text of a payload to keep under ``input_hash`` (validated).

    A dict is dumped as canonical JSON; a validated pydantic model (the service's
    parsed payload) as its own JSON, an object by construction, so it is not
    parsed again; text is parsed to check it is a JSON object.
    """
    key = str(input_hash or "").strip()
    if not key:
        raise InvalidInputError(
            "inputs: input_hash is empty; record the inputs under the decision's hash.",
            [{"table": "inputs", "record": "", "debtor_id": None, "column": "input_hash",
              "value": None, "reason": "missing_value", "message": "input_hash is empty"}])
    if isinstance(payload, Mapping):
        return json.dumps(jsonable(payload), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    if isinstance(payload, BaseModel):
        return payload.model_dump_json()
    text = str(payload)
    try:
        ok = isinstance(json.loads(text), dict)
    except ValueError:
        ok = False
    if not ok:
        raise InvalidInputError(
            f"inputs {key[:12]}: the payload is not a JSON object; give the "
            "decision's payload as JSON text or a dict.",
            [{"table": "inputs", "record": key, "debtor_id": None, "column": "payload",
              "value": None, "reason": "not_json", "message": "not a JSON object"}])
    return text


def _insert_inputs(conn: Connection, key: str, text: str) -> bool:
    """Insert a payload unless its hash is already kept (append-only: first one wins)."""
    if select_rows(conn, inputs, {"input_hash": key}, columns=("input_hash",)):
        return False
    row = {"input_hash": key, "payload": text, "recorded_at": _now()}
    if conn.dialect.name == "postgresql":
        return conn.execute(_INSERT_INPUT_PG, row).first() is not None
    insert_row(conn, inputs, row)
    return True

