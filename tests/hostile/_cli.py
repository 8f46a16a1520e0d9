"""The hostile corpus's one check: a bad input ends in one sentence, exit status 2, no traceback.

Every case in ``tests/hostile/`` drives the real ``workbench`` command (in-process through
:func:`workbench.cli.main`, or in a subprocess where the process itself matters: crashes, signals, pipes)
and asserts what a billing manager would see. The README's "What is tried on bad input" table lists the
cases by file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from workbench.cli import main

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    status: int
    stdout: str
    stderr: str


def run_in_process(args, capsys, cwd=None) -> Outcome:
    """``workbench ARGS`` through :func:`main`; an exception escaping main fails the test (a traceback)."""
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            status = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return Outcome(status, out.out, out.err)


def run_subprocess(args, cwd=None, timeout=600, env=None, stdin=None) -> Outcome:
    """``python -m workbench.cli ARGS`` in a child process: what a user at a terminal sees."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    done = subprocess.run([sys.executable, "-m", "workbench.cli", *[str(a) for a in args]], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=full_env, stdin=stdin)
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_refused(outcome: Outcome, *fragments: str) -> str:
    """Exit 2, no traceback, the error is one line starting ``error:`` and holding every fragment.

    Fragments are matched case-insensitively; name the file, row or field and what was expected.
    Returns the error line.
    """
    assert outcome.status == 2, f"exit {outcome.status}, expected 2\nstdout: {outcome.stdout[-2000:]}\nstderr: {outcome.stderr[-2000:]}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, f"expected one 'error:' line, got: {outcome.stderr!r}"
    line = errors[0]
    for fragment in fragments:
        assert fragment.lower() in line.lower(), f"{fragment!r} not in {line!r}"
    return line


def assert_ok(outcome: Outcome) -> None:
    assert outcome.status == 0, f"exit {outcome.status}\nstdout: {outcome.stdout[-2000:]}\nstderr: {outcome.stderr[-2000:]}"
    assert "Traceback" not in outcome.stderr, outcome.stderr
