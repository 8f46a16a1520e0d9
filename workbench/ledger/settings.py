"""The utility's own ledger settings, kept in the ledger itself (``ledger_settings``): the returned-payment (NSF)
fee and the reconnection fee.

A fee charged to customers is the utility's decision, not the workbench's: there is no default. The fee in force
is the latest one set with ``workbench ledger settings --nsf-fee CENTS --who NAME`` (or ``--reconnect-fee``;
every change is kept, with who set it and when); a command that charges it (``payments post`` of a file with
returned items, ``payments resolve-return --account``; ``ledger reconnect``) takes a fee given for that run over
it, and refuses in one line when neither is given (:func:`fee_for`). ``0`` is a setting too: the utility charges
no fee. See docs/ledger.md and docs/collections.md.
"""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workbench.ledger.db import LedgerError
from workbench.ledger.models import LedgerSetting

NSF_FEE = "nsf_fee_cents"  #: the setting's name in ``ledger_settings``
RECONNECT_FEE = "reconnect_fee_cents"  #: the reconnection fee's
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
    _check_fee(cents, option)
    who = (who or "").strip()
    if not who:
        raise LedgerError(f"--who: empty; say who sets the utility's {what} (recorded)")
    current = fee_setting(session, name)
    if current is not None and current.value_cents == cents:
        return False
    session.execute(insert(LedgerSetting), [{"name": name, "value_cents": cents, "set_by": who[:200]}])
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
