"""The Ledgerflow API from Python.

``track()`` buffers usage events and sends them from a background thread (``flush()`` and ``close()`` deliver the
rest); the other calls answer at once. Request and response shapes are the TypedDicts in ``ledgerflow.models``,
generated from the API's OpenAPI document.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import logging
import uuid
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from . import models
from ._http import Http, LedgerflowError, quote
from ._tracker import Tracker
from .ai import StreamUsage, meter_stream, vendor_response

__all__ = ["Ledgerflow", "LedgerflowError", "StreamUsage", "meter_stream", "vendor_response", "to_event", "models", "DEFAULT_AI_EVENT_TYPE"]
__version__ = "0.1.0"

#: The event type of a call tracked from a model's response when none is given: the AI proxy's default too.
DEFAULT_AI_EVENT_TYPE = "llm.completion"

_log = logging.getLogger("ledgerflow")


def _is_read(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"vendor", "response"}


def to_event(
    customer: str,
    *,
    event_type: Optional[str] = None,
    response: Any = None,
    vendor: Optional[str] = None,
    quantity: Union[str, int, float, None] = None,
    timestamp: Union[_dt.datetime, str, None] = None,
    idempotency_key: Optional[str] = None,
    revenue_amount: Union[str, int, float, None] = None,
    **fields: Any,
) -> Dict[str, Any]:
    """The event POST /api/v1/events takes for one ``track()`` call.

    A response (or what ``vendor_response()`` or a metered stream read) stands for the usage and quantity; its
    event type defaults to llm.completion and its idempotency key to ``<vendor>:<response id>``, so tracking the
    same response twice counts once.
    """
    read = None if response is None else response if _is_read(response) else vendor_response(response, vendor)
    event_type = event_type or (DEFAULT_AI_EVENT_TYPE if read else None)
    if not event_type:
        raise TypeError("track() needs event_type (or a model response, metered as llm.completion)")
    if idempotency_key is None:
        response_id = read["response"].get("id") if read else None
        idempotency_key = f"{read['vendor']}:{response_id}" if read and response_id else str(uuid.uuid4())
    if timestamp is None:
        timestamp = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(timestamp, _dt.datetime):
        if timestamp.tzinfo is None:
            raise ValueError("timestamp must carry a time zone (datetime.now(timezone.utc))")
        timestamp = timestamp.isoformat()
    event: Dict[str, Any] = {"customer_external_id": customer, "event_type": event_type, "idempotency_key": idempotency_key, "timestamp": timestamp, **fields}
    if quantity is not None:
        event["quantity"] = str(quantity)
    if revenue_amount is not None:
        event["revenue_amount"] = str(revenue_amount)
    if read:
        event["vendor_response"] = read
    return event


class Ledgerflow:
    """A client of one organization's API key.

    Keys carry scopes: ``ingest`` for ``track()`` and ``ingest()``, ``read`` for the checks and quotes, ``billing``
    for reservations.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = "http://127.0.0.1:3000",
        *,
        timeout: float = 10.0,
        flush_at: int = 100,
        flush_interval: float = 1.0,
        max_buffered_events: int = 10_000,
        overflow: str = "drop_newest",
        initial_retry_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        close_timeout: float = 10.0,
        close_at_exit: bool = True,
        on_rejected=None,
        on_dropped=None,
        on_retry=None,
    ):
        if not api_key:
            raise ValueError("api_key is required (an organization API key, lf_...)")
        self._http = Http(api_key, base_url, timeout)
        self._close_timeout = close_timeout
        self._tracker = Tracker(
            self._http,
            flush_at=flush_at,
            flush_interval=flush_interval,
            max_buffered_events=max_buffered_events,
            overflow=overflow,
            initial_retry_delay=initial_retry_delay,
            max_retry_delay=max_retry_delay,
            on_rejected=on_rejected or (lambda rejected: _log.warning("%d event(s) refused by the API: %s", len(rejected), rejected)),
            on_dropped=on_dropped or (lambda events: _log.warning("buffer full (%d events): dropped %d event(s)", max_buffered_events, len(events))),
            on_retry=on_retry or (lambda err, attempt, delay: _log.info("post failed (%s), retry %d in %.1fs", err.code, attempt, delay)),
        )
        self._closed: Optional[List[Dict[str, Any]]] = None
        if close_at_exit:
            atexit.register(self.close)

    # --- usage events ---------------------------------------------------------------------------------------

    def track(self, customer: str, **fields: Any) -> bool:
        """Buffers one event (sent within flush_interval); False when the buffer was full and it was dropped."""
        return self._tracker.add(to_event(customer, **fields))

    def track_stream(self, stream: Iterable[Any], customer: str, **fields: Any) -> Iterator[Any]:
        """The stream's chunks, unchanged; when it ends (or the caller stops early, marked partial) the call is tracked.

        An OpenAI stream reports usage only when the request set ``stream_options={"include_usage": True}``.
        """

        def done(usage: StreamUsage, complete: bool) -> None:
            read = usage.result()
            if read is None:
                return  # no chunk arrived: the model was never reached
            marks = {**({} if complete else {"partial": True}), **({} if usage.reported else {"usage_missing": True})}
            properties = {**fields.pop("properties", {}), **marks}
            self.track(customer, response=read, properties=properties, **fields)

        return meter_stream(stream, done, fields.get("vendor"))

    def flush(self, timeout: Optional[float] = None) -> bool:
        """Sends the buffered events now and waits until all are delivered; False if timeout (seconds) passed first."""
        return self._tracker.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> List[Dict[str, Any]]:
        """Delivers what is buffered within timeout seconds and stops; returns the events it could not deliver (keep them)."""
        if self._closed is None:
            atexit.unregister(self.close)
            self._closed = self._tracker.close(self._close_timeout if timeout is None else timeout)
            if self._closed:
                _log.warning("closed with %d event(s) not delivered (returned by close())", len(self._closed))
        return self._closed

    def stats(self) -> Dict[str, int]:
        return self._tracker.stats()

    def __enter__(self) -> "Ledgerflow":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def ingest(self, events: Union[Dict[str, Any], List[Dict[str, Any]]]) -> models.IngestResponse:
        """POST /api/v1/events now (no buffer): up to 1,000 events, each reported accepted, duplicate or rejected."""
        return self._http.call("POST", "/api/v1/events", {"events": events} if isinstance(events, list) else events)

    def batch(self, batch_id: str) -> models.IngestBatch:
        """GET /api/v1/batches/{id}: where a request's events stand (stored, rated)."""
        return self._http.call("GET", f"/api/v1/batches/{quote(batch_id)}")

    # --- checks, rating, quotes, credits ----------------------------------------------------------------------

    def check_entitlement(self, request: models.EntitlementCheckRequest) -> models.EntitlementCheckResponse:
        """Would this quantity be allowed now: a quota and the prepaid wallet (event_type), or the customer's plans (feature)?"""
        return self._http.call("POST", "/api/v1/entitlements/check", request)

    def calculate_rating(self, request: models.RatingRequest) -> models.RatingResponse:
        """The cost of one usage line at the vendor rate in effect now."""
        return self._http.call("POST", "/api/v1/rating/calculate", request)

    def quote_price(self, request: models.PriceQuoteRequest) -> models.PriceQuote:
        """What a quantity costs under a price model, with its tier breakdown."""
        return self._http.call("POST", "/api/v1/quotes/price", request)

    def quote_proration(self, request: models.ProrationQuoteRequest) -> models.ProrationQuote:
        """What a mid-period plan change credits and charges."""
        return self._http.call("POST", "/api/v1/quotes/proration", request)

    def credit_balance(self, customer: str) -> models.Wallet:
        """A customer's credit balance, by grant (customer: your external id, or our id)."""
        return self._http.call("GET", f"/api/v1/customers/{quote(customer)}/wallet")

    def reserve_credits(self, request: Dict[str, Any]) -> models.CreditReservation:
        """Holds credits before an expensive call; the event that names the reservation commits it."""
        return self._http.call("POST", "/api/v1/credits/reservations", request)

    def reservation(self, reservation_id: str) -> models.CreditReservation:
        return self._http.call("GET", f"/api/v1/credits/reservations/{quote(reservation_id)}")

    def release_reservation(self, reservation_id: str) -> models.CreditReservation:
        """Gives a held reservation back (the call was not made)."""
        return self._http.call("POST", f"/api/v1/credits/reservations/{quote(reservation_id)}/release")
