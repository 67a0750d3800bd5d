"""Checks of the source server's binlog settings, as pure functions of ``SHOW VARIABLES``."""

from __future__ import annotations

from s3rb_stream.errors import BinlogSettingsError


def binlog_problems(variables: dict[str, str]) -> list[str]:
    """Every reason row-based capture cannot work on a server with these global variables."""
    v = {k.lower(): str(val) for k, val in variables.items()}
    problems = []
    if v.get("log_bin", "OFF").upper() not in ("ON", "1"):
        problems.append("log_bin is OFF: start the server with log_bin (binary logging)")
    if v.get("binlog_format", "").upper() != "ROW":
        problems.append(f"binlog_format={v.get('binlog_format', '?')}: set binlog_format=ROW")
    if v.get("binlog_row_image", "FULL").upper() != "FULL":
        problems.append(f"binlog_row_image={v.get('binlog_row_image')}: set binlog_row_image=FULL")
    if "binlog_row_metadata" in v and v["binlog_row_metadata"].upper() != "FULL":
        problems.append(f"binlog_row_metadata={v['binlog_row_metadata']}: set binlog_row_metadata=FULL")
    if v.get("log_bin_compress", "OFF").upper() in ("ON", "1"):
        problems.append("log_bin_compress=ON: compressed binlog events are not supported yet; set log_bin_compress=OFF")
    if v.get("binlog_transaction_compression", "OFF").upper() in ("ON", "1"):
        problems.append(
            "binlog_transaction_compression=ON: compressed transactions are not supported yet;"
            " set binlog_transaction_compression=OFF"
        )
    return problems


def require_binlog_settings(variables: dict[str, str], where: str) -> None:
    problems = binlog_problems(variables)
    if problems:
        raise BinlogSettingsError(f"{where} cannot be captured: " + "; ".join(problems))
