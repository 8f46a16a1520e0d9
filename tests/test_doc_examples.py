"""The command lines the README, docs and ``--help`` epilogs show a new user: each parses with the real parser and
names files that exist in the repository (a copied example that fails at once is the first thing a user meets)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from workbench.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def _readme_command(start: str) -> list[str]:
    """The README's shell command beginning ``start`` (with its continuation lines), comments dropped."""
    lines = (REPO / "README.md").read_text().splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith(start))
    text = ""
    for line in lines[i:]:
        code = line.split("#", 1)[0].rstrip()
        text += code.rstrip("\\") + " "
        if not code.endswith("\\"):
            break
    return shlex.split(text)[1:]  # drop .venv/bin/workbench


def test_readme_design_solve_parses_and_names_every_rate_of_the_class():
    argv = _readme_command(".venv/bin/workbench design solve")
    args = build_parser(argv).parse_args(argv)  # --classes (a misspelt option) exits 2 here
    assert args.charge == ["RES-FLAT:Energy", "RES-TIER:Energy", "RES-TOU:Energy"]
    readme = (REPO / "README.md").read_text()
    assert "--requirement counts only the rate codes of --charge" in readme


def _help(*argv: str) -> str:
    parser = build_parser(list(argv))
    for word in argv:  # walk down to the subcommand's parser
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[word]
    return parser.format_help()


def test_bill_help_example_tariff_exists():
    named = re.findall(r"--tariff (tariffs/\S+)", _help("bill"))
    assert named and all((REPO / path).is_file() for path in named), named


def test_notices_examples_name_the_rules_file_that_exists():
    shown = re.findall(r"--rules ([\w/.-]+\.yaml)", _help("ledger", "notices"))
    shown += re.findall(r"--rules ([\w/.-]+\.yaml)", (REPO / "docs" / "collections.md").read_text())
    assert shown and all((REPO / path).is_file() for path in shown), shown
