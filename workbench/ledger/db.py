"""Opening the ledger database and bringing its schema to the current version (Alembic, programmatically).

The URL comes from ``--db URL``, else ``WORKBENCH_DB_URL``, else the SQLite file ``data/ledger.sqlite``
(file and folder created by ``workbench ledger init`` only; every other command refuses a missing file).
SQLite runs in WAL mode with a busy timeout, so a second writer waits for the first instead of failing;
PostgreSQL goes through psycopg 3 (``postgresql+psycopg://...``; a plain ``postgresql://`` URL is read the same
way). Every statement is built by SQLAlchemy with bound parameters.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workbench.errors import WorkbenchError, require_for_url

DEFAULT_PATH = Path("data") / "ledger.sqlite"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 60_000
CACHE_KIB = 131_072  # SQLite page cache per connection: a cycle's or a payment file's indexes stay in memory


class LedgerError(WorkbenchError):
    """The ledger cannot do what was asked (unknown account or bill, a bill already posted...)."""


def ledger_url(url: str | None = None) -> str:
    """The database URL: ``url``, else ``$WORKBENCH_DB_URL``, else ``sqlite:///data/ledger.sqlite``."""
    url = url or os.environ.get("WORKBENCH_DB_URL") or f"sqlite:///{DEFAULT_PATH}"
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def absolute_url(url: str) -> str:
    """``url`` with a relative SQLite file path made absolute (a notebook or a worker running in another
    folder must open the same file, not create an empty ledger beside itself)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or Path(database).is_absolute():
        return url
    return parsed.set(database=str(Path(database).resolve())).render_as_string(hide_password=False)


def open_ledger(url: str | None = None, create: bool = False) -> Engine:
    """An engine on the ledger at ``url`` (see :func:`ledger_url`).

    A SQLite file that does not exist is refused in one line, creating nothing (a mistyped ``--db`` of a read-only
    command left an empty file and folders behind); only ``create`` (``workbench ledger init``) makes the file and
    its folder."""
    url = ledger_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"--db {url}: not a database URL (expected sqlite:///path or "
                          "postgresql://user@host/dbname)") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
            path = Path(parsed.database)
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.is_file():
                raise LedgerError(f"no ledger at {path}; create it with `workbench ledger init --db {url}` "
                                  "(or check --db / $WORKBENCH_DB_URL)")
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        require_for_url(url, "the ledger database")
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # let SQLAlchemy, not pysqlite, say when a transaction starts (so BEGIN IMMEDIATE below takes effect)
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB:d}")
    cursor.close()


def _sqlite_begin(connection) -> None:
    # take the write lock at the start: two writers queue rather than deadlock on a lock upgrade
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration shipped with this version of the workbench."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The schema version of the database (None for an empty database); a server that cannot be reached is a
    LedgerError naming the URL and the driver's reason (not an internal error)."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise LedgerError(f"ledger {where}: cannot connect ({reason}); check --db or $WORKBENCH_DB_URL "
                          "and that the database server is running") from None


def init_ledger(url: str | None = None) -> tuple[Engine, str | None, str]:
    """Create the ledger, or upgrade an existing one to the newest schema (never drops data).

    Returns (engine, revision before, revision after).
    """
    engine = open_ledger(url, create=True)
    before = current_revision(engine)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "head")
    return engine, before, current_revision(engine)


def require_current(engine: Engine) -> None:
    """Refuse a database that ``workbench ledger init`` has not created or upgraded."""
    have, want = current_revision(engine), head_revision()
    if have != want:
        where = engine.url.render_as_string(hide_password=True)
        raise LedgerError(f"ledger {where}: schema version {have or 'none'}, this workbench needs {want}; "
                          "run `workbench ledger init` first (it creates or upgrades the ledger, keeping its data)")


@contextmanager
def ledger_session(engine: Engine):
    """A session whose work is committed at the end of the ``with`` block, or rolled back on an error."""
    maker = sessionmaker(engine, expire_on_commit=False)
    with maker.begin() as session:
        yield session


def new_session(engine: Engine) -> Session:
    """A plain session (the caller commits)."""
    return Session(engine, expire_on_commit=False)


@contextmanager
def session_on(url: str | None, dry_run: bool = False):
    """A session on the ledger at ``url`` (checked current, the engine disposed at the end). ``dry_run``: every
    commit the ledger makes is a savepoint of an outer transaction that is rolled back, so nothing is written."""
    engine = open_ledger(url)
    try:
        require_current(engine)
        if not dry_run:
            with new_session(engine) as session:
                yield session
            return
        with engine.connect() as connection:
            outer = connection.begin()
            try:
                with Session(connection, join_transaction_mode="create_savepoint", expire_on_commit=False) as session:
                    yield session
            finally:
                outer.rollback()
    finally:
        engine.dispose()
