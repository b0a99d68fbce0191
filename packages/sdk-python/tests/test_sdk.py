"""The Python SDK against a real Ledgerflow API and PostgreSQL.

test/sdk-python.test.ts starts the API and a local fake of both model vendors, then runs this file with pytest,
naming them in the environment: LEDGERFLOW_API_URL, LEDGERFLOW_API_KEY (an organization's key with every scope),
LEDGERFLOW_SMALL_API_URL (the same API with a 4 KB body limit), LEDGERFLOW_LLM_URL, OPENAI_API_KEY and ANTHROPIC_API_KEY (the fake's keys). The responses metered here come from
the vendors' own Python clients, openai and anthropic.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from datetime import datetime, timezone

import anthropic
import openai
import pytest

from ledgerflow import Ledgerflow, LedgerflowError, to_event, vendor_response

API_URL = os.environ["LEDGERFLOW_API_URL"]
API_KEY = os.environ["LEDGERFLOW_API_KEY"]
LLM_URL = os.environ["LEDGERFLOW_LLM_URL"]


@pytest.fixture
def lf():
    client = Ledgerflow(API_KEY, API_URL, initial_retry_delay=0.02, max_retry_delay=0.1, close_at_exit=False, on_rejected=lambda r: None)
    yield client
    client.close(timeout=0)


def customer() -> str:
    return f"py-{uuid.uuid4().hex[:10]}"


def stored(client: Ledgerflow, who: str):
    """The customer's stored events, by idempotency key."""
    page = client._http.call("GET", f"/api/v1/events?customer={who}&limit=1000")
    return sorted(page["data"], key=lambda e: e["idempotency_key"])


def oai():
    return openai.OpenAI(api_key=os.environ["OPENAI_API_KEY"], base_url=f"{LLM_URL}/v1", max_retries=0)


def claude():
    return anthropic.Anthropic(api_key=os.environ["ANTHROPIC_API_KEY"], base_url=LLM_URL, max_retries=0)


# --- track() ---------------------------------------------------------------------------------------------------


def test_track_batches_by_flush_at_and_flush_delivers_the_rest(lf):
    who = customer()
    client = Ledgerflow(API_KEY, API_URL, flush_at=3, flush_interval=60, close_at_exit=False)
    for i in range(7):
        client.track(who, event_type="api_call", idempotency_key=f"b-{i}")
    assert client.flush(timeout=10)
    events = stored(lf, who)
    assert [e["idempotency_key"] for e in events] == [f"b-{i}" for i in range(7)]
    assert len({e["batch_id"] for e in events}) == 3  # 3 + 3 + 1
    assert client.stats() == {"tracked": 7, "accepted": 7, "duplicates": 0, "rejected": 0, "dropped": 0, "retries": 0, "buffered": 0}
    assert client.close() == []


def test_track_sends_on_its_own_after_flush_interval(lf):
    who = customer()
    client = Ledgerflow(API_KEY, API_URL, flush_interval=0.05, close_at_exit=False)
    client.track(who, event_type="api_call", quantity="2.5", timestamp=datetime.now(timezone.utc))
    deadline = time.time() + 5
    while not stored(lf, who) and time.time() < deadline:
        time.sleep(0.025)
    assert [e["quantity"] for e in stored(lf, who)] == ["2.5"]
    client.close()


def test_a_post_whose_answer_was_lost_is_retried_with_the_same_keys_and_counted_once(lf, monkeypatch):
    who = customer()
    client = Ledgerflow(API_KEY, API_URL, flush_at=10, initial_retry_delay=0.02, close_at_exit=False)
    real_call = client._http.call
    lost = []

    class LosingHttp:
        def call(self, method, path, body=None):
            answer = real_call(method, path, body)  # the API stores the post...
            if len(lost) < 2:
                lost.append(path)
                raise LedgerflowError(0, "NETWORK_ERROR", "connection reset")  # ...and the answer never arrives
            return answer

    client._tracker._http = LosingHttp()
    for _ in range(4):
        client.track(who, event_type="api_call")
    assert client.flush(timeout=10)
    assert len(stored(lf, who)) == 4
    assert client.stats()["duplicates"] == 4 and client.stats()["retries"] == 2 and client.stats()["accepted"] == 0
    client.close()


def test_a_refused_event_is_reported_with_its_field_and_the_others_are_stored(lf):
    who = customer()
    refused = []
    client = Ledgerflow(API_KEY, API_URL, close_at_exit=False, on_rejected=refused.extend)
    client.track(who, event_type="api_call", idempotency_key="good")
    client.track(who, event_type="api_call", idempotency_key="bad", quantity="-1")
    assert client.flush(timeout=10)
    assert [(r["event"]["idempotency_key"], r["code"], r["field"]) for r in refused] == [("bad", "INVALID_VALUE", "quantity")]
    assert [e["idempotency_key"] for e in stored(lf, who)] == ["good"]
    client.close()


def test_while_the_api_is_away_the_buffer_is_bounded_and_close_hands_back_the_rest(lf):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    dropped = []
    client = Ledgerflow(API_KEY, f"http://127.0.0.1:{port}", flush_at=2, max_buffered_events=5, initial_retry_delay=0.02, max_retry_delay=0.05, close_at_exit=False, on_dropped=dropped.extend)
    kept = [client.track("away", event_type="api_call", idempotency_key=f"away-{i}") for i in range(7)]
    assert kept == [True] * 5 + [False] * 2
    assert [e["idempotency_key"] for e in dropped] == ["away-5", "away-6"]
    assert not client.flush(timeout=0.2)
    left = client.close(timeout=0.3)
    assert sorted(e["idempotency_key"] for e in left) == [f"away-{i}" for i in range(5)]
    assert client.stats()["retries"] > 0
    with pytest.raises(RuntimeError, match="closed"):
        client.track("away", event_type="api_call")
    # What close() handed back goes in later, once, with its keys.
    later = lf.ingest(left)
    assert (later["accepted"], later["duplicates"]) == (5, 0)


def test_a_post_too_large_for_the_api_is_split_until_each_part_goes_in(lf):
    who = customer()
    refused = []
    client = Ledgerflow(API_KEY, os.environ["LEDGERFLOW_SMALL_API_URL"], flush_at=8, flush_interval=60, close_at_exit=False, on_rejected=refused.extend)
    for i in range(8):
        client.track(who, event_type="api_call", idempotency_key=f"large-{i}", properties={"note": "x" * 900})
    assert client.flush(timeout=10)
    assert refused == []
    assert len(stored(lf, who)) == 8
    assert client.stats()["accepted"] == 8
    client.close()


def test_an_event_type_is_needed_unless_a_response_stands_for_the_usage():
    with pytest.raises(TypeError, match="event_type"):
        to_event("x")
    with pytest.raises(ValueError, match="time zone"):
        to_event("x", event_type="e", timestamp=datetime(2026, 1, 1))


# --- AI responses --------------------------------------------------------------------------------------------


def test_an_openai_completion_is_metered_once_with_cached_and_reasoning_tokens_apart(lf):
    who = customer()
    completion = oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    lf.track(who, feature="chat", response=completion)
    lf.track(who, feature="chat", response=completion)
    assert lf.flush(timeout=10)
    [event] = stored(lf, who)
    assert event["idempotency_key"] == f"openai:{completion.id}"
    assert (event["event_type"], event["quantity"], event["feature"]) == ("llm.completion", "1500", "chat")
    assert event["vendor_usage"] == [{"vendor": "openai", "model": "gpt-4o", "input_tokens": 200, "cached_input_tokens": 1000, "output_tokens": 180, "reasoning_tokens": 120}]
    assert lf.stats()["duplicates"] == 1


def test_an_anthropic_message_and_an_openai_embedding(lf):
    who = customer()
    message = claude().messages.create(model="claude-sonnet-4", max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    embedding = oai().embeddings.create(model="text-embedding-3-small", input="hi")
    lf.track(who, response=message)
    lf.track(who, event_type="embed", response=embedding, idempotency_key="embed-1")
    assert lf.flush(timeout=10)
    by_key = {e["idempotency_key"]: e for e in stored(lf, who)}
    assert by_key[f"anthropic:{message.id}"]["quantity"] == "2535"
    assert by_key[f"anthropic:{message.id}"]["vendor_usage"] == [
        {"vendor": "anthropic", "model": "claude-sonnet-4", "input_tokens": 25, "cached_input_tokens": 2000, "cache_write_tokens": 100, "output_tokens": 410}
    ]
    assert by_key["embed-1"]["vendor_usage"] == [{"vendor": "openai", "model": "text-embedding-3-small", "input_tokens": 7}]


def test_streams_pass_through_and_are_tracked_when_they_end(lf):
    who = customer()
    stream = oai().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True})
    text = "".join((c.choices[0].delta.content or "") for c in lf.track_stream(stream, who, feature="chat") if c.choices)
    assert text == "Hello world"
    kinds = [e.type for e in lf.track_stream(claude().messages.create(model="claude-sonnet-4", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True), who)]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    early = lf.track_stream(claude().messages.create(model="claude-sonnet-4", max_tokens=100, messages=[{"role": "user", "content": "hi"}], stream=True), who, idempotency_key="early")
    for event in early:
        if event.type == "content_block_delta":
            break
    early.close()  # a generator left early is closed: the call is tracked as partial
    assert lf.flush(timeout=10)
    events = stored(lf, who)
    openai_event = next(e for e in events if e["idempotency_key"].startswith("openai:"))
    assert (openai_event["quantity"], openai_event["feature"]) == ("1500", "chat")
    anthropic_event = next(e for e in events if e["idempotency_key"].startswith("anthropic:"))
    assert anthropic_event["quantity"] == "2535"
    partial = next(e for e in events if e["idempotency_key"] == "early")
    assert partial["properties"] == {"partial": True}
    assert partial["vendor_usage"][0]["output_tokens"] == 1


def test_vendor_response_names_what_is_missing():
    with pytest.raises(TypeError, match="no usage"):
        vendor_response({"id": "x", "object": "chat.completion", "model": "gpt-4o"})
    with pytest.raises(TypeError, match="pass vendor"):
        vendor_response({"usage": {}})


# --- checks, rating, quotes, credits ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog():
    client = Ledgerflow(API_KEY, API_URL, close_at_exit=False)
    http = client._http
    http.call("POST", "/api/v1/vendor-rates", {"vendor": "openai", "model": "gpt-4o", "input_per_million_tokens": "2.50", "output_per_million_tokens": "10"})
    http.call("POST", "/api/v1/quota-limits", {"event_type": "render", "mode": "HARD", "limit": "2", "reset_window": "day"})
    http.call("POST", "/api/v1/customers", {"external_id": "py-wallet-owner"})
    http.call("POST", "/api/v1/customers/py-wallet-owner/credit-grants", {"credits": "10", "kind": "purchased", "price_per_credit": "0.10"})
    yield client
    client.close()


def test_entitlements_rating_and_quotes(catalog):
    assert catalog.check_entitlement({"customer_external_id": "c", "event_type": "render", "quantity": "3"})["allowed"] is False
    assert catalog.check_entitlement({"customer_external_id": "c", "event_type": "render", "quantity": "2"})["allowed"] is True
    assert catalog.calculate_rating({"vendor": "openai", "model": "gpt-4o", "input_tokens": 1_000_000, "output_tokens": 1_000_000})["cost"] == "12.5"
    quote = catalog.quote_price({"currency": "usd", "price": {"model": "graduated", "tiers": [{"up_to": 100, "unit_amount": "0.10"}, {"up_to": None, "unit_amount": "0.05"}]}, "quantity": "150"})
    assert (quote["amount"], quote["amount_minor"]) == ("12.50", 1250)


def test_credit_balance_and_a_reservation_held_and_released(catalog):
    assert catalog.credit_balance("py-wallet-owner")["balance"] == "10"
    held = catalog.reserve_credits({"customer_external_id": "py-wallet-owner", "credits": "4", "idempotency_key": "py-hold"})
    assert held["status"] == "held"
    assert (catalog.credit_balance("py-wallet-owner")["balance"], catalog.credit_balance("py-wallet-owner")["reserved"]) == ("6", "4")
    assert catalog.reservation(held["id"])["status"] == "held"
    assert catalog.release_reservation(held["id"])["status"] == "released"
    assert catalog.credit_balance("py-wallet-owner")["balance"] == "10"


def test_an_error_answer_is_a_ledgerflow_error_with_status_and_code(catalog):
    with pytest.raises(LedgerflowError) as raised:
        catalog.calculate_rating({"vendor": "openai", "model": "unknown", "input_tokens": 1})
    assert raised.value.status == 404 and not raised.value.retryable
    with pytest.raises(LedgerflowError) as unauthorized:
        Ledgerflow("lf_wrong", API_URL, close_at_exit=False).credit_balance("x")
    assert unauthorized.value.status == 401


def test_close_ends_a_retry_wait_the_api_asked_for_when_its_time_is_up():
    import http.server
    import threading

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(503)
            self.send_header("retry-after", "30")
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error":"backlog","code":"INGEST_BACKLOG_FULL"}')

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Ledgerflow(API_KEY, f"http://127.0.0.1:{server.server_port}", flush_interval=0.01, close_at_exit=False)
        client.track("busy", event_type="api_call", idempotency_key="busy-1")
        deadline = time.time() + 5
        while client.stats()["retries"] == 0 and time.time() < deadline:
            time.sleep(0.01)
        started = time.time()
        left = client.close(timeout=0.2)
        assert time.time() - started < 2
        assert [e["idempotency_key"] for e in left] == ["busy-1"]
    finally:
        server.shutdown()


def test_a_callback_that_raises_does_not_stop_the_sender(lf):
    who = customer()

    def broken(_rejected):
        raise RuntimeError("a bug in the caller")

    client = Ledgerflow(API_KEY, API_URL, close_at_exit=False, on_rejected=broken)
    client.track(who, event_type="api_call", idempotency_key="bad", quantity="-1")
    assert client.flush(timeout=10)
    client.track(who, event_type="api_call", idempotency_key="after")
    assert client.flush(timeout=10)
    assert [e["idempotency_key"] for e in stored(lf, who)] == ["after"]
    client.close()
