"""One base class for every background thread of the service: index, OCR, integrity timers.

A worker runs ``run_once`` when woken or when its wait runs out, until stopped. A failure is
logged and the next round retries: work lives in durable queues and tables, so a round that
fails loses nothing.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class Worker:
    """A daemon thread around ``run_once``; subclasses say what a round does and how long to wait."""

    name = "wenshu-worker"
    interval = 5.0
    """Seconds between rounds when nobody wakes the worker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> bool:
        """Set once ``stop`` was called: a long round checks it between items."""
        return self._stop.is_set()

    def wanted(self) -> bool:
        """Whether the thread should run at all (a timer whose intervals are all 0 does not)."""
        return True

    def next_wait(self) -> float:
        """Seconds to sleep before the next round."""
        return self.interval

    def run_once(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        """Start the thread, or start it again if it died; a stopped worker stays stopped."""
        with self._lock:
            if self._stop.is_set() or not self.wanted():
                return
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def wake(self) -> None:
        """Run a round now (starting the thread on first use)."""
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end after its current round, and wait for it at most ``timeout``."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=max(0.0, self.next_wait()))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # the durable queue keeps the work; the next round retries
                log.exception("%s: round failed", self.name)
