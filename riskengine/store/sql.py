"""The decision store: decisions, funding checks and the limit register in SQL (shell layer).

Every decision, funding check and limit change is kept **append-only** with
the model and policy versions and the hash of the inputs. The store is any
SQLAlchemy database: a SQLite file by default (embedded, nothing to start),
PostgreSQL in production (``postgresql+psycopg://user@host/db``).

Tables
------
``decisions``
    One row per decision (append-only): ``id, debtor_id, supplier_id, as_of,
    decided_at, pd, grade, approved_limit, decision`` (the whole decision as
    JSON, returned unchanged) ``, model_version, policy_version, input_hash,
    recorded_at``.
``funding_checks``
    One row per funding check of an assigned invoice (append-only): the
    request, the result, the limit used and where it came from.
``limit_register``
    The current limit per supplier-debtor pair (one row per pair, updated in
    place) with the limit in force before the last change, for changes that
    take effect later (a decrease after its notice period).
``limit_history``
    Every change of the register (append-only): action, old and new limit,
    effective date, reason, who.
``inputs``
    The payload behind each ``input_hash`` (append-only; issue 7): every
    decision is traceable to its inputs.
``overrides``
    Credit officers' overrides of a decision's grade or limit (append-only):
    original and new grade and limit, notches, direction, reason, officer,
    flagged for second review, versions (rules: :mod:`riskengine.policy.overrides`).

Durability
----------
Every write is one transaction that commits before the call returns. On
SQLite the store sets ``journal_mode=WAL`` and ``synchronous=FULL``: a
committed write is on disk (fsync of the WAL) and survives a crash of the
process or the machine. Write transactions start with ``BEGIN IMMEDIATE`` so
the read-modify-write of the limit register cannot lose an update. On SQLite
triggers refuse ``UPDATE`` and ``DELETE`` on the append-only tables; on other
databases grant the service account ``INSERT, SELECT`` only on them (see
docs/SERVICE.md).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError
from riskengine.policy.overrides import DIRECTIONS as _DIRECTIONS
from riskengine.policy.overrides import MAX_REASON_LENGTH as _MAX_REASON
from riskengine.policy.overrides import MIN_REASON_LENGTH as _MIN_REASON

__all__ = [
    "DEFAULT_STORE_FILE",
    "STORE_URL_ENV",
    "APPEND_ONLY_TABLES",
    "AUDIT_TABLES",
    "DecisionStore",
    "default_store_url",
    "jsonable",
]

DEFAULT_STORE_FILE = "riskengine.db"
"""File name of the default SQLite store, in the working directory."""

STORE_URL_ENV = "RISKENGINE_STORE_URL"
"""Environment variable holding the SQLAlchemy URL of the store."""

APPEND_ONLY_TABLES: tuple[str, ...] = ("decisions", "funding_checks", "limit_history")
"""Tables that are never updated nor deleted from."""

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_ID = sa.String(128)

metadata = sa.MetaData()

decisions = sa.Table(
    "decisions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("supplier_id", _ID, nullable=True),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("decided_at", sa.String(40), nullable=True),
    sa.Column("pd", sa.Float, nullable=True),
    sa.Column("grade", sa.String(8), nullable=True),
    sa.Column("approved_limit", sa.Float, nullable=True),
    sa.Column("decision", _JSON, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Index("ix_decisions_debtor", "debtor_id", "id"),
    sa.Index("ix_decisions_pair", "supplier_id", "debtor_id", "id"),
)

funding_checks = sa.Table(
    "funding_checks", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("supplier_id", _ID, nullable=False),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("invoice_id", _ID, nullable=True),
    sa.Column("as_of", sa.Date, nullable=True),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("limit_used", sa.Float, nullable=False),
    sa.Column("limit_source", sa.String(32), nullable=False),
    sa.Column("approved_outstanding", sa.Float, nullable=False),
    sa.Column("approved", sa.Float, nullable=False),
    sa.Column("request", _JSON, nullable=False),
    sa.Column("result", _JSON, nullable=False),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Index("ix_funding_pair", "supplier_id", "debtor_id", "id"),
)

limit_register = sa.Table(
    "limit_register", metadata,
    sa.Column("supplier_id", _ID, primary_key=True),
    sa.Column("debtor_id", _ID, primary_key=True),
    sa.Column("limit_amount", sa.Float, nullable=False),
    sa.Column("previous_limit", sa.Float, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

limit_history = sa.Table(
    "limit_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("supplier_id", _ID, nullable=False),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("old_limit", sa.Float, nullable=True),
    sa.Column("new_limit", sa.Float, nullable=False),
    sa.Column("effective_date", sa.Date, nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("changed_by", sa.String(128), nullable=False),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("changed_at", sa.String(40), nullable=False),
    sa.Index("ix_limit_history_pair", "supplier_id", "debtor_id", "id"),
)


# --- audit tables (issue 7): inputs behind every decision, officers' overrides ------------

inputs = sa.Table(
    "inputs", metadata,
    sa.Column("input_hash", sa.String(128), primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
)

overrides = sa.Table(
    "overrides", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("debtor_id", _ID, nullable=False),
    sa.Column("supplier_id", _ID, nullable=True),
    sa.Column("decision_id", sa.Integer, nullable=True),
    sa.Column("input_hash", sa.String(128), nullable=True),
    sa.Column("original_grade", sa.String(8), nullable=True),
    sa.Column("new_grade", sa.String(8), nullable=True),
    sa.Column("original_limit", sa.Float, nullable=True),
    sa.Column("new_limit", sa.Float, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("notches", sa.Integer, nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("limit_change", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(_MAX_REASON), nullable=False),
    sa.Column("officer", sa.String(128), nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False),
    sa.Column("flag_reasons", _JSON, nullable=False),
    sa.Column("model_version", sa.String(128), nullable=True),
    sa.Column("policy_version", sa.String(64), nullable=True),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.CheckConstraint(f"length(trim(reason)) >= {_MIN_REASON}", name="ck_overrides_reason"),
    sa.CheckConstraint("length(trim(officer)) >= 1", name="ck_overrides_officer"),
    sa.CheckConstraint("direction IN ('upgrade', 'downgrade', 'limit_only')",
                       name="ck_overrides_direction"),
    sa.Index("ix_overrides_debtor", "debtor_id", "id"),
    sa.Index("ix_overrides_created", "created_at"),
)

AUDIT_TABLES: tuple[str, ...] = ("inputs", "overrides")
"""Append-only audit tables (issue 7), guarded by SQLite triggers created with the table."""


# Prebuilt statements: compiled once and cached by SQLAlchemy (a fresh ``insert().values(...)``
# per call costs more than the SQLite write itself).
_INSERT_DECISION = decisions.insert()
_INSERT_CHECK = funding_checks.insert()
_INSERT_HISTORY = limit_history.insert()
_INSERT_REGISTER = limit_register.insert()
_PAIR = (limit_register.c.supplier_id == sa.bindparam("p_supplier"),
         limit_register.c.debtor_id == sa.bindparam("p_debtor"))
_SELECT_REGISTER = sa.select(limit_register).where(*_PAIR)
_LOCK_REGISTER = _SELECT_REGISTER.with_for_update()
_UPDATE_REGISTER = limit_register.update().where(*_PAIR)
_LATEST = (sa.select(decisions.c.id, decisions.c.decision)
           .where(decisions.c.debtor_id == sa.bindparam("p_debtor"))
           .order_by(decisions.c.id.desc()).limit(1))
_LATEST_PAIR = _LATEST.where(decisions.c.supplier_id == sa.bindparam("p_supplier"))


def _append_only_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]



for _table in (inputs, overrides):  # the audit tables get their triggers when created
    for _ddl in _append_only_triggers(_table.name):
        sa.event.listen(_table, "after_create", sa.DDL(_ddl).execute_if(dialect="sqlite"))


def default_store_url() -> str:
    """The store URL: ``$RISKENGINE_STORE_URL``, else ``sqlite:///riskengine.db`` (working dir).

    Examples
    --------
    >>> default_store_url().startswith("sqlite:///") or bool(os.environ.get(STORE_URL_ENV))
    True
    """
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if url:
        return url
    return "sqlite:///" + str(Path.cwd() / DEFAULT_STORE_FILE)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, dates and tuples made plain JSON; NaN/inf → None.

    Examples
    --------
    >>> jsonable({"pd": float("nan"), "d": dt.date(2026, 1, 2), "r": ("a",)})
    {'pd': None, 'd': '2026-01-02', 'r': ['a']}
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp, numpy datetime64
    if callable(isoformat):
        return isoformat()
    return str(value)


def _dumps(obj: Any) -> str:
    """Strict JSON text; plain data is dumped directly, anything else through :func:`jsonable`."""
    try:
        return json.dumps(obj, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return json.dumps(jsonable(obj), allow_nan=False, separators=(",", ":"))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _date(value: Any, field: str, record: str) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return parse_date(value, field, where=record)
    except InvalidInputError:
        raise InvalidInputError(
            f"{record}: {field} is not an ISO date (YYYY-MM-DD); give the date of the "
            "decision as e.g. '2026-06-30'.",
            [{"table": "decisions", "record": record, "debtor_id": None, "column": field,
              "value": None, "reason": "not_a_date", "message": f"{field} is not an ISO date"}],
        ) from None


def _float(value: Any) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _action(old: float | None, new: float) -> str:
    if old is None:
        return "new"
    if new == old:
        return "unchanged"
    if new == 0.0:
        return "cancel"
    return "increase" if new > old else "decrease"


class DecisionStore:
    """Decisions, funding checks and the limit register in one SQL database.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL. Default :func:`default_store_url`: ``$RISKENGINE_STORE_URL``
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
    The tables are created if missing (``CREATE TABLE IF NOT EXISTS``); an
    existing database is used as it is. Safe for use from several threads of
    one process; several processes may share a PostgreSQL store, and a SQLite
    file on a local disk.

    Examples
    --------
    >>> store = DecisionStore("sqlite://")
    >>> ids = store.record_decisions([{"debtor_id": "D-1", "pd": 0.01, "grade": "4",
    ...                                "approved_limit": 25_000.0}])
    >>> store.latest_decision("D-1")["grade"]
    '4'
    >>> store.close()
    """

    def __init__(self, url: str | None = None, *, echo: bool = False,
                 create: bool = True) -> None:
        self.url = url or default_store_url()
        parsed = sa.engine.make_url(self.url)
        self._sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _dumps,
                                  "future": True}
        if self._sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                # one shared connection, or every thread would see its own empty database
                kwargs.update(poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
            else:
                path = Path(database).expanduser().resolve()
                if not create and not path.is_file():
                    raise InvalidInputError(f"No decision store at {str(path)!r} (the file "
                                            "does not exist); nothing was created.")
                path.parent.mkdir(parents=True, exist_ok=True)
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30.0}
        self.engine: Engine = sa.create_engine(self.url, **kwargs)
        if self._sqlite:
            sa.event.listen(self.engine, "connect", self._sqlite_connect)
            sa.event.listen(self.engine, "begin", self._sqlite_begin)
        metadata.create_all(self.engine)
        if self._sqlite:
            with self._write() as conn:
                for table in APPEND_ONLY_TABLES:
                    for ddl in _append_only_triggers(table):
                        conn.exec_driver_sql(ddl)

    # -- connection plumbing -------------------------------------------------------------

    @staticmethod
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control from the driver, so BEGIN IMMEDIATE is ours to emit
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @staticmethod
    def _sqlite_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, committed (and on SQLite fsynced) on exit."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        """Release every connection (the data stays in the database)."""
        self.engine.dispose()

    def __enter__(self) -> DecisionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str | None:
        """SQLite journal mode (``wal`` for a file store), None on other databases."""
        if not self._sqlite:
            return None
        with self._read() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())

    # -- decisions -----------------------------------------------------------------------

    def record_decisions(self, items: Sequence[Mapping[str, Any]], *,
                         update_register: bool = True,
                         changed_by: str = "engine",
                         inputs: Mapping[str, str | Mapping[str, Any]] | None = None
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
            also set the pair's limit in the register (a history row with
            ``reason = "decision <id>"``). The change takes effect at the
            decision's ``limit_effective_date`` if it has one, else at its
            ``as_of`` (else today).
        changed_by : str
            Who changes the register (history column ``changed_by``).
        inputs : mapping of str to (str or mapping), optional
            The payloads behind the decisions, by ``input_hash``, kept in the
            ``inputs`` table in the same transaction (a hash already there keeps
            its first payload), so no stored decision lacks its inputs.

        Returns
        -------
        list of int
            The ids of the stored decisions, in order.

        Raises
        ------
        InvalidInputError
            A decision without ``debtor_id``, or with a date that is not ISO.
        """
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
        if not rows:
            return []
        texts = {key: _payload_text(key, payload) for key, payload in (inputs or {}).items()}
        ids: list[int] = []
        with self._write() as conn:
            for key, text in texts.items():
                _insert_inputs(conn, key, text)
            for row, item in zip(rows, items, strict=True):
                new_id = _new_id(conn.execute(_INSERT_DECISION, row))
                ids.append(new_id)
                if update_register and row["supplier_id"] and row["approved_limit"] is not None:
                    eff = _date(item.get("limit_effective_date"), "limit_effective_date",
                                f"decision {new_id}") or row["as_of"] or dt.date.today()
                    self._set_limit(conn, row["supplier_id"], row["debtor_id"],
                                    row["approved_limit"], effective_date=eff,
                                    reason=f"decision {new_id}", changed_by=changed_by,
                                    currency=_str(item.get("currency")), decision_id=new_id,
                                    now=now)
        return ids

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
        old = conn.execute(_LOCK_REGISTER, key).mappings().first()
        if old is None:
            old_limit = None
            previous = 0.0
        else:
            today = dt.date.fromisoformat(now[:10])
            # the limit in force when this change is made
            in_force = (old["limit_amount"] if today >= old["effective_date"]
                        else old["previous_limit"])
            old_limit = float(old["limit_amount"])
            previous = float(in_force)
        values = {"limit_amount": limit, "previous_limit": previous,
                  "effective_date": effective_date, "currency": currency,
                  "decision_id": decision_id, "updated_at": now}
        if old is None:
            conn.execute(_INSERT_REGISTER,
                         {"supplier_id": supplier_id, "debtor_id": debtor_id, **values})
        else:
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
                        effective_date: Any = None) -> dict[str, Any]:
        """Append one override (committed before returning).

        The rules are applied by :func:`riskengine.policy.overrides.check_override`
        (call :func:`riskengine.policy.overrides.apply_override`); the store refuses
        only what no override may lack: a debtor, an officer, a reason of
        :data:`riskengine.policy.overrides.MIN_REASON_LENGTH` characters, a known
        direction (also SQL CHECK constraints).

        Parameters
        ----------
        update_register : bool, default False
            Also set the pair's limit to ``new_limit`` in the register, in the
            same transaction (history reason ``override <id>: <reason>``,
            ``changed_by`` the officer). Needs ``supplier_id`` and ``new_limit``.
        effective_date : date-like, optional
            When that register change takes effect (default today).

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
        eff = _date(effective_date, "effective_date", record) or dt.date.today()
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
            "created_at": now,
        }
        change: dict[str, Any] | None = None
        sid, lim = _str(supplier_id), _float(new_limit)
        with self._write() as conn:
            oid = _new_id(conn.execute(overrides.insert(), row))
            if update_register and sid and lim is not None:
                change = self._set_limit(
                    conn, sid, str(debtor_id), lim, effective_date=eff,
                    reason=f"override {oid}: {text}"[:500], changed_by=who[:128],
                    currency=_str(currency), decision_id=decision_id, now=now)
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
        c = overrides.c
        q = sa.select(overrides)
        if debtor_id is not None:
            q = q.where(c.debtor_id == str(debtor_id))
        lo, hi, hi_inclusive = _period(since, until)
        if lo is not None:
            q = q.where(c.created_at >= lo)
        if hi is not None:
            q = q.where(c.created_at <= hi if hi_inclusive else c.created_at < hi)
        with self._read() as conn:
            rows = [_row(r) for r in conn.execute(q.order_by(c.id)).mappings()]
        for r in rows:
            r["flagged"] = bool(r["flagged"])
        return rows

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


def _payload_text(input_hash: str, payload: str | Mapping[str, Any]) -> str:
    """The canonical JSON text of a payload to keep under ``input_hash`` (validated)."""
    key = str(input_hash or "").strip()
    if not key:
        raise InvalidInputError(
            "inputs: input_hash is empty; record the inputs under the decision's hash.",
            [{"table": "inputs", "record": "", "debtor_id": None, "column": "input_hash",
              "value": None, "reason": "missing_value", "message": "input_hash is empty"}])
    if isinstance(payload, Mapping):
        return json.dumps(jsonable(payload), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
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
    c = inputs.c
    if conn.execute(sa.select(c.input_hash).where(c.input_hash == key)).first():
        return False
    conn.execute(inputs.insert(), {"input_hash": key, "payload": text, "recorded_at": _now()})
    return True

def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table has an autoincrement key
        raise RuntimeError("the database returned no id for an insert")
    return int(key[0])


def _row(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in mapping.items()}



def _period(since: Any, until: Any) -> tuple[str | None, str | None, bool]:
    """Bounds on an ISO UTC timestamp column: (lower, upper, upper inclusive?).

    A date (or ``YYYY-MM-DD`` text) as ``until`` means the whole day: the upper
    bound is the next day, exclusive. A datetime is converted to UTC.
    """

    def stamp(v: Any) -> tuple[str, bool]:
        if isinstance(v, dt.datetime):
            v = v if v.tzinfo else v.replace(tzinfo=dt.UTC)
            return v.astimezone(dt.UTC).isoformat(timespec="microseconds"), False
        if isinstance(v, dt.date):
            return v.isoformat(), True
        text = str(v).strip()
        if len(text) == 10:
            return parse_date(text, "period").isoformat(), True
        return stamp(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))

    lo = None if since is None or since == "" else stamp(since)[0]
    if until is None or until == "":
        return lo, None, False
    hi, is_day = stamp(until)
    if is_day:
        return lo, (dt.date.fromisoformat(hi) + dt.timedelta(days=1)).isoformat(), False
    return lo, hi, True
