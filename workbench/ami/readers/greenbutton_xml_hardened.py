"""Green Button XML: the hardened parse both engines rely on, and its refusals.

Safety: the parser never loads a DTD, never touches the network, never resolves entities and keeps libxml2's
size limits (``huge_tree=False``). A document with a DOCTYPE (where ENTITY declarations live) is refused
before any content is read (:func:`_refuse_doctype_in_prolog`, then the root's docinfo during the parse):
Green Button feeds have none, and "billion laughs" and external-entity (XXE) files need one. This module
holds the parser options, the DOCTYPE refusal, the hardened iteration over Atom entries (:func:`_iter_entries`,
with the root check) and the error a malformed file raises (:func:`malformed`).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from workbench.ami.readers.greenbutton_xml_check import HARDENED
from workbench.ami.readers.greenbutton_xml_espi import _ENTRY, ATOM
from workbench.errors import IntervalDataError

_PROLOG_SCAN_BYTES = 1 << 20


def _parser_kwargs() -> dict:
    return dict(HARDENED)


def _refuse_doctype_in_prolog(path: Path) -> None:
    """Refuse a DOCTYPE/ENTITY in the prolog before libxml2 sees it (UTF-8/ASCII files).

    The root element's docinfo is checked again during the parse, which also covers other encodings.
    """
    with open(path, "rb") as f:
        head = f.read(_PROLOG_SCAN_BYTES)
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if head.startswith(bom):
            head = head[: len(head) - len(head) % 4].decode(codec, errors="ignore").encode("utf-8")
            break
    text = head.lstrip(b"\xef\xbb\xbf")
    pos = 0
    while True:
        lt = text.find(b"<", pos)
        if lt < 0:
            return
        if text.startswith(b"<?", lt):
            end = text.find(b"?>", lt)
            if end < 0:
                return
            pos = end + 2
        elif text.startswith(b"<!--", lt):
            end = text.find(b"-->", lt)
            if end < 0:
                return
            pos = end + 3
        elif text.startswith(b"<!", lt):
            _refuse(path, _line_of(text, lt))
        else:
            return  # the root element: the prolog is over


def _line_of(text: bytes, pos: int) -> int:
    return text.count(b"\n", 0, pos) + 1


def _refuse(path, line: int | None) -> None:
    where = f" (line {line})" if line else ""
    raise IntervalDataError(
        f"{path}: refused: the file declares a DOCTYPE{where}. Green Button feeds never need one, and a "
        "DOCTYPE is how entity-expansion ('billion laughs') and external-entity attacks are carried, so "
        "the file was not read. Ask the sender for a plain Green Button export."
    )


def malformed(path, line: int | None, msg: str) -> IntervalDataError:
    where = f"at line {line}" if line else "at its start"
    return IntervalDataError(
        f"{path}: the Green Button XML is malformed {where}: {msg}. Nothing from this file was "
        "loaded; if the file was cut short in transfer, download it again."
    )


def _iter_entries(path: Path, check_root):
    """Yield each Atom entry (cleared after use) from a hardened iterparse; errors name file and line."""
    context = etree.iterparse(str(path), events=("end",), tag=_ENTRY, **_parser_kwargs())
    checked = False
    try:
        for _, entry in context:
            if not checked:
                check_root(entry.getroottree())
                checked = True
            yield entry
            entry.clear(keep_tail=False)
            parent = entry.getparent()
            if parent is not None:
                while entry.getprevious() is not None:
                    del parent[0]
        if not checked:
            check_root(context.root.getroottree())
    except etree.XMLSyntaxError as e:
        line, msg = e.lineno, (e.msg or str(e)).strip()
        fatals = [
            entry
            for entry in (e.error_log or [])
            if entry.level_name == "FATAL" and entry.filename == str(path)
        ]
        if fatals:  # libxml2's own (latest) fatal error is more precise than the summary exception
            line, msg = fatals[-1].line, fatals[-1].message.strip()
        raise malformed(path, line, msg) from None
    except OSError as e:
        raise IntervalDataError(f"{path}: cannot read the file: {e}") from None


def _root_checker(path: Path):
    def check(tree):
        docinfo = tree.docinfo
        if docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
            _refuse(path, None)
        root = tree.getroot()
        if root is None or root.tag != f"{{{ATOM}}}feed":
            tag = "nothing" if root is None else f"<{etree.QName(root).localname}>"
            raise IntervalDataError(
                f"{path}: not a Green Button feed: the root element is {tag}, expected an Atom <feed> "
                f"({ATOM}). Export the data as Green Button 'Download My Data' XML."
            )

    return check
