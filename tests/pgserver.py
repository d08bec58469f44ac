"""A throwaway PostgreSQL server for the tests and benchmarks (initdb + pg_ctl).

The server binaries come from the system's packages (``scripts/install_postgres.sh``
installs Debian's ``postgresql`` when they are missing). The cluster lives in a
temporary directory and listens on a unix socket in that directory only (no TCP port:
nothing else on the machine can reach it, and parallel runs never collide). Trust
authentication for the one local role ``riskengine``.

Root cannot run PostgreSQL, so as root every server command runs as the ``postgres``
system user that the package creates (``runuser -u postgres --``), and the temporary
directory is handed to that user; as any other user the commands run as that user.

    server = PostgresServer.start()
    url = server.create_database("t1")   # postgresql+psycopg://riskengine@/t1?host=...
    server.stop()
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROLE = "riskengine"
BIN_ENV = "RISKENGINE_PG_BIN"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started here (the message says why)."""


def find_bindir() -> Path:
    """The directory of ``initdb`` and ``pg_ctl``: ``$RISKENGINE_PG_BIN``, else the newest
    ``/usr/lib/postgresql/<ver>/bin`` (Debian), else ``PATH``."""
    candidates = [os.environ.get(BIN_ENV, "")]
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    found = shutil.which("initdb")
    candidates.append(str(Path(found).parent) if found else "")
    for c in candidates:
        if c and (Path(c) / "initdb").is_file() and (Path(c) / "pg_ctl").is_file():
            return Path(c)
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: run "
        f"scripts/install_postgres.sh or set {BIN_ENV}")


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser") or next(
        (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), None)
    if runuser is None:
        raise PostgresUnavailable("running as root and runuser is missing: root cannot "
                                  "run PostgreSQL")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable("running as root and there is no 'postgres' system user "
                                  "(scripts/install_postgres.sh installs the package that "
                                  "creates it)") from None
    return [runuser, "-u", "postgres", "--"]


@dataclass
class PostgresServer:
    """A running throwaway cluster (see the module's docstring)."""

    root: Path
    bindir: Path
    prefix: list[str] = field(default_factory=list)
    _databases: int = 0

    @property
    def socket_dir(self) -> Path:
        return self.root

    @classmethod
    def start(cls, *, durable: bool = False) -> PostgresServer:
        """initdb and start a cluster; raises :class:`PostgresUnavailable` with the reason.

        ``durable=False`` (tests): ``fsync=off``, a commit does not wait for the disk;
        ``durable=True`` (benchmarks): PostgreSQL's defaults, as in production.
        """
        bindir = find_bindir()
        prefix = _as_server_user()
        root = Path(tempfile.mkdtemp(prefix="riskengine-pg-"))
        if prefix:
            shutil.chown(root, "postgres", "postgres")
        server = cls(root, bindir, prefix)
        data = root / "data"
        server._run("initdb", "-D", str(data), "-U", ROLE, "-A", "trust", "-E", "UTF8",
                    "--no-sync", "--no-instructions")
        opts = f"-c listen_addresses='' -k {root} -c max_connections=60 -c shared_buffers=32MB"
        if not durable:
            opts += " -c fsync=off -c full_page_writes=off"
        try:
            server._run("pg_ctl", "-D", str(data), "-l", str(root / "server.log"),
                        "-o", opts, "-w", "-t", "60", "start")
        except PostgresUnavailable as exc:
            log = root / "server.log"
            tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(f"{exc}\n{tail}") from None
        return server

    def _run(self, tool: str, *args: str) -> str:
        cmd = [*self.prefix, str(self.bindir / tool), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if proc.returncode != 0:
            raise PostgresUnavailable(f"{tool} failed ({proc.returncode}): "
                                      f"{(proc.stderr or proc.stdout).strip()[-800:]}")
        return proc.stdout

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of one of the cluster's databases (psycopg 3, unix socket)."""
        return f"postgresql+psycopg://{ROLE}@/{database}?host={self.socket_dir}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user=ROLE, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; returns its SQLAlchemy URL."""
        self._databases += 1
        name = name or f"t{self._databases}"
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.split("/")[3].split("?")[0]
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory."""
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
