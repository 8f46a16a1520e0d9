"""A command given a ``--db`` SQLite file that does not exist (a typo, the wrong folder): refused in one line
saying to run ``workbench ledger init``, and nothing created. Only ``ledger init`` makes a ledger; a read-only
command used to leave an empty 4 KB file and its folders behind."""

from __future__ import annotations

import pytest

from tests.hostile._cli import assert_ok, assert_refused, run_in_process
from tests.test_receivables_cli import ACCOUNTS

COMMANDS = [
    ["ledger", "check"],
    ["ledger", "aging", "--as-of", "2025-03-01"],
    ["ledger", "gl-export", "--from", "2025-01-01", "--to", "2025-01-31", "--chart", "docs/examples/gl-chart.yaml",
     "--out", "{tmp}/gl"],
    ["ledger", "settings"],
    ["ledger", "load-accounts", "{tmp}/accounts.csv"],
    ["payments", "unapplied"],
    ["payments", "post", "{tmp}/pay.csv"],
    ["bills", "list"],
    ["ledger", "disconnects", "--as-of", "2025-04-21"],
    ["ledger", "reconnect", "--account", "A1", "--on", "2025-04-22", "--who", "crew7"],
    ["ledger", "late-fees", "--as-of", "2025-03-01", "--rate", "1.5%", "--grace-days", "5", "--dry-run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_missing_sqlite_ledger_refused_nothing_created(command, tmp_path, capsys):
    """Any ledger command but `ledger init` with `--db sqlite:////typo/folder/nope.sqlite`: refused naming the path and `ledger init`; no file or folder created."""
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    (tmp_path / "pay.csv").write_text("item_id,account,amount,paid_on,kind\nP1,B1,1.00,2025-02-10,payment\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    missing = tmp_path / "typo" / "nope.sqlite"
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    out = run_in_process([*args, "--db", f"sqlite:///{missing}"], capsys)
    assert_refused(out, f"no ledger at {missing}", "workbench ledger init --db")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no typo/ folder, no empty ledger


def test_ledger_init_creates_the_missing_ledger(tmp_path, capsys):
    """`ledger init --db` a file in a folder that does not exist yet: created (the one command that may)."""
    missing = tmp_path / "new" / "ledger.sqlite"
    assert_ok(run_in_process(["ledger", "init", "--db", f"sqlite:///{missing}"], capsys))
    assert missing.is_file()
    assert_ok(run_in_process(["ledger", "check", "--db", f"sqlite:///{missing}"], capsys))
