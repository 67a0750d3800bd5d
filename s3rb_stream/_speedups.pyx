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
* :func:`column_buffers`, a column of a batch of changes → Arrow buffers, and :func:`text_column`,
  a column of text-protocol rows (snapshot pages) → an Arrow string or binary array: the same
  arrays as ``pyarrow.array`` makes (``store.parquet.changes_to_table``,
  ``core.text_values.rows_to_arrays``); anything unusual is left to it.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.datetime cimport date_new, datetime_new, import_datetime
from cpython.long cimport PyLong_FromLongLong, PyLong_FromUnsignedLongLong
from cpython.float cimport PyFloat_FromDouble
from cpython.tuple cimport PyTuple_Check, PyTuple_New, PyTuple_SET_ITEM
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
            if kind == "decimal" and (a > MAX_DECIMAL_DIGITS or b > a):
                raise ValueError(f"DECIMAL({a},{b}) is wider than the compiled decoder's {MAX_DECIMAL_DIGITS} digits")
            if kind == "int" and not 1 <= a <= 8:
                raise ValueError(f"an integer of {a} bytes")
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
                        if n > end:
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

# Column kinds of column_buffers; store/parquet.py maps Arrow types to them.
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


def column_buffers(list changes, Py_ssize_t index, int kind):
    """The Arrow buffers of one column of a batch of changes (``index`` into each change's values;
    -1: the change's sequence), without a Python object per value on the way.

    Returns (null_count, validity, data, offsets), the buffers as bytearrays (offsets only for
    text and bytes), or None when any value is not of the exact type the kind expects, does not
    fit it, or is a datetime in a zone other than UTC: the caller then converts the column with
    pyarrow's own conversion, which decides (and raises) as it always did."""
    cdef Py_ssize_t n = len(changes), i, length, size = 0, capacity
    cdef Py_ssize_t nulls = 0
    cdef int width = (2, 4, 8, 4, 8, 4, 8, 8, 4, 4)[kind]
    cdef bytearray validity = bytearray(b"\xff" * ((n + 7) // 8))
    cdef bytearray data = bytearray(n * width if kind < 8 else max(n * 16, 64))
    cdef bytearray offsets = bytearray((n + 1) * 4) if kind >= 8 else None
    cdef unsigned char* valid = <unsigned char*>PyByteArray_AS_STRING(validity)
    cdef char* out = PyByteArray_AS_STRING(data)
    cdef int32_t* offs = <int32_t*>PyByteArray_AS_STRING(offsets) if kind >= 8 else NULL
    cdef object v
    cdef int overflow
    cdef long long x
    cdef double g
    cdef const char* text
    capacity = len(data)
    if kind >= 8:
        offs[0] = 0
    for i in range(n):
        change = changes[i]
        if not PyTuple_Check(change) or not PyTuple_Check(change[3]):
            return None  # not changes: pyarrow's conversion says what is wrong
        v = change[1] if index < 0 else (<tuple>change[3])[index]
        if v is None:
            nulls += 1
            valid[i >> 3] &= ~(1 << (i & 7))
            if kind >= 8:
                offs[i + 1] = <int32_t>size
            else:
                memcpy(out + i * width, b"\0\0\0\0\0\0\0\0", width)
            continue
        if kind <= 2:
            if not PyLong_CheckExact(v):
                return None
            x = PyLong_AsLongLongAndOverflow(v, &overflow)
            if overflow or (kind == 0 and not -32768 <= x <= 32767) or (kind == 1 and not -2147483648 <= x <= 2147483647):
                return None
            if kind == 0:
                (<int16_t*>out)[i] = <int16_t>x
            elif kind == 1:
                (<int32_t*>out)[i] = <int32_t>x
            else:
                (<int64_t*>out)[i] = <int64_t>x
        elif kind <= 4:
            if not PyFloat_CheckExact(v):
                return None
            g = PyFloat_AS_DOUBLE(v)
            if kind == 3:
                (<float*>out)[i] = <float>g
            else:
                (<double*>out)[i] = g
        elif kind == 5:
            if not PyDate_CheckExact(v):
                return None
            (<int32_t*>out)[i] = <int32_t>_days(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v))
        elif kind <= 7:
            if not PyDateTime_CheckExact(v):
                return None
            if kind == 6:
                if datetime_tzinfo(v) is not None:
                    return None
            elif datetime_tzinfo(v) is not _UTC:
                return None
            (<int64_t*>out)[i] = (
                (_days(PyDateTime_GET_YEAR(v), PyDateTime_GET_MONTH(v), PyDateTime_GET_DAY(v)) * 86400
                 + PyDateTime_DATE_GET_HOUR(v) * 3600 + PyDateTime_DATE_GET_MINUTE(v) * 60
                 + PyDateTime_DATE_GET_SECOND(v)) * 1000000 + PyDateTime_DATE_GET_MICROSECOND(v)
            )
        else:
            if kind == 8:
                if not PyUnicode_CheckExact(v):
                    return None
                try:
                    text = PyUnicode_AsUTF8AndSize(v, &length)
                except UnicodeError:
                    return None
            else:
                if not isinstance(v, bytes) or type(v) is not bytes:
                    return None
                text = PyBytes_AS_STRING(v)
                length = PyBytes_GET_SIZE(v)
            if size + length > 2147483647:
                return None  # beyond 32-bit offsets
            if size + length > capacity:
                capacity = max(capacity * 2, size + length)
                PyByteArray_Resize(data, capacity)
                out = PyByteArray_AS_STRING(data)
            memcpy(out + size, text, length)
            size += length
            offs[i + 1] = <int32_t>size
    if kind >= 8:
        PyByteArray_Resize(data, size)
    return nulls, validity, data, offsets


def text_column(list rows, Py_ssize_t index, bint binary):
    """Column ``index`` of rows of text-protocol values (bytes, str or None) as the buffers of an
    Arrow string (or, with ``binary``, binary) array: (null_count, validity, data, offsets,
    saw_bytes), or None when a value is neither. ``saw_bytes``: a string column got bytes, whose
    UTF-8 the caller must check (pyarrow's conversion would)."""
    cdef Py_ssize_t n = len(rows), i, length, size = 0, capacity = max(n * 16, 64), nulls = 0
    cdef bytearray validity = bytearray(b"\xff" * ((n + 7) // 8))
    cdef bytearray data = bytearray(capacity)
    cdef bytearray offsets = bytearray((n + 1) * 4)
    cdef unsigned char* valid = <unsigned char*>PyByteArray_AS_STRING(validity)
    cdef char* out = PyByteArray_AS_STRING(data)
    cdef int32_t* offs = <int32_t*>PyByteArray_AS_STRING(offsets)
    cdef const char* text
    cdef bint saw_bytes = False
    cdef object v
    offs[0] = 0
    for i in range(n):
        row = rows[i]
        if type(row) is not tuple:
            return None
        v = (<tuple>row)[index]
        if v is None:
            nulls += 1
            valid[i >> 3] &= ~(1 << (i & 7))
            offs[i + 1] = <int32_t>size
            continue
        if type(v) is bytes:
            text = PyBytes_AS_STRING(v)
            length = PyBytes_GET_SIZE(v)
            saw_bytes = True
        elif PyUnicode_CheckExact(v):
            try:
                text = PyUnicode_AsUTF8AndSize(v, &length)
            except UnicodeError:
                return None
        else:
            return None
        if size + length > 2147483647:
            return None  # beyond 32-bit offsets
        if size + length > capacity:
            capacity = max(capacity * 2, size + length)
            PyByteArray_Resize(data, capacity)
            out = PyByteArray_AS_STRING(data)
        memcpy(out + size, text, length)
        size += length
        offs[i + 1] = <int32_t>size
    PyByteArray_Resize(data, size)
    return nulls, validity, data, offsets, saw_bytes and not binary
