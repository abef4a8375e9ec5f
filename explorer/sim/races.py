"""Shared-memory race detection between barriers (`launch(..., check_races=True)`).

For every shared byte of every CTA it remembers, since the CTA's last barrier, the thread that
last wrote it and up to two threads that read it (two distinct readers are enough to know that
"someone other than me" read it). A write conflicts with another thread's earlier read or write
of the byte, a read with another thread's earlier write, and two threads writing one byte in
the same instruction conflict with each other. A barrier release forgets the CTA's history.

Order-independent: a write-then-read pair is caught at the read, a read-then-write pair at the
write. Global memory, atomics and warp-synchronous idioms are not analysed.
"""

from __future__ import annotations

import numpy as np


class RaceFound(Exception):
    def __init__(self, what: str, thread: int, other: int) -> None:
        super().__init__(what)
        self.what, self.thread, self.other = what, thread, other


class RaceTracker:
    def __init__(self, nctas: int, window: int, names) -> None:
        n = nctas * window
        self.window, self.names = window, names
        self.writer = np.full(n, -1, dtype=np.int64)
        self.reader = np.full(n, -1, dtype=np.int64)
        self.reader2 = np.full(n, -1, dtype=np.int64)
        self.wline = np.zeros(n, dtype=np.int64)
        self.rline = np.zeros(n, dtype=np.int64)

    def _bytes(self, flat: np.ndarray, nbytes: int, threads: np.ndarray):
        b = (flat[:, None] + np.arange(nbytes)).ravel()
        return b, np.repeat(threads, nbytes)

    def _found(self, kind: str, b: np.ndarray, th: np.ndarray, other: np.ndarray, bad, line):
        i = int(np.flatnonzero(bad)[0])
        addr = int(b[i]) % self.window
        raise RaceFound(
            f"shared-memory race: {kind} of shared byte {addr:#x} ({self.names(addr)}) with no "
            f"bar.sync between (the other access is on line {int(line[i])})",
            int(th[i]),
            int(other[i]),
        )

    def write(self, flat: np.ndarray, nbytes: int, threads: np.ndarray, line: int) -> None:
        b, th = self._bytes(flat, nbytes, threads)
        order = np.argsort(b, kind="stable")
        bs, ts = b[order], th[order]
        same = (bs[1:] == bs[:-1]) & (ts[1:] != ts[:-1])
        if same.any():
            self._found(
                "two threads write", bs[1:], ts[1:], ts[:-1], same, np.full(len(same), line)
            )
        w = self.writer[b]
        if ((w >= 0) & (w != th)).any():
            self._found(
                "write after another thread's write", b, th, w, (w >= 0) & (w != th), self.wline[b]
            )
        r1, r2 = self.reader[b], self.reader2[b]
        other = np.where((r1 >= 0) & (r1 != th), r1, r2)
        bad = (other >= 0) & (other != th)
        if bad.any():
            self._found("write after another thread's read", b, th, other, bad, self.rline[b])
        self.writer[b] = th
        self.wline[b] = line

    def read(self, flat: np.ndarray, nbytes: int, threads: np.ndarray, line: int) -> None:
        b, th = self._bytes(flat, nbytes, threads)
        w = self.writer[b]
        bad = (w >= 0) & (w != th)
        if bad.any():
            self._found("read after another thread's write", b, th, w, bad, self.wline[b])
        fresh = self.reader[b] < 0
        self.reader[b[fresh]] = th[fresh]
        second = (self.reader[b] != th) & (self.reader2[b] < 0)
        self.reader2[b[second]] = th[second]
        self.rline[b] = line

    def release(self, ctas: np.ndarray) -> None:
        """Forget the history of these CTAs (their barrier just completed)."""
        for arr in (self.writer, self.reader, self.reader2):
            arr.reshape(-1, self.window)[ctas] = -1
