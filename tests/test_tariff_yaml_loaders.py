"""read_yaml parses with libyaml when PyYAML has it; the data, and every refusal and its message, are those of
PyYAML's own (Python) parser, the reference."""

from pathlib import Path

import pytest
import yaml

from workbench.errors import TariffError
from workbench.tariffs import _FastTariffLoader, _parse_yaml, _TariffLoader, read_yaml

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(_FastTariffLoader is None, reason="PyYAML built without libyaml")

#: texts where parsers differ most often: odd scalars, anchors, merges, flow style, tabs, directives, bad input
TEXTS = [
    "a: 1\nb: [1, 2.5, .nan, .inf, -.inf, 1e300, 0x1F, 0o17, 017, +1, 1_000]\n",
    "date: 2025-01-01\nwhen: 2025-01-01T00:00:00Z\nyes: yes\nno: No\non: on\nnull_: ~\nempty:\n",
    "base: &b {amount: 10, per: month}\ncopy: *b\nmerged:\n  <<: *b\n  per: day\n",
    "s: 'it''s'\nd: \"tab\\there \\u00e9\"\nfold: >\n  two\n  lines\nlit: |\n  keep\n   this\n",
    "%YAML 1.1\n---\na: 1\n...\n",
    "? [1, 2]\n: complex key\n",
    "a: 1\na: 2\n",                      # duplicate key: refused by our constructor
    "a: [1, 2\n",                        # unclosed flow sequence
    "a:\n\t- 1\n",                       # a tab in indentation
    "a: 'unterminated\n",
    "a: *nowhere\n",                     # undefined alias
    "a: !!python/object:os.system x\n",  # unsafe tag
    "- 1\n- 2\nkey: 3\n",
    "a: b: c\n",
    "\ufeffa: 1\n",                      # a byte-order mark
    "a: 1\n---\nb: 2\n",                 # two documents
]


def _load(text, loader):
    try:
        return "ok", yaml.load(text, Loader=loader)  # noqa: S506 (SafeLoader / CSafeLoader subclasses)
    except yaml.YAMLError as exc:
        return "refused", type(exc).__name__


@pytest.mark.parametrize("text", TEXTS)
def test_fast_loader_gives_the_reference_data_or_refuses_alike(text):
    """Bug caught: the libyaml loader without the tariff resolvers (dates parsed as datetime.date) or without the
    duplicate-key check (``a: 1`` then ``a: 2`` silently 2)."""
    assert _load(text, _FastTariffLoader) == _load(text, _TariffLoader)


@pytest.mark.parametrize("text", [t for t in TEXTS if _load(t, _TariffLoader)[0] == "refused"])
def test_refusal_message_is_the_reference_parsers(text):
    """Bug caught: a refusal worded by libyaml (``while parsing a flow sequence ... in "<unicode string>"``, other
    line or column) instead of PyYAML's message that the hostile-input tests and docs show."""
    with pytest.raises(TariffError) as fast:
        _parse_yaml(text, "t.yaml")
    try:
        yaml.load(text, Loader=_TariffLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
    assert str(fast.value) == f"t.yaml: not valid YAML{at}: {' '.join(str(problem).split())}"


def test_every_yaml_file_of_the_repository_parses_alike():
    """The tariff book, the programs, the examples and test fixtures: the same data from both loaders."""
    files = [p for p in ROOT.glob("**/*.y*ml") if ".venv" not in p.parts and "node_modules" not in p.parts]
    assert any(p.parent.name == "tariffs" for p in files)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert _load(text, _FastTariffLoader) == _load(text, _TariffLoader), path


def test_read_yaml_uses_the_reference_loader_for_characters_its_reader_refuses():
    """A control character PyYAML's reader refuses: refused, as before (libyaml might have accepted it)."""
    with pytest.raises(yaml.YAMLError, match="special characters are not allowed"):
        read_yaml("a: 1\x07\n")
