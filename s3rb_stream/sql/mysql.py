"""Queries the pipeline sends to the MySQL source. Values always go as bound parameters."""

from __future__ import annotations

TABLES_OF_SCHEMA = """
SELECT TABLE_NAME FROM information_schema.TABLES
WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'
ORDER BY TABLE_NAME
"""

COLUMNS_OF_TABLES = """
SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,
       CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = %s
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

PRIMARY_KEYS = """
SELECT TABLE_NAME, COLUMN_NAME
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = %s AND INDEX_NAME = 'PRIMARY'
ORDER BY TABLE_NAME, SEQ_IN_INDEX
"""

BINLOG_VARIABLES = """
SHOW GLOBAL VARIABLES WHERE Variable_name IN (
  'log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata',
  'log_bin_compress', 'binlog_transaction_compression', 'server_id', 'version', 'version_comment'
)
"""

MASTER_STATUS = "SHOW MASTER STATUS"
BINARY_LOG_STATUS = "SHOW BINARY LOG STATUS"
BINARY_LOGS = "SHOW BINARY LOGS"
