"""The utility's own ledger settings, kept in the ledger itself (``ledger_settings``): first of them the
returned-payment (NSF) fee.

A fee charged to customers is the utility's decision, not the workbench's: there is no default. The fee in force
is the latest one set with ``workbench ledger settings --nsf-fee CENTS --who NAME`` (every change is kept, with
who set it and when); a command that charges it (``payments post`` of a file with returned items, ``payments
resolve-return --account``) takes ``--nsf-fee CENTS`` over it for that run, and refuses in one line when neither
is given (:func:`nsf_fee_for`). ``0`` is a setting too: the utility charges no fee. See docs/ledger.md.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import LedgerSetting

NSF_FEE = "nsf_fee_cents"  #: the setting's name in ``ledger_settings``
MAX_FEE_CENTS = 100_000  #: a fee above 1,000.00 is a typo (cents for dollars), refused [cents]
HOW_TO_SET = ("set the utility's fee once with `workbench ledger settings --nsf-fee CENTS --who NAME` (0 for no "
              "fee), or give --nsf-fee CENTS for this run")


def _check_fee(cents, where: str) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 <= cents <= MAX_FEE_CENTS:
        raise LedgerError(f"{where} {cents!r}: expected a fee in whole cents from 0 to {MAX_FEE_CENTS} (2500 is 25.00)")
    return cents


def nsf_fee_setting(session: Session) -> LedgerSetting | None:
    """The NSF fee in force (the latest row of the setting), or None when the ledger has never had one set."""
    return session.scalars(select(LedgerSetting).where(LedgerSetting.name == NSF_FEE)
                           .order_by(LedgerSetting.id.desc()).limit(1)).first()


def set_nsf_fee(session: Session, cents: int, who: str) -> bool:
    """Make ``cents`` the utility's NSF fee, set by ``who``; commits. False (nothing written) when it already is."""
    _check_fee(cents, "--nsf-fee")
    who = (who or "").strip()
    if not who:
        raise LedgerError("--who: empty; say who sets the utility's returned-payment fee (recorded)")
    current = nsf_fee_setting(session)
    if current is not None and current.value_cents == cents:
        return False
    session.execute(insert(LedgerSetting), [{"name": NSF_FEE, "value_cents": cents, "set_by": who[:200]}])
    session.commit()
    return True


def nsf_fee_for(session: Session, override: int | None, what: str) -> int:
    """The NSF fee to charge for ``what`` (who is asking, for the refusal): ``override`` (``--nsf-fee``) when
    given, else the ledger's setting; neither is a refusal naming what to set, never a guess."""
    if override is not None:
        return _check_fee(override, "--nsf-fee")
    current = nsf_fee_setting(session)
    if current is None:
        raise LedgerError(f"{what} would be charged the returned-payment (NSF) fee, but this ledger has none set: "
                          f"{HOW_TO_SET}")
    return int(current.value_cents)
