"""The hostile corpus as a table: every case's one-line docstring, by area. ``docs/hostile-corpus.md`` is this.

Regenerate after adding a case: ``python -m tests.hostile.corpus_table > docs/hostile-corpus.md``
(``tests/hostile/test_corpus_table.py`` fails when the page and the tests disagree).
"""

from __future__ import annotations

import ast
from pathlib import Path

HERE = Path(__file__).resolve().parent

AREAS = {
    "test_outputs.py": "Output folders (`cycle --out`, `sample --out/--ami`)",
    "test_cube_writers.py": "Writers and readers of one cube (ingest, VEE, cycle)",
    "test_tariffs.py": "Tariffs, prices and money",
    "test_meter_data.py": "Meter data, registries and enrollments",
    "test_real_feeds.py": "Real feeds through `workbench bill`",
    "test_command_line.py": "The command line itself",
    "test_dashboard_origin.py": "The dashboard server",
    "test_design_cli.py": "Rate design (`workbench design`)",
    "test_design.py": "Cost of service (`design allocators`, `design cos`)",
    "test_payment_files.py": "Payment files (`payments post`)",
    "test_receivables_cli.py": "Receivables (`ledger late-fees`, `ledger deposits`, `ledger budget`, `payments apply`)",
    "test_returns_cli.py": "Returned items of the unapplied-cash queue (`payments resolve-return`)",
    "test_nsf_fee_cli.py": "The returned-payment fee (`ledger settings`, `payments post`, `payments resolve-return`)",
    "test_refunds_cli.py": "Unidentified payments refunded or unclaimed (`payments resolve`)",
    "test_collections_cli.py": "Collections (`ledger notices`, `ledger arrange`)",
    "test_disconnect_cli.py": "Disconnection and reconnection (`ledger disconnects`, `disconnect`, `reconnect`)",
    "test_gl_export_cli.py": "General-ledger export (`ledger gl-export`)",
    "test_cycle_runs.py": "Cycle runs (`run-cycle`, `bills`, `compare-bills`, `ledger assure`)",
    "test_missing_ledger.py": "A `--db` SQLite ledger that does not exist (every command but `ledger init`)",
    "test_verbosity.py": "-q/-v, `ingest --delimiter` and missing extras",
    "test_filing_cli.py": "PUC filing (`workbench filing`)",
    "test_rates_serve.py": "The rate-design dashboard (`workbench serve rates`)",
}


def cases(path: Path) -> list[tuple[str, str, int]]:
    """(test name, first docstring line, parametrized cases) of every test function in ``path``."""
    out = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        doc = (ast.get_docstring(node) or "").strip().splitlines()
        n = 1
        for deco in node.decorator_list:
            if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "parametrize" and len(deco.args) > 1:
                values = deco.args[1]
                if isinstance(values, (ast.List, ast.Tuple)):
                    n *= len(values.elts)
        out.append((node.name, doc[0] if doc else "", n))
    return out


def table() -> str:
    lines = ["# The hostile corpus: what is tried on bad input, and what each gets", "",
             "Generated from the tests in `tests/hostile/` by `python -m tests.hostile.corpus_table`; every case",
             "asserts exit status 2, one `error:` line naming the file, row or field, and no traceback, unless it",
             "says otherwise. Run them with `pytest tests/hostile`.", ""]
    total = 0
    for name, area in AREAS.items():
        rows = cases(HERE / name)
        count = sum(n for _, _, n in rows)
        total += count
        lines += [f"## {area} ({count} cases, `tests/hostile/{name}`)", "", "| input | what it gets |", "| --- | --- |"]
        for test, doc, n in rows:
            what, _, gets = doc.partition(": ")
            suffix = f" ({n} cases)" if n > 1 else ""
            lines.append(f"| {what.strip() or test}{suffix} | {gets.strip() or '(see the test)'} |")
        lines.append("")
    lines.append(f"{total} cases in all.")
    return "\n".join(lines) + "\n"


def counts() -> dict[str, int]:
    return {area: sum(n for _, _, n in cases(HERE / name)) for name, area in AREAS.items()}


if __name__ == "__main__":
    print(table(), end="")
