"""The decision store: decisions, funding checks and the limit register in SQL (shell layer).

Every decision, funding check and limit change is kept **append-only** with
the model and policy versions and the hash of the inputs. The store is any
SQLAlchemy database: a SQLite file by default (embedded, nothing to start),
PostgreSQL in production (``postgresql+psycopg://user@host/db``).

The tables are in :mod:`riskengine.store.tables`, durability in
:mod:`riskengine.store.database`; :class:`DecisionStore` gathers the methods of the
limit register (:mod:`riskengine.store.register`), of the audit tables
(:mod:`riskengine.store.audit`), of the insurer limits and requests
(:mod:`riskengine.store.insurer`) and of the exchange rates (:mod:`riskengine.store.fx`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from riskengine.errors import InvalidInputError
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import decision_knockout
from riskengine.store.adverse import AdverseKey, known_debtors, record_decision_adverse
from riskengine.store.audit import _insert_inputs, _payload_text
from riskengine.store.driver import insert_row
from riskengine.store.fx import _FxTable
from riskengine.store.idempotency import (
    IdempotentAnswer,
    IdempotentRequest,
    find_answer,
    insert_answer,
)
from riskengine.store.insurer import _InsurerRegister
from riskengine.store.pages import _Pages
from riskengine.store.register import BOOK_KEYS, decision_terms
from riskengine.store.tables import decisions, metadata
from riskengine.store.users import _Accounts
from riskengine.store.values import _date, _float, _now, _period, _row, _str

__all__ = ["DecisionStore", "StoredDecisions"]


class StoredDecisions(NamedTuple):
    """What :meth:`DecisionStore.store_decisions` stored (see there)."""

    ids: list[int]
    register: list[dict[str, Any] | None]
    answer: IdempotentAnswer | None


def _decision_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``decisions`` table rows of decision dicts (InvalidInputError naming the record)."""
    rows: list[dict[str, Any]] = []
    now = _now()
    for pos, item in enumerate(items):
        debtor = item.get("debtor_id")
        if debtor is None or str(debtor) == "":
            raise InvalidInputError(
                f"decision {pos}: debtor_id is missing; every stored decision names "
                "its debtor.",
                [{"table": "decisions", "record": pos, "debtor_id": None,
                  "column": "debtor_id", "value": None, "reason": "missing_value",
                  "message": "debtor_id is missing"}])
        record = f"decision {pos} (debtor {debtor})"
        rows.append({
            "debtor_id": str(debtor), "supplier_id": _str(item.get("supplier_id")),
            "as_of": _date(item.get("as_of"), "as_of", record),
            "decided_at": _str(item.get("decided_at")),
            "pd": _float(item.get("pd")), "grade": _str(item.get("grade")),
            "approved_limit": _float(item.get("approved_limit")),
            "decision": item,
            "model_version": _str(item.get("model_version")),
            "policy_version": _str(item.get("policy_version")),
            "input_hash": _str(item.get("input_hash")), "recorded_at": now,
        })
    return rows

# Prebuilt statements: compiled once and cached by SQLAlchemy (a fresh ``insert().values(...)``
# per call costs more than the SQLite write itself).
_LATEST = (sa.select(decisions.c.id, decisions.c.decision)
           .where(decisions.c.debtor_id == sa.bindparam("p_debtor"))
           .order_by(decisions.c.id.desc()).limit(1))
_LATEST_PAIR = _LATEST.where(decisions.c.supplier_id == sa.bindparam("p_supplier"))


def _keep_adverse(conn: Connection, adverse: Mapping[str, Sequence[AdverseKey]],
                  rows: list[dict[str, Any]], ids: list[int], known: set[str]) -> None:
    """Each debtor's adverse records, sourced to its first decision of the call."""
    first: dict[str, tuple[int, Any]] = {}
    for new_id, row in zip(ids, rows, strict=True):
        first.setdefault(str(row["debtor_id"]), (new_id, row["as_of"] or dt.date.today()))
    for debtor, records in adverse.items():
        if debtor in first and records:
            new_id, day = first[debtor]
            record_decision_adverse(conn, records, first_seen=day,
                                    source=f"decision:{new_id}", known=known)


class DecisionStore(_InsurerRegister, _FxTable, _Accounts, _Pages):
    """Decisions, funding checks and the limit register in one SQL database.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL. Default :func:`~riskengine.store.default_store_url`: ``$RISKENGINE_STORE_URL``
        or the SQLite file ``riskengine.db`` in the working directory.
        ``sqlite://`` (no path) is an in-memory store for tests.
    echo : bool
        Log the SQL (debugging).
    create : bool, default True
        Create a SQLite store file that does not exist; False: raise
        :class:`~riskengine.errors.InvalidInputError` instead (readers such as
        ``riskengine report`` never create a store).

    Notes
    -----
    Opening a store brings its schema to the latest migration
    (:mod:`riskengine.store.migrations`; a new database gets every table). Safe
    for use from several threads of one process; several processes may share a
    PostgreSQL store, and a SQLite file on a local disk.

    Examples
    --------
    >>> store = DecisionStore("sqlite://")
    >>> ids = store.record_decisions([{"debtor_id": "D-1", "pd": 0.01, "grade": "4",
    ...                                "approved_limit": 25_000.0}])
    >>> store.latest_decision("D-1")["grade"]
    '4'
    >>> store.close()
    """

    # -- decisions -----------------------------------------------------------------------

    def record_decisions(self, items: Sequence[Mapping[str, Any]], *,
                         update_register: bool = True,
                         changed_by: str = "engine",
                         inputs: Mapping[str, str | Mapping[str, Any] | BaseModel] | None = None,
                         policy: CreditPolicy | None = None,
                         exposures: Sequence[Mapping[str, Any] | None] | None = None
                         ) -> list[int]:
        """Store decisions (one transaction, committed before returning).

        Parameters
        ----------
        items : sequence of mapping
            Decision dicts with at least ``debtor_id``; ``supplier_id``,
            ``as_of``, ``decided_at``, ``pd``, ``grade``, ``approved_limit``,
            ``model_version``, ``policy_version`` and ``input_hash`` fill their
            columns when present. The whole dict is kept as JSON.
        update_register : bool
            For a decision with a ``supplier_id`` and an ``approved_limit``,
            also apply the limit to the pair's register entry
            (:meth:`apply_limit`, source ``decision:<id>``, history reason
            ``decision <id>``): ordered by the decision's ``as_of`` (an older
            one than the register's is history only), a cut after the policy's
            notice unless the decision has knock-outs, at the decision's
            ``limit_effective_date`` if it has one.
        changed_by : str
            Who changes the register (history column ``changed_by``).
        inputs : mapping of str to (str, mapping or pydantic model), optional
            The payloads behind the decisions, by ``input_hash`` (JSON text, a
            dict, or the validated payload model: its ``model_dump_json()``), kept in the
            ``inputs`` table in the same transaction (a hash already there keeps
            its first payload), so no stored decision lacks its inputs.
        policy : CreditPolicy, optional
            The notice rule of the register (default the shipped policy).
        exposures : sequence of (mapping or None), optional
            Per decision, the payload's exposure: its ``approved_outstanding``
            is the outstanding kept protected on a cut.

        Returns
        -------
        list of int
            The ids of the stored decisions, in order.

        Raises
        ------
        InvalidInputError
            A decision without ``debtor_id``, or with a date that is not ISO.
        """
        return self.store_decisions(items, update_register=update_register,
                                    changed_by=changed_by, inputs=inputs, policy=policy,
                                    exposures=exposures).ids

    def store_decisions(self, items: Sequence[Mapping[str, Any]], *,
                        update_register: bool = True, changed_by: str = "engine",
                        inputs: Mapping[str, str | Mapping[str, Any] | BaseModel] | None = None,
                        policy: CreditPolicy | None = None,
                        exposures: Sequence[Mapping[str, Any] | None] | None = None,
                        idempotency: IdempotentRequest | None = None,
                        insurer_requests: tuple[Any, Sequence[str]] | None = None,
                        adverse: Mapping[str, Sequence[AdverseKey]] | None = None
                        ) -> StoredDecisions:
        """:meth:`record_decisions` with what happened to the register, under an optional key.

        ``exposures``: per decision, the pair's ``approved_outstanding`` (protected in
        the register) and its debtor's ``sector`` and ``country`` (the register's book
        keys, :data:`BOOK_KEYS`), or None.
        ``insurer_requests``: (the decisions' requests to the insurer, their debtors): the
        debtors' requests are replaced in the same transaction
        (:meth:`replace_insurer_requests`).
        ``adverse``: per debtor, the adverse records its decision saw (key rows of
        :data:`riskengine.store.adverse.KEY`, :func:`~riskengine.store.adverse.payload_adverse`),
        kept in the same transaction with the debtor's first decision of the call as their
        source and its ``as_of`` as the day first seen
        (:func:`riskengine.store.adverse.record_decision_adverse`).

        Returns
        -------
        StoredDecisions
            ``ids``; ``register``: per decision the outcome of :meth:`apply_limit`
            (None when the decision changes no register entry); ``answer``: with
            ``idempotency``, the answer already stored under its key (nothing was
            stored then), else None.
        """
        rows = _decision_rows(items)
        if not rows:
            return StoredDecisions([], [], None)
        texts = {key: _payload_text(key, payload) for key, payload in (inputs or {}).items()}
        now = _now()
        try:
            with self._write() as conn:
                if idempotency is not None:
                    found = find_answer(conn, idempotency.key)
                    if found is not None:
                        return StoredDecisions(found.decision_ids, [], found)
                for key, text in texts.items():
                    _insert_inputs(conn, key, text)
                known = known_debtors(conn, adverse) if adverse else set()
                ids, register = self._insert_decisions(
                    conn, rows, items, update_register=update_register,
                    changed_by=changed_by, policy=policy, exposures=exposures, now=now)
                if adverse:
                    _keep_adverse(conn, adverse, rows, ids, known)
                if insurer_requests is not None:
                    self.replace_insurer_requests(
                        insurer_requests[0], debtors=insurer_requests[1], source="decision",
                        as_of=rows[0]["as_of"], conn=conn)
                if idempotency is not None:
                    insert_answer(conn, idempotency.key, idempotency.request_hash,
                                  idempotency.render(ids, register), ids, now)
        except sa.exc.IntegrityError:
            if idempotency is None:
                raise
            answer = self.idempotent_answer(idempotency.key)  # a concurrent twin won
            if answer is None:
                raise
            return StoredDecisions(answer.decision_ids, [], answer)
        return StoredDecisions(ids, register, None)

    def idempotent_answer(self, key: str) -> IdempotentAnswer | None:
        """The answer stored under an ``Idempotency-Key``, or None."""
        with self._read() as conn:
            return find_answer(conn, str(key))

    def _insert_decisions(self, conn: Connection, rows: list[dict[str, Any]],
                          items: Sequence[Mapping[str, Any]], *, update_register: bool,
                          changed_by: str, policy: CreditPolicy | None,
                          exposures: Sequence[Mapping[str, Any] | None] | None, now: str
                          ) -> tuple[list[int], list[dict[str, Any] | None]]:
        ids: list[int] = []
        register: list[dict[str, Any] | None] = []
        for pos, (row, item) in enumerate(zip(rows, items, strict=True)):
            new_id = int(insert_row(conn, decisions, row, returning="id") or 0)
            ids.append(new_id)
            if not (update_register and row["supplier_id"]
                    and row["approved_limit"] is not None):
                register.append(None)
                continue
            exposure = (exposures[pos] if exposures is not None else None) or {}
            register.append(self._apply_limit(
                conn, row["supplier_id"], row["debtor_id"], row["approved_limit"],
                as_of=row["as_of"] or dt.date.today(), source=f"decision:{new_id}",
                policy=policy, knockout=decision_knockout(item),
                outstanding=_float(exposure.get("approved_outstanding")),
                effective_date=_date(item.get("limit_effective_date"),
                                     "limit_effective_date", f"decision {new_id}"),
                reason=f"decision {new_id}", changed_by=changed_by,
                currency=_str(item.get("currency")), decision_id=new_id, now=now,
                terms={**decision_terms(item), **{k: _str(exposure.get(k)) for k in BOOK_KEYS}}))
        return ids, register

    def latest_decision(self, debtor_id: str, supplier_id: str | None = None, *,
                        in_force_on: Any = None) -> dict[str, Any] | None:
        """The latest stored decision on a debtor (optionally for one supplier), or None.

        The decision dict is returned as it was stored, plus ``decision_id``
        (the store's row id) when the dict had none. With ``in_force_on`` (a
        date), only a decision in force on that day counts: one decided as of a
        later date has not taken effect yet (a decision without ``as_of`` counts).
        """
        params = {"p_debtor": str(debtor_id)}
        query = _LATEST if supplier_id is None else _LATEST_PAIR
        if supplier_id is not None:
            params["p_supplier"] = str(supplier_id)
        if in_force_on is not None:
            day = _date(in_force_on, "in_force_on", f"decision of debtor {debtor_id}")
            query = query.where(sa.or_(decisions.c.as_of.is_(None), decisions.c.as_of <= day))
        with self._read() as conn:
            row = conn.execute(query, params).first()
        if row is None:
            return None
        out = dict(row.decision)
        out.setdefault("decision_id", int(row.id))
        return out

    def decision_history(self, debtor_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        """Stored decisions on a debtor, newest first (at most ``limit``)."""
        q = (sa.select(decisions.c.id, decisions.c.decision)
             .where(decisions.c.debtor_id == str(debtor_id))
             .order_by(decisions.c.id.desc()).limit(int(limit)))
        with self._read() as conn:
            return [{**dict(r.decision), "decision_id": int(r.id)} for r in conn.execute(q)]

    def count(self, table: str) -> int:
        """Number of rows in one of the store's tables."""
        t = metadata.tables[table]
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
    def count_decisions(self, since: Any = None, until: Any = None) -> int:
        """Decisions recorded (``recorded_at``, UTC) in a period, bounds as in :meth:`overrides`."""
        c = decisions.c
        q = sa.select(sa.func.count()).select_from(decisions)
        lo, hi, hi_inclusive = _period(since, until)
        if lo is not None:
            q = q.where(c.recorded_at >= lo)
        if hi is not None:
            q = q.where(c.recorded_at <= hi if hi_inclusive else c.recorded_at < hi)
        with self._read() as conn:
            return int(conn.execute(q).scalar_one())

    def decision_records(self, debtor_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """A debtor's stored decisions with their store columns, oldest first.

        Each dict has ``id, debtor_id, supplier_id, as_of, decided_at, pd, grade,
        approved_limit, model_version, policy_version, input_hash, recorded_at``
        and ``decision`` (the stored decision dict).
        """
        c = decisions.c
        q = (sa.select(decisions).where(c.debtor_id == str(debtor_id))
             .order_by(c.id).limit(int(limit)))
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q).mappings()]

