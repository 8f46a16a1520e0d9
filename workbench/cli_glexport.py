"""``workbench ledger gl-export``: the subledger's activity as general-ledger journal entries. See docs/ledger.md.

Thin: parse, read the chart (:mod:`workbench.ledger.gl_chart`), gather and post the activity
(:mod:`workbench.ledger.gl`), check it balances, write the CSV without replacing any file that is there (a new
file is written beside it and linked into place only if the name is still free), print one summary line.
The command joins the ``ledger`` group that :mod:`workbench.cli_ledger` makes (listed after it in
``cli_wings.WINGS``).
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from pathlib import Path

from workbench.cli_parser import DB_HELP, iso_date, wing_group
from workbench.errors import WorkbenchError
from workbench.ledger.amounts import money_text
from workbench.ledger.db import new_session, open_ledger, require_current
from workbench.ledger.gl import activity, as_csv_frame, check_balanced, fell_to_any, gl_lines
from workbench.ledger.gl_chart import read_chart
from workbench.outputs.guard import write_error

log = logging.getLogger(__name__)



def _write_new(path: Path, frame) -> None:
    """Write ``frame`` as CSV at ``path``, which must not exist: never replaces a file (also one made meanwhile)."""
    if path.exists() or path.is_symlink():
        raise WorkbenchError(f"--out {path}: already exists; the export never replaces a file: name a new one")
    if not path.parent.is_dir():
        raise WorkbenchError(f"--out {path}: no folder {path.parent}; create it or name another")
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        frame.to_csv(tmp, index=False)
        os.link(tmp, path)  # fails if the name was taken meanwhile: nothing is replaced
    except FileExistsError:
        raise WorkbenchError(f"--out {path}: created by someone else meanwhile; nothing was replaced") from None
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        tmp.unlink(missing_ok=True)


def _gl_export(args) -> int:
    if args.date_to < args.date_from:
        raise WorkbenchError(f"--to {args.date_to}: before --from {args.date_from}; expected a range forward in time")
    out = Path(args.out)
    if out.exists() or out.is_symlink():
        raise WorkbenchError(f"--out {out}: already exists; the export never replaces a file: name a new one")
    chart = read_chart(args.chart)
    engine = open_ledger(args.db)
    try:
        require_current(engine)
        with new_session(engine) as session:
            acts = activity(session, args.date_from, args.date_to)
    finally:
        engine.dispose()
    lines = gl_lines(chart, acts, args.per)
    caught = fell_to_any(chart, acts)
    if caught:
        log.warning(f"warning: --chart {args.chart}: rate(s) not named under by_rate, booked to its '*' account: "
                    f"{'; '.join(caught)}; name them in the chart to book them by rate")
    check_balanced(lines)
    _write_new(out, as_csv_frame(lines))
    total = int(lines["debit"].sum())
    print(f"GL export {args.date_from} to {args.date_to}: {lines['period'].nunique()} {args.per}(s), {len(lines)} "
          f"line(s), {int(acts['entries'].sum()) if len(acts) else 0} subledger entries; debits {money_text(total)} = "
          f"credits {money_text(int(lines['credit'].sum()))}; wrote {out}")
    return 0


def add_commands(sub) -> None:
    """Add ``ledger gl-export`` to the ``ledger`` group of the ``workbench`` parser."""
    lsub = wing_group(sub, "ledger", "cli_glexport")
    p = lsub.add_parser(
        "gl-export", help="the subledger's activity as general-ledger journal entries by GL account (CSV; debits "
        "= credits checked before writing)", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: workbench ledger gl-export --from 2025-02-01 --to 2025-02-28 --chart "
        "docs/examples/gl-chart.yaml --out gl-2025-02.csv")
    p.add_argument("--from", dest="date_from", type=iso_date, required=True, metavar="DATE", help="first day, YYYY-MM-DD")
    p.add_argument("--to", dest="date_to", type=iso_date, required=True, metavar="DATE", help="last day (included), YYYY-MM-DD")
    p.add_argument("--chart", required=True, help="chart-of-accounts mapping, YAML (docs/ledger.md, "
                   "General-ledger export, has a complete one)")
    p.add_argument("--out", required=True, help="CSV to write; must not exist (never replaced)")
    p.add_argument("--per", choices=("day", "month"), default="day", help="one journal entry per day or per month "
                   "(default: %(default)s)")
    p.add_argument("--db", help=DB_HELP)
    p.set_defaults(func=_gl_export)
