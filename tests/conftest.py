"""Shared fixtures.

``shared_data`` gives the path of ``../shared/data``. Tests on real data are
skipped with a stated reason when it is absent, and fail instead when the
``CI`` environment variable is set (CI always has it beside the clone).

``store_url`` gives a fresh store on each backend, SQLite and PostgreSQL (a server
started once per session by ``postgres_server``, tests/pgserver.py); PostgreSQL is
skipped the same way when it cannot be started, and fails when ``CI`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from riskengine.io.datasets import shared_data_dir


@pytest.fixture(scope="session", autouse=True)
def _default_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The commands' default store (``RISKENGINE_STORE_URL``) in a temporary directory for
    the whole session, so that a command run by a test never writes ``./riskengine.db``
    into the working directory (subprocesses inherit it)."""
    key = "RISKENGINE_STORE_URL"
    before = os.environ.get(key)
    os.environ[key] = "sqlite:///" + str(tmp_path_factory.mktemp("store") / "riskengine.db")
    yield
    if before is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = before


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None or not path.is_dir():
        msg = (
            "real data not found: ../shared/data is absent beside the project root "
            "(set RISKENGINE_SHARED_DATA to its path)"
        )
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is a failure, not a skip")
        pytest.skip(msg)
    return path


# --- PostgreSQL (issue 15 point 7): one throwaway server per session, a database per test --


def _unavailable(msg: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(msg + "; CI is set, so this is a failure, not a skip")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    """A PostgreSQL server started for this session (tests/pgserver.py), stopped at the end.

    Skipped with the reason when it cannot start (no server binaries, no psycopg);
    a failure instead when ``CI`` is set (``make test`` installs both).
    """
    from pgserver import PostgresServer, PostgresUnavailable

    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("PostgreSQL tests need the psycopg driver (pip install -e '.[dev]')")
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        _unavailable(f"PostgreSQL could not be started: {exc}")
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: Any) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, empty PostgreSQL database (dropped afterwards)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's URL on each backend: a SQLite file, a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))
