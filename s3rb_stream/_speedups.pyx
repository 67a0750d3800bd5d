# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled speed-ups of the two hottest loops, each with a pure-Python reference it must equal
(docs/ARCHITECTURE.md, "Throughput"):

* :class:`CompiledDecoder`, row images → tuples, the same values as the generated Python decoder
  of :mod:`s3rb_stream.sources.row_decoder`. It is built from a *plan*, one step per column
  (``row_decoder.decoder_plan``): the common types (integers, floats, DECIMAL up to 18 digits,
  text, bytes, DATE, DATETIME, TIMESTAMP) are decoded here; any other column calls back into the
  reference's own code for that column, so a rare type never needs code in two languages. Every
  read is checked against the end of the event: a torn image raises ValueError, as the
  reference does.
* :func:`columns_buffers`, the columns of a batch of changes, or of a page of text-protocol rows
  (snapshots), → Arrow buffers: the same arrays as ``pyarrow.array`` makes
  (``store.parquet.changes_to_table``, ``core.text_values.rows_to_arrays``); anything unusual
  is left to it.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport date_new, datetime_new, import_datetime
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.float cimport PyFloat_FromDouble
from cpython.tuple cimport PyTuple_Check, PyTuple_GET_SIZE, PyTuple_New, PyTuple_SET_ITEM
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeUTF8, PyUnicode_Decode
from libc.string cimport memcpy
from libc.stdint cimport int64_t, uint64_t, int32_t, uint32_t

import datetime as py_datetime
import decimal as py_decimal
import sys

if sys.byteorder != "little":  # floats are copied as the host lays them out
    raise ImportError("the compiled row decoder needs a little-endian host")

import_datetime()

# Step kinds; row_decoder.decoder_plan names them (see KINDS).
cdef enum:
    K_INT = 0            # a: width 1-8, b: 1 if signed; little-endian
    K_FLOAT = 1
    K_DOUBLE = 2
    K_YEAR = 3
    K_DECIMAL = 4        # a: precision (<= 18), b: scale
    K_TEXT = 5           # a: length prefix width; extra: the codec, None for utf-8
    K_BYTES = 6          # a: length prefix width, b: pad to (BINARY), 0 for none
    K_DATE = 7
    K_DATETIME2 = 8      # a: fractional precision (fsp)
    K_TIMESTAMP2 = 9     # a: fsp
    K_CALL = 10          # extra(buf, p) -> (value, the position after it): the reference's code

KINDS = {
    "int": K_INT, "float": K_FLOAT, "double": K_DOUBLE, "year": K_YEAR, "decimal": K_DECIMAL,
    "text": K_TEXT, "bytes": K_BYTES, "date": K_DATE, "datetime2": K_DATETIME2,
    "timestamp2": K_TIMESTAMP2, "call": K_CALL,
}
MAX_DECIMAL_DIGITS = 18  # the digits of a DECIMAL decoded here (int64); wider ones call back

cdef object _Decimal = py_decimal.Decimal
cdef object _UTC = py_datetime.timezone.utc
cdef int _DECIMAL_BYTES[10]
_DECIMAL_BYTES[:] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
cdef uint64_t _POW10[19]
_POW10[0] = 1
for _i in range(1, 19):
    _POW10[_i] = _POW10[_i - 1] * 10
cdef int _DAYS_IN_MONTH[13]
_DAYS_IN_MONTH[:] = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


cdef struct Step:
    int kind
    int a
    int b
    int nullable


cdef inline bint _leap(long y) noexcept:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


cdef inline bint _valid_date(long y, long m, long d) noexcept:
    """Python's own date() limits: what it would refuse is NULL, as the reference makes it."""
    if y < 1 or y > 9999 or m < 1 or m > 12 or d < 1:
        return False
    if m == 2 and _leap(y):
        return d <= 29
    return d <= _DAYS_IN_MONTH[m]


cdef inline uint64_t _big(const unsigned char* s, int width) noexcept:
    cdef uint64_t x = 0
    cdef int i
    for i in range(width):
        x = (x << 8) | s[i]
    return x


cdef inline uint64_t _little(const unsigned char* s, int width) noexcept:
    cdef uint64_t x = 0
    cdef int i
    for i in range(width - 1, -1, -1):
        x = (x << 8) | s[i]
    return x


cdef inline long _micros(const unsigned char* s, int fsp) noexcept:
    """Microseconds stored in (fsp + 1) // 2 big-endian bytes; an odd precision's last digit is 0."""
    cdef int width = (fsp + 1) // 2
    if width == 0:
        return 0
    cdef long raw = <long>_big(s, width)
    if fsp % 2:
        return (raw // 10) * <long>_POW10[6 - fsp]
    return raw * <long>_POW10[6 - fsp]


cdef object _decimal(const unsigned char* s, int precision, int scale):
    """MySQL's binary DECIMAL (see row_decoder._emit_decimal) as a Decimal equal, exponent included,
    to the reference's Decimal(n).scaleb(-scale); built from its text, which is exact."""
    cdef int int_full = (precision - scale) // 9, int_left = (precision - scale) % 9
    cdef int frac_full = scale // 9, frac_left = scale % 9
    cdef int size = _DECIMAL_BYTES[int_left] + 4 * int_full + 4 * frac_full + _DECIMAL_BYTES[frac_left]
    cdef unsigned char raw[32]
    cdef bint neg = not (s[0] & 0x80)
    cdef int i, at = 0, width
    cdef uint64_t n = 0, group
    memcpy(raw, s, size)
    raw[0] ^= 0x80
    if neg:
        for i in range(size):
            raw[i] = ~raw[i]
    # groups, most significant first: int_left digits, 9-digit groups, frac_left digits
    width = _DECIMAL_BYTES[int_left]
    if width:
        group = _big(raw, width)
        if group >= _POW10[int_left]:
            raise ValueError("a DECIMAL value has a digit group out of range")
        n = group
        at = width
    for i in range(int_full + frac_full):
        group = _big(raw + at, 4)
        if group >= 1000000000:
            raise ValueError("a DECIMAL value has a digit group out of range")
        n = n * 1000000000 + group
        at += 4
    width = _DECIMAL_BYTES[frac_left]
    if width:
        group = _big(raw + at, width)
        if group >= _POW10[frac_left]:
            raise ValueError("a DECIMAL value has a digit group out of range")
        n = n * _POW10[frac_left] + group
    # text: [-]digits with a point before the last `scale` digits, at least one digit before it
    cdef char text[48]
    cdef char digits[24]
    cdef int count = 0, out = 0
    cdef bint negative = neg and n != 0  # Decimal(0) has no sign
    while True:
        digits[count] = <char>(48 + n % 10)
        n //= 10
        count += 1
        if n == 0:
            break
    while count <= scale:
        digits[count] = 48
        count += 1
    if negative:
        text[out] = 45  # '-'
        out += 1
    for i in range(count - 1, -1, -1):
        text[out] = digits[i]
        out += 1
        if i == scale and scale:
            text[out] = 46  # '.'
            out += 1
    return _Decimal(text[:out].decode("ascii"))


cdef object _timestamp(int64_t seconds, long micros):
    """epoch + timedelta(0, seconds, micros) in UTC: days from the epoch to a civil date."""
    seconds += micros // 1000000
    micros = micros % 1000000
    cdef int64_t days = seconds // 86400, rest = seconds % 86400
    if rest < 0:
        rest += 86400
        days -= 1
    # Howard Hinnant's civil_from_days
    days += 719468
    cdef int64_t era = (days if days >= 0 else days - 146096) // 146097
    cdef int64_t doe = days - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t y = yoe + era * 400
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t d = doy - (153 * mp + 2) // 5 + 1
    cdef int64_t m = mp + 3 if mp < 10 else mp - 9
    if m <= 2:
        y += 1
    return datetime_new(<int>y, <int>m, <int>d, <int>(rest // 3600), <int>(rest // 60 % 60), <int>(rest % 60),
                        <int>micros, _UTC)


cdef class CompiledDecoder:
    """Decodes every row image of a rows event body from ``pos`` to ``end`` into tuples."""

    cdef Step* steps
    cdef int count
    cdef int null_bytes
    cdef tuple calls
    cdef tuple encodings

    def __cinit__(self, plan):
        """``plan``: (kind name, a, b, nullable, callable or encoding or None) per column."""
        self.count = len(plan)
        self.null_bytes = (self.count + 7) // 8
        self.steps = <Step*>PyMem_Malloc(max(1, self.count) * sizeof(Step))
        if self.steps == NULL:
            raise MemoryError()
        calls, encodings = [], []
        for i, (kind, a, b, nullable, extra) in enumerate(plan):
            self.steps[i].kind = KINDS[kind]
            self.steps[i].a = a
            self.steps[i].b = b
            self.steps[i].nullable = 1 if nullable else 0
            if kind == "decimal" and not (1 <= a <= MAX_DECIMAL_DIGITS and 0 <= b <= a):
                raise ValueError(f"DECIMAL({a},{b}) is wider than the compiled decoder's {MAX_DECIMAL_DIGITS} digits")
            if kind == "int" and not 1 <= a <= 8:
                raise ValueError(f"an integer of {a} bytes")
            if kind in ("datetime2", "timestamp2") and not 0 <= a <= 6:
                raise ValueError(f"a fractional precision of {a}")
            if kind in ("text", "bytes") and not 1 <= a <= 4:
                raise ValueError(f"a length prefix of {a} bytes")
            if kind == "call" and not callable(extra):
                raise ValueError("a call step needs a function")
            calls.append(extra if kind == "call" else None)
            encodings.append(extra.encode("ascii") if kind == "text" and extra is not None else None)
        self.calls = tuple(calls)
        self.encodings = tuple(encodings)

    def __call__(self, bytes buf not None, Py_ssize_t pos, Py_ssize_t end):
        cdef const unsigned char* s = <const unsigned char*>PyBytes_AS_STRING(buf)
        cdef Py_ssize_t p = pos, n
        cdef Py_ssize_t size = PyBytes_GET_SIZE(buf)
        cdef list images = []
        cdef tuple row
        cdef object v
        cdef int i, width, kind
        cdef const unsigned char* nulls
        cdef Step* step
        cdef uint64_t x
        cdef int64_t sx
        cdef long y, m, d, hh, mi, ss, us, ym
        cdef float f
        cdef double g
        if end > size or pos < 0:
            raise ValueError(f"row images end at byte {end}, the event at {size}")
        while p < end:
            if p + self.null_bytes > end:
                raise ValueError("a row image is cut short")
            nulls = s + p
            p += self.null_bytes
            row = PyTuple_New(self.count)
            for i in range(self.count):
                step = &self.steps[i]
                if step.nullable and (nulls[i >> 3] >> (i & 7)) & 1:
                    v = None
                else:
                    kind = step.kind
                    if kind == K_INT:
                        width = step.a
                        if p + width > end:
                            raise ValueError("a row image is cut short")
                        x = _little(s + p, width)
                        p += width
                        if step.b:
                            if width < 8 and x >> (8 * width - 1):
                                x |= ~((<uint64_t>1 << (8 * width)) - 1)  # sign-extend
                            v = PyLong_FromLongLong(<int64_t>x)
                        else:
                            v = PyLong_FromUnsignedLongLong(x)
                    elif kind == K_TEXT or kind == K_BYTES:
                        width = step.a
                        if p + width > end:
                            raise ValueError("a row image is cut short")
                        n = <Py_ssize_t>_little(s + p, width)
                        p += width
                        if p + n > end:
                            raise ValueError("a row image is cut short")
                        if kind == K_TEXT:
                            if self.encodings[i] is None:
                                v = PyUnicode_DecodeUTF8(<const char*>(s + p), n, NULL)
                            else:
                                v = PyUnicode_Decode(<const char*>(s + p), n, <bytes>self.encodings[i], NULL)
                        elif n < step.b:  # BINARY: the binlog drops trailing zero bytes
                            v = PyBytes_FromStringAndSize(<const char*>(s + p), n) + b"\x00" * (step.b - n)
                        else:
                            v = PyBytes_FromStringAndSize(<const char*>(s + p), n)
                        p += n
                    elif kind == K_DECIMAL:
                        width = (_DECIMAL_BYTES[(step.a - step.b) % 9] + 4 * ((step.a - step.b) // 9)
                                 + 4 * (step.b // 9) + _DECIMAL_BYTES[step.b % 9])
                        if p + width > end:
                            raise ValueError("a row image is cut short")
                        v = _decimal(s + p, step.a, step.b)
                        p += width
                    elif kind == K_DATETIME2:
                        width = 5 + (step.a + 1) // 2
                        if p + width > end:
                            raise ValueError("a row image is cut short")
                        x = _big(s + p, 5)
                        us = _micros(s + p + 5, step.a)
                        ym = (x >> 22) & 0x1FFFF
                        y, m, d = ym // 13, ym % 13, (x >> 17) & 31
                        hh, mi, ss = (x >> 12) & 31, (x >> 6) & 63, x & 63
                        if _valid_date(y, m, d) and hh < 24 and mi < 60 and ss < 60 and 0 <= us < 1000000:
                            v = datetime_new(y, m, d, hh, mi, ss, us, None)
                        else:
                            v = None
                        p += width
                    elif kind == K_TIMESTAMP2:
                        width = 4 + (step.a + 1) // 2
                        if p + width > end:
                            raise ValueError("a row image is cut short")
                        sx = <int32_t><uint32_t>_big(s + p, 4)
                        us = _micros(s + p + 4, step.a)
                        v = _timestamp(sx, us) if sx or us else None
                        p += width
                    elif kind == K_DOUBLE:
                        if p + 8 > end:
                            raise ValueError("a row image is cut short")
                        memcpy(&g, s + p, 8)
                        v = PyFloat_FromDouble(g)
                        p += 8
                    elif kind == K_FLOAT:
                        if p + 4 > end:
                            raise ValueError("a row image is cut short")
                        memcpy(&f, s + p, 4)
                        v = PyFloat_FromDouble(<double>f)
                        p += 4
                    elif kind == K_DATE:
                        if p + 3 > end:
                            raise ValueError("a row image is cut short")
                        x = _little(s + p, 3)
                        y, m, d = x >> 9, (x >> 5) & 15, x & 31
                        v = date_new(y, m, d) if _valid_date(y, m, d) else None
                        p += 3
                    elif kind == K_YEAR:
                        if p + 1 > end:
                            raise ValueError("a row image is cut short")
                        v = PyLong_FromLongLong(s[p] + 1900)
                        p += 1
                    else:  # K_CALL
                        v, n = self.calls[i](buf, p)
                        if n > end or n < p:
                            raise ValueError("a row image is cut short")
                        p = n
                Py_INCREF(v)
                PyTuple_SET_ITEM(row, i, v)
            images.append(row)
        if p != end:
            raise ValueError(f"row images end at byte {p}, the event at {end}")
        return images

    def __dealloc__(self):
        PyMem_Free(self.steps)


# --------------------------------------------------------------------------- batches → Arrow buffers

from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from cpython.datetime cimport (
    PyDate_CheckExact, PyDateTime_CheckExact, PyDateTime_DATE_GET_HOUR, PyDateTime_DATE_GET_MICROSECOND,
    PyDateTime_DATE_GET_MINUTE, PyDateTime_DATE_GET_SECOND, PyDateTime_GET_DAY, PyDateTime_GET_MONTH,
    PyDateTime_GET_YEAR, datetime_tzinfo,
)
from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_CheckExact
from libc.stdint cimport int8_t, int16_t

# Column kinds of columns_buffers; store/parquet.py and core/text_values.py map Arrow types to them.
COLUMN_KINDS = {"int16": 0, "int32": 1, "int64": 2, "float32": 3, "float64": 4, "date32": 5,
                "timestamp": 6, "timestamp_utc": 7, "string": 8, "binary": 9}


cdef inline int64_t _days(long y, long m, long d) noexcept:
    """Days from 1970-01-01 to a civil date (Howard Hinnant's days_from_civil)."""
    y -= m <= 2
    cdef int64_t era = (y if y >= 0 else y - 399) // 400
    cdef int64_t yoe = y - era * 400
    cdef int64_t doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    cdef int64_t doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


cdef struct Column:
    int kind  # COLUMN_KINDS; -1 once declined
    int width  # bytes a value, fixed-width kinds
    char* out
    unsigned char* valid
    int32_t* offs
    Py_ssize_t size  # bytes of text so far
    Py_ssize_t capacity
    Py_ssize_t nulls
    bint saw_bytes


cdef inline bint _put_text(Column* c, list held, Py_ssize_t slot, Py_ssize_t i, const char* text,
                           Py_ssize_t length) except -1:
    """Append one value's bytes to a text column, growing its data buffer (held[slot]) as needed."""
    if c.size + length > 2147483647:
        return False  # beyond 32-bit offsets
    if c.size + length > c.capacity:
        c.capacity = max(c.capacity * 2, c.size + length)
        PyByteArray_Resize(held[slot], c.capacity)
        c.out = PyByteArray_AS_STRING(held[slot])
    memcpy(c.out + c.size, text, length)
    c.size += length
    c.offs[i + 1] = <int32_t>c.size
    return True


cdef inline bint _put(Column* c, list held, Py_ssize_t slot, Py_ssize_t i, object v, bint loose) except -1:
    """Write value ``v`` at row ``i`` of column ``c``; False when the value is not one this kind takes."""
    cdef int overflow
    cdef long long x
    cdef double g
    cdef const char* text
    cdef Py_ssize_t length
    cdef int kind = c.kind
    if v is None:
        c.nulls += 1
        c.valid[i >> 3] &= ~(1 << (i & 7))
        if kind >= 8:
            c.offs[i + 1] = <int32_t>c.size
        return True
    if kind <= 2:
        if not PyLong_CheckExact(v):
            return False
        x = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow or (kind == 0 and not -32768 <= x <= 32767) or (kind == 1 and not -2147483648 <= x <= 2147483647):
            return False
        if kind == 0:
            (<int16_t*>c.out)[i] = <int16_t>x
        elif kind == 1:
            (<int32_t*>c.out)[i] = <int32_t>x
        else:
            (<int64_t*>c.out)[i] = <int64_t>x
    elif kind <= 4:
        if not PyFloat_CheckExact(v):
            return False
        g = PyFloat_AS_DOUBLE(v)
        if kind == 3:
            (<float*>c.out)[i] = <float>g
        else:
            (<double*>c.out)[i] = g
    elif kind == 5:
        if not PyDate_CheckExact(v):
            return False
        (<int32_t*>c.out)[i] = <int32_t>_days(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v))
    elif kind <= 7:
        if not PyDateTime_CheckExact(v):
            return False
        if kind == 6:
            if datetime_tzinfo(v) is not None:
                return False
        elif datetime_tzinfo(v) is not _UTC:
            return False
        (<int64_t*>c.out)[i] = (
            (_days(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v)) * 86400
             + PyDateTime_DATE_GET_HOUR(v) * 3600 + PyDateTime_DATE_GET_MINUTE(v) * 60
             + PyDateTime_DATE_GET_SECOND(v)) * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v)
        )
    else:
        if type(v) is bytes and (kind == 9 or loose):
            c.saw_bytes = c.saw_bytes or kind == 8
            return _put_text(c, held, slot, i, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))
        if PyUnicode_CheckExact(v) and (kind == 8 or loose):
            try:
                text = PyUnicode_AsUTF8AndSize(v, &length)
            except UnicodeError:
                return False
            return _put_text(c, held, slot, i, text, length)
        return False
    return True


def columns_buffers(list rows, list wanted, bint changes):
    """Arrow buffers of several columns of ``rows``, filled in one pass over the rows (each row's
    objects are visited once, while in cache: a pass per column was memory-bound).

    ``changes``: rows are changes (values at ``row[3]``; index -1 is the sequence ``row[1]``), and
    each kind takes only its exact Python type; otherwise rows are text-protocol tuples and a
    string or binary column takes bytes or str (as pyarrow's conversion does).
    ``wanted``: (index, kind) per column. Returns, per column, (null_count, validity, data,
    offsets, saw_bytes), offsets None but for text and bytes, or None where a value was not of the
    type the kind takes, did not fit it, or was a datetime in a zone other than UTC: the caller
    then converts that column with pyarrow's own conversion, which decides (and raises) as it
    always did. ``saw_bytes``: a string column got bytes, whose UTF-8 the caller must check."""
    cdef Py_ssize_t n = len(rows), ncols = len(wanted), i, k, width
    cdef Column* cols = <Column*>PyMem_Malloc(max(1, ncols) * sizeof(Column))
    cdef Py_ssize_t* indexes = <Py_ssize_t*>PyMem_Malloc(max(1, ncols) * sizeof(Py_ssize_t))
    cdef list held = []  # per column: validity, data, offsets (the objects the pointers point into)
    cdef object row, values, v
    cdef Column* c
    cdef Py_ssize_t needed = max([index for index, _ in wanted], default=-1) + 1  # values a row must have
    if cols == NULL or indexes == NULL:
        PyMem_Free(cols)
        PyMem_Free(indexes)
        raise MemoryError()
    try:
        for k in range(ncols):
            index, kind = wanted[k]
            if not 0 <= kind <= 9:
                raise ValueError(f"no column kind {kind}")
            indexes[k] = index
            c = &cols[k]
            c.kind = kind
            c.width = (2, 4, 8, 4, 8, 4, 8, 8, 4, 4)[kind]
            c.size = c.nulls = 0
            c.saw_bytes = False
            validity = bytearray(b"\xff" * ((n + 7) // 8))
            data = bytearray(n * c.width if kind < 8 else max(n * 16, 64))
            offsets = bytearray((n + 1) * 4) if kind >= 8 else None
            held.extend((validity, data, offsets))
            c.valid = <unsigned char*>PyByteArray_AS_STRING(validity)
            c.out = PyByteArray_AS_STRING(data)
            c.capacity = len(data)
            c.offs = <int32_t*>PyByteArray_AS_STRING(offsets) if kind >= 8 else NULL
            if kind >= 8:
                c.offs[0] = 0
        for i in range(n):
            row = rows[i]
            if not PyTuple_Check(row):
                return [None] * ncols
            if changes:
                if PyTuple_GET_SIZE(row) < 4:
                    return [None] * ncols  # not a change: pyarrow's conversion says what is wrong
                values = row[3]
                if not PyTuple_Check(values):
                    return [None] * ncols
            else:
                if type(row) is not tuple:
                    return [None] * ncols
                values = row
            if PyTuple_GET_SIZE(values) < needed:
                return [None] * ncols  # a short row: pyarrow's conversion says what is wrong
            for k in range(ncols):
                c = &cols[k]
                if c.kind < 0:
                    continue
                if indexes[k] < 0:
                    v = row[1]
                else:
                    v = (<tuple>values)[indexes[k]]
                if not _put(c, held, 3 * k + 1, i, v, not changes):
                    c.kind = -1
        out = []
        for k in range(ncols):
            c = &cols[k]
            if c.kind < 0:
                out.append(None)
                continue
            if c.kind >= 8:
                PyByteArray_Resize(held[3 * k + 1], c.size)
            out.append((c.nulls, held[3 * k], held[3 * k + 1], held[3 * k + 2], c.saw_bytes))
        return out
    finally:
        PyMem_Free(cols)
        PyMem_Free(indexes)
