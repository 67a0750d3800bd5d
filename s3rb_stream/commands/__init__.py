"""What a user runs once (``snapshot``, ``sync``, ``status``, ``check``, ``inspect-binlog``, the
round-trip check, the demo), apart from the parts that run in the daemon (``pipeline/``)."""
