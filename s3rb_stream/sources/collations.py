"""Collation ids, as table maps log them, → character sets → Python codecs.

A table map names each text column's collation by number (``binlog_row_metadata=FULL``). The
numbers below are every collation of MySQL 8.0 and 8.4 (``information_schema.COLLATIONS``: ids up
to 323, the ``utf8mb4_*_0900_*`` family from 255 on, gb18030 at 248-250) and of MariaDB 10.11,
which shares MySQL's ids up to 247 and adds its own:

* 576-578, 608-610, 640-642, 672-674, 736-738: more UCA collations of utf8mb3, utf8mb4, ucs2,
  utf16 and utf32;
* id + 1024: the NO PAD twin of the collation ``id`` (``utf8mb4_nopad_bin`` is 1070, 46 + 1024);
* 2048-4095: the UCA 14.0.0 collations (``utf8mb4_uca1400_ai_ci``), the character set in bits
  8-10 of ``id - 2048``: utf8mb3, utf8mb4, ucs2, utf16, utf32.

The MySQL ids come from the published lists of MySQL 8.0 (no MySQL server is reachable from the
tests); the MariaDB rules were checked against a running MariaDB 10.11. docs/mysql.md says so.
"""

from __future__ import annotations

# Character set → its collation ids (single ids and inclusive ranges).
_IDS = {
    "big5": "1 84",
    "latin2": "2 9 21 27 77",
    "dec8": "3 69",
    "cp850": "4 80",
    "latin1": "5 8 15 31 47-49 94",
    "hp8": "6 72",
    "koi8r": "7 74",
    "swe7": "10 82",
    "ascii": "11 65",
    "ujis": "12 91",
    "sjis": "13 88",
    "cp1251": "14 23 50-52",
    "hebrew": "16 71",
    "tis620": "18 89",
    "euckr": "19 85",
    "latin7": "20 41-42 79",
    "koi8u": "22 75",
    "gb2312": "24 86",
    "greek": "25 70",
    "cp1250": "26 34 44 66 99",
    "gbk": "28 87",
    "cp1257": "29 58-59",
    "latin5": "30 78",
    "armscii8": "32 64",
    "utf8mb3": "33 76 83 192-215 223 576-578",
    "ucs2": "35 90 128-151 159 640-642",
    "cp866": "36 68",
    "keybcs2": "37 73",
    "macce": "38 43",
    "macroman": "39 53",
    "cp852": "40 81",
    "utf8mb4": "45-46 224-247 255-271 273-275 277-294 296-298 300 303-323 608-610",
    "utf16": "54-55 101-124 672-674",
    "utf16le": "56 62",
    "cp1256": "57 67",
    "utf32": "60-61 160-183 736-738",
    "binary": "63",
    "geostd8": "92-93",
    "cp932": "95-96",
    "eucjpms": "97-98",
    "gb18030": "248-250",
}


def _expand(ids: dict[str, str]) -> dict[int, str]:
    table: dict[int, str] = {}
    for charset, spans in ids.items():
        for span in spans.split():
            first, _, last = span.partition("-")
            for number in range(int(first), int(last or first) + 1):
                table[number] = charset
    return table


CHARSET_BY_ID = _expand(_IDS)
MARIADB_NOPAD_OFFSET = 1024
_UCA1400_FIRST, _UCA1400_LAST = 2048, 4095
_UCA1400_CHARSETS = ("utf8mb3", "utf8mb4", "ucs2", "utf16", "utf32")

# Python's codec of each character set that has one; the others (dec8, swe7, armscii8, keybcs2,
# geostd8, eucjpms) have no exact codec here. MySQL's ucs2, utf16 and utf32 are big-endian,
# without a byte-order mark; its latin1 is Windows-1252.
CODECS = {
    "big5": "big5", "latin2": "iso8859_2", "cp850": "cp850", "latin1": "cp1252", "hp8": "hp_roman8",
    "koi8r": "koi8_r", "ascii": "ascii", "ujis": "euc_jp", "sjis": "shift_jis", "cp1251": "cp1251",
    "hebrew": "iso8859_8", "tis620": "tis_620", "euckr": "euc_kr", "latin7": "iso8859_13", "koi8u": "koi8_u",
    "gb2312": "gb2312", "greek": "iso8859_7", "cp1250": "cp1250", "gbk": "gbk", "cp1257": "cp1257",
    "latin5": "iso8859_9", "utf8mb3": "utf-8", "ucs2": "utf-16-be", "cp866": "cp866", "macce": "mac_latin2",
    "macroman": "mac_roman", "cp852": "cp852", "utf8mb4": "utf-8", "utf16": "utf-16-be", "utf16le": "utf-16-le",
    "cp1256": "cp1256", "utf32": "utf-32-be", "cp932": "cp932", "gb18030": "gb18030",
}  # fmt: skip

# Bytes of the longest character of each multi-byte character set (the others: 1).
MAX_BYTES = {"utf8mb4": 4, "utf8mb3": 3, "ucs2": 2, "utf16": 4, "utf16le": 4, "utf32": 4, "big5": 2, "gbk": 2,
             "sjis": 2, "cp932": 2, "euckr": 2, "ujis": 3, "eucjpms": 3, "gb18030": 4, "gb2312": 2}  # fmt: skip


def charset_of(collation: int) -> str | None:
    """The character set of a MySQL or MariaDB collation id; None for an id neither has."""
    found = CHARSET_BY_ID.get(collation)
    if found is not None:
        return found
    if MARIADB_NOPAD_OFFSET <= collation < 2 * MARIADB_NOPAD_OFFSET:
        return CHARSET_BY_ID.get(collation - MARIADB_NOPAD_OFFSET)
    if _UCA1400_FIRST <= collation <= _UCA1400_LAST:
        index = (collation - _UCA1400_FIRST) >> 8
        return _UCA1400_CHARSETS[index] if index < len(_UCA1400_CHARSETS) else None
    return None


def codec_of(collation: int) -> str | None:
    """Python's codec for text under ``collation``; None when there is none (see :data:`CODECS`)."""
    charset = charset_of(collation)
    return CODECS.get(charset) if charset is not None else None


def bytes_per_char(collation: int | None) -> int:
    """The longest character's bytes under ``collation``: 1 for binary, single-byte or unknown
    character sets, so that a length read from bytes is never too short."""
    if collation is None:
        return 1
    charset = charset_of(collation)
    return MAX_BYTES.get(charset, 1) if charset is not None else 1
