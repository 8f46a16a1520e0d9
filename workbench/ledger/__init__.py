"""The ledger: accounts, posted bills, holds, adjustments, payments, receivables and reconciliation.

A SQL database through SQLAlchemy 2 (SQLite file by default, PostgreSQL with the same code), its schema
made by the Alembic migrations in ``migrations/``. Every balance is the sum of the append-only journal.

- :mod:`~workbench.ledger.db`: opening the database, ``init`` (create or upgrade)
- :mod:`~workbench.ledger.models`: the tables
- :mod:`~workbench.ledger.accounts`: loading accounts (registry, accounts CSV with opening balances)
- :mod:`~workbench.ledger.posting`: the posting API (bill runs, bills, holds, cancel/rebill)
- :mod:`~workbench.ledger.settle`: credits applied to charges, oldest first
- :mod:`~workbench.ledger.payments`: payments, returns (NSF), unapplied cash
- :mod:`~workbench.ledger.unapplied`, :mod:`~workbench.ledger.returns`: the unapplied-cash queue applied or resolved by hand
- :mod:`~workbench.ledger.receivables`: balances, aging, late fees, deposit interest
- :mod:`~workbench.ledger.check`: ``ledger check`` and ``ledger reconcile``

See docs/ledger.md.
"""
