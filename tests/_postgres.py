"""A real PostgreSQL server for the ledger tests, started by the tests themselves (session fixture).

``initdb`` + ``pg_ctl`` into a fresh folder, on a free port on 127.0.0.1, stopped at the end of the session.
Binaries: ``$WORKBENCH_PG_BIN``, else the folder of ``pg_ctl`` on PATH / in /usr/local/bin, else Debian's
/usr/lib/postgresql/*/bin (``.ci/run`` installs them). PostgreSQL refuses to run as root, so under root the
server runs as the ``postgres`` user (``runuser``). The tests are skipped, loudly, only when no ``pg_ctl``
exists anywhere. Each test gets its own database (``fresh_pg_url``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests._fixtures import free_port


def pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    candidates = [os.environ.get("WORKBENCH_PG_BIN", ""), shutil.which("pg_ctl") or "", "/usr/local/bin/pg_ctl",
                  *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)]
    for c in candidates:
        if not c:
            continue
        path = Path(c).resolve()
        path = path if path.is_dir() else path.parent
        if (path / "pg_ctl").exists() and (path / "initdb").exists():
            return path
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextmanager
def postgres_server(*, fsync: bool = False):
    """Start a throw-away server (initdb into a temporary folder); yields ``(host, port, user)``, then stops
    it and removes the folder. ``fsync=False`` (the tests) trades durability for speed; benchmarks pass True."""
    binaries = pg_bin()
    if binaries is None:
        raise RuntimeError("no pg_ctl found (PATH, /usr/local/bin, /usr/lib/postgresql/*/bin)")
    root = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                    "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root}" + ("" if fsync else " -c fsync=off")
    subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o",
                                    options, "start"]), check=True, capture_output=True)
    try:
        yield ("127.0.0.1", port, "postgres")
    finally:
        subprocess.run(_as_server_user([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def new_database(host: str, port: int, user: str) -> str:
    """Create an empty database on the server; its SQLAlchemy URL."""
    import psycopg

    name = f"ledger_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(host=host, port=port, user=user, dbname="postgres", autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


@pytest.fixture(scope="session")
def pg_server():
    """``(host, port, user)`` of a running PostgreSQL server for this test session."""
    if pg_bin() is None:
        pytest.skip("NO POSTGRESQL: no pg_ctl found (PATH, /usr/local/bin, /usr/lib/postgresql/*/bin); the ledger's "
                    "PostgreSQL tests did not run. Install Debian's postgresql package (.ci/run does).")
    with postgres_server() as server:
        yield server


@pytest.fixture
def fresh_pg_url(pg_server):
    """The URL of a new, empty database on the session's server."""
    return new_database(*pg_server)
