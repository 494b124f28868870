"""Reading ahead and writing behind on background threads, one block at a time.

The streaming 311 path (:mod:`ucc_research.cleaning.sources.requests_311`) keeps both cores
busy with these: the next block is read and parsed by pyarrow (which releases the GIL) while
the current one is cleaned, and the block before is written to parquet (which releases it too).
Each holds at most one block beyond the one in hand, so memory stays a few blocks; errors raised
on a thread are raised in the caller, in order, never lost.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator


def read_ahead(items: Iterable, *, name: str = "ucc-read-ahead") -> Iterator:
    """The items of ``items``, each produced on a background thread while the one before is used.

    An error raised while producing an item is raised here when that item is due (after the
    items before it). Stopping early (``close()``, an error in the caller's loop) stops the
    thread after the item it is producing.

    Examples
    --------
    >>> list(read_ahead(x * x for x in range(4)))
    [0, 1, 4, 9]
    """
    box: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                box.put(("item", item))
                if stop.is_set():
                    return
            box.put(("end", None))
        except BaseException as exc:  # handed over and raised in the consumer's thread
            box.put(("error", exc))

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():  # a producer waiting to hand over an item is let go
            try:
                box.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


class BlockWriter:
    """Runs write jobs one at a time on a background thread, at most one in flight.

    :meth:`submit` first waits for the previous job, so the caller holds at most one block
    beyond the one being written, and an error of a job is raised in the caller (by the next
    :meth:`submit` or by :meth:`wait`), not lost.

    Examples
    --------
    >>> done = []
    >>> bw = BlockWriter()
    >>> bw.submit(done.append, 1); bw.submit(done.append, 2); bw.wait()
    >>> done
    [1, 2]
    """

    def __init__(self):
        self._pool = None
        self._pending = None

    def submit(self, fn, /, *args) -> None:
        """Run ``fn(*args)`` on the background thread once the previous job has finished."""
        from concurrent.futures import ThreadPoolExecutor

        self.wait(shutdown=False)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ucc-writer")
        self._pending = self._pool.submit(fn, *args)

    def wait(self, *, raise_error: bool = True, shutdown: bool = True) -> None:
        """Wait for the job in flight (raising its error unless ``raise_error`` is False)."""
        pending, self._pending = self._pending, None
        try:
            if pending is not None:
                if raise_error:
                    pending.result()
                else:
                    pending.exception()  # waits; the error being handled is the caller's
        finally:
            if shutdown and self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


__all__ = ["BlockWriter", "read_ahead"]
