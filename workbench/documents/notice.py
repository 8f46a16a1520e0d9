"""Past-due notices as documents: one self-contained HTML page per notice (Jinja2), and its PDF (WeasyPrint,
every URL refused, :mod:`workbench.outputs.pdf`).

The notice is given as plain data (:class:`NoticeDocument`), so this module knows nothing of the ledger.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources

from workbench.documents.render import long_date, money
from workbench.errors import WorkbenchError
from workbench.outputs.pdf import FetchRefused, offline_html
from workbench.outputs.templates import template_environment

TITLES = {"reminder": "Past-due reminder", "final": "Final notice before disconnection"}


@dataclass
class NoticeLine:
    """One past-due charge on the notice."""

    description: str
    due_on: dt.date
    open_cents: int


@dataclass
class NoticeDocument:
    kind: str  # reminder | final
    notice_id: int | None
    account_number: str
    customer_name: str
    mailing_address: str
    service_address: str
    notice_date: dt.date
    past_due_cents: int
    days_past_due: int
    disconnect_on: dt.date | None = None
    lines: list[NoticeLine] = field(default_factory=list)
    # a final notice states the charge for reconnection (None: the utility has set no fee; not stated)
    reconnect_fee_cents: int | None = None
    reconnect_fee_due_days: int | None = None  # the fee is due this many days after reconnection (None: not set)


def render_notice_html(doc: NoticeDocument) -> str:
    """The notice as one HTML page (CSS inline; no script, no outside resource)."""
    if doc.kind not in TITLES:
        raise WorkbenchError(f"notice for account {doc.account_number}: unknown kind {doc.kind!r}")
    if doc.kind == "final" and doc.disconnect_on is None:
        raise WorkbenchError(f"final notice for account {doc.account_number}: no disconnection date")
    env = template_environment("workbench.documents")
    env.filters.setdefault("money", money)
    env.filters.setdefault("long_date", long_date)
    css = resources.files("workbench.documents").joinpath("templates/notice.css").read_text(encoding="utf-8")
    return env.get_template("notice.html.j2").render(doc=doc, title=TITLES[doc.kind], css=css)


def render_notice_pdf(doc: NoticeDocument) -> bytes:
    """The notice as PDF bytes."""
    try:
        return offline_html(render_notice_html(doc)).write_pdf()
    except FetchRefused as exc:
        raise WorkbenchError(f"notice template reaches for an outside resource ({exc}); notices are offline") from None
