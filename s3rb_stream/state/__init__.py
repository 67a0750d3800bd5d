"""Every record the pipeline keeps in the store, one owner each (docs/ARCHITECTURE.md, "Records").

The only code that reads or writes ``_s3rb_state/``; the keys come from
:mod:`s3rb_stream.core.object_keys`, the record types and their JSON from ``core/`` (pure):

- ``checkpoint.py``: where capture resumes (:class:`~s3rb_stream.core.checkpoint.Checkpoint`);
- ``extracts.py``: each table's latest snapshot, full_sync or TRUNCATE extract;
- ``hybrid.py``: each hybrid table's watermark;
- ``quarantines.py``: the tables whose capture stopped, and the lift rule applied on reading;
- ``lease.py``: one writer per source schema, and its generation (the fencing token);
- ``pipelines.py``: which pipelines keep state in a store.
"""
