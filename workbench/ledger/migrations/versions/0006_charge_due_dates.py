"""A due date recorded with a charge that is not a bill (``journal.due_on``): a reconnection, returned-payment or
late fee is due with the customer's next bill (``ledger settings --fee-due-days``), not the day it is charged.

Existing rows keep ``due_on`` empty, which means what it meant before: due when posted; every balance and every
aging of an existing ledger is unchanged. A plain ``ADD COLUMN`` (no table copy), so the journal's append-only
triggers stay as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('journal', sa.Column('due_on', sa.Date(), nullable=True))


def downgrade() -> None:
    """Refused: going back would forget when the service charges are due (they would all be past due at once)."""
    raise RuntimeError("0006 is not reversible (it would drop the due dates of service charges)")
