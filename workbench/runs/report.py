"""The run's accounting as text and as a chart that needs no network (matplotlib PNG, embedded)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display: the PNG goes into the executed notebook
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def accounting_text(acct: dict) -> str:
    """Meters in = billed + held; bills posted, held, already in the ledger; the ledger's statuses; breaks."""
    lines = [f"{acct['meters_in']:,} meters in = {acct['meters_billed']:,} billed + {acct['meters_held']:,} held "
             "without a bill",
             f"{acct['bills']:,} bills = {acct['posted_now']:,} posted + {acct['held_now']:,} held now + "
             f"{acct['already']:,} already in the ledger",
             "in the ledger: " + ", ".join(f"{n:,} {s}" for s, n in sorted(acct["status"].items()))]
    lines.append("ties out: every meter and every bill accounted for, no duplicate, no gap" if acct["ties"]
                 else "DOES NOT TIE OUT:\n  " + "\n  ".join(acct["breaks"]))
    return "\n".join(lines)


def revenue_png(by_class: pd.DataFrame, title: str) -> bytes:
    """A bar chart of the run's bills in dollars by class and status (posted, held), as PNG bytes."""
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    frame = by_class.set_index("customer_class")
    if len(frame):
        frame.plot.bar(ax=ax, rot=0)
    ax.set_xlabel("customer class")
    ax.set_ylabel("bills [$]")
    ax.set_title(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
