"""Turns running in worker threads, and the live listeners of each thread's events.

A turn is started once and runs to its end whatever its listeners do: a client that
disconnects only stops listening (it comes back with ``Last-Event-ID``). Every event a
listener gets was stored first, so stored and live events never disagree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from typing import Any

from stateline.errors import ThreadBusyError

END = object()
"""Put on a listener's queue after the turn's last event."""


class Turn:
    """One running turn of one thread and the queues listening to it."""

    def __init__(self, thread_id: str) -> None:
        self.thread_id = thread_id
        self.listeners: set[asyncio.Queue[Any]] = set()
        self.done = asyncio.Event()
        self.error: BaseException | None = None

    def listen(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self.listeners.add(queue)
        return queue

    def publish(self, item: Any) -> None:
        for queue in self.listeners:
            queue.put_nowait(item)


class Hub:
    """Per-thread locks (the busy policy) and running turns, owned by one event loop."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self._locks: dict[str, asyncio.Lock] = {}
        self._turns: dict[str, Turn] = {}

    def running(self, thread_id: str) -> Turn | None:
        return self._turns.get(thread_id)

    def listen(self, thread_id: str) -> asyncio.Queue[Any] | None:
        """A queue of the running turn's next events, or None if the thread is not running."""
        turn = self._turns.get(thread_id)
        return turn.listen() if turn is not None else None

    def forget(self, thread_id: str, queue: asyncio.Queue[Any]) -> None:
        turn = self._turns.get(thread_id)
        if turn is not None:
            turn.listeners.discard(queue)

    async def acquire(self, thread_id: str, policy: str) -> asyncio.Lock:
        """The thread's lock: at once with ``reject`` (else ThreadBusyError), in turn with ``enqueue``."""
        lock = self._locks.setdefault(thread_id, asyncio.Lock())
        if lock.locked() and policy != "enqueue":
            raise ThreadBusyError(thread_id)
        await lock.acquire()
        return lock

    def release(self, thread_id: str, lock: asyncio.Lock) -> None:
        """Release the thread's lock; forget it when nobody waits for it (so the table stays small)."""
        lock.release()
        if not lock.locked() and not getattr(lock, "_waiters", None) and self._locks.get(thread_id) is lock:
            del self._locks[thread_id]

    def start(
        self, thread_id: str, lock: asyncio.Lock, events: Iterator[Any], on_error: Callable[[BaseException], Any]
    ) -> asyncio.Queue[Any]:
        """Run ``events`` in a worker thread, publishing each; return the caller's listener queue.

        ``lock`` (from :meth:`acquire`) is released when the turn ends.
        """
        loop = asyncio.get_running_loop()
        turn = Turn(thread_id)
        self._turns[thread_id] = turn
        queue = turn.listen()

        def finish(error: BaseException | None) -> None:
            if error is not None:
                turn.error = error
                turn.publish(on_error(error))
            turn.publish(END)
            turn.done.set()
            self._turns.pop(thread_id, None)
            self.release(thread_id, lock)

        def work() -> None:
            try:
                for event in events:
                    loop.call_soon_threadsafe(turn.publish, event)
            except BaseException as exc:  # noqa: BLE001 - reported to listeners as an error event
                loop.call_soon_threadsafe(finish, exc)
                return
            loop.call_soon_threadsafe(finish, None)

        loop.run_in_executor(self._executor, work)
        return queue
