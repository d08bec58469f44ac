"""The store's database: URL, engine, SQLite durability settings, transactions (shell layer).

Durability
----------
Every write is one transaction that commits before the call returns. On
SQLite the store sets ``journal_mode=WAL`` and ``synchronous=FULL``: a
committed write is on disk (fsync of the WAL) and survives a crash of the
process or the machine. A SQLite URL may ask for ``?synchronous=normal``
(:data:`SYNCHRONOUS`): the WAL is then fsynced at checkpoints only, not at every
commit; the database is never corrupted, a committed write survives a crash of the
process, but the last transactions before a power loss or an operating-system crash
may be lost (docs/SERVICE.md, "Durability"). Write transactions start with ``BEGIN IMMEDIATE`` so
the read-modify-write of the limit register cannot lose an update; on
PostgreSQL the register's row is locked (``SELECT ... FOR UPDATE``) and a pair's
first row is inserted with ``ON CONFLICT DO NOTHING`` (see
:mod:`riskengine.store.register`). Triggers refuse ``UPDATE`` and ``DELETE`` on the
append-only tables on both (created by the migrations); on PostgreSQL also grant the
service account ``INSERT, SELECT`` only on them (see docs/SERVICE.md).

Schema
------
Opening a store upgrades it to the head Alembic revision
(:mod:`riskengine.store.migrations`); nothing else creates or alters tables.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from riskengine.errors import InvalidInputError, StoreError
from riskengine.store.migrations import upgrade
from riskengine.store.values import _dumps

__all__ = ["DEFAULT_STORE_FILE", "MIN_FREE_BYTES", "STORE_URL_ENV", "SYNCHRONOUS",
           "check_store_path", "default_store_url", "first_line"]

SYNCHRONOUS: tuple[str, ...] = ("full", "normal")
"""The values of a SQLite store URL's ``synchronous`` option (``sqlite:///store.db?
synchronous=normal``); absent: ``full``, an fsync at every commit. ``off`` is refused (a
power loss could corrupt the database)."""

MIN_FREE_BYTES = 16 * 1024 * 1024
"""Free space a SQLite store's disk must have when the store opens (WAL, its index file,
a few transactions); below it the store is refused as full. SQLite maps its WAL index
into memory: on a full disk, growing it can kill the process (SIGBUS) rather than fail
a call, so a full disk is refused up front."""


def check_store_path(path: Path) -> None:
    """Refuse a SQLite store file whose directory is missing (never created silently),
    not writable (the store, its WAL and index files are written there) or full.

    Raises
    ------
    StoreError
        One line naming the store and what is wrong.
    """
    parent = path.parent
    if not parent.is_dir():
        raise StoreError(f"decision store {str(path)!r}: the directory {str(parent)!r} does "
                         "not exist; create it first (a store's directory is never created "
                         "for you).")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StoreError(f"decision store {str(path)!r}: the file is read-only for this "
                         "user; the service writes every decision.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"decision store {str(path)!r}: the directory {str(parent)!r} is "
                         "read-only for this user (the store writes its file, WAL and index "
                         "there).")
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        raise StoreError(f"decision store {str(path)!r}: the disk is full ({free:,} bytes "
                         f"free, at least {MIN_FREE_BYTES:,} needed).")


def first_line(exc: BaseException) -> str:
    """The database's own first line of an error (``attempt to write a readonly
    database``), without SQL, parameters or traceback."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__

DEFAULT_STORE_FILE = "riskengine.db"
"""File name of the default SQLite store, in the data directory (``$RISKENGINE_HOME``, else
the working directory)."""

STORE_URL_ENV = "RISKENGINE_STORE_URL"
"""Environment variable holding the SQLAlchemy URL of the store."""


def default_store_url() -> str:
    """The store URL: ``$RISKENGINE_STORE_URL``, else ``sqlite:///<home>/riskengine.db``, the
    data directory :func:`riskengine.io.locations.home` (``$RISKENGINE_HOME``, else the
    working directory).

    Examples
    --------
    >>> default_store_url().startswith("sqlite:///") or bool(os.environ.get(STORE_URL_ENV))
    True
    """
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if url:
        return url
    from riskengine.io.locations import home

    return "sqlite:///" + str(home() / DEFAULT_STORE_FILE)


_READ_ONLY = "riskengine_read_only"
"""Execution option of the store's read connections (a deferred BEGIN on SQLite)."""


def _store_url(url: str) -> sa.engine.URL:
    """The parsed store URL, or one line (never echoing a password) when it is not one."""
    try:
        return sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise InvalidInputError("store URL: not a SQLAlchemy URL; give one such as "
                                "sqlite:////abs/path/riskengine.db or "
                                "postgresql+psycopg://host/db.") from None


def _no_password(url: sa.engine.URL) -> str:
    return url.render_as_string(hide_password=True)


def _synchronous(url: sa.engine.URL) -> tuple[sa.engine.URL, str]:
    """The URL without its ``synchronous`` option (the driver does not know it) and the
    option's value (:data:`SYNCHRONOUS`; default ``full``)."""
    value = url.query.get("synchronous")
    if value is None:
        return url, "full"
    text = (value[-1] if isinstance(value, tuple) else value).strip().lower()
    if url.get_backend_name() != "sqlite" or text not in SYNCHRONOUS:
        raise InvalidInputError(
            "store URL: synchronous is an option of a SQLite store, full (the default: an "
            "fsync at every commit) or normal (no fsync at commit: the last transactions "
            "may be lost on a power loss, never on a crash of the process); got "
            f"{_no_password(url)}.")
    return url.difference_update_query(["synchronous"]), text


class _Database:
    """An open store: the SQLAlchemy engine, its schema at head, and transactions
    (the parameters are those of :class:`~riskengine.store.DecisionStore`)."""

    def __init__(self, url: str | None = None, *, echo: bool = False,
                 create: bool = True) -> None:
        self.url = url or default_store_url()
        parsed, self.synchronous = _synchronous(_store_url(self.url))
        self._sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _dumps,
                                  "future": True}
        memory = False
        if self._sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                # one shared connection, or every thread would see its own empty database
                kwargs.update(poolclass=StaticPool,
                              connect_args={"check_same_thread": False})
                memory = True
            else:
                path = Path(database).expanduser().resolve()
                if not create and not path.is_file():
                    raise InvalidInputError(f"No decision store at {str(path)!r} (the file "
                                            "does not exist); nothing was created.")
                check_store_path(path)
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30.0}
        try:
            self.engine: Engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise InvalidInputError(f"store URL: {_no_password(parsed)} cannot be opened "
                                    f"({type(exc).__name__}); give a SQLAlchemy URL such as "
                                    "sqlite:////abs/path/riskengine.db or "
                                    "postgresql+psycopg://host/db.") from None
        # an in-memory store has one shared connection: its users take turns (the service
        # runs store calls in worker threads; two transactions on one connection fail)
        self._turn: threading.RLock | nullcontext[None] = (
            threading.RLock() if memory else nullcontext())
        # the connection of the thread's open snapshot (see snapshot())
        self._held = threading.local()
        if self._sqlite:
            sa.event.listen(self.engine, "connect", self._sqlite_connect)
            sa.event.listen(self.engine, "begin", self._sqlite_begin)
        try:
            self._upgrade()
        except sa.exc.DBAPIError as exc:  # not a database, read-only, unreachable
            self.engine.dispose()
            where = parsed.render_as_string(hide_password=True)
            raise StoreError(f"decision store {where}: cannot be opened: "
                             f"{first_line(exc)}") from None

    def _upgrade(self, attempts: int = 5) -> None:
        """Bring the schema to head (:mod:`riskengine.store.migrations`).

        SQLite may answer "database is locked" at once, without waiting, while another
        process opens a new file (the switch to WAL, or the last closer's WAL reset):
        a few retries cover two services started together on a fresh store.
        """
        for attempt in range(attempts):
            try:
                upgrade(self.engine)
                return
            except sa.exc.OperationalError as exc:
                if not self._sqlite or "locked" not in str(exc) or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    # -- connection plumbing -------------------------------------------------------------

    def _sqlite_connect(self, dbapi_conn: Any, _record: Any) -> None:
        # take transaction control from the driver, so BEGIN IMMEDIATE is ours to emit
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL" if self.synchronous == "normal"
                    else "PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @staticmethod
    def _sqlite_begin(conn: Connection) -> None:
        # a writer takes the write lock at once (no lock upgrade to fail half-way); a
        # reader's deferred BEGIN reads the last committed state without waiting for one
        read = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, committed (and on SQLite fsynced) on exit."""
        if getattr(self._held, "conn", None) is not None:
            raise RuntimeError("a store write inside snapshot(): end the snapshot first")
        with self._turn, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: the thread's open snapshot's, else one of its own."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._turn, self.engine.connect() as conn:
            # one state for every statement of the transaction: SQLite's deferred BEGIN
            # in WAL mode gives it; PostgreSQL needs REPEATABLE READ (its default, READ
            # COMMITTED, lets each statement see later commits)
            conn.execution_options(**{_READ_ONLY: True} if self._sqlite else
                                   {"isolation_level": "REPEATABLE READ",
                                    "postgresql_readonly": True})
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads in one transaction: the store's reads made by this thread inside the block
        share one connection and see one state of the database (the service reads the
        rates, the rest of the book, the suppliers and the insurer limits of a request
        this way). Writes are not allowed inside; nested blocks join the outer one."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self._read() as conn:
            self._held.conn = conn
            try:
                yield
            finally:
                self._held.conn = None

    def connect(self) -> AbstractContextManager[Connection]:
        """A connection for reads outside the store's methods (``with store.connect() as
        conn``); use it rather than ``store.engine.connect()``, which would bypass the
        turn-taking of an in-memory store."""
        return self._read()

    def close(self) -> None:
        """Release every connection (the data stays in the database)."""
        self.engine.dispose()

    def __enter__(self) -> Self:
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
