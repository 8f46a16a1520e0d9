"""Well-formedness and safety check of a Green Button XML file, without building a tree.

libxml2 parses the whole file through an lxml parser *target* that has no element callbacks (so no tree is
built and no Python runs per element), with the lxml engine's hardening: no DTD loaded, no entity resolved,
no network, libxml2's size and depth limits. A DOCTYPE is refused at its first byte. On top of libxml2's SAX
checks, namespace errors (an undeclared prefix) count as errors, as they do in a tree parse, and a run of
10,000,000 bytes without markup (libxml2's text-node limit, which only tree building applies) is refused.

This module imports nothing but lxml and the standard library: the scan engine runs it as a script in a
second process (``python greenbutton_xml_check.py FILE`` prints one JSON verdict), beside its own reading.
"""

from __future__ import annotations

import json
import sys

from lxml import etree

CHUNK_BYTES = 1 << 20  # for counting lines
MAX_TEXT_BYTES = 10_000_000  # libxml2's XML_MAX_TEXT_LENGTH without XML_PARSE_HUGE


class _DoctypeRefused(Exception):
    pass


class _Target:
    """Parser target: no start/end/data callbacks (libxml2 then skips them), refuses any DOCTYPE."""

    def doctype(self, *args):
        raise _DoctypeRefused

    def close(self):
        return None


class _TextRuns:
    """File reader for libxml2 that also finds runs of more than MAX_TEXT_BYTES bytes without a '<'."""

    def __init__(self, f):
        self.f = f
        self.offset = 0
        self.last_markup = 0  # file offset of the last '<' read
        self.too_long_at = None

    def read(self, n: int) -> bytes:
        chunk = self.f.read(n)
        if self.too_long_at is not None:
            return b""
        first = chunk.find(b"<")
        end = self.offset + (first if first >= 0 else len(chunk))
        if end - self.last_markup > MAX_TEXT_BYTES:
            self.too_long_at = self.last_markup
            return b""
        if first >= 0:
            self.last_markup = self.offset + chunk.rfind(b"<")
        self.offset += len(chunk)
        return chunk


#: the libxml2 settings of every parse of untrusted XML here: no entity expansion, no DTD, no network, no huge
#: trees (the check and both reading engines use them)
HARDENED = dict(
    resolve_entities=False,
    load_dtd=False,
    no_network=True,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def check_file(path) -> dict:
    """The verdict on one file: ``{"ok": True}``, ``{"error": "doctype"}``,
    ``{"error": "malformed", "line": int | None, "msg": str}`` or ``{"error": "os", "msg": str}``."""
    parser = etree.XMLParser(target=_Target(), **HARDENED)
    try:
        with open(path, "rb") as f:
            runs = _TextRuns(f)
            try:
                etree.parse(runs, parser)
            except etree.XMLSyntaxError:
                if runs.too_long_at is None:
                    raise
            if runs.too_long_at is not None:  # the reader stopped there: libxml2 saw a cut file
                return _too_long(path, runs.too_long_at)
    except _DoctypeRefused:
        return {"error": "doctype"}
    except etree.XMLSyntaxError as e:
        line, msg = e.lineno, (e.msg or str(e)).strip()
        fatals = [entry for entry in (e.error_log or []) if entry.level_name == "FATAL"]
        if fatals:  # libxml2's own (latest) fatal error is more precise than the summary exception
            line, msg = fatals[-1].line, fatals[-1].message.strip()
        return {"error": "malformed", "line": line, "msg": msg}
    except OSError as e:
        return {"error": "os", "msg": str(e)}
    errors = [entry for entry in parser.error_log if entry.level_name in ("ERROR", "FATAL")]
    if errors:  # e.g. an undeclared namespace prefix: an error in a tree parse, not in SAX
        return {"error": "malformed", "line": errors[0].line, "msg": errors[0].message.strip()}
    return {"ok": True}


def _too_long(path, offset: int) -> dict:
    with open(path, "rb") as f:
        line = 1
        done = 0
        while done < offset:
            chunk = f.read(min(CHUNK_BYTES, offset - done))
            if not chunk:
                break
            line += chunk.count(b"\n")
            done += len(chunk)
    return {
        "error": "malformed",
        "line": line,
        "msg": f"Resource limit exceeded: over {MAX_TEXT_BYTES:,} bytes of text or attribute without markup",
    }


def _peak_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration, ValueError):
        return None


if __name__ == "__main__":
    print(json.dumps(check_file(sys.argv[1]) | {"peak_kib": _peak_kib()}), flush=True)
