"""Background work for the widget: one worker thread per kind of job (ptxas, runs), a
debounce timer, and a generation counter so a stale result never overwrites a newer one.

With `threads=False` every job runs inline, at once, so tests and headless runs are
deterministic. It knows nothing of the explorer's views.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class Lane:
    """A queue of jobs of one kind; only the newest submitted job's result counts."""

    def __init__(self, name: str, threads: bool = True) -> None:
        self.threads = threads
        self.generation = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"explorer-{name}")
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._last: Future | None = None

    def new_generation(self) -> int:
        """Mark every job submitted so far stale; return the new generation."""
        with self._lock:
            self.generation += 1
            return self.generation

    def is_current(self, generation: int) -> bool:
        return generation == self.generation

    def submit(self, job: Callable[[], None]) -> Future | None:
        """Run `job` on this lane's worker (or inline without threads)."""
        if not self.threads:
            job()
            return None
        self._last = self._pool.submit(job)
        return self._last

    def drain(self, timeout: float = 60) -> None:
        """Wait until the last submitted job has finished (benchmarks, tests)."""
        if self._last is not None:
            self._last.result(timeout=timeout)

    def debounce(self, delay: float, job: Callable[[], None]) -> None:
        """Run `job` after `delay` seconds unless debounce is called again before then."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self.threads:
                self._timer = threading.Timer(delay, lambda: self.submit(job))
                self._timer.daemon = True
                self._timer.start()
                return
        job()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
