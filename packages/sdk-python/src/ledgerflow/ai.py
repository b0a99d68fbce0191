"""OpenAI and Anthropic responses as an event's ``vendor_response``.

The API reads a response's usage into token counts (cached and reasoning tokens apart), the same way its AI proxy
does, so this module only finds the vendor, the response id, the model and the usage object: it holds no mapping
of its own. Responses of the official ``openai`` and ``anthropic`` packages (pydantic models) and plain dicts are
both read.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, Optional

VENDORS = ("openai", "anthropic")


def _plain(value: Any) -> Any:
    """A pydantic model (the vendors' clients return them) as a dict; anything else unchanged."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return value


def _vendor_of(response: Dict[str, Any]) -> Optional[str]:
    if response.get("type") == "message":
        return "anthropic"
    if isinstance(response.get("object"), str):
        return "openai"
    usage = response.get("usage")
    if isinstance(usage, dict) and "prompt_tokens" in usage:
        return "openai"
    if isinstance(usage, dict) and ("cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage):
        return "anthropic"
    return None


def vendor_response(response: Any, vendor: Optional[str] = None) -> Dict[str, Any]:
    """The id, model and usage of an OpenAI or Anthropic response; raises TypeError naming what is missing."""
    response = _plain(response)
    if not isinstance(response, dict):
        raise TypeError("response must be the response of an OpenAI or Anthropic call")
    who = vendor or _vendor_of(response)
    if who not in VENDORS:
        raise TypeError("cannot tell whether response is OpenAI's or Anthropic's; pass vendor")
    usage = response.get("usage")
    if not isinstance(usage, dict):
        hint = " (a stream reports it only with stream_options={'include_usage': True})" if who == "openai" else ""
        raise TypeError(f"the {who} response has no usage{hint}")
    model = response.get("model")
    if not isinstance(model, str) or not model:
        raise TypeError(f"the {who} response has no model")
    read: Dict[str, Any] = {"model": model, "usage": usage}
    if isinstance(response.get("id"), str):
        read["id"] = response["id"]
    return {"vendor": who, "response": read}


class StreamUsage:
    """Reads usage off a stream's chunks as they pass (OpenAI's chunks, Anthropic's message_start and message_delta)."""

    def __init__(self, vendor: Optional[str] = None):
        self.vendor = vendor
        self.id: Optional[str] = None
        self.model: Optional[str] = None
        self.usage: Optional[Dict[str, Any]] = None

    def see(self, chunk: Any) -> None:
        chunk = _plain(chunk)
        if not isinstance(chunk, dict):
            return
        kind = chunk.get("type")
        if kind == "message_start" and isinstance(chunk.get("message"), dict):
            self.vendor = self.vendor or "anthropic"
            message = chunk["message"]
            if isinstance(message.get("id"), str):
                self.id = message["id"]
            if isinstance(message.get("model"), str):
                self.model = message["model"]
            if isinstance(message.get("usage"), dict):
                self.usage = dict(message["usage"])
        elif kind == "message_delta" and isinstance(chunk.get("usage"), dict):
            self.vendor = self.vendor or "anthropic"
            reported = {k: v for k, v in chunk["usage"].items() if v is not None}
            self.usage = {**(self.usage or {}), **reported}
        elif chunk.get("object") == "chat.completion.chunk":
            self.vendor = self.vendor or "openai"
            if self.id is None and isinstance(chunk.get("id"), str):
                self.id = chunk["id"]
            if self.model is None and isinstance(chunk.get("model"), str):
                self.model = chunk["model"]
            if isinstance(chunk.get("usage"), dict):
                self.usage = chunk["usage"]

    @property
    def reported(self) -> bool:
        return self.usage is not None

    def result(self) -> Optional[Dict[str, Any]]:
        if not self.vendor or not self.model:
            return None
        read: Dict[str, Any] = {"model": self.model, "usage": self.usage or {}}
        if self.id:
            read["id"] = self.id
        return {"vendor": self.vendor, "response": read}


def meter_stream(stream: Iterable[Any], done: Callable[[StreamUsage, bool], None], vendor: Optional[str] = None) -> Iterator[Any]:
    """The same chunks, in order; when the stream ends, fails or the caller stops reading, ``done`` gets the usage and whether it ended."""
    usage = StreamUsage(vendor)
    complete = False
    try:
        for chunk in stream:
            usage.see(chunk)
            yield chunk
        complete = True
    finally:
        done(usage, complete)
