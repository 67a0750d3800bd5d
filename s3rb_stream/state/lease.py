"""One writer per source schema (invariant 5): a lease object in the store, taken and renewed with
conditional writes, so two instances can never both believe they hold it.

The lease record (docs/ARCHITECTURE.md, "Records") names the holder and when its lease expires. A
second ``run`` refuses with the holder's name, or with ``--standby`` waits and takes over once the
lease is released or expires (a crashed holder's lease expires after its TTL). The holder renews it
every third of the TTL; one that finds it taken by another stops at once. A holder that ran on this
same host, in this same PID namespace, and whose process is gone (``kill -9``, a crash before a
restart) is known dead at once: its lease is taken over without waiting for the TTL.

Each taking of the lease by a new holder raises its **generation**, a fencing token
(docs/ARCHITECTURE.md, "Fencing"): the holder presents it with every warehouse commit, and the
warehouse refuses a generation lower than one it has seen. So a holder that was paused past its
TTL and lost the lease can never commit, even in the middle of a load.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from s3rb_stream.core.object_keys import lease_key
from s3rb_stream.errors import S3rbError
from s3rb_stream.log import get_logger
from s3rb_stream.store.base import ObjectStore

log = get_logger(__name__)


class LeaseHeld(S3rbError):
    """Another instance holds the source schema."""


class LeaseLost(S3rbError):
    """Our lease was taken over: stop writing at once."""


_OWNERS_HERE: set[str] = set()  # the leases this process has created (alive while it runs)


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _gone(holder: dict[str, str]) -> bool:
    """True only when the holder's process is certainly dead: same host, same PID namespace, and
    its pid no longer exists (or is ours: a restarted container's previous incarnation)."""
    namespace = _pid_namespace()
    if namespace is None or holder.get("host") != socket.gethostname() or holder.get("pid_namespace") != namespace:
        return False
    try:
        pid = int(holder["pid"])
    except (KeyError, ValueError, TypeError):
        return False
    if pid == os.getpid():
        return holder.get("owner") not in _OWNERS_HERE  # not one of ours: a previous incarnation

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, as another user
    return False


class Lease:
    def __init__(self, store: ObjectStore, source_db: str, target_schema: str, ttl_seconds: float) -> None:
        self.store = store
        self.key = lease_key(store.prefix, source_db, target_schema)
        self.where = f"{source_db} → {target_schema}"
        self.ttl = ttl_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        _OWNERS_HERE.add(self.owner)
        self.token: str | None = None
        self.renewed = 0.0
        self.generation = 0  # set when taken: one more than the previous holder's

    def _record(self, expires: datetime) -> bytes:
        return json.dumps(
            {
                "owner": self.owner,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "pid_namespace": _pid_namespace(),
                "expires_at": expires.isoformat(),
                "generation": self.generation,
            }
        ).encode()

    def _try(self) -> tuple[bool, dict[str, str] | None]:
        """One attempt: (taken, the current holder's record when not)."""
        current = self.store.get_versioned(self.key)
        holder: dict[str, str] | None = None
        token = None
        previous = 0
        if current is not None:
            data, token = current
            try:
                holder = json.loads(data)
                expires = datetime.fromisoformat(str(holder["expires_at"]))
                previous = int(holder.get("generation", 0))
            except (ValueError, KeyError, TypeError):
                holder, expires = None, datetime.min.replace(tzinfo=UTC)  # unreadable: treat as expired
            if holder is not None and holder.get("owner") != self.owner and expires > datetime.now(UTC):
                if not _gone(holder):
                    return False, holder
                log.warning("the lease holder on this host is gone: taking over", holder=holder.get("owner"))
        self.generation = previous + 1
        mine = self._record(datetime.now(UTC) + timedelta(seconds=self.ttl))
        written = self.store.put_if(self.key, mine, token)
        if written is None:
            return False, holder  # someone else wrote in between: look again
        self.token = written
        self.renewed = time.monotonic()
        return True, None

    def acquire(self, standby: bool, stopping: Callable[[], bool] = lambda: False) -> bool:
        """Take the lease; with ``standby`` wait for it. False when stopped while waiting."""
        announced = False
        while True:
            taken, holder = self._try()
            if taken:
                log.info(
                    "lease taken: this instance writes",
                    owner=self.owner,
                    generation=self.generation,
                )
                return True
            if holder is not None and not standby:
                raise LeaseHeld(
                    f"another instance writes {self.where}: {holder.get('owner')} (lease valid until"
                    f" {holder.get('expires_at')})",
                    "stop it first, or start this one with --standby to take over when it stops;"
                    " a crashed instance's lease expires on its own",
                )
            if holder is not None and not announced:
                log.info("standing by: another instance writes", holder=holder.get("owner"))
                announced = True
            if stopping():
                return False
            time.sleep(min(5.0, self.ttl / 3))

    def renew(self) -> None:
        """Extend the lease every third of its TTL; raise LeaseLost when another took it."""
        if time.monotonic() - self.renewed < self.ttl / 3:
            return
        mine = self._record(datetime.now(UTC) + timedelta(seconds=self.ttl))
        written = self.store.put_if(self.key, mine, self.token)
        if written is None:
            raise LeaseLost(
                f"the lease on {self.where} was taken by another instance; this one stops writing",
                "run one instance per source schema (others with --standby)",
            )
        self.token = written
        self.renewed = time.monotonic()

    def release(self) -> None:
        """Expire our lease now, so a standby takes over without waiting for the TTL. If the store
        cannot be reached, the record stays, but this process no longer counts it as alive: a retry
        in this process takes it over at once."""
        _OWNERS_HERE.discard(self.owner)
        if self.token is None:
            return
        token, self.token = self.token, None
        if self.store.put_if(self.key, self._record(datetime.now(UTC)), token):
            log.info("lease released")
