"""numba kernel of the Green Button scan engine, part 2: whole Atom entries holding IntervalBlocks.

:func:`scan_entries` walks the root's children from an offset and reads, one after the other, the entries
of the plain shape real feeds use: ``<entry>`` (the root's Atom prefix, no namespace declaration) holding
``link`` elements, childless elements (id, title, published...) and one ``content`` whose children are
IntervalBlocks (all with the same start tag, so in the same namespace), read by
:func:`~workbench.kernels.greenbutton_xml._body`. It records each entry's span, the href of its
last ``rel="up"`` link and its readings, and stops at the first thing of another shape (another resource, an
attribute it does not take, an entity reference where it matters, the end of the buffer) for the Python
side to deal with. Like ``_body``, it either reads an entry exactly as the lxml engine would, or leaves it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from workbench.kernels.greenbutton_xml import BANG, DASH, GT, LT, QMARK, SLASH, _body

# why the kernel's scan_entries stopped
STOP_OTHER = 0  # something else than an entry at the top level (the feed's own elements, its end...)
STOP_UNUSUAL = 1  # an entry the kernel does not read (another resource, an unusual layout)
STOP_MORE = 2  # the entry (or a comment) goes on past the end of the buffer
STOP_FULL = 3  # the output arrays are full

_OK = -1  # _entry read the entry (else it returns a STOP_* reason)

_ENTRY, _LINK, _CONTENT, _BLOCK, _UP, _REL, _HREF, _XMLNS = (
    np.frombuffer(w, dtype=np.uint8).copy()
    for w in (b"entry", b"link", b"content", b"IntervalBlock", b"up", b"rel", b"href", b"xmlns")
)


@njit(cache=True, nogil=True)
def _is(buf, lo, n, word) -> bool:
    """Whether ``buf[lo:lo + n]`` is ``word``."""
    if n != word.size:
        return False
    for m in range(n):
        if buf[lo + m] != word[m]:
            return False
    return True


@njit(cache=True, nogil=True)
def _starts_with(buf, i, hi, word) -> bool:
    if i + word.size > hi:
        return False
    for m in range(word.size):
        if buf[i + m] != word[m]:
            return False
    return True


@njit(cache=True, nogil=True)
def _skip_space(buf, i, hi):
    """Past whitespace, comments and processing instructions at ``i``; -1 if one of them is not closed."""
    while i < hi:
        c = buf[i]
        if c == 32 or c == 10 or c == 13 or c == 9:
            i += 1
        elif c == LT and i + 3 < hi and buf[i + 1] == BANG and buf[i + 2] == DASH and buf[i + 3] == DASH:
            j = i + 4
            while j + 2 < hi and not (buf[j] == DASH and buf[j + 1] == DASH and buf[j + 2] == GT):
                j += 1
            if j + 2 >= hi:
                return -1
            i = j + 3
        elif c == LT and i + 1 < hi and buf[i + 1] == QMARK:
            j = i + 2
            while j + 1 < hi and not (buf[j] == QMARK and buf[j + 1] == GT):
                j += 1
            if j + 1 >= hi:
                return -1
            i = j + 2
        else:
            break
    return i


@njit(cache=True, nogil=True)
def _start_tag(buf, i, hi, out):
    """Parse the start tag at ``i`` (``buf[i]`` is '<'). ``out`` gets: [0] name start, [1] name length,
    [2] prefix length with its colon, [3] 1 if self-closing, [4] 1 if an attribute declares a namespace,
    [5]/[6] span of the ``rel`` value, [7]/[8] span of the ``href`` value (-1: none), [9] bit 1 if the
    ``rel`` value holds '&', bit 2 if the ``href`` value does. Returns the offset past the tag, or -1."""
    j = i + 1
    out[0] = j
    out[2] = out[3] = out[4] = out[9] = 0
    out[5] = out[6] = out[7] = out[8] = -1
    if j >= hi or buf[j] == BANG or buf[j] == QMARK or buf[j] == SLASH:
        return -1
    while j < hi:
        c = buf[j]
        if c == GT or c == SLASH or c == 32 or c == 10 or c == 13 or c == 9:
            break
        if c == 58:  # ':'
            out[2] = j + 1 - out[0]
        j += 1
    out[1] = j - out[0]
    if out[1] == 0:
        return -1
    while True:
        while j < hi and (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
            j += 1
        if j >= hi:
            return -1
        c = buf[j]
        if c == GT:
            return j + 1
        if c == SLASH:
            if j + 1 < hi and buf[j + 1] == GT:
                out[3] = 1
                return j + 2
            return -1
        name_lo = j
        while j < hi and buf[j] != 61 and not (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
            if buf[j] == GT or buf[j] == SLASH or buf[j] == LT:
                return -1
            j += 1
        name_n = j - name_lo
        while j < hi and (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
            j += 1
        if j >= hi or buf[j] != 61 or name_n == 0:  # '='
            return -1
        j += 1
        while j < hi and (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
            j += 1
        if j >= hi or (buf[j] != 34 and buf[j] != 39):  # '"' "'"
            return -1
        quote = buf[j]
        j += 1
        value_lo = j
        amp = False
        while j < hi and buf[j] != quote:
            if buf[j] == LT:
                return -1
            amp = amp or buf[j] == 38
            j += 1
        if j >= hi:
            return -1
        if _starts_with(buf, name_lo, name_lo + name_n, _XMLNS) and (name_n == 5 or buf[name_lo + 5] == 58):
            out[4] = 1
        elif _is(buf, name_lo, name_n, _REL):
            out[5], out[6] = value_lo, j
            out[9] |= amp
        elif _is(buf, name_lo, name_n, _HREF):
            out[7], out[8] = value_lo, j
            out[9] |= 2 * amp
        j += 1


@njit(cache=True, nogil=True)
def _end_tag(buf, i, hi, name_lo, name_n):
    """Offset past ``</name ws*>`` at ``i`` (``name`` given by its span in ``buf``), or -1."""
    if i + 2 + name_n >= hi or buf[i] != LT or buf[i + 1] != SLASH:
        return -1
    for m in range(name_n):
        if buf[i + 2 + m] != buf[name_lo + m]:
            return -1
    j = i + 2 + name_n
    while j < hi and (buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9):
        j += 1
    if j < hi and buf[j] == GT:
        return j + 1
    return -1


@njit(cache=True, nogil=True)
def _entry(buf, i, hi, apfx, k, durations, starts, values, codes, code_digits, info, tag):
    """Read the plain IntervalBlock entry at ``i``. On success returns _OK and ``info`` gets [0] the offset
    past it, [1]/[2] the span of its last ``rel="up"`` link's href (-1: none), [3] the next free slot.
    Otherwise returns STOP_UNUSUAL or STOP_FULL."""
    j = _start_tag(buf, i, hi, tag)
    entry_name_lo, entry_name_n = tag[0], tag[1]
    if j < 0 or tag[3] or tag[4] or tag[5] >= 0 or tag[7] >= 0:
        return STOP_UNUSUAL
    up_lo = up_hi = -1
    have_content = False
    while True:
        j = _skip_space(buf, j, hi)
        if j < 0 or j >= hi or buf[j] != LT:
            return STOP_UNUSUAL
        if j + 1 < hi and buf[j + 1] == SLASH:
            end = _end_tag(buf, j, hi, entry_name_lo, entry_name_n)
            if end < 0 or not have_content:
                return STOP_UNUSUAL
            info[0], info[1], info[2], info[3] = end, up_lo, up_hi, k
            return _OK
        j0 = j
        j = _start_tag(buf, j0, hi, tag)
        if j < 0:
            return STOP_UNUSUAL
        name_lo, name_n, pn = tag[0], tag[1], tag[2]
        local_lo, local_n = name_lo + pn, name_n - pn
        atom = pn == apfx.size and _starts_with(buf, name_lo, name_lo + pn, apfx)
        if _is(buf, local_lo, local_n, _LINK):
            if not atom or tag[4] or tag[9] & 1:  # (an entity in rel could spell "up")
                return STOP_UNUSUAL
            if tag[7] >= 0 and _is(buf, tag[5], tag[6] - tag[5], _UP):
                if tag[9] & 2:  # an entity in the up href: lxml decodes it
                    return STOP_UNUSUAL
                up_lo, up_hi = tag[7], tag[8]
            if not tag[3]:
                j = _skip_space(buf, j, hi)
                j = _end_tag(buf, j, hi, name_lo, name_n) if j >= 0 else -1
                if j < 0:
                    return STOP_UNUSUAL
        elif _is(buf, local_lo, local_n, _CONTENT):
            if not atom or tag[4] or tag[3] or have_content:
                return STOP_UNUSUAL
            have_content = True
            content_lo, content_n = name_lo, name_n
            block_lo = block_hi = -1
            pl = pn_block = np.int64(0)
            while True:
                j = _skip_space(buf, j, hi)
                if j < 0 or j + 1 >= hi or buf[j] != LT:
                    return STOP_UNUSUAL
                if buf[j + 1] == SLASH:
                    j = _end_tag(buf, j, hi, content_lo, content_n)
                    if j < 0 or block_lo < 0:
                        return STOP_UNUSUAL
                    break
                b0 = j
                j = _start_tag(buf, b0, hi, tag)
                if j < 0 or tag[3]:
                    return STOP_UNUSUAL
                if block_lo < 0:  # the first block: an IntervalBlock in any namespace
                    if not _is(buf, tag[0] + tag[2], tag[1] - tag[2], _BLOCK):
                        return STOP_UNUSUAL
                    block_lo, block_hi = b0, j
                    pl, pn_block = tag[0], tag[2]
                elif j - b0 != block_hi - block_lo or not _is(buf, b0, j - b0, buf[block_lo:block_hi]):
                    return STOP_UNUSUAL  # every block of the entry has the same start tag (so namespace)
                k, j = _body(buf, j, hi, pl, pn_block, k, durations, starts, values, codes, code_digits)
                if k == -2:
                    return STOP_FULL
                if k < 0:
                    return STOP_UNUSUAL
        elif _is(buf, local_lo, local_n, _ENTRY):
            return STOP_UNUSUAL
        elif not tag[3]:  # another child of the entry (id, title, updated...): text only
            while j < hi and buf[j] != LT:
                j += 1
            j = _end_tag(buf, j, hi, name_lo, name_n)
            if j < 0:
                return STOP_UNUSUAL


@njit(cache=True, nogil=True)
def _closes(buf, i, hi, apfx) -> bool:
    """Whether ``</prefix:entry`` occurs in ``buf[i:hi]`` (a failed entry is then not just cut short)."""
    n = apfx.size
    for j in range(i, hi - n - 7):
        if buf[j] == LT and buf[j + 1] == SLASH:
            same = True
            for m in range(n):
                if buf[j + 2 + m] != apfx[m]:
                    same = False
                    break
            if same and _starts_with(buf, j + 2 + n, hi, _ENTRY):
                return True
    return False


@njit(cache=True, nogil=True)
def scan_entries(buf, pos, final, apfx, entries, durations, starts, values, codes, code_digits):
    """Read the plain IntervalBlock entries that follow one another from ``pos`` (the root's children).

    ``apfx`` is the Atom prefix with its colon (empty for the default namespace). For each entry read,
    ``entries`` gets a row: start offset, end offset, span of its ``up`` href (-1 if none), first and end
    reading slot in the output arrays (see :func:`_body`). Stops at the first thing it does not read.
    Returns (entries read, readings read, offset where it stopped, STOP_* reason).
    """
    hi = buf.size
    n = 0
    k = 0
    i = pos
    info = np.empty(4, np.int64)
    tag = np.empty(10, np.int64)
    while True:
        j = _skip_space(buf, i, hi)
        if j < 0:  # a comment not closed in this buffer
            return n, k, i, STOP_OTHER if final else STOP_MORE
        i = j
        if i >= hi:
            return n, k, i, STOP_OTHER if final else STOP_MORE
        if not (buf[i] == LT and _starts_with(buf, i + 1, hi, apfx)):
            return n, k, i, STOP_OTHER
        after = i + 1 + apfx.size
        if not _starts_with(buf, after, hi, _ENTRY):
            return n, k, i, STOP_OTHER if after + 5 < hi or final else STOP_MORE
        c = buf[after + 5] if after + 5 < hi else 0
        if not (c == GT or c == 32 or c == 10 or c == 13 or c == 9 or c == SLASH):
            return n, k, i, STOP_OTHER if after + 5 < hi or final else STOP_MORE
        if n >= entries.shape[0]:
            return n, k, i, STOP_FULL
        status = _entry(buf, i, hi, apfx, k, durations, starts, values, codes, code_digits, info, tag)
        if status == STOP_FULL:
            return n, k, i, STOP_FULL
        if status != _OK:
            if not final and not _closes(buf, i, hi, apfx):
                return n, k, i, STOP_MORE
            return n, k, i, STOP_UNUSUAL
        entries[n, 0] = i
        entries[n, 1] = info[0]
        entries[n, 2] = info[1]
        entries[n, 3] = info[2]
        entries[n, 4] = k
        entries[n, 5] = info[3]
        k = info[3]
        n += 1
        i = info[0]
