"""The utility's own ledger settings, kept in the ledger itself (``ledger_settings``): the returned-payment (NSF)
fee, the reconnection fee, and when such service charges are due.

A fee charged to customers is the utility's decision, not the workbench's: there is no default. The fee in force
is the latest one set with ``workbench ledger settings --nsf-fee CENTS --who NAME`` (or ``--reconnect-fee``;
every change is kept, with who set it and when); a command that charges it (``payments post`` of a file with
returned items, ``payments resolve-return --account``; ``ledger reconnect``) takes a fee given for that run over
it, and refuses in one line when neither is given (:func:`fee_for`). ``0`` is a setting too: the utility charges
no fee. See docs/ledger.md and docs/collections.md.

``--fee-due-days N`` says when a service charge (the reconnection, returned-payment and late fees) is due: N days
after it is charged, as a utility puts it on the customer's next bill (0: due the day it is charged, e.g. a fee
that must be paid before reconnection). The charge records its due date (``journal.due_on``, migration 0006), so
changing the setting later does not move charges already made; the next bill posted carries the charge, which is
then due with that bill (:mod:`workbench.ledger.carried`). A ledger that never set it keeps the previous behaviour
for NSF and late fees (due when charged), and ``ledger reconnect`` refuses to charge a fee until it is set or
``--fee-due-on`` is given (:func:`charge_due_on`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import LedgerSetting

NSF_FEE = "nsf_fee_cents"  #: the setting's name in ``ledger_settings``
RECONNECT_FEE = "reconnect_fee_cents"  #: the reconnection fee's
FEE_DUE_DAYS = "fee_due_days"  #: days from charge to due date of a service charge (stored in ``value_cents``)
MAX_DUE_DAYS = 90  #: a service charge due more than 90 days after it is charged is a typo [days]
MAX_FEE_CENTS = 100_000  #: a fee above 1,000.00 is a typo (cents for dollars), refused [cents]
#: per setting: its option, what it is called, and the option that gives it for one run
FEES = {NSF_FEE: ("--nsf-fee", "returned-payment (NSF) fee", "--nsf-fee"),
        RECONNECT_FEE: ("--reconnect-fee", "reconnection fee", "--fee-cents")}
HOW_TO_SET = ("set the utility's fee once with `workbench ledger settings --nsf-fee CENTS --who NAME` (0 for no "
              "fee), or give --nsf-fee CENTS for this run")


def _check_fee(cents, where: str) -> int:
    if isinstance(cents, bool) or not isinstance(cents, int) or not 0 <= cents <= MAX_FEE_CENTS:
        raise LedgerError(f"{where} {cents!r}: expected a fee in whole cents from 0 to {MAX_FEE_CENTS} (2500 is 25.00)")
    return cents


def fee_setting(session: Session, name: str) -> LedgerSetting | None:
    """The fee ``name`` in force (the latest row of the setting), or None when the ledger has never had one set."""
    return session.scalars(select(LedgerSetting).where(LedgerSetting.name == name)
                           .order_by(LedgerSetting.id.desc()).limit(1)).first()


def set_fee(session: Session, name: str, cents: int, who: str) -> bool:
    """Make ``cents`` the utility's fee ``name``, set by ``who``; commits. False (nothing written) when it already is."""
    option, what, _ = FEES[name]
    return _set_value(session, name, _check_fee(cents, option), who, f"the utility's {what}")


def _set_value(session: Session, name: str, value: int, who: str, what: str) -> bool:
    """Record ``value`` as the setting ``name`` (a new row: every change is kept), set by ``who``; commits.
    False (nothing written) when it already is. ``what`` names the setting in the refusal of an empty ``who``."""
    who = (who or "").strip()
    if not who:
        raise LedgerError(f"--who: empty; say who sets {what} (recorded)")
    current = fee_setting(session, name)
    if current is not None and current.value_cents == value:
        return False
    session.execute(insert(LedgerSetting), [{"name": name, "value_cents": value, "set_by": who[:200]}])
    session.commit()
    return True


def fee_for(session: Session, name: str, override: int | None, what: str) -> int:
    """The fee ``name`` to charge for ``what`` (who is asking, for the refusal): ``override`` (the run's option)
    when given, else the ledger's setting; neither is a refusal naming what to set, never a guess."""
    option, called, run_option = FEES[name]
    if override is not None:
        return _check_fee(override, run_option)
    current = fee_setting(session, name)
    if current is None:
        raise LedgerError(f"{what} would be charged the {called}, but this ledger has none set: set the utility's "
                          f"fee once with `workbench ledger settings {option} CENTS --who NAME` (0 for no fee), or "
                          f"give {run_option} CENTS for this run")
    return int(current.value_cents)


def nsf_fee_setting(session: Session) -> LedgerSetting | None:
    """The NSF fee in force, or None when the ledger has never had one set."""
    return fee_setting(session, NSF_FEE)


def set_nsf_fee(session: Session, cents: int, who: str) -> bool:
    """Make ``cents`` the utility's NSF fee, set by ``who``; commits. False (nothing written) when it already is."""
    return set_fee(session, NSF_FEE, cents, who)


def nsf_fee_for(session: Session, override: int | None, what: str) -> int:
    """The NSF fee to charge for ``what``: ``override`` (``--nsf-fee``) when given, else the ledger's setting."""
    return fee_for(session, NSF_FEE, override, what)


def set_fee_due_days(session: Session, days: int, who: str) -> bool:
    """Make ``days`` the days from a service charge to its due date, set by ``who``; commits. False (nothing
    written) when it already is."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_DUE_DAYS:
        raise LedgerError(f"--fee-due-days {days!r}: expected whole days from 0 (due the day charged) to {MAX_DUE_DAYS}")
    return _set_value(session, FEE_DUE_DAYS, days, who, "when the utility's service charges are due")


def fee_due_days(session: Session) -> int | None:
    """The days from a service charge to its due date, or None when the ledger has never had it set."""
    current = fee_setting(session, FEE_DUE_DAYS)
    return None if current is None else int(current.value_cents)


def charge_due_on(session: Session, on: dt.date) -> dt.date | None:
    """The due date of a service charge made on ``on``: ``on`` plus the setting's days, or None (due when charged,
    the behaviour of a ledger that never set it)."""
    days = fee_due_days(session)
    return None if days is None else on + dt.timedelta(days=days)
