"""The wings of the ``workbench`` command, in the order their subcommands are added: each ``workbench/cli_<wing>.py``
module's ``add_commands(sub)``. A new wing is one import and one list element here.

:func:`workbench.cli.wings` imports this module only when a wing's command (or the full help) is asked for: the
wings load pandas, SQLAlchemy, WeasyPrint, ... (~2 s) that ``workbench cycle`` does not need. The ledger wing comes
first: the payments, receivables and GL-export wings add to the ``ledger`` and ``payments`` groups it makes.
"""

from workbench import (
    cli_collections,
    cli_cos,
    cli_design,
    cli_disconnect,
    cli_filing,
    cli_glexport,
    cli_ledger,
    cli_payments,
    cli_receivables,
    cli_runs,
)

WINGS = [
    cli_ledger.add_commands,
    cli_collections.add_commands,
    cli_disconnect.add_commands,
    cli_runs.add_commands,
    cli_design.add_commands,
    cli_cos.add_commands,
    cli_filing.add_commands,
    cli_receivables.add_commands,
    cli_payments.add_commands,
    cli_glexport.add_commands,
]
