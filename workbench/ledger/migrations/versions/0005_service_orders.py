"""Service orders after the final notice: disconnections and reconnections (``service_orders``), made
append-only by triggers as the journal is (a service order is a record of work done in the field).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 20:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('order_date', sa.Date(), nullable=False),
    sa.Column('made_by', sa.String(length=200), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('past_due_cents', sa.BigInteger(), nullable=False),
    sa.Column('fee_cents', sa.BigInteger(), nullable=False),
    sa.Column('fee_entry_id', sa.Integer(), nullable=True),
    sa.Column('without_payment', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['notice_id'], ['collection_notices.id'], ),
    sa.ForeignKeyConstraint(['fee_entry_id'], ['journal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('account_id', 'seq', name='uq_service_order_seq'),
    sa.UniqueConstraint('notice_id', 'kind', name='uq_service_order_notice')
    )
    name = op.get_bind().dialect.name
    for statement in {"sqlite": _SQLITE_TRIGGERS, "postgresql": _POSTGRES_TRIGGERS}.get(name, ()):
        op.execute(statement)


_SAYS = "service orders are append-only: record a new order (a reconnection) instead"
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER service_orders_no_update BEFORE UPDATE ON service_orders "
    f"BEGIN SELECT RAISE(ABORT, '{_SAYS}'); END",
    "CREATE TRIGGER service_orders_no_delete BEFORE DELETE ON service_orders "
    f"BEGIN SELECT RAISE(ABORT, '{_SAYS}'); END",
)
_POSTGRES_TRIGGERS = (
    "CREATE FUNCTION service_orders_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{_SAYS}'; END $$",
    "CREATE TRIGGER service_orders_no_change BEFORE UPDATE OR DELETE ON service_orders "
    "FOR EACH ROW EXECUTE FUNCTION service_orders_append_only()",
)


def downgrade() -> None:
    """Refused: going back would drop the record of disconnections and reconnections. Restore a backup."""
    raise RuntimeError("0005 is not reversible (it would drop the record of disconnections and reconnections)")
