"""Another process holding a lock on a SQLite file, and damaged SQLite files, for the store's failure tests."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

# Runs the statements given, says "held", and keeps its connection (and whatever lock the statements took)
# until its stdin closes; then it closes the connection, which rolls an open transaction back.
_HOLDER = r"""
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
for statement in sys.argv[2:]:
    db.execute(statement).fetchall()
print("held", flush=True)
sys.stdin.read()
db.close()
"""

# A write lock: BEGIN EXCLUSIVE is a writer's lock in WAL mode (readers go on reading).
WRITE_LOCK = ("BEGIN EXCLUSIVE", "INSERT INTO _migrations (name, applied_at) VALUES ('held by a test', 0)")
# Everything: a connection in exclusive locking mode keeps the file to itself once it has written (reads fail too).
EXCLUSIVE_MODE = ("PRAGMA locking_mode=EXCLUSIVE", *WRITE_LOCK)


class LockHolder:
    """A process that holds a lock on a database until :meth:`release` (or the end of :func:`lock_held`)."""

    def __init__(self, proc: subprocess.Popen[str]):
        self.proc = proc

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@contextlib.contextmanager
def lock_held(path: Path, statements: tuple[str, ...] = WRITE_LOCK) -> Iterator[LockHolder]:
    """Another Python process that has run ``statements`` on ``path`` and keeps its lock until released."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), *statements],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    holder = LockHolder(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the holder exits (and this returns "") if a statement fails
        assert line.strip() == "held", f"the lock holder failed: {proc.stderr.read() if proc.stderr else ''}"
        yield holder
    finally:
        holder.release()


def write_garbage(path: Path, size: int = 16_384) -> None:
    """A file that is not a SQLite database at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes((i * 37 + 11) % 251 for i in range(size)))


def damage_table(path: Path, table: str) -> None:
    """Overwrite the pages of ``table`` (root and below) in ``path`` with garbage; the header and schema stay intact.

    Checkpoints the WAL first so the table's pages are in the main file.
    """
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        pages = [root] + [
            row[0] for row in db.execute("SELECT pageno FROM dbstat WHERE name = ? AND pageno != ?", (table, root)).fetchall()
        ]
    with path.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(bytes((i * 53 + 7) % 256 for i in range(page_size)))
