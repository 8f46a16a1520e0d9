"""Service charges carried by a bill (``carried_charges``): a reconnection, returned-payment or late fee charged
since the account's previous bill is linked, when the next bill is posted, to that bill, which prints it and whose
due date it takes from then on (never an earlier one than the fee's own). Append-only by triggers, as the journal
is: the fee's journal entry keeps the due date it was charged with, this row says when and why it moved.

Existing ledgers get an empty table: no charge is carried by a bill posted before it, so every balance and every
aging of an upgraded ledger is unchanged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('carried_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('carried_on', sa.Date(), nullable=False),
    sa.Column('due_on_was', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['journal.id'], ),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_id', name='uq_carried_charge_entry')
    )
    op.create_index('ix_carried_charges_bill_id', 'carried_charges', ['bill_id'])
    name = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(name, ()):
        op.execute(statement)


_SAYS = "carried charges are append-only: a fee carried by a bill stays on that bill"
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER carried_charges_no_update BEFORE UPDATE ON carried_charges "
    f"BEGIN SELECT RAISE(ABORT, '{_SAYS}'); END",
    "CREATE TRIGGER carried_charges_no_delete BEFORE DELETE ON carried_charges "
    f"BEGIN SELECT RAISE(ABORT, '{_SAYS}'); END",
)
_POSTGRES_TRIGGERS = (
    "CREATE FUNCTION carried_charges_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{_SAYS}'; END $$",
    "CREATE TRIGGER carried_charges_no_change BEFORE UPDATE OR DELETE ON carried_charges "
    "FOR EACH ROW EXECUTE FUNCTION carried_charges_append_only()",
)


def downgrade() -> None:
    """Refused: going back would forget which bill carried each fee and the due date it took from it."""
    raise RuntimeError("0007 is not reversible (it would forget which bill carried each service charge)")
