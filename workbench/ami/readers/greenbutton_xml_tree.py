"""Green Button XML, lxml engine: hardened iterparse of whole entries, XPath per IntervalBlock.

This is the reference engine (and the one used for files the byte scanner of ``_xmlscan.py`` does not take:
non-UTF-8 encodings, unusual nesting). It is also the scanner's fallback for single entries it cannot read
at C speed (comments or CDATA inside numbers, entity references, missing elements...): such an entry is
parsed here, on its own, with the same code.

The hardened parse (no DTD, no network, no entities; a DOCTYPE is refused) is in
``greenbutton_xml_hardened.py``, the parsing of one IntervalBlock in ``greenbutton_xml_blocks.py``; this
module reads entries and their links and drives the feed (:class:`FeedReader`).
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from workbench.ami.readers.greenbutton_xml_blocks import _parse_block, _Xp
from workbench.ami.readers.greenbutton_xml_espi import _CONTENT, _LINK, _TITLE
from workbench.ami.readers.greenbutton_xml_feed import _Feed
from workbench.ami.readers.greenbutton_xml_hardened import _iter_entries, _root_checker
from workbench.ami.readers.greenbutton_xml_pieces import _ParsedBlock, _Pieces


def _links(entry) -> tuple[str | None, str | None, list[str]]:
    self_href = up_href = None
    related = []
    for link in entry.iterchildren(_LINK):
        rel, href = link.get("rel"), link.get("href")
        if href is None:
            continue
        href = href.strip()
        if rel == "self":
            self_href = href
        elif rel == "up":
            up_href = href
        elif rel == "related":
            related.append(href)
    return self_href, up_href, related


def _espi_resource(entry):
    content = entry.find(_CONTENT)
    if content is None:
        return None
    for child in content:
        if isinstance(child.tag, str):
            return child
    return None


def _prescan(feed: _Feed, path: Path) -> None:
    for entry in _iter_entries(path, _root_checker(path)):
        res = _espi_resource(entry)
        if res is None:
            continue
        kind = etree.QName(res).localname
        if kind != "IntervalBlock":
            s, u, rel = _links(entry)
            feed.add_resource(kind, res, s, u, rel, entry.findtext(_TITLE))


class FeedReader:
    """The reading state of one feed (links, pending blocks, output, row ordinals), fed entry by entry.

    Both engines drive it: the lxml engine with every entry, the scan engine with runs of IntervalBlocks it
    parsed itself (:meth:`blocks`) and with the entries it hands over as lxml elements (:meth:`entry`).
    Every method that may emit batches is a generator.
    """

    def __init__(self, path: Path, tally, batch_rows: int, max_pending: int, meter_ids: dict | None):
        self.path, self.tally = path, tally
        self.feed = _Feed(path, tally, max_pending, meter_ids)
        self.out = _Pieces(str(path), batch_rows)
        self.next_row = 1  # ordinal of the next IntervalReading in the file
        self.entries_done = 0  # Atom entries read, in document (end-tag) order

    def entry(self, entry, line_offset=0):
        """One Atom entry element (hardened-parsed); ``line_offset`` (int, or a function giving it) corrects
        its ``sourceline`` in messages."""
        self.entries_done += 1
        res = _espi_resource(entry)
        if res is None:
            return
        kind = etree.QName(res).localname
        s, u, rel = _links(entry)
        if kind == "IntervalBlock":
            xp = _Xp(etree.QName(res).namespace or "")
            for blk in xp.blocks(res.getparent()):
                block = _parse_block(blk, xp, self.next_row, line_offset)
                yield from self.blocks(u, block)
            yield from self.check_pending()
        else:
            feed = self.feed
            feed.add_resource(kind, res, s, u, rel, entry.findtext(_TITLE))
            if kind in ("ReadingType", "MeterReading", "UsagePoint") and feed.pending:
                for b in feed.release():
                    yield from self.out.add(b)

    def blocks(self, up: str | None, block: _ParsedBlock):
        """Readings of one IntervalBlock (or of consecutive blocks with the same ``up`` link)."""
        self.next_row += len(block)
        self.tally.read += len(block)
        converted = self.feed.take_block(up, block)
        if converted is not None:
            yield from self.out.add(converted)

    def check_pending(self):
        """Past ``max_pending_readings`` held readings, learn every link of the file and go on."""
        feed = self.feed
        if feed.pending_rows <= feed.max_pending or feed.prescanned:
            return
        _prescan(feed, self.path)
        feed.prescanned = True
        for b in feed.release():
            yield from self.out.add(b)
        for up, blocks in list(feed.pending.items()):
            mr = feed.meter_reading_for_block(up or None)
            for block in blocks:
                feed.reject_unlinked(up, block, mr)
        feed.pending.clear()
        feed.pending_rows = 0

    def finish(self):
        for b in self.feed.finish():
            yield from self.out.add(b)
        self.tally.metadata.update(self.feed.metadata())
        yield from self.out.finish()


def lxml_entries(reader: FeedReader, skip_entries: int = 0):
    """The lxml engine: every entry of the file through ``reader`` (the first ``skip_entries`` skipped).
    The caller ends with ``reader.finish()``."""
    for i, entry in enumerate(_iter_entries(reader.path, _root_checker(reader.path))):
        if i >= skip_entries:
            yield from reader.entry(entry)
