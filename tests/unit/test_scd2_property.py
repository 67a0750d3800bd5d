"""SCD2 invariants on a real (embedded) DuckDB, against a simple model of the expected history.

Hypothesis generates per-key change sequences: inserts, updates to tracked and untracked columns,
NULL transitions, deletes and re-inserts, several changes in one second. They are cut into
batches, applied in order, and some batches are applied again under other names. The history must
equal the model's, and the invariants of point 4 must hold: no version added by a replay, one
current version per live key and none for a deleted one, versions that neither overlap nor leave
gaps while the key lives.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s3rb_stream.core.changes import Change, Op
from s3rb_stream.core.object_keys import BatchRef
from s3rb_stream.core.scd2 import make_spec
from s3rb_stream.core.schema import SourceColumn, SourceTable
from s3rb_stream.store.parquet import changes_to_table
from s3rb_stream.targets.duckdb import DuckDBWarehouse

TABLE = SourceTable(
    "src",
    "dim",
    (
        SourceColumn("id", "int", "int(11)", nullable=False),
        SourceColumn("tier", "varchar", "varchar(10)"),
        SourceColumn("note", "varchar", "varchar(10)"),
    ),
    ("id",),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
Version = tuple[int, str | None, str | None, datetime, datetime | None, bool]


@dataclass
class Model:
    """The expected history: what an analyst would write down by hand."""

    untracked: Literal["update", "ignore"]
    versions: list[Version] = field(default_factory=list)
    live: dict[int, int] = field(default_factory=dict)  # key → index of its current version

    def apply(self, op: str, key: int, tier: str | None, note: str | None, ts: datetime) -> None:
        current = self.live.get(key)
        if op == "d":
            if current is not None:
                self._close(current, ts)
                del self.live[key]
            return
        if current is None:
            self._open(key, tier, note, ts)
        elif self.versions[current][1] != tier:
            self._close(current, ts)
            self._open(key, tier, note, ts)
        elif self.untracked == "update":
            k, t, _, vf, vt, cur = self.versions[current]
            self.versions[current] = (k, t, note, vf, vt, cur)

    def _open(self, key: int, tier: str | None, note: str | None, ts: datetime) -> None:
        self.versions.append((key, tier, note, ts, None, True))
        self.live[key] = len(self.versions) - 1

    def _close(self, index: int, ts: datetime) -> None:
        k, t, n, vf, _, _ = self.versions[index]
        self.versions[index] = (k, t, n, vf, ts, False)


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, int, str | None, str | None, int]]:
    """Committed changes in order: (op, key, tier, note, second). One change per key per transaction."""
    out = []
    alive: dict[int, bool] = {}
    second = 0
    for _ in range(draw(st.integers(1, 25))):
        key = draw(st.integers(1, 3))
        second += draw(st.sampled_from([0, 0, 1, 5]))  # often several changes in one second
        values = st.sampled_from([None, "a", "b"])
        if not alive.get(key):
            out.append(("c", key, draw(values), draw(values), second))
            alive[key] = True
        elif draw(st.integers(0, 5)) == 0:
            out.append(("d", key, None, None, second))
            alive[key] = False
        else:
            out.append(("u", key, draw(values), draw(values), second))
    return out


def to_batches(changes: list[tuple[str, int, str | None, str | None, int]], cuts: list[int]) -> list[list[Change]]:
    built = [
        Change(Op(op), 1000 + i * 10, T0 + timedelta(seconds=sec), (key, tier, note))
        for i, (op, key, tier, note, sec) in enumerate(changes)
    ]
    bounds = sorted({c % len(built) for c in cuts} | {0, len(built)})
    return [built[a:b] for a, b in itertools.pairwise(bounds) if built[a:b]]


def as_batch(changes: list[Change], name: str) -> tuple[BatchRef, pa.Table]:
    ref = BatchRef(changes[0].seq, changes[-1].seq, name, "dim")
    return ref, changes_to_table(TABLE, changes)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=histories(),
    cuts=st.lists(st.integers(0, 100), max_size=4),
    replays=st.lists(st.integers(0, 100), max_size=3),
    untracked=st.sampled_from(["update", "ignore"]),
)
def test_history_matches_the_model_and_keeps_its_invariants(
    tmp_path_factory: object,
    changes: list[tuple[str, int, str | None, str | None, int]],
    cuts: list[int],
    replays: list[int],
    untracked: Literal["update", "ignore"],
) -> None:
    path = Path(tmp_path_factory.mktemp("scd2")) / "w.duckdb"  # type: ignore[attr-defined]
    spec = make_spec(TABLE, ("tier",), "valid_from", "valid_to", "is_current", untracked)
    wh = DuckDBWarehouse(str(path))
    try:
        wh.prepare("h", TABLE, spec)
        batches = to_batches(changes, cuts)
        for i, part in enumerate(batches):
            wh.apply("h", TABLE, "scd2", [as_batch(part, f"b{i}")], None, spec)
            for r, replay in enumerate(replays):  # an earlier batch again, under another name
                if replay % (i + 1) == i:
                    again = batches[replay % (i + 1)]
                    wh.apply("h", TABLE, "scd2", [as_batch(again, f"b{i}-replay{r}")], None, spec)
        got = wh.query("SELECT id, tier, note, valid_from, valid_to, is_current FROM h.dim ORDER BY id, _s3rb_seq")
    finally:
        wh.close()

    model = Model(untracked)
    for op, key, tier, note, sec in changes:
        model.apply(op, key, tier, note, T0 + timedelta(seconds=sec))
    expected = sorted(model.versions, key=lambda v: v[0])  # stable: per key in version order
    assert [tuple(r) for r in got] == expected

    history: list[Version] = [tuple(r) for r in got]  # type: ignore[misc]
    for key in {v[0] for v in expected}:
        mine = [v for v in history if v[0] == key]
        assert sum(1 for v in mine if v[5]) == (1 if key in model.live else 0)
        for older, newer in itertools.pairwise(mine):
            closed = older[4]
            assert closed is not None and closed <= newer[3]  # closed, and never overlapping
        for v in mine:
            assert (v[4] is None) == v[5]
