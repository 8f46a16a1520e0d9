"""The chart-of-accounts mapping of ``ledger gl-export``: which general-ledger accounts each kind of subledger
activity posts to, read from a YAML file and checked before anything is exported.

The file (docs/ledger.md, "General-ledger export"; a sample in docs/examples/gl-chart.yaml)::

    control:                      # the subledger's control account of each journal book
      receivable: "1310 Customer accounts receivable"
      budget: "1315 Budget billing deferred"
      deposit: "2350 Customer deposits"
    kinds:                        # activity kind -> the account debited and the account credited
      payment: {debit: "1010 Cash", credit: "1310 Customer accounts receivable"}
      bill:
        debit: "1310 Customer accounts receivable"
        credit: {by_rate: {RES: "4400 Residential sales", GS: "4420 Commercial sales"}}

An account is a non-empty string, or ``{by_rate: {RATE_CODE: account, ...}}`` (the rate of the entry's
bill; ``"*"`` names the account of every other rate, and of entries with no bill). :func:`read_chart`
refuses a file that is not this shape, naming the key and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from workbench.ledger.db import LedgerError

BOOKS = ("receivable", "budget", "deposit")
ASSET_BOOKS = ("receivable", "budget")  #: a positive entry is a debit of their control account
ANY_RATE = "*"


@dataclass(frozen=True)
class Chart:
    """The mapping: ``control`` book -> account; ``kinds`` kind -> {"debit": account, "credit": account}, an
    account being a string or a dict rate code -> string."""

    path: str
    control: dict[str, str]
    kinds: dict[str, dict[str, str | dict[str, str]]]

    def account(self, kind: str, side: str, rate: str | None) -> str | None:
        """The account ``kind`` posts to on ``side`` for an entry of ``rate`` (None: the by-rate mapping has no
        such rate and no ``"*"``)."""
        spec = self.kinds[kind][side]
        if isinstance(spec, str):
            return spec
        return spec.get(rate or "", spec.get(ANY_RATE)) if rate is not None else spec.get(ANY_RATE)

    def by_rate(self, kind: str, side: str) -> bool:
        return not isinstance(self.kinds[kind][side], str)


def _account(where: str, value) -> str | dict[str, str]:
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    if isinstance(value, dict) and set(value) == {"by_rate"} and isinstance(value["by_rate"], dict) and value["by_rate"]:
        out = {}
        for rate, account in value["by_rate"].items():
            if not isinstance(account, (str, int)) or isinstance(account, bool) or not str(account).strip():
                raise LedgerError(f"{where}.by_rate.{rate}: {account!r}; expected a GL account (text)")
            out[str(rate)] = str(account).strip()
        return out
    raise LedgerError(f"{where}: {value!r}; expected a GL account (text) or {{by_rate: {{RATE: account, ...}}}}")


def read_chart(path) -> Chart:
    """The chart in the YAML file ``path``, checked (see the module docstring); a one-line error otherwise."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LedgerError(f"--chart {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"--chart {path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise LedgerError(f"--chart {path}{where}: not YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict) or set(data) - {"control", "kinds"} or "kinds" not in data or "control" not in data:
        keys = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise LedgerError(f"--chart {path}: found {keys}; expected a mapping with exactly the keys control and kinds")
    control = data["control"]
    if not isinstance(control, dict) or not control or set(map(str, control)) - set(BOOKS):
        raise LedgerError(f"--chart {path}: control: {control!r}; expected book -> GL account for the books "
                          f"{', '.join(BOOKS)}")
    control = {str(book): _account(f"{path}: control.{book}", account) for book, account in control.items()}
    if any(not isinstance(a, str) for a in control.values()):
        raise LedgerError(f"--chart {path}: control: a book's control account is one account, not by_rate")
    kinds = data["kinds"]
    if not isinstance(kinds, dict) or not kinds:
        raise LedgerError(f"--chart {path}: kinds: {kinds!r}; expected kind -> {{debit: account, credit: account}}")
    out = {}
    for kind, spec in kinds.items():
        where = f"{path}: kinds.{kind}"
        if not isinstance(spec, dict) or set(spec) != {"debit", "credit"}:
            found = sorted(map(str, spec)) if isinstance(spec, dict) else repr(spec)
            raise LedgerError(f"{where}: found {found}; expected exactly debit and credit")
        sides = {side: _account(f"{where}.{side}", spec[side]) for side in ("debit", "credit")}
        if sides["debit"] == sides["credit"]:
            raise LedgerError(f"{where}: debit and credit are the same account {sides['debit']!r}")
        out[str(kind)] = sides
    return Chart(str(path), control, out)
