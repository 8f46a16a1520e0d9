"""Inserting many rows into one ledger table at once: one INSERT built by SQLAlchemy, executed many times.

Posting a cycle of bills or a file of payments inserts hundreds of thousands of rows (bills, line items,
payments, journal entries, applications). SQLAlchemy Core's ``connection.execute(insert(table), rows)`` is an
executemany already, but on SQLite most of its time goes into processing each row's parameters in Python.
:func:`insert_rows` builds the same statement (``insert(table)`` compiled by SQLAlchemy for the connection's
dialect, bound parameters only: no SQL is built from strings), converts each value once with the column
type's own bind processor (so a date or a timestamp is stored exactly as SQLAlchemy stores it) and hands the
rows to the driver's ``executemany`` as tuples. Column defaults the rows leave out (``created_at`` ...) are
evaluated once per call. On other databases (PostgreSQL) it is plain Core executemany, which psycopg batches.
"""

from __future__ import annotations

from itertools import repeat

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection


def insert_rows(connection: Connection, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys: column names) into ``table`` in one executemany."""
    if not rows:
        return
    if connection.dialect.name != "sqlite":
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    defaults = {}
    for column in table.columns:
        if column.name in names or column.default is None or column.primary_key:
            continue
        default = column.default
        defaults[column.name] = default.arg(None) if default.is_callable else default.arg
    compiled = insert(table).compile(dialect=connection.dialect, column_keys=[*names, *defaults])
    order = compiled.positiontup
    processors = []
    for name in order:
        impl = table.c[name].type.dialect_impl(connection.dialect)
        processors.append(impl.bind_processor(connection.dialect))
    columns = []
    for name, process in zip(order, processors, strict=True):
        if name in defaults:
            value = defaults[name]
            columns.append(repeat(process(value) if process and value is not None else value, len(rows)))
            continue
        values = [row[name] for row in rows]
        if process is not None:  # dates and flags repeat: convert each distinct value once
            done = {None: None}
            values = [done[v] if v in done else done.setdefault(v, process(v)) for v in values]
        columns.append(values)
    connection.exec_driver_sql(str(compiled), list(zip(*columns, strict=True)))


IN_LIST = 900  #: bound parameters per IN list (well under SQLite's limit)


def chunks(values, size: int = IN_LIST):
    """``values`` as lists of at most ``size`` (one bound parameter each in an IN list)."""
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i:i + size]
