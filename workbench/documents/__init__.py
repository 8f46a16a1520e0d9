"""Bill documents a customer can read: a validated model, Jinja2 HTML, WeasyPrint PDF, a run's print file.

See docs/bill-documents.md. The model (:class:`BillDocument`) is what the ledger and the cycle runs fill in;
the templates (``templates/bill.html.j2`` and ``bill.css``, package data) decide how it looks.
"""

from workbench.documents.cycle_run import documents_from_cycle_output, sample_account_info
from workbench.documents.from_cycle import (
    SAMPLE_UTILITY,
    AccountInfo,
    document_from_cycle,
    history_window,
    monthly_usage,
    usage_by_period,
    usage_history,
)
from workbench.documents.model import (
    BillDocument,
    BudgetBilling,
    Charge,
    NemCredits,
    OtherCharge,
    PeriodUsage,
    UsageMonth,
    Utility,
)
from workbench.documents.render import (
    PRINT_FILE,
    bill_file_name,
    render_bill_html,
    render_bill_pdf,
    render_bills_html,
    usage_chart,
    write_run_documents,
)

__all__ = [
    "PRINT_FILE", "SAMPLE_UTILITY", "AccountInfo", "BillDocument", "BudgetBilling", "Charge", "NemCredits", "OtherCharge", "PeriodUsage",
    "UsageMonth", "Utility", "bill_file_name", "document_from_cycle", "documents_from_cycle_output", "history_window", "monthly_usage",
    "render_bill_html", "render_bill_pdf", "render_bills_html", "sample_account_info", "usage_by_period",
    "usage_chart", "usage_history", "write_run_documents",
]
