"""Object keys of batches and state: schema-isolated, deterministic from the change range.

``{prefix}/{source_db}/{target_schema}/{table}/year=YYYY/month=MM/day=DD/{table}_{first}_{last}.parquet``

This module is the one place where keys are built and parsed (docs/ARCHITECTURE.md, "Object
layout"): the batches, the objects kept beside a table's batches (``_corrupt/``, ``_fitted/``,
``_manifests/``), and the pipeline's records under ``_s3rb_state/``, which only
:mod:`s3rb_stream.state` reads and writes.

The date comes from the first change's source commit time, so a replayed range gets the same
key. Source, schema and table names are used as spelled when they hold only ASCII letters, digits,
``_``, ``-`` and ``.``; anything else (spaces, quotes, backticks, ``:``, non-ASCII letters) is
percent-encoded as UTF-8, so keys stay safe for S3, URLs and COPY manifests: ``o'rders ü`` is
``o%27rders%20%C3%BC``.

A snapshot stamps every row with the one binlog position it is consistent with, so its chunks
share a range and are told apart by a part number; each snapshot run has an identity of its own
(``run``: above the table's previous run), so a snapshot taken again at an unchanged position writes
new objects that load again: ``{table}_{seq}_{seq}_r{run}_{part:06d}.parquet``. A full_sync's parts
have sequences of their own: ``{table}_{first}_{last}_{part:06d}.parquet``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

STATE_DIR = "_s3rb_state"
PENDING_DIR, FITTED_DIR, MANIFESTS_DIR = "_pending", "_fitted", "_manifests"
_BATCH = re.compile(
    r"/(?P<table>[^/]+)/year=\d{4}/month=\d{2}/day=\d{2}/(?P=table)_(?P<first>\d+)_(?P<last>\d+)"
    r"(?:_(?:r(?P<run>\d+)_)?(?P<part>\d+))?\.parquet$"
)


def join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def segment(name: str) -> str:
    """A database, schema or table name as one key segment (see the module docstring)."""
    return quote(name, safe="_-.").replace("~", "%7E")


def pipeline_prefix(prefix: str, source_db: str, target_schema: str) -> str:
    return join(prefix, segment(source_db), segment(target_schema))


def table_prefix(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    return join(pipeline_prefix(prefix, source_db, target_schema), segment(table)) + "/"


def batch_key(
    prefix: str,
    source_db: str,
    target_schema: str,
    table: str,
    first_seq: int,
    last_seq: int,
    first_ts: datetime,
    part: int | None = None,
    run: int | None = None,
) -> str:
    """``part``: the page of a whole-table extract; ``run``: the snapshot run it belongs to."""
    day = f"year={first_ts:%Y}/month={first_ts:%m}/day={first_ts:%d}"
    suffix = f"_{part:06d}" if part is not None else ""
    if run is not None and part is not None:
        suffix = f"_r{run}{suffix}"
    name = segment(table)
    return join(
        table_prefix(prefix, source_db, target_schema, table), day, f"{name}_{first_seq}_{last_seq}{suffix}.parquet"
    )


def state_key(prefix: str, source_db: str, target_schema: str, *parts: str) -> str:
    """An object under the pipeline's ``_s3rb_state/`` (checkpoint, lease, per-table states)."""
    return join(pipeline_prefix(prefix, source_db, target_schema), STATE_DIR, *parts)


def checkpoint_key(prefix: str, source_db: str, target_schema: str) -> str:
    return state_key(prefix, source_db, target_schema, "checkpoint.json")


def lease_key(prefix: str, source_db: str, target_schema: str) -> str:
    """Who writes the pipeline, until when, and the lease's generation (the fencing token)."""
    return state_key(prefix, source_db, target_schema, "lease.json")


# The per-table records, one folder each: a table's record is ``{folder}/{table}.json``.
EXTRACTS, QUARANTINE, HYBRID, REPAIRS = "extracts", "quarantine", "hybrid", "repairs"


def table_state_prefix(prefix: str, source_db: str, target_schema: str, folder: str) -> str:
    """Where one kind of per-table record lives (:data:`EXTRACTS`, :data:`QUARANTINE`, :data:`HYBRID`)."""
    return state_key(prefix, source_db, target_schema, folder) + "/"


def extract_state_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """Progress of a table's latest snapshot or full_sync extract."""
    return state_key(prefix, source_db, target_schema, EXTRACTS, f"{segment(table)}.json")


def quarantine_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """Why and where capture of a table stopped while the others go on."""
    return state_key(prefix, source_db, target_schema, QUARANTINE, f"{segment(table)}.json")


def hybrid_state_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """A hybrid table's watermark: the last (timestamp, id) read."""
    return state_key(prefix, source_db, target_schema, HYBRID, f"{segment(table)}.json")


def repair_hold_key(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """A repair under way (``verify --repair``): the table's loads wait while it is there."""
    return state_key(prefix, source_db, target_schema, REPAIRS, f"{segment(table)}.json")


def table_of_state_key(key: str) -> str | None:
    """The table a per-table record's key names (``.../_s3rb_state/{folder}/{table}.json``), else None."""
    parts = key.split("/")
    if len(parts) < 3 or parts[-3] != STATE_DIR or not parts[-1].endswith(".json") or parts[-1] == ".json":
        return None
    return unquote(parts[-1].removesuffix(".json"))


def pipeline_of_state_key(prefix: str, key: str) -> tuple[str, str] | None:
    """The (source_db, target_schema) whose ``_s3rb_state/`` holds ``key``, else None (a batch, the
    store's own write check, anything else)."""
    base = join(prefix)
    if base and not key.startswith(base + "/"):
        return None
    parts = key[len(base) + 1 if base else 0 :].split("/")
    if len(parts) < 4 or parts[2] != STATE_DIR:
        return None
    return unquote(parts[0]), unquote(parts[1])


def layout_key(prefix: str, source_db: str, target_schema: str) -> str:
    """Since when every batch of the pipeline has a pending note (the one-time index of older batches)."""
    return state_key(prefix, source_db, target_schema, "layout.json")


def write_check_key(prefix: str) -> str:
    """The object a store writes to show it can be written (outside every pipeline)."""
    return join(prefix, STATE_DIR, ".write-check")


def _table_dir(batch: str) -> tuple[str, str]:
    """A batch key's table folder and file name: the objects kept for a batch live beside it."""
    match = _BATCH.search(batch)
    if match is None:
        raise ValueError(f"{batch!r} is not a batch object key")
    return batch[: match.start()] + "/" + match["table"], batch.rsplit("/", 1)[1]


def aside_key(batch: str) -> str:
    """Where an unreadable batch object is moved, kept for inspection: ``{table}/_corrupt/{name}``."""
    folder, name = _table_dir(batch)
    return f"{folder}/_corrupt/{name}"


def fitted_key(batch: str, load: str) -> str:
    """A batch's copy with values fitted to Redshift's limits, for one load (``load``: its own
    token, so that a load removing its copies never takes another's): ``{table}/_fitted/{load}/{name}``."""
    folder, name = _table_dir(batch)
    return f"{folder}/{FITTED_DIR}/{load}/{name}"


def pending_key(batch: str) -> str:
    """The note that a batch waits to be loaded: ``{table}/_pending/{the batch's path below the
    table}.json``. The load lists these, not the table's history (docs/ARCHITECTURE.md, "Finding
    new batches")."""
    folder, _ = _table_dir(batch)
    return f"{folder}/{PENDING_DIR}/{batch[len(folder) + 1 :]}.json"


def batch_of_pending(key: str) -> str | None:
    """The batch key a pending note stands for, or None for anything else."""
    head, sep, rest = key.partition(f"/{PENDING_DIR}/")
    if not sep or not rest.endswith(".json"):
        return None
    batch = f"{head}/{rest.removesuffix('.json')}"
    return batch if _BATCH.search(batch) else None


def pending_prefix(prefix: str, source_db: str, target_schema: str, table: str) -> str:
    """Where a table's pending notes are: listing it costs what waits to be loaded, not the history."""
    return table_prefix(prefix, source_db, target_schema, table) + PENDING_DIR + "/"


def beside_batches(prefix: str, source_db: str, target_schema: str, table: str, folder: str) -> str:
    """A folder kept beside a table's batches (``_fitted``, ``_manifests``), which cleanup lists."""
    return table_prefix(prefix, source_db, target_schema, table) + folder + "/"


def manifest_key(first_batch: str, first_seq: int, last_seq: int, load: str) -> str:
    """The COPY manifest of one load of a table: ``{table}/_manifests/{first}_{last}_{load}.manifest``.
    ``load``: the load's own token. Two instances may load the same batches (a frozen holder and
    the standby that took over): each removes only its own manifest once it commits."""
    folder, _ = _table_dir(first_batch)
    return f"{folder}/{MANIFESTS_DIR}/{first_seq}_{last_seq}_{load}.manifest"


@dataclass(frozen=True)
class BatchRef:
    """A batch object found in the store."""

    first_seq: int
    last_seq: int
    key: str
    table: str
    part: int | None = None  # the page of a whole-table extract
    run: int = 0  # the snapshot run the page belongs to (0: none recorded)


def in_load_order(refs: list[BatchRef]) -> list[BatchRef]:
    """The order in which a table's batches apply: by first sequence, so that whatever has been
    applied is always a prefix of the table's changes, which is what the load watermark assumes.

    A run writes every change of a table from its checkpoint on, so every change before a batch's
    first sequence is in a batch that begins earlier. (By last sequence, a replay that cut a
    shorter batch would apply before a longer one of the dead run that began earlier, and the
    watermark would then hide the longer one's first changes.) One exception: a binlog batch that
    spans the position of an extract (a snapshot's parts, one sequence for all of them) applies
    right after its parts, since the extract stands for every change up to its position. Parts of
    two snapshot runs at one position apply run after run: the newer run's rows are the ones kept.
    """
    extract_seqs = sorted({r.first_seq for r in refs if r.part is not None})

    def key(ref: BatchRef) -> tuple[int, int, int, int, str]:
        if ref.part is not None:
            return (ref.first_seq, 0, ref.run, ref.part, ref.key)
        spanned = [seq for seq in extract_seqs if ref.first_seq < seq <= ref.last_seq]
        return (spanned[-1] if spanned else ref.first_seq, 1, 0, ref.last_seq, ref.key)

    return sorted(refs, key=key)


def parse_batch_key(key: str) -> BatchRef | None:
    """The batch a key names, or None for anything that is not a batch object."""
    match = _BATCH.search(key)
    if not match:
        return None
    part = int(match["part"]) if match["part"] else None
    run = int(match["run"]) if match["run"] else 0
    return BatchRef(int(match["first"]), int(match["last"]), key, unquote(match["table"]), part, run)


def source_db_of(key: str) -> str:
    """The source database a batch key belongs to (the segment before target schema and table)."""
    match = _BATCH.search(key)
    if not match:
        return ""
    parts = key[: match.start()].split("/")
    return unquote(parts[-2]) if len(parts) >= 2 else ""
