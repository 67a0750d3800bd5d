"""s3rb_stream: MySQL binlog → Parquet on S3 → Redshift (or DuckDB), exactly once in effect."""

__version__ = "0.1.0"
