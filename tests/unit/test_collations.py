"""Collation ids → character sets → codecs (s3rb_stream.sources.collations), and text under them
decoded by both row decoders. MySQL 8.0/8.4's ids are its published list; the MariaDB ids below
were read from a running MariaDB 10.11's information_schema.COLLATION_CHARACTER_SET_APPLICABILITY."""

from __future__ import annotations

import pytest

from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.errors import SchemaError
from s3rb_stream.sources import collations
from s3rb_stream.sources import table_map as tm
from s3rb_stream.sources.row_decoder import Implementation, compile_decoder
from tests.unit.test_row_decoder import both, decode_one


@pytest.mark.parametrize(
    ("collation", "charset"),
    [
        (8, "latin1"),  # latin1_swedish_ci
        (33, "utf8mb3"),  # utf8mb3_general_ci
        (45, "utf8mb4"),  # utf8mb4_general_ci
        (63, "binary"),
        (76, "utf8mb3"),  # MySQL 8: utf8mb3_tolower_ci
        (248, "gb18030"),  # gb18030_chinese_ci, 249 gb18030_bin, 250 gb18030_unicode_520_ci
        (250, "gb18030"),
        (255, "utf8mb4"),  # utf8mb4_0900_ai_ci, MySQL 8's default
        (278, "utf8mb4"),  # utf8mb4_0900_as_cs
        (305, "utf8mb4"),  # utf8mb4_0900_as_ci
        (309, "utf8mb4"),  # utf8mb4_0900_bin
        (323, "utf8mb4"),  # utf8mb4_mn_cyrl_0900_as_cs, the last of MySQL 8.0/8.4
        (576, "utf8mb3"),  # MariaDB: utf8mb3_croatian_ci
        (608, "utf8mb4"),  # MariaDB: utf8mb4_croatian_ci
        (640, "ucs2"),
        (672, "utf16"),
        (736, "utf32"),
        (1033, "latin2"),  # MariaDB: latin2_general_nopad_ci, latin2_general_ci (9) + 1024
        (1070, "utf8mb4"),  # MariaDB: utf8mb4_nopad_bin
        (2048, "utf8mb3"),  # MariaDB: utf8mb3_uca1400_ai_ci
        (2304, "utf8mb4"),  # utf8mb4_uca1400_ai_ci
        (2305, "utf8mb4"),  # utf8mb4_uca1400_ai_cs
        (2560, "ucs2"),  # ucs2_uca1400_ai_ci
        (2816, "utf16"),  # utf16_uca1400_ai_ci
        (3072, "utf32"),  # utf32_uca1400_ai_ci
        (3271, "utf32"),  # utf32_uca1400_croatian_nopad_as_cs
    ],
)
def test_every_mysql_8_and_mariadb_collation_id_has_its_character_set(collation: int, charset: str) -> None:
    assert collations.charset_of(collation) == charset


def test_the_mysql_8_ids_are_all_there() -> None:
    """MySQL 8.0/8.4 number their collations 1-323 with these gaps (ids no collation has)."""
    gaps = {17, 100, *range(125, 128), *range(152, 159), *range(184, 192), *range(216, 223), 251, 252, 253, 254,
            272, 276, 295, 299, 301, 302}  # fmt: skip
    assert {i for i in range(1, 324) if collations.charset_of(i) is None} == gaps


@pytest.mark.parametrize("collation", [0, 17, 324, 1024 + 17, 4096, 2048 + 5 * 256])
def test_ids_no_server_has_are_unknown(collation: int) -> None:
    assert collations.charset_of(collation) is None
    assert collations.bytes_per_char(collation) == 1


def test_every_character_set_with_a_codec_names_one_python_has() -> None:
    import codecs

    for charset, codec in collations.CODECS.items():
        assert codecs.lookup(codec), charset
    assert {c for c in collations.CHARSET_BY_ID.values() if c not in collations.CODECS} == {
        "binary", "dec8", "swe7", "armscii8", "keybcs2", "geostd8", "eucjpms",
    }  # fmt: skip


TEXT = SourceColumn("name", "varchar", "varchar(10)", char_length=10)


@both
@pytest.mark.parametrize(
    ("collation", "raw", "text"),
    [
        (278, "Straße 😀".encode(), "Straße 😀"),  # utf8mb4_0900_as_cs
        (309, b"a ", "a "),  # utf8mb4_0900_bin: NO PAD, the blank stays
        (248, "中文".encode("gb18030"), "中文"),  # gb18030_chinese_ci
        (54, "é😀".encode("utf-16-be"), "é😀"),  # utf16_general_ci: big-endian, no byte-order mark
        (35, "é".encode("utf-16-be"), "é"),  # ucs2_general_ci
        (60, "é".encode("utf-32-be"), "é"),  # utf32_general_ci
        (2304, "ü".encode(), "ü"),  # MariaDB utf8mb4_uca1400_ai_ci
        (8, b"d\xe9j\xe0", "déjà"),  # latin1_swedish_ci: Windows-1252
    ],
)
def test_text_under_any_collation_decodes_by_its_character_set(
    implementation: Implementation, collation: int, raw: bytes, text: str
) -> None:
    layout = tm.ColumnLayout(tm.VARCHAR, 40, collation=collation)
    assert decode_one([(TEXT, layout)], [bytes([len(raw)]) + raw], implementation=implementation) == (text,)


def _refusal(collation: int) -> str:
    tmap = tm.TableMap(1, "db", "t", (tm.ColumnLayout(tm.VARCHAR, 40, collation=collation),), ("name",))
    with pytest.raises(SchemaError) as error:
        compile_decoder(SourceTable("db", "t", (TEXT,)), tmap)
    return str(error.value)


def test_an_unknown_collation_id_is_reported_not_blamed_on_the_character_set() -> None:
    problem = _refusal(9999)
    assert "collation id 9999" in problem and "report" in problem and "convert" not in problem


def test_a_character_set_without_a_codec_is_named_with_the_conversion_that_helps() -> None:
    problem = _refusal(3)  # dec8_swedish_ci
    assert "character set dec8" in problem and "utf8mb4" in problem
