"""numba kernel of the Green Button scan engine, part 1: the IntervalReadings of one IntervalBlock body.

:func:`_body` reads a block body only when it has the plain shape real feeds use, with every reading's
numbers exactly representable the way the lxml engine reads them; anything else (an attribute, a CDATA
section, an entity reference, a missing or repeated element, an unusual number) makes it give the block up,
and the caller leaves the entry to the lxml engine. So a block is either read exactly as the lxml engine
reads it, or not at all. Part 2 (``greenbutton_xml_entries``) walks the entries around the blocks.

A body is ``[<interval>...</interval>] <IntervalReading>...</IntervalReading>*``, with whitespace, comments
and processing instructions between elements. Each IntervalReading holds, in any order, one ``timePeriod``
(one ``duration`` and one ``start``, in any order), one ``value``, at most one ``cost`` (ignored) and at
most one ``ReadingQuality`` holding one ``quality``. Every element uses the block's own prefix and has no
attribute. Numbers:

- ``duration``/``start``: optional ``-`` and 1 to 15 digits (exact in a float64, as the lxml engine reads
  them);
- ``value``: optional ``-``, digits with an optional fraction and exponent, at most 15 significant digits and
  a decimal scale within ±22: then ``m × 10^e`` (or ``m / 10^-e``) is one correctly rounded IEEE operation
  on exact operands, the same double as ``float(text)`` (Clinger's fast path);
- ``quality``: 1 to 9 digits.

Text around a number may hold XML whitespace (space, tab, CR, LF), which ``str.strip`` would remove.
The parser is one flat loop (no helper calls with array arguments in the hot path: numba does not always
inline them, and each call then costs more than the bytes it reads).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_TAG_NAMES = (
    "",  # 0: any other element
    "interval",
    "IntervalReading",
    "timePeriod",
    "duration",
    "start",
    "value",
    "cost",
    "ReadingQuality",
    "quality",
    "IntervalBlock",
)
NAMES = np.frombuffer("".join(_TAG_NAMES).encode("ascii"), dtype=np.uint8).copy()
NAME_LO = np.cumsum([0] + [len(n) for n in _TAG_NAMES[:-1]]).astype(np.int64)
NAME_N = np.array([len(n) for n in _TAG_NAMES], dtype=np.int64)
T_INTERVAL, T_READING, T_PERIOD, T_DURATION, T_START, T_VALUE, T_COST, T_RQ, T_QUALITY, T_BLOCK = range(1, 11)
# (length, first letter) tells the names apart
assert len({(len(n), n[:1]) for n in _TAG_NAMES}) == len(_TAG_NAMES)

POW10 = np.array([10.0**k for k in range(23)])  # exact doubles

# parser states
S_BODY, S_READING, S_PERIOD, S_QUALITY, S_CLOSE = range(5)

LT, GT, SLASH, BANG, QMARK, DASH, DOT = 60, 62, 47, 33, 63, 45, 46


@njit(cache=True, nogil=True)
def _skip_interval(buf, i, hi, pl, pn):
    """Past ``</prefix:interval>`` from inside the block's ``interval`` element (its content is not used);
    -1 on a CDATA section, a nested ``interval`` or no end."""
    n = NAME_N[T_INTERVAL]
    lo = NAME_LO[T_INTERVAL]
    while i < hi:
        if buf[i] != LT:
            i += 1
            continue
        if i + 3 < hi and buf[i + 1] == BANG and buf[i + 2] == DASH and buf[i + 3] == DASH:
            j = i + 4
            while j + 2 < hi and not (buf[j] == DASH and buf[j + 1] == DASH and buf[j + 2] == GT):
                j += 1
            if j + 2 >= hi:
                return -1
            i = j + 3
            continue
        if i + 1 < hi and buf[i + 1] == QMARK:  # a processing instruction (dropped)
            j = i + 2
            while j + 1 < hi and not (buf[j] == QMARK and buf[j + 1] == GT):
                j += 1
            if j + 1 >= hi:
                return -1
            i = j + 2
            continue
        if i + 1 < hi and buf[i + 1] == BANG:
            return -1
        closing = i + 1 < hi and buf[i + 1] == SLASH
        j = i + 1 + closing
        same = j + pn + n < hi
        for m in range(pn):
            if not same or buf[j + m] != buf[pl + m]:
                same = False
        if same:
            j += pn
            for m in range(n):
                if buf[j + m] != NAMES[lo + m]:
                    same = False
                    break
        if same:
            j += n
            c = buf[j]
            if closing:
                for _ in range(hi - j):
                    if buf[j] == 32 or buf[j] == 10 or buf[j] == 13 or buf[j] == 9:
                        j += 1
                    else:
                        break
                if j < hi and buf[j] == GT:
                    return j + 1
            elif c == GT or c == SLASH or c == 32 or c == 10 or c == 13 or c == 9:
                return -1  # a nested <interval>
        i += 1
    return -1


@njit(cache=True, nogil=True)
def _body(buf, i, hi, pl, pn, k, durations, starts, values, codes, code_digits):
    """Read one IntervalBlock body from ``i`` (just past its start tag) into slots ``k...``.

    Returns (next free slot, offset past the block's end tag); slot -1 if the block is given up, -2 if it
    does not fit in the output arrays.
    """
    capacity = durations.size
    state = S_BODY
    first = True  # nothing read yet in the body (an <interval> may come)
    expect = 0  # in S_CLOSE: the element whose end tag must come next
    back = S_BODY  # in S_CLOSE: the state after that end tag
    have_period = have_value = have_cost = have_quality = have_duration = have_start = have_code = False
    duration = start = code = np.int64(0)
    digits = 0
    value = 0.0
    while i < hi:
        c = buf[i]
        if c != LT:
            if c == 32 or c == 10 or c == 13 or c == 9:
                i += 1
                continue
            return -1, i
        if i + 1 >= hi:
            return -1, i
        c = buf[i + 1]
        if c == BANG:  # a comment (dropped, as the lxml engine does); a CDATA section is not taken
            if not (i + 3 < hi and buf[i + 2] == DASH and buf[i + 3] == DASH):
                return -1, i
            j = i + 4
            while j + 2 < hi and not (buf[j] == DASH and buf[j + 1] == DASH and buf[j + 2] == GT):
                j += 1
            if j + 2 >= hi:
                return -1, i
            i = j + 3
            continue
        if c == QMARK:  # a processing instruction (dropped)
            j = i + 2
            while j + 1 < hi and not (buf[j] == QMARK and buf[j + 1] == GT):
                j += 1
            if j + 1 >= hi:
                return -1, i
            i = j + 2
            continue
        closing = c == SLASH
        j = i + 1 + closing
        if j + pn >= hi:
            return -1, i
        for m in range(pn):
            if buf[j + m] != buf[pl + m]:
                return -1, i
        j += pn
        name_lo = j
        for _ in range(hi - j):
            c = buf[j]
            if c == GT or c == SLASH or c == 32 or c == 10 or c == 13 or c == 9:
                break
            j += 1
        name_n = j - name_lo
        for _ in range(hi - j):
            c = buf[j]
            if c == 32 or c == 10 or c == 13 or c == 9:
                j += 1
            else:
                break
        if j >= hi or buf[j] != GT:  # an attribute, a self-closing element, or cut short
            return -1, i
        i = j + 1
        tag = 0
        for t in range(1, NAME_N.size):
            if name_n == NAME_N[t] and buf[name_lo] == NAMES[NAME_LO[t]]:
                tag = t
                for m in range(1, name_n):
                    if buf[name_lo + m] != NAMES[NAME_LO[t] + m]:
                        tag = 0
                        break
                break
        if tag == 0:
            return -1, i

        if state == S_CLOSE:
            if not closing or tag != expect:
                return -1, i
            state = back
        elif closing:
            if state == S_BODY and tag == T_BLOCK:
                return k, i
            elif state == S_READING and tag == T_READING and have_period and have_value:
                if k >= capacity:
                    return -2, i
                durations[k] = duration
                starts[k] = start
                values[k] = value
                codes[k] = code if have_quality else -1
                code_digits[k] = digits if have_quality else 0
                k += 1
                state = S_BODY
            elif state == S_PERIOD and tag == T_PERIOD and have_duration and have_start:
                have_period = True
                state = S_READING
            elif state == S_QUALITY and tag == T_RQ and have_code:
                have_quality = True
                state = S_READING
            else:
                return -1, i
        elif state == S_BODY:
            if tag == T_INTERVAL and first:
                i = _skip_interval(buf, i, hi, pl, pn)
                if i < 0:
                    return -1, hi
            elif tag == T_READING:
                state = S_READING
                have_period = have_value = have_cost = have_quality = False
            else:
                return -1, i
            first = False
        elif state == S_READING and tag == T_PERIOD and not have_period:
            state = S_PERIOD
            have_duration = have_start = False
        elif state == S_READING and tag == T_RQ and not have_quality:
            state = S_QUALITY
            have_code = False
        elif state == S_READING and tag == T_COST and not have_cost:
            for _ in range(hi - i):  # the cost text is not used
                if buf[i] == LT:
                    break
                i += 1
            have_cost = True
            state, expect, back = S_CLOSE, T_COST, S_READING
        elif state == S_READING and tag == T_VALUE and not have_value:
            # decimal: [-] digits [. digits] [e [+-] digits], surrounded by whitespace
            for _ in range(hi - i):
                if buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9:
                    i += 1
                else:
                    break
            negative = i < hi and buf[i] == DASH
            i += negative
            mantissa = np.int64(0)
            significant = 0  # digits in mantissa, from the first non-zero one
            zeros = 0  # zeros after the last non-zero digit, not yet in mantissa
            fraction = 0
            n_digits = 0
            in_fraction = False
            for _ in range(hi - i):
                c = buf[i]
                if 48 <= c <= 57:
                    n_digits += 1
                    fraction += in_fraction
                    if c == 48:
                        zeros += significant > 0
                    else:
                        for _ in range(zeros):
                            mantissa *= 10
                        mantissa = mantissa * 10 + np.int64(c - 48)
                        significant += zeros + 1
                        zeros = 0
                        if significant > 15:
                            return -1, i
                elif c == DOT and not in_fraction:
                    in_fraction = True
                else:
                    break
                i += 1
            if n_digits == 0:
                return -1, i
            exponent = 0
            if i < hi and (buf[i] == 101 or buf[i] == 69):  # e E
                i += 1
                exp_negative = i < hi and buf[i] == DASH
                if i < hi and (buf[i] == 43 or buf[i] == DASH):
                    i += 1
                exp_digits = 0
                while i < hi and 48 <= buf[i] <= 57 and exp_digits < 4:
                    exponent = exponent * 10 + (buf[i] - 48)
                    exp_digits += 1
                    i += 1
                if exp_digits == 0 or exp_digits > 3:
                    return -1, i
                if exp_negative:
                    exponent = -exponent
            for _ in range(hi - i):
                if buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9:
                    i += 1
                else:
                    break
            if i >= hi or buf[i] != LT:
                return -1, i
            scale = exponent - fraction + zeros
            if mantissa == 0:
                value = 0.0
            elif 0 <= scale <= 22:
                value = float(mantissa) * POW10[scale]
            elif -22 <= scale < 0:
                value = float(mantissa) / POW10[-scale]
            else:
                return -1, i
            if negative:
                value = -value
            have_value = True
            state, expect, back = S_CLOSE, T_VALUE, S_READING
        elif (
            state == S_PERIOD
            and ((tag == T_DURATION and not have_duration) or (tag == T_START and not have_start))
        ) or (state == S_QUALITY and tag == T_QUALITY and not have_code):
            # integer: [-] digits (no sign and at most 9 digits for a quality code), surrounded by whitespace
            for _ in range(hi - i):
                if buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9:
                    i += 1
                else:
                    break
            negative = tag != T_QUALITY and i < hi and buf[i] == DASH
            i += negative
            number = np.int64(0)
            n_digits = 0
            for _ in range(hi - i):
                c = buf[i]
                if c < 48 or c > 57:
                    break
                number = number * 10 + np.int64(c - 48)
                n_digits += 1
                i += 1
            if n_digits > 15:
                return -1, i
            for _ in range(hi - i):
                if buf[i] == 32 or buf[i] == 10 or buf[i] == 13 or buf[i] == 9:
                    i += 1
                else:
                    break
            if n_digits == 0 or i >= hi or buf[i] != LT:
                return -1, i
            if negative:
                number = -number
            if tag == T_DURATION:
                duration, have_duration, back = number, True, S_PERIOD
            elif tag == T_START:
                start, have_start, back = number, True, S_PERIOD
            else:
                if n_digits > 9:
                    return -1, i
                code, digits, have_code, back = number, n_digits, True, S_QUALITY
            state, expect = S_CLOSE, tag
        else:
            return -1, i
    return -1, i  # the end of the buffer came first
