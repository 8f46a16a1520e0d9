"""Audited cycle runs end to end: run-cycle through the notebook into a SQLite ledger, twice (idempotent),
killed with SIGKILL mid-posting and run again (no duplicate, no gap), and with payments posted meanwhile."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.payment_sample import write_bai2
from workbench.runs.execute import execute_run
from workbench.runs.pipeline import PAUSE_ENV

ROOT = Path(__file__).resolve().parent.parent
TARIFFS = ROOT / "tariffs"
pytestmark = [pytest.mark.notebook, pytest.mark.slow]


@pytest.fixture(scope="module")
def utility(tmp_path_factory):
    from workbench.sample import generate_sample_utility
    from workbench.sample.ami_export import export_ami

    root = tmp_path_factory.mktemp("utility")
    cube = root / "cube.zarr"
    generate_sample_utility(cube, n_meters=80, seed=3, months=(10, 11), progress=False)
    export_ami(cube, root / "ami", seed=3)
    cycles = pd.read_csv(root / "ami" / "meters.csv")["cycle"].value_counts()
    return {"cube": cube, "accounts": root / "ami" / "accounts.csv", "cycle": int(cycles.index[0])}


def _ledger(tmp_path, utility) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(utility["accounts"]))
        session.commit()
    return url


def _count(url: str, sql: str) -> int:
    with create_engine(url).connect() as c:
        return int(c.execute(text(sql)).scalar())


def _cli(args, env=None, **kw):
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "workbench.cli", *args], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _run_args(utility, url, reports, *extra):
    return ["run-cycle", "--cycle", str(utility["cycle"]), "--period", "2025-11", "--cube", str(utility["cube"]),
            "--tariffs", str(TARIFFS), "--db", url, "--reports", str(reports), "--quiet", "--no-documents", *extra]


def test_run_cycle_posts_once_and_keeps_its_record(tmp_path, utility):
    url = _ledger(tmp_path, utility)
    first = execute_run(cycle=utility["cycle"], period="2025-11", cube=utility["cube"], tariffs=TARIFFS, db=url,
                        reports=tmp_path / "runs", batch_size=4, pdfs=2)
    bills = pd.read_parquet(first.folder / "cycle" / "bills.parquet")
    # the cube ends on 30 November: each meter's period from its November read on is cut short and not posted
    cut = first.summary["not_yet_read"]
    assert 0 < cut < len(bills)
    n = len(bills) - cut
    assert n >= 4
    acct = first.summary["accounting"]
    assert acct["ties"] and acct["meters_in"] == acct["meters_billed"] + acct["meters_held"]
    assert first.summary["posting"]["posted"] + first.summary["posting"]["held"] == n
    # an HTML bill for every posted bill, two PDFs and the print file
    posted = first.summary["posting"]["posted"]
    assert len(list((first.folder / "documents" / "html").glob("*.html"))) == posted == first.summary["documents"]["html"]
    assert len(list((first.folder / "documents" / "pdf").glob("*.pdf"))) == 3
    assert _count(url, "select count(*) from bills") == n
    # held bills are in the ledger as held, with a hold each, and out of the journal
    held = _count(url, "select count(*) from bills where status = 'held'")
    assert held == first.summary["posting"]["held"] == _count(url, "select count(distinct bill_id) from holds")
    assert _count(url, "select count(distinct bill_id) from journal where kind = 'bill'") == n - held
    second = execute_run(cycle=utility["cycle"], period="2025-11", cube=utility["cube"], tariffs=TARIFFS, db=url,
                         reports=tmp_path / "runs", batch_size=4, documents=False)
    assert second.run_id == first.run_id and second.folder == first.folder
    assert second.summary["posting"] == {**second.summary["posting"], "posted": 0, "held": 0, "already": n}
    assert _count(url, "select count(*) from bills") == n
    record = json.loads((first.folder / "record.json").read_text())
    assert [e["outcome"] for e in record["executions"]] == ["finished", "finished"]
    assert record["inputs"]["tariffs"] and record["code_version"]["workbench"]
    assert len(list(first.folder.glob("notebook-*.ipynb"))) == 2  # neither execution overwrote the other


def test_kill_9_mid_posting_then_rerun_completes_without_duplicate_or_gap(tmp_path, utility):
    url = _ledger(tmp_path, utility)
    flag = tmp_path / "paused"
    run = _cli(_run_args(utility, url, tmp_path / "runs", "--batch-size", "3"), env={PAUSE_ENV: f"2@{flag}"},
               start_new_session=True)
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the run never reached its second batch"
        time.sleep(0.2)
    os.killpg(run.pid, signal.SIGKILL)  # the command and its notebook kernel, as a crash would
    run.wait()
    assert _count(url, "select count(*) from bills") == 6  # two batches of 3 committed, nothing more
    again = _cli(_run_args(utility, url, tmp_path / "runs", "--batch-size", "3"))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "ties out" in out and "6 already in the ledger" in out
    assert "IPKernelApp" not in err  # the kernel's transport warning is not shown to a billing manager
    folder = next((tmp_path / "runs").glob("*/cycle")).parent
    cut = json.loads((folder / "summary.json").read_text())["not_yet_read"]  # periods the cube's end cuts short
    n = len(pd.read_parquet(folder / "cycle" / "bills.parquet")) - cut
    assert n > 6 and _count(url, "select count(*) from bills") == n
    assert _count(url, "select count(*) from (select distinct account_id, meter, period_start from bills)") == n
    assert _count(url, "select count(*) from bill_runs") == 1  # the re-run found its own run


def test_payments_posted_while_a_cycle_runs_lose_nothing(tmp_path, utility):
    url = _ledger(tmp_path, utility)
    accounts = pd.read_csv(utility["accounts"], dtype=str)["account_number"].unique()[:20]
    files = []
    for k in range(4):
        path = tmp_path / f"lockbox-{k}.bai"
        write_bai2(path, [(a, 1000 + i, f"K{k}-{i}", pd.Timestamp("2025-11-20").date()) for i, a in enumerate(accounts)],
                   file_id=str(k + 1))
        files.append(path)
    run = _cli(_run_args(utility, url, tmp_path / "runs", "--batch-size", "1"))
    posted = []
    for path in files:  # while the cycle posts bill by bill, in its own transactions
        p = _cli(["payments", "post", str(path), "--db", url])
        posted.append(p.communicate(timeout=300))
        assert p.returncode == 0, posted[-1][1]
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert _count(url, "select count(*) from payments") == 4 * len(accounts)
    assert _count(url, "select sum(amount_cents) from payments") == 4 * sum(1000 + i for i in range(len(accounts)))
    folder = next((tmp_path / "runs").glob("*/cycle")).parent
    cut = json.loads((folder / "summary.json").read_text())["not_yet_read"]
    assert _count(url, "select count(*) from bills") == len(pd.read_parquet(folder / "cycle" / "bills.parquet")) - cut
    check = _cli(["ledger", "check", "--db", url])
    assert check.wait(timeout=300) == 0, check.communicate()
