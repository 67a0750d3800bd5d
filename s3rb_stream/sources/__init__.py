"""Readers of the MySQL source: binlog and (later) queries."""
