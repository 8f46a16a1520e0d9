"""The corpus page (docs/hostile-corpus.md) lists exactly the cases in tests/hostile/, and there are enough."""

from __future__ import annotations

from pathlib import Path

from hostile.corpus_table import AREAS, HERE, counts, table

DOC = Path(__file__).resolve().parents[2] / "docs" / "hostile-corpus.md"


def test_every_corpus_file_is_an_area():
    files = {p.name for p in HERE.glob("test_*.py")} - {"test_corpus_table.py"}
    assert files == set(AREAS), f"give these files an area in corpus_table.AREAS: {sorted(files ^ set(AREAS))}"


def test_the_corpus_has_at_least_60_cases():
    assert sum(counts().values()) >= 60


def test_the_page_is_up_to_date():
    assert DOC.read_text(encoding="utf-8") == table(), (
        "docs/hostile-corpus.md is stale: run `python -m tests.hostile.corpus_table > docs/hostile-corpus.md`")
