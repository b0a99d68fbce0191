"""The buffer behind ``track()``.

Events wait in memory and go out in posts of up to ``flush_at`` events, when that many are held or
``flush_interval`` seconds have passed, from one background thread, one post at a time and in order. A post that
fails for a reason worth retrying (no answer, 429, 5xx) is sent again unchanged, its events keeping their
idempotency keys, so a post that was stored but whose answer was lost is counted once. Retries go on until
``close()``; the buffer is bounded and its overflow policy says which event goes when it is full.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, List

from ._http import Http, LedgerflowError

Event = Dict[str, Any]


class Tracker:
    def __init__(
        self,
        http: Http,
        *,
        flush_at: int,
        flush_interval: float,
        max_buffered_events: int,
        overflow: str,
        initial_retry_delay: float,
        max_retry_delay: float,
        on_rejected: Callable[[List[Dict[str, Any]]], None],
        on_dropped: Callable[[List[Event]], None],
        on_retry: Callable[[LedgerflowError, int, float], None],
    ):
        if not 1 <= flush_at <= 1000:
            raise ValueError("flush_at must be from 1 to 1,000")
        if max_buffered_events < flush_at:
            raise ValueError("max_buffered_events must be at least flush_at")
        if not flush_interval >= 0.01:
            raise ValueError("flush_interval must be at least 0.01 seconds")
        if overflow not in ("drop_newest", "drop_oldest"):
            raise ValueError("overflow must be 'drop_newest' or 'drop_oldest'")
        self._http = http
        self._flush_at = flush_at
        self._flush_interval = flush_interval
        self._max = max_buffered_events
        self._overflow = overflow
        self._initial_delay = initial_retry_delay
        self._max_delay = max_retry_delay
        self._on_rejected = on_rejected
        self._on_dropped = on_dropped
        self._on_retry = on_retry
        self._queue: Deque[Event] = deque()
        self._in_flight: List[Event] = []
        self._lock = threading.Condition()
        self._closing = False
        self._give_up = threading.Event()
        self._counts = {"tracked": 0, "accepted": 0, "duplicates": 0, "rejected": 0, "dropped": 0, "retries": 0}
        self._thread = threading.Thread(target=self._run, name="ledgerflow-tracker", daemon=True)
        self._thread.start()

    def add(self, event: Event) -> bool:
        with self._lock:
            if self._closing:
                raise RuntimeError("the Ledgerflow client is closed")
            self._counts["tracked"] += 1
            dropped = None
            if len(self._queue) + len(self._in_flight) >= self._max:
                self._counts["dropped"] += 1
                if self._overflow == "drop_newest" or not self._queue:
                    dropped = event
                else:
                    dropped = self._queue.popleft()
            if dropped is not event:
                self._queue.append(event)
                if len(self._queue) >= self._flush_at:
                    self._lock.notify_all()
        if dropped is not None:
            self._on_dropped([dropped])
        return dropped is not event

    def stats(self) -> Dict[str, int]:
        with self._lock:
            return {**self._counts, "buffered": len(self._queue) + len(self._in_flight)}

    def flush(self, timeout: float | None = None) -> bool:
        """Posts what is held and waits until the buffer is empty; False if timeout (seconds) passed first."""
        with self._lock:
            self._flushers += 1  # the sender posts without waiting while anyone waits here
            self._lock.notify_all()
            try:
                return self._lock.wait_for(lambda: not self._queue and not self._in_flight, timeout)
            finally:
                self._flushers -= 1

    def close(self, timeout: float) -> List[Event]:
        """Delivers what is held within timeout seconds and stops; returns the events it could not deliver."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._lock.notify_all()
        self._thread.join(timeout)
        self._give_up.set()
        # A post on the wire ends within the client's timeout (per socket operation); the sender stops after it.
        self._thread.join()
        with self._lock:
            left = list(self._in_flight) + list(self._queue)
            self._queue.clear()
            self._in_flight = []
            self._lock.notify_all()  # a flush() still waiting sees the buffer empty
            return left

    _flushers = 0

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closing or len(self._queue) >= self._flush_at or (self._flushers > 0 and bool(self._queue)), self._flush_interval)
                if not self._queue:
                    if self._closing:
                        return
                    continue
                batch = [self._queue.popleft() for _ in range(min(self._flush_at, len(self._queue)))]
                self._in_flight = batch
            try:
                delivered = self._deliver(batch)
            except Exception:  # noqa: BLE001 - not expected; the sender must live on, and the batch is not lost
                logging.getLogger("ledgerflow").exception("sending events failed; they are sent again")
                with self._lock:
                    self._queue.extendleft(reversed(batch))
                    self._in_flight = []
                self._give_up.wait(self._initial_delay)
                continue
            with self._lock:
                if delivered:
                    self._in_flight = []
                self._lock.notify_all()
                if not delivered:
                    return  # close() gave up: the batch stays in flight, to be handed back

    def _deliver(self, batch: List[Event]) -> bool:
        attempt = 0
        while True:
            attempt += 1
            if self._give_up.is_set():
                return False
            try:
                body = self._http.call("POST", "/api/v1/events", {"events": batch})
                if not isinstance(body, dict) or not isinstance(body.get("accepted"), int):
                    raise LedgerflowError(0, "INVALID_RESPONSE", f"POST /api/v1/events answered without the API's JSON: {str(body)[:200]}")
            except LedgerflowError as err:
                if err.status == 413 and len(batch) > 1:
                    # Too large as one post (big properties): each half goes on its own, so no event is refused for its neighbours.
                    half = (len(batch) + 1) // 2
                    return self._deliver(batch[:half]) and self._deliver(batch[half:])
                if not err.retryable:
                    details = err.details if isinstance(err.details, dict) else {}
                    rejected = details.get("rejected") or [{"index": i, "code": err.code, "field": None, "message": err.message} for i in range(len(batch))]
                    self._reject(batch, rejected)
                    return True
                backoff = min(self._max_delay, self._initial_delay * 2 ** (attempt - 1))
                delay = max(backoff / 2 + random.random() * backoff / 2, err.retry_after_seconds or 0)
                with self._lock:
                    self._counts["retries"] += 1
                _call_safely(self._on_retry, err, attempt, delay)
                self._give_up.wait(delay)
                continue
            with self._lock:
                self._counts["accepted"] += body["accepted"]
                self._counts["duplicates"] += body["duplicates"]
            self._reject(batch, body.get("rejected") or [])
            return True

    def _reject(self, batch: List[Event], rejected: List[Dict[str, Any]]) -> None:
        if not rejected:
            return
        with self._lock:
            self._counts["rejected"] += len(rejected)
        _call_safely(self._on_rejected, [{"event": batch[r["index"]], "code": r["code"], "field": r.get("field"), "message": r["message"]} for r in rejected])


def _call_safely(callback: Callable[..., None], *args: Any) -> None:
    """A caller's callback that raises must not stop the sender: the error is logged."""
    try:
        callback(*args)
    except Exception:  # noqa: BLE001 - whatever the caller's code raised
        logging.getLogger("ledgerflow").exception("a ledgerflow callback raised")
