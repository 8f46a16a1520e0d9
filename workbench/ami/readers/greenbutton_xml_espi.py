"""Green Button XML: the ESPI vocabulary both engines share.

The Atom and ESPI namespaces and the Atom tags an entry is read by, the ReadingType codes the reader accepts
or refuses (flow direction, unit of measure, kind, QualityOfReading, accumulationBehaviour), a lenient
integer parse for ESPI text fields (:func:`_int_or_none`) and the meter id a UsagePoint href stands for
(:func:`meter_from_href`).
"""

from __future__ import annotations

import re

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
_ENTRY = f"{{{ATOM}}}entry"
_LINK = f"{{{ATOM}}}link"
_CONTENT = f"{{{ATOM}}}content"
_TITLE = f"{{{ATOM}}}title"

FLOW_DELIVERED = 1  # forward: energy delivered to the customer
FLOW_RECEIVED = 19  # reverse: energy received from the customer
UOM_WH = 72
UOM_VARH = 73  # reactive energy, VArh (ESPI UnitSymbolKind; 63 is VAr, reactive power): the 'reactive' channel
UOM_W = 38
KIND_DEMAND = 8
#: QualityOfReading codes that mean "not an actual read": 7 manually edited, 8 estimated using a
#: reference day, 9 estimated using linear interpolation
ESTIMATED_QUALITY_CODES = frozenset({7, 8, 9})
#: accumulationBehaviour codes accepted as interval energy: absent/0 "none", 4 deltaData
_DELTA_ACCUMULATION = frozenset({0, 4})
_FLOW_NAMES = {4: "net", 20: "total", 0: "none"}


def _int_or_none(text) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            return None
        return int(f) if f.is_integer() else None


_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.I)


def meter_from_href(href: str) -> str:
    """A UsagePoint href as a meter id: without scheme/host, ESPI resource root or leading slash."""
    h = _PREFIX.sub("", href.strip())
    cut = h.find("/resource/")
    if cut >= 0:
        h = h[cut + len("/resource/") :]
    return h.strip("/") or href
